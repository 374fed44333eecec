#!/usr/bin/env bash
# Builds the test-only Go MySQL client (go-sql-driver/mysql, the version pinned in go.mod) into a per-version
# cache outside the repository. Reuses the cache when present. Prints the binary's path on its last line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=$(awk '$1 == "require" && $2 == "github.com/go-sql-driver/mysql" {print $3; exit}' "$here/go.mod")
source_hash=$(cat "$here/main.go" "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-12)
cache=${OBBACKUP_CACHE:-$HOME/.cache/ob-backup-operator}
bin="$cache/go-mysql-client/$version-$source_hash/client"
if [ -x "$bin" ]; then
  printf '[build-go-client] go-sql-driver/mysql %s: cached\n' "$version" >&2
else
  printf '[build-go-client] go-sql-driver/mysql %s: building\n' "$version" >&2
  mkdir -p "$(dirname "$bin")"
  (cd "$here" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -o "$bin.tmp" .)
  mv "$bin.tmp" "$bin"
fi
echo "$bin"
