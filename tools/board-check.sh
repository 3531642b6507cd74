#!/usr/bin/env bash
# Issue 6, done-when 2: the board build's executable classifies an image inside a minimal Debian
# root that has no Swift, no zstd, no zlib, no TurboJPEG, no OpenBLAS: only what
# `debootstrap --variant=minbase` installs. Into that root go the executable, one model and one
# image, nothing else; `classify` runs there under chroot
# (in a private mount and PID namespace made by unshare, for /proc).
#
#   tools/board-check.sh [MODEL.pclip IMAGE [LABELS]]
#
# Default model: models/pocketclip-fmnist.pclip with an image from examples/images/ once they are
# committed; until then a .pclip converted from the tiny random-weight OpenCLIP fixture (its
# probabilities mean nothing; the point is that it runs). Build first with tools/board-build.sh
# (this script does it if .build-board/pocketclip is missing).
#
# Needs root (debootstrap, chroot) and the network the first time: the root is cached in
# $POCKETCLIP_ROOTFS (default /var/tmp/pocketclip-rootfs, outside the repo) and reused after.
# Fails loudly if the executable needs a library the root lacks (the loader's own message).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${POCKETCLIP_BIN:-.build-board/pocketclip}  # POCKETCLIP_BIN: check another build
rootfs=${POCKETCLIP_ROOTFS:-/var/tmp/pocketclip-rootfs}
suite=${POCKETCLIP_SUITE:-bookworm}
mirror=${POCKETCLIP_MIRROR:-http://deb.debian.org/debian}

[[ -x $bin ]] || bash tools/board-build.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ $# -ge 2 ]]; then
  model=$1 image=$2 labels=${3:-}
elif [[ -f models/pocketclip-fmnist.pclip ]] && compgen -G 'examples/images/*' > /dev/null; then
  model=models/pocketclip-fmnist.pclip
  image=$(ls examples/images/* | head -n 1)
  labels="t-shirt,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,ankle boot"
else
  # The host's own pocketclip (this same build) converts the fixture; only the .pclip goes in.
  model=$work/tiny.pclip
  "$bin" convert Tests/Fixtures/tiny-openclip -o "$model" \
    --tokenizer Tests/Fixtures/tokenizer/bpe_simple_vocab_16e6.txt.gz > /dev/null
  image=Tests/Fixtures/tiny-openclip/images/rgb_40x54.png
  labels="cat,red square,two dogs,empty street"
fi
labels=${labels:-"cat,dog,car"}
for f in "$model" "$image"; do
  [[ -f $f ]] || { echo "board-check: $f does not exist" >&2; exit 1; }
done

if [[ ! -x $rootfs/bin/sh ]]; then
  command -v debootstrap > /dev/null || {
    echo "board-check: debootstrap is not installed (apt-get install -y debootstrap)" >&2; exit 1; }
  echo "board-check: making a minimal $suite root in $rootfs (once; reused after)"
  rm -rf "$rootfs.partial"
  debootstrap --variant=minbase "$suite" "$rootfs.partial" "$mirror" > "$work/debootstrap.log" 2>&1 || {
    tail -n 20 "$work/debootstrap.log" >&2
    echo "board-check: debootstrap failed (network? mirror $mirror)" >&2; exit 1; }
  mv "$rootfs.partial" "$rootfs"
fi

# The claim under test: nothing the executable needs is missing from a root that never had Swift
# or the C libraries. Say so if one of them is there after all (a reused, modified root).
present=$(cd "$rootfs" && ls usr/lib/*/libzstd.so* usr/lib/*/libturbojpeg.so* usr/lib/*/libopenblas* \
  usr/lib/*/libswiftCore.so usr/lib/*/libz.so* 2>/dev/null || true)
echo "board-check: root $rootfs ($(du -sh "$rootfs" | cut -f1), $(chroot "$rootfs" dpkg-query -f '.\n' -W | wc -l) packages)"
[[ -n $present ]] && echo "board-check: note: the root has $(echo $present | tr '\n' ' ')(minbase ships these; the executable does not use them: see ldd below)"

# A fresh directory inside the root per run, removed afterwards.
job=$(mktemp -d "$rootfs/tmp/pocketclip.XXXXXX")
trap 'rm -rf "$work" "$job"' EXIT
inside=/tmp/$(basename "$job")
cp "$bin" "$job/pocketclip"
cp "$model" "$job/model.pclip"
cp "$image" "$job/image.${image##*.}"
echo "board-check: copied in: pocketclip ($(du -h "$bin" | cut -f1)), $(basename "$model") ($(du -h "$model" | cut -f1)), $(basename "$image")"

echo "board-check: inside the root, ldd says:"
chroot "$rootfs" /usr/bin/ldd "$inside/pocketclip" | sed 's/^/  /'
if chroot "$rootfs" /usr/bin/ldd "$inside/pocketclip" | grep -q 'not found'; then
  echo "board-check: FAIL: the executable needs a library the minimal root lacks (above)" >&2
  exit 1
fi

# /proc must be mounted in the root: a statically linked Swift runtime reads its arguments from
# /proc/self/cmdline (without it, every run sees no arguments and prints the top-level help). A
# real board always has /proc; here a private mount namespace gives the root its own, which
# vanishes with the run (nothing to unmount, nothing left behind on failure).
run_inside() {
  unshare --mount --pid --fork --mount-proc="$rootfs/proc" \
    chroot "$rootfs" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root "$@"
}
echo "board-check: pocketclip classify (inside the root, env -i, one thread):"
if ! out=$(run_inside "$inside/pocketclip" classify "$inside/model.pclip" "$inside/image.${image##*.}" \
    --labels "$labels" --top-k 0 --threads 1 2>&1); then
  echo "$out" >&2
  echo "board-check: FAIL: classify did not run inside the minimal root" >&2
  exit 1
fi
echo "$out" | sed 's/^/  /'
# Each label must come back with a probability, or classify did not really run.
first=${labels%%,*}
if ! grep -qE "^ *$first +[0-9.]+%" <<<"$out"; then
  echo "board-check: FAIL: classify's output has no probability for '$first'" >&2
  exit 1
fi
echo "board-check: OK: the board build runs in a minimal $suite root with no Swift installed"
