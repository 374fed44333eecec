#!/usr/bin/env bash
# Builds krew, the kubectl plugin manager (the version pinned in go.mod), from the Go module proxy into a
# per-version cache outside the repository; the plugin's krew manifest is installed with it in a test.
# Reuses the cache when present. Prints the binary's path on its last line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=$(awk '$1 == "sigs.k8s.io/krew" {print $2; exit}' "$here/go.mod")
cache=${OBBACKUP_CACHE:-$HOME/.cache/ob-backup-operator}
# Named as kubectl finds a plugin, so the directory can go on PATH for `kubectl krew`.
bin="$cache/krew/$version/kubectl-krew"
if [ -x "$bin" ]; then
  printf '[build-krew] krew %s: cached\n' "$version" >&2
else
  printf '[build-krew] krew %s: building\n' "$version" >&2
  t0=$(date +%s)
  mkdir -p "$(dirname "$bin")"
  (cd "$here" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go build -trimpath -ldflags "-X sigs.k8s.io/krew/internal/version.gitTag=$version" \
    -o "$bin.tmp" sigs.k8s.io/krew/cmd/krew)
  mv "$bin.tmp" "$bin"
  printf '[build-krew] krew built in %ss\n' "$(( $(date +%s) - t0 ))" >&2
fi
echo "$bin"
