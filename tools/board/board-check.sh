#!/usr/bin/env bash
# The board build's executable classifies an image inside a minimal Debian
# root that has no Swift, no zstd, no zlib, no TurboJPEG, no OpenBLAS: only what
# `debootstrap --variant=minbase` installs. Into that root go the executable, one model and one
# image, nothing else; `classify` runs there under chroot
# (in a private mount and PID namespace made by unshare, for /proc).
#
#   tools/board/board-check.sh [MODEL.pclip IMAGE [LABELS]]
#   tools/board/board-check.sh --arch aarch64 [MODEL.pclip IMAGE [LABELS]]
#
# Default model: models/pocketclip-fmnist.pclip with an image from examples/images/; in a checkout
# without them, a .pclip converted from the tiny random-weight OpenCLIP fixture (its probabilities
# mean nothing; the point is that it runs). Build first with tools/board/board-build.sh (this
# script does it if .build-board/pocketclip is missing).
#
# Needs root (debootstrap, chroot) and the network the first time: the root is cached in
# $POCKETCLIP_ROOTFS (default ~/.cache/pocketclip-rootfs, outside the repo) and reused after.
# Fails loudly if the executable needs a library the root lacks (the loader's own message).
#
# --arch aarch64: the same check for `tools/board/board-build.sh --arch aarch64`'s static
# executable (.build-board-aarch64/pocketclip, built if missing), in a Debian 12 arm64 minbase
# root (`tools/board/aarch64-roots.sh board`: mmdebstrap --arch=arm64, cached with the other aarch64
# roots under $POCKETCLIP_AARCH64_ROOTS, default ~/.cache/pocketclip-aarch64), run under
# qemu-aarch64-static as a $POCKETCLIP_QEMU_CPU (default cortex-a72, a Raspberry Pi 4's core).
# Nothing goes into the root but the executable, the model and the image: the emulator is handed
# aarch64 executables by a binfmt_misc instance private to the run. Then the x86-64 board build
# (.build-board/pocketclip, or $POCKETCLIP_X86_BIN; built if missing) classifies the same image on
# this machine, and the check fails unless both give the same top 3 labels in the same order.
set -euo pipefail
cd "$(dirname "$0")/../.."
arch=native
case ${1:-} in
  --arch) arch=${2:-}; shift 2 || { echo "board-check: --arch needs a value" >&2; exit 2; } ;;
  --arch=*) arch=${1#--arch=}; shift ;;
esac
case $arch in
  native|x86_64|x86-64|"$(uname -m)") arch=native ;;
  aarch64|arm64) arch=aarch64 ;;
  *) echo "board-check: --arch $arch: only the native build and aarch64" >&2; exit 2 ;;
