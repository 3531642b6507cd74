#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ (a separate package: a fuzz executable has no main, so it
# cannot link in the main package's plain `swift build`) and runs each for a given time.
#
#   tools/fuzz/fuzz.sh [SECONDS] [TARGET...]     # default: 600 s each, all eight targets (docs/fuzzing.md)
#   tools/fuzz/fuzz.sh 600 FuzzSafetensors
#   FUZZ_NO_BUILD=1 nice -n 19 tools/fuzz/fuzz.sh 900 FuzzHead &   # a second run beside another: build once first
#
# Targets run one after the other, single process (the build machines have 2 shared cores). To
# run two at once, build them first and start each run with FUZZ_NO_BUILD=1, so two builds never
# share the scratch directory.
# Seeds are read from Fuzz/corpus/<target>/ and never written; the inputs libFuzzer adds go to
# Fuzz/.build-fuzz/corpus/<target>/, findings to Fuzz/.build-fuzz/artifacts/<target>/, and the full
# log to Fuzz/.build-fuzz/logs/<target>.log. Limits: any single allocation over 512 MB, RSS over
# 2 GB, or an input taking over 25 s (FUZZ_TIMEOUT) is a finding. Exit status is non-zero if any
# target found one. libFuzzer's timeout is wall-clock: on a machine shared with jobs of higher
# priority a starved process can pass it on a fast input, so every timeout and slow-unit artifact
# is replayed at the end and its CPU time printed (docs/fuzzing.md, "Timeouts").
# Reproduce a finding:  SWIFT_BACKTRACE=enable=no Fuzz/.build-fuzz/debug/<target> <artifact file>
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
FUZZ="$ROOT/Fuzz"
SCRATCH="$FUZZ/.build-fuzz"
SECONDS_EACH="${1:-600}"
TIMEOUT="${FUZZ_TIMEOUT:-25}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(FuzzPclip FuzzSafetensors FuzzImage FuzzTokenizer FuzzIDX FuzzCaptions FuzzHead FuzzIndex)

# Without this the Swift backtracer can hang on the first crash.
export SWIFT_BACKTRACE=enable=no

for t in "${TARGETS[@]}"; do
    [ -z "${FUZZ_NO_BUILD:-}" ] || break
    echo "== building $t"
    swift build --package-path "$FUZZ" --scratch-path "$SCRATCH" --product "$t" \
        --sanitize=fuzzer --sanitize=address \
        -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table
done

status=0
for t in "${TARGETS[@]}"; do
    corpus="$SCRATCH/corpus/$t" artifacts="$SCRATCH/artifacts/$t" log="$SCRATCH/logs/$t.log"
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
    echo "== fuzzing $t for $SECONDS_EACH s (log: $log)"
    set +e
    "$SCRATCH/debug/$t" "$corpus" "$FUZZ/corpus/$t" \
        -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout="$TIMEOUT" \
        -rss_limit_mb=2048 -malloc_limit_mb=512 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    # The last coverage line (cov: edges, ft: features, corp: inputs) and the final stats.
    grep -E '^#[0-9]+' "$log" | tail -n 1
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
    echo "corpus: $(find "$corpus" -type f | wc -l) generated inputs, $(du -sk --apparent-size "$corpus" | cut -f1) kB"
    if [ $rc -ne 0 ]; then
        status=1
        echo "!! $t exited with $rc: finding(s) in $artifacts:"
        ls -l "$artifacts"
        grep -E 'ERROR|SUMMARY|Fatal error|==[0-9]+==' "$log" | head -n 20 || true
    else
        echo "$t: no finding"
    fi
    # CPU time of a timeout or slow input, to tell a slow parser from a starved process.
    for a in "$artifacts"/timeout-* "$artifacts"/slow-unit-*; do
        [ -f "$a" ] || continue
        TIMEFORMAT="replay $(basename "$a"): %R s wall, %U s user + %S s sys CPU"
        time "$SCRATCH/debug/$t" -runs=1 "$a" >/dev/null 2>&1 || true
    done
done
exit $status
