/* backends/cuda/sample.cu - token sampling by the rule of loretta/rng.h, one block per row.
 *
 * The rule fixes the f32 running sums in increasing index order, so those two walks run
 * in one thread; everything around them is parallel:
 *  - logits rank by a 32-bit key that orders floats like `<` (NaN ranked as -inf, -0 as
 *    +0, as backends/ref/sample.c ranks them);
 *  - the top_k threshold is the k-th largest key, found by bisection on its 32 bits with
 *    block-wide counts; among logits equal to it the lowest indices are kept;
 *  - the weights w_i = exp((l_i - m) / temperature) are computed in parallel into
 *    scratch. exp runs in double and is rounded once to f32: the correctly rounded
 *    value, which glibc's expf (the reference's) also returns except in rare ties.
 * u comes from a copy of the Philox generator (cuda_rng.cuh), the same bits as
 * lt_rng_uniform. */
#include "cuda_kernels.cuh"
#include "cuda_rng.cuh"

#define LT_SAMPLE_THREADS 256

typedef struct sample_args {
    const void *logits;
    const int32_t *ids; /* NULL = row index */
    int32_t *tokens;
    float *w;           /* scratch [B, hi - lo] */
    int dt;
    int64_t V;
    int32_t lo, hi, top_k;
    float temperature;
    uint64_t seed, step;
} sample_args;

LT_DEV int block_count(int v, int *red) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads();
    if (lane == 0) red[warp] = v;
    __syncthreads();
    v = lane < LT_SAMPLE_THREADS / 32 ? red[lane] : 0;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* How many candidates have a key >= t (strict: > t). */
LT_DEV int count_keys(const sample_args &a, int64_t base, uint32_t t, int strict, int *red) {
    int c = 0;
    for (int32_t i = a.lo + (int32_t)threadIdx.x; i < a.hi; i += LT_SAMPLE_THREADS) {
        uint32_t k = lt_cu_rank_key(lt_ld(a.logits, a.dt, base + i));
        c += strict ? k > t : k >= t;
    }
    return block_count(c, red);
}

/* Greedy: the largest key, lowest index on ties. */
LT_DEV void argmax_row(const sample_args &a, int64_t b, int64_t base) {
    __shared__ uint32_t kbest[LT_SAMPLE_THREADS / 32];
    __shared__ int32_t ibest[LT_SAMPLE_THREADS / 32];
    uint32_t best = 0;
    int32_t idx = INT32_MAX; /* key 0 is below every real key (NaN ranks as -inf) */
    for (int32_t i = a.lo + (int32_t)threadIdx.x; i < a.hi; i += LT_SAMPLE_THREADS) {
        uint32_t k = lt_cu_rank_key(lt_ld(a.logits, a.dt, base + i));
        if (idx == INT32_MAX || k > best) {
            best = k;
            idx = i;
        }
    }
    for (int o = 16; o > 0; o >>= 1) {
        uint32_t k2 = __shfl_xor_sync(0xffffffffu, best, o);
        int32_t i2 = __shfl_xor_sync(0xffffffffu, idx, o);
        if (k2 > best || (k2 == best && i2 < idx)) {
            best = k2;
            idx = i2;
        }
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) {
        kbest[warp] = best;
        ibest[warp] = idx;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < LT_SAMPLE_THREADS / 32; w++)
            if (kbest[w] > best || (kbest[w] == best && ibest[w] < idx)) {
                best = kbest[w];
                idx = ibest[w];
            }
        a.tokens[b] = idx;
    }
}

