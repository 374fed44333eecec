//! Cron expressions and time zones of a BackupStrategy's schedule.

use croner::{
    Cron,
    parser::{CronParser, Seconds, Year},
};
use jiff::{SignedDuration, Timestamp, tz::TimeZone};

use crate::reason::Reason;

/// Parses a 5-field cron expression (minute hour day-of-month month day-of-week) or an `@` macro.
pub fn parse_cron(expression: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(expression.trim())
        .map_err(|e| e.to_string())
}

/// Looks up an IANA time zone in the time zone database bundled into the binary.
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|e| e.to_string())
}

/// What keeps a schedule from ever running that the CRD's rules cannot see: a time zone (field
/// `{prefix}timeZone`) the time zone database does not know; a cron expression of `crons` (field name,
/// expression) that does not parse, or names no date that exists. Each with the reason and a message naming
/// the field.
pub fn faults(prefix: &str, zone: &str, crons: &[(&str, &str)]) -> Vec<(Reason, String)> {
    let mut faults = Vec::new();
    if let Err(e) = time_zone(zone) {
        let message = format!("{prefix}timeZone {zone} is not a known IANA time zone: {e}");
        faults.push((Reason::InvalidTimeZone, message));
    }
    for (field, expression) in crons {
        match parse_cron(expression) {
            Err(e) => faults.push((
                Reason::InvalidSchedule,
                format!("{prefix}{field} {expression:?} is not a valid cron expression: {e}"),
            )),
            // Without a year field a schedule that runs once runs every few years at least, so one
            // occurrence after any instant is enough to know it ever runs.
            Ok(cron) if next(&cron, &TimeZone::UTC, Timestamp::UNIX_EPOCH).is_none() => {
                faults.push((
                    Reason::ScheduleNeverRuns,
                    format!(
                        "{prefix}{field} {expression:?} names no date that exists (such as 31 February): \
                         it would never run"
                    ),
                ));
            }
            Ok(_) => {}
        }
    }
    faults
}

/// The run a schedule owes now, if any: the latest occurrence of `cron` in `zone` at or before `now` and
/// after `since` (the last run made, or when the strategy was created). Runs missed while the operator was
/// down collapse into this one catch-up, which is made only if it is at most `deadline` old (like a
/// CronJob's `startingDeadlineSeconds`). DST follows croner: a time skipped by spring-forward runs right
/// after the gap, a time repeated by fall-back runs once.
pub fn due(
    cron: &Cron,
    zone: &TimeZone,
    since: Timestamp,
    now: Timestamp,
    deadline: Option<SignedDuration>,
) -> Option<Timestamp> {
    let latest = cron
        .find_previous_occurrence(&now.to_zoned(zone.clone()), true)
        .ok()?
        .timestamp();
    let fresh = deadline.is_none_or(|d| now.duration_since(latest) <= d);
    (latest > since && fresh).then_some(latest)
}

/// The occurrences of `cron` in `zone` after `after` and at or before `until`, newest first, at most `max`
/// of them (a schedule paused for weeks has thousands; only the newest are ever shown).
pub fn occurrences(
    cron: &Cron,
    zone: &TimeZone,
    after: Timestamp,
    until: Timestamp,
    max: usize,
) -> Vec<Timestamp> {
    let mut found = Vec::new();
    let mut at = until.to_zoned(zone.clone());
    let mut inclusive = true;
    while found.len() < max {
        let Ok(previous) = cron.find_previous_occurrence(&at, inclusive) else {
            break;
        };
        if previous.timestamp() <= after {
            break;
        }
        found.push(previous.timestamp());
        at = previous;
        inclusive = false;
    }
    found
}

/// The first occurrence of `cron` in `zone` after `after`.
pub fn next(cron: &Cron, zone: &TimeZone, after: Timestamp) -> Option<Timestamp> {
    cron.find_next_occurrence(&after.to_zoned(zone.clone()), false)
        .ok()
        .map(|z| z.timestamp())
}

