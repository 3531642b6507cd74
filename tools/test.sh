#!/usr/bin/env bash
# The test command (README, and .ci/run): install what the build needs, check the import
# arrows, build, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/check-imports.sh
swift build --build-tests
# XCTest only: Swift Testing would close the run with "0 tests", which reads as no tests run.
swift test --skip-build --disable-swift-testing
