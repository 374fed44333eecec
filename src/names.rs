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
