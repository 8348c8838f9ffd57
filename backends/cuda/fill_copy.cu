/* backends/cuda/fill_copy.cu - fill, strided copy and dtype casts. */
#include <string.h>

#include "cuda_kernels.cuh"

/* Shape and strides of a tensor, passed to kernels by value. */
typedef struct lt_cu_view {
    int64_t shape[LT_MAX_DIMS];
    int64_t stride[LT_MAX_DIMS];
    int ndim;
} lt_cu_view;

static lt_cu_view view_of(const lt_tensor *t) {
    lt_cu_view v;
    memset(&v, 0, sizeof v);
    v.ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) {
        v.shape[d] = t->shape[d];
        v.stride[d] = t->stride[d];
    }
    return v;
}

/* Element offset of row-major linear index n (as backends/ref/ref_common.h lt_ref_lin). */
LT_DEV int64_t view_offset(const lt_cu_view &v, int64_t n) {
    int64_t off = 0;
    for (int d = v.ndim - 1; d >= 0; d--) {
        int64_t s = v.shape[d];
        off += (n % s) * v.stride[d];
        n /= s;
    }
    return off;
}

__global__ void lt_fill_kernel(void *p, int es, uint64_t bits, int64_t n) {
    LT_GRID_STRIDE(i, n) {
        if (es == 2) ((uint16_t *)p)[i] = (uint16_t)bits;
        else if (es == 4) ((uint32_t *)p)[i] = (uint32_t)bits;
        else ((uint64_t *)p)[i] = bits;
    }
}

/* The value converted on the host exactly as the reference backend stores it. */
static uint64_t fill_bits(lt_dtype dt, double value) {
    uint64_t bits = 0;
    switch (dt) {
    case LT_F32: {
        float f = (float)value;
        uint32_t u;
        memcpy(&u, &f, 4);
        bits = u;
        break;
    }
    case LT_F64: memcpy(&bits, &value, 8); break;
    case LT_BF16: bits = lt_f32_to_bf16((float)value); break;
    case LT_F16: bits = lt_f32_to_f16((float)value); break;
    case LT_I32: bits = (uint32_t)(int32_t)value; break; /* range checked by the caller */
    case LT_U8: bits = (uint8_t)value; break;
    default: break;
    }
    return bits;
}

extern "C" lt_status lt_cuda_fill(lt_device *dev, const lt_op_call *call) {
    lt_tensor *dst = call->dst[0];
    lt_cuda_device *cd;
    LT_TRY(lt_cuda_ready(dev, "fill", &cd));
    LT_TRY(lt_cuda_aligned("fill", "dst", dst));
    const double v = call->p.fill.value;
    /* Integers take the value truncated toward zero; what does not fit is refused, as in
     * backends/ref/fill_copy.c (converting it would be undefined behaviour). */
    if (dst->dtype == LT_I32 && !(v > -2147483649.0 && v < 2147483648.0))
        return lt_error(LT_ERR_RANGE, "fill: value %g does not fit in i32", v);
    if (dst->dtype == LT_U8 && !(v > -1.0 && v < 256.0))
        return lt_error(LT_ERR_RANGE, "fill: value %g does not fit in u8", v);
    int64_t n = lt_tensor_numel(dst);
    if (n == 0) return LT_OK;
    size_t es = lt_dtype_size(dst->dtype);
    uint64_t bits = fill_bits(dst->dtype, v);
    if (es == 1 || bits == 0)
        return lt_cuda_check(cudaMemsetAsync(lt_cuda_ptr(dst), (int)(bits & 0xff), (size_t)n * es,
                                             cd->stream),
                             "fill", "cudaMemsetAsync");
    lt_fill_kernel<<<lt_cuda_grid(n, LT_CUDA_THREADS), LT_CUDA_THREADS, 0, cd->stream>>>(
        lt_cuda_ptr(dst), (int)es, bits, n);
    return lt_cuda_launched("fill");
}

__global__ void lt_copy_kernel(void *dst, lt_cu_view dv, const void *src, lt_cu_view sv, int es,
                               int64_t n) {
    LT_GRID_STRIDE(i, n) {
        int64_t o = view_offset(dv, i), s = view_offset(sv, i);
        if (es == 1) ((uint8_t *)dst)[o] = ((const uint8_t *)src)[s];
        else if (es == 2) ((uint16_t *)dst)[o] = ((const uint16_t *)src)[s];
        else if (es == 4) ((uint32_t *)dst)[o] = ((const uint32_t *)src)[s];
        else ((uint64_t *)dst)[o] = ((const uint64_t *)src)[s];
    }
}

extern "C" lt_status lt_cuda_copy(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *src = call->src[0];
    lt_tensor *dst = call->dst[0];
    lt_cuda_device *cd;
    LT_TRY(lt_cuda_ready(dev, "copy", &cd));
    LT_TRY(lt_cuda_aligned("copy", "src", src));
    LT_TRY(lt_cuda_aligned("copy", "dst", dst));
    int64_t n = lt_tensor_numel(dst);
    if (n == 0) return LT_OK;
    size_t es = lt_dtype_size(dst->dtype);
    if (lt_tensor_is_contiguous(src) && lt_tensor_is_contiguous(dst))
        return lt_cuda_check(cudaMemcpyAsync(lt_cuda_ptr(dst), lt_cuda_ptr(src), (size_t)n * es,
                                             cudaMemcpyDeviceToDevice, cd->stream),
                             "copy", "cudaMemcpyAsync");
    lt_copy_kernel<<<lt_cuda_grid(n, LT_CUDA_THREADS), LT_CUDA_THREADS, 0, cd->stream>>>(
        lt_cuda_ptr(dst), view_of(dst), lt_cuda_ptr(src), view_of(src), (int)es, n);
    return lt_cuda_launched("copy");
}

/* Through double, then to the destination the way lt_ref_st does: f64 as is, the
 * others via f32 (so f64 -> bf16 rounds twice, exactly as on the host). */
__global__ void lt_cast_kernel(void *dst, int ddt, const void *src, int sdt, int64_t n) {
    LT_GRID_STRIDE(i, n) {
        double v = sdt == LT_F64 ? ((const double *)src)[i] : (double)lt_ld(src, sdt, i);
        if (ddt == LT_F64) ((double *)dst)[i] = v;
        else lt_st(dst, ddt, i, (float)v);
    }
}

static int cast_dtype_ok(lt_dtype t) {
    return t == LT_F32 || t == LT_F64 || t == LT_BF16 || t == LT_F16;
}

extern "C" lt_status lt_cuda_cast(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *src = call->src[0];
    lt_tensor *dst = call->dst[0];
    lt_cuda_device *cd;
    LT_TRY(lt_cuda_ready(dev, "cast", &cd));
    if (!cast_dtype_ok(src->dtype) || !cast_dtype_ok(dst->dtype))
        return lt_error(LT_ERR_UNSUPPORTED, "cast: %s -> %s is not supported by backend cuda",
                        lt_dtype_name(src->dtype), lt_dtype_name(dst->dtype));
    LT_TRY(lt_cuda_aligned("cast", "src", src));
    LT_TRY(lt_cuda_aligned("cast", "dst", dst));
    int64_t n = lt_tensor_numel(dst);
    if (n == 0) return LT_OK;
    lt_cast_kernel<<<lt_cuda_grid(n, LT_CUDA_THREADS), LT_CUDA_THREADS, 0, cd->stream>>>(
        lt_cuda_ptr(dst), (int)dst->dtype, lt_cuda_ptr(src), (int)src->dtype, n);
    return lt_cuda_launched("cast");
}
