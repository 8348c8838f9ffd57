/* shaders/opencl/attention.cl - tiled (flash) attention: forward, backward, KV-cache
 * decode and the cache write.
 *
 * Built per head dim: LT_DH = Dh (private rows of q and accumulators have that size),
 * LT_BT = rows per tile (queries per work-group and keys per local-memory tile), chosen
 * by the host from the device's local memory. [B, T, H, Dh] tensors arrive as (buffer,
 * element offset, strides (b, t, h)) with a contiguous last dim, so q/k/v can be views
 * into one fused buffer. lse is [B, H, T] contiguous. Never forms a T x T matrix:
 * scores exist one key tile at a time.
 *
 * Softmax is the online one (Milakov & Gimelshein 2018; FlashAttention, Dao et al.
 * 2022): a running max m and sum l per query, the accumulator rescaled by exp(m_old -
 * m_new) once per key tile, out = acc / l and lse = m + log(l) at the end. */

#define ROW(p, off, s, b, t, h) ((p) + (off) + (long)(b) * (s).x + (long)(t) * (s).y + (long)(h) * (s).z)

/* Valid length of sample b: lengths[b] clamped to [0, T] (NULL lengths = T). */
inline int valid_len(global const int *len, long lenoff, int has_len, int b, int T) {
    return has_len ? clamp(len[lenoff + b], 0, T) : T;
}

/* Loads keys (and values) j0 .. j0+LT_BT-1 of head (b, h) into local tiles; rows at or
 * past jend are zero. Every item of the group calls it between barriers. */
inline void load_tile(local float *tile, global const float *src, long off, long4 s, int b,
                      int h, int j0, int jend) {
    for (int e = get_local_id(0); e < LT_BT * LT_DH; e += get_local_size(0)) {
        int jj = e / LT_DH, d = e % LT_DH;
        int j = j0 + jj;
        tile[e] = j < jend ? ROW(src, off, s, b, j, h)[d] : 0.0f;
    }
}

inline float dot_row(const float *a, local const float *b) {
    float s = 0.0f;
    for (int d = 0; d < LT_DH; d++) s += a[d] * b[d];
    return s;
}

/* Grid: (ceil(T/LT_BT) * LT_BT, B*H), groups of LT_BT items, one query row per item. */
kernel void attn_fwd(global const float *q, long qoff, long4 qs, global const float *k,
                     long koff, long4 ks, global const float *v, long voff, long4 vs,
                     global float *out, long ooff, long4 os, global float *lse, long lseoff,
                     global const int *len, long lenoff, int has_len, int T, int H,
                     int causal, float scale) {
    local float kt[LT_BT * LT_DH];
    local float vt[LT_BT * LT_DH];
    int bh = get_group_id(1), b = bh / H, h = bh % H;
    int i0 = get_group_id(0) * LT_BT;
    int i = i0 + get_local_id(0);
    int L = valid_len(len, lenoff, has_len, b, T);
    int active = i < L;

    float qr[LT_DH], acc[LT_DH];
    for (int d = 0; d < LT_DH; d++) {
        qr[d] = active ? ROW(q, qoff, qs, b, i, h)[d] * scale : 0.0f;
        acc[d] = 0.0f;
    }
    float m = -INFINITY, lsum = 0.0f;
    /* Keys this group can see: j < L, and with causal masking j <= the block's last row. */
    int kend = causal ? min(L, i0 + LT_BT) : L;
    for (int j0 = 0; j0 < kend; j0 += LT_BT) {
        barrier(CLK_LOCAL_MEM_FENCE);
        load_tile(kt, k, koff, ks, b, h, j0, kend);
        load_tile(vt, v, voff, vs, b, h, j0, kend);
        barrier(CLK_LOCAL_MEM_FENCE);
        /* Masked-out items skip the work but not the barriers (no continue/return
         * around barriers: PoCL's work-group compiler mishandles those). */
        int jn = active ? min(LT_BT, kend - j0) : 0;
        if (causal) jn = min(jn, i - j0 + 1);
        if (jn > 0) {
            float sc[LT_BT];
            float tmax = -INFINITY;
            for (int jj = 0; jj < jn; jj++) {
                sc[jj] = dot_row(qr, kt + jj * LT_DH);
                tmax = fmax(tmax, sc[jj]);
            }
            float mnew = fmax(m, tmax);
            float c = exp(m - mnew); /* 0 on the first tile (m = -inf) */
            lsum *= c;
            for (int d = 0; d < LT_DH; d++) acc[d] *= c;
            for (int jj = 0; jj < jn; jj++) {
                float p = exp(sc[jj] - mnew);
                lsum += p;
                for (int d = 0; d < LT_DH; d++) acc[d] += p * vt[jj * LT_DH + d];
            }
            m = mnew;
        }
    }
    if (i >= T) return;
    global float *o = ROW(out, ooff, os, b, i, h);
    float inv = active ? 1.0f / lsum : 0.0f;
    for (int d = 0; d < LT_DH; d++) o[d] = acc[d] * inv;
    lse[lseoff + ((long)b * H + h) * T + i] = active ? m + log(lsum) : 0.0f;
}

