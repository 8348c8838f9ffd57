/* backends/cpu/half_stage.c - bf16/f16 operands of the cpu matmul and attention.
 *
 * The cpu kernels (GEMM, tiled attention) compute in f32, so a mixed-precision call is
 * staged (core/op_f32_staging.c): half inputs converted exactly to f32 scratch, the f32
 * kernel run as usual with its own threading, half outputs rounded once. The conversion
 * here is one pass per tensor straight between a strided half view and a contiguous f32
 * scratch (the generic path would need a copy and a cast), spread over the same OpenMP
 * threads as the kernels, one after the other, so nothing competes for the cores. */
#include <string.h>

#include "cpu_half.h"
#include "op_f32_staging.h"

/* Below this many elements one thread converts faster than waking the team. */
#define LT_HALF_PARALLEL_ELEMS (1 << 16)

/* Bit-identical to lt_bf16_to_f32 / lt_f32_to_bf16 (core/tensor.c), inline so the row
 * loops vectorise. */
static inline float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static void row_to_f32(float *restrict out, const uint16_t *restrict in, int64_t n, int bf16) {
    if (bf16)
        for (int64_t i = 0; i < n; i++) out[i] = bf16_to_f32(in[i]);
    else
        for (int64_t i = 0; i < n; i++) out[i] = lt_f16_to_f32(in[i]);
}

static void row_from_f32(uint16_t *restrict out, const float *restrict in, int64_t n, int bf16) {
    if (bf16)
        for (int64_t i = 0; i < n; i++) out[i] = f32_to_bf16(in[i]);
    else
        for (int64_t i = 0; i < n; i++) out[i] = lt_f32_to_f16(in[i]);
}

/* Element offset of row r (all dims but the last, row-major) in strided tensor t. */
static int64_t row_offset(const lt_tensor *t, int64_t r) {
    int64_t off = 0;
    for (int d = t->ndim - 2; d >= 0; d--) {
        off += (r % t->shape[d]) * t->stride[d];
        r /= t->shape[d];
    }
    return off;
}

lt_status lt_cpu_half_convert(lt_device *dev, lt_tensor *dst, const lt_tensor *src) {
    const int to_f32 = dst->dtype == LT_F32;
    const lt_tensor *h = to_f32 ? src : dst; /* the half side, any strides */
    const int bf16 = h->dtype == LT_BF16;
    const int64_t numel = lt_tensor_numel(h);
    const int64_t n = h->ndim ? h->shape[h->ndim - 1] : 1;
    if (numel == 0 || n == 0) return LT_OK;
    const int64_t rows = numel / n;
    uint16_t *hp = lt_cpu_ptr(h);
    float *fp = lt_cpu_ptr(to_f32 ? dst : src);
    const int threads = numel >= LT_HALF_PARALLEL_ELEMS ? lt_cpu_threads(dev) : 1;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
    for (int64_t r = 0; r < rows; r++) {
        uint16_t *hr = hp + row_offset(h, r);
        if (to_f32) row_to_f32(fp + r * n, hr, n, bf16);
        else row_from_f32(hr, fp + r * n, n, bf16);
    }
    (void)threads;
    return LT_OK;
}

lt_status lt_cpu_half_staged(lt_device *dev, const lt_op_call *call) {
    return lt_op_run_staged_f32(dev, call, lt_cpu_half_convert);
}
