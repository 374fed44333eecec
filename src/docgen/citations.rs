//! Every citation of a document names something in this repository: a `….md` path (from the
//! repository root or, in a page, from the page's folder) exists, and a section cited after it
//! (`§4.6`, `§1–§8`) is a heading of that page; a bare section number in a source file is a heading
//! of the one page that file cites (a file citing none or several must name the page); a page's links,
//! snippets and backquoted repository paths exist; and nothing cites a document kept outside the
//! repository.

use std::{
    collections::{BTreeSet, HashMap},
    fs,
    path::{Path, PathBuf},
};

use super::{files_below, repo_root};

/// The OceanBase interface page, which the scan must reach.
const INTERFACE: &str = "docs/reference/oceanbase-interface.md";

/// Where citations are looked for, from the repository root.
const SCANNED: [&str; 15] = [
    "README.md",
    "Cargo.toml",
    "mkdocs.yml",
    "Dockerfile",
    ".ci",
    "src",
    "obsim",
    "tests",
    "benches",
    "scripts",
    "charts",
    "tools",
    "deploy",
    "examples",
    "docs",
];

/// Citations of documents kept outside the repository (compared without case): a reader of the code
/// or the pages cannot follow them. The section forms are spelt in two parts so that this list is not
/// itself such a citation to a search of the sources.
const OUTSIDE: [&str; 10] = [
    concat!("spec ", "§"),
    "spec.md",
    concat!("reference ", "§"),
    concat!("reference's ", "§"),
    "seeds/",
    "../shared",
    "/work/shared",
    "style.md",
    "floor-plan.md",
    "middle-layer.md",
];

/// The folders a backquoted repository path in a page starts with.
const TOP_DIRS: [&str; 12] = [
    "src/",
    "tests/",
    "obsim/",
    "scripts/",
    "charts/",
    "deploy/",
    "examples/",
    "tools/",
    "benches/",
    "crds/",
    "docs/",
    ".ci/",
];

/// Whether a file is text this check reads.
fn scanned(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_string())
        .unwrap_or_default();
    name != "Cargo.lock"
        && name != "go.sum"
        && (extension.is_empty()
            || [
                "rs", "md", "sh", "yaml", "yml", "toml", "tpl", "txt", "lua", "py", "go", "mod",
                "tmpl", "json",
            ]
            .contains(&extension.as_str()))
}

/// Every scanned file, as (path from the repository root, text).
fn sources() -> Vec<(String, String)> {
    let root = repo_root();
    let mut files = Vec::new();
    for entry in SCANNED {
        let path = root.join(entry);
        if path.is_dir() {
            files.extend(files_below(&path));
        } else if path.is_file() {
            files.push(path);
        }
    }
    files
        .into_iter()
        .filter(|p| scanned(p))
        .filter_map(|path| {
            let text = fs::read_to_string(&path).ok()?;
            let relative = path.strip_prefix(&root).ok()?.to_string_lossy().to_string();
            Some((relative, text))
        })
        .collect()
}

/// What is wrong with the citations of one file (`file` from the repository root), as `file:line:
/// …`.
struct Checker {
    root: PathBuf,
    headings: HashMap<PathBuf, BTreeSet<String>>,
}

impl Checker {
    fn new(root: PathBuf) -> Self {
        Self {
            root,
            headings: HashMap::new(),
        }
    }

