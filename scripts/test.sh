#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite. Idempotent: installed packages
# and an up-to-date build are skipped.
#   scripts/test.sh [BUILD_DIR]      (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
JOBS=$(nproc 2>/dev/null || echo 2)

echo "== dependencies"
scripts/install_deps.sh --python

echo "== build ($BUILD_DIR)"
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$BUILD_DIR" -j "$JOBS"

echo "== tests"
ctest --test-dir "$BUILD_DIR" -j "$JOBS" --output-on-failure
