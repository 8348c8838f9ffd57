/* backends/cuda/cross_entropy.cu - softmax cross-entropy fused with its gradient.
 *
 * One block per row: loss = logsumexp(x) - x[t] with the row max subtracted first,
 * dx = w * grad_scale * (softmax(x) - onehot(t)). Targets of weighted rows are checked
 * on the host before any kernel runs, so a refused call writes nothing. */
#include <stdlib.h>

#include "cuda_kernels.cuh"

#define LT_CE_THREADS 512

/* dlogits may be logits itself: x[t] is read before the barrier that precedes the
 * gradient pass, and in that pass each thread reads its own logits before overwriting. */
__global__ void lt_cross_entropy_kernel(float *losses, void *dlogits, const void *logits,
                                        const int32_t *targets, const float *weights, int dt,
                                        int64_t V, float grad_scale) {
    __shared__ float red[32];
    const int64_t n = blockIdx.x, base = n * V;
    const float w = weights ? weights[n] : 1.0f;
    if (w == 0.0f) { /* the target is not read */
        if (threadIdx.x == 0) losses[n] = 0.0f;
        if (dlogits)
            for (int64_t i = threadIdx.x; i < V; i += blockDim.x) lt_st(dlogits, dt, base + i, 0.0f);
        return;
    }
    const int32_t t = targets[n];
    float mx = -INFINITY;
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x) mx = fmaxf(mx, lt_ld(logits, dt, base + i));
    mx = lt_block_max(mx, red);
    float s = 0.0f;
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x) s += expf(lt_ld(logits, dt, base + i) - mx);
    s = lt_block_sum(s, red);
    const float lse = mx + logf(s);
    const float xt = lt_ld(logits, dt, base + t);
    if (threadIdx.x == 0) losses[n] = lse - xt;
    if (!dlogits) return;
    __syncthreads(); /* every thread has read x[t] */
    const float gs = w * grad_scale;
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x) {
        float p = expf(lt_ld(logits, dt, base + i) - lse);
        lt_st(dlogits, dt, base + i, gs * (p - (i == t ? 1.0f : 0.0f)));
    }
}

extern "C" lt_status lt_cuda_cross_entropy(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *logits = call->src[0], *targets = call->src[1], *weights = call->src[2];
    lt_tensor *losses = call->dst[0], *dlogits = call->dst[1];
    lt_cuda_device *cd;
    LT_TRY(lt_cuda_ready(dev, "cross_entropy", &cd));
    LT_TRY(lt_cuda_float_dtype("cross_entropy", "logits", logits));
    LT_TRY(lt_cuda_aligned("cross_entropy", "targets", targets));
    LT_TRY(lt_cuda_aligned("cross_entropy", "weights", weights));
    LT_TRY(lt_cuda_aligned("cross_entropy", "losses", losses));
    LT_TRY(lt_cuda_aligned("cross_entropy", "dlogits", dlogits));
    const int64_t V = logits->shape[logits->ndim - 1];
    const int64_t N = V ? lt_tensor_numel(logits) / V : 0;
    if (N == 0) return LT_OK;
    if (N > INT32_MAX)
        return lt_error(LT_ERR_UNSUPPORTED, "cross_entropy: too many rows (%lld)", (long long)N);

    int32_t *t = NULL;
    float *w = NULL;
    lt_status s = lt_cuda_fetch(cd, "cross_entropy", targets, (void **)&t);
    if (s == LT_OK && weights) s = lt_cuda_fetch(cd, "cross_entropy", weights, (void **)&w);
    for (int64_t n = 0; s == LT_OK && n < N; n++)
        if ((!w || w[n] != 0.0f) && (t[n] < 0 || t[n] >= V))
            s = lt_error(LT_ERR_RANGE, "cross_entropy: targets[%lld] = %d is outside the vocabulary of %lld",
                         (long long)n, (int)t[n], (long long)V);
    free(t);
    free(w);
    if (s != LT_OK) return s;

    lt_cross_entropy_kernel<<<(unsigned)N, LT_CE_THREADS, 0, cd->stream>>>(
        (float *)lt_cuda_ptr(losses), lt_cuda_ptr(dlogits), lt_cuda_ptr(logits),
        (const int32_t *)lt_cuda_ptr(targets), (const float *)lt_cuda_ptr(weights),
        (int)logits->dtype, V, call->p.ce.grad_scale);
    return lt_cuda_launched("cross_entropy");
}
