//! How the plugin prints: tables aligned the way kubectl aligns them (elastic tabstops, as Go's
//! `text/tabwriter` that kubectl uses), statuses coloured only on a terminal, every time shown as a time in
//! UTC or the local zone, and objects as JSON or YAML for scripts.

use std::io::Write;

use jiff::{Timestamp, tz::TimeZone};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::Serialize;

/// How times are shown.
#[derive(Clone, Debug)]
pub struct TimeFormat {
    pub zone: TimeZone,
}

impl TimeFormat {
    pub fn new(utc: bool) -> Self {
        Self {
            zone: if utc {
                TimeZone::UTC
            } else {
                TimeZone::system()
            },
        }
    }

    /// `2026-11-24 19:28:14 UTC` (or the local zone's abbreviation); `-` for no time.
    pub fn show(&self, time: Option<&Time>) -> String {
        time.map_or_else(|| "-".to_string(), |t| self.at(t.0))
    }

    pub fn at(&self, at: Timestamp) -> String {
        at.to_zoned(self.zone.clone())
            .strftime("%Y-%m-%d %H:%M:%S %Z")
            .to_string()
    }
}

/// A table: upper-case headers, one row per object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// The table with a first column NAMESPACE (for `-A`), one namespace per row.
    pub fn in_namespaces(mut self, namespaces: impl IntoIterator<Item = String>) -> Self {
        self.headers.insert(0, "NAMESPACE");
        for (row, namespace) in self.rows.iter_mut().zip(namespaces) {
            row.insert(0, namespace);
        }
        self
    }

    /// The table as text, columns three spaces apart; with `colour`, statuses coloured (ANSI).
    pub fn render(&self, colour: bool) -> String {
        let mut writer = tabwriter::TabWriter::new(Vec::new()).padding(3).ansi(true);
        let mut line = |cells: Vec<String>| {
            let _ = writeln!(writer, "{}", cells.join("\t"));
        };
        line(self.headers.iter().map(|h| h.to_string()).collect());
        for row in &self.rows {
            line(
                row.iter()
                    .map(|cell| if colour { coloured(cell) } else { cell.clone() })
                    .collect(),
            );
        }
        let bytes = writer.into_inner().unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// `tables` as text one after the other, a blank line between, leaving out those without rows.
pub fn sections<'a>(tables: impl IntoIterator<Item = &'a Table>, colour: bool) -> String {
    tables
        .into_iter()
        .filter(|t| !t.rows.is_empty())
        .map(|t| t.render(colour))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A status in the colour the console gives it: green done, red failed, yellow under way.
fn coloured(cell: &str) -> String {
    let code = match cell {
        "Completed" | "InProgress" | "True" | "Passed" | "Recovered" => "32",
        "Failed" | "False" | "Stalled" | "Active" => "31",
        "Pending" | "PendingScheduling" | "Starting" | "Stopping" | "Executing" | "Activating"
        | "Verifying" | "Dropping" | "Paused" | "Canceled" => "33",
        _ => return cell.to_string(),
    };
    format!("\x1b[{code}m{cell}\x1b[0m")
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Yaml,
}

/// `items` as a Kubernetes `List` in JSON or YAML (they parse back into the API types).
pub fn list<T: Serialize>(items: &[T], format: Format) -> Result<String, String> {
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
    match format {
        Format::Json => serde_json::to_string_pretty(&list)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string()),
        Format::Yaml => serde_norway::to_string(&list).map_err(|e| e.to_string()),
        Format::Table => Err("a table is not a list".into()),
    }
}

/// What an action answers: lines for people, and for scripts the objects it made, changed or read.
#[derive(Debug, Default)]
pub struct Reply {
    pub text: String,
    objects: Vec<serde_json::Value>,
}

impl Reply {
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            objects: Vec::new(),
        }
    }

    /// Adds `object` to what a script sees.
    pub fn with<T: Serialize>(mut self, object: &T) -> Result<Self, String> {
        self.objects
            .push(serde_json::to_value(object).map_err(|e| e.to_string())?);
        Ok(self)
    }

    /// Adds another reply's lines and objects after this one's.
    pub fn and(mut self, other: Reply) -> Self {
        self.text.push_str(&other.text);
        self.objects.extend(other.objects);
        self
    }

    /// The lines for a table, the objects as a `List` otherwise.
    pub fn show(self, format: Format) -> Result<String, String> {
        match format {
            Format::Table => Ok(self.text),
            format => list(&self.objects, format),
        }
    }
}

/// Says `text` while a command goes on (before a `--wait`): on stdout under a table, on stderr when
/// stdout carries JSON or YAML, so a script reads one document.
pub fn progress(format: Format, text: &str) {
    if format == Format::Table {
        print!("{text}");
        let _ = std::io::stdout().flush();
    } else {
        eprint!("{text}");
    }
}

/// An optional value, or `-`.
pub fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_colour_only_when_asked() {
        let mut table = Table::new(&["NAME", "STATUS"]);
        table.push(vec!["a-long-name".into(), "Completed".into()]);
        table.push(vec!["b".into(), "Failed".into()]);
        assert_eq!(
            table.render(false),
            "NAME          STATUS\na-long-name   Completed\nb             Failed\n"
        );
        let coloured = table.render(true);
        assert!(
            coloured.contains("\x1b[32mCompleted\x1b[0m"),
            "{coloured:?}"
        );
        // Colour codes take no width: the columns stay aligned.
        assert!(
            coloured.contains("b             \x1b[31mFailed"),
            "{coloured:?}"
        );
        let everywhere = table.in_namespaces(["prod".to_string(), "staging".to_string()]);
        assert!(
            everywhere.render(false).starts_with(
                "NAMESPACE   NAME          STATUS\nprod        a-long-name   Completed\n"
            ),
            "{:?}",
            everywhere.render(false)
        );
    }

    #[test]
    fn times_show_in_utc_or_the_zone_and_lists_parse_back() {
        let clock = TimeFormat {
            zone: TimeZone::get("Asia/Shanghai").expect("zone"),
        };
        let at: Timestamp = "2026-11-24T19:28:14Z".parse().expect("time");
        assert_eq!(clock.at(at), "2026-11-25 03:28:14 CST");
        assert_eq!(
            TimeFormat::new(true).show(Some(&Time(at))),
            "2026-11-24 19:28:14 UTC"
        );
        assert_eq!(TimeFormat::new(true).show(None), "-");
        let yaml = list(&[serde_json::json!({"a": 1})], Format::Yaml).expect("yaml");
        let back: serde_json::Value = serde_norway::from_str(&yaml).expect("parses");
        assert_eq!(back["items"][0]["a"], 1);
    }

    #[test]
    fn a_reply_is_its_lines_for_people_and_its_objects_for_scripts() {
        let reply = Reply::new("a/one created\n")
            .with(&serde_json::json!({"kind": "A", "n": 1}))
            .expect("serializes")
            .and(
                Reply::new("a/two exists already\n")
                    .with(&serde_json::json!({"kind": "A", "n": 2}))
                    .expect("serializes"),
            );
        assert_eq!(reply.text, "a/one created\na/two exists already\n");
        let json = reply.show(Format::Json).expect("json");
        let back: serde_json::Value = serde_json::from_str(&json).expect("parses");
        assert_eq!(back["kind"], "List");
        assert_eq!(back["items"][1]["n"], 2);
        let table = Reply::new("said\n").show(Format::Table).expect("text");
        assert_eq!(table, "said\n");
    }
}
