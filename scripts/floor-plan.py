#!/usr/bin/env python3
"""The floor plan of the Rust sources under src/, measured: the figures issue 35 asks for, before and after.

Usage:
    scripts/floor-plan.py              # the report, as text (-v adds re-exports, faces, partial paths)
    scripts/floor-plan.py --json       # the same, machine-readable (every file and every function)
    scripts/floor-plan.py --root DIR   # another checkout (default: the repository holding this script)
    python3 -m unittest scripts/floor_plan_test.py   # its test

Standard library only; it reads the sources and never builds them. What it measures:

1. Production lines per file: lines holding code that is not test code. Blank lines and lines holding only
   comments (doc comments included) never count; an item under `#[cfg(test)]` (a `mod tests { … }`, a
   helper, a `use`), a `#[test]` function and a whole file declared under `#[cfg(test)] mod x;` (fixtures)
   count as test code. Files over --max-file-lines (600) are listed.
2. Functions: the production lines of each `fn` with a body, from the line of `fn` to its closing brace
   (signature included, comment and blank lines not; a nested `fn` counts inside its outer one too), and
   beside it the span (every line from `fn` to `}`). The longest --top (25), and every function in
   src/controller/ over --max-fn-lines (80).
3. Import circles: a graph of modules (one node per file: `foo.rs` or `foo/mod.rs`; an inline `mod` belongs
   to its file). An edge is a `use` in production code, a path in code that starts with `crate::`,
   `super::`, `self::` or the library's name (the plugin and main.rs reach the library so), or one that
   starts with a module in scope (`status::write`, also through a `use` inside a function). A path is
   resolved the way rustc does, through `use` bindings and re-exports, to the module that defines the item
   it names (`super::Context` in controller/task.rs points at controller/context.rs, not at
   controller/mod.rs). A `pub use` whose name the file's own code never uses is a re-export, a face and not
   a dependency: it is listed apart and left out of the circles (--reexport-edges puts it in). Circles are
   the strongly connected components of more than one file, each link with one example. Listed beside
   them: the files outside src/controller/ that import from it (the plugin, metrics.rs, …).
4. Imports from inside a kind: a kind is a custom resource (`#[kube(kind = "BackupTask")]` under
   src/api/); its rooms are src/controller/<snake_name>/ and src/controller/<snake_name>.rs. Listed: every
   `use` or path in code, in a file outside that kind (another kind's included), that names a submodule of
   the kind or reaches an item defined in one (also through the kind's re-exports). Importing what the
   kind's own mod.rs defines (its face) is listed apart.
5. Repeated names: `mod.rs` files, file names used more than once, `fn lock<` definitions, types named
   `Clock` (and modules named `clock`), and waits (`…Duration::from_secs(` and `…::from_millis(`, told
   apart when they only convert a value rather than write a number; other `Duration` constructors counted
   apart) in production code outside src/timing.rs.
6. What a new kind would touch: files outside the kinds' rooms whose production code names at least
   --kind-threshold (all kinds but one) of the kinds, by their type (`BackupTask`, `BackupTaskStatus`,
   `BackupTaskSpec`, `BackupTaskPhase`), their module (`backup_task::…`, `mod backup_task`) or their name in
   a string.

The lexer knows Rust's comments (nested block comments), strings (escapes, raw strings with any number of
`#`, byte and C strings), char literals against lifetimes and labels, and raw identifiers, so braces,
quotes and `//` inside literals do not confuse it; a bracket it leaves unmatched is reported. It does not
expand macros: a type a derive defines is known only for `#[kube(kind = …)]`, and a path to another item a
macro makes resolves to the module the path reaches (listed with -v).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

# ----------------------------------------------------------------------------------------------------------
# Lexing


@dataclass
class Tok:
    kind: str  # ident, lifetime, str, char, num, punct
    text: str
    line: int
    end_line: int


RAW_STR = re.compile(r'[bc]?r(#*)"')
PLAIN_STR = re.compile(r'[bc]?"')
RAW_IDENT = re.compile(r"r#([A-Za-z_][A-Za-z0-9_]*)")
NUMBER = re.compile(r"[0-9][0-9A-Za-z_]*(?:\.[0-9][0-9A-Za-z_]*)?(?:[eE][+-]?[0-9_]+)?")
TWO_CHAR = {"::", "->", "=>"}


def _is_ident_start(c: str) -> bool:
    return c == "_" or c.isalpha()


def _is_ident_char(c: str) -> bool:
    return c == "_" or c.isalnum()


def _char_end(text: str, i: int) -> int | None:
    """The index after a char literal whose opening quote is at `i`, or None when `i` starts a lifetime."""
    n = len(text)
    if i + 1 < n and text[i + 1] == "\\":
        j = text.find("'", i + 3)
        return None if j < 0 else j + 1
    if i + 2 < n and text[i + 2] == "'" and text[i + 1] != "\n":
        return i + 3
    return None


def lex(text: str) -> list[Tok]:
    """Rust tokens (comments dropped), each with its first and last line."""
    toks: list[Tok] = []
    i, n, line = 0, len(text), 1

    def push(kind: str, start: int, end: int) -> None:
        nonlocal line
        chunk = text[start:end]
        toks.append(Tok(kind, chunk, line, line + chunk.count("\n")))
        line += chunk.count("\n")

    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            line += text.count("\n", i, j)
            i = j
        elif (m := RAW_STR.match(text, i)) is not None:
            close = '"' + m.group(1)
            j = text.find(close, m.end())
            j = n if j < 0 else j + len(close)
            push("str", i, j)
            i = j
        elif (m := PLAIN_STR.match(text, i)) is not None:
            j = m.end()
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            push("str", i, min(j + 1, n))
            i = min(j + 1, n)
        elif text.startswith("b'", i) and (j := _char_end(text, i + 1)) is not None:
            push("char", i, j)
            i = j
        elif (m := RAW_IDENT.match(text, i)) is not None:
            toks.append(Tok("ident", m.group(1), line, line))
            i = m.end()
        elif _is_ident_start(c):
            j = i + 1
            while j < n and _is_ident_char(text[j]):
                j += 1
            push("ident", i, j)
            i = j
        elif c == "'":
            j = _char_end(text, i)
            if j is not None:
                push("char", i, j)
            else:
                j = i + 1
                while j < n and _is_ident_char(text[j]):
                    j += 1
                push("lifetime", i, j)
            i = j
        elif c.isdigit():
            m = NUMBER.match(text, i)
            j = m.end() if m else i + 1
            push("num", i, j)
            i = j
        elif text[i : i + 2] in TWO_CHAR:
            push("punct", i, i + 2)
            i += 2
        else:
            push("punct", i, i + 1)
            i += 1
    return toks


OPEN = {"(": ")", "[": "]", "{": "}"}
CLOSE = {v: k for k, v in OPEN.items()}


def match_brackets(toks: list[Tok]) -> tuple[dict[int, int], list[int | None], list[int]]:
    """For each bracket its partner, for each token the innermost `{` around it, and the lines of brackets
    left unmatched (none in code that compiles: a sign the lexer misread a literal)."""
    partner: dict[int, int] = {}
    unmatched: list[int] = []
    brace_parent: list[int | None] = [None] * len(toks)
    stack: list[int] = []
    braces: list[int] = []
    for i, t in enumerate(toks):
        brace_parent[i] = braces[-1] if braces else None
        if t.kind != "punct":
            continue
        if t.text in OPEN:
            stack.append(i)
            if t.text == "{":
                braces.append(i)
        elif t.text in CLOSE:
            # Pop to the matching opener; unbalanced sources (never in compiling code) lose the extras.
            while stack and toks[stack[-1]].text != CLOSE[t.text]:
                unmatched.append(toks[stack.pop()].line)
            if not stack:
                unmatched.append(t.line)
            else:
                j = stack.pop()
                partner[i], partner[j] = j, i
                while t.text == "}" and braces and braces[-1] >= j:
                    braces.pop()
    unmatched += [toks[j].line for j in stack]
    return partner, brace_parent, sorted(unmatched)


# ----------------------------------------------------------------------------------------------------------
# Test code

BLOCK_ITEMS = {"fn", "mod", "impl", "trait", "struct", "enum", "union", "macro_rules"}
SEMI_ITEMS = {"use", "const", "static", "type", "let", "extern"}
QUALIFIERS = {"async", "unsafe", "default", "safe"}


def _cfg_needs_test(ts: list[Tok], k: int) -> tuple[bool, int]:
    """Whether the cfg predicate starting at ts[k] holds only under `test`; and the index after it."""
    t = ts[k].text if k < len(ts) else ""
    if t in ("all", "any", "not") and k + 1 < len(ts) and ts[k + 1].text == "(":
        k += 2
        parts = []
        while k < len(ts) and ts[k].text != ")":
            needs, k = _cfg_needs_test(ts, k)
            parts.append(needs)
            if k < len(ts) and ts[k].text == ",":
                k += 1
        k += 1
        if t == "all":
            return any(parts), k
        if t == "any":
            return bool(parts) and all(parts), k
        return False, k
    # A bare name or `name = "value"`.
    end = k + 1
    if end + 1 < len(ts) and ts[end].text == "=":
        end += 2
    return t == "test" and end == k + 1, end


def _is_test_attribute(inner: list[Tok]) -> bool:
    texts = [t.text for t in inner]
    if len(texts) >= 3 and texts[0] == "cfg" and texts[1] == "(":
        return _cfg_needs_test(inner, 2)[0]
    # `#[test]`, `#[tokio::test]`, `#[tokio::test(flavor = "…")]`.
    path = texts[: texts.index("(")] if "(" in texts else texts
    return bool(path) and path[-1] == "test" and all(p == "::" or p.isidentifier() for p in path)


class Source:
    """One file's tokens and what is test code in it."""

    def __init__(self, path: Path, rel: str):
        self.path = path
        self.rel = rel
        self.toks = lex(path.read_text(encoding="utf-8"))
        self.partner, self.brace_parent, self.unmatched = match_brackets(self.toks)
        self.whole_file_test = False
        self.test = [False] * len(self.toks)
        self._mark_tests()

    def text(self, i: int) -> str:
        return self.toks[i].text if 0 <= i < len(self.toks) else ""

    def skip_group(self, i: int) -> int:
        """The index after the bracket group opening at `i` (or `i + 1`)."""
        return self.partner.get(i, i) + 1

    def attribute_end(self, i: int) -> int | None:
        """If an attribute starts at `i` (`#[` or `#![`), the index of its closing `]`."""
        if self.text(i) != "#":
            return None
        j = i + 1 + (self.text(i + 1) == "!")
        return self.partner.get(j) if self.text(j) == "[" else None

    def item_end(self, k: int) -> int:
        """The last token of the item, statement, field or arm starting at `k` (after its attributes)."""
        while (close := self.attribute_end(k)) is not None:
            k = close + 1
        j = k
        if self.text(j) == "pub":
            j += 1
            if self.text(j) == "(":
                j = self.skip_group(j)
        while self.text(j) in QUALIFIERS or (
            self.text(j) == "const" and self.text(j + 1) in ("fn", "async", "unsafe", "extern")
        ):
            j += 1
        if self.text(j) == "extern" and j + 1 < len(self.toks) and self.toks[j + 1].kind == "str":
            j += 2
        keyword = self.text(j)
        n = len(self.toks)
        if keyword in BLOCK_ITEMS:
            while j < n:
                t = self.text(j)
                if t == ";":
                    return j
                if t == "{":
                    return self.partner.get(j, n - 1)
                if t in CLOSE:
                    return j - 1
                j = self.skip_group(j) if t in OPEN else j + 1
            return n - 1
        if keyword in SEMI_ITEMS:
            while j < n and self.text(j) != ";":
                if self.text(j) in CLOSE:
                    return j - 1
                j = self.skip_group(j) if self.text(j) in OPEN else j + 1
            return min(j, n - 1)
        if j < n and self.toks[j].kind == "ident" and self.text(j + 1) == "!" and self.text(j + 2) in OPEN:
            end = self.partner.get(j + 2, n - 1)
            return end + 1 if self.text(end + 1) == ";" else end
        # A field, a variant, an arm or an expression statement: up to its `,` or `;`.
        angle = 0
        while j < n:
            t = self.text(j)
            if t in CLOSE:
                return j - 1
            if t in (",", ";") and angle <= 0:
                return j
            if t == "<":
                angle += 1
            elif t == ">":
                angle -= 1
            j = self.skip_group(j) if t in OPEN else j + 1
        return n - 1

    def _mark_tests(self) -> None:
        i = 0
        while i < len(self.toks):
            close = self.attribute_end(i)
            if close is None:
                i += 1
                continue
            inner_start = i + 2 + (self.text(i + 1) == "!")
            if not _is_test_attribute(self.toks[inner_start:close]):
                i = close + 1
                continue
            if self.text(i + 1) == "!":
                # An inner attribute: the enclosing block, or the whole file.
                parent = self.brace_parent[i]
                if parent is None:
                    self.whole_file_test = True
                    self.test = [True] * len(self.toks)
                    return
                start, end = parent, self.partner.get(parent, len(self.toks) - 1)
            else:
                start, end = i, self.item_end(close + 1)
            for j in range(start, end + 1):
                self.test[j] = True
            i = end + 1

    def code_lines(self, with_tests: bool = False) -> set[int]:
        """The lines holding a token (a multi-line string holds all of its lines), test code left out
        unless `with_tests`."""
        lines: set[int] = set()
        for t, is_test in zip(self.toks, self.test):
            if with_tests or not is_test:
                lines.update(range(t.line, t.end_line + 1))
        return lines


