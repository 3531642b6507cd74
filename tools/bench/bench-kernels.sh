#!/usr/bin/env bash
# GOP/s of the int8 GEMM (pc_gemm_q8) on the ViT-B/32 and text-tower shapes, one thread, for every
# path this CPU has, using the objects `swift build -c release` compiles (what the package ships).
#
#   tools/bench/bench-kernels.sh [seconds-per-cell] [group]     # defaults 0.5, 0 (one scale per channel)
#   tools/bench/bench-kernels.sh 0.3 128                         # the text blocks' default groups
#
# The last line estimates the ViT-B/32 image encoder's matmul time at batch 1 (12 blocks of
# qkv/out/fc/proj + patch embedding, 8.82 GOP); compare it with ONNX Runtime int8 on the same
# machine (tools/bench/bench-peers.py).
# Absolute numbers drift on a shared machine: the cell is the best of its repetitions.
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --target CLIPKernelsC >/dev/null
objs=$(swift build -c release --show-bin-path)/CLIPKernelsC.build
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
clang -O2 -ISources/CLIPKernelsC/include Tests/CLIPKernelsC/bench_kernels.c "$objs"/*.o -lm -o "$out/bench"
. tools/bench/machine.sh
echo "CPU: $(cpu_model)"  # figures depend on it
"$out/bench" "${1:-0.5}" "${2:-0}"
