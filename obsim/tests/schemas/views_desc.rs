//! The real `desc oceanbase.<VIEW>` output of the views obsim serves, read from `tests/data/`: the
//! reference's file copied verbatim (schema "B", the newest seen, with a few views described in words: "identical
//! to X", "X minus TENANT_ID", "first N columns identical to X") and the older schema "A" as explicit lists for
//! the views where it differs (written from that file's closing prose; its header says how).

use std::collections::BTreeMap;

/// One column as `desc` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnDesc {
    pub name: String,
    /// The MySQL type as `desc` prints it, e.g. `bigint(20) unsigned`, `timestamp(6)`, `decimal(23,2)`.
    pub ty: String,
    pub nullable: bool,
}

/// Which of the two schema versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    /// "A" (commit 1af450cb): the older 4.x schema.
    Older,
    /// "B" (commit 0118e1c2): the newest schema seen.
    Newest,
}

const NEWEST: &str = include_str!("../data/oceanbase-views-desc.txt");
const OLDER: &str = include_str!("../data/oceanbase-views-desc-older.txt");

/// How a view's columns are given in the file.
#[derive(Clone, Debug)]
enum Body {
    /// Listed, then optionally followed by every column of another view.
    Listed {
        columns: Vec<ColumnDesc>,
        then_all_of: Option<(String, usize)>,
    },
    /// The same as another view, with the stated count.
    Same(String, usize),
    /// Another view without its leading `TENANT_ID`, with the count when stated.
    WithoutTenantId(String, Option<usize>),
    /// Another view's first `n` columns.
    First(usize, String),
}

/// Every simulated view of `schema` and its columns, in order. Views the file marks "not simulated" or "for
/// reference" are left out.
pub fn views(schema: Schema) -> BTreeMap<String, Vec<ColumnDesc>> {
    let mut bodies = parse(NEWEST, true);
    if schema == Schema::Older {
        for (name, body) in parse(OLDER, false) {
            assert!(
                bodies.contains_key(&name),
                "the older schema lists {name}, which the newest does not have"
            );
            bodies.insert(name, body);
        }
    }
    bodies
        .keys()
        .map(|name| (name.clone(), resolve(&bodies, name, 0)))
        .collect()
}

fn resolve(bodies: &BTreeMap<String, Body>, name: &str, depth: usize) -> Vec<ColumnDesc> {
    assert!(
        depth < 8,
        "{name}: the file's references go round in circles"
    );
    let of = |other: &str| resolve(bodies, other, depth + 1);
    match bodies
        .get(name)
        .unwrap_or_else(|| panic!("{name} is referred to but not described"))
    {
        Body::Listed {
            columns,
            then_all_of,
        } => {
            let mut all = columns.clone();
            if let Some((other, count)) = then_all_of {
                let rest = of(other);
                assert_eq!(
                    rest.len(),
                    *count,
                    "{name}: the file says {count} columns of {other}"
                );
                all.extend(rest);
            }
            all
        }
        Body::Same(other, count) => {
            let columns = of(other);
            assert_eq!(
                columns.len(),
                *count,
                "{name}: the file says {count} columns"
            );
            columns
        }
        Body::WithoutTenantId(other, count) => {
            let columns = of(other);
            assert_eq!(
                columns.first().map(|c| c.name.as_str()),
                Some("TENANT_ID"),
                "{other}"
            );
            if let Some(count) = count {
                assert_eq!(
                    columns.len() - 1,
                    *count,
                    "{name}: the file says {count} columns"
                );
            }
            columns[1..].to_vec()
        }
        Body::First(count, other) => of(other)[..*count].to_vec(),
    }
}

/// The file's blocks up to the second version's banner. `described` allows the prose forms.
fn parse(text: &str, described: bool) -> BTreeMap<String, Body> {
    let mut bodies = BTreeMap::new();
    let mut current: Option<(Vec<String>, Vec<ColumnDesc>, Vec<String>)> = None;
    let mut finish = |block: Option<(Vec<String>, Vec<ColumnDesc>, Vec<String>)>| {
        if let Some((names, columns, prose)) = block {
            let body = body_of(&names, columns, &prose.join(" "));
            for name in names {
                bodies.insert(name, body.clone());
            }
        }
    };
    for line in text.lines() {
        if line.starts_with("######") {
            // The second version's banner: what follows it is prose, translated into the older file.
            break;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some(header) = line.strip_prefix("== ") {
            finish(current.take());
            let simulated = !header.contains("not simulated")
                && !header.contains("for reference")
                && !header.starts_with("Not present");
            let names = header.split('(').next().unwrap_or_default();
            current = simulated.then(|| {
                let names = names.split(" / ").map(|n| n.trim().to_string()).collect();
                (names, Vec::new(), Vec::new())
            });
            continue;
        }
        let Some((_, columns, prose)) = current.as_mut() else {
            continue;
        };
        let fields: Vec<&str> = line.split('\t').collect();
        if let [name, ty, nullable] = fields[..] {
            columns.push(ColumnDesc {
                name: name.trim().to_string(),
                ty: ty.trim().to_string(),
                nullable: match nullable.trim() {
                    "YES" => true,
                    "NO" => false,
                    other => panic!("{name}: nullable is {other}"),
                },
            });
        } else if line.starts_with("NOTE:") || (line.starts_with(' ') && prose.is_empty()) {
            // A note on the types, not a column list.
        } else {
            assert!(
                described,
                "the older schema file is explicit lists only: {line}"
            );
            prose.push(line.trim().to_string());
        }
    }
    finish(current.take());
    bodies
}

fn body_of(names: &[String], columns: Vec<ColumnDesc>, prose: &str) -> Body {
    let word_after = |marker: &str| -> Option<String> {
        let rest = prose.split(marker).nth(1)?;
        Some(
            rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()?
                .to_string(),
        )
    };
    let number_before = |marker: &str| -> Option<usize> {
        let head = prose.split(marker).next()?;
        head.split_whitespace().last()?.parse().ok()
    };
    if prose.is_empty() {
        return Body::Listed {
            columns,
            then_all_of: None,
        };
    }
    if prose.starts_with("(then exactly the") {
        let other = word_after(" columns of ").expect("then exactly … of X");
        let count = number_before(" columns of ").expect("then exactly N");
        return Body::Listed {
            columns,
            then_all_of: Some((other, count)),
        };
    }
    assert!(columns.is_empty(), "{names:?}: columns and prose together");
    if prose.starts_with("(first ") {
        let other = word_after(" identical to ").expect("first N … identical to X");
        let count = number_before(" columns identical").expect("first N");
        return Body::First(count, other);
    }
    if prose.contains("minus") && prose.contains("TENANT_ID") {
        let other = word_after("identical to ").unwrap_or_else(|| {
            prose
                .trim_start_matches('(')
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        });
        return Body::WithoutTenantId(other, number_before(" columns"));
    }
    if prose.starts_with("(identical to ") {
        let other = word_after("identical to ").expect("identical to X");
        let count = number_before(" columns").expect("same N columns");
        return Body::Same(other, count);
    }
    panic!("{names:?}: prose the parser does not know: {prose}");
}
