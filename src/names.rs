//! The names the operator gives the objects it creates for a strategy.

/// Every restore drill's scratch tenant's name begins so (docs/guide/restore-drills.md): such a tenant is
/// never one of "every tenant of the cluster", and a drill drops only a tenant of such a name that its own
/// restore made.
pub const SCRATCH_PREFIX: &str = "drill_";

/// Whether `tenant` is a restore drill's scratch tenant (OceanBase tenant names ignore case).
pub fn is_scratch(tenant: &str) -> bool {
    tenant
        .get(..SCRATCH_PREFIX.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(SCRATCH_PREFIX))
}

/// Whether a job's `DESCRIPTION` is one this operator writes: the UID of the object that started it (a
/// BackupTask's), optionally followed by `-<attempt>` (a RecoveryTask's). Any other description — none, or
/// whatever SQL, OCP or another tool wrote — marks a job started elsewhere, which a strategy mirrors
/// (docs/guide/external-jobs.md).
pub fn started_here(description: &str) -> bool {
    let (uid, attempt) = match description.get(36..) {
        Some("") => (description, None),
        Some(rest) => (&description[..36], Some(rest)),
        None => return false,
    };
    let uid_shaped = uid.char_indices().all(|(i, c)| match i {
        8 | 13 | 18 | 23 => c == '-',
        _ => c.is_ascii_hexdigit() && !c.is_ascii_uppercase(),
    });
    let attempt_shaped = attempt.is_none_or(|rest| {
        rest.strip_prefix('-')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    });
    uid_shaped && attempt_shaped
}

/// Label on every child of a strategy: the strategy that made it.
pub const STRATEGY_LABEL: &str = "obbackup.dev/strategy";

/// An OceanBase name (letters, digits, `_`) in the form a Kubernetes name takes: lower case, `-` for `_`.
pub fn dns_form(name: &str) -> String {
    name.to_lowercase().replace('_', "-")
}

/// The name of a strategy's child for a tenant: `<strategy>-<tenant>-<suffix>`, with the tenant in DNS form.
/// A name is at most 253 characters; the part that makes it unique (tenant and suffix) is kept whole.
pub fn child_name(strategy: &str, tenant: &str, suffix: &str) -> String {
    let tenant = dns_form(tenant);
    let room = 253usize.saturating_sub(suffix.len() + tenant.len() + 2);
    let strategy: String = strategy.chars().take(room).collect();
    format!(
        "{}-{tenant}-{suffix}",
        strategy.trim_end_matches(['-', '.'])
    )
}

/// The name of strategy `strategy`'s LogBackup for `tenant`.
pub fn log_backup_name(strategy: &str, tenant: &str) -> String {
    child_name(strategy, tenant, "log")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_uid_with_an_optional_attempt_is_a_description_of_ours() {
        let uid = "0f6a3c1e-8b2d-4c7a-9e10-55aa66bb77cc";
        assert!(started_here(uid));
        assert!(started_here(&format!("{uid}-0")));
        assert!(started_here(&format!("{uid}-12")));
        for other in [
            "",
            "nightly",
            "0F6A3C1E-8B2D-4C7A-9E10-55AA66BB77CC",
            "0f6a3c1e-8b2d-4c7a-9e10-55aa66bb77c",
            "0f6a3c1e_8b2d-4c7a-9e10-55aa66bb77cc",
            "0f6a3c1e-8b2d-4c7a-9e10-55aa66bb77cc-",
            "0f6a3c1e-8b2d-4c7a-9e10-55aa66bb77cc-x",
            "0f6a3c1e-8b2d-4c7a-9e10-55aa66bb77ccd",
            "ocp-0f6a3c1e-8b2d-4c7a-9e10-55aa66bb77cc",
            "0f6a3c1e-8b2d-4c7a-9e10-55aa66bb77c\u{e9}",
        ] {
            assert!(!started_here(other), "{other:?}");
        }
    }
}
