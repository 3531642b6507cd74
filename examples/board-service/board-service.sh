#!/usr/bin/env bash
# A board service: classify every image dropped into a folder and append the result to a log.
#
#   examples/board-service/board-service.sh [-m MODEL] [-l labels.txt] [-t templates.txt]
#                                           [-i SECONDS] [--once] INBOX LOG
#
# At start the class names go through the text tower once, into a class head file
# (INBOX/.pocketclip/classes.head); from then on each image needs only the vision tower
# (`classify --head --threads 1`: the lowest memory, see README.md for the measured budget).
# Images (*.png, *.jpg, *.jpeg at the top of INBOX; names starting with "." are ignored, so
# writers can drop a file atomically by writing .name and renaming it) are classified in one
# process per batch and moved to INBOX/done/, or to INBOX/failed/ if they cannot be decoded.
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
mkdir -p "$inbox/.pocketclip" "$inbox/done" "$inbox/failed"
head=$inbox/.pocketclip/classes.head
"$pocketclip" head build "$model" --labels-file "$labels" --templates-file "$templates" -o "$head" >&2
[ -s "$log" ] || echo "time,image,label,probability" >>"$log"

now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# classify NAME... (run inside INBOX): appends the log lines, moves the files.
classify() {
  local out err
  if out=$("$pocketclip" classify "$model" --head "$head" --threads 1 --top-k 1 --csv -- "$@" 2>"$inbox/.pocketclip/err"); then
    # Rows are image,label,probability; the image is the name as given (no directory).
    printf '%s\n' "$out" | tail -n +2 | sed "s/^/$(now),/" >>"$log"
    mv -f -- "$@" done/
  elif ! grep -q "cannot use image" "$inbox/.pocketclip/err"; then
    # Not an image's fault (model, disk, ...): stop, and let the supervisor restart us.
    cat "$inbox/.pocketclip/err" >&2
    exit 1
  elif [ $# -gt 1 ]; then
    for f in "$@"; do classify "$f"; done  # one bad image fails its batch: find it
  else
    err=$(tr '\n"' ' \047' <"$inbox/.pocketclip/err")
    echo "$(now),$1,ERROR,\"$err\"" >>"$log"
    mv -f -- "$1" failed/
  fi
}

process_pending() {
  local names=()
  mapfile -d '' names < <(cd "$inbox" && find . -maxdepth 1 -type f \( -iname '*.png' -o -iname '*.jpg' -o -iname '*.jpeg' \) \
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
