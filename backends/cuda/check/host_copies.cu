/* backends/cuda/check/host_copies.cu - the device code's copies of host rules, checked
 * on the host (no GPU needed): the Philox generator of loretta/rng.h, the bf16/f16
 * conversions of core/tensor.c, and the ranking key of the sampling rule. The kernels
 * call exactly these __host__ __device__ functions, so a mismatch here is a wrong token
 * or a wrongly rounded value on the GPU. Exits 1 on any mismatch. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cuda_kernels.cuh"
#include "cuda_rng.cuh"
#include "loretta/rng.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t next_u64(void) { /* xorshift64 */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static int same_bits(float a, float b) { return memcmp(&a, &b, 4) == 0; }

static long check_philox(void) {
    long bad = 0;
    for (int n = 0; n < 1000000; n++) {
        uint64_t seed = next_u64(), a = next_u64(), b = next_u64();
        if (n % 3 == 0) { /* the usual case: small sample ids and steps */
            a &= 0xffffffffu;
            b &= 0xffffu;
        }
        if (!same_bits(lt_rng_uniform(seed, a, b), lt_cu_rng_uniform(seed, a, b))) bad++;
    }
    return bad;
}

static long check_one_float(uint32_t u) {
    float f = from_bits(u);
    return (lt_f32_to_bf16(f) != lt_cu_f32_to_bf16(f)) + (lt_f32_to_f16(f) != lt_cu_f32_to_f16(f));
}

static long check_conversions(void) {
    long bad = 0;
    for (uint32_t h = 0; h <= 0xffffu; h++) {
        bad += !same_bits(lt_bf16_to_f32((uint16_t)h), lt_cu_bf16_to_f32((uint16_t)h));
        bad += !same_bits(lt_f16_to_f32((uint16_t)h), lt_cu_f16_to_f32((uint16_t)h));
        /* Around the rounding boundaries of both formats, for every sign and exponent. */
        static const uint32_t lows[] = {0x0000, 0x0001, 0x0fff, 0x1000, 0x1001, 0x2000,
                                        0x7fff, 0x8000, 0x8001, 0xffff};
        for (size_t k = 0; k < sizeof lows / sizeof lows[0]; k++) bad += check_one_float(h << 16 | lows[k]);
    }
    for (uint64_t u = 0; u <= 0xffffffffull; u += 4093) bad += check_one_float((uint32_t)u);
    return bad;
}

static long check_rank_key(void) {
    static const float special[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 1e-45f, -1e-45f,
                                    1.0f, -1.0f, 3.4e38f, -3.4e38f};
    const int ns = (int)(sizeof special / sizeof special[0]);
    long bad = 0;
    for (int n = 0; n < 2000000; n++) {
        float a = n % 4 == 0 ? special[next_u64() % ns] : from_bits((uint32_t)next_u64());
        float b = n % 5 == 0 ? special[next_u64() % ns] : n % 2 ? a * 0.5f : from_bits((uint32_t)next_u64());
        float ra = isnan(a) ? -INFINITY : a, rb = isnan(b) ? -INFINITY : b;
        uint32_t ka = lt_cu_rank_key(a), kb = lt_cu_rank_key(b);
        bad += (ka < kb) != (ra < rb) || (ka == kb) != (ra == rb);
    }
    return bad;
}

int main(void) {
    long p = check_philox(), c = check_conversions(), r = check_rank_key();
    printf("philox: %ld mismatches\nbf16/f16 conversions: %ld mismatches\nsampling rank key: %ld "
           "mismatches\n",
           p, c, r);
    int failed = (p != 0) + (c != 0) + (r != 0);
    printf("%d passed, %d failed\n", 3 - failed, failed);
    return failed ? 1 : 0;
}
