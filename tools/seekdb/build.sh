#!/usr/bin/env bash
# Installs OceanBase seekdb (PyPI `pylibseekdb`, pinned in requirements.txt) into a per-version virtual
# environment outside the repository. Reuses it when present. Prints, on its last line, the environment's
# directory: `$dir/seekdb` is the server binary, `$dir/bin/seekdb-dump` / `seekdb-restore` OceanBase's own
# logical dump and restore, `$dir/bin/python` a Python with PyMySQL.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../python-tool.sh"
pin=$(grep -v '^#' "$here/requirements.txt" | tr -d ' \n')
cache=${OBBACKUP_CACHE:-$HOME/.cache/ob-backup-operator}
venv="$cache/seekdb/${pin#*==}"
python_tool_install seekdb "$here" "$venv"
server=$("$venv/bin/python" -c 'import os, pylibseekdb; print(os.path.join(os.path.dirname(pylibseekdb.__file__), "seekdb"))')
chmod +x "$server"
# The server finds its libaio beside itself (RUNPATH $ORIGIN); the link keeps that true.
ln -sf "$server" "$venv/seekdb"
echo "$venv"
