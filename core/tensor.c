/* core/tensor.c - dtypes, half-precision conversions, tensor descriptions and views. */
#include <stdio.h>
#include <string.h>

#include "loretta/tensor.h"

static const struct {
    const char *name;
    size_t size;
} lt_dtypes[LT_DTYPE_COUNT] = {
    [LT_F32] = {"f32", 4}, [LT_F64] = {"f64", 8}, [LT_BF16] = {"bf16", 2},
    [LT_F16] = {"f16", 2}, [LT_I32] = {"i32", 4}, [LT_U8] = {"u8", 1},
};

size_t lt_dtype_size(lt_dtype t) {
    return (unsigned)t < LT_DTYPE_COUNT ? lt_dtypes[t].size : 0;
}

const char *lt_dtype_name(lt_dtype t) {
    return (unsigned)t < LT_DTYPE_COUNT ? lt_dtypes[t].name : "?";
}

lt_status lt_dtype_parse(const char *name, lt_dtype *out) {
    for (int i = 0; i < LT_DTYPE_COUNT; i++)
        if (name && strcmp(name, lt_dtypes[i].name) == 0) {
            *out = (lt_dtype)i;
            return LT_OK;
        }
    return lt_error(LT_ERR_INVALID_ARG, "unknown dtype '%s' (f32, f64, bf16, f16, i32, u8)",
                    name ? name : "(null)");
}

/* ---- bf16 / f16 (round to nearest even; NaN stays NaN) ---- */

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t lt_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float lt_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t lt_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);            /* NaN */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);           /* overflow -> Inf */
    if (a < 0x38800000u) {                                              /* subnormal or 0 */
        /* Adding 0.5 shifts the value so the FPU rounds it to a multiple of 2^-24. */
        float v = bits_f32(a) + 0.5f;
        return (uint16_t)(sign | (f32_bits(v) - 0x3f000000u));
    }
    uint32_t mant_odd = (a >> 13) & 1u;
    a += 0xc8000fffu + mant_odd; /* rebias exponent (-112 << 23) and round */
    return (uint16_t)(sign | (a >> 13));
}

float lt_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0) {
        float v = (float)mant * (1.0f / 16777216.0f); /* mant * 2^-24 */
        return sign ? -v : v;
    }
    if (exp == 31) return bits_f32(sign | 0x7f800000u | (mant << 13));
    return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

/* ---- tensors ---- */

static void set_contiguous_strides(lt_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        t->stride[i] = s;
        s *= t->shape[i];
    }
    for (int i = t->ndim; i < LT_MAX_DIMS; i++) {
        t->shape[i] = 1;
        t->stride[i] = 1;
    }
}

lt_tensor lt_tensor_desc(lt_dtype dtype, int ndim, const int64_t *shape) {
    lt_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dtype;
    t.ndim = ndim < 0 ? 0 : (ndim > LT_MAX_DIMS ? LT_MAX_DIMS : ndim);
    for (int i = 0; i < t.ndim; i++) t.shape[i] = shape[i];
    set_contiguous_strides(&t);
    return t;
}

static lt_status check_shape(const char *what, lt_dtype dtype, int ndim, const int64_t *shape) {
    if ((unsigned)dtype >= LT_DTYPE_COUNT)
        return lt_error(LT_ERR_DTYPE, "%s: dtype %d is not a dtype", what, (int)dtype);
    if (ndim < 0 || ndim > LT_MAX_DIMS)
        return lt_error(LT_ERR_SHAPE, "%s: %d dims (0..%d allowed)", what, ndim, LT_MAX_DIMS);
    if (ndim > 0 && !shape) return lt_error(LT_ERR_INVALID_ARG, "%s: shape is NULL", what);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return lt_error(LT_ERR_SHAPE, "%s: dim %d is negative (%lld)", what, i,
                            (long long)shape[i]);
        if (shape[i] > 0 && n > INT64_MAX / 16 / shape[i])
            return lt_error(LT_ERR_SHAPE, "%s: element count overflows", what);
        n *= shape[i];
    }
    return LT_OK;
}

int64_t lt_tensor_numel(const lt_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

size_t lt_tensor_nbytes(const lt_tensor *t) {
    return (size_t)lt_tensor_numel(t) * lt_dtype_size(t->dtype);
}

int lt_tensor_is_contiguous(const lt_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s) return 0;
        s *= t->shape[i];
    }
    return 1;
}

size_t lt_tensor_span_bytes(const lt_tensor *t) {
    if (lt_tensor_numel(t) == 0) return 0;
    int64_t last = 0;
    for (int i = 0; i < t->ndim; i++) last += (t->shape[i] - 1) * t->stride[i];
    return (size_t)(last + 1) * lt_dtype_size(t->dtype);
}

lt_device *lt_tensor_device(const lt_tensor *t) { return t && t->buf ? t->buf->dev : NULL; }

