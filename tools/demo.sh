#!/usr/bin/env bash
# The main job: build a release pocketclip and classify a bundled image zero-shot.
# Until the project's own trained default model lands (issue 5), this runs the tiny
# random-weight fixture model: the pipeline is real, the probabilities are not meaningful.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
swift build -c release --product pocketclip
.build/release/pocketclip classify Tests/Fixtures/tiny-openclip Tests/Fixtures/tiny-openclip/images/rgb_40x54.png \
  --tokenizer Tests/Fixtures/tokenizer/bpe_simple_vocab_16e6.txt.gz \
  --labels "cat,red square,two dogs,empty street" "$@"
