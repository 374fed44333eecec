//! The ground truth obsim's views are held to: the real `desc` output of both schema versions, read from
//! `obsim/schema/` (`obsim::schema`). These tests check that reading, then compare what obsim sends for every
//! view in each profile with it, through a real client library.

use mysql_async::{
    Column,
    consts::{ColumnFlags, ColumnType},
    prelude::Queryable,
};
use obsim::{
    model::Version,
    schema::{Schema, Views, views},
    views::schema_of,
};

#[test]
fn both_schema_versions_are_read_whole_and_agree_with_the_files_own_counts() {
    // The counts the file states in words ("same 18 columns", "the 38 columns of …") are asserted while
    // resolving; here, what the file says about particular views.
    let newest = views(Schema::Newest).expect("the newest schema reads");
    let older = views(Schema::Older).expect("the older schema reads");
    let columns = |schema: &Views| schema.values().map(Vec::len).sum::<usize>();
    println!(
        "newest: {} views, {} columns; older: {} views, {} columns",
        newest.len(),
        columns(newest),
        older.len(),
        columns(older)
    );
    println!("views: {:?}", newest.keys().collect::<Vec<_>>());
    assert_eq!(newest.len(), older.len());
    let names = |view: &str, schema: &Views| {
        schema[view]
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
    };
    let ty = |view: &str, column: &str, schema: &Views| {
        schema[view]
            .iter()
            .find(|c| c.name == column)
            .map(|c| c.ty.clone())
            .unwrap_or_else(|| panic!("{view}.{column}"))
    };
    // Every view the operator reads is there, in both.
    for view in [
        "DBA_OB_TENANTS",
        "CDB_OB_ARCHIVELOG",
        "CDB_OB_ARCHIVE_DEST",
        "CDB_OB_BACKUP_PARAMETER",
        "CDB_OB_BACKUP_JOBS",
        "CDB_OB_BACKUP_JOB_HISTORY",
        "CDB_OB_BACKUP_TASKS",
        "CDB_OB_BACKUP_SET_FILES",
        "CDB_OB_ARCHIVELOG_PIECE_FILES",
        "CDB_OB_BACKUP_DELETE_POLICY",
        "CDB_OB_BACKUP_DELETE_JOBS",
        "CDB_OB_BACKUP_DELETE_JOB_HISTORY",
        "CDB_OB_RESTORE_PROGRESS",
        "CDB_OB_RESTORE_HISTORY",
        "DBA_OB_UNITS",
        "DBA_OB_UNIT_CONFIGS",
        "DBA_OB_RESOURCE_POOLS",
    ] {
        assert!(
            newest.contains_key(view) && older.contains_key(view),
            "{view}"
        );
    }
    // Derived forms: DBA_ is CDB_ without TENANT_ID; a set file's CDB_ form prepends it.
    assert_eq!(
        names("DBA_OB_ARCHIVELOG", newest),
        names("CDB_OB_ARCHIVELOG", newest)[1..]
    );
    assert_eq!(names("CDB_OB_BACKUP_SET_FILES", newest).len(), 39);
    assert_eq!(names("DBA_OB_BACKUP_TASK_HISTORY", newest).len(), 28);
    assert!(!names("CDB_OB_BACKUP_TASK_HISTORY", newest).contains(&"DATA_PROGRESS".to_string()));
    assert!(names("CDB_OB_BACKUP_TASKS", newest).contains(&"DATA_PROGRESS".to_string()));
    // What differs between the versions, and only that.
    assert_eq!(
        ty("CDB_OB_BACKUP_DELETE_JOBS", "PARAMETER", newest),
        "varchar(8209)"
    );
    assert_eq!(
        ty("DBA_OB_BACKUP_DELETE_JOB_HISTORY", "PARAMETER", older),
        "timestamp(6)"
    );
    assert!(names("DBA_OB_BACKUP_DELETE_TASKS", older).contains(&"TOTAL_LS_COUNT".to_string()));
    assert!(names("DBA_OB_BACKUP_DELETE_TASKS", newest).contains(&"TOTAL_TASK_COUNT".to_string()));
    assert_eq!(names("CDB_OB_RESTORE_PROGRESS", older).len(), 21);
    assert_eq!(
        names("DBA_OB_RESTORE_PROGRESS", older),
        names("CDB_OB_RESTORE_PROGRESS", older)[1..]
    );
    assert_eq!(names("DBA_OB_TENANTS", older).len(), 25);
    assert_eq!(names("DBA_OB_UNITS", older).len(), 21);
    assert_eq!(names("DBA_OB_UNITS", newest).len(), 25);
    assert_eq!(names("DBA_OB_UNIT_CONFIGS", older).len(), 11);
    assert_eq!(names("DBA_OB_UNIT_CONFIGS", newest).len(), 14);
    let differing: Vec<&String> = newest.keys().filter(|v| newest[*v] != older[*v]).collect();
    assert_eq!(
        differing,
        [
            "CDB_OB_BACKUP_DELETE_JOBS",
            "CDB_OB_BACKUP_DELETE_JOB_HISTORY",
            "CDB_OB_BACKUP_DELETE_TASKS",
            "CDB_OB_BACKUP_DELETE_TASK_HISTORY",
            "CDB_OB_RESTORE_PROGRESS",
            "DBA_OB_BACKUP_DELETE_JOBS",
            "DBA_OB_BACKUP_DELETE_JOB_HISTORY",
            "DBA_OB_BACKUP_DELETE_TASKS",
            "DBA_OB_BACKUP_DELETE_TASK_HISTORY",
            "DBA_OB_RESOURCE_POOLS",
            "DBA_OB_RESTORE_PROGRESS",
            "DBA_OB_TENANTS",
            "DBA_OB_UNITS",
            "DBA_OB_UNIT_CONFIGS",
        ]
    );
}

