#!/usr/bin/env bash
# Logical dump and restore throughput (benches/logical.rs), one run: the operator's dump and restore beside
# OceanBase's own seekdb-dump / seekdb-restore on the same generated dataset (over 1 GB of SQL by default;
# BENCH_LOGICAL_ROWS sets the rows per table). Needs about 25 GB of free disk while it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
OBBACKUP_SEEKDB=$(tools/seekdb/build.sh | tail -n 1)
export OBBACKUP_SEEKDB
cargo bench --locked --bench logical
