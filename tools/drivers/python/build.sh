#!/usr/bin/env bash
# Installs the test-only Python client's driver (PyMySQL, pinned in requirements.txt) from PyPI into a
# per-version virtual environment outside the repository. Reuses it when present. Prints the command that runs
# the client (the environment's python and client.py) on its last line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pin=$(grep -v '^#' "$here/requirements.txt" | tr -d ' \n')
cache=${OBBACKUP_CACHE:-$HOME/.cache/ob-backup-operator}
venv="$cache/pymysql/${pin#*==}"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import pymysql' 2>/dev/null; then
  printf '[build-python-client] %s: cached\n' "$pin" >&2
else
  printf '[build-python-client] %s: installing from PyPI\n' "$pin" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi
echo "$venv/bin/python $here/client.py"
