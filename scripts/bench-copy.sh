#!/usr/bin/env bash
# Second-backup copy throughput (benches/copy.rs): the operator's verified copy of a backup-set-shaped tree
# beside a plain cp -r and a plain upload to a real S3 server (versitygw, built into ~/.cache by
# tools/s3/build.sh). BENCH_COPY_MIB sets the tree's size (default 1024 MiB: at a few hundred MB/s a smaller
# one is over in a second, and start-up and the last objects' tail weigh on it); BENCH_COPY_ROUNDS how often
# the plain upload and the copy checked by the server run side by side (default 3). It needs about three times
# the tree's size free under the temporary directory. Run it on an otherwise idle machine: it prints the load.
set -euo pipefail
cd "$(dirname "$0")/.."
OBBACKUP_S3_SERVER=$(tools/s3/build.sh | tail -n 1)
export OBBACKUP_S3_SERVER
cargo bench --locked --bench copy
