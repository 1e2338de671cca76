#!/usr/bin/env bash
# One row of the IWAE-paper reproduction (Burda, Grosse & Salakhutdinov 2016, Table 1): train a
# config, keep the checkpoints of the learning-curve epochs, score each of them at k = 5000 on the
# first 1,000 test images, score the best checkpoint (chosen by validation) at k = 5000 on all
# 10,000 test images, and record it all in bench/reproduce/results/ROW/ (small JSON files, no
# checkpoints). scripts/results_table.py turns those files into the README's table.
#   bench/reproduce/run_row.sh ROW CONFIG EPOCHS [--set KEY=VALUE ...]
# Environment: LVM (default build/lvm), RUNS (default runs/reproduce), CURVE_K / FINAL_K (5000),
# CURVE_IMAGES (1000).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ $# -lt 3 ]; then
  echo "usage: bench/reproduce/run_row.sh ROW CONFIG EPOCHS [--set KEY=VALUE ...]" >&2
  exit 2
fi
row=$1 config=$2 epochs=$3
shift 3
LVM=${LVM:-build/lvm}
RUNS=${RUNS:-runs/reproduce}
CURVE_K=${CURVE_K:-5000}
FINAL_K=${FINAL_K:-5000}
CURVE_IMAGES=${CURVE_IMAGES:-1000}
run_dir=$RUNS/$row
out=bench/reproduce/results/$row
mkdir -p "$out"

# The learning-curve epochs of the issue (a tenth of the paper's 3,280 at most), and the last one.
keep=()
for e in 1 4 13 40 121 328; do [ "$e" -le "$epochs" ] && keep+=("$e"); done
[[ " ${keep[*]} " == *" $epochs "* ]] || keep+=("$epochs")
keep_list=$(IFS=,; echo "${keep[*]}")

train_command=("$LVM" train "$config" --run-dir "$run_dir" --overwrite --keep-epochs "$keep_list"
  --set "train.epochs=$epochs" --set output.progress=lines --set output.image_every=0 "$@")
echo "== train: ${train_command[*]}"
start=$(date +%s)
"${train_command[@]}"
train_wall=$(( $(date +%s) - start ))

for e in "${keep[@]}"; do
  checkpoint=$(printf '%s/checkpoints/epoch_%04d.pt' "$run_dir" "$e")
  echo "== learning curve: epoch $e, k = $CURVE_K, first $CURVE_IMAGES test images"
  "$LVM" eval "$run_dir" --checkpoint "$checkpoint" --k "$CURVE_K" --limit "$CURVE_IMAGES" \
    --estimators iwae,elbo --progress lines -o "$(printf '%s/curve_epoch%04d.json' "$out" "$e")"
done

echo "== final: best checkpoint, k = $FINAL_K, all test images"
eval_command=("$LVM" eval "$run_dir" --k "$FINAL_K" --estimators iwae,elbo --progress lines -o "$out/eval.json")
"${eval_command[@]}"

cp "$run_dir/summary.json" "$out/summary.json"
cp "$run_dir/config.yaml" "$out/config.yaml"
cp "$run_dir/metrics.csv" "$out/metrics.csv"
python3 - "$out/run.json" "$row" "$train_wall" "${train_command[*]}" "${eval_command[*]}" <<'PY'
import json, subprocess, sys
path, row, wall, train, evaluate = sys.argv[1:]
def out(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return ""
json.dump({"row": row, "train_command": train, "eval_command": evaluate, "train_wall_seconds": int(wall),
           "commit": out("git", "rev-parse", "--short", "HEAD"), "machine": out("build/lvm", "info")},
          open(path, "w"), indent=2)
print("wrote", path)
PY
