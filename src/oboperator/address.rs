//! Where an ob-operator cluster answers: ob-operator publishes no address for a cluster, so the operator does
//! as ob-operator itself does — the OBServers labelled with the OBCluster's name, running ones first, each at
//! its Service IP or else its pod IP, on the SQL port.

use kube::api::DynamicObject;

use super::{CLUSTER_LABEL, SQL_PORT, text};

/// One OBServer's SQL address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub host: String,
    pub port: u16,
    /// Whether ob-operator says the OBServer is running.
    pub running: bool,
}

/// The addresses of the OBServers of OBCluster `cluster` among `servers` (any namespace filter is the
/// caller's): running ones first, then by name, so that every process tries them in one order.
pub fn addresses<'a>(
    servers: impl IntoIterator<Item = &'a DynamicObject>,
    cluster: &str,
) -> Vec<Address> {
    let mut found: Vec<(bool, String, Address)> = servers
        .into_iter()
        .filter(|s| {
            s.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(CLUSTER_LABEL))
                .map(String::as_str)
                == Some(cluster)
        })
        .filter_map(|s| {
            let host =
                text(s, &["status", "serviceIp"]).or_else(|| text(s, &["status", "podIp"]))?;
            let running = text(s, &["status", "status"]) == Some("running");
            let name = s.metadata.name.clone().unwrap_or_default();
            Some((
                !running,
                name,
                Address {
                    host: host.to_string(),
                    port: SQL_PORT,
                    running,
                },
            ))
        })
        .collect();
    found.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    found.into_iter().map(|(_, _, address)| address).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oboperator::{Kind, object};

    fn server(name: &str, cluster: &str, status: serde_json::Value) -> DynamicObject {
        let mut s = object(
            Kind::ObServer,
            "ns",
            name,
            serde_json::json!({ "status": status }),
        );
        s.metadata.labels = Some([(CLUSTER_LABEL.to_string(), cluster.to_string())].into());
        s
    }

    #[test]
    fn running_observers_come_first_at_their_service_ip_else_their_pod_ip() {
        let servers = [
            server(
                "a",
                "test",
                serde_json::json!({"status": "restarting", "podIp": "10.0.0.1"}),
            ),
            server(
                "b",
                "test",
                serde_json::json!({"status": "running", "podIp": "10.0.0.2"}),
            ),
            server(
                "c",
                "test",
                serde_json::json!({"status": "running", "podIp": "10.0.0.3", "serviceIp": "10.96.0.3"}),
            ),
            server(
                "d",
                "other",
                serde_json::json!({"status": "running", "podIp": "10.0.0.4"}),
            ),
            server("e", "test", serde_json::json!({"status": "new"})),
        ];
        let hosts: Vec<(String, bool)> = addresses(&servers, "test")
            .into_iter()
            .map(|a| (a.host, a.running))
            .collect();
        assert_eq!(
            hosts,
            [
                ("10.0.0.2".to_string(), true),
                ("10.96.0.3".to_string(), true),
                ("10.0.0.1".to_string(), false)
            ]
        );
        assert!(addresses(&servers, "none").is_empty());
    }
}
