#!/usr/bin/env bash
# Builds the Prometheus server for the end-to-end test that scrapes the operator and evaluates the chart's rules
# (tests/e2e/prometheus.rs), from the Go module proxy at the version tools/promtool/go.mod pins for promtool (that
# go.mod lists both tools), into a per-version cache outside the repository. Prints the binary's path on its last
# line. Built without the web UI's assets (the test uses only the HTTP API). A cold build (Go's build cache
# empty, the modules already downloaded) took 6.5 minutes on 2 shared cores; after promtool's, whose packages it
# shares, about a minute.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../go-tool.sh"
module_dir="$here/../promtool"
version=$(go_mod_version "$module_dir" github.com/prometheus/prometheus)
cache=${OBBACKUP_CACHE:-$HOME/.cache/ob-backup-operator}
go_tool_build prometheus "$module_dir" github.com/prometheus/prometheus/cmd/prometheus \
  "$cache/prometheus/$version/prometheus"
