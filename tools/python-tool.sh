# Shared by the Python tools' build.sh (source it): installs a directory's requirements.txt (exact pins, from
# PyPI) into a virtual environment outside the repository, reusing it when present.

# python_tool_install TAG HERE VENV: installs HERE/requirements.txt into VENV unless an earlier install there
# finished. TAG names the tool in the progress lines (on standard error).
python_tool_install() {
  local tag=$1 here=$2 venv=$3
  if [ -f "$venv/.installed" ]; then
    printf '[build-%s] %s: cached\n' "$tag" "$venv" >&2
    return
  fi
  printf '[build-%s] installing %s from PyPI\n' "$tag" "$(grep -v '^#' "$here/requirements.txt" | tr '\n' ' ')" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  # Written last: an install cut short is done again on the next run.
  touch "$venv/.installed"
}