const char *lt_tensor_str(const lt_tensor *t, char *buf, size_t n) {
    if (!t) {
        snprintf(buf, n, "(null)");
        return buf;
    }
    size_t k = (size_t)snprintf(buf, n, "%s[", lt_dtype_name(t->dtype));
    for (int i = 0; i < t->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ",%lld" : "%lld", (long long)t->shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

lt_status lt_tensor_alloc(lt_device *dev, lt_dtype dtype, int ndim, const int64_t *shape,
                          lt_tensor *out) {
    LT_TRY(check_shape("tensor_alloc", dtype, ndim, shape));
    if (!out) return lt_error(LT_ERR_INVALID_ARG, "tensor_alloc: out is NULL");
    lt_tensor t = lt_tensor_desc(dtype, ndim, shape);
    size_t bytes = lt_tensor_nbytes(&t);
    LT_TRY(lt_buffer_alloc(dev, bytes ? bytes : 1, &t.buf));
    *out = t;
    return LT_OK;
}

void lt_tensor_free(lt_tensor *t) {
    if (!t) return;
    lt_buffer_free(t->buf);
    t->buf = NULL;
}

static lt_status check_fits(const char *what, const lt_tensor *t) {
    if (!t->buf) return LT_OK;
    size_t span = lt_tensor_span_bytes(t);
    if (t->offset > t->buf->bytes || span > t->buf->bytes - t->offset)
        return lt_error(LT_ERR_SHAPE,
                        "%s: view at byte offset %zu spanning %zu bytes exceeds its buffer of "
                        "%zu bytes",
                        what, t->offset, span, t->buf->bytes);
    return LT_OK;
}

lt_status lt_tensor_view(const lt_tensor *base, size_t offset, lt_dtype dtype, int ndim,
                         const int64_t *shape, lt_tensor *out) {
    if (!base || !out) return lt_error(LT_ERR_INVALID_ARG, "tensor_view: NULL argument");
    LT_TRY(check_shape("tensor_view", dtype, ndim, shape));
    lt_tensor t = lt_tensor_desc(dtype, ndim, shape);
    t.buf = base->buf;
    t.offset = base->offset + offset;
    LT_TRY(check_fits("tensor_view", &t));
    *out = t;
    return LT_OK;
}

lt_status lt_tensor_strided(const lt_tensor *base, size_t offset, int ndim,
                            const int64_t *shape, const int64_t *stride, lt_tensor *out) {
    if (!base || !out || !stride)
        return lt_error(LT_ERR_INVALID_ARG, "tensor_strided: NULL argument");
    LT_TRY(check_shape("tensor_strided", base->dtype, ndim, shape));
    lt_tensor t = lt_tensor_desc(base->dtype, ndim, shape);
    for (int i = 0; i < ndim; i++) {
        if (stride[i] < 0)
            return lt_error(LT_ERR_SHAPE, "tensor_strided: stride %d is negative", i);
        t.stride[i] = stride[i];
    }
    t.buf = base->buf;
    t.offset = base->offset + offset;
    LT_TRY(check_fits("tensor_strided", &t));
    *out = t;
    return LT_OK;
}

lt_status lt_tensor_reshape(const lt_tensor *t, int ndim, const int64_t *shape, lt_tensor *out) {
    if (!t || !out) return lt_error(LT_ERR_INVALID_ARG, "tensor_reshape: NULL argument");
    if (!lt_tensor_is_contiguous(t))
        return lt_error(LT_ERR_SHAPE, "tensor_reshape: tensor is not contiguous");
    LT_TRY(check_shape("tensor_reshape", t->dtype, ndim, shape));
    lt_tensor r = lt_tensor_desc(t->dtype, ndim, shape);
    if (lt_tensor_numel(&r) != lt_tensor_numel(t)) {
        char a[96], b[96];
        return lt_error(LT_ERR_SHAPE, "tensor_reshape: %s has %lld elements, %s has %lld",
                        lt_tensor_str(t, a, sizeof a), (long long)lt_tensor_numel(t),
                        lt_tensor_str(&r, b, sizeof b), (long long)lt_tensor_numel(&r));
    }
    r.buf = t->buf;
    r.offset = t->offset;
    *out = r;
    return LT_OK;
}

lt_status lt_tensor_upload(lt_tensor *t, const void *src, size_t bytes) {
    if (!t || !t->buf) return lt_error(LT_ERR_INVALID_ARG, "tensor_upload: tensor has no buffer");
    if (!lt_tensor_is_contiguous(t))
        return lt_error(LT_ERR_SHAPE, "tensor_upload: tensor is not contiguous");
    if (bytes != lt_tensor_nbytes(t))
        return lt_error(LT_ERR_SHAPE, "tensor_upload: %zu bytes given, tensor holds %zu", bytes,
                        lt_tensor_nbytes(t));
    return lt_buffer_upload(t->buf, t->offset, src, bytes);
}

lt_status lt_tensor_download(void *dst, const lt_tensor *t, size_t bytes) {
    if (!t || !t->buf)
        return lt_error(LT_ERR_INVALID_ARG, "tensor_download: tensor has no buffer");
    if (!lt_tensor_is_contiguous(t))
        return lt_error(LT_ERR_SHAPE, "tensor_download: tensor is not contiguous");
    if (bytes != lt_tensor_nbytes(t))
        return lt_error(LT_ERR_SHAPE, "tensor_download: %zu bytes asked, tensor holds %zu", bytes,
                        lt_tensor_nbytes(t));
    return lt_buffer_download(dst, t->buf, t->offset, bytes);
}
