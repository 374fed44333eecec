//! The character set a restore sends a table's rows in. A dump's text is utf8mb4. Sent as utf8mb4, the engine
//! checks and converts every string it is given; sent as `binary`, it stores a string's bytes as they are,
//! which costs seekdb less CPU for the same load (docs/contributing/benchmarks.md). The bytes stored are the
//! same text only where every column the rows fill holds utf8 text or no text at all, and where the names
//! sent are ASCII: only such a table is sent as `binary`, judged by the columns the dump's plan records
//! (the table it loads into is made by the same `CREATE TABLE`). A JSON, ENUM, SET or vector column (whose
//! string the engine parses by its character set), a column in any other character set, or a text column
//! of a dump that did not record its character set keeps its table on utf8mb4.

use super::layout::{ObjectKind, ObjectPlan, Plan};

/// How a session sends a table's rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ClientCharset {
    /// Strings stored byte for byte.
    Binary,
    /// The dump's own character set: strings checked and converted to the column's.
    Utf8mb4,
}

impl ClientCharset {
    /// The statement that sets it on a session handed out by the restore's pool, which is utf8mb4 already
    /// (the pool's setup, run again after every reset): none for utf8mb4.
    pub(super) fn statement(self) -> Option<&'static str> {
        match self {
            ClientCharset::Binary => Some("SET NAMES binary"),
            ClientCharset::Utf8mb4 => None,
        }
    }
}

/// The character set each of `plan`'s objects is loaded in (by index); `target` names the database each is
/// restored to.
pub(super) fn per_object(
    plan: &Plan,
    target: &(dyn Fn(&str) -> String + Sync),
) -> Vec<ClientCharset> {
    plan.objects
        .iter()
        .map(|object| of_object(object, &target(&object.database)))
        .collect()
}

fn of_object(object: &ObjectPlan, database: &str) -> ClientCharset {
    let names = [database, object.name.as_str()]
        .into_iter()
        .chain(object.columns.iter().map(|c| c.name.as_str()));
    let columns: Vec<(&str, Option<&str>)> = object
        .columns
        .iter()
        .map(|c| (c.data_type.as_str(), c.charset.as_deref()))
        .collect();
    if object.kind == ObjectKind::Table {
        of_table(names, &columns)
    } else {
        ClientCharset::Utf8mb4
    }
}

/// `binary` when every name is ASCII and every column (its data type and character set) stores utf8 text or
/// none at all.
fn of_table<'a>(
    mut names: impl Iterator<Item = &'a str>,
    columns: &[(&str, Option<&str>)],
) -> ClientCharset {
    let ascii = names.all(|name| name.is_ascii());
    let bytes_kept = columns
        .iter()
        .all(|(data_type, charset)| stored_as_sent(data_type, *charset));
    if ascii && bytes_kept && !columns.is_empty() {
        ClientCharset::Binary
    } else {
        ClientCharset::Utf8mb4
    }
}

/// Whether a column of this type and character set stores a dump's value sent as `binary` as the same value:
/// numbers, times and hex literals hold no text; text columns only in utf8 (utf8mb3's bytes are utf8mb4's).
fn stored_as_sent(data_type: &str, charset: Option<&str>) -> bool {
    match data_type.to_ascii_lowercase().as_str() {
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "decimal"
        | "numeric" | "float" | "double" | "real" | "bit" | "year" | "date" | "datetime"
        | "timestamp" | "time" | "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob"
        | "longblob" => true,
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => matches!(
            charset.map(str::to_ascii_lowercase).as_deref(),
            Some("utf8mb4" | "utf8mb3" | "utf8")
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_of_numbers_times_and_utf8_text_is_sent_as_bytes() {
        let held = [
            ("bigint", None),
            ("decimal", None),
            ("datetime", None),
            ("varchar", Some("utf8mb4")),
            ("CHAR", Some("utf8mb3")),
            ("blob", None),
        ];
        assert_eq!(
            of_table(["shop", "orders", "id"].into_iter(), &held),
            ClientCharset::Binary
        );
    }

    #[test]
    fn any_other_character_set_type_or_name_keeps_the_table_on_utf8mb4() {
        for (data_type, charset) in [
            ("varchar", Some("latin1")),
            ("text", Some("gbk")),
            ("varchar", Some("gb18030")),
            ("json", None),
            ("json", Some("utf8mb4")),
            ("enum", Some("utf8mb4")),
            ("set", Some("utf8mb4")),
            ("vector", None),
            // A text column of a dump that did not record its character set.
            ("char", None),
            ("geometry", None),
        ] {
            let held = [("bigint", None), (data_type, charset)];
            assert_eq!(
                of_table(["shop", "t", "id"].into_iter(), &held),
                ClientCharset::Utf8mb4,
                "{data_type} {charset:?}"
            );
        }
        let held = [("varchar", Some("utf8mb4"))];
        assert_eq!(
            of_table(["shop", "préférés"].into_iter(), &held),
            ClientCharset::Utf8mb4
        );
        assert_eq!(
            of_table(["shop", "t"].into_iter(), &[]),
            ClientCharset::Utf8mb4
        );
    }
}
