#!/usr/bin/env bash
# Runs the three examples end to end and checks what they produce (CI: tools/ci/test.sh).
#
#   bash tools/ci/run-examples.sh [MODEL=models/pocketclip-fmnist.pclip]
#
# Uses $POCKETCLIP, else .build/debug/pocketclip (what `swift build` makes), else the release
# build. Every output goes to a temporary folder; the checkout is left as it was.
#   1. classify-folder over examples/images: a CSV with a header and one row per image.
#   2. search: an index of examples/images; "a photo of a sneaker." finds sneaker.png first
#      and the image bag.png finds itself first (ranking checked on the default model only:
#      another model is not trained on these garments).
#   3. board-service --once over a copy of examples/images plus one broken file: every image
#      logged and moved to done/, the broken one logged as ERROR and moved to rejected/; then
#      an image that gets pocketclip killed (a stand-in for the kernel's OOM killer: a wrapper
#      that sends itself SIGKILL when it sees that name) is rejected and the rest classified.
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${1:-models/pocketclip-fmnist.pclip}
if [ -z "${POCKETCLIP:-}" ]; then
  for candidate in .build/debug/pocketclip .build/release/pocketclip; do
    if [ -x "$candidate" ]; then export POCKETCLIP=$PWD/$candidate; break; fi
  done
fi
[ -n "${POCKETCLIP:-}" ] || { echo "error: build pocketclip first (swift build --product pocketclip)" >&2; exit 1; }
[ -f "$model" ] || { echo "error: model '$model' not found; the examples run on the bundled default model (tools/model/train-default.sh)" >&2; exit 1; }
ranking=0
[ "$(realpath "$model")" = "$(realpath -m models/pocketclip-fmnist.pclip)" ] && ranking=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
images=(examples/images/*.png)

echo "== 1. classify-folder"
examples/classify-folder/classify-folder.sh examples/images -m "$model" -o "$work/labels.csv"
head -n 4 "$work/labels.csv"
[ "$(head -n 1 "$work/labels.csv")" = "image,label_1,probability_1,label_2,probability_2,label_3,probability_3" ] || fail "CSV header"
[ "$(tail -n +2 "$work/labels.csv" | wc -l)" = ${#images[@]} ] || fail "CSV should have ${#images[@]} rows"
for img in "${images[@]}"; do grep -q "^$img," "$work/labels.csv" || fail "no CSV row for $img"; done

echo "== 2. search"
examples/search/search.sh -m "$model" -i "$work/images.index" examples/images "a photo of a sneaker." examples/images/bag.png \
  | tee "$work/search.txt"
first_hits=$(grep '^1\. ' "$work/search.txt" | awk '{print $3}' | tr '\n' ' ')
[ "$(grep -c '^1\. ' "$work/search.txt")" = 2 ] || fail "two queries should print results"
[ "$(grep '^1\. ' "$work/search.txt" | tail -n 1 | awk '{print $2, $3}')" = "1.0000 bag.png" ] || fail "bag.png should find itself first: $first_hits"
if [ $ranking = 1 ]; then
  [ "$first_hits" = "sneaker.png bag.png " ] || fail "expected sneaker.png then bag.png first, got: $first_hits"
else
  echo "(text ranking not checked: not the default model)"
fi
# A rerun continues the index: nothing is embedded again.
examples/search/search.sh -m "$model" -i "$work/images.index" examples/images | grep -q "(0 embedded, ${#images[@]} already indexed" \
  || fail "a rerun should embed nothing"

echo "== 3. board-service --once"
mkdir "$work/inbox"
cp "${images[@]}" "$work/inbox/"
echo "not an image" >"$work/inbox/broken.png"
examples/board-service/board-service.sh -m "$model" --once "$work/inbox" "$work/board.log"
head -n 4 "$work/board.log"
[ "$(grep -vc ',ERROR,' "$work/board.log")" = $((${#images[@]} + 1)) ] || fail "log: a header and one line per image"
grep -q '^[0-9TZ:-]*,broken.png,ERROR,' "$work/board.log" || fail "broken.png should be logged as ERROR"
[ "$(ls "$work/inbox/done" | wc -l)" = ${#images[@]} ] || fail "every image should be in done/"
[ -f "$work/inbox/rejected/broken.png" ] || fail "broken.png should be in rejected/"
[ -z "$(find "$work/inbox" -maxdepth 1 -type f)" ] || fail "the inbox should be empty"
mkdir "$work/inbox2"
cp "${images[@]:0:3}" "$work/inbox2/"
cp "${images[0]}" "$work/inbox2/poison.png"
printf '#!/usr/bin/env bash\nfor a in "$@"; do [ "$a" = poison.png ] && kill -9 $$; done\nexec "%s" "$@"\n' "$POCKETCLIP" >"$work/killed-by-poison"
chmod +x "$work/killed-by-poison"
POCKETCLIP=$work/killed-by-poison examples/board-service/board-service.sh -m "$model" --once "$work/inbox2" "$work/board2.log" \
  || fail "the service should go on past an image that gets pocketclip killed"
grep -q '^[0-9TZ:-]*,poison.png,ERROR,.*killed by signal 9' "$work/board2.log" || fail "poison.png should be logged as killed"
[ -f "$work/inbox2/rejected/poison.png" ] || fail "poison.png should be in rejected/"
[ "$(ls "$work/inbox2/done" | wc -l)" = 3 ] || fail "the three other images should be in done/"

echo "examples: all three ran and checked"
