#!/usr/bin/env bash
# The test command (README, and .ci/run): install what the build needs, check the import
# arrows and that nothing refers outside the repository, test the C kernels natively and on
# emulated ARM, build, run every Swift test.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/ci/setup.sh
bash tools/ci/check-imports.sh
bash tools/ci/check-self-contained.sh
# The C kernels on every path: x86-64 (AVX2/VNNI and forced portable) and aarch64 under qemu
# (Cortex-A72 NEON, Cortex-A76 sdot), each against a scalar reference.
bash tools/ci/test-c-kernels.sh
swift build --build-tests
# The examples (classify a folder to CSV, search an index, the board service) on the bundled model.
bash tools/ci/run-examples.sh
# The kernel and runtime suites again with the dispatch capped below this CPU's best path
# (POCKETCLIP_ISA, pc_kernels.h), so every path a CI machine might pick has run the float parity,
# q8 agreement and threading tests here, whatever this CPU is. ~2 min per path.
caps=portable
grep -qw avx2 /proc/cpuinfo && grep -qwE 'avx512_vnni|avx_vnni' /proc/cpuinfo && caps="avx2 $caps"
grep -qw avx512_vnni /proc/cpuinfo && grep -qw avx_vnni /proc/cpuinfo && caps="avxvnni $caps"
for isa in $caps; do
  echo "== kernel and runtime tests with POCKETCLIP_ISA=$isa"
  POCKETCLIP_ISA=$isa swift test --skip-build --disable-swift-testing --filter '^(CLIPRuntimeTests|CLIPKernelsTests)\.'
done
# aarch64 for real (docs/board.md): the roots made once under ~/.cache (~6 min on a fresh machine,
# reused after), the static aarch64 executable and its check in an arm64 Debian 12 root, the Swift
# tests under qemu as Cortex-A72 and A76, and the same answers as the x86-64 board build.
bash tools/board/board-build.sh
bash tools/board/board-build.sh --arch aarch64
bash tools/board/board-check.sh --arch aarch64
bash tools/ci/test-aarch64-swift.sh
python3 tools/board/arch-parity.py --x86 .build-board/pocketclip --aarch64 .build-board-aarch64/pocketclip
# Every test on the path this CPU dispatches. XCTest only: Swift Testing would close the run
# with "0 tests", which reads as no tests run.
swift test --skip-build --disable-swift-testing
# One model shared by several threads, under ThreadSanitizer (its own .build-tsan; ~2 min).
bash tools/ci/tsan.sh
