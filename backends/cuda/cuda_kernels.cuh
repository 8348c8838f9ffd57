/* backends/cuda/cuda_kernels.cuh - device-side helpers shared by the kernel files.
 *
 * Kernels take the dtype as a runtime argument and convert at load/store instead of
 * being templates: one instantiation per kernel keeps the build short, and the dtype
 * branch is uniform across a warp. All arithmetic is f32. The bf16/f16 conversions are
 * bit-for-bit copies of core/tensor.c, so a value rounds the same on host and device. */
#ifndef LT_CUDA_KERNELS_CUH
#define LT_CUDA_KERNELS_CUH

#include <math.h>
#include <stdint.h>

#include "cuda_common.h"

#define LT_HD __host__ __device__ __forceinline__
#define LT_DEV __device__ __forceinline__

/* Threads per block for element-wise and row kernels (a multiple of 32). */
#define LT_CUDA_THREADS 256

LT_HD uint32_t lt_cu_f32_bits(float f) {
    union { float f; uint32_t u; } c;
    c.f = f;
    return c.u;
}

LT_HD float lt_cu_bits_f32(uint32_t u) {
    union { float f; uint32_t u; } c;
    c.u = u;
    return c.f;
}

LT_HD uint16_t lt_cu_f32_to_bf16(float f) {
    uint32_t u = lt_cu_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

LT_HD float lt_cu_bf16_to_f32(uint16_t h) { return lt_cu_bits_f32((uint32_t)h << 16); }

LT_HD uint16_t lt_cu_f32_to_f16(float f) {
    uint32_t u = lt_cu_f32_bits(f);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) {
        /* Adding 0.5 makes the FPU round to a multiple of 2^-24 (needs no flush-to-zero,
         * which is nvcc's default without --use_fast_math). */
        float v = lt_cu_bits_f32(a) + 0.5f;
        return (uint16_t)(sign | (lt_cu_f32_bits(v) - 0x3f000000u));
    }
    uint32_t mant_odd = (a >> 13) & 1u;
    a += 0xc8000fffu + mant_odd;
    return (uint16_t)(sign | (a >> 13));
}

LT_HD float lt_cu_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0) {
        float v = (float)mant * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    if (exp == 31) return lt_cu_bits_f32(sign | 0x7f800000u | (mant << 13));
    return lt_cu_bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

/* Element i of a float tensor of dtype dt (LT_F32, LT_BF16 or LT_F16) as f32. */
LT_DEV float lt_ld(const void *p, int dt, int64_t i) {
    if (dt == LT_F32) return ((const float *)p)[i];
    if (dt == LT_BF16) return lt_cu_bf16_to_f32(((const uint16_t *)p)[i]);
    return lt_cu_f16_to_f32(((const uint16_t *)p)[i]);
}

LT_DEV void lt_st(void *p, int dt, int64_t i, float v) {
    if (dt == LT_F32) ((float *)p)[i] = v;
    else if (dt == LT_BF16) ((uint16_t *)p)[i] = lt_cu_f32_to_bf16(v);
    else ((uint16_t *)p)[i] = lt_cu_f32_to_f16(v);
}

/* v rounded to what a dtype dt element can hold (identity for f32). */
LT_DEV float lt_round_to(int dt, float v) {
    if (dt == LT_BF16) return lt_cu_bf16_to_f32(lt_cu_f32_to_bf16(v));
    if (dt == LT_F16) return lt_cu_f16_to_f32(lt_cu_f32_to_f16(v));
    return v;
}

LT_DEV float lt_warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

LT_DEV float lt_warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the
 * result. `red` is shared scratch of 32 floats. The order of additions depends only on
 * the block size, so results repeat bit for bit. */
LT_DEV float lt_block_sum(float v, float *red) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    v = lt_warp_sum(v);
    __syncthreads(); /* red may still be read by a previous reduction */
    if (lane == 0) red[warp] = v;
    __syncthreads();
    v = lane < nwarps ? red[lane] : 0.0f;
    return lt_warp_sum(v);
}

LT_DEV float lt_block_max(float v, float *red) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    v = lt_warp_max(v);
    __syncthreads();
    if (lane == 0) red[warp] = v;
    __syncthreads();
    v = lane < nwarps ? red[lane] : -INFINITY;
    return lt_warp_max(v);
}

/* Blocks for a grid-stride loop over n elements (n > 0). */
static inline unsigned lt_cuda_grid(int64_t n, int threads) {
    int64_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 65535 * 8 ? b : 65535 * 8);
}

#define LT_GRID_STRIDE(i, n)                                                      \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (int64_t)gridDim.x * blockDim.x)

#endif
