//! The ground truth obsim's views are held to: the real `desc` output of both schema versions, read from
//! `obsim/schema/` (`obsim::schema`). These tests check that reading.

use obsim::schema::{Schema, Views, views};

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
