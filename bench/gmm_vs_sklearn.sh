#!/usr/bin/env bash
# lvm's Gaussian mixture (EM) against scikit-learn's GaussianMixture on the same CSV data: mean
# log-likelihood (train / test), BIC, EM steps and fit time, case by case (see
# bench/gmm_vs_sklearn.py). The "big" case is the 100,000-point, 2-D, K = 16 full-covariance fit.
#   bench/gmm_vs_sklearn.sh [--cases ring,big] [--seeds N] [--tol T] [--max-steps N]
# Needs build/lvm and Debian's python3-sklearn (scripts/install_deps.sh --python).
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's python3 carries python3-sklearn; another python3 first on PATH (pyenv) may not.
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
# Both sides get the same OpenBLAS kernels (lvm would pick them itself; numpy would not).
CORE=$(build/lvm info --no-bench | awk '/^OPENBLAS_CORETYPE/ {print $2}')
[ -n "$CORE" ] && export OPENBLAS_CORETYPE=$CORE
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)${CORE:+, OpenBLAS core $CORE}"
exec "$PYTHON" bench/gmm_vs_sklearn.py --lvm build/lvm "$@"
