#!/usr/bin/env bash
# Size, conversion time and load memory of a ViT-B/32 .pclip, against the bars the format is held
# to (below).
#
#   VENV/bin/python tools/goldens/make-fixtures.py --vit-b32 /tmp/vit-b32   # random ViT-B/32, once
#   bash tools/bench/bench-pclip.sh /tmp/vit-b32/hf
#
# Prints, for q8 + zstd (the default) and q8 raw (every tensor memory-mapped): the file size
# against the bar (145 MB; ONNX Runtime's int8 towers total 151.7 MB on this model), the
# conversion time, and the peak RSS of a process that loads every tensor as a board would
# (`pocketclip inspect --load`) against the tensors' in-memory size (bar: + 16 MB).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/bench/machine.sh
echo "CPU: $(cpu_model)"  # figures depend on it
src=${1:?usage: tools/bench/bench-pclip.sh CHECKPOINT_DIR (from tools/goldens/make-fixtures.py --vit-b32 DIR: DIR/hf)}
# The board build: Swift standard library linked statically (its pages are then only those
# the program touches; the shared libswiftCore/Foundation add ~3.5 MB of RSS on their own).
swift build -c release --product pocketclip --static-swift-stdlib --scratch-path .build-static >/dev/null
bin=.build-static/release/pocketclip
tok=Tests/Fixtures/tokenizer/bpe_simple_vocab_16e6.txt.gz
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

onnx_int8_bytes=151700000   # ONNX Runtime dynamic int8 (QInt8) vision + text models, ViT-B/32, measured here
size_bar=145000000
rss_margin=$((16 * 1000 * 1000))

for variant in "zstd" "none"; do
  file="$out/b32-q8-$variant.pclip"
  json=$($bin convert "$src" --tokenizer "$tok" -o "$file" --compress "$variant" --json)
  bytes=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["file_bytes"])' "$json")
  seconds=$(python3 -c 'import json,sys; print(round(json.loads(sys.argv[1])["seconds"], 2))' "$json")
  load=$(/usr/bin/time -f '%M' -o "$out/time.txt" $bin inspect "$file" --load --json)
  read -r decoded mapped peak anon filebacked < <(python3 -c '
import json, sys
m = json.loads(sys.argv[1])["memory"]
print(m["decoded_bytes"], m["mapped_bytes"], m["peak_rss_bytes"], m["rss_anon_bytes"], m["rss_file_bytes"])' "$load")
  inmem=$((decoded + mapped))
  echo "q8, compress=$variant:"
  if [[ $variant == zstd ]]; then verdict="bar $((size_bar / 1000000)) MB: $([[ $bytes -le $size_bar ]] && echo pass || echo FAIL); "; else verdict="uncompressed, for mmap; "; fi
  printf '  file      %6.1f MB  (%sONNX Runtime int8 %.1f MB, ratio %.3f)\n' \
    "$(echo "$bytes/1000000" | bc -l)" "$verdict" "$(echo "$onnx_int8_bytes/1000000" | bc -l)" \
    "$(echo "$bytes/$onnx_int8_bytes" | bc -l)"
  printf '  convert   %6.2f s\n' "$seconds"
  printf '  load      %6.1f MB in memory (%.1f MB decoded + %.1f MB mapped), peak RSS %.1f MB: +%.1f MB (bar +16 MB: %s)\n' \
    "$(echo "$inmem/1000000" | bc -l)" "$(echo "$decoded/1000000" | bc -l)" "$(echo "$mapped/1000000" | bc -l)" \
    "$(echo "$peak/1000000" | bc -l)" "$(echo "($peak-$inmem)/1000000" | bc -l)" \
    "$([[ $((peak - inmem)) -le $rss_margin ]] && echo pass || echo FAIL)"
  printf '            resident once loaded: %.1f MB anonymous + %.1f MB file-backed (mapped weights, binary)\n' \
    "$(echo "$anon/1000000" | bc -l)" "$(echo "$filebacked/1000000" | bc -l)"
done
