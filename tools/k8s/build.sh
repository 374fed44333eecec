#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and kubectl from the Go module proxy into a per-version
# cache outside the repository, and etcd from the etcd-bin-vendored crate. Reuses the cache when present.
# Prints the directory holding the binaries on its last line of stdout.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
k8s_version=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$here/go.mod")
etcd_version=$(awk -F'"' '/^etcd-bin-vendored/{print $2}' "$here/etcd/Cargo.toml" | tr -d '=')
cache=${OBBACKUP_CACHE:-$HOME/.cache/ob-backup-operator}
bin="$cache/k8s/$k8s_version/bin"
mkdir -p "$bin"

log() { printf '[build-k8s] %s\n' "$*" >&2; }

start=$(date +%s)
minor=${k8s_version#v1.}; minor=${minor%%.*}
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

for tool in kube-apiserver kube-controller-manager kubectl; do
  if [ -x "$bin/$tool" ]; then
    log "$tool $k8s_version: cached"
    continue
  fi
  log "$tool $k8s_version: building (cold builds take several minutes on 2 cores)"
  t0=$(date +%s)
  (cd "$here" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go build -trimpath -ldflags "$ldflags" -o "$bin/$tool.tmp" "k8s.io/kubernetes/cmd/$tool")
  mv "$bin/$tool.tmp" "$bin/$tool"
  log "$tool built in $(( $(date +%s) - t0 ))s"
done

etcd_dir="$cache/etcd/$etcd_version"
if [ ! -x "$etcd_dir/etcd" ]; then
  log "etcd $etcd_version: extracting from the etcd-bin-vendored crate"
  mkdir -p "$etcd_dir"
  cargo run --quiet --release --manifest-path "$here/etcd/Cargo.toml" --target-dir "$cache/etcd/target" -- "$etcd_dir/etcd"
else
  log "etcd $etcd_version: cached"
fi
ln -sf "$etcd_dir/etcd" "$bin/etcd"

log "binaries ready in $(( $(date +%s) - start ))s; disk use: $(du -sh "$bin/" "$etcd_dir" | awk '{print $1}' | paste -sd+ -)"
echo "$bin"
