//! `windows`: the console's "Available Recovery Period" — per tenant, seven days as seven lines of
//! half-hour cells: `█` where a restore can reach, `·` a gap, `◆` a data backup ending there, `✓` a point a
//! passed restore drill restored to (listed under the days); paged week by week (`--week -1` is the week
//! before).

use jiff::{SignedDuration, Timestamp, ToSpan, civil::Date, tz::TimeZone};
use kube::ResourceExt;
use ob_backup_operator::api::{
    BackupStrategy, BackupTask, BackupTaskPhase, RecoveryTask,
    backup_strategy::{BackupMethod, TenantBackupStatus},
    common::TimeWindow,
};

use crate::{
    drill_list::{Verified, verified},
    render::{Format, TimeFormat},
};

/// Cells per day: half hours.
const CELLS: i64 = 48;

/// The seven days ending with the day `now` falls on, moved by `week` weeks, in `zone`.
pub fn days(now: Timestamp, zone: &TimeZone, week: i32) -> Result<Vec<Date>, String> {
    let today = now.to_zoned(zone.clone()).date();
    let last = today
        .checked_add((i64::from(week) * 7).days())
        .map_err(|e| e.to_string())?;
    (0..7)
        .rev()
        .map(|back| {
            last.checked_sub(i64::from(back).days())
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// One tenant's timeline over `days`: a header of hours, then a line per day.
pub fn timeline(
    windows: &[TimeWindow],
    backups: &[Timestamp],
    verified: &[Timestamp],
    days: &[Date],
    zone: &TimeZone,
) -> Result<Vec<String>, String> {
    let mut lines = vec![format!(
        "{:<10} {}",
        "",
        (0..24)
            .step_by(3)
            .map(|h| format!("{h:<6}"))
            .collect::<String>()
            .trim_end()
    )];
    for day in days {
        let start = day
            .to_zoned(zone.clone())
            .map_err(|e| e.to_string())?
            .timestamp();
        let mut cells = String::new();
        for cell in 0..CELLS {
            let from = start + SignedDuration::from_mins(30 * cell);
            let to = from + SignedDuration::from_mins(30);
            let within = |points: &[Timestamp]| points.iter().any(|p| *p >= from && *p < to);
            let covered = windows.iter().any(|w| w.from.0 < to && w.to.0 > from);
            cells.push(match (within(backups), within(verified), covered) {
                (true, _, _) => '◆',
                (false, true, _) => '✓',
                (false, false, true) => '█',
                (false, false, false) => '·',
            });
        }
        lines.push(format!("{} {cells}", day.strftime("%a %m-%d")));
    }
    Ok(lines)
}

/// The points on `tenant`'s timeline: the end times of `strategy`'s Completed BackupTasks of it — or, for a
/// logical strategy, the data versions of the dumps it keeps (what a logical restore can load).
fn backups_of(strategy: &BackupStrategy, tasks: &[BackupTask], tenant: &str) -> Vec<Timestamp> {
    if strategy.spec.method == BackupMethod::Logical {
        return crate::restore_logical::kept(strategy, tasks, tenant, Timestamp::now())
            .iter()
            .map(|dump| dump.snapshot_at)
            .collect();
    }
    tasks
        .iter()
        .filter(|t| {
            t.spec.strategy_ref.as_ref().map(|r| r.name.as_str()) == Some(&strategy.name_any())
                && t.spec.tenant.eq_ignore_ascii_case(tenant)
        })
        .filter_map(|t| t.status.as_ref())
        .filter(|s| s.phase == Some(BackupTaskPhase::Completed))
        .filter_map(|s| s.ended_at.as_ref().map(|t| t.0))
        .collect()
}

/// The points `tenant`'s passed drills restored to that lie in one of its recoverable `windows`.
fn verified_in(
    strategy: &BackupStrategy,
    recoveries: &[RecoveryTask],
    tenant: &str,
    windows: &[TimeWindow],
) -> Vec<Verified> {
    verified(strategy, recoveries, tenant)
        .into_iter()
        .filter(|v| windows.iter().any(|w| w.from.0 <= v.at && v.at <= w.to.0))
        .collect()
}

/// The tenants of the overview shown: every one, or `tenant`.
fn shown<'a>(
    strategy: &'a BackupStrategy,
    tenant: Option<&str>,
) -> Result<Vec<&'a TenantBackupStatus>, String> {
    let lines: Vec<_> = strategy
        .status
        .iter()
        .flat_map(|s| &s.tenants)
        .filter(|t| tenant.is_none_or(|name| t.name.eq_ignore_ascii_case(name)))
        .collect();
    if !lines.is_empty() {
        return Ok(lines);
    }
    Err(match tenant {
        Some(name) => format!(
            "BackupStrategy {}'s overview shows no tenant {name}",
            strategy.name_any()
        ),
        None => format!(
            "BackupStrategy {}'s overview shows no tenant yet",
            strategy.name_any()
        ),
    })
}

/// The command: every tenant of the overview (or `tenant`) over the week `week`, with the points passed
/// drills (among `recoveries`) verified.
pub fn show(
    strategy: &BackupStrategy,
    tasks: &[BackupTask],
    recoveries: &[RecoveryTask],
    tenant: Option<&str>,
    week: i32,
    clock: &TimeFormat,
    format: Format,
) -> Result<String, String> {
    let lines = shown(strategy, tenant)?;
    if format != Format::Table {
        let tenants: Vec<_> = lines
            .iter()
            .map(|t| {
                let points = verified_in(strategy, recoveries, &t.name, &t.recoverable_windows);
                serde_json::json!({
                    "tenant": t.name,
                    "recoverableWindows": t.recoverable_windows,
                    "dataBackups": backups_of(strategy, tasks, &t.name)
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>(),
                    "verifiedPoints": points
                        .iter()
                        .map(|v| serde_json::json!({"time": v.at.to_string(), "task": v.task}))
                        .collect::<Vec<_>>(),
                })
            })
            .collect();
        return crate::render::list(&tenants, format);
    }
    let days = days(Timestamp::now(), &clock.zone, week)?;
    let mut text = String::new();
    // The cluster's line first (every tenant shown, at least two): when all of them can be restored.
    if tenant.is_none() && lines.len() > 1 && strategy.spec.method == BackupMethod::Physical {
        let every = TenantBackupStatus {
            name: format!("cluster {} (every tenant)", strategy.spec.cluster.name),
            recoverable_windows: common_windows(&lines),
            ..TenantBackupStatus::default()
        };
        text.push_str(&page(strategy, &every, &[], &[], &days, clock)?);
    }
    for line in lines {
        let backups = backups_of(strategy, tasks, &line.name);
        let points = verified_in(strategy, recoveries, &line.name, &line.recoverable_windows);
        text.push_str(&page(strategy, line, &backups, &points, &days, clock)?);
    }
    Ok(text)
}

/// The times every one of `lines` can be restored to: the intersection of their windows.
fn common_windows(lines: &[&TenantBackupStatus]) -> Vec<TimeWindow> {
    let mut common: Vec<TimeWindow> = lines
        .first()
        .map(|l| l.recoverable_windows.clone())
        .unwrap_or_default();
    for line in lines.iter().skip(1) {
        common = common
            .iter()
            .flat_map(|a| {
                line.recoverable_windows.iter().filter_map(move |b| {
                    let from = a.from.0.max(b.from.0);
                    let to = a.to.0.min(b.to.0);
                    (from <= to).then_some(TimeWindow {
                        from: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(from),
                        to: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(to),
                    })
                })
            })
            .collect();
    }
    common
}

/// One tenant's week: its title and legend, the timeline, and the verified points of the week.
fn page(
    strategy: &BackupStrategy,
    line: &TenantBackupStatus,
    backups: &[Timestamp],
    points: &[Verified],
    days: &[Date],
    clock: &TimeFormat,
) -> Result<String, String> {
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return Ok(String::new());
    };
    let mut legend = if strategy.spec.method == BackupMethod::Logical {
        "◆ a kept dump's data version (a logical restore loads one dump as taken)".to_string()
    } else {
        "█ recoverable  · gap  ◆ data backup".to_string()
    };
    if strategy.spec.restore_drill.is_some() || !points.is_empty() {
        legend.push_str("  ✓ verified by a drill");
    }
    let mut text = format!(
        "{} — {first} to {last} ({}): {legend}\n",
        line.name,
        clock.zone.iana_name().unwrap_or("local time")
    );
    let within = |day: &Date| -> Result<Timestamp, String> {
        Ok(day
            .to_zoned(clock.zone.clone())
            .map_err(|e| e.to_string())?
            .timestamp())
    };
    let (from, to) = (
        within(first)?,
        within(&last.tomorrow().map_err(|e| e.to_string())?)?,
    );
    let week: Vec<&Verified> = points
        .iter()
        .filter(|v| v.at >= from && v.at < to)
        .collect();
    let at: Vec<Timestamp> = week.iter().map(|v| v.at).collect();
    for row in timeline(&line.recoverable_windows, backups, &at, days, &clock.zone)? {
        text.push_str(&row);
        text.push('\n');
    }
    for point in week {
        text.push_str(&format!(
            "✓ verified {} by drill {}\n",
            clock.at(point.at),
            point.task
        ));
    }
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("time")
    }

    #[test]
    fn a_week_shows_windows_gaps_and_backups_by_half_hour() {
        let zone = TimeZone::UTC;
        let days = days(at("2026-11-25T07:00:00Z"), &zone, 0).expect("days");
        assert_eq!(
            days.first().map(ToString::to_string).as_deref(),
            Some("2026-11-19")
        );
        assert_eq!(
            days.last().map(ToString::to_string).as_deref(),
            Some("2026-11-25")
        );
        let before = super::days(at("2026-11-25T07:00:00Z"), &zone, -1).expect("days");
        assert_eq!(
            before.last().map(ToString::to_string).as_deref(),
            Some("2026-11-18")
        );
        let windows = [TimeWindow {
            from: Time(at("2026-11-24T12:00:00Z")),
            to: Time(at("2026-11-25T01:10:00Z")),
        }];
        let backups = [at("2026-11-24T12:00:00Z")];
        let lines = timeline(&windows, &backups, &[], &days, &zone).expect("timeline");
        assert_eq!(lines.len(), 8);
        assert!(
            lines[0].starts_with("           0     3     6"),
            "{:?}",
            lines[0]
        );
        let monday = &lines[6];
        assert!(monday.starts_with("Tue 11-24 "), "{monday}");
        let cells: Vec<char> = monday.chars().skip(10).collect();
        assert_eq!(cells[23], '·', "11:30 is before the window");
        assert_eq!(cells[24], '◆', "12:00 is the full backup");
        assert_eq!(cells[25], '█');
        assert_eq!(cells[47], '█');
        let wednesday: Vec<char> = lines[7].chars().skip(10).collect();
        assert_eq!(
            wednesday[..3],
            ['█', '█', '█'],
            "until 01:10 (a part of a cell counts)"
        );
        assert_eq!(wednesday[3], '·');
        assert!(
            lines[1].chars().skip(10).all(|c| c == '·'),
            "no window on the 19th"
        );
    }

    #[test]
    fn the_clusters_line_is_where_every_tenant_can_be_restored() {
        let window = |from: &str, to: &str| TimeWindow {
            from: Time(at(from)),
            to: Time(at(to)),
        };
        let line = |windows: Vec<TimeWindow>| TenantBackupStatus {
            recoverable_windows: windows,
            ..TenantBackupStatus::default()
        };
        let one = line(vec![
            window("2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z"),
            window("2026-11-22T00:00:00Z", "2026-11-25T00:00:00Z"),
        ]);
        let two = line(vec![window("2026-11-20T12:00:00Z", "2026-11-23T00:00:00Z")]);
        assert_eq!(
            common_windows(&[&one, &two]),
            [
                window("2026-11-20T12:00:00Z", "2026-11-21T00:00:00Z"),
                window("2026-11-22T00:00:00Z", "2026-11-23T00:00:00Z")
            ]
        );
        let none = line(Vec::new());
        assert!(common_windows(&[&one, &none]).is_empty());
    }

    #[test]
    fn a_logical_strategys_points_are_its_kept_dumps_data_versions() {
        use crate::fixtures::{logical_dump, logical_strategy};
        let now = Timestamp::now();
        let hours_ago = |h: i64| (now - SignedDuration::from_hours(h)).to_string();
        let tasks = [
            logical_dump("gone", "tenant1", &hours_ago(100), &hours_ago(99)),
            logical_dump("kept", "tenant1", &hours_ago(3), &hours_ago(2)),
        ];
        let points = backups_of(&logical_strategy(), &tasks, "tenant1");
        assert_eq!(
            points,
            [tasks[1]
                .status
                .as_ref()
                .and_then(|s| s.logical.as_ref())
                .and_then(|l| l.snapshot_time.as_ref())
                .map(|t| t.0)
                .expect("time")],
            "only the dump retention keeps, at its data version"
        );
    }

    #[test]
    fn a_point_a_passed_drill_restored_to_is_marked_verified() {
        use crate::fixtures::{drill_strategy, drill_task};
        use ob_backup_operator::drill::Asked;
        use serde_json::json;
        let now = Timestamp::now()
            .round(jiff::Unit::Second)
            .expect("a second");
        let ago = |h: i64| (now - SignedDuration::from_hours(h)).to_string();
        let mut strategy = drill_strategy(json!({}));
        strategy.status = serde_json::from_value(json!({"tenants": [{"name": "tenant1",
            "recoverableWindows": [{"from": ago(30), "to": ago(1)}]}]}))
        .expect("a status");
        let drill = |at: &str, phase: &str, verdict: &str, point: String| {
            drill_task(
                &strategy,
                "tenant1",
                at,
                Asked::Schedule,
                json!({"phase": phase,
                "recoveryTime": point, "drill": {"verdict": verdict}}),
            )
        };
        let drills = [
            drill("2026-11-20T03:00:00Z", "Completed", "Passed", ago(5)),
            drill("2026-11-21T03:00:00Z", "Failed", "Failed", ago(4)),
            // Passed, but its point lies outside every window now (cleaned up since).
            drill("2026-11-22T03:00:00Z", "Completed", "Passed", ago(40)),
        ];
        let clock = TimeFormat::new(true);
        let text = show(
            &strategy,
            &[],
            &drills,
            Some("tenant1"),
            0,
            &clock,
            Format::Table,
        )
        .expect("shown");
        assert!(
            text.lines()
                .next()
                .is_some_and(|l| l.ends_with("◆ data backup  ✓ verified by a drill")),
            "{text}"
        );
        let verified: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("✓ verified"))
            .collect();
        let point = now - SignedDuration::from_hours(5);
        assert_eq!(
            verified,
            [format!(
                "✓ verified {} by drill demo-tenant1-drill-20261120-030000",
                clock.at(point)
            )]
        );
        assert_eq!(
            text.matches('✓').count(),
            3,
            "the legend, one cell, one line: {text}"
        );
        let json = show(&strategy, &[], &drills, None, 0, &clock, Format::Json).expect("json");
        let list: serde_json::Value = serde_json::from_str(&json).expect("parses");
        assert_eq!(
            list["items"][0]["verifiedPoints"],
            json!([{"time": point.to_string(), "task": "demo-tenant1-drill-20261120-030000"}])
        );
    }
}
