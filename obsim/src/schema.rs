//! The real column lists of the views obsim serves: `desc oceanbase.<VIEW>` as a real OceanBase
//! server prints it, in two schema versions, read from `obsim/schema/`. `oceanbase-views-desc.txt`
//! is a real server's output copied verbatim (schema "B", the newest seen; some views are described
//! in words: "identical to X", "X minus TENANT_ID", "first N columns identical to X", "then exactly
//! the N columns of X"); the older schema "A" is `oceanbase-views-desc-older.txt`, explicit lists
//! for the views where it differs (its header says how it was written from the first file's closing
//! prose).

use std::{collections::BTreeMap, sync::OnceLock};

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

/// Every simulated view and its columns, in order.
pub type Views = BTreeMap<String, Vec<ColumnDesc>>;

const NEWEST: &str = include_str!("../schema/oceanbase-views-desc.txt");
const OLDER: &str = include_str!("../schema/oceanbase-views-desc-older.txt");

/// The views of `schema`, read once. Views the file marks "not simulated" or "for reference" are left out.
/// An error means the embedded files do not read (a defect the tests catch).
pub fn views(schema: Schema) -> Result<&'static Views, String> {
    static NEWEST_VIEWS: OnceLock<Result<Views, String>> = OnceLock::new();
    static OLDER_VIEWS: OnceLock<Result<Views, String>> = OnceLock::new();
    let cell = match schema {
        Schema::Newest => &NEWEST_VIEWS,
        Schema::Older => &OLDER_VIEWS,
    };
    cell.get_or_init(|| read(schema))
        .as_ref()
        .map_err(Clone::clone)
}

/// How a view's columns are given in the file.
#[derive(Clone, Debug)]
enum Body {
    /// Listed, then optionally followed by every column of another view (with the stated count).
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

fn read(schema: Schema) -> Result<Views, String> {
    let mut bodies = parse(NEWEST, true)?;
    if schema == Schema::Older {
        for (name, body) in parse(OLDER, false)? {
            if !bodies.contains_key(&name) {
                return Err(format!(
                    "the older schema lists {name}, which the newest does not have"
                ));
            }
            bodies.insert(name, body);
        }
    }
    bodies
        .keys()
        .map(|name| Ok((name.clone(), resolve(&bodies, name, 0)?)))
        .collect()
}

fn resolve(
    bodies: &BTreeMap<String, Body>,
    name: &str,
    depth: usize,
) -> Result<Vec<ColumnDesc>, String> {
    if depth > 8 {
        return Err(format!("{name}: the file's references go round in circles"));
    }
    let of = |other: &str| resolve(bodies, other, depth + 1);
    let counted = |columns: Vec<ColumnDesc>, count: usize| {
        if columns.len() == count {
            Ok(columns)
        } else {
            Err(format!(
                "{name}: the file says {count} columns, it lists {}",
                columns.len()
            ))
        }
    };
    match bodies
        .get(name)
        .ok_or_else(|| format!("{name} is referred to but not described"))?
    {
        Body::Listed {
            columns,
            then_all_of,
        } => {
            let mut all = columns.clone();
            if let Some((other, count)) = then_all_of {
                all.extend(counted(of(other)?, *count)?);
            }
            Ok(all)
        }
        Body::Same(other, count) => counted(of(other)?, *count),
        Body::WithoutTenantId(other, count) => {
            let columns = of(other)?;
            if columns.first().map(|c| c.name.as_str()) != Some("TENANT_ID") {
                return Err(format!("{name}: {other} does not begin with TENANT_ID"));
            }
            let rest = columns[1..].to_vec();
            match count {
                Some(count) => counted(rest, *count),
                None => Ok(rest),
            }
        }
        Body::First(count, other) => {
            let columns = of(other)?;
            columns
                .get(..*count)
                .map(<[ColumnDesc]>::to_vec)
                .ok_or_else(|| format!("{name}: {other} has fewer than {count} columns"))
        }
    }
}

/// A block being read: its names, its listed columns, its prose.
type Block = (Vec<String>, Vec<ColumnDesc>, Vec<String>);

/// The file's blocks up to the second version's banner. `described` allows the worded forms.
fn parse(text: &str, described: bool) -> Result<BTreeMap<String, Body>, String> {
    let mut bodies = BTreeMap::new();
    let mut current: Option<Block> = None;
    let mut finish = |block: Option<Block>| -> Result<(), String> {
        if let Some((names, columns, prose)) = block {
            let body = body_of(&names, columns, &prose.join(" "))?;
            for name in names {
                bodies.insert(name, body.clone());
            }
        }
        Ok(())
    };
    for line in text.lines() {
        if line.starts_with("######") {
            // The second version's banner: what follows is prose, translated into the older file.
            break;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some(header) = line.strip_prefix("== ") {
            finish(current.take())?;
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
                    other => return Err(format!("{name}: nullable is {other}")),
                },
            });
        } else if line.starts_with("NOTE:") || (line.starts_with(' ') && prose.is_empty()) {
            // A note on the types, not a column list.
        } else if described {
            prose.push(line.trim().to_string());
        } else {
            return Err(format!(
                "the older schema file is explicit lists only: {line}"
            ));
        }
    }
    finish(current.take())?;
    Ok(bodies)
}