# ----------------------------------------------------------------------------------------------------------
# Modules and their names


@dataclass(eq=False)
class Module:
    name: str
    parent: Module | None
    source: Source
    crate: str
    inline_path: tuple[str, ...] = ()  # inline modules inside the file
    test: bool = False
    children: dict[str, Module] = field(default_factory=dict)
    items: dict[str, int] = field(default_factory=dict)  # name -> line
    uses: dict[str, list[str]] = field(default_factory=dict)  # bound name -> path
    globs: list[list[str]] = field(default_factory=list)

    @property
    def file(self) -> str:
        return self.source.rel

    def root(self) -> Module:
        m = self
        while m.parent is not None:
            m = m.parent
        return m

    def qualified(self) -> str:
        parts = []
        m: Module | None = self
        while m is not None and m.parent is not None:
            parts.append(m.name)
            m = m.parent
        return "::".join([self.crate] + parts[::-1])


@dataclass
class UseDecl:
    module: Module
    line: int
    paths: list[tuple[list[str], str | None]]  # (path, bound name or None for a glob)
    public: bool
    module_level: bool


@dataclass
class CodePath:
    module: Module
    line: int
    path: list[str]
    relative: bool = False  # starts with a name in scope (`status::write`), not `crate`/`super`/`self`
    # `use` bindings of the blocks around it (a `use` inside a function), innermost first.
    local: list[dict[str, list[str]]] = field(default_factory=list)


