#!/usr/bin/env bash
# Builds versitygw (the version pinned in go.mod), an S3-compatible server, from the Go module proxy into a
# per-version cache outside the repository. Prints the binary's path on its last line.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../go-tool.sh"
version=$(go_mod_version "$here" github.com/versity/versitygw)
cache=${OBBACKUP_CACHE:-$HOME/.cache/ob-backup-operator}
go_tool_build s3 "$here" github.com/versity/versitygw/cmd/versitygw "$cache/versitygw/$version/versitygw" \
  "-X main.Version=$version"
