#!/usr/bin/env bash
# Installs the Debian packages PocketCLIP builds against, plus any named as arguments (idempotent;
# needs root or sudo): bash tools/ci/setup.sh [dataset-fashion-mnist …]
set -euo pipefail
packages=(libzstd-dev libturbojpeg0-dev libjpeg62-turbo-dev libwebp-dev zlib1g-dev libopenblas-dev pkg-config "$@")  # extra packages as arguments
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "setup: swift is not on the PATH; install Swift 6.x (swift.org) first" >&2; exit 1; }
