#!/usr/bin/env bash
# Reproduces the bundled default model, models/pocketclip-fmnist.pclip, from scratch:
#
#   bash tools/model/train-default.sh [OUT=runs/fmnist]
#
# Trains the default recipe (`pocketclip train --help`) on Fashion-MNIST captions (Debian package
# dataset-fashion-mnist), converts the float checkpoint to q8, and prints the README's figures
# with `pocketclip eval` (float and q8 side by side, and their top-1 agreement). The training log
# prints its own wall-clock time; a fixed seed gives the same run on the same build (OpenBLAS
# thread counts change float rounding, so use the same --threads to get the same bits).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/fmnist}
bash tools/ci/setup.sh dataset-fashion-mnist
swift build -c release --product pocketclip
bin=.build/release/pocketclip
resume=(); [ -f "$out/checkpoint.ckpt" ] && resume=(--resume)
$bin train -o "$out" --tokenizer Tests/Fixtures/tokenizer/bpe_simple_vocab_16e6.txt.gz "${resume[@]}"
$bin convert "$out/model" -o "$out/pocketclip-fmnist.pclip"
$bin eval "$out/model" "$out/pocketclip-fmnist.pclip"
echo "to ship it: cp $out/pocketclip-fmnist.pclip models/"
