//! Running `kubectl obbackup` (the binary this test run built) in a world's namespace.

use std::process::{Command, Output};

use super::world::World;

/// The plugin this test run built.
pub const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-obbackup");

/// Runs the plugin in the world's namespace, times in UTC, on a blocking thread: obsim answers on the
/// test's runtime meanwhile.
pub async fn run(world: &World, args: &[&str]) -> Output {
    spawn(world, args).await.expect("joined")
}

/// Starts the plugin as [`run`] does, for a test that acts while it runs (a `--wait` that ends on what the
/// test does).
pub fn spawn(world: &World, args: &[&str]) -> tokio::task::JoinHandle<Output> {
    let mut command = Command::new(PLUGIN);
    command
        .args(["-n", &world.namespace, "--utc"])
        .args(args)
        .env("KUBECONFIG", world.plane.admin_kubeconfig());
    tokio::task::spawn_blocking(move || command.output().expect("run the plugin"))
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The items of the `List` a run printed with `-o json` (or `-o yaml`), as raw objects; the run must have
/// succeeded and printed nothing but the document on stdout.
pub fn items(output: &Output) -> Vec<serde_json::Value> {
    assert!(output.status.success(), "{output:?}");
    let list: serde_json::Value =
        serde_norway::from_slice(&output.stdout).expect("one JSON or YAML document on stdout");
    assert_eq!(list["kind"], "List", "{list}");
    list["items"].as_array().cloned().unwrap_or_default()
}

/// The one item of a `List` a run printed, as a `T`.
pub fn only<T: serde::de::DeserializeOwned>(output: &Output) -> T {
    let items = items(output);
    assert_eq!(items.len(), 1, "{items:?}");
    serde_json::from_value(items[0].clone()).expect("the API type")
}
