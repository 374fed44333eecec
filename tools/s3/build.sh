#!/usr/bin/env bash
# Builds versitygw (the version pinned in go.mod) from the Go module proxy into a per-version cache outside
# the repository. Reuses the cache when present. Prints the binary's path on its last line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=$(awk '$1 == "github.com/versity/versitygw" {print $2; exit}' "$here/go.mod")
cache=${OBBACKUP_CACHE:-$HOME/.cache/ob-backup-operator}
bin="$cache/versitygw/$version/versitygw"
if [ -x "$bin" ]; then
  printf '[build-s3] versitygw %s: cached\n' "$version" >&2
else
  printf '[build-s3] versitygw %s: building (a cold build takes a few minutes on 2 cores)\n' "$version" >&2
  t0=$(date +%s)
  mkdir -p "$(dirname "$bin")"
  (cd "$here" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go build -trimpath -ldflags "-X main.Version=$version" \
    -o "$bin.tmp" github.com/versity/versitygw/cmd/versitygw)
  mv "$bin.tmp" "$bin"
  printf '[build-s3] versitygw built in %ss\n' "$(( $(date +%s) - t0 ))" >&2
fi
echo "$bin"
