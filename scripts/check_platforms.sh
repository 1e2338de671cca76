#!/usr/bin/env bash
# Builds and tests the committed project (HEAD) on fresh Debian chroots, one per platform, and
# prints one line per platform. Takes about an hour on 2 cores and needs root: too long for CI,
# which keeps testing Debian 12 only. Run it before claiming a platform in the README.
#   scripts/check_platforms.sh [PLATFORM ...]     (default: all three)
# Platforms:
#   debian12        Debian 12, LibTorch 1.13.1 (CPU): scripts/test.sh
#   debian13        Debian 13, LibTorch 2.6 (CPU): scripts/test.sh
#   debian13-cuda   Debian 13 with contrib and non-free, LibTorch 2.6's CUDA build and the CUDA
#                   toolkit (scripts/install_deps.sh --cuda --no-cudnn): configure, compile and
#                   link everything (library, app, tests, benchmarks); nothing runs
# FRESH_DEBIAN: the tool that runs a command in a fresh minimal Debian chroot, given the suite in
# SUITE and the apt components in COMPONENTS (default: ../shared/tools/fresh-debian.sh beside
# the checkout). Logs go to LOG_DIR (default build-platforms/).
set -uo pipefail
cd "$(dirname "$0")/.."
FRESH_DEBIAN=${FRESH_DEBIAN:-../shared/tools/fresh-debian.sh}
LOG_DIR=${LOG_DIR:-build-platforms}
[ -x "$FRESH_DEBIAN" ] || { echo "check_platforms: no fresh-chroot tool at $FRESH_DEBIAN (set FRESH_DEBIAN)" >&2; exit 2; }
git diff --quiet HEAD -- || echo "check_platforms: note: uncommitted changes are not tested (HEAD is)" >&2
mkdir -p "$LOG_DIR"

# Without internet access nvidia-cudnn cannot fetch cuDNN (--no-cudnn declines it): LibTorch's
# CUDA libraries then name a libcudnn.so.9 that is not there, so the link is told to leave their
# undefined symbols alone, and the binaries are built but not run.
cuda_build='scripts/install_deps.sh --cuda --no-cudnn &&
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined &&
  cmake --build build -j "$(nproc)" && ls -l build/lvm build/tests/lvm_tests && echo "built; not run (no cuDNN, no GPU)"'

# The summary line of a log: ctest's "N% tests passed, M tests failed out of T" and the skips.
summary() {
  local log=$1
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of' "$log" | tail -n 1)
  local skipped
  skipped=$(grep -c -E '^[[:space:]]+[0-9]+ - .*\(Skipped\)$' "$log" || true)  # ctest's closing list
  if [ -z "$line" ] && grep -q 'built; not run' "$log"; then
    echo "compiled and linked, not run"
  else
    echo "${line:-no test summary}; ${skipped} skipped"
  fi
}

run_platform() {
  local name=$1 suite=$2 components=$3 command=$4
  local log="$LOG_DIR/$name.log" start rc
  start=$(date +%s)
  SUITE=$suite COMPONENTS=$components "$FRESH_DEBIAN" . "$command" "$log" >/dev/null
  rc=$?
  local status=PASS
  [ $rc = 0 ] || status="FAIL (exit $rc)"
  printf '%-14s %-5s %-32s %s in %d min; log %s\n' "$name" "$status" \
    "$(grep -m1 -oE 'Setting up libtorch(-cuda)?-dev \([^)]+\)' "$log" | sed 's/Setting up //')" "$(summary "$log")" \
    $(( ($(date +%s) - start) / 60 )) "$log"
  return $rc
}

platforms=("$@")
[ ${#platforms[@]} -gt 0 ] || platforms=(debian12 debian13 debian13-cuda)
failed=0
for p in "${platforms[@]}"; do
  case "$p" in
    debian12) run_platform debian12 bookworm main scripts/test.sh || failed=1 ;;
    debian13) run_platform debian13 trixie main scripts/test.sh || failed=1 ;;
    debian13-cuda) run_platform debian13-cuda trixie "main contrib non-free" "$cuda_build" || failed=1 ;;
    *) echo "check_platforms: unknown platform '$p' (known: debian12, debian13, debian13-cuda)" >&2; exit 2 ;;
  esac
done
exit $failed
