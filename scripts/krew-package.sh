#!/usr/bin/env bash
# Builds the kubectl plugin's release archive for this machine's platform and renders its krew manifest
# (deploy/krew/obbackup.yaml.tmpl) with the archive's checksum, both into target/krew/ (or $1).
# The manifest's address is where a release would publish the archive (RELEASE_URL); until one is published,
# install from the local archive:
#   kubectl krew install --manifest=target/krew/obbackup.yaml --archive=target/krew/<archive>
# KREW_BINARY packages a binary already built (a test packages its debug build instead of building a release).
# Prints the manifest's path and then the archive's path.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/target/krew}
version=$(awk -F'"' '/^version = / {print $2; exit}' "$root/Cargo.toml")
case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) echo "krew-package: unsupported OS $(uname -s)" >&2; exit 1 ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "krew-package: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
archive_name="kubectl-obbackup-v$version-$os-$arch.tar.gz"
release_url=${RELEASE_URL:-https://github.com/ob-backup-operator/ob-backup-operator/releases/download/v$version}

binary=${KREW_BINARY:-}
if [ -z "$binary" ]; then
  cargo build --locked --release --bin kubectl-obbackup --manifest-path "$root/Cargo.toml" >&2
  binary=$root/target/release/kubectl-obbackup
fi
mkdir -p "$out"
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
install -m 0755 "$binary" "$staging/kubectl-obbackup"
# A reproducible archive: fixed order, owner and time.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$staging" -cf - kubectl-obbackup |
  gzip -n >"$out/$archive_name"
sha=$(sha256sum "$out/$archive_name" | cut -d' ' -f1)
sed -e "s|@VERSION@|$version|" -e "s|@OS@|$os|" -e "s|@ARCH@|$arch|" \
  -e "s|@URI@|$release_url/$archive_name|" -e "s|@SHA256@|$sha|" \
  "$root/deploy/krew/obbackup.yaml.tmpl" >"$out/obbackup.yaml"
echo "$out/obbackup.yaml"
echo "$out/$archive_name"
