/* loretta/rng.h - the counter-based RNG shared by every backend.
 *
 * Philox4x32-10 (Salmon et al., SC'11): a pure function of (key, counter), so the
 * random number for (seed, sample, step) is the same on every backend and thread
 * count with no state to carry. Only 32-bit multiplies are needed, which OpenCL C,
 * GLSL and CUDA all have. The OpenCL/GLSL/CUDA copies must match this one bit for bit.
 *
 * Sampling rule of LT_OP_SAMPLE (every backend follows it):
 *  1. Candidates are the tokens in [range_lo, range_hi).
 *  2. temperature == 0: the candidate with the largest logit (lowest index on ties).
 *  3. top_k > 0 and < #candidates: keep the top_k largest (ties: lower index first).
 *  4. m = max kept logit; w_i = expf((l_i - m) / temperature); total = sum of w_i in
 *     increasing index order (f32); r = u * total with u = lt_rng_uniform(seed, id, step).
 *  5. Walk the kept tokens in increasing index order accumulating w_i (f32); the first
 *     token whose running sum exceeds r is drawn (the last kept token if none does).
 */
#ifndef LORETTA_RNG_H
#define LORETTA_RNG_H

#include <stdint.h>

static inline uint32_t lt_philox_mulhilo(uint32_t a, uint32_t b, uint32_t *hi) {
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

/* Philox4x32 with 10 rounds; ctr[4] in, out[4] out. */
static inline void lt_philox4x32_10(const uint32_t ctr_in[4], uint32_t k0, uint32_t k1,
                                    uint32_t out[4]) {
    uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = lt_philox_mulhilo(0xD2511F53u, c0, &hi0);
        uint32_t lo1 = lt_philox_mulhilo(0xCD9E8D57u, c2, &hi1);
        uint32_t n0 = hi1 ^ c1 ^ k0;
        uint32_t n1 = lo1;
        uint32_t n2 = hi0 ^ c3 ^ k1;
        uint32_t n3 = lo0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* Four 32-bit random words for (seed, a, b). */
static inline void lt_rng_words(uint64_t seed, uint64_t a, uint64_t b, uint32_t out[4]) {
    uint32_t ctr[4] = {(uint32_t)a, (uint32_t)(a >> 32), (uint32_t)b, (uint32_t)(b >> 32)};
    lt_philox4x32_10(ctr, (uint32_t)seed, (uint32_t)(seed >> 32), out);
}

/* Uniform float in [0, 1) with 24 random bits: exactly representable in f32. */
static inline float lt_rng_uniform(uint64_t seed, uint64_t sample, uint64_t step) {
    uint32_t w[4];
    lt_rng_words(seed, sample, step, w);
    return (float)(w[0] >> 8) * (1.0f / 16777216.0f);
}

#endif
