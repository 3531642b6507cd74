#!/usr/bin/env bash
# ThreadSanitizer run of the threading tests: one model shared by several threads, the
# worker pool (pc_pool.c) shared by several callers, the thread-count invariance tests, and one
# tokenizer (its locked BPE cache) shared by 4 threads.
#
#   tools/ci/tsan.sh                 # build into .build-tsan, run the tests, print "TSAN OK" or fail
#   tools/ci/tsan.sh WorkerPoolTests # only the tests whose names match the given filter(s)
#
# SwiftPM passes --sanitize=thread to the C targets too, so the C kernels and the pool are
# instrumented as well as the Swift code. Any ThreadSanitizer report fails the run: nothing is
# suppressed. From scratch on the 2-core build machine: build 70 s, tests 40 s (docs/concurrency.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

SCRATCH=.build-tsan
FILTERS=("$@")
[ ${#FILTERS[@]} -gt 0 ] || FILTERS=(ConcurrencyTests ThreadingTests PooledRowShortcutTests WorkerPoolTests
                                   VocabularyTests.testConcurrentUseGivesTheSameIds)

# Without this the Swift backtracer can hang on a crash.
export SWIFT_BACKTRACE=enable=no
# Keep going after a report so one run lists them all; a report still makes the exit status 66.
# second_deadlock_stack: a lock-order report shows where both locks were taken.
export TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"

echo "== building with -sanitize=thread into $SCRATCH"
swift build --build-tests --sanitize=thread --scratch-path "$SCRATCH"

LOG="$SCRATCH/tsan.log"
: > "$LOG"
status=0
for f in "${FILTERS[@]}"; do
    echo "== $f"
    # One filter per process, so a report names the tests that caused it.
    swift test --skip-build --disable-swift-testing --sanitize=thread --scratch-path "$SCRATCH" --filter "$f" 2>&1 \
        | tee -a "$LOG" || status=$?
done

reports=$(grep -c "WARNING: ThreadSanitizer" "$LOG" || true)
if [ "$status" -ne 0 ] || [ "$reports" -ne 0 ]; then
    echo "TSAN FAILED: $reports ThreadSanitizer report(s), exit status $status (full log: $LOG)"
    exit 1
fi
echo "TSAN OK: ${FILTERS[*]} ran clean under ThreadSanitizer (log: $LOG)"
