/* backends/cuda/adamw.cu - AdamW and the squared norm.
 *
 * AdamW runs in double with the reference's expression order, each operation an
 * explicitly rounded intrinsic so nvcc cannot fuse a multiply and an add: on f32 tensors
 * the result is then the reference's (backends/ref/adamw.c) bit for bit. The update is
 * memory-bound, so double costs nothing on A100/H100.
 *
 * sumsq is deterministic: a fixed number of blocks (a function of the size only) each
 * sum a fixed strided share in double and reduce it in a fixed tree, then one block adds
 * the partials in the same fixed tree. */
#include <math.h>

#include "cuda_kernels.cuh"

__global__ void lt_adamw_kernel(void *param, void *m, void *v, const void *grad,
                                const uint8_t *mask, int dt, int64_t n, double b1, double b2,
                                double lr, double eps, double wd, double gs, double bc1,
                                double bc2) {
    LT_GRID_STRIDE(i, n) {
        /* g = grad*gs; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g g;
         * x -= lr ((m/bc1) / (sqrt(v/bc2) + eps) + wd_i x), x the pre-step param. */
        const double g = __dmul_rn((double)lt_ld(grad, dt, i), gs);
        const double mi = __dadd_rn(__dmul_rn(b1, (double)lt_ld(m, dt, i)),
                                    __dmul_rn(__dsub_rn(1.0, b1), g));
        const double vi = __dadd_rn(__dmul_rn(b2, (double)lt_ld(v, dt, i)),
                                    __dmul_rn(__dmul_rn(__dsub_rn(1.0, b2), g), g));
        const double wdi = !mask || mask[i] != 0 ? wd : 0.0;
        double x = (double)lt_ld(param, dt, i);
        const double step = __ddiv_rn(__ddiv_rn(mi, bc1), __dadd_rn(__dsqrt_rn(__ddiv_rn(vi, bc2)), eps));
        x = __dsub_rn(x, __dmul_rn(lr, __dadd_rn(step, __dmul_rn(wdi, x))));
        lt_st(m, dt, i, (float)mi);
        lt_st(v, dt, i, (float)vi);
        lt_st(param, dt, i, (float)x);
    }
}

extern "C" lt_status lt_cuda_adamw(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *grad = call->src[0], *mask = call->src[1];
    lt_tensor *param = call->dst[0], *m = call->dst[1], *v = call->dst[2];
    const lt_adamw_params *p = &call->p.adamw;
    lt_cuda_device *cd;
    LT_TRY(lt_cuda_ready(dev, "adamw", &cd));
    LT_TRY(lt_cuda_float_dtype("adamw", "param", param));
    LT_TRY(lt_cuda_aligned("adamw", "m", m));
    LT_TRY(lt_cuda_aligned("adamw", "v", v));
    LT_TRY(lt_cuda_aligned("adamw", "grad", grad));
    const int64_t n = lt_tensor_numel(param);
    if (n == 0) return LT_OK;
    /* Bias corrections on the host with the same libm call as the reference. */
    const double b1 = p->beta1, b2 = p->beta2;
    const double bc1 = 1.0 - pow(b1, (double)p->step), bc2 = 1.0 - pow(b2, (double)p->step);
    lt_adamw_kernel<<<lt_cuda_grid(n, LT_CUDA_THREADS), LT_CUDA_THREADS, 0, cd->stream>>>(
        lt_cuda_ptr(param), lt_cuda_ptr(m), lt_cuda_ptr(v), lt_cuda_ptr(grad),
        (const uint8_t *)lt_cuda_ptr(mask), (int)param->dtype, n, b1, b2, (double)p->lr,
        (double)p->eps, (double)p->weight_decay, (double)p->grad_scale, bc1, bc2);
    return lt_cuda_launched("adamw");
}

#define LT_SUMSQ_THREADS 256
#define LT_SUMSQ_MAX_BLOCKS 1024

/* Sums v over the block in a fixed tree; the result is valid in thread 0. */
LT_DEV double block_sum_fixed(double v, double *sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = LT_SUMSQ_THREADS / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    return sh[0];
}

__global__ void __launch_bounds__(LT_SUMSQ_THREADS)
    lt_sumsq_partial(double *part, const void *x, int dt, int64_t n) {
    __shared__ double sh[LT_SUMSQ_THREADS];
    double s = 0.0;
    LT_GRID_STRIDE(i, n) {
        double xi = lt_ld(x, dt, i);
        s += xi * xi;
    }
    s = block_sum_fixed(s, sh);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

__global__ void __launch_bounds__(LT_SUMSQ_THREADS)
    lt_sumsq_final(float *out, const double *part, int nparts) {
    __shared__ double sh[LT_SUMSQ_THREADS];
    double s = 0.0;
    for (int i = threadIdx.x; i < nparts; i += LT_SUMSQ_THREADS) s += part[i];
    s = block_sum_fixed(s, sh);
    if (threadIdx.x == 0) out[0] = (float)s;
}

extern "C" lt_status lt_cuda_sumsq(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *x = call->src[0];
    lt_tensor *out = call->dst[0];
    lt_cuda_device *cd;
    LT_TRY(lt_cuda_ready(dev, "sumsq", &cd));
    LT_TRY(lt_cuda_float_dtype("sumsq", "x", x));
    LT_TRY(lt_cuda_aligned("sumsq", "out", out));
    const int64_t n = lt_tensor_numel(x);
    /* Blocks depend only on n, so the summation order does too. */
    int64_t want = (n + LT_SUMSQ_THREADS * 8 - 1) / (LT_SUMSQ_THREADS * 8);
    const int blocks = (int)(want < 1 ? 1 : want > LT_SUMSQ_MAX_BLOCKS ? LT_SUMSQ_MAX_BLOCKS : want);
    void *part = NULL;
    LT_TRY(lt_cuda_scratch(cd, (size_t)blocks * sizeof(double), &part));
    lt_sumsq_partial<<<blocks, LT_SUMSQ_THREADS, 0, cd->stream>>>((double *)part, lt_cuda_ptr(x),
                                                                   (int)x->dtype, n);
    LT_TRY(lt_cuda_launched("sumsq"));
    lt_sumsq_final<<<1, LT_SUMSQ_THREADS, 0, cd->stream>>>((float *)lt_cuda_ptr(out),
                                                           (const double *)part, blocks);
    return lt_cuda_launched("sumsq");
}