esac
suite=${POCKETCLIP_SUITE:-bookworm}
mirror=${POCKETCLIP_MIRROR:-http://deb.debian.org/debian}
if [[ $arch == aarch64 ]]; then
  bin=${POCKETCLIP_BIN:-.build-board-aarch64/pocketclip}
  x86bin=${POCKETCLIP_X86_BIN:-.build-board/pocketclip}
  cpu=${POCKETCLIP_QEMU_CPU:-cortex-a72}
  suite=bookworm   # what tools/board/aarch64-roots.sh board makes
  rootfs=$(bash tools/board/aarch64-roots.sh dir)/bookworm-arm64
  [[ -x $bin ]] || bash tools/board/board-build.sh --arch aarch64
  [[ -x $x86bin ]] || bash tools/board/board-build.sh
else
  bin=${POCKETCLIP_BIN:-.build-board/pocketclip}  # POCKETCLIP_BIN: check another build
  rootfs=${POCKETCLIP_ROOTFS:-${XDG_CACHE_HOME:-$HOME/.cache}/pocketclip-rootfs}
  [[ -x $bin ]] || bash tools/board/board-build.sh
fi

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
  "${x86bin:-$bin}" convert Tests/Fixtures/tiny-openclip -o "$model" \
    --tokenizer Tests/Fixtures/tokenizer/bpe_simple_vocab_16e6.txt.gz > /dev/null
  image=Tests/Fixtures/tiny-openclip/images/rgb_40x54.png
  labels="cat,red square,two dogs,empty street"
fi
labels=${labels:-"cat,dog,car"}
for f in "$model" "$image"; do
  [[ -f $f ]] || { echo "board-check: $f does not exist" >&2; exit 1; }
done

if [[ $arch == aarch64 ]]; then
  bash tools/board/aarch64-roots.sh board
elif [[ ! -x $rootfs/bin/sh ]]; then
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
present=$(cd "$rootfs" && ls usr/lib/*/libzstd.so* usr/lib/*/libturbojpeg.so* usr/lib/*/libjpeg.so* usr/lib/*/libwebp*.so* usr/lib/*/libopenblas* \
  usr/lib/*/libswiftCore.so usr/lib/*/libz.so* 2>/dev/null || true)
if [[ $arch == aarch64 ]]; then   # dpkg-query is an arm64 program there: count its status file
  echo "board-check: root $rootfs ($(du -sh "$rootfs" | cut -f1), $(grep -c '^Status: install ok installed' "$rootfs/var/lib/dpkg/status") packages, arm64)"
else
  echo "board-check: root $rootfs ($(du -sh "$rootfs" | cut -f1), $(chroot "$rootfs" dpkg-query -f '.\n' -W | wc -l) packages)"
fi
[[ -n $present ]] && echo "board-check: note: the root has $(echo $present | tr '\n' ' ')(minbase ships these; the executable does not use them: see ldd below)"

# A fresh directory inside the root per run, removed afterwards.
job=$(mktemp -d "$rootfs/tmp/pocketclip.XXXXXX")
trap 'rm -rf "$work" "$job"' EXIT
inside=/tmp/$(basename "$job")
cp "$bin" "$job/pocketclip"
cp "$model" "$job/model.pclip"
cp "$image" "$job/image.${image##*.}"
echo "board-check: copied in: pocketclip ($(du -h "$bin" | cut -f1)), $(basename "$model") ($(du -h "$model" | cut -f1)), $(basename "$image")"

# /proc must be mounted in the root: a statically linked Swift runtime reads its arguments from
# /proc/self/cmdline (without it, every run sees no arguments and prints the top-level help). A
# real board always has /proc; here a private mount namespace gives the root its own, which
# vanishes with the run (nothing to unmount, nothing left behind on failure).
if [[ $arch == aarch64 ]]; then
  # In tools/board/aarch64-roots.sh's private namespace (its own /proc and binfmt_misc), with
  # QEMU_CPU telling the emulator which core to be.
  run_inside() {
    bash tools/board/aarch64-roots.sh arm64 bash -c 'r=$1 cpu=$2; shift 2; mount -t proc proc "$r/proc"
      exec chroot "$r" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root QEMU_CPU="$cpu" "$@"' \
      bash "$rootfs" "$cpu" "$@"
  }
else
  run_inside() {
    unshare --mount --pid --fork --mount-proc="$rootfs/proc" \
      chroot "$rootfs" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root "$@"
  }
fi

echo "board-check: inside the root, ldd says:"
if [[ $arch == aarch64 ]]; then
  # ldd exits 1 on a static executable ("not a dynamic executable"): that is the expected answer.
  lddout=$(run_inside /usr/bin/ldd "$inside/pocketclip" 2>&1 || true)
else
  lddout=$(chroot "$rootfs" /usr/bin/ldd "$inside/pocketclip")
fi
echo "$lddout" | sed 's/^/  /'
if grep -q 'not found' <<<"$lddout"; then
  echo "board-check: FAIL: the executable needs a library the minimal root lacks (above)" >&2
  exit 1
fi

where="inside the root, env -i, one thread"
[[ $arch == aarch64 ]] && where="$where, qemu-aarch64 -cpu $cpu"
echo "board-check: pocketclip classify ($where):"
t=$SECONDS
if ! out=$(run_inside "$inside/pocketclip" classify "$inside/model.pclip" "$inside/image.${image##*.}" \
    --labels "$labels" --top-k 0 --threads 1 2>&1); then
  echo "$out" >&2
  echo "board-check: FAIL: classify did not run inside the minimal root" >&2
  exit 1
fi
echo "$out" | sed 's/^/  /'
[[ $arch == aarch64 ]] && echo "board-check: ($((SECONDS - t)) s under emulation)"
# Each label must come back with a probability, or classify did not really run.
first=${labels%%,*}
if ! grep -qE "^ *$first +[0-9.]+%" <<<"$out"; then
  echo "board-check: FAIL: classify's output has no probability for '$first'" >&2
  exit 1
fi

if [[ $arch == aarch64 ]]; then
  # The same image and labels through the x86-64 board build, here on the host: the top 3 must
  # be the same labels in the same order (probabilities may differ in the last digit: the float
  # summation order of the two architectures' kernels is not the same everywhere).
  top3() { grep -E '^ +.*[0-9.]+%$' | head -n 3 | sed -E 's/^ +//; s/ +([0-9.]+%)$/\t\1/'; }
  if ! x86out=$("$x86bin" classify "$model" "$image" --labels "$labels" --top-k 0 --threads 1 2>&1); then
    echo "$x86out" >&2
    echo "board-check: FAIL: the x86-64 build ($x86bin) did not classify the image" >&2
    exit 1
  fi
  a=$(top3 <<<"$out") x=$(top3 <<<"$x86out")
  echo "board-check: top 3, aarch64 (qemu $cpu) | x86-64 ($x86bin):"
  paste <(cut -f1,2 <<<"$a") <(cut -f1,2 <<<"$x") | awk -F'\t' '{printf "  %-14s %7s | %-14s %7s\n", $1, $2, $3, $4}'
  if [[ $(cut -f1 <<<"$a") != "$(cut -f1 <<<"$x")" || $(wc -l <<<"$a") -ne 3 ]]; then
    echo "board-check: FAIL: aarch64 and x86-64 disagree on the top 3" >&2
    exit 1
  fi
  same="same labels"
  [[ $a == "$x" ]] && same="same labels and probabilities"
  [[ $(grep -E '[0-9.]+%$' <<<"$out") == "$(grep -E '[0-9.]+%$' <<<"$x86out")" ]] && same="all $(grep -cE '[0-9.]+%$' <<<"$out") lines identical"
  echo "board-check: top 3 as on x86-64 ($same)"
fi
echo "board-check: OK: the board build runs in a minimal $suite root with no Swift installed"
