#!/usr/bin/env bash
# Peak memory of `classify --head` (the board's vision-only run) for the x86-64 and the aarch64
# board executables side by side, on the bundled model and on any other .pclip given.
#
#   tools/board/board-memory.sh [MODEL.pclip ...]      # after tools/board/board-build.sh [--arch aarch64]
#
# x86-64: the peak resident set (ru_maxrss from wait4, as /usr/bin/time -v reports it) of
# .build-board/pocketclip. aarch64: .build-board-aarch64/pocketclip under qemu-aarch64 as a
# Cortex-A72. Under qemu-user the guest's memory lives inside the qemu process, whose peak also
# holds the emulator's own (its translation cache and tables), so the aarch64 column is qemu's
# peak minus qemu's peak running `pocketclip --help` (the emulator plus the executable's start-up),
# and the x86 column is shown the same way (the run's peak minus `--help`'s) beside the raw
# figures. The difference is architecture-dependent through code size, data layout and the
# allocator, not through emulation speed. MB = 10^6 bytes; --threads 1, one image, 10 labels.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/bench/machine.sh
echo "CPU: $(cpu_model)"  # figures depend on it
x86=.build-board/pocketclip
arm=.build-board-aarch64/pocketclip
for b in $x86 $arm; do
  [[ -x $b ]] || { echo "board-memory: no $b (tools/board/board-build.sh, tools/board/board-build.sh --arch aarch64)" >&2; exit 1; }
done
models=("$@")
[[ ${#models[@]} -gt 0 ]] || models=(models/pocketclip-fmnist.pclip)
image=examples/images/bag.png
labels="t-shirt,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,ankle boot"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# peak CMD...: prints the run's ru_maxrss in MB (tools/bench/peak-rss.py); a failed run stops the
# script.
peak() { python3 tools/bench/peak-rss.py "$@" | cut -d' ' -f1; }

qemu=(qemu-aarch64 -cpu cortex-a72)
base_x86=$(peak $x86 --help)
base_arm=$(peak "${qemu[@]}" $arm --help)
echo "| model | x86-64 classify --head | aarch64 (qemu) classify --head |"
echo "|---|---:|---:|"
for m in "${models[@]}"; do
  head=$work/$(basename "$m" .pclip).head
  $x86 head build "$m" --labels "$labels" -o "$head" > /dev/null 2>&1
  run=(classify "$m" "$image" --head "$head" --threads 1)
  rx=$(peak $x86 "${run[@]}")
  ra=$(peak "${qemu[@]}" $arm "${run[@]}")
  python3 - "$m" "$rx" "$base_x86" "$ra" "$base_arm" <<'PY'
import sys
m, rx, bx, ra, ba = sys.argv[1], *map(float, sys.argv[2:])
print(f"| {m} | {rx - bx:.1f} MB ({rx:.1f} − {bx:.1f} for --help) | {ra - ba:.1f} MB ({ra:.1f} − {ba:.1f} for --help) |")
PY
done
