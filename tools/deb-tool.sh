# Shared by the Debian tools' build.sh (source it): unpacks a directory's packages.txt (exact `package=version`
# pins, from Debian's archive through `apt-get download`) into a directory outside the repository, without
# installing anything system-wide, and writes a wrapper per program that finds the unpacked libraries.

# deb_tool_install TAG HERE DIR PROGRAM...: unless an earlier install of the same pins into DIR finished, downloads
# HERE/packages.txt's packages, unpacks each into DIR/root and writes DIR/bin/PROGRAM for each PROGRAM (a file
# under DIR/root/usr/bin), which runs it with LD_LIBRARY_PATH set to the unpacked library directories. Fails,
# naming them, when a program still lacks a library. TAG names the tool in the progress lines (standard error).
deb_tool_install() {
  local tag=$1 here=$2 dir=$3
  shift 3
  local -a pins
  mapfile -t pins < <(grep -v '^#' "$here/packages.txt" | grep .)
  if [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "${pins[*]}" ]; then
    printf '[build-%s] %s: cached\n' "$tag" "$dir" >&2
    return
  fi
  printf '[build-%s] unpacking from Debian: %s\n' "$tag" "${pins[*]}" >&2
  rm -rf "$dir"
  mkdir -p "$dir/debs" "$dir/bin"
  deb_tool_download "$tag" "$here" "$dir/debs" "${pins[@]}" || return 1
  local deb
  for deb in "$dir"/debs/*.deb; do dpkg-deb -x "$deb" "$dir/root" || return 1; done
  rm -rf "$dir/debs"
  local libs
  libs=$(find "$dir/root" -name 'lib*.so*' -printf '%h\n' | sort -u | paste -sd: -)
  local program
  for program in "$@"; do
    deb_tool_wrapper "$dir" "$libs" "$program" || return 1
  done
  deb_tool_check_libraries "$tag" "$dir" "$libs" "$@" || return 1
  # Written last: an install cut short is done again on the next run.
  echo "${pins[*]}" >"$dir/.installed"
}

# deb_tool_download TAG HERE INTO PIN...: `apt-get download` of each pin into INTO; refreshes the package lists
# once when a pin is not found (a fresh machine may have none), and says what to do when it is still missing.
deb_tool_download() {
  local tag=$1 here=$2 into=$3
  shift 3
  local sudo=() apt=(apt-get -q)
  # As root, apt downloads as its unprivileged `_apt` user, which cannot write into a private directory.
  if [ "$(id -u)" = 0 ]; then apt+=(-o APT::Sandbox::User=root); else sudo=(sudo); fi
  (cd "$into" && "${apt[@]}" download "$@" >&2) ||
    { "${sudo[@]}" apt-get update -q >&2 && (cd "$into" && "${apt[@]}" download "$@" >&2); } && return
  # Debian replaces a stable release's packages with each point and security release, so a pin goes stale:
  # take the versions the archive serves now rather than fail the suite, and say which pin to move.
  printf '[build-%s] %s is no longer in Debian'\''s archive: taking the versions it serves now; move the pins in %s/packages.txt\n' \
    "$tag" "$*" "$here" >&2
  (cd "$into" && "${apt[@]}" download "${@%%=*}" >&2) || {
    printf '[build-%s] could not download %s from Debian'\''s archive\n' "$tag" "${*%%=*}" >&2
    return 1
  }
}

# deb_tool_wrapper DIR LIBS PROGRAM: DIR/bin/PROGRAM, which runs DIR/root/usr/bin/PROGRAM with LIBS (when there
# are any) first on the library path.
deb_tool_wrapper() {
  local dir=$1 libs=$2 program=$3 env=
  [ -x "$dir/root/usr/bin/$program" ] || { echo "no usr/bin/$program in the unpacked packages" >&2; return 1; }
  # shellcheck disable=SC2016 # the wrapper expands LD_LIBRARY_PATH when it runs
  [ -z "$libs" ] || env="LD_LIBRARY_PATH=\"$libs"'${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" '
  printf '#!/bin/sh\n%sexec "%s" "$@"\n' "$env" "$dir/root/usr/bin/$program" >"$dir/bin/$program"
  chmod +x "$dir/bin/$program"
}

# deb_tool_check_libraries TAG DIR LIBS PROGRAM...: fails, naming them, when a program needs a library found
# neither among the unpacked ones nor on the machine (a package to add to packages.txt).
deb_tool_check_libraries() {
  local tag=$1 dir=$2 libs=$3
  shift 3
  local program missing
  for program in "$@"; do
    missing=$(LD_LIBRARY_PATH="$libs" ldd "$dir/root/usr/bin/$program" | awk '/not found/ {print $1}' | paste -sd' ' -)
    if [ -n "$missing" ]; then
      printf '[build-%s] %s needs %s, neither unpacked nor on this machine: add its package to packages.txt\n' \
        "$tag" "$program" "$missing" >&2
      return 1
    fi
  done
}