@dataclass
class Function:
    file: str
    line: int
    end_line: int
    name: str
    lines: int


def parse_use_tree(src: Source, i: int, prefix: list[str], out: list) -> int:
    """Parses the use tree at `i` into `out` as (path, bound name); returns the index after it."""
    path = list(prefix)
    while True:
        t = src.text(i)
        if t == "{":
            end = src.partner.get(i, len(src.toks) - 1)
            j = i + 1
            while j < end:
                j = parse_use_tree(src, j, path, out)
                if src.text(j) == ",":
                    j += 1
            return end + 1
        if t == "*":
            out.append((path, None))
            return i + 1
        if t == "::":
            i += 1
            continue
        if src.toks[i].kind == "ident" or t == "$":
            name = "crate" if t == "$" and src.text(i + 1) == "crate" else t
            i += 2 if t == "$" else 1
            if name == "self" and path and src.text(i) != "::":
                bound_default = path[-1]
                target = list(path)
            else:
                path = path + [name]
                if src.text(i) == "::":
                    continue
                bound_default, target = name, path
            if src.text(i) == "as":
                out.append((target, src.text(i + 1)))
                return i + 2
            out.append((target, bound_default))
            return i
        return i + 1


class Crates:
    """The crates under src/ (the library, main.rs, each plugin under src/bin/) and their modules."""

    def __init__(self, root: Path, include_tests: bool = False):
        self.root = root
        self.src = root / "src"
        self.include_tests = include_tests
        self.sources: dict[str, Source] = {}
        self.modules: list[Module] = []
        self.file_module: dict[str, Module] = {}
        self.uses: list[UseDecl] = []
        self.code_paths: list[CodePath] = []
        self.functions: list[Function] = []
        self.lib_name = self._lib_name()
        self.lib_root: Module | None = None
        self.unreached: list[str] = []
        for rel, crate in self._roots():
            module = self._load(rel, None, crate, "crate", False)
            if crate == "lib":
                self.lib_root = module
        every = {str(p.relative_to(self.root)) for p in self.src.rglob("*.rs")}
        self.unreached = sorted(every - set(self.sources))

    def _lib_name(self) -> str:
        cargo = self.root / "Cargo.toml"
        if not cargo.exists():
            return "crate_lib"
        section, name = "", None
        for line in cargo.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line.startswith("["):
                section = line
            elif (m := re.match(r'name\s*=\s*"([^"]+)"', line)) and section in ("[package]", "[lib]"):
                if section == "[lib]" or name is None:
                    name = m.group(1)
        return (name or "crate_lib").replace("-", "_")

    def _roots(self) -> list[tuple[str, str]]:
        roots = []
        if (self.src / "lib.rs").exists():
            roots.append(("src/lib.rs", "lib"))
        if (self.src / "main.rs").exists():
            roots.append(("src/main.rs", "main"))
        bins = self.src / "bin"
        if bins.is_dir():
            for p in sorted(bins.iterdir()):
                if p.suffix == ".rs":
                    roots.append((f"src/bin/{p.name}", f"bin:{p.stem}"))
                elif (p / "main.rs").exists():
                    roots.append((f"src/bin/{p.name}/main.rs", f"bin:{p.name}"))
        return roots

    def _load(self, rel: str, parent: Module | None, crate: str, name: str, test: bool) -> Module:
        src = Source(self.root / rel, rel)
        self.sources[rel] = src
        module = Module(name, parent, src, crate, test=test or src.whole_file_test)
        if parent is not None:
            parent.children[name] = module
        self.modules.append(module)
        self.file_module[rel] = module
        self._scan(src, module)
        return module

    def _child_file(self, module: Module, name: str) -> str | None:
        rel = Path(module.file)
        if rel.name in ("mod.rs", "lib.rs", "main.rs"):
            base = rel.parent
        else:
            base = rel.parent / rel.stem
        base = base.joinpath(*module.inline_path)
        for candidate in (base / f"{name}.rs", base / name / "mod.rs"):
            if (self.root / candidate).exists():
                return str(candidate)
        return None

    def counted(self, src: Source, i: int) -> bool:
        return self.include_tests or not src.test[i]

    def _scan(self, src: Source, file_module: Module) -> None:
        """Modules, names, uses, qualified paths and functions of one file."""
        toks = src.toks
        n = len(toks)
        # The innermost module (file or inline) and the label of the innermost impl/trait/fn for each `{`.
        brace_module: dict[int, Module] = {}
        brace_label: dict[int, tuple[str, str]] = {}
        # Names bound by a `use` inside a block (a function's body), by the block's `{`.
        local_uses: dict[int, dict[str, list[str]]] = defaultdict(dict)

        def module_at(i: int) -> Module:
            b = src.brace_parent[i]
            while b is not None:
                if b in brace_module:
                    return brace_module[b]
                b = src.brace_parent[b]
            return file_module

        def module_level(i: int) -> bool:
            b = src.brace_parent[i]
            return b is None or b in brace_module

        def labels(i: int) -> list[str]:
            out = []
            b = src.brace_parent[i]
            while b is not None:
                if b in brace_label:
                    out.append(brace_label[b][1])
                b = src.brace_parent[b]
            return out[::-1]

        def body_start(j: int) -> int | None:
            while j < n:
                t = src.text(j)
                if t == "{":
                    return j
                if t == ";" or t in CLOSE:
                    return None
                j = src.skip_group(j) if t in ("(", "[") else j + 1
            return None

        i = 0
        while i < n:
            t = toks[i]
            if t.kind != "ident":
                if t.text == "$" and src.text(i + 1) == "crate" and src.text(i + 2) == "::":
                    i = self._code_path(src, i + 1, module_at(i)) if self.counted(src, i) else i + 1
                    continue
                i += 1
                continue
            word = t.text
            prev = src.text(i - 1)
            if word == "mod" and i + 1 < n and toks[i + 1].kind == "ident":
                name = src.text(i + 1)
                parent = module_at(i)
                if src.text(i + 2) == ";":
                    child_rel = self._child_file(parent, name)
                    if child_rel is not None and child_rel not in self.sources:
                        self._load(child_rel, parent, parent.crate, name, parent.test or src.test[i])
                    if module_level(i) and self.counted(src, i):
                        parent.items.setdefault(name, t.line)
                elif src.text(i + 2) == "{":
                    inline = Module(
                        name,
                        parent,
                        src,
                        parent.crate,
                        inline_path=parent.inline_path + (name,),
                        test=parent.test or src.test[i],
                    )
                    parent.children[name] = inline
                    self.modules.append(inline)
                    brace_module[i + 2] = inline
                i += 2
                continue
            if not self.counted(src, i) or (file_module.test and not self.include_tests):
                i += 1
                continue
            if word == "use" and prev != "::":
                paths: list = []
                j = i + 1
                while j < n and src.text(j) != ";":
                    j = parse_use_tree(src, j, [], paths)
                    if src.text(j) == ",":
                        j += 1
                public = prev == "pub" or (prev == ")" and src.text(src.partner.get(i - 1, 0) - 1) == "pub")
                decl = UseDecl(module_at(i), t.line, paths, public, module_level(i))
                self.uses.append(decl)
                for path, bound in paths:
                    if bound is None:
                        if decl.module_level:
                            decl.module.globs.append(path)
                    elif bound != "_":
                        if decl.module_level:
                            decl.module.uses.setdefault(bound, path)
                        else:
                            local_uses[src.brace_parent[i]].setdefault(bound, path)
                i = j + 1
                continue
            if word in ("crate", "super", "self") or word == self.lib_name:
                if src.text(i + 1) == "::" and prev not in ("::", "in"):
                    i = self._code_path(src, i, module_at(i))
                    continue
            elif (
                src.text(i + 1) == "::"
                and prev not in ("::", "$", "in")
                and i + 2 < n
                and toks[i + 2].kind == "ident"
            ):
                # `status::write(…)`, `backup_task::decide::is_terminal`: resolved later if the first name
                # is a module in scope.
                i = self._code_path(src, i, module_at(i), relative=True)
                b = src.brace_parent[i - 1]
                while b is not None:
                    self.code_paths[-1].local.append(local_uses[b])
                    b = src.brace_parent[b]
                continue
            if word == "kube" and prev == "[" and src.text(i + 1) == "(" and module_level(i):
                # `#[kube(kind = "BackupTask", …)]`: the derive defines the type `BackupTask` here.
                for j in range(i + 2, src.partner.get(i + 1, i + 1) - 1):
                    if src.text(j) == "kind" and src.text(j + 1) == "=" and toks[j + 2].kind == "str":
                        module_at(i).items.setdefault(toks[j + 2].text.strip('"'), t.line)
            if word == "trait" or (word == "impl" and prev in ("", ";", "{", "}", "]", "unsafe", "default")):
                start = body_start(i + 1)
                if start is not None:
                    brace_label[start] = (word, self._impl_label(src, i, start))
                if word == "trait" and module_level(i):
                    module_at(i).items.setdefault(src.text(i + 1), t.line)
                i += 1
                continue
            if word == "fn" and i + 1 < n and toks[i + 1].kind == "ident":
                name = src.text(i + 1)
                if module_level(i):
                    module_at(i).items.setdefault(name, t.line)
                start = body_start(i + 2)
                if start is not None:
                    brace_label[start] = ("fn", name)
                    end = src.partner.get(start, n - 1)
                    owner = labels(i)
                    qualified = "::".join(owner + [name])
                    self.functions.append(Function(src.rel, t.line, toks[end].end_line, qualified, 0))
                i += 2
                continue
            if word in ("struct", "enum", "union", "type") and i + 1 < n and toks[i + 1].kind == "ident":
                if word != "union" or src.text(i + 2) in ("{", "<"):
                    if module_level(i):
                        module_at(i).items.setdefault(src.text(i + 1), t.line)
            if word in ("const", "static") and module_level(i):
                j = i + 1 + (src.text(i + 1) == "mut")
                if toks[j].kind == "ident" and src.text(j + 1) == ":":
                    module_at(i).items.setdefault(src.text(j), t.line)
            i += 1

    @staticmethod
    def _impl_label(src: Source, i: int, start: int) -> str:
        """`Type` for `impl … for Type<…> {`/`impl Type {`, `Name` for `trait Name`."""
        header = [t.text for t in src.toks[i + 1 : start]]
        if src.text(i) == "trait":
            return header[0] if header else "?"
        k = 0
        if header[:1] == ["<"]:
            depth = 0
            for k, h in enumerate(header):
                depth += (h == "<") - (h == ">")
                if depth == 0:
                    break
            k += 1
        header = header[k:]
        if "where" in header:
            header = header[: header.index("where")]
        depth, split = 0, None
        for k, h in enumerate(header):
            depth += (h == "<") - (h == ">")
            if h == "for" and depth == 0:
                split = k
        self_type = header[split + 1 :] if split is not None else header
        name = "?"
        for h in self_type:
            if h == "<":
                break
            if h[:1].isalpha() or h[:1] in ("_", "$"):
                name = h if h not in ("dyn", "mut") else name
        return name

    def _code_path(self, src: Source, i: int, module: Module, relative: bool = False) -> int:
        path: list[str] = []
        line = src.toks[i].line
        while i < len(src.toks) and src.toks[i].kind == "ident":
            path.append(src.text(i))
            if src.text(i + 1) == "::" and i + 2 < len(src.toks) and src.toks[i + 2].kind == "ident":
                i += 2
            else:
                i += 1
                break
        self.code_paths.append(CodePath(module, line, path, relative))
        return i

    def resolve_code(self, c: CodePath) -> tuple[Module, list, bool, bool] | None:
        """Like `resolve`, for a path in code; one starting with a name is followed only when the name is a
        child module or bound by a `use` (not a type's `Self::`, `std::`, a glob's name)."""
        if c.relative:
            for scope in c.local:
                if c.path[0] in scope:
                    return self.resolve(c.module, scope[c.path[0]] + c.path[1:])
            if c.path[0] not in c.module.children and c.path[0] not in c.module.uses:
                return None
        return self.resolve(c.module, c.path)

    # ------------------------------------------------------------------------------------------------------
    # Resolution

    def resolve(
        self, start: Module, path: list[str], depth: int = 0
    ) -> tuple[Module, list, bool, bool] | None:
        """Where `path`, written in `start`, lands: the module defining the item it names (or the module it
        names), the modules its segments named on the way, whether every segment was found and whether the
        path names a module. None for a path into another crate (std, kube, …)."""
        if not path or depth > 24:
            return None
        trail: list[Module] = []
        first = path[0]
        k = 1
        if first == "crate":
            cur = start.root()
        elif first == self.lib_name and self.lib_root is not None:
            cur = self.lib_root
        elif first in ("self", "super"):
            cur, k = start, 0
            while k < len(path) and path[k] in ("self", "super"):
                if path[k] == "super":
                    cur = cur.parent or cur
                k += 1
            if cur is not start:
                trail.append(cur)
        else:
            found = self.lookup(start, first, depth + 1)
            if found is None:
                return None
            kind, cur, sub = found
            trail += sub
            if kind == "item":
                return cur, trail, True, False
        for seg in path[k:]:
            found = self.lookup(cur, seg, depth + 1)
            if found is None:
                return cur, trail, False, False
            kind, cur, sub = found
            trail += sub
            if kind == "item":
                return cur, trail, True, False
        return cur, trail, True, True

    def lookup(self, module: Module, name: str, depth: int) -> tuple[str, Module, list] | None:
        """A name in a module: ("mod", the module, trail) or ("item", its defining module, trail)."""
        if depth > 24:
            return None
        if name in module.children:
            child = module.children[name]
            return "mod", child, [child]
        if name in module.uses:
            target = module.uses[name]
            landed = self.resolve(module, target, depth + 1)
            if landed is None:
                return None
            dest, trail, _, is_module = landed
            return ("mod" if is_module else "item"), dest, trail
        if name in module.items:
            return "item", module, []
        for glob in module.globs:
            landed = self.resolve(module, glob, depth + 1)
            if landed is not None:
                found = self.lookup(landed[0], name, depth + 1)
                if found is not None:
                    return found
        return None

    def edges(self, reexport_edges: bool) -> tuple[dict, dict, list]:
        """The file graph: (from, to) -> first example; re-exports apart; unresolved paths."""
        deps: dict[tuple[str, str], dict] = {}
        reexports: dict[tuple[str, str], dict] = {}
        unresolved = []
        used_names: dict[str, set[str]] = defaultdict(set)
        use_lines: dict[str, set[int]] = defaultdict(set)
        for u in self.uses:
            use_lines[u.module.file].add(u.line)
        for rel, src in self.sources.items():
            # The names a file's code uses: not in a `use`, not a `mod` declaration's name.
            in_use = False
            for k, (t, test) in enumerate(zip(src.toks, src.test)):
                if t.kind == "ident" and t.text == "use":
                    in_use = True
                elif in_use and t.text == ";":
                    in_use = False
                elif t.kind == "ident" and not in_use and (self.include_tests or not test):
                    if src.text(k - 1) != "mod":
                        used_names[rel].add(t.text)

        def add(table, a: Module, b: Module, line: int, written: str) -> None:
            if a.file == b.file:
                return
            table.setdefault((a.file, b.file), {"at": f"{a.file}:{line}", "path": written})

        for u in self.uses:
            for path, bound in u.paths:
                landed = self.resolve(u.module, path)
                if landed is None:
                    continue
                dest, _, complete, _ = landed
                if not complete:
                    unresolved.append(f"{u.module.file}:{u.line} {'::'.join(path)}")
                written = "::".join(path) + ("::*" if bound is None else "")
                face = u.public and (bound is None or bound not in used_names[u.module.file])
                add(reexports if face and not reexport_edges else deps, u.module, dest, u.line, written)
        for c in self.code_paths:
            landed = self.resolve_code(c)
            if landed is None:
                continue
            dest, _, complete, _ = landed
            if not complete:
                unresolved.append(f"{c.module.file}:{c.line} {'::'.join(c.path)}")
            add(deps, c.module, dest, c.line, "::".join(c.path))
        return deps, reexports, unresolved