/* Backward, after FlashAttention-2: with P = exp(S - lse) recomputed per tile,
 *   dV_j = sum_i P_ij dO_i,   dS_ij = P_ij (dO_i . V_j - delta_i),  delta_i = dO_i . O_i,
 *   dQ_i = scale sum_j dS_ij K_j,   dK_j = scale sum_i dS_ij Q_i.
 * Two kernels, one owning key rows (dK, dV) and one owning query rows (dQ), so every
 * gradient element has one writer: no atomics, and the same sum order on every run. */

/* delta[b, h, i] = dO_i . O_i (0 on padding rows). Grid (T, B*H). */
kernel void attn_bwd_delta(global float *delta, global const float *dout, long doff,
                           long4 ds, global const float *out, long ooff, long4 os,
                           global const int *len, long lenoff, int has_len, int T, int H) {
    int i = get_global_id(0), bh = get_global_id(1), b = bh / H, h = bh % H;
    if (i >= T) return;
    int L = valid_len(len, lenoff, has_len, b, T);
    float s = 0.0f;
    if (i < L) {
        global const float *g = ROW(dout, doff, ds, b, i, h);
        global const float *o = ROW(out, ooff, os, b, i, h);
        for (int d = 0; d < LT_DH; d++) s += g[d] * o[d];
    }
    delta[(long)bh * T + i] = s;
}

/* Grid (ceil(T/LT_BT) * LT_BT, B*H): one key row j per item; query tiles of q, dO, lse
 * and delta stream through local memory. */
