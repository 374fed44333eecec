# Shared by tools/<tool>/build.sh (source it): builds a Go tool from the Go module proxy, at the version its
# go.mod pins, into a per-version cache outside the repository, reusing the cache when present.

# The version `module` has in the go.mod of directory `here`.
go_mod_version() {
  awk -v module="$2" '$1 == module {print $2; exit}' "$1/go.mod"
}

# go_tool_build TAG HERE PACKAGE BIN [LDFLAGS]: builds PACKAGE with HERE's go.mod into BIN unless BIN exists;
# prints BIN on its last line. TAG names the tool in the progress lines (on standard error).
go_tool_build() {
  local tag=$1 here=$2 package=$3 bin=$4 ldflags=${5:-}
  if [ -x "$bin" ]; then
    printf '[build-%s] %s: cached\n' "$tag" "$bin" >&2
  else
    printf '[build-%s] building %s (a cold build takes minutes on 2 cores)\n' "$tag" "$package" >&2
    local t0
    t0=$(date +%s)
    mkdir -p "$(dirname "$bin")"
    (cd "$here" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
      go build -trimpath -ldflags "$ldflags" -o "$bin.tmp" "$package")
    mv "$bin.tmp" "$bin"
    printf '[build-%s] built in %ss\n' "$tag" "$(( $(date +%s) - t0 ))" >&2
  fi
  echo "$bin"
}
