#!/usr/bin/env bash
# Keeps the import arrows between targets honest: every `import` in Sources/<Target>/
# must be one this table allows for that target. Run by .ci/run; exits non-zero on a violation.
#
#   kernels, tokenizer, image preprocessing  -> nothing of the project
#   schema (config, tensor names)            -> nothing of the project
#   runtime                                  -> schema, kernels, tokenizer, image (never convert, train, BLAS)
#   convert                                  -> runtime and what it builds on
#   training (CLIPTrain)                     -> schema, BLAS (nothing of the runtime)
#   training data (CLIPTrainData)            -> training, image preprocessing, format (JSON)
#   pocketclip (CLI)                         -> the libraries, ArgumentParser
set -euo pipefail
cd "$(dirname "$0")/.."

# Modules outside the project that any target may use (the OS and the standard library).
system="Glibc Musl Darwin FoundationEssentials Dispatch Synchronization"

declare -A allowed=(
  [CZlib]=""
  [CImageCodecs]=""
  [CZstd]=""
  [CBLAS]=""
  [CLIPFormat]="CZstd CZlib"
  [CLIPSchema]=""
  [CLIPKernelsC]=""
  [CLIPKernels]="CLIPKernelsC"
  [CLIPTokenizer]="CZlib"
  [CLIPImage]="CImageCodecs CZlib"
  [CLIPRuntime]="CLIPSchema CLIPKernels CLIPTokenizer CLIPImage CLIPFormat"
  [CLIPConvert]="CLIPRuntime CLIPSchema CLIPKernels CLIPTokenizer CLIPImage CLIPFormat"
  [CLIPTrain]="CLIPSchema CBLAS"
  [CLIPTrainData]="CLIPTrain CLIPImage CLIPFormat"
  [pocketclip]="CLIPRuntime CLIPConvert CLIPFormat CLIPKernels CLIPTokenizer CLIPImage CLIPTrain CLIPTrainData CZlib ArgumentParser"
)

status=0
for dir in Sources/*/; do
  target=$(basename "$dir")
  if [[ -z ${allowed[$target]+set} ]]; then
    echo "check-imports: target '$target' is not in the table of tools/check-imports.sh; add it with its allowed imports" >&2
    status=1
    continue
  fi
  ok=" ${allowed[$target]} $system "
  while IFS= read -r hit; do
    file=${hit%%:*}
    module=$(sed -E 's/^[^:]*:[0-9]+:[[:space:]]*(@[_a-zA-Z]+[[:space:]]+)*import[[:space:]]+(class |struct |enum |func |protocol |var |let )?([A-Za-z_][A-Za-z0-9_]*).*/\3/' <<<"$hit")
    if [[ $ok != *" $module "* ]]; then
      echo "check-imports: $file imports $module, which $target may not import (allowed: ${allowed[$target]:-nothing of the project})" >&2
      status=1
    fi
  done < <(grep -nE '^[[:space:]]*(@[_a-zA-Z]+[[:space:]]+)*import[[:space:]]' -r "$dir" --include='*.swift' || true)
done
# The same arrows in Package.swift, followed transitively: a board build of the runtime must
# never pull in the converter, the training module or BLAS through some other target.
swift package dump-package 2>/dev/null | python3 -c '
import json, sys
pkg = json.load(sys.stdin)
deps = {}
for t in pkg["targets"]:
    names = []
    for d in t.get("dependencies", []):
        for kind in ("byName", "target", "product"):
            if kind in d:
                names.append(d[kind][0])
    deps[t["name"]] = names
def reach(name, seen=None):
    seen = set() if seen is None else seen
    for d in deps.get(name, []):
        if d not in seen:
            seen.add(d)
            reach(d, seen)
    return seen
forbidden = {
    "CLIPKernels": {"CLIPRuntime", "CLIPConvert", "CLIPTrain", "CBLAS"},
    "CLIPTokenizer": {"CLIPRuntime", "CLIPConvert", "CLIPTrain", "CBLAS"},
    "CLIPImage": {"CLIPRuntime", "CLIPConvert", "CLIPTrain", "CBLAS"},
    "CLIPFormat": {"CLIPRuntime", "CLIPConvert", "CLIPTrain", "CBLAS"},
    "CLIPRuntime": {"CLIPConvert", "CLIPTrain", "CLIPTrainData", "CBLAS"},
    "CLIPConvert": {"CLIPTrain", "CLIPTrainData", "CBLAS"},
}
bad = 0
# Leaves may reach only C shims (system libraries and the C kernels).
shims = {"CZlib", "CImageCodecs", "CZstd", "CLIPKernelsC"}
shim_list = " ".join(sorted(shims))
for leaf in ("CLIPKernels", "CLIPTokenizer", "CLIPImage", "CLIPFormat", "CLIPSchema"):
    if leaf in deps:
        for b in sorted(reach(leaf) - shims):
            print(f"check-imports: Package.swift lets {leaf} depend on {b}; it may use only C shims ({shim_list})", file=sys.stderr)
            bad = 1
for target, banned in forbidden.items():
    if target in deps:
        for b in sorted(reach(target) & banned):
            print(f"check-imports: Package.swift lets {target} depend on {b} (directly or through another target)", file=sys.stderr)
            bad = 1
sys.exit(bad)
' || status=1

[[ $status -eq 0 ]] && echo "check-imports: every target imports and depends on only what the arrows above allow"
exit $status