/// The name of the task a strategy creates for `tenant` at the scheduled time `at`: derived from the
/// time, so that however often the operator restarts, one scheduled run is one object. Tenant names are
/// case-insensitive letters, digits and underscores; Kubernetes names are lower case with hyphens.
pub fn task_name(strategy: &str, tenant: &str, incremental: bool, at: Timestamp) -> String {
    let stamp = at.strftime("%Y%m%d-%H%M").to_string();
    let mode = if incremental { "inc" } else { "full" };
    crate::names::child_name(strategy, tenant, &format!("{mode}-{stamp}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_field_expressions_and_macros_parse() {
        for expression in [
            "0 1 * * 0",
            "0 1 * * 1-6",
            "*/15 2-4 1,15 * MON-FRI",
            "@weekly",
            "@daily",
        ] {
            assert!(parse_cron(expression).is_ok(), "{expression}");
        }
    }

    #[test]
    fn out_of_range_and_wrong_shape_are_refused() {
        for expression in [
            "61 1 * * 0",
            "0 25 * * *",
            "0 1 * * 8",
            "0 0 1 * * 0",
            "0 1 * *",
            "every day",
        ] {
            assert!(parse_cron(expression).is_err(), "{expression}");
        }
    }

    #[test]
    fn iana_names_resolve_and_others_do_not() {
        assert!(time_zone("Asia/Shanghai").is_ok());
        assert!(time_zone("America/Argentina/Buenos_Aires").is_ok());
        assert!(time_zone("UTC").is_ok());
        // Names of one word, which the schema lists from this database.
        for zone in ["PRC", "CET", "EST5EDT", "Japan"] {
            assert!(time_zone(zone).is_ok(), "{zone}");
        }
        assert!(time_zone("Mars/Olympus_Mons").is_err());
        assert!(time_zone("Beijing").is_err());
    }

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    fn shanghai() -> TimeZone {
        time_zone("Asia/Shanghai").expect("zone")
    }

    #[test]
    fn a_weekly_full_is_due_once_at_its_time_in_the_zone() {
        let cron = parse_cron("0 1 * * 0").expect("cron");
        let created = at("2026-11-01T00:00:00Z");
        // Sunday 2026-11-08 01:00 in Shanghai is Saturday 17:00 UTC.
        let sunday = at("2026-11-07T17:00:00Z");
        // The occurrence before (Sunday 2026-11-01 01:00 Shanghai) predates the strategy: nothing is owed.
        assert_eq!(
            due(
                &cron,
                &shanghai(),
                created,
                at("2026-11-07T16:59:59Z"),
                None
            ),
            None
        );
        assert_eq!(due(&cron, &shanghai(), created, sunday, None), Some(sunday));
        assert_eq!(
            due(&cron, &shanghai(), sunday, at("2026-11-08T03:00:00Z"), None),
            None,
            "made once"
        );
        assert_eq!(
            next(&cron, &shanghai(), sunday),
            Some(at("2026-11-14T17:00:00Z"))
        );
    }

    #[test]
    fn downtime_gives_one_catch_up_within_the_deadline() {
        let cron = parse_cron("0 1 * * *").expect("cron");
        let utc = TimeZone::UTC;
        let last = at("2026-11-01T01:00:00Z");
        // Down for three days: only the latest missed run is made.
        let back = at("2026-11-04T01:30:00Z");
        assert_eq!(
            due(&cron, &utc, last, back, Some(SignedDuration::from_hours(1))),
            Some(at("2026-11-04T01:00:00Z"))
        );
        // Back too late for it: nothing until the next occurrence.
        assert_eq!(
            due(
                &cron,
                &utc,
                last,
                at("2026-11-04T03:00:00Z"),
                Some(SignedDuration::from_hours(1))
            ),
            None
        );
        assert_eq!(
            due(&cron, &utc, last, at("2026-11-04T03:00:00Z"), None),
            Some(at("2026-11-04T01:00:00Z"))
        );
    }

    #[test]
    fn dst_gaps_run_after_the_gap_and_overlaps_run_once() {
        let cron = parse_cron("30 2 * * *").expect("cron");
        let new_york = time_zone("America/New_York").expect("zone");
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist that day.
        let spring = next(&cron, &new_york, at("2026-03-08T05:00:00Z")).expect("next");
        assert!(
            spring > at("2026-03-08T06:59:59Z") && spring < at("2026-03-08T08:00:00Z"),
            "runs right after the gap: {spring}"
        );
        // 2026-11-01: 02:00 EDT falls back to 01:00 EST; 02:30 happens once (after the fall back).
        let first = next(&cron, &new_york, at("2026-11-01T04:00:00Z")).expect("next");
        let second = next(&cron, &new_york, first).expect("next");
        assert_eq!(
            second.duration_since(first),
            SignedDuration::from_hours(24),
            "{first} then {second}"
        );
    }

    #[test]
    fn task_names_come_from_the_scheduled_time() {
        let t = at("2026-11-07T17:00:00Z");
        assert_eq!(
            task_name("demo", "Tenant_1", false, t),
            "demo-tenant-1-full-20261107-1700"
        );
        assert_eq!(
            task_name("demo", "t1", true, t),
            "demo-t1-inc-20261107-1700"
        );
        let long = "s".repeat(300);
        let name = task_name(&long, "t1", true, t);
        assert!(
            name.len() <= 253 && name.ends_with("-t1-inc-20261107-1700"),
            "{name}"
        );
    }
}
