/* shaders/opencl/sample.cl - one token per row by the sampling rule of loretta/rng.h.
 *
 * The rule fixes every f32 operation of the draw (weights, their sum and the running sum
 * in increasing index order), so those sequential parts run on item 0 exactly as written
 * there; the group only helps with the order-free parts (argmax, max, top-k threshold).
 * Contraction into fma would change the f32 results, so it is off. NaN logits rank as
 * -inf (argmax, top-k, the max m), as on the reference backend. */
#pragma OPENCL FP_CONTRACT OFF
#ifdef LT_HAVE_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

/* ---- Philox4x32-10, word for word the lt_philox4x32_10 of loretta/rng.h ---- */
inline uint4 philox4x32_10(uint4 c, uint k0, uint k1) {
    for (int r = 0; r < 10; r++) {
        uint hi0 = mul_hi(0xD2511F53u, c.x), lo0 = 0xD2511F53u * c.x;
        uint hi1 = mul_hi(0xCD9E8D57u, c.z), lo1 = 0xCD9E8D57u * c.z;
        c = (uint4)(hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0);
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c;
}

inline float rng_uniform(ulong seed, ulong a, ulong b) {
    uint4 w = philox4x32_10((uint4)((uint)a, (uint)(a >> 32), (uint)b, (uint)(b >> 32)),
                            (uint)seed, (uint)(seed >> 32));
    return (float)(w.x >> 8) * (1.0f / 16777216.0f);
}

/* expf((l - m) / temperature) as the host computes it. With doubles, the quotient
 * rounded to f32 is the correctly rounded f32 quotient and exp in double rounded to f32
 * is what glibc's expf returns but for rare ties; without them the build adds
 * -cl-fp32-correctly-rounded-divide-sqrt where the device has it. */
inline float weight(float l, float m, float temperature) {
#ifdef LT_HAVE_FP64
    float x = (float)((double)(l - m) / (double)temperature);
    return (float)exp((double)x);
#else
    return exp((l - m) / temperature);
#endif
}

/* -0 ranks equal to +0, as the host's float comparisons have it. */
inline float rank_value(float l) { return isnan(l) ? -INFINITY : (l == 0.0f ? 0.0f : l); }

/* An unsigned key with the order of rank_value: larger logit = larger key. */
inline uint rank_key(float l) {
    uint u = as_uint(rank_value(l));
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/* Number of candidates with key >= k (or > k when strict), summed over the group. */
inline int count_keys(global const float *row, int lo, int hi, uint k, int strict,
                      local int *cnt) {
    int l = get_local_id(0);
    int c = 0;
    for (int i = lo + l; i < hi; i += LT_WG) {
        uint key = rank_key(row[i]);
        c += strict ? key > k : key >= k;
    }
    cnt[l] = c;
    for (int s = LT_WG / 2; s > 0; s >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (l < s) cnt[l] += cnt[l + s];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    int total = cnt[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return total;
}

kernel void sample(global int *tokens, long tokoff, global const float *logits, long loff,
                   long V, global const int *ids, long idoff, int has_ids, ulong seed,
                   ulong step, float temperature, int top_k, int lo, int hi) {
    local float best_v[LT_WG];
    local int best_i[LT_WG];
    local int cnt[LT_WG];
    long b = get_group_id(0);
    int l = get_local_id(0);
    global const float *row = logits + loff + b * V;

    /* Largest rank value, lowest index on ties: rule 2, and m of rule 4. */
    float bv = -INFINITY;
    int bi = hi;
    for (int i = lo + l; i < hi; i += LT_WG) {
        float v = rank_value(row[i]);
        if (v > bv || bi == hi) { bv = v; bi = i; }
    }
    best_v[l] = bv;
    best_i[l] = bi;
    for (int s = LT_WG / 2; s > 0; s >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (l < s) {
            float ov = best_v[l + s];
            int oi = best_i[l + s];
            if (oi != hi && (best_i[l] == hi || ov > best_v[l] || (ov == best_v[l] && oi < best_i[l]))) {
                best_v[l] = ov;
                best_i[l] = oi;
            }
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    float m = best_v[0];
    int greedy = best_i[0];

    /* Rule 3: the kept set is every key above the k-th largest key T, plus the lowest
     * indices among the keys equal to T. T is found bit by bit from the top: the largest
     * key value with at least k candidates at or above it. With k = n this keeps every
     * candidate. It runs even for temperature 0 (then unused): PoCL miscompiles a return
     * that skips later barriers, and barriers under a condition are best avoided too. */
    int n = hi - lo;
    int k = top_k > 0 && top_k < n ? top_k : n;
    uint thresh = 0u;
    for (int bit = 31; bit >= 0; bit--) {
        uint cand = thresh | (1u << bit);
        if (count_keys(row, lo, hi, cand, 0, cnt) >= k) thresh = cand;
    }
    int need = k - count_keys(row, lo, hi, thresh, 1, cnt);
    if (l != 0) return;
    if (temperature == 0.0f) {
        tokens[tokoff + b] = greedy;
        return;
    }
    int tie_cut = hi; /* keys equal to thresh are kept up to this index */
    for (int i = lo; i < hi; i++)
        if (rank_key(row[i]) == thresh && --need == 0) { tie_cut = i; break; }

    /* Rules 4 and 5, in the order and precision the rule states. */
    float total = 0.0f;
    for (int i = lo; i < hi; i++) {
        uint key = rank_key(row[i]);
        if (key > thresh || (key == thresh && i <= tie_cut)) total += weight(row[i], m, temperature);
    }
    ulong id = has_ids ? (ulong)(uint)ids[idoff + b] : (ulong)b;
    float r = rng_uniform(seed, id, step) * total;
    float acc = 0.0f;
    int token = lo;
    for (int i = lo; i < hi; i++) {
        uint key = rank_key(row[i]);
        if (!(key > thresh || (key == thresh && i <= tie_cut))) continue;
        token = i;
        acc += weight(row[i], m, temperature);
        if (acc > r) break;
    }
    tokens[tokoff + b] = token;
}
