#!/usr/bin/env bash
# Logical dump and restore throughput (benches/logical.rs): the operator's dump and restore beside
# OceanBase's own seekdb-dump / seekdb-restore, mydumper / myloader and mysqldump / mysql on the same generated
# dataset (over 1 GB of SQL by default; BENCH_LOGICAL_ROWS sets the rows per table), then each dump's
# consistency under writes. Needs about 27 GB of free disk while it runs at the default size (25 GB, and the
# plain dumps: 303.8 MB each from mydumper, mysqldump and the operator's compression None at 200 000 rows a
# table, so about 1.1 GB each at 720 000).
# BENCH_LOGICAL_SEEKDB_TOOLS=0 leaves out seekdb-dump and seekdb-restore (a few minutes of the run, no part of
# the target).
# BENCH_LOGICAL_ROUNDS (5 by default) sets how many times each other dump and restore is measured, the tools
# taking turns; each figure printed is the median run.
set -euo pipefail
cd "$(dirname "$0")/.."
OBBACKUP_SEEKDB=$(tools/seekdb/build.sh | tail -n 1)
OBBACKUP_MYDUMPER=$(tools/mydumper/build.sh | tail -n 1)
OBBACKUP_MARIADB_CLIENT=$(tools/mariadb-client/build.sh | tail -n 1)
export OBBACKUP_SEEKDB OBBACKUP_MYDUMPER OBBACKUP_MARIADB_CLIENT
# The operator's dumps and restores run in its process: with its allocator (benches/logical.rs) and the heap's
# settings the image's configuration sets (Dockerfile), as scripts/bench.sh runs the operator.
export MIMALLOC_EAGER_COMMIT=0 MIMALLOC_ARENA_EAGER_COMMIT=0 MIMALLOC_PURGE_DELAY=0
cargo bench --locked --bench logical
