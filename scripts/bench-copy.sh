#!/usr/bin/env bash
# Second-backup copy throughput (benches/copy.rs), one run: the operator's verified copy of a backup-set-shaped
# tree beside a plain cp -r and a plain upload to a real S3 server (versitygw, built into ~/.cache by
# tools/s3/build.sh). BENCH_COPY_MIB sets the tree's size (default 256 MiB). Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
OBBACKUP_S3_SERVER=$(tools/s3/build.sh | tail -n 1)
export OBBACKUP_S3_SERVER
cargo bench --locked --bench copy
