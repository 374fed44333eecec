#!/usr/bin/env bash
# Unpacks mydumper and myloader (Debian's `mydumper` package and the libraries it needs, pinned in packages.txt)
# into a per-version directory outside the repository; nothing is installed system-wide. Reuses it when present.
# Prints, on its last line, the directory: `$dir/bin/mydumper` and `$dir/bin/myloader` run them.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../deb-tool.sh"
version=$(awk -F= '$1 == "mydumper" {print $2}' "$here/packages.txt")
cache=${OBBACKUP_CACHE:-$HOME/.cache/ob-backup-operator}
dir="$cache/mydumper/${version#*:}"
deb_tool_install mydumper "$here" "$dir" mydumper myloader
echo "$dir"
