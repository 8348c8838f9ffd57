/* backends/cpu/elementwise.c - GELU (tanh form), add, scale, axpy on f32.
 *
 * In-place calls (out is the same view as an input, allowed by the core) are safe: every
 * element is read before it is written and nothing else depends on it. */
#include <string.h>

#include "cpu_common.h"

#define LT_GELU_C 0.7978845608028654f /* sqrt(2/pi) */
#define LT_GELU_A 0.044715f
/* Below this many elements one thread is faster than waking the team. */
#define LT_EW_PARALLEL_MIN 32768

static lt_status need_f32(const char *op, const lt_tensor *t) {
    if (t->dtype != LT_F32)
        return lt_error(LT_ERR_UNSUPPORTED, "%s: backend cpu supports f32 only, got %s", op,
                        lt_dtype_name(t->dtype));
    return LT_OK;
}

static int ew_threads(lt_device *dev, int64_t n) {
    return n >= LT_EW_PARALLEL_MIN ? lt_cpu_threads(dev) : 1;
}

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* e^z for z in [-87, 0]. libm's expf/tanhf do not vectorise without -ffast-math and cost
 * ~30 ns per element here; this is branch-free so the GELU loops vectorise. Cody-Waite
 * reduction z = n ln2 + r, |r| <= ln2/2, degree-6 Taylor polynomial (truncation < 1.3e-7
 * relative), 2^n built in the exponent bits (n >= -126, so always a normal float). */
static inline float exp_nonpos(float z) {
    /* 1.5 * 2^23: adding it rounds to an integer (so never build this with -ffast-math) */
    const float shift = 12582912.0f;
    const float n = (z * 1.44269504088896341f + shift) - shift;
    const float r = (z - n * 0.693145751953125f) - n * 1.42860682030941723e-6f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    return p * bits_f32((uint32_t)((int32_t)n + 127) << 23);
}

/* GELU written with s = sigmoid(2u) = (1 + tanh u) / 2, u = c (x + a x^3):
 *   gelu(x) = x s,   gelu'(x) = s + 2 x s (1 - s) c (1 + 3 a x^2).
 * Same function as the tanh form, but 1 + tanh(u) never cancels for negative x. With
 * e = exp(-|2u|) <= 1, q = 1/(1+e) and p = e q, s and 1 - s are q and p (u >= 0) or p and q
 * (u < 0), both without cancellation. Past |2u| = 87 (|x| > 5.7) e is taken as exactly 0,
 * so s is exactly 0 or 1 and the derivative's tail term vanishes instead of becoming
 * 0 * inf for huge x. Clamps and choices work on the bits, as integer operations: float
 * compares would keep GCC (trapping math) from vectorising. NaN stays NaN through the
 * multiplications by x. */
#define LT_F32_87 0x42ae0000u  /* 87.0f */
#define LT_F32_1E4 0x461c4000u /* 1e4f */

typedef struct gelu_parts {
    float s, one_minus_s;
    float x_poly; /* x clamped to +-1e4 for the c (1 + 3 a x^2) factor (times 1 - s = 0 there) */
} gelu_parts;

static inline gelu_parts gelu_split(float x) {
    const uint32_t xb = f32_bits(x), xa = xb & 0x7fffffffu;
    const uint32_t ub = f32_bits(2.0f * LT_GELU_C * (x + LT_GELU_A * x * x * x));
    const uint32_t ua = ub & 0x7fffffffu;
    const uint32_t in_range = 0u - (uint32_t)(ua < LT_F32_87); /* all ones when |2u| < 87 */
    const float e = bits_f32(f32_bits(exp_nonpos(-bits_f32(ua & in_range))) & in_range);
    const float q = 1.0f / (1.0f + e), p = e * q;
    const uint32_t neg = 0u - (ub >> 31); /* all ones when u < 0 */
    gelu_parts g;
    g.s = bits_f32((f32_bits(p) & neg) | (f32_bits(q) & ~neg));
    g.one_minus_s = bits_f32((f32_bits(q) & neg) | (f32_bits(p) & ~neg));
    g.x_poly = bits_f32((xb & 0x80000000u) | (xa < LT_F32_1E4 ? xa : LT_F32_1E4));
    return g;
}

lt_status lt_cpu_gelu_fwd(lt_device *dev, const lt_op_call *call) {
    LT_TRY(need_f32("gelu_fwd", call->dst[0]));
    const float *x = lt_cpu_ptr(call->src[0]);
    float *out = lt_cpu_ptr(call->dst[0]);
    const int64_t n = lt_tensor_numel(call->dst[0]);
#pragma omp parallel for simd schedule(static) num_threads(ew_threads(dev, n))
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i];
        out[i] = v * gelu_split(v).s;
    }
    return LT_OK;
}

lt_status lt_cpu_gelu_bwd(lt_device *dev, const lt_op_call *call) {
    LT_TRY(need_f32("gelu_bwd", call->dst[0]));
    const float *dout = lt_cpu_ptr(call->src[0]), *x = lt_cpu_ptr(call->src[1]);
    float *dx = lt_cpu_ptr(call->dst[0]);
    const int64_t n = lt_tensor_numel(call->dst[0]);
#pragma omp parallel for simd schedule(static) num_threads(ew_threads(dev, n))
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i];
        const gelu_parts g = gelu_split(v);
        const float grad = g.s + 2.0f * v * g.s * g.one_minus_s * LT_GELU_C *
                                     (1.0f + 3.0f * LT_GELU_A * g.x_poly * g.x_poly);
        dx[i] = dout[i] * grad;
    }
    return LT_OK;
}

lt_status lt_cpu_add(lt_device *dev, const lt_op_call *call) {
    LT_TRY(need_f32("add", call->dst[0]));
    const float *a = lt_cpu_ptr(call->src[0]), *b = lt_cpu_ptr(call->src[1]);
    float *out = lt_cpu_ptr(call->dst[0]);
    const int64_t n = lt_tensor_numel(call->dst[0]);
#pragma omp parallel for simd schedule(static) num_threads(ew_threads(dev, n))
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
    return LT_OK;
}

lt_status lt_cpu_scale(lt_device *dev, const lt_op_call *call) {
    LT_TRY(need_f32("scale", call->dst[0]));
    const float *x = lt_cpu_ptr(call->src[0]);
    float *out = lt_cpu_ptr(call->dst[0]);
    const float alpha = call->p.scalar.alpha;
    const int64_t n = lt_tensor_numel(call->dst[0]);
#pragma omp parallel for simd schedule(static) num_threads(ew_threads(dev, n))
    for (int64_t i = 0; i < n; i++) out[i] = alpha * x[i];
    return LT_OK;
}

lt_status lt_cpu_axpy(lt_device *dev, const lt_op_call *call) {
    LT_TRY(need_f32("axpy", call->dst[0]));
    const float *restrict x = lt_cpu_ptr(call->src[0]);
    float *restrict y = lt_cpu_ptr(call->dst[0]);
    const float alpha = call->p.scalar.alpha;
    const int64_t n = lt_tensor_numel(call->dst[0]);
#pragma omp parallel for simd schedule(static) num_threads(ew_threads(dev, n))
    for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
    return LT_OK;
}
