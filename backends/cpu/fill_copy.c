/* backends/cpu/fill_copy.c - fill, copy (any strides) and dtype casts on host memory.
 *
 * copy moves element bytes, so it serves every dtype and is bit-exact. cast converts
 * through f32 in chunks (exact for every pair except f64 -> f64, which is a plain copy;
 * f64 -> bf16/f16 rounds twice, as the reference backend does), calling the core's
 * lt_f32_to_bf16 / lt_f32_to_f16 so the rounding matches every other backend bit for bit. */
#include <string.h>

#include "cpu_common.h"

/* Below this many bytes a single thread is faster than waking the team. */
#define LT_COPY_PARALLEL_BYTES (1 << 18)
#define LT_CAST_CHUNK 1024

/* Integer dtypes take the value truncated toward zero; refuse what does not fit. */
static lt_status fill_value_fits(lt_dtype t, double v) {
    if (t == LT_I32 && !(v > -2147483649.0 && v < 2147483648.0))
        return lt_error(LT_ERR_RANGE, "fill: value %g does not fit in i32", v);
    if (t == LT_U8 && !(v > -1.0 && v < 256.0))
        return lt_error(LT_ERR_RANGE, "fill: value %g does not fit in u8", v);
    return LT_OK;
}

lt_status lt_cpu_fill(lt_device *dev, const lt_op_call *call) {
    lt_tensor *dst = call->dst[0];
    const double v = call->p.fill.value;
    LT_TRY(fill_value_fits(dst->dtype, v));
    const int64_t n = lt_tensor_numel(dst);
    void *p = lt_cpu_ptr(dst);
    const int threads = (size_t)n * lt_dtype_size(dst->dtype) >= LT_COPY_PARALLEL_BYTES
                            ? lt_cpu_threads(dev) : 1;
    switch (dst->dtype) {
    case LT_F32: {
        const float f = (float)v;
        float *d = p;
#pragma omp parallel for simd schedule(static) num_threads(threads)
        for (int64_t i = 0; i < n; i++) d[i] = f;
        break;
    }
    case LT_F64: {
        double *d = p;
#pragma omp parallel for simd schedule(static) num_threads(threads)
        for (int64_t i = 0; i < n; i++) d[i] = v;
        break;
    }
    case LT_BF16:
    case LT_F16: {
        const uint16_t h = dst->dtype == LT_BF16 ? lt_f32_to_bf16((float)v) : lt_f32_to_f16((float)v);
        uint16_t *d = p;
#pragma omp parallel for simd schedule(static) num_threads(threads)
        for (int64_t i = 0; i < n; i++) d[i] = h;
        break;
    }
    case LT_I32: {
        const int32_t k = (int32_t)v;
        int32_t *d = p;
#pragma omp parallel for simd schedule(static) num_threads(threads)
        for (int64_t i = 0; i < n; i++) d[i] = k;
        break;
    }
    case LT_U8: memset(p, (int)(uint8_t)v, (size_t)n); break;
    default:
        return lt_error(LT_ERR_UNSUPPORTED, "fill: backend cpu does not handle dtype %s",
                        lt_dtype_name(dst->dtype));
    }
    return LT_OK;
}

/* A copy's loop nest after dropping size-1 dims and merging dims that are contiguous
 * with their inner neighbour in both tensors: often a single row or a few long rows. */
typedef struct copy_plan {
    int nd;
    int64_t shape[LT_MAX_DIMS], ss[LT_MAX_DIMS], ds[LT_MAX_DIMS];
} copy_plan;

static copy_plan plan_copy(const lt_tensor *src, const lt_tensor *dst) {
    copy_plan p = {0};
    for (int d = 0; d < dst->ndim; d++) {
        if (dst->shape[d] == 1) continue;
        if (p.nd > 0 && p.ss[p.nd - 1] == src->stride[d] * dst->shape[d] &&
            p.ds[p.nd - 1] == dst->stride[d] * dst->shape[d]) {
            p.shape[p.nd - 1] *= dst->shape[d];
            p.ss[p.nd - 1] = src->stride[d];
            p.ds[p.nd - 1] = dst->stride[d];
            continue;
        }
        p.shape[p.nd] = dst->shape[d];
        p.ss[p.nd] = src->stride[d];
        p.ds[p.nd] = dst->stride[d];
        p.nd++;
    }
    if (p.nd == 0) { /* a single element */
        p.nd = 1;
        p.shape[0] = 1;
        p.ss[0] = p.ds[0] = 1;
    }
    return p;
}

/* Rows of dst never share an element when every stride covers all the dims inside it
 * (strides ordered outer to inner). Only then may rows be written by different threads;
 * an overlapping destination (stride 0, or a transposed layout we do not analyse) is
 * copied by one thread in row order. */
