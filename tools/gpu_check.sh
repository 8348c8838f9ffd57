#!/usr/bin/env bash
# tools/gpu_check.sh - the check a machine with an NVIDIA GPU runs for the cuda backend.
#
# Needs only the CUDA toolkit (nvcc, cudart, cublasLt), CMake and a C compiler: no
# cmocka, OpenBLAS, FFTW, libsndfile or network. Builds the library and the `loretta`
# tool with the cuda backend, then runs every check that exists in this tree, each under
# its own time limit and inside one overall budget (8 minutes by default, build
# included), and ends with one summary: the steps, then the results (attention TFLOP/s
# and % of peak, training tokens/s, MFU and where the step's time goes). A command the
# tree does not have yet is reported as "missing", not a failure. Exit status: 0 when no
# step failed or timed out, 1 otherwise.
#
# Order: correctness first (conformance, including the bf16 cases, and a short training
# run against the cpu), then the benchmarks, then the slow checks (--grad, memcheck),
# so a tight budget drops the latter.
#
# Environment: BUILD_DIR (default build-gpu), BUDGET_S (default 480), JOBS (default
# nproc), CUDA_ARCHS (CMake CUDA_ARCHITECTURES; default 80-real;90-real;90-virtual plus
# this GPU's own when it is neither), LOG_DIR (default $BUILD_DIR/gpu-check),
# CMAKE_ARGS (more configure options), ATTN_ARGS and TRAIN_ARGS (the benchmark shapes,
# defaults below), BACKEND (default cuda; another backend only to test this script).
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build-gpu}
BUDGET_S=${BUDGET_S:-480}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 4)}
LOG_DIR=${LOG_DIR:-$BUILD_DIR/gpu-check}
BACKEND=${BACKEND:-cuda}
CMAKE_ARGS=${CMAKE_ARGS:-}
# FlashAttention-2's benchmark setup at head dim 64: B*T = 16384 tokens, hidden 2048 (H 32).
ATTN_ARGS=${ATTN_ARGS:---T 1024,2048,4096 --tokens 16384 --H 32 --Dh 64 --warmup 2 --reps 10}
# The paper's SVL-MNIST model (8 layers, d 512, 8 heads of 64) at its batch of 16 rows
# of an image-audio pair: 784 pixels + 39x13 MFCC + delimiters and span tokens ~ 1296.
TRAIN_ARGS=${TRAIN_ARGS:---config paper --batch 16 --seq 1296 --warmup 3 --steps 10 --profile-steps 2}
START=$(date +%s)
mkdir -p "$LOG_DIR"
# The device steps, in order; skipped as a block when there is no device to run them on.
DEVICE_STEPS=(conformance conformance-train conformance-train-bf16 bench-attn-bf16
  bench-attn-bf16-simple bench-attn-f32 bench-train-fp32 bench-train-bf16 conformance-grad
  memcheck)
# A previous run's logs must not reach this run's summary.
for s in configure build devices "${DEVICE_STEPS[@]}"; do rm -f "$LOG_DIR/$s.log"; done
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4} OPENBLAS_NUM_THREADS=1

NAMES=() RESULTS=() TIMES=() NOTES=()
FAILED=0

remaining() { echo $((BUDGET_S - ($(date +%s) - START))); }

record() { # name result seconds note
  NAMES+=("$1") RESULTS+=("$2") TIMES+=("$3") NOTES+=("$4")
  case "$2" in FAIL|TIMEOUT) FAILED=1 ;; esac
  printf '== %-28s %-8s %5ss  %s\n' "$1" "$2" "$3" "$4"
}

# step NAME LIMIT_S CMD...: runs CMD with its output in $LOG_DIR/NAME.log, within both
# its own limit and what is left of the budget (30 s kept for the steps after it).
step() {
  local name=$1 limit=$2
  shift 2
  local left=$(( $(remaining) - 30 ))
  if [ "$left" -lt 10 ]; then
    record "$name" SKIPPED 0 "overall budget of ${BUDGET_S}s used up"
    return 1
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  local log="$LOG_DIR/$name.log" t0 rc
  rm -f "$log"
  t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
  rc=$?
  local dt=$(( $(date +%s) - t0 ))
  local last
  last=$(grep -v '^[[:space:]]*$' "$log" | grep -v '^RESULT ' | tail -n 1 | cut -c1-110)
  if [ $rc -eq 0 ]; then
    record "$name" ok "$dt" "$last"
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    record "$name" TIMEOUT "$dt" "limit ${limit}s; see $log"
  else
    record "$name" FAIL "$dt" "exit $rc: $last"
  fi
  return $rc
}

