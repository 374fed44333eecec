use super::*;
use crate::oceanbase::ExternalSince;

fn request<'a>(descriptions: &'a [String], restores: bool) -> SnapshotRequest<'a> {
    SnapshotRequest {
        descriptions,
        jobs_ended_since: Timestamp::UNIX_EPOCH,
        clean_since: Timestamp::UNIX_EPOCH,
        restores,
        external: None,
        reach: Reach::Whole,
    }
}

fn parts(query: &SnapshotQuery<'_>) -> Vec<Part> {
    query.plan.parts.clone()
}

#[test]
fn a_quiet_cycle_reads_the_fixed_views_and_the_delete_history_in_one_text() {
    let query = SnapshotQuery::new(request(&[], false), true).expect("query");
    assert_eq!(query.len(), 12);
    assert!(!parts(&query).contains(&Part::Version));
    assert!(
        !parts(&query).contains(&Part::JobHistory),
        "no task waits for a job"
    );
    assert!(!parts(&query).contains(&Part::Restores));
    let text = query.text();
    assert_eq!(text.matches("SELECT ").count(), query.len());
    assert_eq!(text.matches(";\n").count(), query.len() - 1);
    assert!(!text.ends_with(';'));
}

#[test]
fn a_read_that_is_not_whole_leaves_out_what_changes_only_by_a_statement_or_a_jobs_end() {
    let changing = SnapshotRequest {
        reach: Reach::Changing,
        ..request(&[], false)
    };
    let query = SnapshotQuery::new(changing, true).expect("query");
    assert_eq!(query.len(), 6, "{:?}", parts(&query));
    for part in [
        Part::ArchiveDests,
        Part::DataDests,
        Part::Sets,
        Part::Pieces,
        Part::DeletePolicies,
        Part::Units,
    ] {
        assert!(!parts(&query).contains(&part), "{part:?}");
    }
    for part in [
        Part::Tenants,
        Part::Rounds,
        Part::CleanJobs,
        Part::CleanHistory,
        Part::Progress,
        Part::Jobs,
    ] {
        assert!(parts(&query).contains(&part), "{part:?}");
    }
}

#[test]
fn a_read_of_the_jobs_asks_for_them_their_progress_the_finished_ones_and_restores() {
    let descriptions = ["uid-1".to_string()];
    let jobs = SnapshotRequest {
        reach: Reach::Jobs,
        ..request(&descriptions, true)
    };
    let query = SnapshotQuery::new(jobs, true).expect("query");
    assert_eq!(
        parts(&query),
        [
            Part::Progress,
            Part::Jobs,
            Part::JobHistory,
            Part::Restores,
            Part::RestoreHistory
        ]
    );
}

#[test]
fn the_version_is_read_until_known_and_restores_and_histories_only_when_asked() {
    let descriptions = ["uid-1".to_string(), "it's".to_string()];
    let first = SnapshotQuery::new(request(&descriptions, true), false).expect("query");
    assert_eq!(parts(&first).first(), Some(&Part::Version));
    for part in [Part::JobHistory, Part::Restores, Part::RestoreHistory] {
        assert!(parts(&first).contains(&part), "{part:?}");
    }
    assert!(
        first.text().contains("description IN ('uid-1', 'it''s')"),
        "quoted: {}",
        first.text()
    );
    let mirrors = SnapshotRequest {
        external: Some(ExternalSince {
            jobs: Timestamp::UNIX_EPOCH,
            restores: Timestamp::UNIX_EPOCH,
        }),
        ..request(&[], false)
    };
    let mirrored = SnapshotQuery::new(mirrors, true).expect("query");
    assert!(parts(&mirrored).contains(&Part::JobHistory));
    assert!(
        mirrored
            .text()
            .contains("WHERE tenant_id = 1 AND (finish_timestamp >= '1970-01-01 00:00:00')")
    );
}

#[test]
fn the_same_number_of_statements_and_a_bounded_text_for_one_task_or_ten_thousand() {
    let one = vec!["uid".to_string()];
    let many: Vec<String> = (0..10_000).map(|i| format!("uid-{i}")).collect();
    let small = SnapshotQuery::new(request(&one, false), true).expect("query");
    let large = SnapshotQuery::new(request(&many, false), true).expect("query");
    assert_eq!(small.len(), large.len());
    assert!(
        small
            .text()
            .contains("description IN ('uid') AND end_timestamp >= ")
    );
    assert!(
        !large.text().contains("description IN"),
        "too many to list: matched in the operator"
    );
    assert!(large.text().len() < small.text().len());
    let listed: Vec<String> = (0..LISTED_DESCRIPTIONS)
        .map(|i| format!("uid-{i}"))
        .collect();
    let most = SnapshotQuery::new(request(&listed, true), true).expect("query");
    assert!(most.text().len() < 8 << 10, "{} bytes", most.text().len());
}

