/* shaders/opencl/fill_copy.cl - fill, strided copy and dtype casts.
 *
 * Every tensor arrives as (buffer, element offset[, strides]): views are offsets into
 * one cl_mem rather than sub-buffers, whose origin must meet the device's base
 * alignment (often 128+ bytes), which arbitrary views do not. */

/* fill: the host converts the value to the destination dtype once, so every dtype is a
 * bit pattern of 1, 2, 4 or 8 bytes repeated over a contiguous range. */
kernel void fill_u8(global uchar *dst, long off, long n, uchar v) {
    long i = get_global_id(0);
    if (i < n) dst[off + i] = v;
}

kernel void fill_u16(global ushort *dst, long off, long n, ushort v) {
    long i = get_global_id(0);
    if (i < n) dst[off + i] = v;
}

kernel void fill_u32(global uint *dst, long off, long n, uint v) {
    long i = get_global_id(0);
    if (i < n) dst[off + i] = v;
}

/* 8-byte elements as uint2: 64-bit integer types are optional on embedded profiles. */
kernel void fill_u64(global uint2 *dst, long off, long n, uint2 v) {
    long i = get_global_id(0);
    if (i < n) dst[off + i] = v;
}

/* Element offset of the row-major linear index i of a 4-d view (leading dims padded). */
inline long strided_at(long i, long4 shape, long4 stride) {
    long i3 = i % shape.w;
    i /= shape.w;
    long i2 = i % shape.z;
    i /= shape.z;
    long i1 = i % shape.y;
    long i0 = i / shape.y;
    return i0 * stride.x + i1 * stride.y + i2 * stride.z + i3 * stride.w;
}

/* Zeroes an f32 view of any strides (matmul with K = 0 and accumulate off). */
kernel void zero_f32_strided(global float *dst, long off, long4 shape, long4 stride, long n) {
    long i = get_global_id(0);
    if (i < n) dst[off + strided_at(i, shape, stride)] = 0.0f;
}

/* copy moves bits, never values, so NaN payloads and every dtype survive unchanged. */
#define COPY_KERNEL(NAME, T)                                                              \
    kernel void NAME(global T *dst, long doff, long4 dstride, global const T *src,       \
                     long soff, long4 sstride, long4 shape, long n) {                     \
        long i = get_global_id(0);                                                        \
        if (i < n) dst[doff + strided_at(i, shape, dstride)] = src[soff + strided_at(i, shape, sstride)]; \
    }
COPY_KERNEL(copy_u8, uchar)
COPY_KERNEL(copy_u16, ushort)
COPY_KERNEL(copy_u32, uint)
COPY_KERNEL(copy_u64, uint2)

/* ---- casts: bf16 / f16 conversions bit-identical to core/tensor.c (round to nearest
 * even, NaN stays NaN), done on integer bits so no half-precision support is needed. */

/* Dtype codes, the values of lt_dtype in loretta/tensor.h. */
#define DT_F32 0
#define DT_F64 1
#define DT_BF16 2
#define DT_F16 3

inline ushort f32_to_bf16(float f) {
    uint u = as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (ushort)(u >> 16);
}

inline float bf16_to_f32(ushort h) { return as_float((uint)h << 16); }

inline ushort f32_to_f16(float f) {
    uint u = as_uint(f);
    uint sign = (u >> 16) & 0x8000u;
    uint a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (ushort)(sign | 0x7e00u);
    if (a >= 0x477ff000u) return (ushort)(sign | 0x7c00u);
    if (a < 0x38800000u) {
        /* Subnormal half: adding 0.5 makes the FPU round the value to a multiple of 2^-24. */
        float v = as_float(a) + 0.5f;
        return (ushort)(sign | (as_uint(v) - 0x3f000000u));
    }
    uint mant_odd = (a >> 13) & 1u;
    a += 0xc8000fffu + mant_odd;
    return (ushort)(sign | (a >> 13));
}

inline float f16_to_f32(ushort h) {
    uint sign = (uint)(h & 0x8000u) << 16;
    uint e = (h >> 10) & 0x1fu;
    uint mant = h & 0x3ffu;
    if (e == 0) {
        float v = (float)mant * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    if (e == 31) return as_float(sign | 0x7f800000u | (mant << 13));
    return as_float(sign | ((e + 112u) << 23) | (mant << 13));
}

#ifdef LT_HAVE_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

/* Every floating dtype but f64 is exact in f32, so going through f32 gives what the
 * reference's double path gives (f64 -> 16-bit rounds to f32 first there too). */
inline float load_f(global const uchar *p, long i, int t) {
    switch (t) {
    case DT_BF16: return bf16_to_f32(((global const ushort *)p)[i]);
    case DT_F16: return f16_to_f32(((global const ushort *)p)[i]);
#ifdef LT_HAVE_FP64
    case DT_F64: return (float)((global const double *)p)[i];
#endif
    default: return ((global const float *)p)[i];
    }
}

inline void store_f(global uchar *p, long i, int t, float v) {
    switch (t) {
    case DT_BF16: ((global ushort *)p)[i] = f32_to_bf16(v); break;
    case DT_F16: ((global ushort *)p)[i] = f32_to_f16(v); break;
#ifdef LT_HAVE_FP64
    case DT_F64: ((global double *)p)[i] = (double)v; break;
#endif
    default: ((global float *)p)[i] = v; break;
    }
}

/* Offsets are in elements of each side's own dtype. Same-dtype casts never get here
 * (the host turns them into copies), so f64 -> f64 never rounds through f32. */
kernel void cast(global uchar *dst, long doff, int dt, global const uchar *src, long soff,
                 int st, long n) {
    long i = get_global_id(0);
    if (i < n) store_f(dst, doff + i, dt, load_f(src, soff + i, st));
}
