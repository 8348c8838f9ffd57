/* backends/cpu/attention.c - tiled (FlashAttention-2) attention in f32 with OpenMP.
 *
 * Forward (Dao 2023, FlashAttention-2, Algorithm 1): OpenMP over (b, h, query tile of BR
 * rows). A query tile streams key/value tiles of BC rows through per-thread scratch and
 * keeps a running max m and sum l per row (online softmax), rescaling its output
 * accumulator by exp(m_old - m_new) whenever the max grows; lse = m + log(l) is saved,
 * which is all the backward needs to rebuild P. Nothing T x T is ever formed: the
 * scratch is O((BR + BC) * Dh + BR * BC) floats per thread whatever T is, and key tiles
 * past the causal diagonal or the sample's length are never read.
 *
 * Backward (Algorithm 2): per key tile, dK and dV are accumulated in scratch over the
 * query tiles that see it, with P = exp(scale * S - lse) recomputed per tile,
 * dS = P * (dP - D), D_i = dO_i . O_i, and dQ accumulated in place. A whole (b, h) belongs
 * to one thread, so every output row has one writer and one fixed summation order:
 * results are bit-identical run to run, for any thread count. (The price: fewer than
 * `threads` heads in a batch leave threads idle in the backward.)
 *
 * The products are 2-row x VW-column register blocks with constant inner trip counts,
 * so the compiler keeps the accumulators in vector registers; exp is a vectorisable
 * polynomial because the softmax calls it once per score, as often as the matmuls
 * do a Dh-long multiply-add.
 *
 * bf16/f16 q/k/v (with half or f32 out and gradients) are staged through f32 scratch
 * and run by these same kernels (half_stage.c); the f32 path never touches that.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu_attention.h"
#include "cpu_common.h"
#include "cpu_half.h"

#define BR 64 /* query rows per tile */
#define BC 64 /* key rows per tile */
#define VW 16 /* columns per register block (4 SSE / 2 AVX vectors) */

static int thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Floats of scratch per thread, rounded to a cache line so threads never share one. */
static size_t scratch_floats(int64_t dh, int backward) {
    size_t d = (size_t)dh;
    size_t n = backward ? 4 * d * BC + 2 * (size_t)BR * BC + BR
                        : 2 * (size_t)BR * d + d * BC + (size_t)BR * BC + 2 * BR;
    return (n + 15) / 16 * 16;
}

size_t lt_cpu_attn_scratch_bytes(int64_t head_dim, int threads, int backward) {
    return (size_t)(threads > 0 ? threads : 1) * scratch_floats(head_dim, backward) * sizeof(float);
}

static float *alloc_scratch(const char *op, int64_t dh, int threads, int backward) {
    size_t bytes = lt_cpu_attn_scratch_bytes(dh, threads, backward);
    float *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p) lt_error(LT_ERR_OUT_OF_MEMORY, "%s: %zu bytes of tile scratch", op, bytes);
    return p;
}

/* x[i] = exp(x[i]) for n <= BC softmax arguments (<= 0 up to rounding). Cephes expf:
 * x = k ln2 + r with |r| <= ln2/2, exp(r) by a degree-6 polynomial, 2^k by building the
 * exponent bits; within 2 ulp. The argument is clamped to [-87, 88] first so 2^k stays a
 * normal float and the float -> int conversion is defined (NaN clamps to -87);
 * exp(-87) ~ 1.6e-38 is as good as 0 next to the row max's exp(0) = 1. Adding x - x (0,
 * or NaN for NaN and inf) keeps NaN inputs NaN. The clamp has a loop of its own because
 * GCC will not if-convert it together with the conversion and would leave both scalar;
 * adding and subtracting 1.5 * 2^23 rounds to nearest without SSE4.1's roundps. */
