//! The documentation's generated parts and its checks (tests only). Pages or blocks that restate
//! the code — every field of every kind, every metric, the alerts — are rendered from the code here
//! and compared with what `docs/` holds; `UPDATE_DOCS=1` rewrites them instead. Every citation of a
//! document (`docs/….md §N`, a markdown link, a repository path in a page) must name something that
//! exists.

mod alerts;
mod citations;
mod fields;
mod metrics;

use std::{
    fs,
    path::{Path, PathBuf},
};

/// The command that rewrites every generated part of the documentation.
const UPDATE_COMMAND: &str = "UPDATE_DOCS=1 cargo test --lib docgen";

/// The repository root.
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn updating() -> bool {
    std::env::var_os("UPDATE_DOCS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Checks that the file at `relative` (from the repository root) is `expected`, or writes it when
/// `UPDATE_DOCS` is set.
fn check_file(relative: &str, expected: &str) {
    let path = repo_root().join(relative);
    let current = fs::read_to_string(&path).unwrap_or_default();
    if current == expected {
        return;
    }
    if updating() {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        fs::write(&path, expected).unwrap_or_else(|e| panic!("{relative}: {e}"));
        return;
    }
    panic!(
        "{relative} is out of date with the code it is generated from; run `{UPDATE_COMMAND}` and commit \
         the result\n{}",
        first_difference(&current, expected)
    );
}

/// The marker lines around a generated block named `name`.
fn markers(name: &str) -> (String, String) {
    (
        format!("<!-- BEGIN GENERATED {name}: rewritten by `{UPDATE_COMMAND}`, do not edit -->"),
        format!("<!-- END GENERATED {name} -->"),
    )
}

/// Checks that the block `name` of the page at `relative` is `expected` (the page's own prose
/// around it is left alone), or rewrites the block when `UPDATE_DOCS` is set.
pub(crate) fn check_block(relative: &str, name: &str, expected: &str) {
    let path = repo_root().join(relative);
    let page = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{relative}: {e}"));
    let (begin, end) = markers(name);
    let (Some(start), Some(stop)) = (page.find(&begin), page.find(&end)) else {
        panic!("{relative} lacks the lines\n{begin}\n{end}\naround its generated block {name}");
    };
    assert!(
        start < stop,
        "{relative}: {name}'s markers are out of order"
    );
    let body_start = start + begin.len() + 1;
    let current = page.get(body_start..stop).unwrap_or_default();
    if current == expected {
        return;
    }
    if updating() {
        let mut page = page.clone();
        page.replace_range(body_start..stop, expected);
        fs::write(&path, page).unwrap_or_else(|e| panic!("{relative}: {e}"));
        return;
    }
    panic!(
        "{relative}: the generated block {name} is out of date with the code; run `{UPDATE_COMMAND}` and \
         commit the result\n{}",
        first_difference(current, expected)
    );
}

/// The first line where two texts differ, for a failure message.
fn first_difference(current: &str, expected: &str) -> String {
    let (mut have, mut want) = (current.lines(), expected.lines());
    for number in 1.. {
        match (have.next(), want.next()) {
            (None, None) => break,
            (a, b) if a == b => {}
            (a, b) => {
                return format!(
                    "first difference at line {number}:\n  checked in: {}\n  generated:  {}",
                    a.unwrap_or("(end)"),
                    b.unwrap_or("(end)")
                );
            }
        }
    }
    "they differ only in line endings".into()
}

/// Text for one markdown table cell: one line, pipes outside code spans escaped, `<` outside code
/// spans written as an entity so that a placeholder such as `<tenant>` is not read as HTML.
pub(crate) fn cell(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(joined.len());
    let mut in_code = false;
    for c in joined.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                out.push(c);
            }
            '|' if !in_code => out.push_str("\\|"),
            '<' if !in_code => out.push_str("&lt;"),
            _ => out.push(c),
        }
    }
    out
}

/// Every file below `dir` (recursively), sorted, leaving out build output and version control.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if path.is_dir() {
                if !matches!(name.as_str(), "target" | ".git" | "site" | "node_modules") {
                    pending.push(path);
                }
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

mod tests {
    use super::*;

    #[test]
    fn a_cell_keeps_code_and_escapes_what_a_table_would_misread() {
        assert_eq!(
            cell("one\n  of `a|b` or c|d, `<x>` <y>"),
            "one of `a|b` or c\\|d, `<x>` &lt;y>"
        );
    }

    #[test]
    fn the_first_difference_names_the_line() {
        assert!(first_difference("a\nb\n", "a\nc\n").contains("line 2"));
    }
}
