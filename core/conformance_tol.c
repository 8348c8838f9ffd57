/* core/conformance_tol.c - per-op, per-dtype tolerances of the conformance suite.
 *
 * The reference computes in double and rounds once to the output dtype; a device computes
 * in its working precision. Each limit is the error that working precision can honestly
 * produce on the suite's inputs (values of order 1, sums of up to a few thousand terms),
 * with a margin of about 10x, and nothing more:
 *  - max_abs is measured against max(1, max |reference|) of the output, so one entry fits
 *    every case size (a sum of 2048 products has magnitude ~30, its rounding error too);
 *  - nmse = sum (a-b)^2 / sum b^2 catches errors spread over many elements that the max
 *    alone would let through.
 * f32 eps = 2^-24 = 6e-8 (unit roundoff). An exact entry (0, 0) means bit-for-bit after
 * rounding: data movement, and single IEEE operations (+, *), where rounding the double
 * result to f32 gives the same value as the f32 operation (double rounding is innocuous
 * for one +, -, *, / when 53 >= 2*24 + 2; likewise f32 -> bf16/f16: 24 >= 2*11 + 2).
 * TF32 or reduced-precision GEMM does not pass the f32 limits on purpose: f32 means f32. */
#include "loretta/conformance.h"

enum { TOL_F32, TOL_F64, TOL_BF16, TOL_F16, TOL_CLASSES };

typedef struct tol_row {
    lt_conf_tol t[TOL_CLASSES];
} tol_row;

#define EXACT {0.0, 0.0}
/* Half-precision outputs of arithmetic ops: one rounding to 8 (bf16) or 11 (f16) mantissa
 * bits dominates everything else: 2^-9 = 2e-3 and 2^-12 = 2.4e-4 relative per value. */
#define BF16_ARITH {1e-4, 1e-2}
#define F16_ARITH {1e-6, 2e-3}
/* f64 devices (the reference checked against itself, or a future f64 backend). */
#define F64_ARITH {1e-24, 1e-12}
/* Mixed precision (loretta/ops.h): matmul and attention with bf16/f16 operands. The
 * operands are exact in f32 and in the reference's double, so an f32 output differs from
 * the reference only by the f32 accumulation, as in the all-f32 cases: the f32 column
 * serves it unchanged. A half output adds one rounding of the f32 result, which agrees
 * with the reference's one rounding of the exact value except where the two straddle a
 * rounding boundary: then they are 1 ulp apart, at most 2^-7 (bf16) or 2^-10 (f16)
 * relative, hence max_abs 1e-2 / 2e-3. Such flips are rare (the f32 error, ~1e-6
 * relative, over the ulp, ~4e-3 / 5e-4), which keeps the NMSE below ~1e-8 (bf16) / 1e-9
 * (f16); a conversion that truncates instead of rounding to nearest, or reads the
 * operands through a lossy path, flips about every other element: NMSE ~1e-5 / 2e-7. */
#define BF16_MIXED {1e-6, 1e-2}
#define F16_MIXED {1e-8, 2e-3}

