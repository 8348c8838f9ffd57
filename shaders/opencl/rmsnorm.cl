/* shaders/opencl/rmsnorm.cl - RMSNorm forward and backward.
 *
 * One work-group of LT_WG items per row; row sums are tree reductions in local memory,
 * a fixed order for a given LT_WG, so results repeat bit for bit. */

/* Sum of red[0..LT_WG) into red[0]; every item must call it. */
inline void reduce_sum(local float *red) {
    for (int s = LT_WG / 2; s > 0; s >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        int l = get_local_id(0);
        if (l < s) red[l] += red[l + s];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

/* out = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps). out may be x: the whole row is
 * read for the sum before any item writes. */
kernel void rmsnorm_fwd(global float *out, long ooff, global float *rstd, long roff,
                        global const float *x, long xoff, global const float *w, long woff,
                        long D, float eps) {
    local float red[LT_WG];
    long n = get_group_id(0);
    int l = get_local_id(0);
    global const float *xr = x + xoff + n * D;
    float ss = 0.0f;
    for (long d = l; d < D; d += LT_WG) ss += xr[d] * xr[d];
    red[l] = ss;
    reduce_sum(red);
    float r = 1.0f / sqrt(red[0] / (float)D + eps);
    for (long d = l; d < D; d += LT_WG) out[ooff + n * D + d] = xr[d] * r * w[woff + d];
    if (l == 0) rstd[roff + n] = r;
}

/* With r = rstd, xhat = x r, g = dout w:  dx = r (g - xhat mean(g xhat)). */
kernel void rmsnorm_bwd_dx(global float *dx, long dxoff, global const float *dout, long doff,
                           global const float *x, long xoff, global const float *w, long woff,
                           global const float *rstd, long roff, long D, int accumulate) {
    local float red[LT_WG];
    long n = get_group_id(0);
    int l = get_local_id(0);
    float r = rstd[roff + n];
    global const float *xr = x + xoff + n * D;
    global const float *gr = dout + doff + n * D;
    float dot = 0.0f;
    for (long d = l; d < D; d += LT_WG) dot += gr[d] * w[woff + d] * xr[d] * r;
    red[l] = dot;
    reduce_sum(red);
    float mean = red[0] / (float)D;
    for (long d = l; d < D; d += LT_WG) {
        float v = r * (gr[d] * w[woff + d] - xr[d] * r * mean);
        long o = dxoff + n * D + d;
        dx[o] = accumulate ? dx[o] + v : v;
    }
}

/* dw[d] += sum_n dout[n, d] x[n, d] rstd[n]: one item per column, rows in order, so the
 * sum is deterministic without atomics or a second pass. */
kernel void rmsnorm_bwd_dw(global float *dw, long dwoff, global const float *dout, long doff,
                           global const float *x, long xoff, global const float *rstd,
                           long roff, long D, long N) {
    long d = get_global_id(0);
    if (d >= D) return;
    float s = 0.0f;
    for (long n = 0; n < N; n++) s += dout[doff + n * D + d] * x[xoff + n * D + d] * rstd[roff + n];
    dw[dwoff + d] += s;
}
