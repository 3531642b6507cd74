#!/usr/bin/env bash
# The main job: build a release pocketclip, convert a model to one .pclip file, and classify a
# bundled image zero-shot. Until the project's own trained default model lands (issue 5), the
# model is the tiny random-weight OpenCLIP fixture: the pipeline is real, the probabilities are not
# meaningful.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
swift build -c release --product pocketclip
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
model=$dir/tiny.pclip
.build/release/pocketclip convert Tests/Fixtures/tiny-openclip -o "$model" \
  --tokenizer Tests/Fixtures/tokenizer/bpe_simple_vocab_16e6.txt.gz
.build/release/pocketclip classify "$model" Tests/Fixtures/tiny-openclip/images/rgb_40x54.png \
  --labels "cat,red square,two dogs,empty street" --ensemble "$@"
