#!/usr/bin/env bash
# The whole test suite: unit and schema tests, then the integration tests against a real kube-apiserver +
# etcd + kube-controller-manager started for this run (binaries built once into ~/.cache) and stopped at
# the end, then the benchmark's small form against the same control plane. Integration tests that cannot reach
# a control plane fail when REQUIRE_K8S=1 (CI) and are skipped with a printed reason otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
# What the machine has, printed at each stage: a run that fails for want of disk or memory says so.
resources() {
  echo "[resources] $1: $(df -h --output=avail . | tail -n 1 | tr -d ' ') free on $(pwd), $(free -m | awk '/^Mem:/ {print $7}') MiB memory available"
}
resources start
bin=$(tools/k8s/build.sh | tail -n 1)
OBBACKUP_HELM=$(tools/helm/build.sh | tail -n 1)
OBBACKUP_PROMTOOL=$(tools/promtool/build.sh | tail -n 1)
OBBACKUP_PROMETHEUS=$(tools/prometheus/build.sh | tail -n 1)
OBSIM_GO_CLIENT=$(tools/drivers/go/build.sh | tail -n 1)
OBSIM_PYTHON_CLIENT=$(tools/drivers/python/build.sh | tail -n 1)
OBBACKUP_S3_SERVER=$(tools/s3/build.sh | tail -n 1)
OBBACKUP_SEEKDB=$(tools/seekdb/build.sh | tail -n 1)
OBBACKUP_KREW=$(tools/krew/build.sh | tail -n 1)
# mydumper / myloader and mysqldump / mysql, unpacked from Debian's packages, for the logical benchmark's comparison.
OBBACKUP_MYDUMPER=$(tools/mydumper/build.sh | tail -n 1)
OBBACKUP_MARIADB_CLIENT=$(tools/mariadb-client/build.sh | tail -n 1)
export OBBACKUP_HELM OBBACKUP_PROMTOOL OBBACKUP_PROMETHEUS OBSIM_GO_CLIENT OBSIM_PYTHON_CLIENT OBBACKUP_S3_SERVER OBBACKUP_SEEKDB OBBACKUP_KREW
export OBBACKUP_MYDUMPER OBBACKUP_MARIADB_CLIENT
# ob-operator's CRDs from its Go module; when the proxy does not serve it, the tests beside ob-operator
# say so and skip (docs/guide/ob-operator.md).
OBBACKUP_OB_OPERATOR_CRDS=$(tools/ob-operator/crds.sh | tail -n 1) || OBBACKUP_OB_OPERATOR_CRDS=
export OBBACKUP_OB_OPERATOR_CRDS
env_dir=$(mktemp -d "${TMPDIR:-/tmp}/obbackup-test.XXXXXX")
image_build=
cleanup() {
  # The image build runs in a process group of its own (setsid): its cargo and rustc go with it.
  if [ -n "$image_build" ]; then kill -- -"$image_build" 2>/dev/null || true; fi
  scripts/control-plane.sh stop "$env_dir" || true
  rm -rf "$env_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# The image users deploy, built as a release would build it (scripts/image.sh: buildah, no daemon), from here
# to the end beside everything else at the lowest CPU priority: the builds below leave cores idle while they
# link, the tests mostly wait on their operators' and clusters' clocks, and the image's release build with fat
# LTO is the suite's longest compile (docs/contributing/testing.md, "How long the suite takes"). The tests in
# tests/e2e/image.rs, which start it with podman as the chart runs it and compare it with the Dockerfile's, run
# at the end, once it is built.
setsid --wait nice -n 19 scripts/image.sh >"$env_dir/image.name" 2>"$env_dir/image.log" &
image_build=$!
# The documentation site, built strictly before the long runs (scripts/docs.sh): a broken link, anchor or
# included file fails the suite here.
scripts/docs.sh
# The floor-plan measure (scripts/floor-plan.py, the controller layer's sizes and circles) and its own tests.
python3 -m unittest scripts/floor_plan_test.py
cargo build --locked --bins --features failpoints
resources "binaries built"

if scripts/control-plane.sh start "$env_dir" "$bin"; then
  export OBBACKUP_TEST_ENV="$env_dir"
elif [ "${REQUIRE_K8S:-0}" = 1 ]; then
  echo "the control plane did not start; see $env_dir/*.log" >&2
  tail -n 40 "$env_dir"/*.log >&2 || true
  exit 1
else
  echo "the control plane did not start; integration tests will be skipped" >&2
fi

# Everything once with obsim serving the newest schema (4.4.1), then every one of the operator's tests that talks
# to obsim again with the older one (4.2.5, docs/reference/oceanbase-interface.md §14) — the crash matrix too: what the operator reads back
# after a restart is where the schemas differ. Tests that need 4.4.1 (requested cleanups) pin it in both passes.
status=0
cargo test --locked --features failpoints --no-run || { resources "test build FAILED"; exit 1; }
resources "tests built"
# Integration tests mostly wait (polls, the clusters' and operators' clocks): this many run at once.
threads=${OBBACKUP_TEST_THREADS:-8}
cargo test --locked --no-fail-fast --features failpoints --test e2e -- --test-threads "$threads" --skip image:: ||
  status=$?
# Every other test target (from cargo's metadata, so none is forgotten) at libtest's default concurrency:
# tests/logical's tests share one seekdb, which more of them at once would overload.
# (An assignment, not a process substitution: a failing `cargo metadata` stops the suite here instead of
# leaving those targets out.)
targets=$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json, sys
for package in json.load(sys.stdin)["packages"]:
    for target in package["targets"]:
        if "test" in target["kind"] and target["name"] != "e2e":
            print(target["name"])')
others=()
for target in $targets; do others+=(--test "$target"); done
cargo test --locked --no-fail-fast --features failpoints --workspace --lib --bins "${others[@]}" || status=$?
cargo test --locked --no-fail-fast --features failpoints --workspace --doc || status=$?
resources "first pass done"
older=(apiserver_operator cleanup crash_matrix gitops lifecycle log_delay oceanbase_client ownership randomized randomized_cluster
  recovery strategy)
echo "the operator's tests against obsim's older schema (OBSIM_VERSION=4.2.5): ${older[*]}"
# Half as many at once: this pass is the heaviest tests (the crash matrix, the randomized ones, the simulated
# week) and little else; at 8 the simulated week once fell behind its clock on the suite's 2-core machine.
OBSIM_VERSION=4.2.5 cargo test --locked --no-fail-fast --features failpoints --test e2e -- \
  --test-threads "$(( (threads + 1) / 2 ))" "${older[@]/%/::}" || status=$?
resources "older schema done"

# The benchmarks' small forms against this control plane, so that they cannot break unnoticed (scripts/bench.sh
# at a few hundred tasks, on one operator and on two replicas, bench-copy.sh and bench-logical.sh at 32 MiB and
# 40 000 rows; the logical one with mydumper and mysqldump beside it and its consistency phase, about 10 s more):
# every phase runs, the numbers are printed, nothing timed is asserted. They run in the test profile (`cargo test --bench`, same features):
# that reuses the test build above and compiles only the three bench files (8 s here, after the test build),
# where `cargo bench` builds every dependency again, optimised (`cargo bench --no-run --bench operator`: 15 min
# here, the 2 cores shared). The figures of an unoptimised build are not docs/contributing/benchmarks.md's; that every phase runs to
# its end is what this checks. Their times: docs/contributing/benchmarks.md, "The small forms in the suite".
bench_passed=() bench_failed=()
bench_small() { # <name> <command…>
  local name=$1 began=$SECONDS
  shift
  echo "benchmark, small form: $name"
  if "$@"; then bench_passed+=("$name $((SECONDS - began))s"); else bench_failed+=("$name"); fi
}
bench_start=$SECONDS
# The test build's operator is then started a second time over the same estate (BENCH_THEN_BINARIES, how two
# builds are compared back to back), so that switching binaries keeps working too; and one cluster refuses
# connections for 20 s after the samples (the outage phase; the full run's is 300 s).
bench_small operator env BENCH_TASKS=300 BENCH_IDLE_SECONDS=30 BENCH_SAMPLES=12 BENCH_OUTAGE_SECONDS=20 OPERATOR_RUST_LOG=info \
  BENCH_THEN_BINARIES="${CARGO_TARGET_DIR:-$PWD/target}/debug/ob-backup-operator" \
  cargo test --locked --features failpoints --bench operator
# Two replicas over four shards (one namespace each, a cluster a shard), one killed halfway through 40 samples:
# the takeover, every task in its phase and each job run once (its time: the same page and section).
bench_small operator-sharded env BENCH_TASKS=200 BENCH_TASKS_PER_TENANT=5 BENCH_REPLICAS=2 BENCH_IDLE_SECONDS=10 BENCH_OUTAGE_SECONDS=0 \
  BENCH_SAMPLES=40 OPERATOR_RUST_LOG=info cargo test --locked --features failpoints --bench operator
bench_small copy env BENCH_COPY_MIB=32 cargo test --locked --features failpoints --bench copy
# One round: each fresh seekdb the logical bench loads into is first let through its start-up work (about 20 s),
# and every tool's restore goes into one (its time: docs/contributing/benchmarks.md, "The small forms in the suite").
bench_small logical env BENCH_LOGICAL_ROWS=10000 BENCH_LOGICAL_ROUNDS=1 cargo test --locked --features failpoints --bench logical
if [ ${#bench_failed[@]} -eq 0 ]; then
  echo "benchmarks, small form: ok in $((SECONDS - bench_start))s (${bench_passed[*]})"
else
  status=1
  echo "benchmarks, small form: FAILED: ${bench_failed[*]} (the output above says where)"
fi
if wait "$image_build" && OBBACKUP_IMAGE=$(tail -n 1 "$env_dir/image.name") && [ -n "$OBBACKUP_IMAGE" ]; then
  image_build=
  export OBBACKUP_IMAGE
  grep '^\[image\]' "$env_dir/image.log" || true
  resources "image built"
  cargo test --locked --no-fail-fast --features failpoints --test e2e -- image:: || status=$?
else
  image_build=
  status=1
  echo "the image did not build (scripts/image.sh):" >&2
  tail -n 40 "$env_dir/image.log" >&2
fi
resources end
echo "test suite finished in $(( $(date +%s) - start ))s"
exit "$status"
