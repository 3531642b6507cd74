#!/usr/bin/env bash
# The test command (README, and .ci/run): install what the build needs, check the import
# arrows, test the C kernels natively and on emulated ARM, build, run every Swift test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/check-imports.sh
# The C kernels on every path: x86-64 (AVX2/VNNI and forced portable) and aarch64 under qemu
# (Cortex-A72 NEON, Cortex-A76 sdot), each against a scalar reference.
bash tools/test-aarch64.sh
swift build --build-tests
# The examples (classify a folder to CSV, search an index, the board service) on the bundled model.
bash tools/run-examples.sh
# XCTest only: Swift Testing would close the run with "0 tests", which reads as no tests run.
swift test --skip-build --disable-swift-testing
# One model shared by several threads, under ThreadSanitizer (its own .build-tsan; ~2 min).
bash tools/tsan.sh