static const tol_row lt_tol_table[LT_OP_COUNT] = {
    /* Data movement: every backend must move the same bits. */
    [LT_OP_FILL] = {{EXACT, EXACT, EXACT, EXACT}},
    [LT_OP_COPY] = {{EXACT, EXACT, EXACT, EXACT}},
    /* Conversions round to nearest even (loretta/tensor.h); widening is exact. */
    [LT_OP_CAST] = {{EXACT, EXACT, EXACT, EXACT}},
    [LT_OP_KV_WRITE] = {{EXACT, EXACT, EXACT, EXACT}},
    /* A gathered row, plus at most one add when accumulating: one IEEE op. */
    [LT_OP_EMBED_FWD] = {{EXACT, EXACT, EXACT, EXACT}},
    [LT_OP_POS_EMBED_FWD] = {{EXACT, EXACT, EXACT, EXACT}},
    /* One IEEE op per element. */
    [LT_OP_ADD] = {{EXACT, EXACT, EXACT, EXACT}},
    [LT_OP_SCALE] = {{EXACT, EXACT, EXACT, EXACT}},
    /* y + alpha*x: two roundings in f32 (or one with FMA) against one: 1 ulp. */
    [LT_OP_AXPY] = {{{1e-13, 1e-6}, F64_ARITH, BF16_ARITH, F16_ARITH}},
    /* Repeated token ids sum up to ~20 rows in any order: a few ulp. */
    [LT_OP_EMBED_BWD] = {{{1e-12, 5e-6}, F64_ARITH, BF16_ARITH, F16_ARITH}},
    /* tanh may be 5 ulp off (OpenCL's bound; GLSL gives none). Where tanh(u) -> -1 (the
     * suite has x = -10) 1 + tanh and 1 - tanh^2 cancel: 5 ulp = 3e-7 becomes an absolute
     * error of 0.5|x| 3e-7 = 1.5e-6 in the forward, and 0.5|x| k (1 + 0.134 x^2) 6e-7
     * = 3.5e-5 in the derivative. Exact f32 tanh gives ~1e-7 in both. */
    [LT_OP_GELU_FWD] = {{{1e-11, 5e-6}, F64_ARITH, BF16_ARITH, F16_ARITH}},
    [LT_OP_GELU_BWD] = {{{1e-11, 5e-5}, F64_ARITH, BF16_ARITH, F16_ARITH}},
    /* Mean of D squares in f32 (D <= 1000): relative ~sqrt(D) eps = 2e-6 on rstd. */
    [LT_OP_RMSNORM_FWD] = {{{1e-11, 1e-5}, F64_ARITH, BF16_ARITH, F16_ARITH}},
    /* dx subtracts x * mean(dout*w*x) rstd^2: a second reduction and a cancellation. */
    [LT_OP_RMSNORM_BWD] = {{{1e-10, 3e-5}, F64_ARITH, BF16_ARITH, F16_ARITH}},
    /* K up to 2048 products per dot: blocked sums err ~sqrt(K) eps relative to |C|max. */
    [LT_OP_MATMUL] = {{{1e-10, 5e-5}, F64_ARITH, BF16_MIXED, F16_MIXED}},
    /* log-sum-exp over V up to 8192 and softmax probabilities: ~1e-6 relative. */
    [LT_OP_CROSS_ENTROPY] = {{{1e-10, 1e-5}, F64_ARITH, BF16_ARITH, F16_ARITH}},
    /* Online softmax over up to 2048 keys in f32, rescaled per tile: ~1e-6 relative. */
    [LT_OP_ATTN_FWD] = {{{1e-10, 2e-5}, F64_ARITH, BF16_MIXED, F16_MIXED}},
    [LT_OP_ATTN_DECODE] = {{{1e-10, 2e-5}, F64_ARITH, BF16_ARITH, F16_ARITH}},
    /* Recomputed probabilities times (dP - rowsum(dO*O)): a cancellation per row, and dk/dv
     * sum over up to 2048 queries. */
    [LT_OP_ATTN_BWD] = {{{1e-9, 1e-4}, F64_ARITH, BF16_MIXED, F16_MIXED}},
    /* sqrt and a division per element; m, v, param each one update: a few ulp. */
    [LT_OP_ADAMW] = {{{1e-12, 1e-6}, F64_ARITH, BF16_ARITH, F16_ARITH}},
    /* One sum of up to 1e5 squares: blocked f32 summation, ~1e-6 relative. */
    [LT_OP_SUMSQ] = {{{1e-11, 1e-5}, F64_ARITH, BF16_ARITH, F16_ARITH}},
    /* Tokens are integers and compared exactly; this row is never used for them. */
    [LT_OP_SAMPLE] = {{EXACT, EXACT, EXACT, EXACT}},
};

lt_conf_tol lt_conf_tolerance(lt_op op, lt_dtype dtype) {
    lt_conf_tol exact = {0.0, 0.0};
    if ((unsigned)op >= LT_OP_COUNT) return exact;
    switch (dtype) {
    case LT_F32: return lt_tol_table[op].t[TOL_F32];
    case LT_F64: return lt_tol_table[op].t[TOL_F64];
    case LT_BF16: return lt_tol_table[op].t[TOL_BF16];
    case LT_F16: return lt_tol_table[op].t[TOL_F16];
    default: return exact; /* integers */
    }
}
