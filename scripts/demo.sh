#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build, get MNIST, train the default
# VAE, print its results, evaluate its log-likelihood by importance sampling, export it to
# TorchScript and draw pictures of it (samples, reconstructions, ...) into the run directory.
# Idempotent: finished steps are skipped.
#   scripts/demo.sh                   train configs/vae_mnist.yaml for DEMO_EPOCHS epochs (default 10)
#   DEMO_EPOCHS=50 scripts/demo.sh    the full config
#   DEMO_EVAL_K, DEMO_EVAL_IMAGES     the evaluation's samples per image (500) and test images (1000)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)
EPOCHS=${DEMO_EPOCHS:-10}
RUN_DIR=${DEMO_RUN_DIR:-runs/demo}

echo "== dependencies"
scripts/install_deps.sh --npm --python

echo "== build"
[ -f build/CMakeCache.txt ] || cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$JOBS" --target lvm_app

echo "== data"
scripts/get_mnist.sh data/mnist

echo "== machine"
build/lvm info

echo "== train ($EPOCHS epochs into $RUN_DIR)"
if [ -f "$RUN_DIR/summary.json" ] && grep -q "\"epochs\": $EPOCHS," "$RUN_DIR/summary.json"; then
  echo "already trained: $RUN_DIR/summary.json"
elif [ -f "$RUN_DIR/checkpoints/last.pt" ]; then
  build/lvm train --resume "$RUN_DIR" --set "train.epochs=$EPOCHS"
else
  build/lvm train configs/vae_mnist.yaml --set "train.epochs=$EPOCHS" --run-dir "$RUN_DIR"
fi

echo "== results"
cat "$RUN_DIR/summary.json"

# log p(x) by importance sampling on part of the test set, small enough to stay a demo.
EVAL_K=${DEMO_EVAL_K:-500}
EVAL_IMAGES=${DEMO_EVAL_IMAGES:-1000}
echo "== evaluate: importance-weighted log p(x), k = $EVAL_K, first $EVAL_IMAGES test images"
build/lvm eval "$RUN_DIR" --k "$EVAL_K" --limit "$EVAL_IMAGES" --progress none
echo "log p(x) is in nats per image (higher is better; the negative is the NLL Burda et al. report:"
echo "86.76 for this architecture after 3,280 epochs, with k = 5000 on all 10,000 test images)."
echo "The full protocol: build/lvm eval $RUN_DIR --k 5000   (all test images; minutes)"

echo "== export ($RUN_DIR/model.pt)"
build/lvm export "$RUN_DIR" -o "$RUN_DIR/model.pt"
# The exported file needs no lvm: load it from Python when a python3 with torch is around.
for python in python3 /usr/bin/python3; do
  if "$python" -c 'import torch' >/dev/null 2>&1; then
    "$python" -c "import sys, torch; m = torch.jit.load(sys.argv[1]); \
print('python: torch.jit.load ->', m.model_kind, 'epoch', m.epoch, 'input_shape', m.input_shape, \
'sample(16) ->', tuple(m.sample(16).shape))" \
      "$RUN_DIR/model.pt"
    break
  fi
done
echo "== pictures (into $RUN_DIR)"
build/lvm sample "$RUN_DIR" --n 64 -o "$RUN_DIR/samples.png"
build/lvm sample "$RUN_DIR" --reconstruct --n 32 -o "$RUN_DIR/reconstructions.png"
build/lvm sample "$RUN_DIR" --interpolate 0 1 --steps 10 -o "$RUN_DIR/interpolation.png"
build/lvm sample "$RUN_DIR" --traverse --dims 10 -o "$RUN_DIR/traversal.png"
build/lvm sample "$RUN_DIR" --latents -o "$RUN_DIR/latents.png"
if python3 -c 'import matplotlib' 2>/dev/null || /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  python3 scripts/plot_metrics.py "$RUN_DIR"
else
  echo "(no matplotlib: skipping scripts/plot_metrics.py; scripts/install_deps.sh --python installs it)"
fi
