#!/usr/bin/env bash
# Builds the operator's container image here, with no container daemon and no registry: the operator and the
# kubectl plugin as static (musl) binaries, packed with Debian's buildah from `scratch` with the layer
# scripts/image-rootfs.sh makes (the Dockerfile's last stage lays down the same one), then writes the image's
# software bill of materials. Prints the image's size and, on its last line, its name.
#   scripts/image.sh [name]      (default localhost/ob-backup-operator:<the crate's version>)
# Leaves in target/image-build/ (OBBACKUP_IMAGE_WORK): context/rootfs (the layer, which tests/e2e/image.rs builds
# the Dockerfile from) and sbom.cdx.json (CycloneDX: every crate in the binaries, from Cargo.lock, and the
# Debian packages the layer carries).
set -euo pipefail
cd "$(dirname "$0")/.."

target=$(tools/image/install.sh | tail -n 1)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
name=${1:-localhost/ob-backup-operator:$version}
work=${OBBACKUP_IMAGE_WORK:-target/image-build}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)

cargo build --locked --profile image --target "$target" --bin ob-backup-operator --bin kubectl-obbackup
bins=target/$target/image
for bin in ob-backup-operator kubectl-obbackup; do
  if readelf -l "$bins/$bin" | grep -q 'Requesting program interpreter'; then
    echo "[image] $bins/$bin is not static" >&2
    exit 1
  fi
done
# The commit's time for every file's and the image's timestamps (after the build: crates' build scripts
# may read it).
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
scripts/image-rootfs.sh "$bins" "$work/context/rootfs"

container=$(buildah from scratch)
trap 'buildah rm "$container" >/dev/null 2>&1 || true' EXIT
buildah copy --quiet "$container" "$work/context/rootfs/" / >/dev/null
# The configuration a Dockerfile build gives the Dockerfile's last stage (builders add the default PATH).
buildah config \
  --label org.opencontainers.image.title=ob-backup-operator \
  --label "org.opencontainers.image.description=Kubernetes operator for OceanBase backup and recovery" \
  --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.revision=$revision" \
  --label org.opencontainers.image.source=https://github.com/ob-backup-operator/ob-backup-operator \
  --label org.opencontainers.image.licenses=Apache-2.0 \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env MIMALLOC_EAGER_COMMIT=0 --env MIMALLOC_ARENA_EAGER_COMMIT=0 --env MIMALLOC_PURGE_DELAY=0 \
  --user 65532:65532 --port 8080/tcp \
  --entrypoint '["/ob-backup-operator"]' --cmd run \
  "$container"
previous=$(podman image inspect --format '{{.Id}}' "$name" 2>/dev/null || true)
buildah commit --quiet --format oci --timestamp "$SOURCE_DATE_EPOCH" "$container" "$name" >/dev/null

current=$(podman image inspect --format '{{.Id}}' "$name")
# The image this name had before, unless something still uses it.
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then podman rmi "$previous" >/dev/null 2>&1 || true; fi

scripts/image-sbom.sh "$target" "$work/sbom.cdx.json"
size=$(podman image inspect --format "{{.Size}}" "$name")
printf '[image] %s: %s bytes (%s MiB); the goal is under 40 MB; bill of materials: %s\n' \
  "$name" "$size" "$(awk -v b="$size" 'BEGIN { printf "%.1f", b / 1048576 }')" "$work/sbom.cdx.json" >&2
echo "$name"
