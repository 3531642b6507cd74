#!/usr/bin/env bash
# Classify every image in a folder zero-shot and write one CSV row per image.
#
#   examples/classify-folder/classify-folder.sh FOLDER [-o out.csv] [-m MODEL] [-k TOP_K]
#                                               [-l labels.txt] [-t templates.txt]
#
# Defaults: the bundled Fashion-MNIST model (models/pocketclip-fmnist.pclip), its ten garment
# labels and five prompt templates (examples/fashion-*.txt), top 3, CSV on stdout. Images are
# the folder's *.png, *.jpg, *.jpeg and *.webp files (any case, subfolders included), sorted by path.
#
# The class names go through the text tower once (`pocketclip head build`); every image then
# needs only the vision tower (`classify --head`), in chunks of 256 images per process. An
# image that cannot be decoded is reported on stderr and left out; the rest are still written.
set -euo pipefail
source "$(dirname "$0")/../find-pocketclip.sh"

usage() { sed -n '4,5p' "$0" | sed 's/^#  *//' >&2; exit 2; }
[ $# -ge 1 ] || usage
folder=$1; shift
out="" model=$default_model topk=3
labels=$repo/examples/fashion-labels.txt templates=$repo/examples/fashion-templates.txt
while getopts "o:m:k:l:t:" opt; do
  case $opt in
    o) out=$OPTARG ;; m) model=$OPTARG ;; k) topk=$OPTARG ;; l) labels=$OPTARG ;; t) templates=$OPTARG ;;
    *) usage ;;
  esac
done
[ -d "$folder" ] || { echo "error: '$folder' is not a folder" >&2; exit 1; }
[ -f "$model" ] || { echo "error: model '$model' not found (train it with tools/model/train-default.sh, or pass -m MODEL)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$pocketclip" head build "$model" --labels-file "$labels" --templates-file "$templates" -o "$work/classes.head" >/dev/null

mapfile -d '' images < <(find "$folder" -type f \( -iname '*.png' -o -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.webp' \) \
  -not -path '*/.*' -print0 | sort -z)

# One classify run per chunk; a chunk that fails (an undecodable image stops a run) is retried
# image by image so only the bad image is lost.
classify() { "$pocketclip" classify "$model" --head "$work/classes.head" --top-k "$topk" --csv -- "$@"; }
# The CSV goes to fd 3: -o's file, or stdout as it is (reopening /dev/stdout would truncate a
# file stdout was redirected to).
if [ -n "$out" ]; then exec 3>"$out"; else exec 3>&1; fi
header_done=0 failed=0
{
  for ((i = 0; i < ${#images[@]}; i += 256)); do
    chunk=("${images[@]:i:256}")
    if rows=$(classify "${chunk[@]}" 2>"$work/err"); then :; else
      rows=""
      for img in "${chunk[@]}"; do
        if row=$(classify "$img" 2>"$work/err"); then
          rows+="${rows:+$'\n'}$row"
        else
          echo "skipped: $(cat "$work/err")" >&2; failed=$((failed + 1))
        fi
      done
      # Keep one header: each single-image run printed its own.
      rows=$(printf '%s\n' "$rows" | awk 'NR == 1 || !/^image,/')
    fi
    [ -n "$rows" ] || continue
    if [ $header_done = 1 ]; then printf '%s\n' "$rows" | tail -n +2; else printf '%s\n' "$rows"; header_done=1; fi
  done
} >&3
echo "classified $((${#images[@]} - failed)) images$([ $failed = 0 ] || echo ", $failed skipped (undecodable)")" >&2
