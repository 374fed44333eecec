//! Copies the vendored etcd binary to the path given as the only argument.
use std::{env, fs, os::unix::fs::PermissionsExt, process::ExitCode};

fn main() -> ExitCode {
    let Some(target) = env::args().nth(1) else {
        eprintln!("usage: etcd-extract <target-path>");
        return ExitCode::from(2);
    };
    let copy = etcd_bin_vendored::etcd_bin_path()
        .map_err(|e| e.to_string())
        .and_then(|source| fs::copy(source, &target).map_err(|e| e.to_string()))
        .and_then(|_| {
            fs::set_permissions(&target, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())
        });
    match copy {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("etcd-extract: {e}");
            ExitCode::FAILURE
        }
    }
}
