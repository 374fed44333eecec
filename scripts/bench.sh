#!/usr/bin/env bash
# The operator's benchmark (benches/operator.rs): SQL round trips per observer cycle, API writes when idle,
# and OceanBase-to-status latency, printed as numbers. Starts a control plane for the run, like test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(tools/k8s/build.sh | tail -n 1)
cargo build --locked --bins
env_dir=$(mktemp -d "${TMPDIR:-/tmp}/obbackup-bench.XXXXXX")
cleanup() { scripts/control-plane.sh stop "$env_dir" || true; rm -rf "$env_dir"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
scripts/control-plane.sh start "$env_dir" "$bin"
OBBACKUP_TEST_ENV="$env_dir" cargo bench --locked --bench operator
