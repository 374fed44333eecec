#!/usr/bin/env bash
# Builds Prometheus's promtool (the version pinned in go.mod's tool directive) from the Go module proxy into a
# per-version cache outside the repository. Reuses the cache when present. Prints the binary's path on its
# last line. (v0.313.1: newer releases pin a github.com/hashicorp/nomad/api version the proxy does not serve.)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=$(awk '$1 == "github.com/prometheus/prometheus" {print $2; exit}' "$here/go.mod")
cache=${OBBACKUP_CACHE:-$HOME/.cache/ob-backup-operator}
bin="$cache/promtool/$version/promtool"
if [ -x "$bin" ]; then
  printf '[build-promtool] promtool %s: cached\n' "$version" >&2
else
  printf '[build-promtool] promtool %s: building (a cold build takes several minutes on 2 cores)\n' "$version" >&2
  t0=$(date +%s)
  mkdir -p "$(dirname "$bin")"
  (cd "$here" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go build -trimpath -o "$bin.tmp" github.com/prometheus/prometheus/cmd/promtool)
  mv "$bin.tmp" "$bin"
  printf '[build-promtool] promtool built in %ss\n' "$(( $(date +%s) - t0 ))" >&2
fi
echo "$bin"
