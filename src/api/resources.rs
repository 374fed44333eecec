//! The resources a restore gives the tenant it creates: an existing pool, or a pool the operator creates from
//! an existing or new unit config (a RecoveryTask's `target.resources`, a restore drill's too).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::common::identifier_rule;

/// The resource pool of the new tenant: an existing pool, or a pool created from an existing or new unit.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("[has(self.poolName), has(self.unitName), has(self.unit)].filter(x, x).size() == 1")
        .message("set exactly one of resources.poolName, resources.unitName or resources.unit"),
    validation = Rule::new("has(self.poolName) || (has(self.zones) && size(self.zones) > 0)")
        .message("resources.zones is required unless resources.poolName names an existing pool")
)]
pub struct TenantResources {
    /// An existing, unused resource pool to restore into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = identifier_rule("poolName"))]
    pub pool_name: Option<String>,
    /// An existing resource unit config; the operator creates a pool named after the task from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = identifier_rule("unitName"))]
    pub unit_name: Option<String>,
    /// A new resource unit config; the operator creates it and a pool, both named after the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<UnitSpec>,
    /// Units per zone.
    #[serde(default = "default_unit_num")]
    #[schemars(range(min = 1, max = 1024))]
    pub unit_num: i32,
    /// Zones of the pool, e.g. `[zone1, zone2, zone3]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(min = 1, max = 128)))]
    #[x_kube(validation = Rule::new("self.all(z, z.matches('^[A-Za-z_][A-Za-z0-9_]*$'))").message("each zone must be an OceanBase name: a letter or underscore, then letters, digits or underscores"))]
    pub zones: Vec<String>,
}

fn default_unit_num() -> i32 {
    1
}

/// A resource unit config (`CREATE RESOURCE UNIT`).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnitSpec {
    /// CPU cores per unit (MAX_CPU), at least 1.
    #[x_kube(validation = Rule::new("self >= 1.0").message("unit.maxCpu must be at least 1"))]
    pub max_cpu: f64,
    /// Memory per unit (MEMORY_SIZE), e.g. `4G` or `8G`.
    #[schemars(length(min = 1, max = 16))]
    #[x_kube(validation = Rule::new(SIZE_RULE).message("unit.memorySize must be a size such as 4G, 512M or 1T"))]
    pub memory_size: String,
    /// Log disk per unit (LOG_DISK_SIZE), e.g. `12G`. OceanBase's default applies when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 16))]
    #[x_kube(validation = Rule::new(SIZE_RULE).message("unit.logDiskSize must be a size such as 12G, 512M or 1T"))]
    pub log_disk_size: Option<String>,
}

/// CEL: an OceanBase capacity such as `4G`.
const SIZE_RULE: &str = "self.matches('^[1-9][0-9]*[MGT]$')";
