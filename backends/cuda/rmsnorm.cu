/* backends/cuda/rmsnorm.cu - RMSNorm forward and backward, one block per row.
 *
 * Backward, with r = rstd, xhat = x*r and g = dout*w (as backends/ref/rmsnorm.c):
 *   dx = r * (g - xhat * mean(g * xhat)),   dw += sum_n dout * xhat.
 * dw is a column sum over all rows; it is done in two deterministic passes (partial
 * sums of fixed row chunks in double, then the chunks in order) instead of atomics. */
#include "cuda_kernels.cuh"

/* Rows per chunk of the dw column sums. */
#define LT_DW_CHUNK 64

/* out = x * r * w with r = 1/sqrt(mean(x^2) + eps). out may be x itself: every thread
 * reads its elements again after the block reduction and writes only those. */
__global__ void lt_rmsnorm_fwd_kernel(void *out, void *rstd, const void *x, const void *w, int dt,
                                      int64_t D, float eps) {
    __shared__ float red[32];
    const int64_t base = (int64_t)blockIdx.x * D;
    float ss = 0.0f;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
        float v = lt_ld(x, dt, base + d);
        ss += v * v;
    }
    ss = lt_block_sum(ss, red);
    const float r = 1.0f / sqrtf(ss / (float)D + eps);
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x)
        lt_st(out, dt, base + d, lt_ld(x, dt, base + d) * r * lt_ld(w, dt, d));
    if (threadIdx.x == 0) lt_st(rstd, dt, blockIdx.x, r);
}

extern "C" lt_status lt_cuda_rmsnorm_fwd(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *x = call->src[0], *w = call->src[1];
    lt_tensor *out = call->dst[0], *rstd = call->dst[1];
    lt_cuda_device *cd;
    LT_TRY(lt_cuda_ready(dev, "rmsnorm_fwd", &cd));
    LT_TRY(lt_cuda_float_dtype("rmsnorm_fwd", "x", x));
    LT_TRY(lt_cuda_aligned("rmsnorm_fwd", "w", w));
    LT_TRY(lt_cuda_aligned("rmsnorm_fwd", "out", out));
    LT_TRY(lt_cuda_aligned("rmsnorm_fwd", "rstd", rstd));
    const int64_t D = lt_tensor_numel(w), N = lt_tensor_numel(rstd);
    if (N == 0) return LT_OK;
    if (N > INT32_MAX) return lt_error(LT_ERR_UNSUPPORTED, "rmsnorm_fwd: too many rows (%lld)", (long long)N);
    lt_rmsnorm_fwd_kernel<<<(unsigned)N, LT_CUDA_THREADS, 0, cd->stream>>>(
        lt_cuda_ptr(out), lt_cuda_ptr(rstd), lt_cuda_ptr(x), lt_cuda_ptr(w), (int)x->dtype, D,
        call->p.rmsnorm.eps);
    return lt_cuda_launched("rmsnorm_fwd");
}

__global__ void lt_rmsnorm_dx_kernel(void *dx, const void *dout, const void *x, const void *w,
                                     const void *rstd, int dt, int64_t D, int accumulate) {
    __shared__ float red[32];
    const int64_t base = (int64_t)blockIdx.x * D;
    const float r = lt_ld(rstd, dt, blockIdx.x);
    float dot = 0.0f;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x)
        dot += lt_ld(dout, dt, base + d) * lt_ld(w, dt, d) * (lt_ld(x, dt, base + d) * r);
    const float mean = lt_block_sum(dot, red) / (float)D;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
        float g = lt_ld(dout, dt, base + d) * lt_ld(w, dt, d);
        float xhat = lt_ld(x, dt, base + d) * r;
        float v = r * (g - xhat * mean);
        if (accumulate) v += lt_ld(dx, dt, base + d);
        lt_st(dx, dt, base + d, v);
    }
}

