#!/usr/bin/env bash
# Text-tower cost of q8 text weight groups (docs/benchmarks.md, "Weight groups"): converts one
# checkpoint three ways — one scale per output channel, the default (groups of 128 along K, mse
# scales) and groups of 64 — and times a 74-token prompt on each, interleaved, one thread.
#
#   bash tools/bench/bench-text-group.sh B32_DIR/hf [ROUNDS=3]
#
# Prints each round's median ms per variant and the ratios to per-channel. The cosines of the
# same files to the float model: python3 tools/bench/q8-fidelity.py CHECKPOINT FILE... (printed at
# the end when KEEP=1 leaves the files in place).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/bench/machine.sh
echo "CPU: $(cpu_model)"  # figures depend on it
src=${1:?usage: tools/bench/bench-text-group.sh CHECKPOINT_DIR [ROUNDS]}
rounds=${2:-3}
swift build -c release --product pocketclip >/dev/null
bin=.build/release/pocketclip
tok=Tests/Fixtures/tokenizer/bpe_simple_vocab_16e6.txt.gz
out=$(mktemp -d)
[[ ${KEEP:-0} == 1 ]] || trap 'rm -rf "$out"' EXIT
$bin convert "$src" --tokenizer "$tok" -o "$out/per-channel.pclip" --text-group 0 --text-scales amax >/dev/null
$bin convert "$src" --tokenizer "$tok" -o "$out/default.pclip" >/dev/null
$bin convert "$src" --tokenizer "$tok" -o "$out/g64.pclip" --text-group 64 --text-scales amax >/dev/null
prompt=$(printf 'a photo of %.0s' $(seq 1 24))   # 72 tokens + SOT/EOT = 74 (near the 77 limit)
median() { $bin bench "$1" --text "$prompt" --threads 1 --runs 40 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["median_ms"])'; }
for r in $(seq 1 "$rounds"); do
  a=$(median "$out/per-channel.pclip"); b=$(median "$out/default.pclip"); c=$(median "$out/g64.pclip")
  python3 -c "import sys; a,b,c=map(float,sys.argv[1:4]); print(f'round {sys.argv[4]}: per-channel {a:.2f} ms  default (G128 mse) {b:.2f} ms ({b/a:.2f}x)  G64 {c:.2f} ms ({c/a:.2f}x)')" "$a" "$b" "$c" "$r"
done
[[ ${KEEP:-0} == 1 ]] && echo "files kept: python3 tools/bench/q8-fidelity.py $src $out/per-channel.pclip $out/default.pclip $out/g64.pclip"
true
