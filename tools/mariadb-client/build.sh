#!/usr/bin/env bash
# Unpacks the MySQL client programs `mysqldump` and `mysql` (Debian's MariaDB client packages, pinned in
# packages.txt) into a per-version directory outside the repository; nothing is installed system-wide. Reuses it
# when present. Prints, on its last line, the directory: `$dir/bin/mysqldump` and `$dir/bin/mysql` run them.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../deb-tool.sh"
version=$(awk -F= '$1 == "mariadb-client" {print $2}' "$here/packages.txt")
cache=${OBBACKUP_CACHE:-$HOME/.cache/ob-backup-operator}
dir="$cache/mariadb-client/${version#*:}"
deb_tool_install mariadb-client "$here" "$dir" mysqldump mysql
echo "$dir"
