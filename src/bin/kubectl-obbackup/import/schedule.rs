//! The policy's crontabs as a BackupStrategy's schedule: their zone (`CRON_TZ=` or `TZ=`, else
//! ob-operator's image's) made explicit, their expressions checked against what our schedule takes.

use kube::api::DynamicObject;
use ob_backup_operator::{api::backup_strategy::BackupSchedule, oboperator::text, schedule};

/// The zone ob-operator's image evaluates crontabs in (its `/etc/localtime`) when they name none.
pub const OB_OPERATOR_ZONE: &str = "Asia/Shanghai";

/// A crontab split into its zone (`CRON_TZ=Z ` or `TZ=Z `, as robfig/cron reads it) and its expression.
pub fn split_zone(crontab: &str) -> (Option<&str>, &str) {
    let crontab = crontab.trim();
    if !(crontab.starts_with("CRON_TZ=") || crontab.starts_with("TZ=")) {
        return (None, crontab);
    }
    match (crontab.find('='), crontab.find(' ')) {
        (Some(eq), Some(space)) if eq < space => {
            (Some(&crontab[eq + 1..space]), crontab[space..].trim())
        }
        _ => (Some(&crontab[crontab.find('=').map_or(0, |e| e + 1)..]), ""),
    }
}

/// A crontab's expression, if our schedule takes it (`field` names it in the refusal).
fn expression(field: &str, expression: &str) -> Result<String, String> {
    if expression.starts_with("@every") {
        return Err(format!(
            "{field} {expression:?}: an interval (@every) has no equivalent in a BackupStrategy's schedule; \
             use a cron expression"
        ));
    }
    let macros = [
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
    ];
    let shape = if expression.starts_with('@') {
        macros.contains(&expression)
    } else {
        let fields: Vec<&str> = expression.split_whitespace().collect();
        fields.len() == 5
            && fields.iter().all(|f| {
                f.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "*?/,#-".contains(c))
            })
    };
    if !shape {
        return Err(format!(
            "{field} {expression:?} is not a 5-field cron expression or one of {}",
            macros.join(", ")
        ));
    }
    schedule::parse_cron(expression).map_err(|e| format!("{field} {expression:?}: {e}"))?;
    Ok(expression.to_string())
}

/// Whether our schedule takes `zone` (an IANA name the bundled database knows, as the CRD spells them).
fn zone_taken(zone: &str) -> bool {
    let spelled = zone == "UTC"
        || zone.split_once('/').is_some_and(|(area, rest)| {
            area.starts_with(|c: char| c.is_ascii_alphabetic())
                && rest.split('/').count() <= 2
                && zone
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_+-/".contains(c))
        });
    spelled && schedule::time_zone(zone).is_ok()
}

/// `spec.schedule` from the crontabs: their zone made explicit.
pub(super) fn schedule_of(
    policy: &DynamicObject,
    flag: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<BackupSchedule, String> {
    let full = text(policy, &["spec", "dataBackup", "fullCrontab"])
        .ok_or("dataBackup.fullCrontab is empty: a BackupStrategy needs a full backup schedule")?;
    let incremental = text(policy, &["spec", "dataBackup", "incrementalCrontab"]);
    let implicit = flag.unwrap_or(OB_OPERATOR_ZONE);
    let mut zones: Vec<(&str, String)> = Vec::new();
    let mut unzoned = false;
    let mut read = |field: &'static str, crontab: &str| -> Result<String, String> {
        let (zone, rest) = split_zone(crontab);
        unzoned |= zone.is_none();
        let zone = zone.unwrap_or(implicit);
        if !zone_taken(zone) {
            return Err(format!(
                "{field}: time zone {zone:?} is not an IANA time zone name"
            ));
        }
        zones.push((field, zone.to_string()));
        expression(field, rest)
    };
    let full = read("dataBackup.fullCrontab", full)?;
    let incremental = incremental
        .map(|c| read("dataBackup.incrementalCrontab", c))
        .transpose()?;
    let time_zone = zones
        .first()
        .map_or(implicit, |(_, z)| z.as_str())
        .to_string();
    if let Some((field, zone)) = zones.iter().find(|(_, z)| *z != time_zone) {
        return Err(format!(
            "{field} runs in {zone} but dataBackup.fullCrontab in {time_zone}: a BackupStrategy has one \
             schedule.timeZone"
        ));
    }
    match flag {
        None if unzoned => notes.push(format!(
            "schedule.timeZone: {OB_OPERATOR_ZONE}, the zone ob-operator's image evaluates crontabs in \
             (set --time-zone if its Deployment sets TZ)"
        )),
        Some(zone) if !unzoned && zone != time_zone => notes.push(format!(
            "--time-zone {zone} is not used: the policy's crontabs name {time_zone}"
        )),
        _ => {}
    }
    if incremental.is_none() {
        notes.push(
            "dataBackup.incrementalCrontab is empty: the strategy takes full backups only".into(),
        );
    }
    notes.push(
        "schedule.startingDeadlineSeconds: 3600 (ob-operator runs an overdue backup at once, whenever)"
            .into(),
    );
    Ok(BackupSchedule {
        time_zone,
        full,
        incremental,
        starting_deadline_seconds: 3600,
    })
}
