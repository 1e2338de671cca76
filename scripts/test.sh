#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite. Idempotent: installed packages
# and an up-to-date build are skipped.
#   scripts/test.sh [--sanitize] [BUILD_DIR]      (default: build)
# Both builds treat compiler warnings as errors. Before building, the C++ files changed since
# origin/main (or, without one, in the last commit and the working tree) must be formatted as
# .clang-format says, and the README's reproduction table must be what bench/reproduce/results
# gives (scripts/results_table.py --check). After the suite, the package is installed into BUILD_DIR/stage and
# examples/custom_model is built against it and run.
#   --sanitize  then also: a clang build with AddressSanitizer + UBSan and the libFuzzer targets
#               (build-sanitize), the whole suite under the sanitizers, and each fuzzer for
#               FUZZ_SECONDS (default 60) on its saved corpus (scripts/fuzz.sh). CI runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
SANITIZE=0
if [ "${1:-}" = --sanitize ]; then
  SANITIZE=1
  shift
fi
BUILD_DIR=${1:-build}
JOBS=$(nproc 2>/dev/null || echo 2)

echo "== dependencies"
if [ $SANITIZE = 1 ]; then
  scripts/install_deps.sh --python --sanitize
else
  scripts/install_deps.sh --python
fi

echo "== formatting (clang-format)"
scripts/check_format.sh

echo "== README's reproduction table against bench/reproduce/results"
python3 scripts/results_table.py --check

# ccache, where it is installed, makes rebuilds of unchanged files free.
LAUNCHER=()
if command -v ccache >/dev/null; then LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi

echo "== build ($BUILD_DIR)"
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DLVM_WARNINGS_AS_ERRORS=ON "${LAUNCHER[@]}"
fi
cmake --build "$BUILD_DIR" -j "$JOBS"

echo "== tests"
ctest --test-dir "$BUILD_DIR" -j "$JOBS" --output-on-failure

echo "== package: install, then build and run examples/custom_model against it"
STAGE=$(cd "$BUILD_DIR" && pwd)/stage
rm -rf "$STAGE"
cmake --install "$BUILD_DIR" --prefix "$STAGE" >/dev/null
# LibTorch from wherever the main build found it (a -DCMAKE_PREFIX_PATH given to it), then lvm.
TORCH_PREFIX=$(sed -n 's/^CMAKE_PREFIX_PATH:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")
EXAMPLE_DIR=$BUILD_DIR/custom_model
cmake -S examples/custom_model -B "$EXAMPLE_DIR" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$STAGE${TORCH_PREFIX:+;$TORCH_PREFIX}" \
  -DCMAKE_CXX_FLAGS=-Werror "${LAUNCHER[@]}" >/dev/null
cmake --build "$EXAMPLE_DIR" -j "$JOBS"
python3 scripts/make_tiny_idx.py "$EXAMPLE_DIR/data"
rm -rf "$EXAMPLE_DIR/run"  # the previous run of this script's
"$EXAMPLE_DIR/custom_model" examples/custom_model/config.yaml "$EXAMPLE_DIR/run" --k 50 \
  --set data.path="$EXAMPLE_DIR/data" --set data.validation_size=200 --set train.epochs=2 \
  --set output.progress=none

[ $SANITIZE = 1 ] || exit 0
SAN_DIR=build-sanitize
echo "== sanitizer build ($SAN_DIR: clang, ASan + UBSan, fuzzers)"
if [ ! -f "$SAN_DIR/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$SAN_DIR" -DCMAKE_BUILD_TYPE=Release -DLVM_SANITIZE=ON -DLVM_FUZZ=ON \
    -DLVM_WARNINGS_AS_ERRORS=ON "${LAUNCHER[@]}"
fi
# Only what the suite and the fuzzers need (no benchmarks).
cmake --build "$SAN_DIR" -j "$JOBS" --target lvm_tests idx_fuzz npy_fuzz config_fuzz checkpoint_fuzz

# One process per core, each running a shard of the suite: a process per test (ctest) would spend
# most of its time starting LibTorch under ASan (~2 s each; 10 min against 2.5 min on 2 cores).
echo "== tests under ASan + UBSan ($JOBS shards)"
source scripts/sanitizer_env.sh
pids=()
for ((i = 0; i < JOBS; i++)); do
  GTEST_TOTAL_SHARDS=$JOBS GTEST_SHARD_INDEX=$i "$SAN_DIR/tests/lvm_tests" --gtest_brief=1 \
    >"$SAN_DIR/sanitize-shard-$i.log" 2>&1 &
  pids+=($!)
done
failed=0
for ((i = 0; i < JOBS; i++)); do
  if wait "${pids[$i]}"; then
    grep -E '^\[  PASSED  \]' "$SAN_DIR/sanitize-shard-$i.log"
  else
    failed=1
    echo "!! shard $i failed; the end of $SAN_DIR/sanitize-shard-$i.log:"
    tail -n 100 "$SAN_DIR/sanitize-shard-$i.log"
  fi
done
[ $failed = 0 ] || exit 1

echo "== fuzzing"
scripts/fuzz.sh "${FUZZ_SECONDS:-60}" "$SAN_DIR"
