#!/usr/bin/env bash
# Installs what builds and runs the operator's image: the Debian packages pinned in packages.txt (system
# packages: buildah and podman need their configuration under /etc and run as root here) and the Rust
# standard library for x86_64-unknown-linux-musl (rustup, the way the machine's Rust came). Idempotent: a
# package already at its pinned version is left alone. Prints the musl target's name on its last line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
target=x86_64-unknown-linux-musl
mapfile -t pins < <(grep -v '^#' "$here/packages.txt" | grep .)
missing=()
for pin in "${pins[@]}"; do
  installed=$(dpkg-query -W -f '${Status} ${Version}' "${pin%%=*}" 2>/dev/null || true)
  [ "$installed" = "install ok installed ${pin#*=}" ] || missing+=("$pin")
done
if [ ${#missing[@]} -gt 0 ]; then
  printf '[image-tools] installing from Debian: %s\n' "${missing[*]}" >&2
  sudo=(); [ "$(id -u)" = 0 ] || sudo=(sudo)
  install() { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }
  install || { "${sudo[@]}" apt-get update -q >&2 && install; } || {
    echo "[image-tools] could not install ${missing[*]}: is that version still in Debian's archive? (tools/image/packages.txt)" >&2
    exit 1
  }
else
  printf '[image-tools] %s: installed\n' "${pins[*]}" >&2
fi
for package in ca-certificates tzdata; do
  dpkg-query -W "$package" >/dev/null 2>&1 || { echo "[image-tools] the image needs Debian's $package" >&2; exit 1; }
done
if ! rustup target list --installed | grep -qx "$target"; then
  printf '[image-tools] adding the Rust target %s\n' "$target" >&2
  rustup target add "$target" >&2
fi
echo "$target"
