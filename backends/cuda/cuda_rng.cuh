/* backends/cuda/cuda_rng.cuh - the Philox4x32-10 of loretta/rng.h for device code, and
 * the ranking key of the sampling rule.
 *
 * A line-by-line copy (host and device), so lt_cu_rng_uniform(seed, a, b) equals
 * lt_rng_uniform(seed, a, b) bit for bit; being __host__ too, the two are compared on a
 * machine without a GPU (check/host_copies.cu). */
#ifndef LT_CUDA_RNG_CUH
#define LT_CUDA_RNG_CUH

#include <math.h>
#include <stdint.h>

__host__ __device__ __forceinline__ void lt_cu_philox4x32_10(const uint32_t ctr_in[4], uint32_t k0,
                                                             uint32_t k1, uint32_t out[4]) {
    uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * (uint64_t)c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * (uint64_t)c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        uint32_t n0 = hi1 ^ c1 ^ k0;
        uint32_t n1 = lo1;
        uint32_t n2 = hi0 ^ c3 ^ k1;
        uint32_t n3 = lo0;
        c0 = n0;
        c1 = n1;
        c2 = n2;
        c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* Uniform float in [0, 1) with 24 random bits for (seed, sample, step). */
__host__ __device__ __forceinline__ float lt_cu_rng_uniform(uint64_t seed, uint64_t sample,
                                                            uint64_t step) {
    uint32_t ctr[4] = {(uint32_t)sample, (uint32_t)(sample >> 32), (uint32_t)step,
                       (uint32_t)(step >> 32)};
    uint32_t w[4];
    lt_cu_philox4x32_10(ctr, (uint32_t)seed, (uint32_t)(seed >> 32), w);
    return (float)(w[0] >> 8) * (1.0f / 16777216.0f);
}

/* The logit as the sampling rule ranks it: NaN below everything, -0 equal to +0. */
__host__ __device__ __forceinline__ float lt_cu_rank_value(float l) {
    return l != l ? -INFINITY : l == 0.0f ? 0.0f : l;
}

/* Unsigned key with key(a) < key(b) exactly when rank_value(a) < rank_value(b). */
__host__ __device__ __forceinline__ uint32_t lt_cu_rank_key(float l) {
    union { float f; uint32_t u; } c;
    c.f = lt_cu_rank_value(l);
    return (c.u & 0x80000000u) ? ~c.u : (c.u | 0x80000000u);
}

#endif
