#!/usr/bin/env bash
# Does compiling the profiling hooks of `pocketclip profile` in slow the unprofiled path?
#
#   bash tools/bench/profile-overhead.sh MODEL BASE_REV [IMAGE]
#   bash tools/bench/profile-overhead.sh /tmp/asymq/vit-b32-q8.pclip a4208a6
#   BASE_BIN=/tmp/base/pocketclip HOOKS_BIN=.build/release/pocketclip bash tools/bench/profile-overhead.sh MODEL - IMAGE
#
# The hooks are `timer?.lap(...)` lines in the encoders; with no timer (every command but
# `profile`) each is one nil check. What matters is whether a user's `embed`/`classify` got
# slower, so this compares the release binary of this tree with the release binary of BASE_REV
# (the commit before the hooks; built from `git archive` in a temporary directory), both with
# no timer, through `pocketclip bench` (encoder only: the hooks live there).
#
# Rounds alternate the order (A B, B A, …) so drift on a shared machine hits both alike. Each
# bench call gives --runs timings; the script prints, per case, the median of all runs of each
# binary (wall and CPU ms), the hooks/base ratio of the medians, the spread of the per-round
# ratios, and the same figures for base against itself (A/A), which is the noise floor: the
# hooks cost nothing measurable when their ratio sits inside the A/A spread.
#
# Environment: ROUNDS (default 6), RUNS (20), THREADS ("1 2"), BASE_BIN / HOOKS_BIN (skip builds).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/bench/machine.sh
echo "CPU: $(cpu_model)"  # figures depend on it
model=${1:?usage: tools/bench/profile-overhead.sh MODEL BASE_REV [IMAGE]}
base_rev=${2:?usage: tools/bench/profile-overhead.sh MODEL BASE_REV [IMAGE]}
image=${3:-examples/images/sneaker.png}
rounds=${ROUNDS:-6}
runs=${RUNS:-20}
threads_list=${THREADS:-"1 2"}

if [[ -z ${HOOKS_BIN:-} ]]; then
  swift build -c release --product pocketclip >/dev/null
  HOOKS_BIN=.build/release/pocketclip
fi
if [[ -z ${BASE_BIN:-} ]]; then
  base_dir=$(mktemp -d)
  trap 'rm -rf "$base_dir"' EXIT
  git archive "$base_rev" | tar -x -C "$base_dir"
  (cd "$base_dir" && swift build -c release --product pocketclip >/dev/null)
  BASE_BIN=$base_dir/.build/release/pocketclip
fi
echo "hooks: $HOOKS_BIN ($(git rev-parse --short HEAD)); base: $BASE_BIN ($base_rev); model $model"
echo "$rounds rounds x $runs runs per binary and case, order alternating"

results=$(mktemp)
bench() {  # label binary case threads
  local args
  if [[ $2 == image ]]; then args=(--image "$image"); else args=(--text "a photo of a sneaker."); fi
  "$1" bench "$model" "${args[@]}" --threads "$3" --runs "$runs" --warmup 3 --json
}
for threads in $threads_list; do
  for kind in image text; do
    for ((r = 0; r < rounds; r++)); do
      # base, hooks, base again (A/A): rotate the order each round.
      order=(base hooks base2)
      for ((s = 0; s < r % 3; s++)); do order=("${order[@]:1}" "${order[0]}"); done
      for who in "${order[@]}"; do
        bin=$BASE_BIN; [[ $who == hooks ]] && bin=$HOOKS_BIN
        echo "$kind t$threads $r $who $(bench "$bin" "$kind" "$threads" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(" ".join(map(str, j.get("image_ms") or j.get("text_ms"))), "|", " ".join(map(str, j["cpu_ms"])))')" >>"$results"
      done
    done
  done
done

python3 - "$results" <<'EOF'
import statistics as st, sys
rows = {}
for line in open(sys.argv[1]):
    head, cpu = line.rsplit("|", 1)
    f = head.split()
    case, rnd, who, wall = f"{f[0]} t{f[1][1:]}", int(f[2]), f[3], list(map(float, f[4:]))
    rows.setdefault(case, {}).setdefault(who, {})[rnd] = (wall, list(map(float, cpu.split())))
print(f"{'case':14} {'base ms':>9} {'hooks ms':>9} {'hooks/base':>11} {'per-round':>17} {'A/A':>7} {'A/A per-round':>17}  (wall; CPU ms below)")
for case, by in rows.items():
    for k, name in ((0, "wall"), (1, "cpu")):
        med = {w: st.median([x for r in by[w].values() for x in r[k]]) for w in by}
        per = lambda a, b: [st.median(by[a][r][k]) / st.median(by[b][r][k]) for r in by[a]]
        h, aa = per("hooks", "base"), per("base2", "base")
        print(f"{case + ' ' + name:14} {med['base']:9.4f} {med['hooks']:9.4f} {med['hooks'] / med['base']:11.4f}"
              f" {min(h):8.4f}..{max(h):.4f} {med['base2'] / med['base']:7.4f} {min(aa):8.4f}..{max(aa):.4f}")
EOF
rm -f "$results"