# Does `loretta CMD... --help` mention WORD? (how a step finds out a command exists)
has() {
  local word=$1
  shift
  "$LORETTA" "$@" --help 2>&1 | grep -q -- "$word"
}

echo "== loretta gpu check in $ROOT, budget ${BUDGET_S}s, logs in $LOG_DIR"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>&1 | sed 's/^/   gpu: /'
else
  echo "   nvidia-smi not found"
fi
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
"$NVCC" --version 2>/dev/null | tail -n 1 | sed 's/^/   nvcc: /'

ARCHS=${CUDA_ARCHS:-}
if [ -z "$ARCHS" ]; then
  ARCHS="80-real;90-real;90-virtual"
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d '. ')
  case "$cap" in ''|80|90) ;; *) ARCHS="$ARCHS;${cap}-real" ;; esac
fi

PATH_ADD=""
[ -x /usr/local/cuda/bin/nvcc ] && PATH_ADD=/usr/local/cuda/bin:
export PATH="$PATH_ADD$PATH"

# shellcheck disable=SC2086  # CMAKE_ARGS, ATTN_ARGS, TRAIN_ARGS are word lists
step configure 120 cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
  -DLORETTA_CUDA=ON -DLORETTA_OPENCL=OFF -DLORETTA_VULKAN=OFF -DLORETTA_TESTS=OFF \
  "-DCMAKE_CUDA_ARCHITECTURES=$ARCHS" $CMAKE_ARGS
step build 300 cmake --build "$BUILD_DIR" -j"$JOBS"
LORETTA=$BUILD_DIR/apps/loretta

device_steps() {
  local attn_cmd=("$LORETTA" bench attention --backend "$BACKEND")
  local train_cmd=("$LORETTA" bench train --backend "$BACKEND")
  if has "usage: loretta conformance" conformance; then
    # Every op against the reference, the bf16 (mixed-precision) cases included.
    step conformance 120 "$LORETTA" conformance --backend "$BACKEND"
    # A short training run on the device against the cpu, losses step by step.
    if has "--train" conformance; then
      step conformance-train 60 "$LORETTA" conformance --train --backend "$BACKEND" --steps 20
      if has "--precision" conformance; then
        step conformance-train-bf16 60 "$LORETTA" conformance --train --backend "$BACKEND" \
          --steps 20 --precision bf16
      else
        record conformance-train-bf16 missing 0 "conformance --train has no --precision"
      fi
    else
      record conformance-train missing 0 "conformance has no --train"
    fi
  else
    record conformance missing 0 "no conformance command"
  fi

  if has "--dtype" bench attention; then
    # shellcheck disable=SC2086
    step bench-attn-bf16 90 "${attn_cmd[@]}" --dtype bf16 $ATTN_ARGS
    # The general kernel the tensor-core one falls back to, for comparison.
    # shellcheck disable=SC2086
    step bench-attn-bf16-simple 90 env LORETTA_CUDA_ATTN=simple "${attn_cmd[@]}" --dtype bf16 $ATTN_ARGS
    # What fp32 training runs.
    # shellcheck disable=SC2086
    step bench-attn-f32 90 "${attn_cmd[@]}" --dtype f32 $ATTN_ARGS
  elif has "usage: loretta bench attention" bench attention; then
    record bench-attn-bf16 missing 0 "bench attention has no --dtype"
  else
    record bench-attn-bf16 missing 0 "no bench attention"
  fi

  if has "--precision" bench train; then
    # shellcheck disable=SC2086
    step bench-train-fp32 90 "${train_cmd[@]}" --precision fp32 $TRAIN_ARGS
    # shellcheck disable=SC2086
    step bench-train-bf16 90 "${train_cmd[@]}" --precision bf16 $TRAIN_ARGS
  elif has "--steps" bench train; then
    step bench-train-fp32 90 "${train_cmd[@]}" --steps 10
  else
    record bench-train-fp32 missing 0 "no bench train"
  fi

  if has "--grad" conformance; then
    step conformance-grad 90 "$LORETTA" conformance --backend "$BACKEND" --grad
  else
    record conformance-grad missing 0 "conformance has no --grad"
  fi
  # Out-of-bounds accesses and races in the kernels, when the toolkit has the sanitizer.
  SAN=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
  if [ "$BACKEND" != cuda ]; then
    record memcheck SKIPPED 0 "backend $BACKEND is not cuda"
  elif [ -n "$SAN" ]; then
    step memcheck 120 "$SAN" --tool memcheck --error-exitcode 3 "$LORETTA" conformance --backend cuda --quick
  else
    record memcheck missing 0 "compute-sanitizer not installed"
  fi
}

