#!/usr/bin/env bash
# Builds helm (the version pinned in go.mod's tool directive) from the Go module proxy into a per-version
# cache outside the repository. Reuses the cache when present. Prints the binary's path on its last line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=$(awk '$1 == "helm.sh/helm/v3" {print $2; exit}' "$here/go.mod")
# Helm's default Kubernetes version (for `helm template` / `lint` without a cluster) is the client-go it
# was built with, stamped in at link time as its own Makefile does.
client_go=$(awk '$1 == "k8s.io/client-go" {print $2; exit}' "$here/go.mod")
k8s_minor=${client_go#v0.}; k8s_minor=${k8s_minor%%.*}
ldflags="-X helm.sh/helm/v3/internal/version.version=$version"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done
cache=${OBBACKUP_CACHE:-$HOME/.cache/ob-backup-operator}
bin="$cache/helm/$version-k8s$client_go/helm"
if [ -x "$bin" ]; then
  printf '[build-helm] helm %s: cached\n' "$version" >&2
else
  printf '[build-helm] helm %s: building (a cold build takes a few minutes on 2 cores)\n' "$version" >&2
  t0=$(date +%s)
  mkdir -p "$(dirname "$bin")"
  (cd "$here" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go build -trimpath -ldflags "$ldflags" \
    -o "$bin.tmp" helm.sh/helm/v3/cmd/helm)
  mv "$bin.tmp" "$bin"
  printf '[build-helm] helm built in %ss\n' "$(( $(date +%s) - t0 ))" >&2
fi
echo "$bin"
