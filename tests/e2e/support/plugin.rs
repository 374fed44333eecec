//! Running `kubectl obbackup` (the binary this test run built) in a world's namespace.

use std::process::{Command, Output};

use super::world::World;

/// The plugin this test run built.
pub const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-obbackup");

/// Runs the plugin in the world's namespace, times in UTC, on a blocking thread: obsim answers on the
/// test's runtime meanwhile.
pub async fn run(world: &World, args: &[&str]) -> Output {
    let mut command = Command::new(PLUGIN);
    command
        .args(["-n", &world.namespace, "--utc"])
        .args(args)
        .env("KUBECONFIG", world.plane.admin_kubeconfig());
    tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("joined")
        .expect("run the plugin")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