    /// The `§N` numbers of the headings of the page at `path`.
    fn headings(&mut self, path: &Path) -> &BTreeSet<String> {
        self.headings.entry(path.to_path_buf()).or_insert_with(|| {
            fs::read_to_string(path)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.starts_with('#'))
                .flat_map(|l| section_numbers(l).into_iter().map(|(_, n)| n))
                .collect()
        })
    }

    /// The cited document, from the repository root or from the citing file's folder (for
    /// `mkdocs.yml`, its `docs_dir`).
    fn resolve(&self, file: &str, cited: &str) -> Option<PathBuf> {
        let cited = cited.trim_start_matches('/');
        let folder = match file {
            "mkdocs.yml" => self.root.join("docs"),
            _ => {
                let path = self.root.join(file);
                path.parent().unwrap_or(&self.root).to_path_buf()
            }
        };
        [self.root.join(cited), folder.join(cited)]
            .into_iter()
            .find(|p| p.exists())
    }

    fn check(&mut self, file: &str, text: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let markdown = file.ends_with(".md");
        let anchor = self.anchor(file, text);
        let mut fenced = false;
        for (index, line) in text.lines().enumerate() {
            let at = format!("{file}:{}", index + 1);
            let lower = line.to_lowercase();
            for outside in OUTSIDE {
                if lower.contains(outside) {
                    problems.push(format!(
                        "{at}: cites `{outside}`, a document outside the repository; write what the code relies \
                         on into docs/ and cite that"
                    ));
                }
            }
            let mut masked = line.to_string();
            for (start, end) in md_tokens(line) {
                let cited = &line[start..end];
                let Some(target) = self.resolve(file, cited) else {
                    problems.push(format!("{at}: cites {cited}, which does not exist"));
                    continue;
                };
                let (sections, consumed) = section_chain(&line[end..]);
                masked.replace_range(end..end + consumed, &" ".repeat(consumed));
                let headings = self.headings(&target);
                for section in sections {
                    if !headings.contains(&section) {
                        problems.push(format!(
                            "{at}: cites {cited} §{section}, which is not a heading of that page"
                        ));
                    }
                }
            }
            if !markdown {
                problems.extend(self.bare_sections(&at, &masked, anchor.as_deref()));
            }
            if markdown {
                if line.trim_start().starts_with("```") {
                    fenced = !fenced;
                    continue;
                }
                if let Some(snippet) = line.trim().strip_prefix("--8<-- ") {
                    let snippet = snippet.trim().trim_matches('"');
                    if !self.root.join(snippet).exists() {
                        problems.push(format!("{at}: includes {snippet}, which does not exist"));
                    }
                }
                if fenced {
                    continue;
                }
                for target in link_targets(&without_code(line)) {
                    if self.resolve_link(file, &target).is_none() {
                        problems.push(format!("{at}: links to {target}, which does not exist"));
                    }
                }
                for path in repository_paths(line) {
                    if !self.root.join(&path).exists() {
                        problems.push(format!("{at}: names `{path}`, which does not exist"));
                    }
                }
            }
        }
        problems
    }

    /// The one page of `docs/` a source file cites, which its bare `§N` numbers are sections of; `None`
    /// when it cites none or several.
    fn anchor(&self, file: &str, text: &str) -> Option<String> {
        let mut pages = BTreeSet::new();
        for line in text.lines() {
            for (start, end) in md_tokens(line) {
                let cited = &line[start..end];
                if cited.starts_with("docs/") && self.resolve(file, cited).is_some() {
                    pages.insert(cited.to_string());
                }
            }
        }
        (pages.len() == 1)
            .then(|| pages.into_iter().next())
            .flatten()
    }

    /// The problems of the bare `§N` numbers of a source line (`masked`: its `docs/….md §N` citations
    /// blanked): each must be a heading of the file's one cited page, `anchor`.
    fn bare_sections(&mut self, at: &str, masked: &str, anchor: Option<&str>) -> Vec<String> {
        let sections = section_numbers(masked);
        let Some(page) = anchor else {
            return sections
                .into_iter()
                .map(|(_, section)| {
                    format!(
                        "{at}: cites §{section} without saying of which page: write docs/<page>.md §{section} \
                         (a bare § is read as a section of the one page a file cites)"
                    )
                })
                .collect();
        };
        let headings = self.headings(&self.root.join(page)).clone();
        sections
            .into_iter()
            .filter(|(_, section)| !headings.contains(section))
            .map(|(_, section)| format!("{at}: cites §{section}, which is not a heading of {page}"))
            .collect()
    }

    /// A link's target file, relative to the page.
    fn resolve_link(&self, file: &str, target: &str) -> Option<PathBuf> {
        let path = target.split('#').next().unwrap_or_default();
        if path.is_empty() {
            return Some(self.root.join(file));
        }
        let page = self.root.join(file);
        let folder = page.parent().unwrap_or(&self.root);
        let resolved = folder.join(path);
        resolved.exists().then_some(resolved)
    }
}

/// The byte ranges of the `….md` paths of a line (URLs and patterns such as `*.md` left out).
fn md_tokens(line: &str) -> Vec<(usize, usize)> {
    let bytes = line.as_bytes();
    let path_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-');
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = line[from..].find(".md") {
        let dot = from + offset;
        let end = dot + 3;
        from = end;
        if bytes
            .get(end)
            .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_')
        {
            continue;
        }
        let mut start = dot;
        while start > 0 && path_byte(bytes[start - 1]) {
            start -= 1;
        }
        let token = &line[start..end];
        let url = start > 0 && bytes[start - 1] == b':' || token.starts_with("//");
        if token.len() > 3 && !token.starts_with(".md") && !url {
            found.push((start, end));
        }
    }
    found
}