static int rows_disjoint(const copy_plan *p) {
    int64_t inner = p->shape[p->nd - 1] * p->ds[p->nd - 1];
    if (p->shape[p->nd - 1] > 1 && p->ds[p->nd - 1] == 0) return 0;
    for (int d = p->nd - 2; d >= 0; d--) {
        if (p->ds[d] < inner) return 0;
        inner = p->ds[d] * p->shape[d];
    }
    return 1;
}

static void copy_row(char *d, const char *s, int64_t n, int64_t ds, int64_t ss, size_t es) {
    if (ds == 1 && ss == 1) {
        memcpy(d, s, (size_t)n * es);
        return;
    }
    switch (es) {
    case 1:
        for (int64_t i = 0; i < n; i++) d[i * ds] = s[i * ss];
        break;
    case 2:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)d)[i * ds] = ((const uint16_t *)s)[i * ss];
        break;
    case 4:
        for (int64_t i = 0; i < n; i++) ((uint32_t *)d)[i * ds] = ((const uint32_t *)s)[i * ss];
        break;
    default:
        for (int64_t i = 0; i < n; i++) memcpy(d + i * ds * (int64_t)es, s + i * ss * (int64_t)es, es);
        break;
    }
}

lt_status lt_cpu_copy(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *src = call->src[0];
    lt_tensor *dst = call->dst[0];
    const int64_t numel = lt_tensor_numel(dst);
    if (numel == 0) return LT_OK;
    const size_t es = lt_dtype_size(dst->dtype);
    const char *s = lt_cpu_ptr(src);
    char *d = lt_cpu_ptr(dst);
    const copy_plan p = plan_copy(src, dst);
    const int64_t inner = p.shape[p.nd - 1], rows = numel / inner;
    const int threads =
        (size_t)numel * es >= LT_COPY_PARALLEL_BYTES && rows > 1 && rows_disjoint(&p)
            ? lt_cpu_threads(dev) : 1;
    if (rows == 1) {
        copy_row(d, s, inner, p.ds[0], p.ss[0], es);
        return LT_OK;
    }
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t r = 0; r < rows; r++) {
        int64_t so = 0, dof = 0, rem = r;
        for (int k = p.nd - 2; k >= 0; k--) {
            const int64_t i = rem % p.shape[k];
            rem /= p.shape[k];
            so += i * p.ss[k];
            dof += i * p.ds[k];
        }
        copy_row(d + dof * (int64_t)es, s + so * (int64_t)es, inner, p.ds[p.nd - 1],
                 p.ss[p.nd - 1], es);
    }
    return LT_OK;
}

static void to_f32(float *restrict out, const void *in, lt_dtype t, int64_t n) {
    switch (t) {
    case LT_F32: memcpy(out, in, (size_t)n * sizeof(float)); break;
    case LT_F64:
        for (int64_t i = 0; i < n; i++) out[i] = (float)((const double *)in)[i];
        break;
    case LT_BF16:
        for (int64_t i = 0; i < n; i++) out[i] = lt_bf16_to_f32(((const uint16_t *)in)[i]);
        break;
    default:
        for (int64_t i = 0; i < n; i++) out[i] = lt_f16_to_f32(((const uint16_t *)in)[i]);
        break;
    }
}

static void from_f32(void *out, const float *restrict in, lt_dtype t, int64_t n) {
    switch (t) {
    case LT_F32: memcpy(out, in, (size_t)n * sizeof(float)); break;
    case LT_F64:
        for (int64_t i = 0; i < n; i++) ((double *)out)[i] = in[i];
        break;
    case LT_BF16:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)out)[i] = lt_f32_to_bf16(in[i]);
        break;
    default:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)out)[i] = lt_f32_to_f16(in[i]);
        break;
    }
}

lt_status lt_cpu_cast(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *src = call->src[0];
    lt_tensor *dst = call->dst[0];
    const int64_t n = lt_tensor_numel(dst);
    const size_t ses = lt_dtype_size(src->dtype), des = lt_dtype_size(dst->dtype);
    const char *s = lt_cpu_ptr(src);
    char *d = lt_cpu_ptr(dst);
    if (src->dtype == dst->dtype) {
        memcpy(d, s, (size_t)n * des);
        return LT_OK;
    }
    const int64_t chunks = (n + LT_CAST_CHUNK - 1) / LT_CAST_CHUNK;
    const int threads = chunks > 16 ? lt_cpu_threads(dev) : 1;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t c = 0; c < chunks; c++) {
        float tmp[LT_CAST_CHUNK];
        const int64_t i0 = c * LT_CAST_CHUNK;
        const int64_t len = n - i0 < LT_CAST_CHUNK ? n - i0 : LT_CAST_CHUNK;
        to_f32(tmp, s + i0 * (int64_t)ses, src->dtype, len);
        from_f32(d + i0 * (int64_t)des, tmp, dst->dtype, len);
    }
    return LT_OK;
}
