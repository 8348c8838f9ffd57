/* shaders/opencl/adamw.cl - the AdamW step and the deterministic sum of squares.
 *
 * AdamW as loretta/ops.h writes it (= torch.optim.AdamW): the weight-decay term uses the
 * pre-step parameter. The bias corrections 1 - beta^step are computed once on the host
 * in double and passed in. */

kernel void adamw(global float *param, long poff, global float *m, long moff,
                  global float *v, long voff, global const float *grad, long goff,
                  global const uchar *mask, long maskoff, int has_mask, long n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, float grad_scale,
                  float bc1, float bc2) {
    long i = get_global_id(0);
    if (i >= n) return;
    float g = grad[goff + i] * grad_scale;
    float mi = beta1 * m[moff + i] + (1.0f - beta1) * g;
    float vi = beta2 * v[voff + i] + (1.0f - beta2) * g * g;
    float wd = (!has_mask || mask[maskoff + i] != 0) ? weight_decay : 0.0f;
    float x = param[poff + i];
    x -= lr * ((mi / bc1) / (sqrt(vi / bc2) + eps) + wd * x);
    m[moff + i] = mi;
    v[voff + i] = vi;
    param[poff + i] = x;
}

/* sumsq, pass 1: group g sums x[i]^2 for i = g*LT_WG + l + k*(groups*LT_WG), then a tree
 * reduction. Pass 2 (one group) reduces the partials the same way. The number of groups
 * depends only on n, so the order of every addition is fixed: repeated runs agree bit
 * for bit. NaN and Inf propagate through the sums. */
kernel void sumsq_partial(global float *partial, global const float *x, long xoff, long n) {
    local float red[LT_WG];
    int l = get_local_id(0);
    long g = get_group_id(0), groups = get_num_groups(0);
    float s = 0.0f;
    for (long i = g * LT_WG + l; i < n; i += groups * LT_WG) s += x[xoff + i] * x[xoff + i];
    red[l] = s;
    for (int k = LT_WG / 2; k > 0; k >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (l < k) red[l] += red[l + k];
    }
    if (l == 0) partial[g] = red[0];
}

kernel void sumsq_final(global float *out, long ooff, global const float *partial, int groups) {
    local float red[LT_WG];
    int l = get_local_id(0);
    float s = 0.0f;
    for (int i = l; i < groups; i += LT_WG) s += partial[i];
    red[l] = s;
    for (int k = LT_WG / 2; k > 0; k >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (l < k) red[l] += red[l + k];
    }
    if (l == 0) out[ooff] = red[0];
}
