/* backends/cpu/cpu_attention.h - shared by the cpu and ref attention files, and by
 * `loretta bench attention`.
 *
 * The tiled kernel's only extra memory is a fixed scratch block per thread (tiles of
 * q, k^T, v^T, scores and accumulators); its size does not depend on the sequence
 * length. The benchmark reports it through lt_cpu_attn_scratch_bytes, the same function
 * the kernel sizes its allocation with. The length checks live here so both CPU
 * backends reject the same data with the same message. */
#ifndef LT_CPU_ATTENTION_H
#define LT_CPU_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#include "cpu_common.h"

/* Bytes of scratch the cpu attention kernel allocates for one call with this head
 * dimension and thread count: the forward pass (backward = 0) or the backward pass. */
size_t lt_cpu_attn_scratch_bytes(int64_t head_dim, int threads, int backward);

/* Per-sample lengths must lie in [lo, hi]; `len` NULL means every sample has `hi`. */
static inline lt_status lt_attn_check_lengths(const char *op, const lt_tensor *len, int64_t B,
                                              int64_t lo, int64_t hi, const char *range) {
    if (!len) return LT_OK;
    const int32_t *l = (const int32_t *)lt_cpu_ptr(len);
    for (int64_t b = 0; b < B; b++)
        if (l[b] < lo || l[b] > hi)
            return lt_error(LT_ERR_RANGE, "%s: lengths[%lld] = %d is outside [%lld, %lld] (%s)", op,
                            (long long)b, (int)l[b], (long long)lo, (long long)hi, range);
    return LT_OK;
}

static inline int64_t lt_attn_length(const lt_tensor *len, int64_t b, int64_t all) {
    return len ? ((const int32_t *)lt_cpu_ptr(len))[b] : all;
}

/* kv_write: every pos[b] + Tn must fit in the cache; checked before anything is written. */
static inline lt_status lt_attn_check_pos(const lt_tensor *pos, int64_t B, int64_t tn,
                                          int64_t tmax) {
    const int32_t *p = (const int32_t *)lt_cpu_ptr(pos);
    for (int64_t b = 0; b < B; b++)
        if (p[b] < 0 || p[b] + tn > tmax)
            return lt_error(LT_ERR_RANGE,
                            "kv_write: pos[%lld] = %d with %lld new tokens does not fit the cache "
                            "(Tmax = %lld)",
                            (long long)b, (int)p[b], (long long)tn, (long long)tmax);
    return LT_OK;
}

#endif
