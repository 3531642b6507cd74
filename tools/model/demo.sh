#!/usr/bin/env bash
# The main job on a fresh Debian machine: install the build dependencies, build a release
# pocketclip, and classify a bundled Fashion-MNIST test image zero-shot with the bundled default
# model (models/pocketclip-fmnist.pclip, trained by this project: tools/model/train-default.sh). The
# ten class names are plain words; no training happens here.
#
#   bash tools/model/demo.sh [IMAGE=examples/images/sneaker.png] [extra classify flags, e.g. --json]
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/ci/setup.sh
swift build -c release --product pocketclip
image=${1:-examples/images/sneaker.png}
shift || true
.build/release/pocketclip classify models/pocketclip-fmnist.pclip "$image" \
  --labels-file examples/fashion-labels.txt --templates-file examples/fashion-templates.txt --top-k 3 "$@"
