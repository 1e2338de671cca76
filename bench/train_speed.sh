#!/usr/bin/env bash
# Training speed of `lvm train` against a plain PyTorch loop (bench/train_speed.py) on the classic
# MNIST VAE (configs/vae_mnist_classic.yaml) and the default one (configs/vae_mnist.yaml). Fair by
# construction: both sides get the same OpenBLAS kernels (OPENBLAS_CORETYPE, lvm's choice or the
# one already set), the same thread budget (TORCH_THREADS LibTorch intra-op + BLAS_THREADS BLAS
# threads), the data in memory, and they run interleaved, RUNS times each (the side that starts
# alternates). Each run's figure is its last epoch's examples/s (the first warms caches up).
# Prints every run, the medians, the median of the paired ratios with their spread, and each
# side's fraction of the sgemm floor (the step's matrix-product FLOPs at the sgemm rate that
# `lvm info` measures in the same session).
#   bench/train_speed.sh            needs build/lvm, data/mnist, python3-torch
# Environment: RUNS (3), EPOCHS (2), MODELS ("classic default"), TORCH_THREADS (1),
# BLAS_THREADS (all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
EPOCHS=${EPOCHS:-2}
MODELS=${MODELS:-classic default}
CORES=$(nproc)
TORCH_THREADS=${TORCH_THREADS:-1}
BLAS_THREADS=${BLAS_THREADS:-$CORES}
# A python3 with torch (Debian's python3-torch); a pyenv python3 on the PATH may lack it.
PYTHON=${PYTHON:-}
for candidate in python3 /usr/bin/python3; do
  if [ -z "$PYTHON" ] && "$candidate" -c 'import torch' 2>/dev/null; then PYTHON=$candidate; fi
done
[ -n "$PYTHON" ] || { echo "no python3 with torch: scripts/install_deps.sh --python" >&2; exit 1; }
# The kernels lvm runs on (a value already set is respected by both sides), given to Python too.
CORE=${OPENBLAS_CORETYPE:-$(build/lvm info --no-bench | sed -n 's/^BLAS.*(core \([A-Za-z0-9]*\)).*/\1/p')}
[ -n "$CORE" ] || { echo "cannot tell which OpenBLAS kernels lvm runs on (build/lvm info)" >&2; exit 1; }
export OPENBLAS_CORETYPE=$CORE
SGEMM=$(build/lvm info | awk '/^sgemm/ {print $2}')
echo "machine: $CORES cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "OpenBLAS core $CORE, sgemm $SGEMM GFLOP/s; threads: $TORCH_THREADS LibTorch + $BLAS_THREADS BLAS, both sides"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

lvm_run() {  # config -> examples/s of the last epoch
  build/lvm train "$1" --run-dir "$tmp/run" --overwrite --set "train.epochs=$EPOCHS" \
    --set "torch_threads=$TORCH_THREADS" --set "blas_threads=$BLAS_THREADS" --set output.progress=lines \
    --set output.image_every=0 2>&1 | awk '/^epoch/ {for (i = 1; i < NF; ++i) if ($(i + 1) == "ex/s") v = $i} END {print v}'
}
python_run() {  # model -> examples/s of the last epoch
  OPENBLAS_NUM_THREADS=$BLAS_THREADS "$PYTHON" bench/train_speed.py --model "$1" --threads "$TORCH_THREADS" \
    --epochs "$EPOCHS" | awk '{for (i = 1; i < NF; ++i) if ($(i + 1) == "examples/s") v = $i} END {print v}'
}

for model in $MODELS; do
  case $model in
    classic) config=configs/vae_mnist_classic.yaml ;;
    default) config=configs/vae_mnist.yaml ;;
    *) echo "unknown model '$model' (classic or default)" >&2; exit 2 ;;
  esac
  lvm_rates=() python_rates=()
  for ((r = 1; r <= RUNS; ++r)); do
    if ((r % 2)); then
      lvm_rates+=("$(lvm_run "$config")"); python_rates+=("$(python_run "$model")")
    else
      python_rates+=("$(python_run "$model")"); lvm_rates+=("$(lvm_run "$config")")
    fi
    echo "$model run $r: lvm ${lvm_rates[-1]} ex/s, python ${python_rates[-1]} ex/s"
  done
  "$PYTHON" - "$model" "$SGEMM" "${lvm_rates[*]}" "${python_rates[*]}" <<'PY'
import statistics, sys
model, gflops = sys.argv[1], float(sys.argv[2])
lvm = [float(v) for v in sys.argv[3].split()]
python = [float(v) for v in sys.argv[4].split()]
# Matrix products of the encoder (784 -> ... -> 2·latent) and decoder (latent -> ... -> 784);
# the backward pass is about twice the forward's FLOPs.
if model == "classic":
    pairs = [(784, 400), (400, 40), (20, 400), (400, 784)]
else:
    pairs = [(784, 200), (200, 200), (200, 100), (50, 200), (200, 200), (200, 784)]
step_flops = 3 * sum(2 * a * b for a, b in pairs)
floor = gflops * 1e9 / step_flops
ratios = sorted(a / b for a, b in zip(lvm, python))
m_lvm, m_py = statistics.median(lvm), statistics.median(python)
print(f"{model}: lvm median {m_lvm:,.0f} ex/s (runs {min(lvm):,.0f}-{max(lvm):,.0f}), "
      f"python median {m_py:,.0f} ex/s (runs {min(python):,.0f}-{max(python):,.0f})")
print(f"{model}: ratio lvm/python median {statistics.median(ratios):.2f}x (paired runs {ratios[0]:.2f}-{ratios[-1]:.2f}x)")
print(f"{model}: sgemm floor {floor:,.0f} ex/s ({step_flops / 1e6:.2f} MFLOP per example); "
      f"lvm at {m_lvm / floor:.0%} of it, python at {m_py / floor:.0%}")
PY
done
