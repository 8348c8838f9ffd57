/* shaders/opencl/elementwise.cl - GELU (tanh form) forward/backward, add, scale, axpy.
 *
 * Contiguous f32 tensors of n elements at an element offset. In-place calls (out is x)
 * are fine: each work item reads its own element before writing it. */

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_C 0.044715f

kernel void gelu_fwd(global float *out, long ooff, global const float *x, long xoff, long n) {
    long i = get_global_id(0);
    if (i >= n) return;
    float v = x[xoff + i];
    float t = tanh(GELU_K * (v + GELU_C * v * v * v));
    out[ooff + i] = 0.5f * v * (1.0f + t);
}

/* d/dx of 0.5 x (1 + tanh(u)), u = k (x + c x^3):
 *   0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2). */
kernel void gelu_bwd(global float *dx, long dxoff, global const float *dout, long doff,
                     global const float *x, long xoff, long n) {
    long i = get_global_id(0);
    if (i >= n) return;
    float v = x[xoff + i];
    float t = tanh(GELU_K * (v + GELU_C * v * v * v));
    float dudx = GELU_K * (1.0f + 3.0f * GELU_C * v * v);
    float g = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * dudx;
    dx[dxoff + i] = dout[doff + i] * g;
}

kernel void add(global float *out, long ooff, global const float *a, long aoff,
                global const float *b, long boff, long n) {
    long i = get_global_id(0);
    if (i < n) out[ooff + i] = a[aoff + i] + b[boff + i];
}

kernel void scale(global float *out, long ooff, global const float *x, long xoff, float alpha,
                  long n) {
    long i = get_global_id(0);
    if (i < n) out[ooff + i] = alpha * x[xoff + i];
}

kernel void axpy(global float *y, long yoff, global const float *x, long xoff, float alpha,
                 long n) {
    long i = get_global_id(0);
    if (i < n) y[yoff + i] += alpha * x[xoff + i];
}
