#!/bin/sh
# bench/generate_vs_torch.sh - KV-cache generation of loretta against the PyTorch baseline
# on the same model and sizes, in one run (issue 4's benchmark).
#
#   loretta generate --bench: paper preset (8 layers, d 512, vocab 300, random init),
#     batch 16, 783-token prompt + BOS (784 prefill rows), 256 cached decode steps,
#     greedy; then the no-cache path timed at a few contexts and extrapolated.
#   loretta again with OMP_WAIT_POLICY=PASSIVE (cached path only): on a shared machine
#     spinning OpenMP threads wait for descheduled ones at every op's barrier.
#   torch_gpt_baseline.py gen --config base --batch 16 --prompt 784 --gen 256, twice:
#     as installed, and tuned with OMP_WAIT_POLICY=PASSIVE; all runs with 2 threads.
# Decode tok/s is batch * decode steps / decode seconds in both programs.
#
# usage: bench/generate_vs_torch.sh [BUILD_DIR] [extra loretta options, e.g. --backend cuda]
# env:   THREADS (2), TORCH_PY (/work/shared/bench/torch_gpt_baseline.py),
#        PYTHON (/usr/bin/python3: Debian's, which has torch), NOCACHE_SAMPLES (3)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
[ $# -gt 0 ] && shift
threads=${THREADS:-2}
torch_py=${TORCH_PY:-/work/shared/bench/torch_gpt_baseline.py}
python=${PYTHON:-/usr/bin/python3}
samples=${NOCACHE_SAMPLES:-3}
loretta=$build/apps/loretta
[ -x "$loretta" ] || { echo "no $loretta: build first (cmake --build $build)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

load() { [ -r /proc/loadavg ] && echo "   (load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cpus)" || true; }
load
echo "== loretta ($threads threads): $loretta generate --bench $*"
OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=1 "$loretta" generate --bench --threads "$threads" \
    --batch 16 --prompt 784 --gen 256 --nocache-samples "$samples" "$@" | tee "$out/loretta.txt"
echo "== loretta tuned: OMP_WAIT_POLICY=PASSIVE ($threads threads), cached path only"
OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=1 "$loretta" generate --bench \
    --threads "$threads" --batch 16 --prompt 784 --gen 256 --nocache-samples 0 "$@" \
    | tee "$out/loretta_tuned.txt"

if [ -f "$torch_py" ] && "$python" -c 'import torch' 2>/dev/null; then
    echo "== torch as installed ($threads threads)"
    OPENBLAS_NUM_THREADS=1 "$python" "$torch_py" gen --config base --batch 16 --prompt 784 \
        --gen 256 --threads "$threads" | tee "$out/torch.txt"
    echo "== torch tuned: OMP_WAIT_POLICY=PASSIVE ($threads threads)"
    OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 "$python" "$torch_py" gen --config base \
        --batch 16 --prompt 784 --gen 256 --threads "$threads" | tee "$out/torch_tuned.txt"
else
    echo "== torch: $python with torch or $torch_py not found; skipped"
fi

# "decode=12.34s (567 tok/s, ...": the tok/s inside the decode field of a RESULT line.
decode_tps() {
    grep "RESULT gen" "$1" 2>/dev/null | grep -- "$2" | sed -n 's/.*decode=[0-9.]*s (\([0-9.]*\) tok\/s.*/\1/p' | head -n 1
}
cache=$(decode_tps "$out/loretta.txt" "kv_cache=yes")
nocache=$(decode_tps "$out/loretta.txt" "kv_cache=no")
cache_tuned=$(decode_tps "$out/loretta_tuned.txt" "kv_cache=yes")
torch=$(decode_tps "$out/torch.txt" "kv_cache=yes")
tuned=$(decode_tps "$out/torch_tuned.txt" "kv_cache=yes")
load
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2fx", a / b }'; }
echo "== decode tokens/s: loretta cache ${cache:-?} (tuned ${cache_tuned:-?}), loretta no-cache ${nocache:-?} (extrapolated),"
echo "   torch ${torch:-?}, torch tuned ${tuned:-?}"
echo "   cache / no-cache:        $(ratio "$cache" "$nocache")  (goal >= 20x)"
echo "   loretta / torch:         $(ratio "$cache" "$torch")"
echo "   loretta / torch tuned:   $(ratio "$cache" "$tuned")"
echo "   tuned / torch tuned:     $(ratio "$cache_tuned" "$tuned")"
