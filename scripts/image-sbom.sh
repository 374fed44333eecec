#!/usr/bin/env bash
# The image's software bill of materials, CycloneDX JSON:
#   scripts/image-sbom.sh <rust target> <output file>
# cargo-cyclonedx (tools/sbom) lists every crate compiled into the two binaries for that target, from
# Cargo.lock; the Debian packages whose files the image carries are added beside them: musl (the C library
# linked into the static binaries), ca-certificates and tzdata.
set -euo pipefail
cd "$(dirname "$0")/.."

target=$1 out=$2
tool=$(tools/sbom/build.sh | tail -n 1)
made=$(mktemp -d "${TMPDIR:-/tmp}/obbackup-sbom.XXXXXX")
trap 'rm -rf "$made"; rm -f ob-backup-operator-sbom.json obsim/ob-backup-operator-sbom.json' EXIT
# Runs as `cargo cyclonedx`: the plugin reads the workspace through cargo metadata.
"$tool" cyclonedx --format json --spec-version 1.5 --no-build-deps --target "$target" \
  --override-filename ob-backup-operator-sbom >&2
mv ob-backup-operator-sbom.json "$made/crates.cdx.json"
packages=()
for package in musl ca-certificates tzdata; do
  packages+=("$package=$(dpkg-query -W -f '${Version}' "$package")")
done
mkdir -p "$(dirname "$out")"
python3 - "$made/crates.cdx.json" "$out" "${packages[@]}" <<'PY'
import json, sys
source, out, packages = sys.argv[1], sys.argv[2], sys.argv[3:]
bom = json.load(open(source))
for entry in packages:
    name, version = entry.split("=", 1)
    purl = f"pkg:deb/debian/{name}@{version}?arch=amd64&distro=debian-12"
    bom.setdefault("components", []).append(
        {"type": "library" if name == "musl" else "data", "bom-ref": purl, "name": name,
         "version": version, "purl": purl})
json.dump(bom, open(out, "w"), indent=2)
print(f"[sbom] {out}: {len(bom['components'])} components", file=sys.stderr)
PY
