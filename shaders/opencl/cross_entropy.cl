/* shaders/opencl/cross_entropy.cl - softmax cross-entropy fused with its gradient.
 *
 * One work-group of LT_WG items per row: max and sum-of-exp are tree reductions in
 * local memory (the max subtracted first, so exp never overflows), then
 *   loss = (m + log(sum)) - x[t],  dx = w * grad_scale * (softmax(x) - onehot(t)).
 * Targets were range-checked by index_check.cl. */

kernel void cross_entropy(global float *losses, long loff, global float *dlogits, long goff,
                          int has_grad, global const float *logits, long xoff,
                          global const int *targets, long toff, global const float *weights,
                          long woff, int has_weights, long V, float grad_scale) {
    local float red[LT_WG];
    local float x_target;
    long n = get_group_id(0);
    int l = get_local_id(0);
    /* Zero-weight rows still run the reductions (their logits are valid) but never read
     * their target. No early return: PoCL miscompiles a return that skips later barriers
     * even when the whole group takes it. */
    float w = has_weights ? weights[woff + n] : 1.0f;
    int live = w != 0.0f;
    global const float *xr = logits + xoff + n * V;
    int t = live ? targets[toff + n] : -1;

    float m = -INFINITY;
    for (long i = l; i < V; i += LT_WG) m = fmax(m, xr[i]);
    red[l] = m;
    for (int s = LT_WG / 2; s > 0; s >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (l < s) red[l] = fmax(red[l], red[l + s]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    m = red[0];
    barrier(CLK_LOCAL_MEM_FENCE);

    float sum = 0.0f;
    for (long i = l; i < V; i += LT_WG) sum += exp(xr[i] - m);
    red[l] = sum;
    for (int s = LT_WG / 2; s > 0; s >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (l < s) red[l] += red[l + s];
    }
    if (l == 0) x_target = live ? xr[t] : 0.0f;
    barrier(CLK_LOCAL_MEM_FENCE);
    float lse = m + log(red[0]);
    if (l == 0) losses[loff + n] = live ? lse - x_target : 0.0f;
    if (!has_grad) return;
    /* dlogits may be logits itself: the target logit was saved above, and every other
     * element is read by the same item just before it overwrites it. */
    float ws = w * grad_scale;
    for (long i = l; i < V; i += LT_WG) {
        float p = exp(xr[i] - lse);
        dlogits[goff + n * V + i] = live ? ws * (p - (i == t ? 1.0f : 0.0f)) : 0.0f;
    }
}