/// The sections a citation names right after its path (`§2.2, §2.5`, `§1–§8`, `§5.1–5.2`, `§6 and
/// §10`), and how many bytes of `rest` they take.
fn section_chain(rest: &str) -> (Vec<String>, usize) {
    let mut sections = Vec::new();
    let mut taken = 0;
    let mut first = true;
    loop {
        let tail = &rest[taken..];
        let mut cursor = tail.len() - tail.trim_start().len();
        let mut needs_mark = true;
        if !first {
            let after = &tail[cursor..];
            let separator = [",", "and", "–", "-", "/"]
                .into_iter()
                .find(|s| after.starts_with(s));
            let Some(separator) = separator else {
                break;
            };
            needs_mark = !matches!(separator, "–" | "-");
            cursor += separator.len();
            cursor += tail[cursor..].len() - tail[cursor..].trim_start().len();
            if let Some(and) = tail[cursor..].strip_prefix("and ") {
                cursor = tail.len() - and.len();
            }
        }
        let mut number_at = cursor;
        if tail[cursor..].starts_with('§') {
            number_at += '§'.len_utf8();
        } else if needs_mark {
            break;
        }
        let number = leading_number(&tail[number_at..]);
        if number.is_empty() {
            break;
        }
        taken += number_at + number.len();
        sections.push(number);
        first = false;
    }
    (sections, taken)
}

/// The `§N` numbers of a line, with their byte offsets.
fn section_numbers(line: &str) -> Vec<(usize, String)> {
    line.match_indices('§')
        .filter_map(|(at, mark)| {
            let number = leading_number(&line[at + mark.len()..]);
            (!number.is_empty()).then_some((at, number))
        })
        .collect()
}

/// `4.6` of `4.6: …`, `8` of `8.` (a sentence's full stop is not part of the number).
fn leading_number(text: &str) -> String {
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            number.push(c);
            chars.next();
        } else if c == '.' && !number.is_empty() {
            chars.next();
            match chars.peek() {
                Some(d) if d.is_ascii_digit() => number.push('.'),
                _ => break,
            }
        } else {
            break;
        }
    }
    number
}

/// The targets of a page line's markdown links to files (web addresses and in-page anchors left
/// out).
fn link_targets(line: &str) -> Vec<String> {
    line.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &line[at + 2..];
            let target = rest.split(')').next()?.split_whitespace().next()?;
            let external = ["http://", "https://", "mailto:", "#"]
                .iter()
                .any(|p| target.starts_with(p));
            (!external && !target.is_empty()).then(|| target.to_string())
        })
        .collect()
}

