#!/usr/bin/env bash
# Installs MkDocs and the Material theme (PyPI, every package pinned in requirements.txt) into a virtual
# environment outside the repository, keyed by the theme's version and the pins' hash. Reuses it when present.
# Prints, on its last line, the environment's directory: `$dir/bin/mkdocs` builds the site from mkdocs.yml.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../python-tool.sh"
material=$(grep -i '^mkdocs-material==' "$here/requirements.txt" | cut -d= -f3)
pins=$(sha256sum "$here/requirements.txt" | cut -c1-12)
cache=${OBBACKUP_CACHE:-$HOME/.cache/ob-backup-operator}
venv="$cache/mkdocs/$material-$pins"
python_tool_install mkdocs "$here" "$venv"
echo "$venv"
