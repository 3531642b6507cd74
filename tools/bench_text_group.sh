#!/usr/bin/env bash
# Text-tower cost and fidelity of per-channel q8 text weights vs groups of 64 (docs/benchmarks.md,
# "Text weights"): converts one checkpoint both ways and times a 77-token prompt, interleaved.
#
#   bash tools/bench_text_group.sh /work/local-b32/hf [ROUNDS=3]
#
# Prints each round's median ms per variant and the ratio G64 / per-channel. Cosines to the float
# model are printed by tools/bench_peers.py (run it on a file converted with --text-group 64).
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:?usage: tools/bench_text_group.sh CHECKPOINT_DIR [ROUNDS]}
rounds=${2:-3}
swift build -c release --product pocketclip >/dev/null
bin=.build/release/pocketclip
tok=Tests/Fixtures/tokenizer/bpe_simple_vocab_16e6.txt.gz
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
$bin convert "$src" --tokenizer "$tok" -o "$out/g0.pclip" --text-group 0 >/dev/null
$bin convert "$src" --tokenizer "$tok" -o "$out/g64.pclip" --text-group 64 >/dev/null
prompt=$(printf 'a photo of %.0s' $(seq 1 24))   # 72 tokens + SOT/EOT = 74 (near the 77 limit)
median() { $bin bench "$1" --text "$prompt" --threads 1 --runs 40 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["median_ms"])'; }
for r in $(seq 1 "$rounds"); do
  a=$(median "$out/g0.pclip"); b=$(median "$out/g64.pclip")
  python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'round {sys.argv[3]}: per-channel {a:.2f} ms  G64 {b:.2f} ms  G64/per-channel {b/a:.2f}')" "$a" "$b" "$r"
done
