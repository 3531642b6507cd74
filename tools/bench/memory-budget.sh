#!/usr/bin/env bash
# The memory budget table (docs/memory-budget.md). For ViT-B/32, ViT-B/16 and ViT-L/14 (random
# weights of the real shapes: memory depends on shapes, not values) it converts an HF checkpoint
# to q8 .pclip twice (zstd, the default, and --compress none, which the runtime memory-maps in
# place), builds a class head once per file, and measures (wait4, as /usr/bin/time -v) the peak resident set
# (ru_maxrss, with its anonymous part in parentheses) of the board build
# (tools/board/board-build.sh) running:
#   classify --head HEAD   vision tower only, class embeddings from the head file
#   classify --labels ...  both towers (the text tower embeds the prompts)
#   embed --text ...       text tower only
# each with --threads 1 (the board's memory-lean setting), one 224×224 image, 10 labels.
#
#   tools/bench/memory-budget.sh [MODEL ...]      # MODEL: vit-b32 vit-b16 vit-l14 (default: all three)
#
# Prints the Markdown table and writes it to docs/memory-budget.md (only when all three models
# were measured). Checkpoints and .pclip files go to $POCKETCLIP_BUDGET_DIR (default
# ~/.cache/pocketclip-budget, never the repo; ViT-L/14 is ~1.7 GB as float) and are reused.
# Needs PYTHON= a Python with torch and transformers only to make checkpoints that are not there yet.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/bench/machine.sh
echo "CPU: $(cpu_model)"  # figures depend on it
work=${POCKETCLIP_BUDGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pocketclip-budget}
python=${PYTHON:-python3}
bin=.build-board/pocketclip
image=Tests/Fixtures/tiny-openclip/images/rgb_40x54.png
labels="t-shirt,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,ankle boot"
models=("$@")
[[ ${#models[@]} -gt 0 ]] || models=(vit-b32 vit-b16 vit-l14)

[[ -x $bin ]] || bash tools/board/board-build.sh > /dev/null
mkdir -p "$work"

# One run's peak resident set and its peak anonymous part, "RSS ANON" in MB (10^6 bytes, as the
# rest of the README), by tools/bench/peak-rss.py; its output goes to $work/run.out. A failed run
# stops the script: it must not become a number in the table.
peak() { python3 tools/bench/peak-rss.py --log "$work/run.out" "$bin" "$@"; }
mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f", b / 1e6 }'; }

rows=()
for m in "${models[@]}"; do
  case $m in
    vit-b32) flag=--vit-b32 extra=--hf-only name=ViT-B/32 ;;
    vit-b16) flag=--vit-b16 extra= name=ViT-B/16 ;;
    vit-l14) flag=--vit-l14 extra= name=ViT-L/14 ;;
    *) echo "memory-budget: unknown model '$m' (vit-b32, vit-b16 or vit-l14)" >&2; exit 1 ;;
  esac
  dir=$work/$m
  if [[ ! -f $dir/hf/model.safetensors ]]; then
    echo "memory-budget: making $name checkpoint in $dir/hf" >&2
    "$python" tools/goldens/make-fixtures.py "$flag" "$dir" $extra > "$dir.make.log" 2>&1 || {
      tail -n 20 "$dir.make.log" >&2; exit 1; }
  fi
  for c in zstd none; do
    [[ -f $dir/q8-$c.pclip ]] || "$bin" convert "$dir/hf" -o "$dir/q8-$c.pclip" --compress "$c" > /dev/null
  done
  for c in zstd none; do
    f=$dir/q8-$c.pclip
    # A head records the fingerprint of the file it was built from, so each variant has its own.
    [[ -f $dir/head-$c.pclip-head ]] || "$bin" head build "$f" --labels "$labels" \
      -o "$dir/head-$c.pclip-head" > /dev/null
    echo "memory-budget: measuring $name q8 ($c)" >&2
    cells=""
    for run in head both text; do
      case $run in
        head) r=$(peak classify "$f" "$image" --head "$dir/head-$c.pclip-head" --threads 1) ;;
        both) r=$(peak classify "$f" "$image" --labels "$labels" --threads 1) ;;
        text) r=$(peak embed "$f" --text "a photo of a sneaker" --threads 1) ;;
      esac
      cells+=" ${r% *} MB (${r#* }) |"
    done
    case $c in zstd) label="q8, zstd" ;; none) label="q8, none (mmap)" ;; esac
    rows+=("| $name | $label | $(mb "$f") MB |$cells")
  done
done

table=$(
  echo "| model | .pclip | file size | classify --head | classify | embed --text |"
  echo "|---|---|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
)
echo "$table"

if [[ ${#models[@]} -eq 3 ]]; then
  {
    echo "# Memory budget"
    echo
    echo "Written by \`tools/bench/memory-budget.sh\` ($(date -u +%Y-%m-%d), $(uname -m), the board build of"
    echo "\`tools/board/board-build.sh\`). Random weights of the real shapes; peak resident set (ru_maxrss,"
    echo "as \`/usr/bin/time -v\` reports it) of one run with \`--threads 1\`, one image, 10 labels; in"
    echo "parentheses the peak anonymous part (RssAnon, sampled every millisecond): memory the process"
    echo "owns, as opposed to file pages. MB = 10^6 bytes."
    echo
    echo "$table"
    echo
    echo "- **classify --head**: vision tower only; the class embeddings come from a head file"
    echo "  (\`pocketclip head build\`, made once), so the text tower is never loaded."
    echo "- **classify**: both towers; the text tower embeds the 10 prompts first."
    echo "- **embed --text**: text tower only, one caption."
    echo "- **none (mmap)**: \`convert --compress none\`; the runtime maps the file instead of"
    echo "  decompressing it. The int8 weight matrices are repacked once into the kernels' panel layout"
    echo "  (private memory with either file), so the vision tower costs the same; the token embedding"
    echo "  is read row by row from the mapping, so runs with the text tower own less by about its size"
    echo "  (49408 × text width bytes: 25 MB for B/32 and B/16, 38 MB for L/14). Mapped pages"
    echo "  count in the resident set once touched, but they are clean: shared between processes and"
    echo "  dropped by the kernel under memory pressure."
    echo "- What the columns mean for a board, and the other memory-lean settings: \`docs/board.md\`."
  } > docs/memory-budget.md
  echo "memory-budget: wrote docs/memory-budget.md" >&2
fi
