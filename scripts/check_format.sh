#!/usr/bin/env bash
# Checks that the C++ files changed since BASE are formatted as .clang-format says; prints the
# first differences of each file that is not and exits 1.
#   scripts/check_format.sh [BASE]
# BASE defaults to the merge base with origin/main, else the commit before HEAD; files changed in
# the working tree (staged or not) count too. To fix a file: clang-format -i FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
  echo "check_format.sh: clang-format is not installed (scripts/install_deps.sh installs it)" >&2
  exit 2
fi
base=${1:-}
if [ -z "$base" ]; then
  merge_base=$(git merge-base HEAD origin/main 2>/dev/null || true)
  if [ -n "$merge_base" ] && [ "$merge_base" != "$(git rev-parse HEAD)" ]; then
    base=$merge_base
  elif git rev-parse -q --verify HEAD~1 >/dev/null; then
    base=HEAD~1
  else
    base=$(git hash-object -t tree /dev/null)  # a first commit: every file
  fi
fi
mapfile -t files < <( (git diff --name-only --diff-filter=ACMR "$base" -- '*.cpp' '*.h'
  git ls-files --others --exclude-standard -- '*.cpp' '*.h') | sort -u)
bad=0
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  if ! diff -q <(clang-format --style=file "$f") "$f" >/dev/null; then
    echo "!! $f is not formatted (clang-format -i $f):"
    diff <(clang-format --style=file "$f") "$f" | head -n 20 || true
    bad=1
  fi
done
echo "${#files[@]} changed C++ files checked against $base"
exit $bad
