#!/usr/bin/env bash
# tests/cli/cli_smoke.sh LORETTA - the command line as a user meets it: option mistakes get
# a message naming the mistake and exit status 2, and short runs of train (fp32 and bf16,
# resume), conformance --train and bench work end to end. Registered with ctest (label
# cli); needs nothing but bash and the loretta binary.
set -u
L=${1:?usage: cli_smoke.sh PATH/TO/loretta}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }

# expect NAME STATUS NEEDLE CMD...: CMD exits with STATUS and its output contains NEEDLE.
expect() {
  local name=$1 want=$2 needle=$3
  shift 3
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "$name: exit $rc, wanted $want; output: $(echo "$out" | tail -n 3)"
  elif [ -n "$needle" ] && ! grep -qF -- "$needle" <<<"$out"; then
    fail "$name: output lacks '$needle': $(echo "$out" | tail -n 3)"
  else
    pass "$name"
  fi
}

# A flat token file: numpy's .npy v1.0 of 6000 uint8 tokens (the tiny config's first
# modality takes 0-255), header padded so the data starts at byte 64.
npy() {
  local n=$1 out=$2 hdr
  hdr="{'descr': '|u1', 'fortran_order': False, 'shape': ($n,), }"
  while [ $(( (10 + ${#hdr} + 1) % 64 )) -ne 0 ]; do hdr="$hdr "; done
  {
    printf '\x93NUMPY\x01\x00'
    printf "\\x$(printf %02x $(( (${#hdr} + 1) % 256 )))\\x$(printf %02x $(( (${#hdr} + 1) / 256 )))"
    printf '%s\n' "$hdr"
    for ((i = 0; i < n; i++)); do printf "\\x$(printf %02x $(( (i * 7 + i / 13) % 256 )))"; done
  } >"$out"
}
npy 6000 "$T/tok.npy"

# train: option mistakes
expect "train unknown option" 2 "unknown option --foo" "$L" train --foo
expect "train --flag=value" 2 "write '--precision bf16'" "$L" train --precision=bf16 --data x
expect "train bad precision" 2 "wants fp32 or bf16, got 'fp16'" "$L" train --data x --precision fp16
expect "train stray word" 2 "unknown option extra" "$L" train --data x extra
expect "train missing value" 2 "--steps needs a value" "$L" train --data x --steps

# train: a bf16 run, then a resume in fp32; a resume naming another model is refused
R="$T/run/nested"
expect "train bf16" 0 "precision bf16" "$L" train --data "$T/tok.npy" --steps 3 --seq 32 --batch 2 \
  --out "$R" --precision bf16 --backend cpu
if [ "$(grep -c '"precision": "bf16"' "$R/metrics.jsonl" 2>/dev/null)" = 3 ]; then pass "metrics say bf16"
else fail "metrics.jsonl lacks three bf16 records"; fi
expect "resume with another model" 2 "holds model 'tiny'" "$L" train --data "$T/tok.npy" --seq 32 \
  --batch 2 --out "$R" --resume "$R/checkpoint.safetensors" --config laptop --backend cpu
expect "resume in fp32" 0 "resumed" "$L" train --data "$T/tok.npy" --steps 4 --seq 32 --batch 2 \
  --out "$R" --resume "$R/checkpoint.safetensors" --precision fp32 --backend cpu
if tail -n 1 "$R/metrics.jsonl" 2>/dev/null | grep -q '"step": 4, .*"precision": "fp32"'; then pass "resumed step is fp32"
else fail "last metrics record: $(tail -n 1 "$R/metrics.jsonl" 2>&1)"; fi

# conformance
expect "conformance --precision without --train" 2 "applies to --train" "$L" conformance --precision bf16
expect "conformance --precision without value" 2 "--precision needs a value" "$L" conformance --train --precision
expect "conformance bad precision" 2 "wants fp32 or bf16" "$L" conformance --train --precision fp16
expect "conformance unknown op lists ops" 2 "attn_fwd" "$L" conformance --op attention
expect "conformance --train bf16 on ref" 0 "ref:0 pass" "$L" conformance --train --steps 2 \
  --precision bf16 --backend ref

# bench
expect "bench --help" 0 "ops|attention|train" "$L" bench --help
expect "bench attention --causal 2" 2 "--causal is 0 or 1" "$L" bench attention --causal 2
expect "bench attention --B with --tokens" 2 "not both" "$L" bench attention --B 2 --tokens 256
expect "bench attention bf16" 0 "RESULT attention" "$L" bench attention --dtype bf16 --T 64 --H 2 \
  --reps 1 --naive 0 --backend cpu

# svl-mnist: a data folder that was never built
expect "svl-mnist run without build.json" 1 "has no build.json" "$L" svl-mnist run --data "$T" --out "$T/o"

if [ "$fails" -ne 0 ]; then
  echo "$fails check(s) failed"
  exit 1
fi
echo "all CLI checks passed"
