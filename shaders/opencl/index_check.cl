/* shaders/opencl/index_check.cl - data-dependent argument checks done on the device.
 *
 * Token ids, targets, cache positions and lengths live on the device; rather than read
 * them all back, a check kernel records the first offending position in a small error
 * buffer (atomic_min, so the lowest one wins whatever the scheduling) and the host reads
 * back that one int. The checks run before the op writes anything, so a failed call
 * leaves its outputs untouched, as on the reference backend. */

/* err[0] = lowest i with ids[i] outside [lo, hi); left as is when all are inside. */
kernel void check_ids(global const int *ids, long off, long n, int lo, int hi,
                      volatile global int *err) {
    long i = get_global_id(0);
    if (i >= n) return;
    int v = ids[off + i];
    if (v < lo || v >= hi) atomic_min(err, (int)i);
}

/* Cross-entropy targets: only rows with a nonzero weight are read at all. */
kernel void check_targets(global const int *targets, long toff, global const float *weights,
                          long woff, int has_weights, long n, int vocab,
                          volatile global int *err) {
    long i = get_global_id(0);
    if (i >= n) return;
    if (has_weights && weights[woff + i] == 0.0f) return;
    int t = targets[toff + i];
    if (t < 0 || t >= vocab) atomic_min(err, (int)i);
}
