/* backends/ref/attention.c - the attention oracle: one query row at a time, in double.
 *
 * For each (b, h, i): scores over the visible keys, softmax, weighted sum of values;
 * lse = log-sum-exp of the scaled scores. Only a per-row score vector is formed. The
 * backward follows the textbook formulas with P and O recomputed here in double (the
 * saved out and lse are accepted but not trusted, so the oracle does not inherit the
 * forward's rounding):
 *   dP = dO V^T,  D_i = rowsum(dO_i * O_i),  dS = P * (dP - D),
 *   dQ = scale dS K,  dK = scale dS^T Q,  dV = P^T dO.
 * Every element goes through the tensor's strides and dtype (lt_ref_ld/st), so f32,
 * f64, bf16 and f16 all work, mixed as the contract allows (half q/k/v with f32 out or
 * gradients); every output is rounded once to its dtype (lt_ref_st_once).
 * One exception to "not trusted": a bf16/f16 out is used as given in D_i. Its rounding
 * (2^-9 relative) is an input every tiled backward sees, and would otherwise show up in
 * dq and dk as an error 100x the f32 tolerance that no backend could avoid. */
#include <math.h>
#include <stdlib.h>

#include "cpu_attention.h"
#include "ref_common.h"

static double *alloc_doubles(const char *op, size_t n) {
    double *p = calloc(n ? n : 1, sizeof(double));
    if (!p) lt_error(LT_ERR_OUT_OF_MEMORY, "%s: %zu doubles of row scratch", op, n);
    return p;
}

/* Number of keys query `pos` sees among `nkeys`. */
static int64_t visible_keys(int causal, int64_t pos, int64_t nkeys) {
    return causal && pos + 1 < nkeys ? pos + 1 : nkeys;
}

/* p[j] = softmax_j(scale * q_i . k_j) over j < n, with the log-sum-exp returned. */
static double row_softmax(const lt_tensor *q, int64_t b, int64_t i, int64_t h,
                          const lt_tensor *k, int64_t n, double scale, int64_t dh, double *p) {
    double mx = -INFINITY;
    for (int64_t j = 0; j < n; j++) {
        double s = 0.0;
        for (int64_t d = 0; d < dh; d++)
            s += lt_ref_ld(q, lt_ref_at(q, b, i, h, d)) * lt_ref_ld(k, lt_ref_at(k, b, j, h, d));
        p[j] = s * scale;
        if (p[j] > mx) mx = p[j];
    }
    double sum = 0.0;
    for (int64_t j = 0; j < n; j++) sum += exp(p[j] - mx);
    double lse = mx + log(sum);
    for (int64_t j = 0; j < n; j++) p[j] = exp(p[j] - lse);
    return lse;
}

/* o = sum_j p[j] v_j over j < n. */
static void row_weighted_sum(const double *p, int64_t n, const lt_tensor *v, int64_t b,
                             int64_t h, int64_t dh, double *o) {
    for (int64_t d = 0; d < dh; d++) o[d] = 0.0;
    for (int64_t j = 0; j < n; j++)
        for (int64_t d = 0; d < dh; d++) o[d] += p[j] * lt_ref_ld(v, lt_ref_at(v, b, j, h, d));
}

static void store_row(const lt_tensor *t, int64_t b, int64_t i, int64_t h, int64_t dh,
                      const double *x) {
    for (int64_t d = 0; d < dh; d++) lt_ref_st_once(t, lt_ref_at(t, b, i, h, d), x ? x[d] : 0.0);
}

lt_status lt_ref_attn_fwd(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    const lt_tensor *q = call->src[0], *k = call->src[1], *v = call->src[2], *len = call->src[3];
    lt_tensor *out = call->dst[0], *lse = call->dst[1];
    int64_t B = q->shape[0], T = q->shape[1], H = q->shape[2], dh = q->shape[3];
    LT_TRY(lt_attn_check_lengths("attn_fwd", len, B, 0, T, "0 .. T"));
    double *p = alloc_doubles("attn_fwd", (size_t)(T + dh));
    if (!p) return LT_ERR_OUT_OF_MEMORY;
    double *o = p + T;
    for (int64_t b = 0; b < B; b++) {
        int64_t L = lt_attn_length(len, b, T);
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < T; i++) {
                int64_t at = (b * H + h) * T + i;
                if (i >= L) { /* padding row */
                    store_row(out, b, i, h, dh, NULL);
                    lt_ref_st(lse, at, 0.0);
                    continue;
                }
                int64_t n = visible_keys(call->p.attn.causal, i, L);
                lt_ref_st(lse, at, row_softmax(q, b, i, h, k, n, call->p.attn.scale, dh, p));
                row_weighted_sum(p, n, v, b, h, dh, o);
                store_row(out, b, i, h, dh, o);
            }
    }
    free(p);
    return LT_OK;
}

