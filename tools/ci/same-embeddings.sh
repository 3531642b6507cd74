#!/usr/bin/env bash
# Usage: tools/ci/same-embeddings.sh [BASE_REV]     (default BASE_REV: HEAD~1)
#
# Shows that a change left every number the user sees bit for bit as it was: builds BASE_REV
# (in a git worktree under .build-base/) and the working tree, release, and runs both on the
# committed fixtures —
#   - `convert` of the tiny HF and OpenCLIP checkpoints, q8 and f16 (the .pclip bytes),
#   - `embed` of every fixture and example image and a set of texts, with the bundled model,
#     the converted q8 files and the float checkpoints themselves, at 1 and 2 threads,
#   - `classify` of the example images with the bundled model,
# under every dispatch path this CPU has (POCKETCLIP_ISA caps: portable and each rung up to the
# best), then compares the outputs byte for byte. Embeddings print as shortest round-trip
# floats, so equal text is equal bits. Exits 1 on the first difference, naming it.
set -euo pipefail
cd "$(dirname "$0")/../.."
base=${1:-HEAD~1}
root=$PWD
work=$root/.build-base
rm -rf "$work/out-base" "$work/out-head"
mkdir -p "$work/out-base" "$work/out-head"

if [[ ! -d $work/tree ]]; then git worktree add --detach "$work/tree" "$base" >/dev/null
else git -C "$work/tree" checkout --quiet --detach "$base"; fi
echo "same-embeddings: base $(git -C "$work/tree" rev-parse --short HEAD), head: working tree" >&2
(cd "$work/tree" && swift build -c release --product pocketclip --scratch-path "$work/build" >&2)
swift build -c release --product pocketclip >&2
base_bin=$work/build/release/pocketclip
head_bin=$root/.build/release/pocketclip

fx=Tests/Fixtures
tok=$fx/tokenizer/bpe_simple_vocab_16e6.txt.gz
images=()
for f in $fx/images/in/*.png $fx/images/in/*.jpg examples/images/*.png; do images+=(--image "$f"); done
texts=(--text "a photo of a cat" --text "a bag" --text "an ankle boot on a white floor, seen from the side")

caps=(portable)
case $(uname -m) in
  x86_64) for c in avx2 avxvnni avx512vnni; do caps+=("$c"); done ;;
  aarch64) for c in neon dotprod; do caps+=("$c"); done ;;
esac

run() {  # run OUTDIR BIN: every output of one build into OUTDIR
  local out=$1 bin=$2
  "$bin" convert $fx/tiny-hf -o "$out/hf-q8.pclip" >/dev/null
  "$bin" convert $fx/tiny-hf -o "$out/hf-f16.pclip" --dtype f16 >/dev/null
  "$bin" convert $fx/tiny-openclip --tokenizer "$tok" -o "$out/oc-q8.pclip" >/dev/null
  for cap in "${caps[@]}"; do
    for t in 1 2; do
      export POCKETCLIP_ISA=$cap
      for m in models/pocketclip-fmnist.pclip "$out/hf-q8.pclip" "$out/hf-f16.pclip" "$out/oc-q8.pclip" $fx/tiny-hf; do
        local tag
        tag=$(basename "$m")
        "$bin" embed "$m" --threads $t "${images[@]}" "${texts[@]}" \
          | sed "s#$out/##" > "$out/embed-$tag-$cap-$t.json"
      done
      "$bin" embed $fx/tiny-openclip --tokenizer "$tok" --threads $t "${images[@]}" "${texts[@]}" \
        > "$out/embed-tiny-openclip-$cap-$t.json"
      "$bin" classify models/pocketclip-fmnist.pclip examples/images/*.png --json --threads $t \
        --labels t-shirt,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,"ankle boot" \
        > "$out/classify-$cap-$t.json"
      unset POCKETCLIP_ISA
    done
  done
}
run "$work/out-base" "$base_bin"
run "$work/out-head" "$head_bin"

n=0
for f in "$work"/out-base/*; do
  g=$work/out-head/$(basename "$f")
  if ! cmp -s "$f" "$g"; then
    echo "same-embeddings: $(basename "$f") differs between the base and the working tree" >&2
    exit 1
  fi
  n=$((n + 1))
done
echo "same-embeddings: $n outputs bit-identical to $base (dispatch paths: ${caps[*]}; lscpu: $(lscpu | sed -n 's/^Model name: *//p'))"
