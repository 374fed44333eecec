//! Named crash points at every boundary where the operator changes the world (issue 13): each statement
//! sent to OceanBase (before and after), each status write and each recorded intent, each child created or
//! deleted, each finalizer change. Built with the `failpoints` feature (tests only), the environment
//! variable `FAILPOINTS="<point>=return"` makes the process abort at that point, as a SIGKILL would; without
//! the feature a point costs nothing.

/// Aborts the process here if the point `name` is armed.
#[inline]
pub fn point(name: &str) {
    #[cfg(feature = "failpoints")]
    if fail::eval(name, |_| ()).is_some() {
        tracing::error!(point = name, "crash point armed: aborting");
        std::process::abort();
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}

/// The crash point before (`after` false) or after a batch of statements whose main one is `sql`. Its name
/// is made only when crash points are compiled in: statements and status writes are hot paths.
pub fn statement(sql: &str, after: bool) {
    #[cfg(feature = "failpoints")]
    point(&format!(
        "statement/{}/{}",
        statement_class(sql),
        side(after)
    ));
    #[cfg(not(feature = "failpoints"))]
    let _ = (sql, after);
}

/// The crash point before or after a status write of `kind`.
pub fn status(kind: &str, after: bool) {
    #[cfg(feature = "failpoints")]
    point(&format!("status/{kind}/{}", side(after)));
    #[cfg(not(feature = "failpoints"))]
    let _ = (kind, after);
}

#[cfg(feature = "failpoints")]
fn side(after: bool) -> &'static str {
    if after { "after" } else { "before" }
}

/// What a statement does, as a crash point names it.
pub fn statement_class(sql: &str) -> &'static str {
    const CLASSES: &[(&str, &str)] = &[
        ("CANCEL DELETE BACKUP", "cancel-delete"),
        ("CANCEL BACKUP", "cancel-backup"),
        ("CANCEL RESTORE", "cancel-restore"),
        ("DATA_BACKUP_DEST", "set-data-dest"),
        ("LOG_ARCHIVE_DEST_STATE", "enable-archive-dest"),
        ("LOG_ARCHIVE_DEST", "set-archive-dest"),
        ("NOARCHIVELOG", "stop-archiving"),
        ("ARCHIVELOG TENANT", "start-archiving"),
        ("ADD DELETE BACKUP POLICY", "add-delete-policy"),
        ("DROP DELETE BACKUP POLICY", "drop-delete-policy"),
        ("ALTER SYSTEM DELETE", "delete-backup"),
        ("ALTER SYSTEM BACKUP", "backup"),
        ("ALTER SYSTEM RESTORE", "restore"),
        ("ACTIVATE STANDBY", "activate"),
        ("CREATE RESOURCE", "create-resource"),
        ("DROP RESOURCE", "drop-resource"),
        ("DROP TENANT", "drop-tenant"),
    ];
    CLASSES
        .iter()
        .find(|(words, _)| sql.contains(words))
        .map_or("other", |(_, class)| class)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oceanbase::sql;

    #[test]
    fn every_statement_the_operator_sends_has_its_own_class() {
        let cases = [
            (sql::backup("t", false, false, "u"), "backup"),
            (sql::backup("t", true, true, "u"), "backup"),
            (sql::cancel_backup("t"), "cancel-backup"),
            (sql::cancel_delete("t"), "cancel-delete"),
            (sql::set_data_backup_dest("t", "file:///d"), "set-data-dest"),
            (
                sql::set_log_archive_dest(
                    "t",
                    "file:///a",
                    &crate::oceanbase::Binding::Optional,
                    "1d",
                ),
                "set-archive-dest",
            ),
            (
                sql::set_log_archive_dest_state("t", true),
                "enable-archive-dest",
            ),
            (sql::archive_mode("t", true), "start-archiving"),
            (sql::archive_mode("t", false), "stop-archiving"),
            (sql::add_delete_policy("t", "7d"), "add-delete-policy"),
            (sql::drop_delete_policy("t"), "drop-delete-policy"),
            (sql::drop_resource(true, "p"), "drop-resource"),
            (sql::activate_standby("t"), "activate"),
            (sql::cancel_restore("t"), "cancel-restore"),
            (sql::drop_scratch_tenant("drill_t"), "drop-tenant"),
        ];
        for (statement, class) in cases {
            let statement = statement.expect("statement");
            assert_eq!(statement_class(&statement), class, "{statement}");
        }
    }
}
