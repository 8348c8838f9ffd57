/* shaders/opencl/embed.cl - token / position embedding lookup and its gradient.
 * Ids were checked by index_check.cl before any of these run. */

/* out[n, d] = (accumulate ? out[n, d] : 0) + table[ids[n], d]; one item per element. */
kernel void embed_fwd(global float *out, long ooff, global const int *ids, long ioff,
                      global const float *table, long toff, long D, long N, int accumulate) {
    long d = get_global_id(0), n = get_global_id(1);
    if (d >= D || n >= N) return;
    float v = table[toff + (long)ids[ioff + n] * D + d];
    long o = ooff + n * D + d;
    out[o] = accumulate ? out[o] + v : v;
}

/* dtable[ids[n], d] += dout[n, d]. One work item owns one column d and walks the rows in
 * order: no two items touch the same element, so there are no atomics and the sum
 * order (row 0, 1, ...) is the same on every run. */
kernel void embed_bwd(global float *dtable, long toff, global const int *ids, long ioff,
                      global const float *dout, long doff, long D, long N) {
    long d = get_global_id(0);
    if (d >= D) return;
    for (long n = 0; n < N; n++) {
        long o = toff + (long)ids[ioff + n] * D + d;
        dtable[o] += dout[doff + n * D + d];
    }
}
