# Shared by the examples' run.sh scripts (sourced, not run).
#   BASEIMG            the baseimg command (default: this repository's bin/baseimg)
#   BASEIMG_CACHE_DIR  download cache for builds (default: baseimg's own default)
# Every script works in a temp directory and removes it, and the images it
# loaded into podman, when it ends.

EXAMPLES="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BASEIMG="${BASEIMG:-$EXAMPLES/../bin/baseimg}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/baseimg-example.XXXXXX")"
LOADED=()

cleanup() {
  if [ "${#LOADED[@]}" -gt 0 ]; then podman rmi --force "${LOADED[@]}" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# baseimg build with the shared cache, when one is given. Progress goes to a
# log that is shown when the build fails; JSON event lines are left out otherwise.
build() {
  local log="$WORK/build.log"
  if ! "$BASEIMG" build ${BASEIMG_CACHE_DIR:+--cache-dir "$BASEIMG_CACHE_DIR"} "$@" 2>"$log"; then
    cat "$log" >&2
    return 1
  fi
  grep -v '^{' "$log" >&2 || true
}

# podman load, remembered for cleanup.
load() {
  local tar="$1" ref="$2"
  podman load -q -i "$tar" >/dev/null
  LOADED+=("$ref")
}

# expect WHAT ACTUAL PATTERN: fail with both when ACTUAL does not match.
expect() {
  # A here-string, not a pipe: grep -q stops early, and pipefail would count that as a failure.
  if ! grep -Eq -- "$3" <<<"$2"; then
    echo "FAIL: $1: expected /$3/, got:" >&2
    head -n 40 <<<"$2" >&2
    exit 1
  fi
  echo "ok: $1"
}