#[test]
fn the_history_read_is_the_described_jobs_or_every_job_since_the_mirrors_time() {
    let described = ["uid-1".to_string()];
    let external = Some(ExternalSince {
        jobs: Timestamp::from_second(86_400).expect("time"),
        restores: Timestamp::UNIX_EPOCH,
    });
    let both = SnapshotRequest {
        external,
        ..request(&described, false)
    };
    let query = SnapshotQuery::new(both, true).expect("query");
    let text = query.text();
    assert!(
        text.contains(
            "WHERE job_level = 'USER_TENANT' AND ((description IN ('uid-1') AND end_timestamp >= \
             '1970-01-01 00:00:00') OR (end_timestamp >= '1970-01-02 00:00:00'))"
        ),
        "{text}"
    );
}

#[test]
fn fewer_result_sets_than_statements_is_an_error_not_a_partial_snapshot() {
    let query = SnapshotQuery::new(request(&[], false), true).expect("query");
    let sets = vec![Vec::new(); query.len() - 1];
    let error = query
        .decode(sets, &Redactor::new(Vec::<String>::new()))
        .expect_err("short");
    assert!(matches!(error, ObError::Protocol(_)), "{error:?}");
}

#[test]
fn empty_result_sets_make_an_empty_snapshot_that_says_what_it_searched() {
    let descriptions = ["uid-1".to_string()];
    let query = SnapshotQuery::new(request(&descriptions, true), true).expect("query");
    let sets = vec![Vec::new(); query.len()];
    let snapshot = query
        .decode(sets, &Redactor::new(Vec::<String>::new()))
        .expect("decoded");
    assert!(snapshot.tenants.is_empty() && snapshot.version.is_empty());
    assert!(snapshot.searched_for("uid-1"));
    assert!(snapshot.searched_for_restore("uid-1"));
}

#[test]
fn a_read_that_asks_what_the_last_asked_sends_the_same_statements_built_once() {
    let last = LastQuery::default();
    let descriptions = ["uid-1".to_string()];
    let first = SnapshotQuery::reusing(request(&descriptions, false), true, &last).expect("query");
    let again = SnapshotQuery::reusing(request(&descriptions, false), true, &last).expect("query");
    assert!(Arc::ptr_eq(&first.plan, &again.plan), "built once");
    let others = ["uid-2".to_string()];
    for changed in [
        request(&others, false),
        request(&descriptions, true),
        SnapshotRequest {
            reach: Reach::Jobs,
            ..request(&descriptions, false)
        },
        SnapshotRequest {
            clean_since: Timestamp::from_second(60).expect("time"),
            ..request(&descriptions, false)
        },
    ] {
        let fresh = SnapshotQuery::new(changed, true).expect("query");
        let reused = SnapshotQuery::reusing(changed, true, &last).expect("query");
        assert_eq!(reused.text(), fresh.text(), "{changed:?}");
        assert!(!Arc::ptr_eq(&reused.plan, &first.plan));
    }
    // Each reach keeps its own: reads alternating between them build nothing new.
    let jobs = SnapshotRequest {
        reach: Reach::Jobs,
        ..request(&others, false)
    };
    let whole = SnapshotQuery::reusing(request(&others, false), true, &last).expect("query");
    let jobs_read = SnapshotQuery::reusing(jobs, true, &last).expect("query");
    let whole_again = SnapshotQuery::reusing(request(&others, false), true, &last).expect("query");
    let jobs_again = SnapshotQuery::reusing(jobs, true, &last).expect("query");
    assert!(Arc::ptr_eq(&whole.plan, &whole_again.plan));
    assert!(Arc::ptr_eq(&jobs_read.plan, &jobs_again.plan));
    let unknown =
        SnapshotQuery::reusing(request(&descriptions, false), false, &last).expect("query");
    assert_eq!(
        parts(&unknown)[0],
        Part::Version,
        "the version asked for again"
    );
}

#[test]
fn a_mirror_reads_restores_with_what_changes_and_a_watched_restore_at_every_read() {
    let external = Some(ExternalSince {
        jobs: Timestamp::UNIX_EPOCH,
        restores: Timestamp::UNIX_EPOCH,
    });
    for (reach, restores, read) in [
        (Reach::Jobs, false, false),
        (Reach::Changing, false, true),
        (Reach::Jobs, true, true),
    ] {
        let request = SnapshotRequest {
            external,
            reach,
            ..request(&[], restores)
        };
        let query = SnapshotQuery::new(request, true).expect("query");
        assert_eq!(
            parts(&query).contains(&Part::Restores),
            read,
            "{reach:?}, watched: {restores}"
        );
    }
}
