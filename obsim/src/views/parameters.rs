//! `GV$OB_PARAMETERS`: the configuration parameters of every observer (obsim has one), as ob-operator and the
//! operator read a cluster's identity from it (`cluster`, `cluster_id`), plus each tenant's `compatible`.
//! `SHOW PARAMETERS` answers from the same rows.
//!
//! Its columns are declared here, not in `obsim/schema/`: those files hold only `desc` output read from a
//! real server's regression results, and `GV$OB_PARAMETERS` was not among the views read. The column names,
//! order and kinds are OceanBase 4.x's; the widths of its varchars are obsim's guess.

use crate::{
    model::{Cluster, SERVER_ADDRESS, TenantType},
    sql::value::{Column, ColumnKind, SqlType, Table, Value},
    tenancy::SYS_TENANT_ID,
};

/// The view's name.
pub const VIEW: &str = "GV$OB_PARAMETERS";

/// Name, type as `desc` would print it, nullable.
const COLUMNS: [(&str, &str, bool); 13] = [
    ("SVR_IP", "varchar(46)", false),
    ("SVR_PORT", "bigint(20)", false),
    ("ZONE", "varchar(128)", false),
    ("SCOPE", "varchar(64)", false),
    ("TENANT_ID", "bigint(20)", true),
    ("NAME", "varchar(128)", false),
    ("DATA_TYPE", "varchar(128)", true),
    ("VALUE", "varchar(65536)", false),
    ("INFO", "varchar(4096)", false),
    ("SECTION", "varchar(128)", false),
    ("EDIT_LEVEL", "varchar(128)", false),
    ("DEFAULT_VALUE", "varchar(65536)", false),
    ("ISDEFAULT", "varchar(3)", false),
];

/// One parameter of the observer.
struct Parameter {
    /// `None`: cluster scope; else the tenant's id.
    tenant_id: Option<i64>,
    name: &'static str,
    data_type: &'static str,
    value: String,
    info: &'static str,
    section: &'static str,
    edit_level: &'static str,
    default_value: &'static str,
}

/// The parameters of the cluster a session of `tenant_id` sees: every one in sys; the cluster's and its own
/// in a user tenant.
fn parameters(cluster: &Cluster, tenant_id: i64) -> Vec<Parameter> {
    let mut all = vec![
        Parameter {
            tenant_id: None,
            name: "cluster",
            data_type: "STRING",
            value: cluster.name.clone(),
            info: "Name of the cluster",
            section: "OBSERVER",
            edit_level: "READONLY",
            default_value: "obcluster",
        },
        Parameter {
            tenant_id: None,
            name: "cluster_id",
            data_type: "INT",
            value: cluster.cluster_id.to_string(),
            info: "ID of the cluster",
            section: "OBSERVER",
            edit_level: "READONLY",
            default_value: "0",
        },
    ];
    let tenants = cluster.tenants.iter().filter(|t| {
        t.kind != TenantType::Meta && (tenant_id == SYS_TENANT_ID || t.id == tenant_id)
    });
    all.extend(tenants.map(|t| Parameter {
        tenant_id: Some(t.id),
        name: "compatible",
        data_type: "VERSION",
        value: cluster.version.to_string(),
        info: "compatible version for persisted data",
        section: "TENANT",
        edit_level: "DYNAMIC_EFFECTIVE",
        default_value: "",
    }));
    all
}

/// The observer's address and zone.
fn server() -> (String, i64) {
    let (ip, port) = SERVER_ADDRESS
        .rsplit_once(':')
        .unwrap_or((SERVER_ADDRESS, ""));
    (ip.to_string(), port.parse().unwrap_or_default())
}

