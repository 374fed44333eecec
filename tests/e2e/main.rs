//! The integration tests, one binary: every module a part of the product tried as a user would — against a
//! real kube-apiserver (started by `scripts/test.sh`; skipped with a printed reason without one, failed
//! under `REQUIRE_K8S=1`), obsim over the MySQL protocol, and the real tools named in `tools/`. The offline
//! ones (CRD schemas, the chart rendered, the randomized decisions) run in plain `cargo test` too.

mod apiserver_admission;
mod apiserver_operator;
mod chart;
mod cleanup;
mod cluster_overview;
mod crash_matrix;
mod crd_schema;
mod destination_recheck;
mod dr_restore;
mod drill;
mod drill_logical;
mod external;
mod gitops;
mod handover;
mod image;
mod lifecycle;
mod log_delay;
mod logical_backup;
mod logical_retention;
mod ob_operator;
mod obtenant_login;
mod oceanbase_client;
mod outage;
mod ownership;
mod plugin;
mod plugin_actions;
mod plugin_cluster;
mod plugin_console;
mod prometheus;
mod randomized;
mod randomized_cluster;
mod recovery;
mod second_actions;
mod second_backup;
mod second_owners;
mod second_restore;
mod second_verify;
mod shards;
mod storage;
mod strategy;
mod support;
mod window_hole;