#[test]
fn every_type_the_real_views_declare_is_one_obsim_can_serve() {
    for schema in [Schema::Older, Schema::Newest] {
        for (view, columns) in views(schema).expect("reads") {
            for column in columns {
                let ty = obsim::sql::value::SqlType::parse(&column.ty)
                    .unwrap_or_else(|| panic!("{view}.{}: {}", column.name, column.ty));
                assert_eq!(ty.to_string(), column.ty, "{view}.{}", column.name);
            }
        }
    }
}

/// A column definition as `desc` would print it: (name, type, nullable).
fn desc_of(column: &Column) -> (String, String, bool) {
    let flags = column.flags();
    let length = column.column_length();
    let decimals = column.decimals();
    let ty = match column.column_type() {
        ColumnType::MYSQL_TYPE_LONGLONG if flags.contains(ColumnFlags::UNSIGNED_FLAG) => {
            format!("bigint({length}) unsigned")
        }
        ColumnType::MYSQL_TYPE_LONGLONG => format!("bigint({length})"),
        ColumnType::MYSQL_TYPE_VAR_STRING | ColumnType::MYSQL_TYPE_VARCHAR => {
            format!("varchar({})", length / 4)
        }
        ColumnType::MYSQL_TYPE_LONG_BLOB if column.character_set() != 63 => "longtext".into(),
        ColumnType::MYSQL_TYPE_TIMESTAMP => format!("timestamp({decimals})"),
        ColumnType::MYSQL_TYPE_DATETIME => format!("datetime({decimals})"),
        ColumnType::MYSQL_TYPE_NEWDECIMAL => {
            let precision = length - 1 - u32::from(decimals > 0);
            format!("decimal({precision},{decimals})")
        }
        ColumnType::MYSQL_TYPE_DOUBLE => "double".into(),
        other => format!("{other:?}"),
    };
    (
        column.name_str().to_string(),
        ty,
        !flags.contains(ColumnFlags::NOT_NULL_FLAG),
    )
}

#[tokio::test]
async fn every_view_in_both_profiles_sends_exactly_the_real_columns() {
    let mut checked = (0, 0);
    for version in [Version::V4_2_5, Version::V4_4_1] {
        let schema = schema_of(version);
        let mut conn = crate::common::connect(version).await;
        for (view, real) in views(schema).expect("reads") {
            let result = conn
                .query_iter(format!("SELECT * FROM oceanbase.{view} LIMIT 0"))
                .await
                .unwrap_or_else(|e| panic!("{version} {view}: {e}"));
            let sent: Vec<(String, String, bool)> = result
                .columns()
                .map(|columns| columns.iter().map(desc_of).collect())
                .unwrap_or_default();
            result.drop_result().await.expect("drain");
            let expected: Vec<(String, String, bool)> = real
                .iter()
                .map(|c| (c.name.clone(), c.ty.clone(), c.nullable))
                .collect();
            assert_eq!(sent, expected, "{version} ({schema:?} schema): {view}");
            checked.0 += 1;
            checked.1 += real.len();
        }
    }
    println!(
        "checked {} views and {} columns over two profiles: names, order, types, nullability",
        checked.0, checked.1
    );
    assert_eq!(checked.0, 76);
}

/// Why `text` (a value as the text protocol sends it) does not fit `ty` as a real server renders it.
fn misfit(text: &str, ty: &str) -> Option<String> {
    use obsim::sql::value::SqlType;
    let fits = match SqlType::parse(ty)? {
        SqlType::BigInt(_) => text.parse::<i64>().is_ok(),
        SqlType::BigIntUnsigned(_) => text.parse::<u64>().is_ok(),
        SqlType::Varchar(n) => text.chars().count() <= n as usize,
        SqlType::LongText => true,
        SqlType::Timestamp(d) | SqlType::DateTime(d) => {
            let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
            whole.parse::<jiff::civil::DateTime>().is_ok() && fraction.len() == usize::from(d)
        }
        SqlType::Decimal(_, scale) => {
            let fraction = text.split_once('.').map_or("", |(_, f)| f);
            text.parse::<f64>().is_ok() && fraction.len() == usize::from(scale)
        }
        SqlType::Double => text.parse::<f64>().is_ok(),
    };
    (!fits).then(|| format!("{text:?} is not a {ty}"))
}

#[tokio::test]
async fn every_value_fits_its_declared_type_and_not_null_columns_hold_values() {
    let mut failures = Vec::new();
    let mut values = 0;
    for version in [Version::V4_2_5, Version::V4_4_1] {
        let (opts, _cluster) = crate::common::busy_cluster(version).await;
        let mut conn = mysql_async::Conn::new(opts).await.expect("connect");
        for (view, real) in views(schema_of(version)).expect("reads") {
            let rows: Vec<mysql_async::Row> = conn
                .query(format!("SELECT * FROM oceanbase.{view}"))
                .await
                .unwrap_or_else(|e| panic!("{view}: {e}"));
            for row in rows {
                for (i, column) in real.iter().enumerate() {
                    let problem = match row.as_ref(i) {
                        Some(mysql_async::Value::NULL) | None if !column.nullable => {
                            Some("NULL in a NOT NULL column".to_string())
                        }
                        Some(mysql_async::Value::Bytes(bytes)) => {
                            values += 1;
                            misfit(&String::from_utf8_lossy(bytes), &column.ty)
                        }
                        _ => None,
                    };
                    if let Some(problem) = problem {
                        failures.push(format!("{version} {view}.{}: {problem}", column.name));
                    }
                }
            }
        }
    }
    println!("checked {values} values");
    assert!(values > 500, "the cluster had rows to check: {values}");
    assert!(
        failures.is_empty(),
        "{} misfits:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
