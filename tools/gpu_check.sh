#!/usr/bin/env bash
# tools/gpu_check.sh - the check a machine with an NVIDIA GPU runs for the cuda backend.
#
# Needs only the CUDA toolkit (nvcc, cudart, cublasLt), CMake and a C compiler: no
# cmocka, OpenBLAS or network. Builds the library and the `loretta` tool with the cuda
# backend, then runs every check that exists in this tree, each under its own time
# limit and inside one overall budget (8 minutes by default, build included), and ends
# with one summary table. A command the tree does not have yet is reported as "missing",
# not a failure. Exit status: 0 when no step failed or timed out, 1 otherwise.
#
# Environment: BUILD_DIR (default build-gpu), BUDGET_S (default 480), JOBS (default
# nproc), CUDA_ARCHS (CMake CUDA_ARCHITECTURES; default 80-real;90-real;90-virtual plus
# this GPU's own when it is neither), LOG_DIR (default $BUILD_DIR/gpu-check).
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build-gpu}
BUDGET_S=${BUDGET_S:-480}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 4)}
LOG_DIR=${LOG_DIR:-$BUILD_DIR/gpu-check}
START=$(date +%s)
mkdir -p "$LOG_DIR"
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
  t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
  rc=$?
  local dt=$(( $(date +%s) - t0 ))
  local last
  last=$(grep -v '^[[:space:]]*$' "$log" | tail -n 1 | cut -c1-70)
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
  nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/   gpu: /'
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

step configure 120 cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
  -DLORETTA_CUDA=ON -DLORETTA_OPENCL=OFF -DLORETTA_VULKAN=OFF -DLORETTA_TESTS=OFF \
  "-DCMAKE_CUDA_ARCHITECTURES=$ARCHS"
step build 300 cmake --build "$BUILD_DIR" -j"$JOBS"
LORETTA=$BUILD_DIR/apps/loretta
if [ ! -x "$LORETTA" ]; then
  record loretta-tool FAIL 0 "$LORETTA was not built"
else
  step devices 30 "$LORETTA" devices
  if ! grep -Eq '^[0-9]+ +cuda ' "$LOG_DIR/devices.log"; then
    record cuda-device FAIL 0 "no cuda device listed: $(grep 'note: cuda' "$LOG_DIR/devices.log")"
  fi
  if has "usage: loretta conformance" conformance; then
    step conformance 150 "$LORETTA" conformance --backend cuda
    if has "--grad" conformance; then
      step conformance-grad 150 "$LORETTA" conformance --backend cuda --grad
    else
      record conformance-grad missing 0 "conformance has no --grad"
    fi
    if has "--train" conformance; then
      step conformance-train 150 "$LORETTA" conformance --train --backend cuda --steps 20
    else
      record conformance-train missing 0 "conformance has no --train"
    fi
    # Out-of-bounds accesses and races in the kernels, when the toolkit has the sanitizer.
    SAN=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
    if [ -n "$SAN" ]; then
      step memcheck 150 "$SAN" --tool memcheck --error-exitcode 3 "$LORETTA" conformance --backend cuda --quick
    else
      record memcheck missing 0 "compute-sanitizer not installed"
    fi
  else
    record conformance missing 0 "no conformance command"
  fi
  if has "usage: loretta bench attention" bench attention; then
    # Its naive comparison runs on the CPU threads, hence B=1.
    step bench-attention 120 "$LORETTA" bench attention --backend cuda --T 1024,4096 --B 1 --H 8 --Dh 64 \
      --reps 2 --threads "$JOBS"
  else
    record bench-attention missing 0 "no bench attention"
  fi
  if has "--steps" bench train; then
    step bench-train 90 "$LORETTA" bench train --backend cuda --steps 10
  else
    record bench-train missing 0 "no bench train"
  fi
fi

echo
echo "== summary ($(( $(date +%s) - START ))s of ${BUDGET_S}s)"
printf '%-28s %-8s %6s  %s\n' step result secs note
for i in "${!NAMES[@]}"; do
  printf '%-28s %-8s %6s  %s\n' "${NAMES[$i]}" "${RESULTS[$i]}" "${TIMES[$i]}" "${NOTES[$i]}"
done
for f in bench-attention bench-train; do
  if [ -s "$LOG_DIR/$f.log" ]; then
    echo
    echo "== $f"
    tail -n 15 "$LOG_DIR/$f.log"
  fi
done
exit $FAILED
