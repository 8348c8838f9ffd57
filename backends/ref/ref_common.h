/* backends/ref/ref_common.h - element access for the reference loops.
 *
 * Every reference op reads and writes through these: logical indices go through the
 * tensor's strides and values are converted to and from double, so one plain loop
 * serves every dtype and layout. Slow on purpose; clarity is the point. */
#ifndef LT_REF_COMMON_H
#define LT_REF_COMMON_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cpu_common.h"

/* Element offset (in elements) of the logical row-major linear index n. */
static inline int64_t lt_ref_lin(const lt_tensor *t, int64_t n) {
    int64_t off = 0;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t s = t->shape[d];
        off += (n % s) * t->stride[d];
        n /= s;
    }
    return off;
}

/* Element offset of index (i0, i1, i2, i3); unused trailing indices are 0. */
static inline int64_t lt_ref_at(const lt_tensor *t, int64_t i0, int64_t i1, int64_t i2,
                                int64_t i3) {
    return i0 * t->stride[0] + i1 * t->stride[1] + i2 * t->stride[2] + i3 * t->stride[3];
}

static inline double lt_ref_ld(const lt_tensor *t, int64_t off) {
    const char *p = (const char *)lt_cpu_ptr(t);
    switch (t->dtype) {
    case LT_F32: return ((const float *)p)[off];
    case LT_F64: return ((const double *)p)[off];
    case LT_BF16: return lt_bf16_to_f32(((const uint16_t *)p)[off]);
    case LT_F16: return lt_f16_to_f32(((const uint16_t *)p)[off]);
    case LT_I32: return ((const int32_t *)p)[off];
    case LT_U8: return ((const uint8_t *)p)[off];
    default: return 0.0;
    }
}

static inline void lt_ref_st(const lt_tensor *t, int64_t off, double v) {
    char *p = (char *)lt_cpu_ptr(t);
    switch (t->dtype) {
    case LT_F32: ((float *)p)[off] = (float)v; break;
    case LT_F64: ((double *)p)[off] = v; break;
    case LT_BF16: ((uint16_t *)p)[off] = lt_f32_to_bf16((float)v); break;
    case LT_F16: ((uint16_t *)p)[off] = lt_f32_to_f16((float)v); break;
    case LT_I32: ((int32_t *)p)[off] = (int32_t)v; break;
    case LT_U8: ((uint8_t *)p)[off] = (uint8_t)v; break;
    default: break;
    }
}

/* v rounded to f32 "to odd": truncated toward zero, with the last mantissa bit set when
 * anything was cut off. Rounding that to 8 or 11 mantissa bits (to nearest even) gives
 * the correctly rounded bf16/f16 of v itself, because 24 >= 2p + 2 (Boldo & Melquiond,
 * "When double rounding is odd"); plain double -> f32 -> bf16 can round twice. */
static inline float lt_ref_f32_odd(double v) {
    float f = (float)v;
    if ((double)f == v || isnan(v) || isinf(f)) return f;
    if (fabs((double)f) > fabs(v)) f = nextafterf(f, 0.0f);
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u |= 1u;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* lt_ref_st for results of a double computation: half dtypes get v rounded once (the
 * mixed-precision contract of matmul and attention), the others as lt_ref_st. */
static inline void lt_ref_st_once(const lt_tensor *t, int64_t off, double v) {
    uint16_t *p = (uint16_t *)lt_cpu_ptr(t);
    switch (t->dtype) {
    case LT_BF16: p[off] = lt_f32_to_bf16(lt_ref_f32_odd(v)); break;
    case LT_F16: p[off] = lt_f32_to_f16(lt_ref_f32_odd(v)); break;
    default: lt_ref_st(t, off, v); break;
    }
}

static inline int32_t lt_ref_i32(const lt_tensor *t, int64_t off) {
    return ((const int32_t *)lt_cpu_ptr(t))[off];
}

#endif
