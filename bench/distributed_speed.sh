#!/usr/bin/env bash
# Data-parallel training on this machine: examples/s of `lvm train` as one plain process, as a
# group of one (--nproc 1: the data-parallel path with nothing to exchange), and with 2 and 4
# local processes (threads: each gets cores / N, so 4 on 2 cores oversubscribes), interleaved
# RUNS times; with the time each process spends in the exchanges per step and the bytes each
# sums per step (summary.json). The point is correctness and overhead, not speed-up: on one
# machine the processes share the same cores.
#   bench/distributed_speed.sh        needs build/lvm built with Gloo, data/mnist
# Environment: RUNS (3), EPOCHS (1), CONFIGS ("configs/vae_mnist.yaml configs/vae_mnist_classic.yaml"),
# PROCESSES ("plain 1 2 4").
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
EPOCHS=${EPOCHS:-1}
CONFIGS=${CONFIGS:-configs/vae_mnist.yaml configs/vae_mnist_classic.yaml}
PROCESSES=${PROCESSES:-plain 1 2 4}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

one_run() {  # config processes -> "examples/s ms-per-step bytes-per-step"
  local launch=()
  [ "$2" = plain ] || launch=(--nproc "$2")
  build/lvm train "$1" --run-dir "$tmp/run" --overwrite --set "train.epochs=$EPOCHS" \
    --set output.progress=none --set output.image_every=0 "${launch[@]}" >/dev/null 2>"$tmp/log" ||
    { cat "$tmp/log" >&2; exit 1; }
  python3 -c 'import json, sys; s = json.load(open(sys.argv[1]))
print(s["examples_per_s"], s.get("exchange_ms_per_step", 0), s.get("exchange_bytes_per_step", 0))' \
    "$tmp/run/summary.json"
}

for config in $CONFIGS; do
  echo "== $config, $EPOCHS epoch(s) per run, $RUNS runs per setting, interleaved"
  declare -A rates=() exchange=() bytes=()
  for ((r = 1; r <= RUNS; ++r)); do
    for n in $PROCESSES; do
      read -r rate ms size < <(one_run "$config" "$n")
      rates[$n]+="$rate "
      exchange[$n]+="$ms "
      bytes[$n]=$size
      printf '  run %d  %-5s  %8.0f ex/s  %7.3f ms/step in exchanges\n' "$r" "$n" "$rate" "$ms"
    done
  done
  for n in $PROCESSES; do
    python3 - "$n" "${bytes[$n]}" ${rates[$n]} -- ${exchange[$n]} <<'PY'
import statistics, sys
n, size = sys.argv[1], int(sys.argv[2])
cut = sys.argv.index("--")
rates = [float(v) for v in sys.argv[3:cut]]
ms = [float(v) for v in sys.argv[cut + 1:]]
print(f"  {n:>5}: median {statistics.median(rates):8.0f} ex/s (spread {min(rates):.0f}-{max(rates):.0f}); "
      f"exchanges {statistics.median(ms):.3f} ms/step; {size:,} bytes summed per step")
PY
  done
  unset rates exchange bytes
done
