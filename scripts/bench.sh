#!/usr/bin/env bash
# The operator's benchmark (benches/operator.rs, benches/scale.rs), printed as numbers beside their targets:
# SQL round trips per observer cycle; then, for 1 000 and 10 000 BackupTasks (BENCH_TASKS; 100 per tenant,
# BENCH_TASKS_PER_TENANT; ten tenants per OceanBase cluster), a cold start,
# memory, CPU, SQL and API writes (counted by the API server) over a quiet window of BENCH_IDLE_SECONDS
# (default 600), and OceanBase-to-status latency over BENCH_SAMPLES (default 200) samples. Starts a control
# plane for the run, like test.sh. The default run took 26 minutes here; run it on an otherwise idle machine. BENCH_LOG_DIR keeps the operators' logs.
# BENCH_REPLICAS=2..4 starts that many replicas over BENCH_SHARDS shards (default twice the replicas), one namespace
# per shard, and kills one halfway through the latency samples (issue 38: BENCH_TASKS=100000 BENCH_REPLICAS=2).
# After the samples one cluster refuses every connection for BENCH_OUTAGE_SECONDS (default 300; 0 skips it): the
# time its status takes to follow again after its return is printed against 10 s.
# BENCH_THEN_BINARIES=<binary>[,<binary>…] then starts each of those operator binaries cold over the same estate, one
# after another, and measures its start and quiet window too (two builds compared back to back).
# A single operator's run also prints the fleet target, judged at 500 clusters (BENCH_TASKS=5000
# BENCH_TASKS_PER_TENANT=1). docs/contributing/benchmarks.md says what each prints.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(tools/k8s/build.sh | tail -n 1)
env_dir=$(mktemp -d "${TMPDIR:-/tmp}/obbackup-bench.XXXXXX")
# BENCH_LOG_DIR keeps the operators' logs (to read beside the slowest samples the bench prints).
cleanup() {
  scripts/control-plane.sh stop "$env_dir" || true
  if [ -n "${BENCH_LOG_DIR:-}" ]; then mkdir -p "$BENCH_LOG_DIR" && cp "$env_dir"/operator-*.log "$BENCH_LOG_DIR"/ || true; fi
  rm -rf "$env_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# The measured operator is the image's binary, as deployed (static, musl, link-time optimised: Cargo.toml's
# `image` profile); BENCH_OPERATOR=release measures the release build cargo makes beside the bench instead.
if [ "${BENCH_OPERATOR:-image}" = image ]; then
  target=$(tools/image/install.sh | tail -n 1)
  cargo build --locked --profile image --target "$target" --bin ob-backup-operator
  export OBBACKUP_OPERATOR_BINARY="$PWD/target/$target/image/ob-backup-operator"
fi
# The heap's settings, as the image's configuration (Dockerfile, scripts/image.sh) sets them.
export MIMALLOC_EAGER_COMMIT=0 MIMALLOC_ARENA_EAGER_COMMIT=0 MIMALLOC_PURGE_DELAY=0
scripts/control-plane.sh start "$env_dir" "$bin"
# The operator logs at info, as deployed (debug logging costs CPU the figures would then include).
OPERATOR_RUST_LOG=${OPERATOR_RUST_LOG:-info} OBBACKUP_TEST_ENV="$env_dir" cargo bench --locked --bench operator
