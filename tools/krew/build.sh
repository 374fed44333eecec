#!/usr/bin/env bash
# Builds krew, the kubectl plugin manager (the version pinned in go.mod), from the Go module proxy into a
# per-version cache outside the repository; a test installs the plugin with it from its krew manifest.
# Prints the binary's path on its last line.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../go-tool.sh"
version=$(go_mod_version "$here" sigs.k8s.io/krew)
cache=${OBBACKUP_CACHE:-$HOME/.cache/ob-backup-operator}
# Named as kubectl finds a plugin, so that its directory can go on PATH for `kubectl krew`.
go_tool_build krew "$here" sigs.k8s.io/krew/cmd/krew "$cache/krew/$version/kubectl-krew" \
  "-X sigs.k8s.io/krew/internal/version.gitTag=$version"