# ----------------------------------------------------------------------------------------------------------
# Measures


def strongly_connected(nodes: set[str], edges: set[tuple[str, str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively."""
    succ: dict[str, list[str]] = defaultdict(list)
    for a, b in sorted(edges):
        succ[a].append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, pos = work.pop()
            if pos == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            children = succ[v]
            if pos < len(children):
                work.append((v, pos + 1))
                w = children[pos]
                if w not in index:
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return out


def kinds_of(crates: Crates) -> list[tuple[str, str]]:
    """The custom resources: (Kind, snake_name), from `#[kube(… kind = "X" …)]` under src/api/."""
    found = []
    for rel, src in sorted(crates.sources.items()):
        if not rel.startswith("src/api/"):
            continue
        toks = src.toks
        for i, t in enumerate(toks):
            if t.text == "kube" and i >= 2 and toks[i - 1].text == "[" and toks[i + 1].text == "(":
                end = src.partner.get(i + 1, i + 1)
                for j in range(i + 2, end - 1):
                    if toks[j].text == "kind" and toks[j + 1].text == "=" and toks[j + 2].kind == "str":
                        kind = toks[j + 2].text.strip('"')
                        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower()
                        found.append((kind, snake))
    return sorted(set(found), key=lambda k: k[1])


def kind_of_file(rel: str, kinds: list[tuple[str, str]]) -> tuple[str | None, bool]:
    """The kind whose rooms hold `rel`, and whether `rel` is the kind's face (its mod.rs or <kind>.rs)."""
    for _, snake in kinds:
        if rel == f"src/controller/{snake}.rs" or rel == f"src/controller/{snake}/mod.rs":
            return snake, True
        if rel.startswith(f"src/controller/{snake}/"):
            return snake, False
    return None, False


def _functions(crates: Crates, prod_lines: dict[str, set[int]]) -> list[dict]:
    functions = []
    for f in crates.functions:
        lines = prod_lines[f.file]
        counted = sum(1 for line in range(f.line, f.end_line + 1) if line in lines)
        if counted:
            span = f.end_line - f.line + 1
            functions.append({"file": f.file, "line": f.line, "name": f.name, "lines": counted, "span": span})
    return sorted(functions, key=lambda f: (-f["lines"], f["file"], f["line"]))


def _circles(nodes: set[str], deps: dict) -> list[dict]:
    edge_set = {e for e in deps if e[0] in nodes and e[1] in nodes}
    circles = []
    for comp in strongly_connected(nodes, edge_set):
        if len(comp) < 2:
            continue
        members = set(comp)
        links = [
            {"from": a, "to": b, **deps[(a, b)]}
            for (a, b) in sorted(edge_set)
            if a in members and b in members
        ]
        circles.append({"modules": comp, "links": links})
    return sorted(circles, key=lambda c: (-len(c["modules"]), c["modules"]))


def _kind_imports(crates: Crates, kinds: list[tuple[str, str]]) -> tuple[list[dict], list[dict]]:
    """The uses and paths from outside a kind into it: those reaching inside it, and those of its face."""
    into_kinds: list[dict] = []
    faces: list[dict] = []
    seen = set()
    references = [(u.module, u.line, p, b, None) for u in crates.uses for p, b in u.paths] + [
        (c.module, c.line, c.path, "", c) for c in crates.code_paths
    ]
    for module, line, path, bound, code in references:
        importer_kind, _ = kind_of_file(module.file, kinds)
        landed = crates.resolve(module, path) if code is None else crates.resolve_code(code)
        if landed is None:
            continue
        dest, trail, _, _ = landed
        if code is not None and code.relative and len(path) > 1:
            # `point::check` after `use …::recovery_task::point`: that `use` is listed already.
            first = crates.resolve_code(CodePath(module, line, path[:1], True, code.local))
            first_kind, first_face = kind_of_file(first[0].file, kinds) if first else (None, False)
            if first_kind not in (None, importer_kind) and not first_face:
                continue
        rooms = []
        for m in trail + [dest]:
            kind, is_face = kind_of_file(m.file, kinds)
            if kind is not None and kind != importer_kind:
                rooms.append((kind, is_face, m.file))
        if not rooms:
            continue
        written = "::".join(path) + ("::*" if bound is None else "")
        if (module.file, line, written) in seen:
            continue
        seen.add((module.file, line, written))
        inside = [r for r in rooms if not r[1]]
        entry = {
            "at": f"{module.file}:{line}",
            "path": written,
            "kind": (inside or rooms)[0][0],
            "reaches": (inside or rooms)[-1][2],
        }
        (into_kinds if inside else faces).append(entry)

    def order(e: dict) -> tuple:
        file, line = e["at"].rsplit(":", 1)
        return file, int(line), e["path"]

    return sorted(into_kinds, key=order), sorted(faces, key=order)


WAITS = {"from_secs", "from_millis"}
OTHER_DURATIONS = {"from_secs_f64", "from_secs_f32", "from_micros", "from_nanos", "from_mins", "from_hours"}


def _repeated(crates: Crates, include_tests: bool) -> dict:
    sources = crates.sources
    by_name: dict[str, list[str]] = defaultdict(list)
    for rel in sorted(sources):
        by_name[Path(rel).name].append(rel)
    locks, clocks, waits, other_waits = [], [], [], []
    for rel in sorted(sources):
        src = sources[rel]
        file_test = crates.file_module[rel].test
        toks = src.toks
        for i, t in enumerate(toks):
            if t.kind != "ident":
                continue
            test = file_test or src.test[i]
            where = {"at": f"{rel}:{t.line}", "test": test}
            if t.text == "fn" and src.text(i + 1) == "lock" and src.text(i + 2) == "<":
                locks.append(where)
            if t.text in ("struct", "trait", "enum", "type") and src.text(i + 1) == "Clock":
                clocks.append({**where, "what": f"{t.text} Clock"})
            if t.text == "mod" and src.text(i + 1) == "clock":
                clocks.append({**where, "what": "mod clock"})
            if (
                t.text in WAITS | OTHER_DURATIONS
                and src.text(i - 1) == "::"
                and src.text(i - 2).endswith("Duration")
                and src.text(i + 1) == "("
                and rel != "src/timing.rs"
                and (include_tests or not test)
            ):
                # A number written in the call is a wait chosen here; anything else converts one (a flag's
                # seconds, a constant's) and is told apart.
                literal = i + 2 < len(toks) and toks[i + 2].kind == "num"
                entry = {"at": f"{rel}:{t.line}", "call": f"{src.text(i - 2)}::{t.text}(", "literal": literal}
                (waits if t.text in WAITS else other_waits).append(entry)
    return {
        "mod_rs": [{"file": r, "test_only": crates.file_module[r].test} for r in by_name["mod.rs"]],
        "file_names": {
            name: rels
            for name, rels in sorted(by_name.items())
            if len(rels) > 1 and name not in ("mod.rs", "main.rs")
        },
        "fn_lock": locks,
        "clock": clocks,
        "waits": waits,
        "other_duration_constructors": other_waits,
    }


def _new_kind_touches(crates: Crates, kinds: list[tuple[str, str]], args: argparse.Namespace) -> list[dict]:
    threshold = args.kind_threshold or max(1, len(kinds) - 1)
    touch = []
    for rel, src in sorted(crates.sources.items()):
        if kind_of_file(rel, kinds)[0] is not None:
            continue
        if crates.file_module[rel].test and not args.include_tests:
            continue
        named: dict[str, str] = {}
        for i, t in enumerate(src.toks):
            if src.test[i] and not args.include_tests:
                continue
            for kind, snake in kinds:
                if kind in named:
                    continue
                typed = t.kind == "ident" and t.text in (kind, f"{kind}Status", f"{kind}Spec", f"{kind}Phase")
                module = t.text == snake and (src.text(i + 1) == "::" or src.text(i - 1) == "mod")
                if typed or module or (t.kind == "str" and t.text == f'"{kind}"'):
                    named[kind] = f"{t.text}@{t.line}"
        if len(named) >= threshold:
            touch.append({"file": rel, "kinds": len(named), "names": named})
    return sorted(touch, key=lambda t: (-t["kinds"], t["file"]))


def measure(root: Path, args: argparse.Namespace) -> dict:
    """Every figure, as one dictionary (what --json prints)."""
    crates = Crates(root, include_tests=args.include_tests)
    sources = crates.sources
    kinds = kinds_of(crates)
    prod_lines = {
        rel: src.code_lines(args.include_tests)
        if args.include_tests or not crates.file_module[rel].test
        else set()
        for rel, src in sources.items()
    }
    files = sorted(
        (
            {"file": rel, "production_lines": len(lines), "test_only": crates.file_module[rel].test}
            for rel, lines in prod_lines.items()
        ),
        key=lambda f: (-f["production_lines"], f["file"]),
    )
    functions = _functions(crates, prod_lines)
    deps, reexports, unresolved = crates.edges(args.reexport_edges)
    nodes = {m.file for m in crates.modules if args.include_tests or not m.test}
    circles = _circles(nodes, deps)
    # Arrows into the controller layer from outside it (the plugin, main.rs, run.rs, and any lower layer such
    # as metrics.rs that should not know it).
    into_controller = [
        {"from": a, "to": b, **v}
        for (a, b), v in sorted(deps.items())
        if b.startswith("src/controller/") and not a.startswith("src/controller/") and a in nodes
    ]
    into_kinds, faces = _kind_imports(crates, kinds)
    repeated = _repeated(crates, args.include_tests)
    touch = _new_kind_touches(crates, kinds, args)

    controller_fns = [
        f for f in functions if f["file"].startswith("src/controller/") and f["lines"] > args.max_fn_lines
    ]
    big_files = [f for f in files if f["production_lines"] > args.max_file_lines]
    mod_rs = repeated["mod_rs"]
    return {
        "root": str(root),
        "include_tests": args.include_tests,
        "summary": {
            "files": len(files),
            "production_lines": sum(f["production_lines"] for f in files),
            f"files_over_{args.max_file_lines}": len(big_files),
            f"controller_functions_over_{args.max_fn_lines}": len(controller_fns),
            "longest_function": functions[0] if functions else None,
            "circles": len(circles),
            "modules_in_circles": sum(len(c["modules"]) for c in circles),
            "files_outside_importing_the_controller": len({e["from"] for e in into_controller}),
            "imports_from_inside_a_kind": len(into_kinds),
            "files_importing_from_inside_a_kind": len({e["at"].rsplit(":", 1)[0] for e in into_kinds}),
            "mod_rs": len(mod_rs),
            "mod_rs_production": len([m for m in mod_rs if not m["test_only"]]),
            "fn_lock": len(repeated["fn_lock"]),
            "fn_lock_production": len([x for x in repeated["fn_lock"] if not x["test"]]),
            "clock_types": len([c for c in repeated["clock"] if c["what"] != "mod clock"]),
            "waits_outside_timing": len(repeated["waits"]),
            "waits_outside_timing_with_a_number": len([w for w in repeated["waits"] if w["literal"]]),
            "other_duration_constructors_outside_timing": len(repeated["other_duration_constructors"]),
            "files_naming_the_kinds": len(touch),
        },
        "kinds": [k for k, _ in kinds],
        "files": files,
        "files_over_limit": big_files,
        "functions": functions,
        "controller_functions_over_limit": controller_fns,
        "circles": circles,
        "into_controller": into_controller,
        "reexports": [{"from": a, "to": b, **v} for (a, b), v in sorted(reexports.items())],
        "imports_from_inside_a_kind": into_kinds,
        "imports_of_a_kind_face": faces,
        "repeated": repeated,
        "new_kind_touches": touch,
        "unresolved_paths": unresolved,
        "unmatched_brackets": {rel: src.unmatched for rel, src in sorted(sources.items()) if src.unmatched},
        "files_in_no_crate": crates.unreached,
    }


# ----------------------------------------------------------------------------------------------------------
# Output


def text_report(r: dict, args: argparse.Namespace) -> str:
    s = r["summary"]
    out = [f"floor plan of {r['root']}/src" + (" (tests included)" if r["include_tests"] else "")]
    out.append("")
    out.append("Summary")
    for k, v in s.items():
        if k == "longest_function" and v:
            v = f"{v['name']} ({v['file']}:{v['line']}) {v['lines']} ({v['span']} from `fn` to `}}`)"
        out.append(f"  {k}: {v}")

    out.append("")
    out.append(f"1. Files over {args.max_file_lines} production lines ({len(r['files_over_limit'])})")
    for f in r["files_over_limit"]:
        out.append(f"  {f['production_lines']:5d}  {f['file']}")
    if args.all_files:
        out.append("  every file:")
        for f in r["files"]:
            test_only = "  (test only)" if f["test_only"] else ""
            out.append(f"  {f['production_lines']:5d}  {f['file']}{test_only}")

    out.append("")
    out.append(f"2. Longest functions (top {args.top}): production lines (lines from `fn` to its `}}`)")
    for f in r["functions"][: args.top]:
        out.append(f"  {f['lines']:5d} ({f['span']:3d})  {f['name']}  {f['file']}:{f['line']}")
    over = r["controller_functions_over_limit"]
    out.append(f"   Functions in src/controller/ over {args.max_fn_lines} lines ({len(over)})")
    for f in over:
        out.append(f"  {f['lines']:5d} ({f['span']:3d})  {f['name']}  {f['file']}:{f['line']}")

    out.append("")
    out.append(f"3. Import circles ({len(r['circles'])})")
    for n, c in enumerate(r["circles"], 1):
        out.append(f"  circle {n}: " + " ".join(c["modules"]))
        for link in c["links"]:
            out.append(f"      {link['from']} -> {link['to']}   ({link['at']} {link['path']})")
    if args.verbose:
        out.append(f"   Re-exports left out ({len(r['reexports'])})")
        for e in r["reexports"]:
            out.append(f"      {e['from']} -> {e['to']}   ({e['at']} {e['path']})")
        out.append(f"   Paths resolved only in part ({len(r['unresolved_paths'])})")
        for u in r["unresolved_paths"]:
            out.append(f"      {u}")

    ic = r["into_controller"]
    out.append(f"   Files outside src/controller/ that import from it ({len({e['from'] for e in ic})})")
    by_from = defaultdict(list)
    for e in ic:
        by_from[e["from"]].append(e)
    for src_file, es in by_from.items():
        targets = ", ".join(e["to"].removeprefix("src/controller/") for e in es)
        out.append(f"      {src_file} -> {targets}   (e.g. {es[0]['at']} {es[0]['path']})")

    out.append("")
    into = r["imports_from_inside_a_kind"]
    out.append(
        f"4. Imports from inside a kind, from outside it ({len(into)} in "
        f"{s['files_importing_from_inside_a_kind']} files; kinds: {', '.join(r['kinds'])})"
    )
    for e in into:
        out.append(f"  {e['at']}  {e['path']}  -> {e['reaches']}")
    faces = r["imports_of_a_kind_face"]
    out.append(f"   Imports of a kind's face (its mod.rs), from outside it ({len(faces)})")
    for e in faces if args.verbose else faces[:0]:
        out.append(f"  {e['at']}  {e['path']}  -> {e['reaches']}")
    if faces and not args.verbose:
        out.append("   (listed with --verbose)")

    out.append("")
    rep = r["repeated"]
    out.append(f"5. Repeated names")
    out.append(
        f"  mod.rs: {len(rep['mod_rs'])} ({s['mod_rs_production']} in production): "
        + " ".join(m["file"] + ("(test)" if m["test_only"] else "") for m in rep["mod_rs"])
    )
    for name, rels in rep["file_names"].items():
        out.append(f"  {name} x{len(rels)}: {' '.join(rels)}")
    out.append(
        f"  fn lock<: {len(rep['fn_lock'])} ({s['fn_lock_production']} in production): "
        + " ".join(x["at"] + ("(test)" if x["test"] else "") for x in rep["fn_lock"])
    )
    clocks = (f"{c['what']} {c['at']}" + ("(test)" if c["test"] else "") for c in rep["clock"])
    out.append("  Clock: " + " ".join(clocks))
    out.append(f"  waits outside src/timing.rs ({len(rep['waits'])}):")
    for w in rep["waits"]:
        out.append(f"      {w['at']}  {w['call']}" + ("" if w["literal"] else "  (converts a value)"))
    others = rep["other_duration_constructors"]
    out.append(f"  other Duration constructors outside src/timing.rs ({len(others)}):")
    for w in others:
        out.append(f"      {w['at']}  {w['call']}")

    out.append("")
    touch = r["new_kind_touches"]
    out.append(f"6. Files outside the kinds naming most of them: what a new kind would touch ({len(touch)})")
    for t in touch:
        out.append(f"  {t['kinds']}  {t['file']}   " + ", ".join(f"{k}={v}" for k, v in t["names"].items()))

    if r["unmatched_brackets"]:
        out.append("")
        unmatched = json.dumps(r["unmatched_brackets"])
        out.append(f"Warning: brackets left unmatched (a literal misread?): {unmatched}")
    if r["files_in_no_crate"]:
        out.append("")
        out.append("Files under src/ in no crate: " + " ".join(r["files_in_no_crate"]))
    return "\n".join(out)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--top", type=int, default=25, help="how many of the longest functions")
    p.add_argument("--max-file-lines", type=int, default=600)
    p.add_argument("--max-fn-lines", type=int, default=80)
    p.add_argument("--kind-threshold", type=int, default=0, help="default: the number of kinds less one")
    p.add_argument("--include-tests", action="store_true", help="measure test code too")
    p.add_argument("--reexport-edges", action="store_true", help="count `pub use` re-exports in circles")
    p.add_argument("--all-files", action="store_true", help="list every file's production lines")
    p.add_argument("-v", "--verbose", action="store_true", help="re-exports, faces, unresolved paths")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    report = measure(args.root.resolve(), args)
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(text_report(report, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
