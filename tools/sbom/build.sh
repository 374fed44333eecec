#!/usr/bin/env bash
# Builds cargo-cyclonedx (CycloneDX's own Cargo plugin, from crates.io, the version pinned below) into a
# per-version cache outside the repository. Reuses it when present. Prints the binary's path on its last line.
set -euo pipefail

version=0.5.9
cache=${OBBACKUP_CACHE:-$HOME/.cache/ob-backup-operator}
root="$cache/cargo-cyclonedx/$version"
if [ -x "$root/bin/cargo-cyclonedx" ]; then
  printf '[build-sbom] cargo-cyclonedx %s: cached\n' "$version" >&2
else
  printf '[build-sbom] cargo-cyclonedx %s: building from crates.io\n' "$version" >&2
  # Its own lockfile, its own target directory (removed after): nothing of it lands in the project's.
  build=$(mktemp -d "${TMPDIR:-/tmp}/cargo-cyclonedx.XXXXXX")
  trap 'rm -rf "$build"' EXIT
  CARGO_TARGET_DIR="$build" cargo install --quiet --locked --root "$root" --version "$version" cargo-cyclonedx >&2
fi
echo "$root/bin/cargo-cyclonedx"