lt_status lt_ref_attn_bwd(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    const lt_tensor *dout = call->src[0], *q = call->src[1], *k = call->src[2], *v = call->src[3];
    const lt_tensor *out = call->src[4], *len = call->src[6];
    lt_tensor *dq = call->dst[0], *dk = call->dst[1], *dv = call->dst[2];
    const int given_out = out->dtype == LT_BF16 || out->dtype == LT_F16;
    int64_t B = q->shape[0], T = q->shape[1], H = q->shape[2], dh = q->shape[3];
    int causal = call->p.attn.causal;
    double scale = call->p.attn.scale;
    LT_TRY(lt_attn_check_lengths("attn_bwd", len, B, 0, T, "0 .. T"));
    /* Per row: p, dS (T each), o, dq (dh each); per (b, h): dK, dV sums (T x dh each). */
    size_t td = (size_t)T * (size_t)dh;
    double *p = alloc_doubles("attn_bwd", 2 * (size_t)T + 2 * (size_t)dh + 2 * td);
    if (!p) return LT_ERR_OUT_OF_MEMORY;
    double *ds = p + T, *o = ds + T, *g = o + dh, *dk_acc = g + dh, *dv_acc = dk_acc + td;
    for (int64_t b = 0; b < B; b++) {
        int64_t L = lt_attn_length(len, b, T);
        for (int64_t h = 0; h < H; h++) {
            for (size_t x = 0; x < 2 * td; x++) dk_acc[x] = 0.0;
            for (int64_t i = 0; i < L; i++) {
                int64_t n = visible_keys(causal, i, L);
                row_softmax(q, b, i, h, k, n, scale, dh, p);
                row_weighted_sum(p, n, v, b, h, dh, o);
                if (given_out)
                    for (int64_t d = 0; d < dh; d++) o[d] = lt_ref_ld(out, lt_ref_at(out, b, i, h, d));
                double D = 0.0;
                for (int64_t d = 0; d < dh; d++)
                    D += lt_ref_ld(dout, lt_ref_at(dout, b, i, h, d)) * o[d];
                for (int64_t j = 0; j < n; j++) {
                    double dp = 0.0;
                    for (int64_t d = 0; d < dh; d++)
                        dp += lt_ref_ld(dout, lt_ref_at(dout, b, i, h, d)) *
                              lt_ref_ld(v, lt_ref_at(v, b, j, h, d));
                    ds[j] = p[j] * (dp - D);
                }
                for (int64_t d = 0; d < dh; d++) g[d] = 0.0;
                for (int64_t j = 0; j < n; j++)
                    for (int64_t d = 0; d < dh; d++) {
                        g[d] += scale * ds[j] * lt_ref_ld(k, lt_ref_at(k, b, j, h, d));
                        double qd = lt_ref_ld(q, lt_ref_at(q, b, i, h, d));
                        dk_acc[j * dh + d] += scale * ds[j] * qd;
                        dv_acc[j * dh + d] += p[j] * lt_ref_ld(dout, lt_ref_at(dout, b, i, h, d));
                    }
                store_row(dq, b, i, h, dh, g);
            }
            for (int64_t i = L; i < T; i++) store_row(dq, b, i, h, dh, NULL);
            for (int64_t j = 0; j < T; j++) {
                store_row(dk, b, j, h, dh, j < L ? dk_acc + j * dh : NULL);
                store_row(dv, b, j, h, dh, j < L ? dv_acc + j * dh : NULL);
            }
        }
    }
    free(p);
    return LT_OK;
}

lt_status lt_ref_attn_decode(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    const lt_tensor *q = call->src[0], *kc = call->src[1], *vc = call->src[2], *len = call->src[3];
    lt_tensor *out = call->dst[0];
    int64_t B = q->shape[0], Tq = q->shape[1], H = q->shape[2], dh = q->shape[3];
    int64_t Tmax = kc->shape[1];
    LT_TRY(lt_attn_check_lengths("attn_decode", len, B, Tq, Tmax, "Tq .. Tmax"));
    double *p = alloc_doubles("attn_decode", (size_t)(Tmax + dh));
    if (!p) return LT_ERR_OUT_OF_MEMORY;
    double *o = p + Tmax;
    for (int64_t b = 0; b < B; b++) {
        int64_t L = lt_attn_length(len, b, Tmax);
        for (int64_t t = 0; t < Tq; t++)
            for (int64_t h = 0; h < H; h++) {
                /* Token t of the new ones sits at L - Tq + t and sees the cache up to it. */
                int64_t n = L - Tq + t + 1;
                row_softmax(q, b, t, h, kc, n, call->p.attn.scale, dh, p);
                row_weighted_sum(p, n, vc, b, h, dh, o);
                store_row(out, b, t, h, dh, o);
            }
    }
    free(p);
    return LT_OK;
}

lt_status lt_ref_kv_write(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    const lt_tensor *x = call->src[0], *pos = call->src[1];
    lt_tensor *cache = call->dst[0];
    int64_t B = x->shape[0], Tn = x->shape[1], H = x->shape[2], dh = x->shape[3];
    LT_TRY(lt_attn_check_pos(pos, B, Tn, cache->shape[1]));
    for (int64_t b = 0; b < B; b++) {
        int64_t p0 = lt_ref_i32(pos, b);
        for (int64_t t = 0; t < Tn; t++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t d = 0; d < dh; d++)
                    lt_ref_st(cache, lt_ref_at(cache, b, p0 + t, h, d),
                              lt_ref_ld(x, lt_ref_at(x, b, t, h, d)));
    }
    return LT_OK;
}
