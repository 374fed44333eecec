#!/usr/bin/env bash
# Installs the test-only Python client's driver (PyMySQL, pinned in requirements.txt) from PyPI into a
# per-version virtual environment outside the repository. Reuses it when present. Prints the command that runs
# the client (the environment's python and client.py) on its last line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../../python-tool.sh"
pin=$(grep -v '^#' "$here/requirements.txt" | tr -d ' \n')
cache=${OBBACKUP_CACHE:-$HOME/.cache/ob-backup-operator}
venv="$cache/pymysql/${pin#*==}"
python_tool_install python-client "$here" "$venv"
echo "$venv/bin/python $here/client.py"
