#!/usr/bin/env bash
# Text-to-image and image-to-image search over a folder: embed the folder once into an index
# file, then query it.
#
#   examples/search/search.sh [-m MODEL] [-i INDEX] [-k TOP_K] FOLDER QUERY...
#
# Each QUERY that names an existing file is an image query, anything else a text query.
# Without arguments: the bundled example images, the text "a photo of a sneaker." and the
# image examples/images/bag.png, with the bundled model (models/pocketclip-fmnist.pclip).
#
# The index (default: FOLDER.index next to the folder; /tmp for the bundled images) is built with the vision tower only and
# saved every 64 images; rerunning continues it and embeds only new or changed files, so the
# second run of this script costs one model load and the queries.
set -euo pipefail
source "$(dirname "$0")/../find-pocketclip.sh"

model=$default_model index="" topk=3
while getopts "m:i:k:" opt; do
  case $opt in
    m) model=$OPTARG ;; i) index=$OPTARG ;; k) topk=$OPTARG ;;
    *) sed -n '5p' "$0" | sed 's/^#  *//' >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -eq 0 ]; then
  [ -n "$index" ] || index=${TMPDIR:-/tmp}/pocketclip-example-images.index  # keep the checkout clean
  model=$(realpath -m "$model"); cd "$repo"
  set -- examples/images "a photo of a sneaker." examples/images/bag.png
fi
folder=${1%/}; shift
index=${index:-$folder.index}
[ -f "$model" ] || { echo "error: model '$model' not found (train it with tools/model/train-default.sh, or pass -m MODEL)" >&2; exit 1; }

"$pocketclip" index build "$model" "$folder" -o "$index"
for q in "$@"; do
  echo
  if [ -f "$q" ]; then
    "$pocketclip" index query "$model" "$index" --image "$q" --top-k "$topk"
  else
    "$pocketclip" index query "$model" "$index" --text "$q" --top-k "$topk"
  fi
done
