//! Database and table names as the engine resolves them: OceanBase's MySQL mode compares them without case
//! (`lower_case_table_names` 1, its default, or 2) or as written (0). A dump names what it read in the
//! engine's own spelling; a restore checks where every database of the dump lands before it writes anything.

use std::collections::BTreeMap;

use super::{LogicalError, is_system_database};

/// How the engine compares database and table names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameCase {
    /// `lower_case_table_names = 0`: as written.
    Sensitive,
    /// `lower_case_table_names` 1 or 2: without case.
    Insensitive,
}

impl NameCase {
    /// The rule of a `lower_case_table_names` value.
    pub fn from_setting(value: i64) -> Self {
        if value == 0 {
            NameCase::Sensitive
        } else {
            NameCase::Insensitive
        }
    }

    /// Whether the engine takes `a` and `b` for one name.
    pub fn same(self, a: &str, b: &str) -> bool {
        match self {
            NameCase::Sensitive => a == b,
            NameCase::Insensitive => a.to_lowercase() == b.to_lowercase(),
        }
    }

    /// The one of `existing` that `wanted` names, in its own spelling: the one spelled the same, else the
    /// only one the engine takes for it (`None`: none, or several that differ only in case).
    pub fn resolve<'a>(self, existing: &'a [String], wanted: &str) -> Option<&'a String> {
        if let Some(exact) = existing.iter().find(|e| *e == wanted) {
            return Some(exact);
        }
        let mut matches = existing.iter().filter(|e| self.same(e, wanted));
        match (matches.next(), matches.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    }
}

/// Where each database of a dump (`databases`, as the dump spells them) is restored: its name, or the one
/// `rename` gives it. Refused — before anything is written — when a key of `rename` names no database of the
/// dump (or names one another key names too), when a database would land on a system database, or when two
/// would land on one name (compared as the target engine compares them, `case`). The error names all of them.
pub fn restore_targets(
    databases: &[String],
    rename: &BTreeMap<String, String>,
    case: NameCase,
) -> Result<BTreeMap<String, String>, LogicalError> {
    let mut problems = Vec::new();
    let mut renamed: BTreeMap<String, String> = BTreeMap::new();
    let mut unknown = Vec::new();
    // Keys name the dump's databases as the dump's engine spelled them, or without case when one matches.
    for (key, to) in rename {
        match NameCase::Insensitive.resolve(databases, key) {
            None => unknown.push(key.as_str()),
            Some(database) => {
                if let Some(earlier) = renamed.insert(database.clone(), to.clone()) {
                    problems.push(format!(
                        "renameDatabases renames database {database} twice (to {earlier} and to {to})"
                    ));
                }
            }
        }
    }
    if !unknown.is_empty() {
        problems.push(format!(
            "renameDatabases names {}, which the dump does not hold (it holds {})",
            unknown.join(", "),
            databases.join(", ")
        ));
    }
    let targets: BTreeMap<String, String> = databases
        .iter()
        .map(|d| (d.clone(), renamed.get(d).unwrap_or(d).clone()))
        .collect();
    for (database, target) in &targets {
        if is_system_database(target) {
            problems.push(format!(
                "database {database} would be restored into the system database {target}"
            ));
        }
    }
    problems.extend(collisions(&targets, case));
    if problems.is_empty() {
        Ok(targets)
    } else {
        Err(LogicalError::Invalid(format!(
            "{}; fix target.logical.renameDatabases",
            problems.join("; ")
        )))
    }
}

/// The targets two or more databases would land on, each named with its sources.
fn collisions(targets: &BTreeMap<String, String>, case: NameCase) -> Vec<String> {
    let mut groups: Vec<(&String, Vec<&String>)> = Vec::new();
    for (database, target) in targets {
        match groups.iter_mut().find(|(t, _)| case.same(t, target)) {
            Some((_, sources)) => sources.push(database),
            None => groups.push((target, vec![database])),
        }
    }
    groups
        .into_iter()
        .filter(|(_, sources)| sources.len() > 1)
        .map(|(target, sources)| {
            let sources: Vec<&str> = sources.iter().map(|s| s.as_str()).collect();
            format!(
                "databases {} would all be restored into {target}",
                sources.join(" and ")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn rename(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn refusal(databases: &[&str], pairs: &[(&str, &str)], case: NameCase) -> String {
        match restore_targets(&names(databases), &rename(pairs), case) {
            Err(LogicalError::Invalid(message)) => message,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn names_resolve_as_the_engine_compares_them() {
        let existing = names(&["shop", "Crm", "crm"]);
        let insensitive = NameCase::from_setting(1);
        assert_eq!(insensitive.resolve(&existing, "SHOP"), Some(&existing[0]));
        // Spelled the same wins; two that differ only in case are ambiguous otherwise.
        assert_eq!(insensitive.resolve(&existing, "crm"), Some(&existing[2]));
        assert_eq!(insensitive.resolve(&existing, "CRM"), None);
        let sensitive = NameCase::from_setting(0);
        assert_eq!(sensitive.resolve(&existing, "SHOP"), None);
        assert_eq!(NameCase::from_setting(2), NameCase::Insensitive);
    }

    #[test]
    fn every_database_lands_on_its_own_name() {
        let targets = restore_targets(
            &names(&["shop", "crm", "logs"]),
            &rename(&[("SHOP", "crm"), ("crm", "shop")]),
            NameCase::Insensitive,
        )
        .expect("a swap is fine");
        assert_eq!(
            targets,
            rename(&[("shop", "crm"), ("crm", "shop"), ("logs", "logs")])
        );
    }

    #[test]
    fn system_targets_collisions_and_unknown_keys_are_refused_all_at_once() {
        let message = refusal(
            &["shop", "crm"],
            &[
                ("shop", "MySQL"),
                ("crm", "x"),
                ("nothere", "y"),
                ("gone", "z"),
            ],
            NameCase::Insensitive,
        );
        assert!(message.contains("system database MySQL"), "{message}");
        assert!(
            message
                .contains("names gone, nothere, which the dump does not hold (it holds shop, crm)"),
            "{message}"
        );
        // Onto a database the dump holds and keeps: the load would fail half-way.
        let message = refusal(&["shop", "crm"], &[("shop", "CRM")], NameCase::Insensitive);
        assert!(
            message.contains("databases crm and shop would all be restored into crm"),
            "{message}"
        );
        // Where the target engine compares as written, the two are different databases.
        restore_targets(
            &names(&["shop", "crm"]),
            &rename(&[("shop", "CRM")]),
            NameCase::Sensitive,
        )
        .expect("distinct on a case-sensitive engine");
        let message = refusal(
            &["shop"],
            &[("shop", "a"), ("SHOP", "b")],
            NameCase::Sensitive,
        );
        assert!(message.contains("renames database shop twice"), "{message}");
    }
}
