//! Resource units and pools (docs/reference/oceanbase-interface.md §6.1): what a restore's tenant
//! runs on. `CREATE RESOURCE UNIT`, `CREATE RESOURCE POOL`, `DROP RESOURCE POOL|UNIT`, with
//! OceanBase's error numbers.

use super::Cluster;
use crate::error::SqlError;

/// A resource unit config (`CREATE RESOURCE UNIT`), sizes in bytes as `DBA_OB_UNIT_CONFIGS` shows them.
#[derive(Clone, Debug)]
pub struct ResourceUnit {
    pub name: String,
    pub max_cpu: f64,
    /// `MIN_CPU`, `MAX_CPU` when not given.
    pub min_cpu: f64,
    pub memory_size: i64,
    /// `LOG_DISK_SIZE`; three times the memory when not given (OceanBase's default).
    pub log_disk_size: i64,
}

/// A size as `CREATE RESOURCE UNIT` takes it — bytes, or a number with `K`, `M`, `G`, `T` (optionally
/// followed by `B`) — in bytes.
pub fn parse_size(text: &str) -> Option<i64> {
    let upper = text.trim().trim_matches('\'').to_uppercase();
    let digits = upper.trim_end_matches('B');
    let (number, shift) = match digits.chars().last()? {
        'K' => (&digits[..digits.len() - 1], 10),
        'M' => (&digits[..digits.len() - 1], 20),
        'G' => (&digits[..digits.len() - 1], 30),
        'T' => (&digits[..digits.len() - 1], 40),
        _ => (digits, 0),
    };
    let value: f64 = number.trim().parse().ok()?;
    (value >= 0.0).then(|| (value * (1u64 << shift) as f64) as i64)
}

/// A resource pool (`CREATE RESOURCE POOL`).
#[derive(Clone, Debug)]
pub struct ResourcePool {
    pub name: String,
    pub unit: String,
    pub unit_num: i64,
    pub zones: Vec<String>,
    /// The tenant the pool is granted to.
    pub tenant_id: Option<i64>,
}

impl Cluster {
    /// `CREATE RESOURCE UNIT [IF NOT EXISTS] u MAX_CPU = n, MEMORY_SIZE = m[, LOG_DISK_SIZE = l …]` (§6.1);
    /// errors from ob_errno.def at 017bf592 (−4649).
    pub fn create_unit(
        &mut self,
        name: &str,
        if_not_exists: bool,
        options: &[(String, String)],
    ) -> Result<(), SqlError> {
        if self.restores.units.iter().any(|u| u.name == name) {
            return exists_unless(
                if_not_exists,
                4649,
                format!("resource unit '{name}' already exist"),
            );
        }
        let option = |key: &str| {
            options
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        let invalid = || SqlError::oceanbase(1210, "Invalid argument");
        let cpu = |key: &str| option(key).map(|v| v.trim().trim_matches('\'').parse::<f64>());
        let size = |key: &str| option(key).map(|v| parse_size(&v).ok_or_else(invalid));
        let (Some(Ok(max_cpu)), Some(memory_size)) = (cpu("MAX_CPU"), size("MEMORY_SIZE")) else {
            return Err(invalid());
        };
        let memory_size = memory_size?;
        let min_cpu = match cpu("MIN_CPU") {
            Some(parsed) => parsed.map_err(|_| invalid())?,
            None => max_cpu,
        };
        let log_disk_size = size("LOG_DISK_SIZE")
            .transpose()?
            .unwrap_or(3 * memory_size);
        self.restores.units.push(ResourceUnit {
            name: name.to_string(),
            max_cpu,
            min_cpu,
            memory_size,
            log_disk_size,
        });
        Ok(())
    }

    /// `CREATE RESOURCE POOL [IF NOT EXISTS] p UNIT = 'u', UNIT_NUM = n, ZONE_LIST = (…)` (§6.1).
    pub fn create_pool(
        &mut self,
        name: &str,
        if_not_exists: bool,
        options: &[(String, String)],
    ) -> Result<(), SqlError> {
        if self.restores.pools.iter().any(|p| p.name == name) {
            return exists_unless(if_not_exists, 4651, format!("resource pool '{name}' exist"));
        }
        let option = |key: &str| {
            options
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        let Some(unit) = option("UNIT") else {
            return Err(SqlError::oceanbase(1210, "Invalid argument"));
        };
        if !self.restores.units.iter().any(|u| u.name == unit) {
            return Err(SqlError::oceanbase(
                4648,
                format!("resource unit '{unit}' not exist"),
            ));
        }
        let unit_num = option("UNIT_NUM")
            .map(|n| {
                n.parse()
                    .map_err(|_| SqlError::oceanbase(1210, "Invalid argument"))
            })
            .transpose()?
            .unwrap_or(1);
        self.restores.pools.push(ResourcePool {
            name: name.to_string(),
            unit,
            unit_num,
            zones: option("ZONE_LIST")
                .map(|z| z.split(';').map(String::from).collect())
                .unwrap_or_else(|| vec!["zone1".to_string()]),
            tenant_id: None,
        });
        Ok(())
    }

    /// `DROP RESOURCE POOL | UNIT [IF EXISTS] name`: a granted pool (−4626) or a unit a pool uses (−4634)
    /// stays.
    pub fn drop_resource(
        &mut self,
        pool: bool,
        name: &str,
        if_exists: bool,
    ) -> Result<(), SqlError> {
        let restores = &mut self.restores;
        if pool {
            let Some(index) = restores.pools.iter().position(|p| p.name == name) else {
                return exists_unless(if_exists, 4650, format!("resource pool '{name}' not exist"));
            };
            if restores.pools[index].tenant_id.is_some() {
                return Err(SqlError::oceanbase(
                    4626,
                    format!("resource pool '{name}' has already been granted to a tenant"),
                ));
            }
            restores.pools.remove(index);
            return Ok(());
        }
        let Some(index) = restores.units.iter().position(|u| u.name == name) else {
            return exists_unless(if_exists, 4648, format!("resource unit '{name}' not exist"));
        };
        if restores.pools.iter().any(|p| p.unit == name) {
            return Err(SqlError::oceanbase(
                4634,
                format!("resource unit '{name}' is referenced by some resource pool"),
            ));
        }
        restores.units.remove(index);
        Ok(())
    }
}

/// Success when the statement said IF [NOT] EXISTS, else the error.
fn exists_unless(tolerated: bool, code: u16, message: String) -> Result<(), SqlError> {
    if tolerated {
        Ok(())
    } else {
        Err(SqlError::oceanbase(code, message))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn unit_sizes_read_as_bytes() {
        assert_eq!(parse_size("'4G'"), Some(4 << 30));
        assert_eq!(parse_size("12GB"), Some(12 << 30));
        assert_eq!(parse_size("512m"), Some(512 << 20));
        assert_eq!(parse_size("1.5G"), Some(3 << 29));
        assert_eq!(parse_size("1073741824"), Some(1 << 30));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("-1G"), None);
    }
}