kernel void attn_bwd_dkdv(global float *dk, long dkoff, long4 dks, global float *dv,
                          long dvoff, long4 dvs, global const float *q, long qoff, long4 qs,
                          global const float *k, long koff, long4 ks, global const float *v,
                          long voff, long4 vs, global const float *dout, long doff, long4 ds,
                          global const float *lse, long lseoff, global const float *delta,
                          global const int *len, long lenoff, int has_len, int T, int H,
                          int causal, float scale) {
    local float qt[LT_BT * LT_DH];
    local float gt[LT_BT * LT_DH];
    local float lt[LT_BT];
    local float dt[LT_BT];
    int bh = get_group_id(1), b = bh / H, h = bh % H;
    int j0 = get_group_id(0) * LT_BT;
    int j = j0 + get_local_id(0);
    int L = valid_len(len, lenoff, has_len, b, T);
    int active = j < L;

    float kr[LT_DH], vr[LT_DH], dkr[LT_DH], dvr[LT_DH];
    for (int d = 0; d < LT_DH; d++) {
        kr[d] = active ? ROW(k, koff, ks, b, j, h)[d] : 0.0f;
        vr[d] = active ? ROW(v, voff, vs, b, j, h)[d] : 0.0f;
        dkr[d] = 0.0f;
        dvr[d] = 0.0f;
    }
    /* With causal masking, query rows before the block's first key see none of it. */
    int istart = causal ? j0 : 0;
    for (int i0 = istart - istart % LT_BT; i0 < L; i0 += LT_BT) {
        barrier(CLK_LOCAL_MEM_FENCE);
        load_tile(qt, q, qoff, qs, b, h, i0, L);
        load_tile(gt, dout, doff, ds, b, h, i0, L);
        for (int e = get_local_id(0); e < LT_BT; e += get_local_size(0)) {
            int i = i0 + e;
            lt[e] = i < L ? lse[lseoff + (long)bh * T + i] : 0.0f;
            dt[e] = i < L ? delta[(long)bh * T + i] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        int in = active ? min(LT_BT, L - i0) : 0;
        for (int ii = 0; ii < in; ii++) {
            if (causal && i0 + ii < j) continue; /* no barrier in this loop */
            local const float *qi = qt + ii * LT_DH;
            local const float *gi = gt + ii * LT_DH;
            float p = exp(scale * dot_row(kr, qi) - lt[ii]);
            float dp = dot_row(vr, gi);
            float dsc = p * (dp - dt[ii]) * scale;
            for (int d = 0; d < LT_DH; d++) {
                dvr[d] += p * gi[d];
                dkr[d] += dsc * qi[d];
            }
        }
    }
    if (j >= T) return;
    global float *dko = ROW(dk, dkoff, dks, b, j, h);
    global float *dvo = ROW(dv, dvoff, dvs, b, j, h);
    for (int d = 0; d < LT_DH; d++) {
        dko[d] = dkr[d];
        dvo[d] = dvr[d];
    }
}

/* Grid (ceil(T/LT_BT) * LT_BT, B*H): one query row i per item; key and value tiles
 * stream through local memory. */
kernel void attn_bwd_dq(global float *dq, long dqoff, long4 dqs, global const float *q,
                        long qoff, long4 qs, global const float *k, long koff, long4 ks,
                        global const float *v, long voff, long4 vs, global const float *dout,
                        long doff, long4 ds, global const float *lse, long lseoff,
                        global const float *delta, global const int *len, long lenoff,
                        int has_len, int T, int H, int causal, float scale) {
    local float kt[LT_BT * LT_DH];
    local float vt[LT_BT * LT_DH];
    int bh = get_group_id(1), b = bh / H, h = bh % H;
    int i0 = get_group_id(0) * LT_BT;
    int i = i0 + get_local_id(0);
    int L = valid_len(len, lenoff, has_len, b, T);
    int active = i < L;

    float qr[LT_DH], gr[LT_DH], dqr[LT_DH];
    for (int d = 0; d < LT_DH; d++) {
        qr[d] = active ? ROW(q, qoff, qs, b, i, h)[d] : 0.0f;
        gr[d] = active ? ROW(dout, doff, ds, b, i, h)[d] : 0.0f;
        dqr[d] = 0.0f;
    }
    float li = active ? lse[lseoff + (long)bh * T + i] : 0.0f;
    float di = active ? delta[(long)bh * T + i] : 0.0f;
    int kend = causal ? min(L, i0 + LT_BT) : L;
    for (int j0 = 0; j0 < kend; j0 += LT_BT) {
        barrier(CLK_LOCAL_MEM_FENCE);
        load_tile(kt, k, koff, ks, b, h, j0, kend);
        load_tile(vt, v, voff, vs, b, h, j0, kend);
        barrier(CLK_LOCAL_MEM_FENCE);
        int jn = active ? min(LT_BT, kend - j0) : 0;
        if (causal) jn = min(jn, i - j0 + 1);
        for (int jj = 0; jj < jn; jj++) {
            local const float *kj = kt + jj * LT_DH;
            float p = exp(scale * dot_row(qr, kj) - li);
            float dp = dot_row(gr, vt + jj * LT_DH);
            float dsc = p * (dp - di) * scale;
            for (int d = 0; d < LT_DH; d++) dqr[d] += dsc * kj[d];
        }
    }
    if (i >= T) return;
    global float *o = ROW(dq, dqoff, dqs, b, i, h);
    for (int d = 0; d < LT_DH; d++) o[d] = dqr[d];
}

/* Decode: one group of LT_WG items per (query t, sample b, head h). The query sits at
 * absolute position pos = lengths[b] - Tq + t and sees cache rows 0..pos. Items split
 * each key tile (one score each), then split the output dims for the weighted sum of
 * values. Grid (LT_WG, Tq, B*H). Lengths were checked (Tq <= lengths[b] <= Tmax). */
#define DH_PER_ITEM ((LT_DH + LT_WG - 1) / LT_WG)
kernel void attn_decode(global float *out, long ooff, long4 os, global const float *q,
                        long qoff, long4 qs, global const float *kc, long kcoff,
                        global const float *vc, long vcoff, global const int *len,
                        long lenoff, int Tq, int Tmax, int H, float scale) {
    local float qv[LT_DH];
    local float sc[LT_WG];
    int l = get_local_id(0);
    int t = get_group_id(1), bh = get_group_id(2), b = bh / H, h = bh % H;
    int pos = len[lenoff + b] - Tq + t;
    /* cache is contiguous [B, Tmax, H, Dh] */
    long4 cs = (long4)((long)Tmax * H * LT_DH, (long)H * LT_DH, LT_DH, 1);
    for (int d = l; d < LT_DH; d += LT_WG) qv[d] = ROW(q, qoff, qs, b, t, h)[d] * scale;
    float acc[DH_PER_ITEM];
    for (int e = 0; e < DH_PER_ITEM; e++) acc[e] = 0.0f;
    float m = -INFINITY, lsum = 0.0f;
    for (int j0 = 0; j0 <= pos; j0 += LT_WG) {
        barrier(CLK_LOCAL_MEM_FENCE);
        int j = j0 + l;
        float s = -INFINITY;
        if (j <= pos) {
            global const float *kr = ROW(kc, kcoff, cs, b, j, h);
            s = 0.0f;
            for (int d = 0; d < LT_DH; d++) s += qv[d] * kr[d];
        }
        sc[l] = s;
        barrier(CLK_LOCAL_MEM_FENCE);
        /* Every item walks the tile in the same order, so all hold the same m and l. */
        int jn = min(LT_WG, pos + 1 - j0);
        float tmax = -INFINITY;
        for (int jj = 0; jj < jn; jj++) tmax = fmax(tmax, sc[jj]);
        float mnew = fmax(m, tmax);
        barrier(CLK_LOCAL_MEM_FENCE);
        sc[l] = j <= pos ? exp(s - mnew) : 0.0f; /* one exp per key, shared by the group */
        barrier(CLK_LOCAL_MEM_FENCE);
        float c = exp(m - mnew);
        lsum *= c;
        for (int e = 0; e < DH_PER_ITEM; e++) acc[e] *= c;
        for (int jj = 0; jj < jn; jj++) {
            float p = sc[jj];
            lsum += p;
            global const float *vr = ROW(vc, vcoff, cs, b, j0 + jj, h);
            for (int e = 0; e < DH_PER_ITEM; e++) {
                int d = l + e * LT_WG;
                if (d < LT_DH) acc[e] += p * vr[d];
            }
        }
        m = mnew;
    }
    global float *o = ROW(out, ooff, os, b, t, h);
    for (int e = 0; e < DH_PER_ITEM; e++) {
        int d = l + e * LT_WG;
        if (d < LT_DH) o[d] = acc[e] / lsum;
    }
}

/* cache[b, pos[b] + t, h, :] = x[b, t, h, :]; one item per element of x. Grid
 * (Dh, Tn*H, B). Positions were checked (0 <= pos[b] <= Tmax - Tn). */
kernel void kv_write(global float *cache, long coff, global const float *x, long xoff,
                     long4 xs, global const int *pos, long posoff, int Tn, int Tmax, int H) {
    int d = get_global_id(0), th = get_global_id(1), b = get_global_id(2);
    if (d >= LT_DH || th >= Tn * H) return;
    int t = th / H, h = th % H;
    long4 cs = (long4)((long)Tmax * H * LT_DH, (long)H * LT_DH, LT_DH, 1);
    ROW(cache, coff, cs, b, pos[posoff + b] + t, h)[d] = ROW(x, xoff, xs, b, t, h)[d];
}
