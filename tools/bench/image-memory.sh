#!/usr/bin/env bash
# Usage: tools/bench/image-memory.sh [BINARY ...]     (default: .build/release/pocketclip, built)
#
# Peak memory of `pocketclip classify MODEL --head H --threads 1 IMG` for images of growing size:
# a 224x224 PNG (the baseline: the model and the process itself), colour 4000x3000 JPEG and PNG
# photos (smooth colour plus noise, so the PNG is ~20 MB), and a 9000x9000 PNG that compresses
# to a few MB. Prints, per binary and image, the peak RSS and the peak of RssAnon (memory the
# process owns; the rest of RSS is file-backed: the mapped .pclip and the binary), and how far
# each is above the 224x224 run, and the best wall time of RUNS (3) whole runs. Decoding is
# streamed (docs/preprocessing.md), so the bars are: 4000x3000 JPEG and PNG <= 24 MB above the
# baseline, 9000x9000 PNG <= 40 MB above it. A 640x480 JPEG and PNG are there for the time.
#
# The images are made by tools/bench/make-bench-images.py with PYTHON (default python3; needs
# Pillow) in a temporary directory and removed afterwards. Give two binaries (say, one built at
# the base of a change and one of the tree) to compare before and after.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
runs=${RUNS:-3}   # timed runs per binary and image (RUNS=…); the best is printed
bins=("$@")
if [[ ${#bins[@]} -eq 0 ]]; then
  swift build -c release --product pocketclip >&2
  bins=(.build/release/pocketclip)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" tools/bench/make-bench-images.py "$work"
model=models/pocketclip-fmnist.pclip
lscpu | grep 'Model name' || true
printf '%-40s %-10s %9s %9s %9s %9s %9s\n' binary image "RSS MB" "anon MB" "+RSS" "+anon" "best ms"
for bin in "${bins[@]}"; do
  "$bin" head build "$model" --labels "t-shirt,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,ankle boot" \
    -o "$work/fmnist.head" >/dev/null
  base_rss=0 base_anon=0
  for img in small.png vga.jpg vga.png photo.jpg photo.png big.png; do
    read -r rss anon < <(python3 tools/bench/peak-rss.py "$bin" classify "$model" --head "$work/fmnist.head" \
      --threads 1 "$work/$img")
    if [[ $img == small.png ]]; then base_rss=$rss base_anon=$anon; fi
    # Wall time of the whole run (process start, model mapping, decode, resize, one forward pass),
    # best of $runs: with two binaries, their difference is the decoding and preprocessing.
    best=
    for ((r = 0; r < runs; r++)); do
      t0=$(date +%s%N)
      "$bin" classify "$model" --head "$work/fmnist.head" --threads 1 "$work/$img" >/dev/null
      ms=$(( ($(date +%s%N) - t0) / 100000 ))
      [[ -z $best || $ms -lt $best ]] && best=$ms
    done
    printf '%-40s %-10s %9s %9s %+9.1f %+9.1f %9s\n' "$bin" "$img" "$rss" "$anon" \
      "$(echo "$rss - $base_rss" | bc -l)" "$(echo "$anon - $base_anon" | bc -l)" "$(echo "scale=1; $best / 10" | bc -l)"
  done
done
