#!/usr/bin/env bash
# A board service: classify every image dropped into a folder and append the result to a log.
#
#   examples/board-service/board-service.sh [-m MODEL] [-l labels.txt] [-t templates.txt]
#                                           [-i SECONDS] [--once] INBOX LOG
#
# At start the class names go through the text tower once, into a class head file
# (INBOX/.pocketclip/classes.head); from then on each image needs only the vision tower
# (`classify --head --threads 1`: the lowest memory, see README.md for the measured budget).
# Images (*.png, *.jpg, *.jpeg, *.webp at the top of INBOX; names starting with "." are ignored, so
# writers can drop a file atomically by writing .name and renaming it) are classified in one
# process per batch and moved to INBOX/done/, or to INBOX/rejected/ if they cannot be used (not
# an image, damaged, too large for the service's memory, or one that got pocketclip killed).
# Each appends one CSV line to LOG: time,image,label,probability (label "ERROR" and the
# message for a failure).
#
# Waits with inotifywait (inotify-tools) when it is installed, else polls every SECONDS (2).
# --once processes what is in INBOX and exits (used by CI and for cron).
# Defaults: the bundled model and its Fashion-MNIST labels and templates.
set -euo pipefail
source "$(dirname "$0")/../find-pocketclip.sh"

model=$default_model interval=2 once=0
labels=$repo/examples/fashion-labels.txt templates=$repo/examples/fashion-templates.txt
args=()
while [ $# -gt 0 ]; do
  case $1 in
    -m) model=$2; shift 2 ;; -l) labels=$2; shift 2 ;; -t) templates=$2; shift 2 ;;
    -i) interval=$2; shift 2 ;; --once) once=1; shift ;;
    -h|--help) sed -n '4,5p' "$0" | sed 's/^#  *//'; exit 0 ;;
    -*) echo "error: unknown option $1" >&2; exit 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ ${#args[@]} -eq 2 ] || { sed -n '4,5p' "$0" | sed 's/^#  *//' >&2; exit 2; }
inbox=${args[0]%/} log=${args[1]}
[ -d "$inbox" ] || { echo "error: inbox '$inbox' is not a folder" >&2; exit 1; }
[ -f "$model" ] || { echo "error: model '$model' not found (train it with tools/model/train-default.sh, or pass -m MODEL)" >&2; exit 1; }
# Absolute paths: classification runs inside the inbox.
inbox=$(realpath "$inbox") log=$(realpath -m "$log") model=$(realpath "$model")
mkdir -p "$inbox/.pocketclip" "$inbox/done" "$inbox/rejected"
head=$inbox/.pocketclip/classes.head
"$pocketclip" head build "$model" --labels-file "$labels" --templates-file "$templates" -o "$head" >&2
[ -s "$log" ] || echo "time,image,label,probability" >>"$log"

now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# classify NAME... (run inside INBOX): appends the log lines, moves the files.
# With --keep-going one bad image does not stop its batch: pocketclip prints one line per image
# it could not use ("error: cannot use image 'NAME': REASON"), classifies the rest and exits 3.
# Those images (undecodable, damaged, too large for the memory the service may use) go to
# rejected/ with their reason in the log; the rest to done/. A process killed by a signal (the
# kernel's OOM killer at MemoryMax, say) is narrowed down to the image that caused it, which is
# rejected too: a bad photo never makes the service fail again and again on restart.
classify() {
  local out rc=0 err=$inbox/.pocketclip/err f reason
  out=$("$pocketclip" classify "$model" --head "$head" --threads 1 --top-k 1 --csv --keep-going -- "$@" 2>"$err") || rc=$?
  if [ $rc -eq 0 ] || [ $rc -eq 3 ]; then
    # Rows are image,label,probability; the image is the name as given (no directory).
    printf '%s\n' "$out" | tail -n +2 | sed "s/^/$(now),/" >>"$log"
    for f in "$@"; do
      reason=$(grep -F -m 1 "error: cannot use image '$f': " "$err" || true)
      if [ -n "$reason" ]; then reject "$f" "$reason"; else mv -f -- "$f" done/; fi
    done
  elif [ $rc -gt 128 ] && [ $# -gt 1 ]; then
    for f in "$@"; do classify "$f"; done  # killed by a signal: find the image that caused it
  elif [ $rc -gt 128 ]; then
    reject "$1" "error: pocketclip was killed by signal $((rc - 128)) while classifying '$1' (out of memory under the service's MemoryMax?)"
  else
    # Not an image's fault (model, disk, ...): stop, and let the supervisor restart us.
    cat "$err" >&2
    exit 1
  fi
}

# reject NAME MESSAGE: logs the image as ERROR with the message and moves it to rejected/.
reject() {
  echo "$(now),$1,ERROR,\"$(printf '%s' "$2" | tr '\n"' ' \047')\"" >>"$log"
  mv -f -- "$1" rejected/
}

process_pending() {
  local names=()
  mapfile -d '' names < <(cd "$inbox" && find . -maxdepth 1 -type f \( -iname '*.png' -o -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.webp' \) \
    -not -name '.*' -printf '%P\0' | sort -z)
  local i
  for ((i = 0; i < ${#names[@]}; i += 64)); do
    (cd "$inbox" && classify "${names[@]:i:64}") || exit 1
  done
  [ ${#names[@]} -eq 0 ] || echo "$(now) processed ${#names[@]} images" >&2
}

process_pending
[ $once = 1 ] && exit 0
if command -v inotifywait >/dev/null 2>&1; then
  echo "watching $inbox with inotifywait" >&2
  # close_write: a file written in place is complete; moved_to: a file renamed into the inbox.
  inotifywait -m -q -e close_write -e moved_to --format '%f' "$inbox" | while read -r _; do
    # Drain the events already queued: one classify run for a burst of files.
    while read -r -t 0.2 _; do :; done
    process_pending
  done
else
  echo "watching $inbox every ${interval}s (install inotify-tools to react at once)" >&2
  while sleep "$interval"; do process_pending; done
fi
