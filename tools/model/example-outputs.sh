#!/usr/bin/env bash
# Regenerates the outputs shown in the examples' READMEs and docs/examples.md by running the
# examples (the text between "<!-- output:NAME -->" and "<!-- /output -->" is replaced):
#
#   bash tools/model/example-outputs.sh [MODEL=models/pocketclip-fmnist.pclip]
#
# Needs a release build (swift build -c release --product pocketclip): the memory figures are
# measured on it with /usr/bin/time -v. Rerun it whenever the default model changes.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
model=${1:-models/pocketclip-fmnist.pclip}
[ -f "$model" ] || { echo "error: model '$model' not found" >&2; exit 1; }
export POCKETCLIP=$PWD/.build/release/pocketclip
[ -x "$POCKETCLIP" ] || { echo "error: build the release binary first: swift build -c release --product pocketclip" >&2; exit 1; }
m=(); [ "$(realpath "$model")" = "$(realpath -m models/pocketclip-fmnist.pclip)" ] || m=(-m "$model")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# block NAME FILE: replaces the marked block in FILE with the content of $work/NAME.
block() {
  awk -v name="$1" -v src="$work/$1" '
    $0 == "<!-- output:" name " -->" { print; while ((getline line < src) > 0) print line; skip = 1; next }
    skip && $0 == "<!-- /output -->" { skip = 0 }
    !skip { print }' "$2" >"$work/file" && cat "$work/file" >"$2"
}
# quoted ARGS...: the arguments as a reader would type them.
quoted() {
  local a out=()
  for a in "$@"; do case $a in *[[:space:]\'\"\$\*]*) out+=("\"$a\"") ;; *) out+=("$a") ;; esac; done
  echo "${out[*]}"
}
# shown COMMAND...: runs it, writes "$ command" and its stdout+stderr as a console block, with
# the checkout shown as ~/pocketclip and the temporary folder as /tmp.
shown() { echo '```console'; echo "\$ $(quoted "$@")"; "$@" 2>&1 | sed "s|$work|/tmp|g; s|$repo|~/pocketclip|g"; echo '```'; }
peak() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ { printf "%.1f MB", $2 / 1024 }'; }

# 1. classify-folder
shown examples/classify-folder/classify-folder.sh examples/images "${m[@]}" >"$work/classify"
block classify examples/classify-folder/README.md

# 2. search: the script's own default run, twice (the second continues the index)
idx=$work/images.index
{ shown examples/search/search.sh "${m[@]}" -i "$idx" examples/images "a photo of a sneaker." examples/images/bag.png
  echo; echo "Run again, the index is continued, nothing is embedded twice:"; echo
  shown examples/search/search.sh "${m[@]}" -i "$idx" examples/images "a photo of a dress."
} | sed "s|$work|/tmp|g" >"$work/search"
block search examples/search/README.md

# All ten garments as text queries ("a photo of a {label}."), and every image as its own query.
{ echo "| text query | first hit | cosine | second hit | cosine | right? |"; echo "|---|---|---|---|---|---|"
  right=0
  while read -r label; do
    q="a photo of a $label."
    read -r h1 s1 h2 s2 < <("$POCKETCLIP" index query "$model" "$idx" --text "$q" --top-k 2 | awk 'NR > 1 { printf "%s %s ", $3, $2 } END { print "" }')
    ok=no; [ "$h1" = "${label// /-}.png" ] && { ok=yes; right=$((right + 1)); }
    echo "| $q | $h1 | $s1 | $h2 | $s2 | $ok |"
  done <examples/fashion-labels.txt
  self=0
  for f in examples/images/*.png; do
    first=$("$POCKETCLIP" index query "$model" "$idx" --image "$f" --top-k 1 | awk 'NR == 2 { print $3 }')
    [ "$first" = "$(basename "$f")" ] && self=$((self + 1))
  done
  echo
  echo "Text queries right: $right of 10. Image queries that find their own image first: $self of 10."
} >"$work/queries"
block queries docs/examples.md

# 3. board-service: --once over the images and a broken file; the log it appends to.
mkdir "$work/inbox"
cp examples/images/*.png "$work/inbox/"
echo "not an image" >"$work/inbox/broken.png"
{ echo '```console'
  echo "\$ cp examples/images/*.png inbox/ && echo 'not an image' > inbox/broken.png"
  echo "\$ examples/board-service/board-service.sh ${m[*]} --once inbox board.log"
  mabs=(); [ ${#m[@]} -eq 0 ] || mabs=(-m "$(realpath "$model")")
  (cd "$work" && "$repo/examples/board-service/board-service.sh" "${mabs[@]}" --once inbox board.log 2>&1) \
    | sed "s|$work/||g"
  echo "\$ cat board.log"
  cat "$work/board.log"
  echo "\$ ls inbox/done | wc -l; ls inbox/rejected"
  ls "$work/inbox/done" | wc -l; ls "$work/inbox/rejected"
  echo '```'
} >"$work/board"
block board examples/board-service/README.md

# The memory budget: peak RSS of each process the service runs, on this release build.
head=$work/inbox/.pocketclip/classes.head
# Colour photos (ImageMagick's plasma, blurred a little: smooth colour fields with fine noise;
# the 12-megapixel PNG is ~11 MB, the JPEG ~2 MB, as a camera's would be), and an 81-megapixel PNG
# (a gradient: a small file that declares a huge image). Needs ImageMagick (imagemagick).
convert -size 1920x1080 -seed 1 plasma:fractal -depth 8 -quality 90 "$work/photo-1080p.jpg"
convert -size 4000x3000 -seed 2 plasma:fractal -blur 0x1 -depth 8 "$work/photo-12mp.png"
convert "$work/photo-12mp.png" -quality 90 "$work/photo-12mp.jpg"
# The layouts that are decoded whole (docs/preprocessing.md): progressive JPEG, interlaced PNG, WebP.
convert "$work/photo-12mp.png" -quality 90 -interlace Plane "$work/photo-12mp-progressive.jpg"
convert "$work/photo-12mp.png" -interlace PNG "$work/photo-12mp-interlaced.png"
convert "$work/photo-12mp.png" -quality 85 "$work/photo-12mp.webp"
convert -size 9000x9000 gradient:orange-navy "$work/huge-81mp.png"
c=("$POCKETCLIP" classify "$model" --head "$head" --threads 1 --top-k 1 --csv --)
{ echo "| what the service runs | peak RSS |"; echo "|---|---|"
  echo "| start-up: \`head build\` (text tower, once) | $(peak "$POCKETCLIP" head build "$model" --labels-file examples/fashion-labels.txt --templates-file examples/fashion-templates.txt -o "$work/h.head") |"
  echo "| \`classify --head --threads 1\`, one bundled image | $(peak "${c[@]}" examples/images/bag.png) |"
  echo "| the same, a batch of all ten bundled images | $(peak "${c[@]}" examples/images/*.png) |"
  echo "| the same, one 1920×1080 colour JPEG | $(peak "${c[@]}" "$work/photo-1080p.jpg") |"
  echo "| the same, one 4000×3000 colour JPEG ($(du -k "$work/photo-12mp.jpg" | awk '{ printf "%.1f MB", $1 / 1024 }')) | $(peak "${c[@]}" "$work/photo-12mp.jpg") |"
  echo "| the same, one 4000×3000 colour PNG ($(du -k "$work/photo-12mp.png" | awk '{ printf "%.1f MB", $1 / 1024 }')) | $(peak "${c[@]}" "$work/photo-12mp.png") |"
  echo "| the same, one 9000×9000 PNG (81 megapixels) | $(peak "${c[@]}" "$work/huge-81mp.png") |"
  echo "| decoded whole: one 4000×3000 progressive colour JPEG (4:4:4) | $(peak "${c[@]}" "$work/photo-12mp-progressive.jpg") |"
  echo "| decoded whole: one 4000×3000 interlaced colour PNG | $(peak "${c[@]}" "$work/photo-12mp-interlaced.png") |"
  echo "| decoded whole: one 4000×3000 colour WebP | $(peak "${c[@]}" "$work/photo-12mp.webp") |"
  echo "| for comparison: \`classify\` with both towers, ten images | $(peak "$POCKETCLIP" classify "$model" --labels-file examples/fashion-labels.txt --templates-file examples/fashion-templates.txt --threads 1 --csv -- examples/images/*.png) |"
  echo
  echo "Model file: $(du -k "$model" | awk '{ printf "%.1f MB", $1 / 1024 }') ($(basename "$model")); measured with \`/usr/bin/time -v\` on a release build by \`tools/model/example-outputs.sh\`."
} >"$work/memory"
block memory examples/board-service/README.md
echo "updated: examples/*/README.md, docs/examples.md" >&2
