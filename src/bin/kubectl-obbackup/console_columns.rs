//! The test that keeps docs/reference/console-columns.md true: every column it names for `kubectl get` is a
//! printer column of that kind's CRD, and every column it names for the plugin is a header of that tab.

use ob_backup_operator::api::{BackupTask, CleanupTask, LogBackup, RecoveryTask};

use crate::tasks::TaskTab;

const PAGE: &str = include_str!("../../../docs/reference/console-columns.md");

/// Each section of the page: its heading, its kind's CRD and the plugin's headers for it.
fn sections() -> [(&'static str, &'static str, &'static [&'static str]); 7] {
    [
        (
            "## Data backup tasks",
            include_str!("../../../crds/backuptask.yaml"),
            BackupTask::HEADERS,
        ),
        (
            "## Log backup",
            include_str!("../../../crds/logbackup.yaml"),
            LogBackup::HEADERS,
        ),
        (
            "## Cleanup tasks",
            include_str!("../../../crds/cleanuptask.yaml"),
            CleanupTask::HEADERS,
        ),
        (
            "## Recovery tasks",
            include_str!("../../../crds/recoverytask.yaml"),
            RecoveryTask::HEADERS,
        ),
        (
            "## Second data backup",
            include_str!("../../../crds/backuptask.yaml"),
            crate::second_tabs::SECOND_DATA_HEADERS,
        ),
        (
            "## Second log backup",
            include_str!("../../../crds/logbackup.yaml"),
            crate::second_tabs::SECOND_LOG_HEADERS,
        ),
        (
            "## Strategy overview",
            include_str!("../../../crds/backupstrategy.yaml"),
            crate::status::STRATEGY_HEADERS,
        ),
    ]
}

/// The printer columns of a CRD, by name.
fn printer_columns(crd: &str) -> Vec<String> {
    let crd: serde_json::Value = serde_norway::from_str(crd).expect("a CRD");
    crd["spec"]["versions"][0]["additionalPrinterColumns"]
        .as_array()
        .expect("printer columns")
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

/// The first `code` span of a table cell, or `None` for `—`.
fn named(cell: &str) -> Option<String> {
    let cell = cell.trim();
    if cell == "—" {
        return None;
    }
    let (_, rest) = cell.split_once('`').expect("a column in backquotes, or —");
    let (name, _) = rest.split_once('`').expect("a closing backquote");
    Some(name.to_string())
}

/// The rows of the table under `heading`: console column, `kubectl get` column, plugin column.
fn rows(heading: &str) -> Vec<(String, Option<String>, Option<String>)> {
    let start = PAGE.find(heading).expect("the section");
    let section = &PAGE[start..];
    let section = section[heading.len()..]
        .split("\n## ")
        .next()
        .unwrap_or_default();
    section
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("| console") && !l.starts_with("| ---"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').collect();
            assert_eq!(cells.len(), 3, "three cells: {line}");
            (
                cells[0].trim().to_string(),
                named(cells[1]),
                named(cells[2]),
            )
        })
        .collect()
}

#[test]
fn every_console_column_the_page_names_is_where_it_says() {
    let mut checked = 0;
    for (heading, crd, headers) in sections() {
        let columns = printer_columns(crd);
        let table = rows(heading);
        assert!(!table.is_empty(), "{heading} has a table");
        for (console, kubectl, plugin) in table {
            if let Some(kubectl) = &kubectl {
                assert!(
                    columns.contains(kubectl),
                    "{heading}: {console} is said to be kubectl get's {kubectl}, which is not among {columns:?}"
                );
                checked += 1;
            }
            if let Some(plugin) = &plugin {
                assert!(
                    headers.contains(&plugin.as_str()),
                    "{heading}: {console} is said to be the plugin's {plugin}, which is not among {headers:?}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 60, "only {checked} columns checked");
}