/// `GV$OB_PARAMETERS` as a session of `tenant_id` sees it.
pub fn table(cluster: &Cluster, tenant_id: i64) -> Table {
    let columns = COLUMNS
        .iter()
        .map(|(name, ty, nullable)| match SqlType::parse(ty) {
            Some(ty) => Column::declared(*name, ty, *nullable),
            None => Column::new(*name, ColumnKind::Text),
        })
        .collect();
    let (ip, port) = server();
    let rows = parameters(cluster, tenant_id)
        .into_iter()
        .map(|p| {
            let text = |s: &str| Value::Text(s.to_string());
            let scope = if p.tenant_id.is_some() {
                "TENANT"
            } else {
                "CLUSTER"
            };
            let is_default = if p.value == p.default_value {
                "YES"
            } else {
                "NO"
            };
            vec![
                text(&ip),
                Value::Int(port),
                text("zone1"),
                text(scope),
                p.tenant_id.map_or(Value::Null, Value::Int),
                text(p.name),
                text(p.data_type),
                Value::Text(p.value),
                text(p.info),
                text(p.section),
                text(p.edit_level),
                text(p.default_value),
                text(is_default),
            ]
        })
        .collect();
    Table { columns, rows }
}

/// `SHOW PARAMETERS` as a session of `tenant_id` sees it: OceanBase 4.x's columns, from the view's rows.
pub fn show(cluster: &Cluster, tenant_id: i64) -> Table {
    let view = table(cluster, tenant_id);
    let from = |name: &str| view.column_index(name);
    let spec: [(&str, Option<usize>); 14] = [
        ("zone", from("ZONE")),
        ("svr_type", None),
        ("svr_ip", from("SVR_IP")),
        ("svr_port", from("SVR_PORT")),
        ("name", from("NAME")),
        ("data_type", from("DATA_TYPE")),
        ("value", from("VALUE")),
        ("info", from("INFO")),
        ("section", from("SECTION")),
        ("scope", from("SCOPE")),
        ("source", None),
        ("edit_level", from("EDIT_LEVEL")),
        ("default_value", from("DEFAULT_VALUE")),
        ("isdefault", from("ISDEFAULT")),
    ];
    let columns = spec
        .iter()
        .map(|(name, source)| {
            let kind = source.map_or(ColumnKind::Text, |i| view.columns[i].kind);
            Column::new(*name, kind)
        })
        .collect();
    let rows = view
        .rows
        .iter()
        .map(|row| {
            spec.iter()
                .map(|(name, source)| match source {
                    Some(i) => row[*i].clone(),
                    None if *name == "svr_type" => Value::Text("observer".into()),
                    None => Value::Text("DEFAULT".into()),
                })
                .collect()
        })
        .collect();
    Table { columns, rows }
}

/// The column `SHOW PARAMETERS LIKE` matches.
pub const SHOW_LIKE_COLUMN: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{clock::Clock, model::Version};

    fn cluster() -> Cluster {
        let mut cluster = Cluster::new(
            "c1",
            Version::V4_4_1,
            "pw",
            Clock::new(jiff::Timestamp::UNIX_EPOCH, 0.0),
        );
        cluster.add_user_tenant("t1", 1).expect("t1");
        cluster.add_user_tenant("t2", 1).expect("t2");
        cluster
    }

    #[test]
    fn sys_sees_every_parameter_a_tenant_the_clusters_and_its_own() {
        let cluster = cluster();
        let names = |table: &Table| -> Vec<(Value, Value)> {
            table
                .rows
                .iter()
                .map(|r| (r[4].clone(), r[5].clone()))
                .collect()
        };
        let sys = table(&cluster, SYS_TENANT_ID);
        assert_eq!(sys.columns.len(), 13);
        assert_eq!(
            names(&sys).len(),
            5,
            "cluster, cluster_id, compatible of sys, t1, t2"
        );
        assert_eq!(sys.rows[1][7], Value::Text(cluster.cluster_id.to_string()));
        let t1 = table(&cluster, 1002);
        assert_eq!(
            names(&t1),
            [
                (Value::Null, Value::Text("cluster".into())),
                (Value::Null, Value::Text("cluster_id".into())),
                (Value::Int(1002), Value::Text("compatible".into())),
            ]
        );
        let shown = show(&cluster, 1002);
        assert_eq!(shown.columns[SHOW_LIKE_COLUMN].name, "name");
        assert_eq!(
            shown.rows[0][SHOW_LIKE_COLUMN],
            Value::Text("cluster".into())
        );
    }
}