__global__ void __launch_bounds__(LT_SAMPLE_THREADS) lt_sample_kernel(sample_args a) {
    __shared__ float fred[32];
    __shared__ int ired[32];
    const int64_t b = blockIdx.x, base = b * a.V;
    if (a.temperature == 0.0f) {
        argmax_row(a, b, base);
        return;
    }
    const int32_t n = a.hi - a.lo;
    const int32_t k = a.top_k > 0 && a.top_k < n ? a.top_k : n;
    const int all = k == n;

    /* m: the largest ranked logit, always among the kept ones. */
    float mx = -INFINITY;
    for (int32_t i = a.lo + (int32_t)threadIdx.x; i < a.hi; i += LT_SAMPLE_THREADS)
        mx = fmaxf(mx, lt_cu_rank_value(lt_ld(a.logits, a.dt, base + i)));
    const float m = lt_block_max(mx, fred);

    /* t = the k-th largest key: the largest t with at least k keys >= t. */
    uint32_t t = 0;
    int32_t need = n;
    if (!all) {
        for (int bit = 31; bit >= 0; bit--) {
            uint32_t cand = t | (1u << bit);
            if (count_keys(a, base, cand, 0, ired) >= k) t = cand;
        }
        need = k - count_keys(a, base, t, 1, ired);
    }

    float *w = a.w + b * (int64_t)n;
    for (int32_t i = a.lo + (int32_t)threadIdx.x; i < a.hi; i += LT_SAMPLE_THREADS) {
        float l = lt_ld(a.logits, a.dt, base + i);
        float x = (l - m) / a.temperature;
        w[i - a.lo] = all || lt_cu_rank_key(l) >= t ? (float)exp((double)x) : 0.0f;
    }
    __syncthreads();
    if (threadIdx.x != 0) return;

    /* Rules 4 and 5, in increasing index order, in f32. */
    float total = 0.0f;
    int32_t eq = 0;
    for (int32_t i = a.lo; i < a.hi; i++) {
        uint32_t key = lt_cu_rank_key(lt_ld(a.logits, a.dt, base + i));
        int kept = all || key > t || (key == t && eq++ < need);
        if (kept) total += w[i - a.lo];
    }
    const uint64_t id = a.ids ? (uint64_t)(uint32_t)a.ids[b] : (uint64_t)b;
    const float r = lt_cu_rng_uniform(a.seed, id, a.step) * total;
    float acc = 0.0f;
    int32_t token = a.lo;
    eq = 0;
    for (int32_t i = a.lo; i < a.hi; i++) {
        uint32_t key = lt_cu_rank_key(lt_ld(a.logits, a.dt, base + i));
        int kept = all || key > t || (key == t && eq++ < need);
        if (!kept) continue;
        token = i;
        acc += w[i - a.lo];
        if (acc > r) break;
    }
    a.tokens[b] = token;
}

extern "C" lt_status lt_cuda_sample(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *logits = call->src[0], *ids = call->src[1];
    lt_tensor *tokens = call->dst[0];
    const lt_sample_params *p = &call->p.sample;
    lt_cuda_device *cd;
    LT_TRY(lt_cuda_ready(dev, "sample", &cd));
    LT_TRY(lt_cuda_float_dtype("sample", "logits", logits));
    LT_TRY(lt_cuda_aligned("sample", "sample_ids", ids));
    LT_TRY(lt_cuda_aligned("sample", "tokens", tokens));
    const int64_t B = logits->shape[0], V = logits->shape[1];
    if (B == 0) return LT_OK;
    if (B > INT32_MAX) return lt_error(LT_ERR_UNSUPPORTED, "sample: too many rows (%lld)", (long long)B);
    void *w = NULL;
    LT_TRY(lt_cuda_scratch(cd, (size_t)B * (size_t)(p->range_hi - p->range_lo) * sizeof(float), &w));
    sample_args a;
    a.logits = lt_cuda_ptr(logits);
    a.ids = (const int32_t *)lt_cuda_ptr(ids);
    a.tokens = (int32_t *)lt_cuda_ptr(tokens);
    a.w = (float *)w;
    a.dt = (int)logits->dtype;
    a.V = V;
    a.lo = p->range_lo;
    a.hi = p->range_hi;
    a.top_k = p->top_k;
    a.temperature = p->temperature;
    a.seed = p->seed;
    a.step = p->step;
    lt_sample_kernel<<<(unsigned)B, LT_SAMPLE_THREADS, 0, cd->stream>>>(a);
    return lt_cuda_launched("sample");
}
