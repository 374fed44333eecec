#!/usr/bin/env bash
# Builds Prometheus's promtool (the version pinned in go.mod's tool directive) from the Go module proxy into a
# per-version cache outside the repository. Prints the binary's path on its last line. (v0.313.1: newer
# releases pin a github.com/hashicorp/nomad/api version the proxy does not serve.)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../go-tool.sh"
version=$(go_mod_version "$here" github.com/prometheus/prometheus)
cache=${OBBACKUP_CACHE:-$HOME/.cache/ob-backup-operator}
go_tool_build promtool "$here" github.com/prometheus/prometheus/cmd/promtool "$cache/promtool/$version/promtool"