/* part[c, d] = sum over rows n of chunk c of dout[n, d] * x[n, d] * rstd[n], in double. */
__global__ void lt_rmsnorm_dw_partial(double *part, const void *dout, const void *x,
                                      const void *rstd, int dt, int64_t N, int64_t D,
                                      int64_t chunk) {
    const int64_t d = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= D) return;
    const int64_t n0 = (int64_t)blockIdx.y * chunk;
    const int64_t n1 = n0 + chunk < N ? n0 + chunk : N;
    double s = 0.0;
    for (int64_t n = n0; n < n1; n++)
        s += (double)lt_ld(dout, dt, n * D + d) * (double)lt_ld(x, dt, n * D + d) *
             (double)lt_ld(rstd, dt, n);
    part[(int64_t)blockIdx.y * D + d] = s;
}

__global__ void lt_rmsnorm_dw_final(void *dw, const double *part, int dt, int64_t chunks,
                                    int64_t D) {
    LT_GRID_STRIDE(d, D) {
        double s = lt_ld(dw, dt, d);
        for (int64_t c = 0; c < chunks; c++) s += part[c * D + d];
        lt_st(dw, dt, d, (float)s);
    }
}

extern "C" lt_status lt_cuda_rmsnorm_bwd(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *dout = call->src[0], *x = call->src[1], *w = call->src[2], *rstd = call->src[3];
    lt_tensor *dx = call->dst[0], *dw = call->dst[1];
    lt_cuda_device *cd;
    LT_TRY(lt_cuda_ready(dev, "rmsnorm_bwd", &cd));
    LT_TRY(lt_cuda_float_dtype("rmsnorm_bwd", "x", x));
    const lt_tensor *t[5] = {dout, w, rstd, dx, dw};
    const char *names[5] = {"dout", "w", "rstd", "dx", "dw"};
    for (int i = 0; i < 5; i++) LT_TRY(lt_cuda_aligned("rmsnorm_bwd", names[i], t[i]));
    const int64_t D = lt_tensor_numel(w), N = lt_tensor_numel(rstd);
    if (N == 0 || D == 0) return LT_OK;
    if (N > INT32_MAX) return lt_error(LT_ERR_UNSUPPORTED, "rmsnorm_bwd: too many rows (%lld)", (long long)N);
    const int dt = (int)x->dtype;
    lt_rmsnorm_dx_kernel<<<(unsigned)N, LT_CUDA_THREADS, 0, cd->stream>>>(
        lt_cuda_ptr(dx), lt_cuda_ptr(dout), lt_cuda_ptr(x), lt_cuda_ptr(w), lt_cuda_ptr(rstd), dt,
        D, call->p.rmsnorm.accumulate_dx);
    LT_TRY(lt_cuda_launched("rmsnorm_bwd"));

    int64_t chunk = LT_DW_CHUNK, chunks = (N + chunk - 1) / chunk;
    if (chunks > 65535) { /* gridDim.y limit */
        chunk = (N + 65534) / 65535;
        chunks = (N + chunk - 1) / chunk;
    }
    void *part = NULL;
    LT_TRY(lt_cuda_scratch(cd, (size_t)(chunks * D) * sizeof(double), &part));
    dim3 grid((unsigned)((D + LT_CUDA_THREADS - 1) / LT_CUDA_THREADS), (unsigned)chunks);
    lt_rmsnorm_dw_partial<<<grid, LT_CUDA_THREADS, 0, cd->stream>>>(
        (double *)part, lt_cuda_ptr(dout), lt_cuda_ptr(x), lt_cuda_ptr(rstd), dt, N, D, chunk);
    LT_TRY(lt_cuda_launched("rmsnorm_bwd"));
    lt_rmsnorm_dw_final<<<lt_cuda_grid(D, LT_CUDA_THREADS), LT_CUDA_THREADS, 0, cd->stream>>>(
        lt_cuda_ptr(dw), (const double *)part, dt, chunks, D);
    return lt_cuda_launched("rmsnorm_bwd");
}