fn body_of(names: &[String], columns: Vec<ColumnDesc>, prose: &str) -> Result<Body, String> {
    let word_after = |marker: &str| -> Option<String> {
        let rest = prose.split(marker).nth(1)?;
        let word = rest
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()?;
        Some(word.to_string())
    };
    let number_before = |marker: &str| -> Option<usize> {
        let head = prose.split(marker).next()?;
        head.split_whitespace().last()?.parse().ok()
    };
    let unknown = || format!("{names:?}: wording the reader does not know: {prose}");
    if prose.is_empty() {
        return Ok(Body::Listed {
            columns,
            then_all_of: None,
        });
    }
    if prose.starts_with("(then exactly the") {
        let other = word_after(" columns of ").ok_or_else(unknown)?;
        let count = number_before(" columns of ").ok_or_else(unknown)?;
        return Ok(Body::Listed {
            columns,
            then_all_of: Some((other, count)),
        });
    }
    if !columns.is_empty() {
        return Err(format!("{names:?}: columns and words together"));
    }
    if prose.starts_with("(first ") {
        let other = word_after(" identical to ").ok_or_else(unknown)?;
        let count = number_before(" columns identical").ok_or_else(unknown)?;
        return Ok(Body::First(count, other));
    }
    if prose.contains("minus") && prose.contains("TENANT_ID") {
        let other = word_after("identical to ")
            .or_else(|| {
                let first = prose.trim_start_matches('(').split_whitespace().next()?;
                Some(first.to_string())
            })
            .ok_or_else(unknown)?;
        return Ok(Body::WithoutTenantId(other, number_before(" columns")));
    }
    if prose.starts_with("(identical to ") {
        let other = word_after("identical to ").ok_or_else(unknown)?;
        let count = number_before(" columns").ok_or_else(unknown)?;
        return Ok(Body::Same(other, count));
    }
    Err(unknown())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(text: &str) -> Result<Views, String> {
        let bodies = parse(text, true)?;
        bodies
            .keys()
            .map(|name| Ok((name.clone(), resolve(&bodies, name, 0)?)))
            .collect()
    }

    #[test]
    fn worded_forms_expand_and_wrong_counts_or_unknown_words_are_errors() {
        let base = "== CDB_X\nTENANT_ID\tbigint(20)\tNO\nA\tvarchar(8)\tYES\n\n";
        let views = resolved(&format!(
            "{base}== DBA_X / DBA_X_HISTORY\n(CDB_X minus TENANT_ID; same 1 columns/types)\n"
        ))
        .expect("reads");
        assert_eq!(views["DBA_X_HISTORY"].len(), 1);
        assert!(views["DBA_X"][0].nullable);
        let wrong = resolved(&format!(
            "{base}== Y\n(identical to CDB_X: same 3 columns, same types)\n"
        ));
        assert!(wrong.is_err_and(|e| e.contains("says 3 columns")));
        let unknown = resolved(&format!("{base}== Z\n(like CDB_X, roughly)\n"));
        assert!(unknown.is_err_and(|e| e.contains("does not know")));
        let missing = resolved("== W\n(identical to NOWHERE: same 1 columns)\n");
        assert!(missing.is_err_and(|e| e.contains("not described")));
    }
}
