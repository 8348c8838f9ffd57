#!/usr/bin/env bash
# bench/train_vs_torch.sh - tokens/s of a whole training step: loretta against the PyTorch
# CPU baseline (shared/bench/torch_gpt_baseline.py) on the same model, batch, sequence
# length and thread count. PyTorch runs twice: as installed (defaults) and tuned
# (OMP_WAIT_POLICY=PASSIVE, its BLAS on the same thread count).
#
#   bench/train_vs_torch.sh [MODEL] [SEQ] [BATCH] [THREADS] [STEPS]
#   defaults: paper 256 4 2 6   (MODEL: paper|laptop; the baseline calls paper "base")
# Env: LORETTA=path/to/loretta (default build/apps/loretta), TORCH_BASELINE=path to the script.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-paper} SEQ=${2:-256} BATCH=${3:-4} THREADS=${4:-2} STEPS=${5:-6}
LORETTA=${LORETTA:-build/apps/loretta}
BASELINE=${TORCH_BASELINE:-../shared/bench/torch_gpt_baseline.py}
[ -f "$BASELINE" ] || BASELINE=/work/shared/bench/torch_gpt_baseline.py
case "$MODEL" in paper) TORCH_CFG=base ;; laptop) TORCH_CFG=laptop ;;
  *) echo "model must be paper or laptop (the baseline's configs)" >&2; exit 2 ;; esac
[ -x "$LORETTA" ] || { echo "build loretta first ($LORETTA not found)" >&2; exit 2; }

tokps() { sed -n 's/.*tok\/s=\([0-9.]*\).*/\1/p' | tail -1; }

echo "== loretta: $MODEL T=$SEQ B=$BATCH threads=$THREADS"
OURS_OUT=$(OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE \
  "$LORETTA" bench train --config "$MODEL" --seq "$SEQ" --batch "$BATCH" --steps "$STEPS" --profile-steps 0 \
  --threads "$THREADS" --backend cpu 2>/dev/null)
echo "$OURS_OUT" | grep RESULT
OURS=$(echo "$OURS_OUT" | grep RESULT | tokps)

echo "== torch as installed"
AS_OUT=$(env -u OMP_NUM_THREADS -u OPENBLAS_NUM_THREADS -u OMP_WAIT_POLICY /usr/bin/python3 "$BASELINE" train \
  --config "$TORCH_CFG" --batch "$BATCH" --seq "$SEQ" --steps "$STEPS" --threads "$THREADS" 2>/dev/null)
echo "$AS_OUT" | grep RESULT
AS=$(echo "$AS_OUT" | grep RESULT | tokps)

echo "== torch tuned (OMP_WAIT_POLICY=PASSIVE, BLAS threads $THREADS)"
TU_OUT=$(OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS /usr/bin/python3 "$BASELINE" train \
  --config "$TORCH_CFG" --batch "$BATCH" --seq "$SEQ" --steps "$STEPS" --threads "$THREADS" 2>/dev/null)
echo "$TU_OUT" | grep RESULT
TU=$(echo "$TU_OUT" | grep RESULT | tokps)

awk -v o="$OURS" -v a="$AS" -v t="$TU" 'BEGIN {
  printf "== tokens/s: loretta %.0f, torch as installed %.0f, torch tuned %.0f\n", o, a, t;
  printf "== ratio loretta/torch: %.2fx as installed (goal >= 1.5), %.2fx tuned (goal >= 1.0)\n", o / a, o / t }'