static void exp_inplace(float *restrict x, int n) {
    float c[BC];
    for (int i = 0; i < n; i++) {
        float v = x[i] > -87.0f ? x[i] : -87.0f;
        c[i] = v < 88.0f ? v : 88.0f;
    }
    for (int i = 0; i < n; i++) {
        float v = c[i];
        float fn = (v * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
        float r = v - fn * 0.693359375f;
        r = r - fn * -2.12194440e-4f;
        float p = 1.9875691500e-4f;
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        p = p * r * r + r + 1.0f;
        union {
            int32_t i;
            float f;
        } two_k;
        two_k.i = ((int32_t)fn + 127) << 23;
        x[i] = p * two_k.f + (x[i] - x[i]);
    }
}

/* t[d][j] = x[j][d] for j < n, zero for n <= j < BC, so products over a tile can always
 * run over all BC columns. */
static void load_transposed(int n, int dh, const float *restrict x, int64_t xs,
                            float *restrict t) {
    for (int j = 0; j < n; j++)
        for (int d = 0; d < dh; d++) t[(int64_t)d * BC + j] = x[j * xs + d];
    if (n < BC)
        for (int d = 0; d < dh; d++)
            memset(t + (int64_t)d * BC + n, 0, (size_t)(BC - n) * sizeof(float));
}

/* Four floats in a vector register (SSE / NEON width; GCC and Clang vector extension).
 * Unaligned loads and stores go through memcpy, which compiles to one instruction. */
typedef float f32x4 __attribute__((vector_size(16)));
#define NV (VW / 4)

static inline f32x4 ld4(const float *p) {
    f32x4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void st4(float *p, f32x4 v) { memcpy(p, &v, sizeof v); }

/* c[r][j] = sum_d x[r][d] * t[d][j] for r < nr and all BC columns: two rows by VW
 * columns at a time, the 2 * NV accumulators held in registers over the whole d loop. */
static void rows_times_t(int nr, int dh, const float *restrict x, int64_t xs,
                         const float *restrict t, float *restrict c) {
    for (int r = 0; r < nr; r += 2) {
        int two = r + 1 < nr;
        const float *x0 = x + r * xs, *x1 = two ? x0 + xs : x0;
        for (int j0 = 0; j0 < BC; j0 += VW) {
            f32x4 a0[NV] = {{0}}, a1[NV] = {{0}};
            for (int d = 0; d < dh; d++) {
                const float *y = t + (int64_t)d * BC + j0;
                float u0 = x0[d], u1 = x1[d];
                for (int v = 0; v < NV; v++) {
                    f32x4 yv = ld4(y + 4 * v);
                    a0[v] += u0 * yv;
                    a1[v] += u1 * yv;
                }
            }
            for (int v = 0; v < NV; v++) st4(c + r * BC + j0 + 4 * v, a0[v]);
            if (two)
                for (int v = 0; v < NV; v++) st4(c + (r + 1) * BC + j0 + 4 * v, a1[v]);
        }
    }
}

/* out[r][:] += sum_{c < nc} w[r*wr + c*wc] * y[c][:] for r < nr. With (wr, wc) =
 * (BC, 1) w is a score tile, with (1, BC) its transpose. Two rows by VW columns at a
 * time as above; the last dh % VW columns take a plain loop. */
static void acc_rows(int nr, int nc, int dh, const float *restrict w, int64_t wr, int64_t wc,
                     const float *restrict y, int64_t ys, float *restrict out, int64_t os) {
    int dv = dh - dh % VW;
    for (int r = 0; r < nr; r += 2) {
        int two = r + 1 < nr;
        float *o0 = out + r * os, *o1 = two ? o0 + os : NULL;
        const float *w0 = w + r * wr, *w1 = two ? w0 + wr : w0;
        for (int d0 = 0; d0 < dv; d0 += VW) {
            f32x4 a0[NV], a1[NV] = {{0}};
            for (int v = 0; v < NV; v++) {
                a0[v] = ld4(o0 + d0 + 4 * v);
                if (two) a1[v] = ld4(o1 + d0 + 4 * v);
            }
            for (int c = 0; c < nc; c++) {
                const float *yc = y + c * ys + d0;
                float u0 = w0[c * wc], u1 = w1[c * wc];
                for (int v = 0; v < NV; v++) {
                    f32x4 yv = ld4(yc + 4 * v);
                    a0[v] += u0 * yv;
                    a1[v] += u1 * yv;
                }
            }
            for (int v = 0; v < NV; v++) {
                st4(o0 + d0 + 4 * v, a0[v]);
                if (two) st4(o1 + d0 + 4 * v, a1[v]);
            }
        }
        for (int c = 0; c < nc && dv < dh; c++) {
            const float *yc = y + c * ys;
            float u0 = w0[c * wc], u1 = w1[c * wc];
            for (int d = dv; d < dh; d++) o0[d] += u0 * yc[d];
            if (two)
                for (int d = dv; d < dh; d++) o1[d] += u1 * yc[d];
        }
    }
}

/* Keys a query row sees within the tile starting at key c0 (nc keys): all of them, or
 * under the causal mask those at absolute positions <= its own (pos). */
static int visible(int causal, int64_t pos, int64_t c0, int nc) {
    if (!causal) return nc;
    int64_t e = pos - c0 + 1;
    return e <= 0 ? 0 : (int)min64(e, nc);
}

/* One (b, h) slice of a [B, T, H, Dh] tensor: row i at p + i * s. */
typedef struct rows_f32 {
    float *p;
    int64_t s;
} rows_f32;

static rows_f32 slice(const lt_tensor *t, int64_t b, int64_t h) {
    rows_f32 r = {(float *)lt_cpu_ptr(t) + b * t->stride[0] + h * t->stride[2], t->stride[1]};
    return r;
}

static void zero_rows(rows_f32 x, int64_t from, int64_t to, int dh) {
    for (int64_t i = from; i < to; i++) memset(x.p + i * x.s, 0, (size_t)dh * sizeof(float));
}

/* Forward of nr query rows (q, first at absolute position `first`) against keys
 * [0, nkeys): writes nr rows of out and, when lse is non-NULL, nr lse values. */
static void fwd_tile(rows_f32 q, int nr, int64_t first, rows_f32 k, rows_f32 v, int64_t nkeys,
                     int causal, float scale, int dh, rows_f32 out, float *lse, float *scratch) {
    float *qs = scratch;         /* [BR][dh]: q * scale */
    float *o = qs + BR * dh;     /* [BR][dh]: unnormalised output */
    float *kt = o + BR * dh;     /* [dh][BC]: the key tile, transposed */
    float *s = kt + dh * BC;     /* [BR][BC]: scores, then probabilities */
    float *m = s + BR * BC;      /* running max per row */
    float *l = m + BR;           /* running sum per row */
    for (int i = 0; i < nr; i++) {
        for (int d = 0; d < dh; d++) qs[i * dh + d] = q.p[i * q.s + d] * scale;
        m[i] = -INFINITY;
        l[i] = 0.0f;
    }
    memset(o, 0, (size_t)nr * dh * sizeof(float));
    int64_t kend = causal ? min64(nkeys, first + nr) : nkeys;
    for (int64_t c0 = 0; c0 < kend; c0 += BC) {
        int nc = (int)min64(BC, kend - c0);
        load_transposed(nc, dh, k.p + c0 * k.s, k.s, kt);
        rows_times_t(nr, dh, qs, dh, kt, s);
        for (int i = 0; i < nr; i++) {
            float *si = s + i * BC;
            int lim = visible(causal, first + i, c0, nc);
            float mx = m[i];
            for (int j = 0; j < lim; j++) mx = si[j] > mx ? si[j] : mx;
            for (int j = 0; j < lim; j++) si[j] -= mx;
            exp_inplace(si, lim);
            float sum = 0.0f;
            for (int j = 0; j < lim; j++) sum += si[j];
            for (int j = lim; j < nc; j++) si[j] = 0.0f;
            if (lim == 0) continue;
            /* Online softmax: earlier tiles were weighted by exp(-m_old); reweight. */
            float corr = expf(m[i] - mx);
            if (corr != 1.0f)
                for (int d = 0; d < dh; d++) o[i * dh + d] *= corr;
            l[i] = l[i] * corr + sum;
            m[i] = mx;
        }
        acc_rows(nr, nc, dh, s, BC, 1, v.p + c0 * v.s, v.s, o, dh);
    }
    for (int i = 0; i < nr; i++) {
        float inv = 1.0f / l[i];
        float *dst = out.p + i * out.s;
        for (int d = 0; d < dh; d++) dst[d] = o[i * dh + d] * inv;
        if (lse) lse[i] = m[i] + logf(l[i]);
    }
}

lt_status lt_cpu_attn_fwd(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *q = call->src[0], *k = call->src[1], *v = call->src[2], *len = call->src[3];
    lt_tensor *out = call->dst[0], *lse = call->dst[1];
    if (q->dtype != LT_F32 || out->dtype != LT_F32) {
        if (lt_cpu_is_half(q)) return lt_cpu_half_staged(dev, call);
        return lt_error(LT_ERR_UNSUPPORTED, "attn_fwd: backend cpu supports f32 (and bf16/f16 "
                        "operands) only, got %s", lt_dtype_name(q->dtype));
    }
    int64_t B = q->shape[0], T = q->shape[1], H = q->shape[2];
    int dh = (int)q->shape[3];
    LT_TRY(lt_attn_check_lengths("attn_fwd", len, B, 0, T, "0 .. T"));
    int nt = lt_cpu_threads(dev);
    float *scratch = alloc_scratch("attn_fwd", dh, nt, 0);
    if (!scratch) return LT_ERR_OUT_OF_MEMORY;
    size_t per = scratch_floats(dh, 0);
    int64_t nq = (T + BR - 1) / BR, items = B * H * nq;
    int causal = call->p.attn.causal;
    float scale = call->p.attn.scale;
    float *lse_p = (float *)lt_cpu_ptr(lse);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
#endif
    for (int64_t w = 0; w < items; w++) {
        /* Every head's last query tile first: under the causal mask they are the
         * longest, and dynamic scheduling balances best when long items start early. */
        int64_t bh = w % (B * H), r0 = (nq - 1 - w / (B * H)) * BR;
        int64_t b = bh / H, h = bh % H;
        int64_t L = lt_attn_length(len, b, T), r1 = min64(r0 + BR, T);
        rows_f32 o = slice(out, b, h);
        float *lse_bh = lse_p + bh * T;
        int64_t nr = r0 < L ? min64(r1, L) - r0 : 0;
        if (nr > 0) {
            rows_f32 qr = slice(q, b, h);
            qr.p += r0 * qr.s;
            rows_f32 orow = {o.p + r0 * o.s, o.s};
            fwd_tile(qr, (int)nr, r0, slice(k, b, h), slice(v, b, h), L, causal, scale, dh, orow,
                     lse_bh + r0, scratch + per * (size_t)thread_id());
        }
        zero_rows(o, r0 + nr, r1, dh); /* padding rows */
        for (int64_t i = r0 + nr; i < r1; i++) lse_bh[i] = 0.0f;
    }
    free(scratch);
    return LT_OK;
}

/* Backward of one (b, h): dq, dk, dv rows [0, T) of the slice, L valid rows. */
typedef struct bwd_head {
    rows_f32 q, k, v, o, dout, dq, dk, dv;
    const float *lse;
    int64_t T, L;
    int causal, dh;
    float scale;
} bwd_head;

static void bwd_one_head(const bwd_head *a, float *scratch) {
    int dh = a->dh;
    float *kt = scratch;      /* [dh][BC] key tile, transposed */
    float *vt = kt + dh * BC; /* [dh][BC] value tile, transposed */
    float *dk = vt + dh * BC; /* [BC][dh] */
    float *dv = dk + BC * dh; /* [BC][dh] */
    float *p = dv + BC * dh;  /* [BR][BC] probabilities */
    float *ds = p + BR * BC;  /* [BR][BC] dP, then dS * scale */
    float *dd = ds + BR * BC; /* [BR]: D_i = dO_i . O_i */
    zero_rows(a->dq, 0, a->T, dh);
    zero_rows(a->dk, a->L, a->T, dh);
    zero_rows(a->dv, a->L, a->T, dh);
    for (int64_t c0 = 0; c0 < a->L; c0 += BC) {
        int nc = (int)min64(BC, a->L - c0);
        const float *kc = a->k.p + c0 * a->k.s;
        load_transposed(nc, dh, kc, a->k.s, kt);
        load_transposed(nc, dh, a->v.p + c0 * a->v.s, a->v.s, vt);
        memset(dk, 0, (size_t)nc * dh * sizeof(float));
        memset(dv, 0, (size_t)nc * dh * sizeof(float));
        /* Under the causal mask, queries before c0 see nothing of this tile. */
        for (int64_t r0 = a->causal ? c0 : 0; r0 < a->L; r0 += BR) {
            int nr = (int)min64(BR, a->L - r0);
            const float *qi = a->q.p + r0 * a->q.s, *doi = a->dout.p + r0 * a->dout.s;
            const float *oi = a->o.p + r0 * a->o.s, *lse = a->lse + r0;
            for (int i = 0; i < nr; i++) {
                const float *x = doi + i * a->dout.s, *y = oi + i * a->o.s;
                float acc = 0.0f;
                for (int d = 0; d < dh; d++) acc += x[d] * y[d];
                dd[i] = acc;
            }
            rows_times_t(nr, dh, qi, a->q.s, kt, p);
            for (int i = 0; i < nr; i++) {
                float *pi = p + i * BC;
                int lim = visible(a->causal, r0 + i, c0, nc);
                for (int j = 0; j < lim; j++) pi[j] = pi[j] * a->scale - lse[i];
                exp_inplace(pi, lim);
                for (int j = lim; j < nc; j++) pi[j] = 0.0f;
            }
            acc_rows(nc, nr, dh, p, 1, BC, doi, a->dout.s, dv, dh); /* dV += P^T dO */
            rows_times_t(nr, dh, doi, a->dout.s, vt, ds);           /* dP = dO V^T */
            for (int i = 0; i < nr; i++)
                for (int j = 0; j < nc; j++)
                    ds[i * BC + j] = p[i * BC + j] * (ds[i * BC + j] - dd[i]) * a->scale;
            acc_rows(nr, nc, dh, ds, BC, 1, kc, a->k.s, a->dq.p + r0 * a->dq.s, a->dq.s);
            acc_rows(nc, nr, dh, ds, 1, BC, qi, a->q.s, dk, dh); /* dK += dS^T Q */
        }
        for (int j = 0; j < nc; j++) {
            memcpy(a->dk.p + (c0 + j) * a->dk.s, dk + j * dh, (size_t)dh * sizeof(float));
            memcpy(a->dv.p + (c0 + j) * a->dv.s, dv + j * dh, (size_t)dh * sizeof(float));
        }
    }
}

lt_status lt_cpu_attn_bwd(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *dout = call->src[0], *q = call->src[1], *k = call->src[2], *v = call->src[3];
    const lt_tensor *o = call->src[4], *lse = call->src[5], *len = call->src[6];
    lt_tensor *dq = call->dst[0], *dk = call->dst[1], *dv = call->dst[2];
    if (q->dtype != LT_F32 || o->dtype != LT_F32 || dq->dtype != LT_F32) {
        if (lt_cpu_is_half(q)) return lt_cpu_half_staged(dev, call);
        return lt_error(LT_ERR_UNSUPPORTED, "attn_bwd: backend cpu supports f32 (and bf16/f16 "
                        "operands) only, got %s", lt_dtype_name(q->dtype));
    }
    int64_t B = q->shape[0], T = q->shape[1], H = q->shape[2];
    int dh = (int)q->shape[3];
    LT_TRY(lt_attn_check_lengths("attn_bwd", len, B, 0, T, "0 .. T"));
    int nt = lt_cpu_threads(dev);
    float *scratch = alloc_scratch("attn_bwd", dh, nt, 1);
    if (!scratch) return LT_ERR_OUT_OF_MEMORY;
    size_t per = scratch_floats(dh, 1);
    const float *lse_p = (const float *)lt_cpu_ptr(lse);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
#endif
    for (int64_t bh = 0; bh < B * H; bh++) {
        int64_t b = bh / H, h = bh % H;
        bwd_head a = {slice(q, b, h), slice(k, b, h), slice(v, b, h), slice(o, b, h),
                      slice(dout, b, h), slice(dq, b, h), slice(dk, b, h), slice(dv, b, h),
                      lse_p + bh * T, T, lt_attn_length(len, b, T), call->p.attn.causal, dh,
                      call->p.attn.scale};
        bwd_one_head(&a, scratch + per * (size_t)thread_id());
    }
    free(scratch);
    return LT_OK;
}

/* Decode is the forward with the query rows shifted: new token t of sample b sits at
 * position lengths[b] - Tq + t of the cache and sees the cache up to it. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define LT_DECODE_AVX2 1
/* One new token per sample is bound by reading the cache once, so the decode fast path
 * walks contiguous key rows (dot products, four keys per q load, 8-wide FMAs), keeps an
 * online softmax per 64-key block and accumulates p_j v_j over contiguous value rows:
 * ~4x the tiled path here (bench/attn_decode_sandbox.c has the measurement). Compiled for
 * AVX2+FMA and chosen at run time, like the own GEMM's kernels. */
typedef float lt_f8 __attribute__((vector_size(32)));

__attribute__((target("avx2,fma"))) static inline lt_f8 ld8(const float *p) {
    lt_f8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* q [dh]; keys/values j < L at k + j*ks, v + j*vs; dh % 8 == 0 and dh <= 256. */
__attribute__((target("avx2,fma"))) static void decode_one(const float *q, const float *k, int64_t ks,
                                                           const float *v, int64_t vs, int64_t L, int dh,
                                                           float scale, float *out) {
    enum { DBLK = 64 };
    const int nv = dh / 8;
    lt_f8 qv[32], o[32];
    float sc[DBLK], m = -INFINITY, l = 0.0f;
    for (int u = 0; u < nv; u++) {
        qv[u] = ld8(q + 8 * u) * scale;
        o[u] = (lt_f8){0};
    }
    for (int64_t c0 = 0; c0 < L; c0 += DBLK) {
        const int nc = L - c0 < DBLK ? (int)(L - c0) : DBLK;
        int j = 0;
        for (; j + 4 <= nc; j += 4) {
            const float *k0 = k + (c0 + j) * ks;
            lt_f8 a[4] = {{0}, {0}, {0}, {0}};
            for (int u = 0; u < nv; u++)
                for (int r = 0; r < 4; r++) a[r] += qv[u] * ld8(k0 + r * ks + 8 * u);
            for (int r = 0; r < 4; r++) {
                float t = 0.0f;
                for (int e = 0; e < 8; e++) t += a[r][e];
                sc[j + r] = t;
            }
        }
        for (; j < nc; j++) {
            const float *k0 = k + (c0 + j) * ks;
            lt_f8 a = {0};
            for (int u = 0; u < nv; u++) a += qv[u] * ld8(k0 + 8 * u);
            float t = 0.0f;
            for (int e = 0; e < 8; e++) t += a[e];
            sc[j] = t;
        }
        float mx = m, sum = 0.0f;
        for (j = 0; j < nc; j++) mx = sc[j] > mx ? sc[j] : mx;
        for (j = 0; j < nc; j++) sum += (sc[j] = expf(sc[j] - mx));
        const float corr = expf(m - mx); /* online softmax: reweight the earlier blocks */
        for (int u = 0; u < nv; u++) o[u] *= corr;
        l = l * corr + sum;
        m = mx;
        for (j = 0; j < nc; j++) {
            const float *vj = v + (c0 + j) * vs, w = sc[j];
            for (int u = 0; u < nv; u++) o[u] += w * ld8(vj + 8 * u);
        }
    }
    for (int u = 0; u < nv; u++) {
        lt_f8 r = o[u] / l;
        memcpy(out + 8 * u, &r, sizeof r);
    }
}

static int decode_fast_ok(int64_t Tq, int dh) {
    static int cpu_ok = -1;
    if (cpu_ok < 0) cpu_ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return cpu_ok && Tq == 1 && dh % 8 == 0 && dh <= 256 && getenv("LORETTA_CPU_DECODE_TILED") == NULL;
}
#endif

lt_status lt_cpu_attn_decode(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *q = call->src[0], *kc = call->src[1], *vc = call->src[2], *len = call->src[3];
    lt_tensor *out = call->dst[0];
    if (q->dtype != LT_F32)
        return lt_error(LT_ERR_UNSUPPORTED, "attn_decode: backend cpu supports f32 only, got %s",
                        lt_dtype_name(q->dtype));
    int64_t B = q->shape[0], Tq = q->shape[1], H = q->shape[2], Tmax = kc->shape[1];
    int dh = (int)q->shape[3];
    LT_TRY(lt_attn_check_lengths("attn_decode", len, B, Tq, Tmax, "Tq .. Tmax"));
    int nt = lt_cpu_threads(dev);
#ifdef LT_DECODE_AVX2
    if (decode_fast_ok(Tq, dh)) {
        const float *qp = lt_cpu_ptr(q), *kp = lt_cpu_ptr(kc), *vp = lt_cpu_ptr(vc);
        float *op = lt_cpu_ptr(out);
        const float scale = call->p.attn.scale;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nt)
#endif
        for (int64_t bh = 0; bh < B * H; bh++) {
            int64_t b = bh / H, h = bh % H, L = lt_attn_length(len, b, Tmax);
            decode_one(qp + b * q->stride[0] + h * q->stride[2], kp + b * kc->stride[0] + h * kc->stride[2],
                       kc->stride[1], vp + b * vc->stride[0] + h * vc->stride[2], vc->stride[1], L, dh, scale,
                       op + b * out->stride[0] + h * out->stride[2]);
        }
        return LT_OK;
    }
#endif
    float *scratch = alloc_scratch("attn_decode", dh, nt, 0);
    if (!scratch) return LT_ERR_OUT_OF_MEMORY;
    size_t per = scratch_floats(dh, 0);
    int64_t nq = (Tq + BR - 1) / BR, items = B * H * nq;
    float scale = call->p.attn.scale;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
#endif
    for (int64_t w = 0; w < items; w++) {
        int64_t bh = w / nq, r0 = (w % nq) * BR;
        int64_t b = bh / H, h = bh % H;
        int64_t L = lt_attn_length(len, b, Tmax), nr = min64(BR, Tq - r0);
        rows_f32 qr = slice(q, b, h), o = slice(out, b, h);
        qr.p += r0 * qr.s;
        o.p += r0 * o.s;
        fwd_tile(qr, (int)nr, L - Tq + r0, slice(kc, b, h), slice(vc, b, h), L, 1, scale, dh, o,
                 NULL, scratch + per * (size_t)thread_id());
    }
    free(scratch);
    return LT_OK;
}

/* A plain copy, so any dtype: cache[b, pos[b] + t] = x[b, t] row by row. */
lt_status lt_cpu_kv_write(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    const lt_tensor *x = call->src[0], *pos = call->src[1];
    lt_tensor *cache = call->dst[0];
    int64_t B = x->shape[0], Tn = x->shape[1], H = x->shape[2], dh = x->shape[3];
    LT_TRY(lt_attn_check_pos(pos, B, Tn, cache->shape[1]));
    size_t es = lt_dtype_size(x->dtype), row = (size_t)dh * es;
    const int32_t *p = (const int32_t *)lt_cpu_ptr(pos);
    const char *xs = (const char *)lt_cpu_ptr(x);
    char *cs = (char *)lt_cpu_ptr(cache);
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < Tn; t++)
            for (int64_t h = 0; h < H; h++)
                memcpy(cs + (size_t)(b * cache->stride[0] + (p[b] + t) * cache->stride[1] +
                                     h * cache->stride[2]) * es,
                       xs + (size_t)(b * x->stride[0] + t * x->stride[1] + h * x->stride[2]) * es,
                       row);
    return LT_OK;
}
