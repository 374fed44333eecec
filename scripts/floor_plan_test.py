"""Tests of scripts/floor-plan.py on small sources written here.

Run: python3 -m unittest scripts/floor_plan_test.py   (from the repository's root; standard library only)
"""

import importlib.util
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

_spec = importlib.util.spec_from_file_location("floor_plan", Path(__file__).with_name("floor-plan.py"))
fp = importlib.util.module_from_spec(_spec)
sys.modules["floor_plan"] = fp
_spec.loader.exec_module(fp)

# A crate with two kinds (WidgetTask, GadgetTask), a circle a -> b -> c -> a, a test-only file, a plugin.
FIXTURE = {
    "Cargo.toml": """
        [package]
        name = "demo-op"
    """,
    "src/lib.rs": """
        pub mod a;
        pub mod api;
        pub mod b;
        pub mod c;
        pub mod controller;
        pub mod timing;
        #[cfg(test)]
        mod fixtures;
    """,
    "src/api/mod.rs": """
        pub mod gadget_task;
        pub mod widget_task;

        pub use gadget_task::GadgetTaskStatus;
        pub use widget_task::{WidgetTask, WidgetTaskStatus};
    """,
    "src/api/widget_task.rs": """
        #[derive(CustomResource)]
        #[kube(group = "demo", version = "v1", kind = "WidgetTask", namespaced)]
        pub struct WidgetTaskSpec {}

        pub struct WidgetTaskStatus {}
    """,
    "src/api/gadget_task.rs": """
        #[derive(CustomResource)]
        #[kube(group = "demo", version = "v1", kind = "GadgetTask", namespaced)]
        pub struct GadgetTaskSpec {}

        pub struct GadgetTaskStatus {}
    """,
    # Production code on 11 lines (1, 3, 6-10, 13-16); `tricky` spans lines 6-16, 9 of them code.
    "src/a.rs": """
        use std::time::Duration;

        use crate::b::Bee;

        /// A doc comment.
        pub fn tricky() -> usize {
            let s = r#"{ "not": "a brace } { {" }"#;
            let open = '{';
            let url = "http://example.com//path"; // a comment with a } in it
            let lt: &'static str = "}";

            /* a nested /* block } */ comment { */
            let wait = Duration::from_millis(5);
            let _ = (open, wait, Bee);
            s.len() + url.len() + lt.len()
        }

        #[cfg(test)]
        mod tests {
            use super::*;

            #[test]
            fn it_counts() {
                let _ = Duration::from_secs(1);
                assert!(tricky() > 0);
            }
        }
    """,
    "src/b.rs": """
        pub struct Bee;

        pub fn buzz() {
            crate::c::see();
        }
    """,
    "src/c.rs": """
        use super::a::tricky;

        pub fn see() -> usize {
            tricky()
        }

        #[cfg(test)]
        fn only_in_tests() -> crate::b::Bee {
            crate::b::Bee
        }
    """,
    "src/timing.rs": """
        use std::time::Duration;

        pub const WAIT: Duration = Duration::from_secs(1);
    """,
    "src/fixtures.rs": """
        use std::sync::{Mutex, MutexGuard};

        fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
            mutex.lock().unwrap()
        }
    """,
    "src/controller/mod.rs": """
        pub mod gadget_task;
        pub mod ownership;
        pub mod status;
        pub mod widget_task;
    """,
    "src/controller/status.rs": """
        use crate::api::{GadgetTaskStatus, WidgetTaskStatus};

        pub fn names(_: &GadgetTaskStatus, _: &WidgetTaskStatus) {}

        pub fn local() -> bool {
            use super::widget_task;
            widget_task::decide::is_done()
        }
    """,
    "src/controller/ownership.rs": """
        use super::widget_task::decide::is_done;

        pub fn owned() -> bool {
            is_done() && super::widget_task::ready()
        }
    """,
    "src/controller/widget_task/mod.rs": """
        pub mod decide;

        use decide::is_done;

        pub fn ready() -> bool {
            is_done()
        }
    """,
    "src/controller/widget_task/decide.rs": """
        pub fn is_done() -> bool {
            true
        }
    """,
    "src/controller/gadget_task/mod.rs": """
        pub mod decide;

        pub use decide::decide;
    """,
    "src/controller/gadget_task/decide.rs": """
        pub fn decide() -> bool {
            crate::controller::widget_task::decide::is_done()
        }
    """,
    "src/bin/plug/main.rs": """
        use demo_op::controller::gadget_task::decide::decide;

        fn main() {
            let _ = decide();
        }
    """,
}


class FloorPlanTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        root = Path(cls.tmp.name)
        for rel, text in FIXTURE.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        args = fp.parser().parse_args(["--kind-threshold", "2"])
        cls.report = fp.measure(root, args)
        cls.files = {f["file"]: f for f in cls.report["files"]}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_the_lexer_reads_literals_whole(self):
        toks = fp.lex("let s = r#\"{ \"}\" \"#; let c = '{'; let l: &'a str = \"//\"; 'outer: loop {}")
        kinds = [(t.kind, t.text) for t in toks if t.kind in ("str", "char", "lifetime")]
        self.assertEqual(
            kinds,
            [
                ("str", 'r#"{ "}" "#'),
                ("char", "'{'"),
                ("lifetime", "'a"),
                ("str", '"//"'),
                ("lifetime", "'outer"),
            ],
        )
        self.assertEqual([t.text for t in toks if t.text in "{}"], ["{", "}"])

    def test_a_test_module_and_a_test_only_file_are_not_production(self):
        self.assertEqual(self.files["src/a.rs"]["production_lines"], 11)
        self.assertEqual(self.files["src/c.rs"]["production_lines"], 4)
        self.assertEqual(self.files["src/fixtures.rs"]["production_lines"], 0)
        self.assertTrue(self.files["src/fixtures.rs"]["test_only"])
        names = {f["name"] for f in self.report["functions"]}
        self.assertNotIn("it_counts", names)
        self.assertNotIn("only_in_tests", names)

    def test_a_raw_string_with_braces_does_not_end_the_function(self):
        tricky = next(f for f in self.report["functions"] if f["name"] == "tricky")
        self.assertEqual((tricky["line"], tricky["span"], tricky["lines"]), (6, 11, 9))

    def test_a_circle_of_three_modules(self):
        circles = self.report["circles"]
        self.assertEqual([c["modules"] for c in circles], [["src/a.rs", "src/b.rs", "src/c.rs"]])
        links = {(link["from"], link["to"]): link["at"] for link in circles[0]["links"]}
        self.assertEqual(
            links,
            {
                ("src/a.rs", "src/b.rs"): "src/a.rs:3",
                ("src/b.rs", "src/c.rs"): "src/b.rs:4",
                ("src/c.rs", "src/a.rs"): "src/c.rs:1",
            },
        )

    def test_a_re_export_is_not_a_dependency(self):
        reexports = {(e["from"], e["to"]) for e in self.report["reexports"]}
        self.assertIn(("src/api/mod.rs", "src/api/widget_task.rs"), reexports)
        # `pub mod decide;` names the module, not the function it re-exports.
        self.assertIn(
            ("src/controller/gadget_task/mod.rs", "src/controller/gadget_task/decide.rs"), reexports
        )

    def test_imports_from_inside_a_kind(self):
        self.assertEqual(self.report["kinds"], ["GadgetTask", "WidgetTask"])
        found = {(e["at"], e["path"]) for e in self.report["imports_from_inside_a_kind"]}
        self.assertEqual(
            found,
            {
                ("src/controller/ownership.rs:1", "super::widget_task::decide::is_done"),
                ("src/controller/gadget_task/decide.rs:2", "crate::controller::widget_task::decide::is_done"),
                ("src/bin/plug/main.rs:1", "demo_op::controller::gadget_task::decide::decide"),
                # Through a `use` inside a function.
                ("src/controller/status.rs:7", "widget_task::decide::is_done"),
            },
        )
        faces = {(e["at"], e["path"]) for e in self.report["imports_of_a_kind_face"]}
        self.assertEqual(
            faces,
            {
                ("src/controller/ownership.rs:4", "super::widget_task::ready"),
                ("src/controller/status.rs:6", "super::widget_task"),
            },
        )

    def test_repeated_names(self):
        rep = self.report["repeated"]
        self.assertEqual(rep["file_names"]["decide.rs"], [
            "src/controller/gadget_task/decide.rs",
            "src/controller/widget_task/decide.rs",
        ])
        self.assertEqual(rep["fn_lock"], [{"at": "src/fixtures.rs:3", "test": True}])
        # The wait in a.rs counts; timing.rs's and the test's do not.
        self.assertEqual(
            rep["waits"], [{"at": "src/a.rs:13", "call": "Duration::from_millis(", "literal": True}]
        )
        self.assertEqual(len(rep["mod_rs"]), 4)

    def test_what_a_new_kind_would_touch(self):
        touched = {t["file"] for t in self.report["new_kind_touches"]}
        self.assertEqual(touched, {"src/api/mod.rs", "src/controller/mod.rs", "src/controller/status.rs"})


if __name__ == "__main__":
    unittest.main()