/// The line with its code spans blanked out (a code span is never a link).
fn without_code(line: &str) -> String {
    line.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                " ".repeat(part.len())
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The repository paths a page line names in backquotes (`tests/e2e/gitops.rs`), without patterns
/// and placeholders.
fn repository_paths(line: &str) -> Vec<String> {
    line.split('`')
        .skip(1)
        .step_by(2)
        .map(str::trim)
        .filter(|code| TOP_DIRS.iter().any(|d| code.starts_with(d)))
        .filter(|code| {
            !code.contains(|c: char| {
                c.is_whitespace()
                    || matches!(c, '*' | '<' | '>' | '{' | '…' | '$' | '|' | '=' | '#')
            })
        })
        .map(|code| {
            // `scripts/demo.sh:12` names a line of the file.
            let code = match code.rsplit_once(':') {
                Some((path, line)) if line.chars().all(|c| c.is_ascii_digit()) => path,
                _ => code,
            };
            code.trim_end_matches('/').to_string()
        })
        .collect()
}

mod tests {
    use super::*;

    #[test]
    fn every_cited_document_and_section_exists_in_the_repository() {
        let mut checker = Checker::new(repo_root());
        let sources = sources();
        assert!(
            sources.iter().any(|(f, _)| f == INTERFACE),
            "the scan reads docs/"
        );
        let problems: Vec<String> = sources
            .iter()
            // This file names the outside documents it refuses.
            .filter(|(file, _)| file != "src/docgen/citations.rs")
            .flat_map(|(file, text)| checker.check(file, text))
            .collect();
        assert!(
            problems.is_empty(),
            "broken or outside citations:\n{}",
            problems.join("\n")
        );
    }

    fn problems(file: &str, text: &str) -> Vec<String> {
        Checker::new(repo_root()).check(file, text)
    }

    #[test]
    fn a_bare_section_is_one_of_the_one_page_its_file_cites() {
        let interface = "//! (docs/reference/oceanbase-interface.md)\n";
        assert_eq!(
            problems("src/x.rs", &format!("{interface}// (§4.1)\n")).len(),
            0
        );
        assert_eq!(
            problems("src/x.rs", &format!("{interface}// (§99)\n")),
            [
                "src/x.rs:2: cites §99, which is not a heading of docs/reference/oceanbase-interface.md"
            ]
        );
        assert_eq!(
            problems("src/x.rs", "// as §4.1 says\n").len(),
            1,
            "no page"
        );
        let two = format!("{interface}// docs/contributing/design.md\n// (§4.1)\n");
        assert_eq!(problems("src/x.rs", &two).len(), 1, "two pages");
    }

    #[test]
    fn a_missing_page_a_missing_section_and_an_outside_document_are_refused() {
        let missing = problems("src/x.rs", "// see docs/nowhere.md\n");
        assert_eq!(
            missing,
            ["src/x.rs:1: cites docs/nowhere.md, which does not exist"]
        );
        let section = problems(
            "src/x.rs",
            "// (docs/reference/oceanbase-interface.md §4.6, §99.1)\n",
        );
        assert_eq!(
            section,
            [
                "src/x.rs:1: cites docs/reference/oceanbase-interface.md §99.1, which is not a heading of that page"
            ]
        );
        assert_eq!(
            problems(
                "obsim/src/x.rs",
                "//! docs/reference/oceanbase-interface.md\n/// as §4.6 says\n"
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            problems(
                "obsim/src/x.rs",
                "//! docs/reference/oceanbase-interface.md\n/// as §98 says\n"
            )
            .len(),
            1
        );
        for outside in [
            concat!("// SPEC ", "§3 says so\n"),
            concat!("// the reference ", "§6.4\n"),
        ] {
            let found = problems("src/x.rs", outside);
            // Refused as an outside document, and its bare § as naming no page of ours.
            assert_eq!(found.len(), 2, "{found:?}");
            assert!(found[0].contains("outside the repository"), "{found:?}");
            assert!(
                found[1].contains("without saying of which page"),
                "{found:?}"
            );
        }
        assert_eq!(problems("src/x.rs", "// ../shared/seeds/1.txt\n").len(), 2);
    }

    #[test]
    fn a_page_checks_its_links_snippets_and_paths_but_not_its_code_blocks() {
        assert_eq!(
            problems(
                "docs/guide/x.md",
                "[a](plugin.md) [b](../nowhere.md#top) [c](https://x.io/a.md)\n"
            )
            .len(),
            2,
            "a missing link target is refused twice: as a link and as a cited page"
        );
        assert_eq!(
            problems("docs/x.md", "`tests/e2e/gitops.rs` and `src/nothing.rs`\n").len(),
            1
        );
        assert_eq!(
            problems(
                "docs/x.md",
                "`src/controller/*/decide.rs`, `scripts/demo.sh:12`\n"
            )
            .len(),
            0
        );
        assert_eq!(
            problems("docs/x.md", "```\n`src/nothing.rs`\n```\n").len(),
            0
        );
        assert_eq!(
            problems("docs/x.md", "--8<-- \"examples/none.yaml\"\n").len(),
            1
        );
        assert_eq!(
            problems("docs/x.md", "a pattern `^[a-z]([-a-z]*)?$`\n").len(),
            0
        );
        assert_eq!(problems("mkdocs.yml", "  - Home: index.md\n").len(), 0);
    }

    #[test]
    fn a_section_chain_reads_lists_and_ranges() {
        assert_eq!(
            section_chain(" §2.2, §2.5 and more"),
            (vec!["2.2".into(), "2.5".into()], 13)
        );
        assert_eq!(section_chain(" §1–§8."), (vec!["1".into(), "8".into()], 10));
        assert_eq!(
            section_chain(" §5.1–5.2"),
            (vec!["5.1".into(), "5.2".into()], 12)
        );
        assert_eq!(section_chain(" §6 and §10)").0, ["6", "10"]);
        assert_eq!(section_chain(", docs/x.md §3").0, Vec::<String>::new());
        assert_eq!(leading_number("8. Next"), "8");
    }
}
