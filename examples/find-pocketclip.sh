# Sourced by the example scripts: sets $repo and $pocketclip (the binary to run).
#   POCKETCLIP=/path/to/pocketclip overrides; otherwise the one on PATH, then this checkout's
#   release build, then its debug build.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -n "${POCKETCLIP:-}" ]; then
  pocketclip="$POCKETCLIP"
elif command -v pocketclip >/dev/null 2>&1; then
  pocketclip="$(command -v pocketclip)"
elif [ -x "$repo/.build/release/pocketclip" ]; then
  pocketclip="$repo/.build/release/pocketclip"
elif [ -x "$repo/.build/debug/pocketclip" ]; then
  pocketclip="$repo/.build/debug/pocketclip"
else
  echo "error: no pocketclip binary; build one (swift build -c release --product pocketclip) or set POCKETCLIP" >&2
  exit 1
fi
# Absolute, so scripts may change directory.
case $pocketclip in */*) pocketclip=$(realpath "$pocketclip") ;; esac
default_model="$repo/models/pocketclip-fmnist.pclip"
