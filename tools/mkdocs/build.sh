#!/usr/bin/env bash
# Installs MkDocs and the Material theme (PyPI, every package pinned in requirements.txt) into a virtual
# environment outside the repository, keyed by the theme's version and the pins' hash. Reuses it when present.
# Prints, on its last line, the environment's directory: `$dir/bin/mkdocs` builds the site from mkdocs.yml.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
material=$(grep -i '^mkdocs-material==' "$here/requirements.txt" | cut -d= -f3)
pins=$(sha256sum "$here/requirements.txt" | cut -c1-12)
cache=${OBBACKUP_CACHE:-$HOME/.cache/ob-backup-operator}
venv="$cache/mkdocs/$material-$pins"
if [ -f "$venv/.installed" ]; then
  printf '[build-mkdocs] mkdocs-material %s: cached\n' "$material" >&2
else
  printf '[build-mkdocs] mkdocs-material %s: installing from PyPI\n' "$material" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  # Written last: an install cut short is done again on the next run.
  touch "$venv/.installed"
fi
echo "$venv"
