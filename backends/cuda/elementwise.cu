/* backends/cuda/elementwise.cu - GELU (tanh form), add, scale, axpy.
 *
 * One kernel for all five: each element is read before it is written and no other
 * element depends on it, so the in-place calls the core allows are safe. */
#include "cuda_kernels.cuh"

#define LT_GELU_C 0.7978845608028654f /* sqrt(2/pi) */
#define LT_GELU_A 0.044715f

enum { EW_GELU_FWD, EW_GELU_BWD, EW_ADD, EW_SCALE, EW_AXPY };

LT_DEV float gelu(float x) {
    return 0.5f * x * (1.0f + tanhf(LT_GELU_C * (x + LT_GELU_A * x * x * x)));
}

/* d/dx gelu = 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2), t = tanh(c (x + a x^3)). */
LT_DEV float gelu_grad(float x) {
    const float t = tanhf(LT_GELU_C * (x + LT_GELU_A * x * x * x));
    return 0.5f * (1.0f + t) +
           0.5f * x * (1.0f - t * t) * LT_GELU_C * (1.0f + 3.0f * LT_GELU_A * x * x);
}

/* out = f(a, b): gelu(a); a * gelu'(b); a + b; alpha a; out + alpha a. */
__global__ void lt_elementwise_kernel(int kind, void *out, const void *a, const void *b, int dt,
                                      float alpha, int64_t n) {
    LT_GRID_STRIDE(i, n) {
        float x = lt_ld(a, dt, i), v;
        switch (kind) {
        case EW_GELU_FWD: v = gelu(x); break;
        case EW_GELU_BWD: v = x * gelu_grad(lt_ld(b, dt, i)); break;
        case EW_ADD: v = x + lt_ld(b, dt, i); break;
        case EW_SCALE: v = alpha * x; break;
        default: v = fmaf(alpha, x, lt_ld(out, dt, i)); break;
        }
        lt_st(out, dt, i, v);
    }
}

static lt_status run(lt_device *dev, const char *op, int kind, lt_tensor *out, const lt_tensor *a,
                     const lt_tensor *b, float alpha) {
    lt_cuda_device *cd;
    LT_TRY(lt_cuda_ready(dev, op, &cd));
    LT_TRY(lt_cuda_float_dtype(op, "out", out));
    LT_TRY(lt_cuda_aligned(op, "x", a));
    LT_TRY(lt_cuda_aligned(op, "x", b));
    const int64_t n = lt_tensor_numel(out);
    if (n == 0) return LT_OK;
    lt_elementwise_kernel<<<lt_cuda_grid(n, LT_CUDA_THREADS), LT_CUDA_THREADS, 0, cd->stream>>>(
        kind, lt_cuda_ptr(out), lt_cuda_ptr(a), lt_cuda_ptr(b), (int)out->dtype, alpha, n);
    return lt_cuda_launched(op);
}

extern "C" lt_status lt_cuda_gelu_fwd(lt_device *dev, const lt_op_call *call) {
    return run(dev, "gelu_fwd", EW_GELU_FWD, call->dst[0], call->src[0], NULL, 0.0f);
}

/* src[0] = dout, src[1] = x. */
extern "C" lt_status lt_cuda_gelu_bwd(lt_device *dev, const lt_op_call *call) {
    return run(dev, "gelu_bwd", EW_GELU_BWD, call->dst[0], call->src[0], call->src[1], 0.0f);
}

extern "C" lt_status lt_cuda_add(lt_device *dev, const lt_op_call *call) {
    return run(dev, "add", EW_ADD, call->dst[0], call->src[0], call->src[1], 0.0f);
}

extern "C" lt_status lt_cuda_scale(lt_device *dev, const lt_op_call *call) {
    return run(dev, "scale", EW_SCALE, call->dst[0], call->src[0], NULL, call->p.scalar.alpha);
}

extern "C" lt_status lt_cuda_axpy(lt_device *dev, const lt_op_call *call) {
    return run(dev, "axpy", EW_AXPY, call->dst[0], call->src[0], NULL, call->p.scalar.alpha);
}