if [ ! -x "$LORETTA" ]; then
  record loretta-tool FAIL 0 "$LORETTA was not built"
else
  step devices 30 "$LORETTA" devices
  if grep -Eq "^[0-9]+ +$BACKEND " "$LOG_DIR/devices.log"; then
    device_steps
  else
    why=$(grep "note: $BACKEND" "$LOG_DIR/devices.log" | head -n 1 | cut -c1-110)
    record "$BACKEND-device" FAIL 0 "no $BACKEND device listed${why:+: $why}"
    for s in "${DEVICE_STEPS[@]}"; do record "$s" SKIPPED 0 "no $BACKEND device"; done
  fi
fi

# ---------------------------------------------------------------- summary ----

# field LINE KEY: the value of KEY=value in a RESULT line ("" when absent).
field() { sed -n "s|.* $2=\([^ ]*\).*|\1|p" <<<"$1"; }

RES_NAMES=() RES_VALUES=()
result() { RES_NAMES+=("$1") RES_VALUES+=("$2"); }

attn_rows() { # step label
  local log="$LOG_DIR/$1.log" line T tf pct pk
  [ -s "$log" ] || return 0
  while IFS= read -r line; do
    T=$(field "$line" T) tf=$(field "$line" total_tflops)
    pct=$(field "$line" pct_peak) pk=$(field "$line" peak_tflops)
    local v="$tf TFLOP/s"
    if [ "$pct" = n/a ]; then v="$v, % of peak n/a"; else v="$v, $pct% of $pk"; fi
    result "attn $2 T=$T fwd+bwd" "$v (fwd $(field "$line" fwd_tflops), bwd $(field "$line" bwd_tflops))"
  done < <(grep '^RESULT attention ' "$log")
}

train_rows() { # step
  local log="$LOG_DIR/$1.log" line prof top
  [ -s "$log" ] || return 0
  line=$(grep '^RESULT train ' "$log" | tail -n 1)
  [ -n "$line" ] || return 0
  local what
  what="train $(field "$line" model) $(field "$line" precision) B$(field "$line" B) T$(field "$line" T)"
  local mfu
  mfu="MFU $(field "$line" mfu) of $(field "$line" 'peak_TFLOP/s') TFLOP/s"
  [ "$(field "$line" mfu)" = n/a ] && mfu="MFU n/a (no peak known)"
  result "$what" "$(field "$line" 'tok/s') tok/s, $mfu, step $(field "$line" step_median)"
  prof=$(grep '^RESULT profile ' "$log" | tail -n 1)
  if [ -n "$prof" ]; then
    # The five largest shares of the profiled step.
    top=$(tr ' ' '\n' <<<"$prof" | grep '%$' | sed 's/=/ /; s/%$//' | sort -k2 -g -r | head -n 5 |
      awk '{printf "%s%s %s%%", (NR > 1 ? ", " : ""), $1, $2}')
    result "  where the time goes" "$top (profiled step $(field "$line" step_profiled))"
  fi
}

attn_rows bench-attn-bf16 "bf16 tensor-core"
attn_rows bench-attn-bf16-simple "bf16 simple"
attn_rows bench-attn-f32 "f32"
train_rows bench-train-fp32
train_rows bench-train-bf16

echo
echo "== summary ($(( $(date +%s) - START ))s of ${BUDGET_S}s)"
printf '%-28s %-8s %6s  %s\n' step result secs note
for i in "${!NAMES[@]}"; do
  printf '%-28s %-8s %6s  %s\n' "${NAMES[$i]}" "${RESULTS[$i]}" "${TIMES[$i]}" "${NOTES[$i]}"
done
if [ ${#RES_NAMES[@]} -gt 0 ]; then
  echo
  printf '%-38s %s\n' result value
  for i in "${!RES_NAMES[@]}"; do
    printf '%-38s %s\n' "${RES_NAMES[$i]}" "${RES_VALUES[$i]}"
  done
  echo "(attention: FlashAttention FLOP count, forward 4*B*H*T^2*Dh halved when causal, backward"
  echo " 2.5x; MFU: (6*N + 12*L*T*d) per token against the dense peak; see docs/cuda.md, Benchmarks)"
fi
exit $FAILED
