#!/usr/bin/env bash
# Keeps the repository self-contained: no tracked text file may refer to a folder beside the
# checkout (a sibling "shared" folder, which a clone does not have) or to an absolute path of the
# machine a file was written on (under /work, /var/tmp, /home or /root). Scripts take such places
# as parameters or use paths relative to the repository, mktemp or ~/.cache; docs write VENV,
# B32_DIR and the like. Run by tools/ci/test.sh next to check-imports.sh; exits non-zero naming
# every offending FILE:LINE.
#
#   tools/ci/check-self-contained.sh
#
# An absolute path counts where it starts a word: after the start of a line, a space, a quote, a
# bracket, `=`, `:` or a comma. "$R/root/.gitconfig" (a path inside a chroot) is not one. Binary
# files are skipped (git grep -I); the generators that write the binary test data take no
# machine paths either. Nothing is allowed by name: a file that must show such a path rewrites it.
set -euo pipefail
cd "$(dirname "$0")/../.."

git rev-parse --is-inside-work-tree > /dev/null 2>&1 || {
  echo "check-self-contained: not a git checkout; it checks the tracked files" >&2; exit 2; }

# Written so that this file does not match itself: two dots, then the folder name.
sibling='\.\./shared'
machine='(^|[][[:space:]"'\''`(){}<>=:,])/(work|home|root|var/tmp)/'

hits=$(git grep -nIE -e "$sibling" -e "$machine" || true)
if [[ -n $hits ]]; then
  echo "check-self-contained: these lines refer to places outside the repository (use a parameter or a path relative to the repository):" >&2
  echo "$hits" | sed 's/^/  /' >&2
  exit 1
fi
echo "check-self-contained: no tracked file refers to a sibling folder or an absolute machine path"
