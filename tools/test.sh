#!/usr/bin/env bash
# The test command (README, and .ci/run): install what the build needs, check the import
# arrows, build, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/check-imports.sh
swift build --build-tests
swift test --skip-build
