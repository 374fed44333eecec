#!/usr/bin/env bash
# The image's one layer, as a directory: both ways of building the image use it (scripts/image.sh with
# buildah, and the Dockerfile's build stage), so both images hold the same files.
#   scripts/image-rootfs.sh <directory holding ob-backup-operator and kubectl-obbackup> <output directory>
# The output holds: the two static binaries at /, Debian's CA bundle (the S3, OSS and COS endpoints' TLS),
# the IANA time-zone database (a strategy's `timeZone`), /etc/passwd and /etc/group naming the non-root user
# 65532 the operator runs as, and an empty /tmp. Everything belongs to root and is read-only to the user.
set -euo pipefail

bins=$1 out=$2
if [ -e "$out" ]; then chmod -R u+w "$out"; rm -rf "$out"; fi
install -d -m 0755 "$out/etc/ssl/certs" "$out/usr/share"
install -d -m 1777 "$out/tmp"
for bin in ob-backup-operator kubectl-obbackup; do
  install -m 0555 "$bins/$bin" "$out/$bin"
done
install -m 0444 /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-certificates.crt"
cp -a /usr/share/zoneinfo "$out/usr/share/zoneinfo"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
  >"$out/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$out/etc/group"
chmod 0444 "$out/etc/passwd" "$out/etc/group"
# The same modes, owner and times wherever it is built.
chmod -R u-w,go-w,a+rX "$out/usr/share/zoneinfo"
chown -R 0:0 "$out" 2>/dev/null || true
find "$out" -exec touch -h -d "@${SOURCE_DATE_EPOCH:-0}" {} +
