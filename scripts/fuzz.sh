#!/usr/bin/env bash
# Runs each libFuzzer target (tests/fuzz) for a bounded time on a copy of its saved inputs, so the
# tree stays clean. Any crash, sanitizer report, timeout or oversized allocation fails the run; the
# input that caused it is kept under BUILD_DIR/fuzz-findings/ and printed as hex.
#   scripts/fuzz.sh [SECONDS] [BUILD_DIR] [TARGET...]   (defaults: 60 s each, build-sanitize, all)
# BUILD_DIR is a clang build with -DLVM_SANITIZE=ON -DLVM_FUZZ=ON (scripts/test.sh --sanitize).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
BUILD_DIR=${2:-build-sanitize}
shift $(($# < 2 ? $# : 2))
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(idx npy config checkpoint)
source scripts/sanitizer_env.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
for target in "${TARGETS[@]}"; do
  bin="$BUILD_DIR/fuzz/${target}_fuzz"
  [ -x "$bin" ] || { echo "fuzz.sh: $bin not built (configure with -DLVM_FUZZ=ON)" >&2; exit 2; }
  corpus="$work/$target/corpus"
  mkdir -p "$corpus" "$work/$target/artifacts"
  for dir in tests/fuzz/corpus/$target tests/fuzz/regressions/$target; do
    [ -d "$dir" ] && find "$dir" -maxdepth 1 -type f -exec cp {} "$corpus/" \;
  done
  dict=()
  [ -f "tests/fuzz/$target.dict" ] && dict=(-dict="tests/fuzz/$target.dict")
  echo "== fuzz $target (${SECONDS_EACH}s, $(ls "$corpus" | wc -l) seed inputs)"
  # -timeout: one input may take at most 10 s; -malloc_limit_mb: no input may make a single
  # allocation of more than 1 GiB (readers must not trust sizes in a header).
  malloc_limit=1024
  asan_options=$ASAN_OPTIONS
  if [ "$target" = checkpoint ]; then
    # LibTorch's unpickler (not ours) reserves the length a corrupt string record declares before
    # reading it: reserved, not touched, then "Unexpected end of pickler archive". Allow such
    # reservations; beyond 2 GiB they fail as in a real out-of-memory (std::bad_alloc), which the
    # loader must turn into a CheckpointError. -rss_limit_mb still catches memory really used.
    malloc_limit=4096
    asan_options="$ASAN_OPTIONS:allocator_may_return_null=1:max_allocation_size_mb=2048"
  fi
  set +e
  ASAN_OPTIONS=$asan_options "$bin" "${dict[@]}" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=4096 \
    -malloc_limit_mb=$malloc_limit -print_final_stats=1 -artifact_prefix="$work/$target/artifacts/" "$corpus" \
    >"$work/$target/log" 2>&1
  rc=$?
  set -e
  grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$work/$target/log" || true
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$work/$target/log" || true
  if [ $rc -ne 0 ]; then
    failed+=("$target")
    echo "!! fuzz $target failed (exit $rc); the end of its log:"
    tail -n 60 "$work/$target/log"
    mkdir -p "$BUILD_DIR/fuzz-findings/$target"
    for artifact in "$work/$target/artifacts"/*; do
      [ -f "$artifact" ] || continue
      cp "$artifact" "$BUILD_DIR/fuzz-findings/$target/"
      echo "-- input $(basename "$artifact") (kept in $BUILD_DIR/fuzz-findings/$target/):"
      od -A d -t x1 "$artifact" | head -n 16
    done
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: findings in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: no findings"
