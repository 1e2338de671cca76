#!/usr/bin/env bash
# Training speed of `lvm train` against a plain PyTorch loop (bench/train_speed.py) on the classic
# MNIST VAE (configs/vae_mnist_classic.yaml), same machine, same BLAS, each side at its thread
# splits; and the sgemm floor: the step's matrix-product FLOPs over the measured sgemm rate.
#   bench/train_speed.sh [EPOCHS]     needs build/lvm, data/mnist, python3-torch
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-2}
# A python3 with torch (Debian's python3-torch); a pyenv python3 on the PATH may lack it.
PYTHON=${PYTHON:-}
for candidate in python3 /usr/bin/python3; do
  if [ -z "$PYTHON" ] && "$candidate" -c 'import torch' 2>/dev/null; then PYTHON=$candidate; fi
done
[ -n "$PYTHON" ] || { echo "no python3 with torch: scripts/install_deps.sh --python" >&2; exit 1; }
CORES=$(nproc)
# Both sides get the same OpenBLAS kernels (lvm would pick them itself; Python would not).
CORE=$(build/lvm info --no-bench | awk '/^OPENBLAS_CORETYPE/ {print $2}')
export OPENBLAS_CORETYPE=$CORE
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), OpenBLAS core $CORE"
SGEMM=$(build/lvm info | awk '/^sgemm/ {print $2}')
echo "sgemm: $SGEMM GFLOP/s"

# Matrix-product FLOPs per example of one training step of 784-400-20: forward is
# 2·(784·400 + 400·40 + 20·400 + 400·784) per example; backward about twice that.
"$PYTHON" - "$SGEMM" <<'PY'
import sys
gflops = float(sys.argv[1])
forward = 2 * (784 * 400 + 400 * 40 + 20 * 400 + 400 * 784)
step = 3 * forward
print(f"sgemm floor: {step / 1e6:.2f} MFLOP per example -> at most {gflops * 1e9 / step:,.0f} examples/s")
PY

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for split in "1 $CORES" "$CORES $CORES" "1 1"; do
  set -- $split
  torch_threads=$1 blas_threads=$2
  echo "-- threads: $torch_threads LibTorch intra-op + $blas_threads BLAS"
  build/lvm train configs/vae_mnist_classic.yaml --run-dir "$tmp/run_${torch_threads}_${blas_threads}" \
    --set "train.epochs=$EPOCHS" --set "torch_threads=$torch_threads" --set "blas_threads=$blas_threads" \
    --set output.progress=lines 2>&1 | awk '/^epoch/ {print "lvm    " $0}'
  OPENBLAS_NUM_THREADS=$blas_threads "$PYTHON" bench/train_speed.py --threads "$torch_threads" --epochs "$EPOCHS"
done
