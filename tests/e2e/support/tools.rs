//! The test-only tools `scripts/test.sh` builds from package registries and names in variables.

use std::path::PathBuf;

/// The tool `variable` names; without it the test is skipped, saying so — or fails under `REQUIRE_K8S=1`.
pub fn built(variable: &str, tool: &str) -> Option<PathBuf> {
    match std::env::var_os(variable) {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            assert!(
                std::env::var("REQUIRE_K8S").as_deref() != Ok("1"),
                "REQUIRE_K8S=1 but {variable} is not set: run the tests through scripts/test.sh"
            );
            eprintln!("skipped: {variable} is not set (scripts/test.sh builds {tool})");
            None
        }
    }
}
