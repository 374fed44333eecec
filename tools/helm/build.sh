#!/usr/bin/env bash
# Builds helm (the version pinned in go.mod's tool directive) from the Go module proxy into a per-version
# cache outside the repository. Reuses the cache when present. Prints the binary's path on its last line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../go-tool.sh"
version=$(go_mod_version "$here" helm.sh/helm/v3)
# Helm's default Kubernetes version (for `helm template` / `lint` without a cluster) is the client-go it
# was built with, stamped in at link time as its own Makefile does.
client_go=$(go_mod_version "$here" k8s.io/client-go)
k8s_minor=${client_go#v0.}; k8s_minor=${k8s_minor%%.*}
ldflags="-X helm.sh/helm/v3/internal/version.version=$version"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done
cache=${OBBACKUP_CACHE:-$HOME/.cache/ob-backup-operator}
go_tool_build helm "$here" helm.sh/helm/v3/cmd/helm "$cache/helm/$version-k8s$client_go/helm" "$ldflags"
