/* backends/cuda/attention.cu - tiled (flash) attention: forward, backward, KV-cache
 * decode, KV-cache write.
 *
 * Forward: one block per (b, h, tile of BQ queries). Key/value tiles of BK rows pass
 * through shared memory; each query row keeps a running max m, sum l and output
 * accumulator, rescaled by exp(m_old - m_new) when the max grows (online softmax), so
 * no T x T matrix exists. lse = m + log(l) is saved for the backward pass.
 *
 * Backward (FlashAttention-2 style, deterministic without atomics): a small kernel forms
 * D_i = dO_i . O_i; one kernel per key tile accumulates dK and dV over the query tiles,
 * another per query tile accumulates dQ over the key tiles. Both recompute
 * P = exp(s - lse) from the saved lse. With s = scale q.k:
 *   dP = dO V^T,  dS = P * (dP - D),  dQ = scale dS K,  dK = scale dS^T Q,  dV = P^T dO.
 *
 * Everything is f32 in shared memory whatever the tensor dtype. The key and value tiles
 * have rows padded to Dh + 1 floats: a warp reads 32 different rows at the same column,
 * which would otherwise hit one memory bank.
 *
 * Lengths are read back and checked on the host first (the same ranges and message as
 * the reference backend): [0, T] for forward/backward, [Tq, Tmax] for decode. */
#include <stdlib.h>
#include <string.h>

#include "attention_tc.cuh"
#include "cuda_kernels.cuh"

#define BQ 16            /* queries per tile */
#define BK 32            /* keys per tile: one per lane in the softmax step */
#define ATTN_THREADS 128 /* 4 warps */

/* A [B, T, H, Dh] view: base pointer and element strides. */
typedef struct attn_view {
    void *p;
    int64_t sb, st, sh, sd;
    int dt; /* LT_F32, LT_BF16 or LT_F16: each tensor has its own */
} attn_view;

static attn_view view_of(const lt_tensor *t) {
    attn_view v;
    v.p = lt_cuda_ptr(t);
    v.sb = t->stride[0];
    v.st = t->stride[1];
    v.sh = t->stride[2];
    v.sd = t->stride[3];
    v.dt = (int)t->dtype;
    return v;
}

LT_DEV int64_t at(const attn_view &v, int64_t b, int64_t i, int64_t h, int64_t d) {
    return b * v.sb + i * v.st + h * v.sh + d * v.sd;
}

typedef struct attn_args {
    attn_view q, k, v, o;        /* forward: out; decode: out */
    attn_view dout, dq, dk, dv;  /* backward only */
    float *lse;                  /* [B, H, Tq]; NULL for decode */
    float *drow;                 /* backward: D_i, laid out like lse */
    const int32_t *lengths;      /* NULL = all Tk */
    int causal, decode;
    int64_t B, Tq, Tk, H, Dh;
    float scale;
} attn_args;

LT_DEV int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
LT_DEV int64_t clamp64(int64_t x, int64_t lo, int64_t hi) { return x < lo ? lo : x > hi ? hi : x; }

LT_DEV float dot_rows(const float *a, const float *b, int64_t n) {
    float s = 0.0f;
    for (int64_t d = 0; d < n; d++) s += a[d] * b[d];
    return s;
}

/* ------------------------------------------------------------------ forward ---- */

static size_t fwd_smem_floats(int64_t Dh) {
    return (size_t)(BQ * Dh + BK * (Dh + 1) + BK * (Dh + 1) + BQ * BK + BQ * Dh + 3 * BQ);
}

/* Forward and decode. Query row i (of Tq) sits at key position i + off and sees keys
 * j < kvlen (and j <= i + off when causal). Forward: off = 0, kvlen = L, rows i >= L are
 * padding (out = 0, lse = 0). Decode: off = L - Tq, kvlen = L, every row is real. */
__global__ void __launch_bounds__(ATTN_THREADS) lt_attn_fwd_kernel(attn_args a) {
    extern __shared__ float sm[];
    const int64_t Dh = a.Dh, KST = Dh + 1;
    float *Qs = sm, *Ks = Qs + BQ * Dh, *Vs = Ks + BK * KST, *S = Vs + BK * KST;
    float *O = S + BQ * BK, *m = O + BQ * Dh, *l = m + BQ, *corr = l + BQ;

    const int64_t ntiles = (a.Tq + BQ - 1) / BQ;
    const int64_t tile = blockIdx.x % ntiles, bh = blockIdx.x / ntiles;
    const int64_t h = bh % a.H, b = bh / a.H;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;

    const int64_t L = a.lengths ? a.lengths[b] : a.Tk;
    const int64_t off = a.decode ? L - a.Tq : 0;
    const int64_t qvalid = a.decode ? a.Tq : L;
    const int64_t i0 = tile * BQ;
    const int64_t rows = min64(BQ, a.Tq - i0);
    const int64_t vrows = clamp64(min64(qvalid, a.Tq) - i0, 0, BQ);
    int64_t jend = vrows > 0 ? L : 0;
    if (a.causal && vrows > 0) jend = min64(jend, i0 + vrows + off);

    for (int64_t e = tid; e < BQ * Dh; e += ATTN_THREADS) {
        int64_t r = e / Dh, d = e % Dh;
        Qs[e] = r < vrows ? lt_ld(a.q.p, a.q.dt, at(a.q, b, i0 + r, h, d)) : 0.0f;
        O[e] = 0.0f;
    }
    if (tid < BQ) {
        m[tid] = -INFINITY;
        l[tid] = 0.0f;
    }
    __syncthreads();

    for (int64_t j0 = 0; j0 < jend; j0 += BK) {
        for (int64_t e = tid; e < BK * Dh; e += ATTN_THREADS) {
            int64_t c = e / Dh, d = e % Dh, j = j0 + c;
            int ok = j < jend;
            Ks[c * KST + d] = ok ? lt_ld(a.k.p, a.k.dt, at(a.k, b, j, h, d)) : 0.0f;
            Vs[c * KST + d] = ok ? lt_ld(a.v.p, a.v.dt, at(a.v, b, j, h, d)) : 0.0f;
        }
        __syncthreads();
        for (int e = tid; e < BQ * BK; e += ATTN_THREADS) {
            int r = e / BK, c = e % BK;
            int64_t i = i0 + r, j = j0 + c;
            int visible = r < vrows && j < jend && (!a.causal || j <= i + off);
            S[e] = visible ? dot_rows(Qs + r * Dh, Ks + c * KST, Dh) * a.scale : -INFINITY;
        }
        __syncthreads();
        /* Online softmax: warp w owns rows w, w+4, ...; lane = key column. */
        for (int r = warp; r < BQ; r += ATTN_THREADS / 32) {
            float s = S[r * BK + lane];
            float m_old = m[r];
            float m_new = fmaxf(m_old, lt_warp_max(s));
            float p = s == -INFINITY ? 0.0f : expf(s - m_new);
            float c = m_old == -INFINITY ? 0.0f : expf(m_old - m_new);
            float psum = lt_warp_sum(p);
            S[r * BK + lane] = p;
            if (lane == 0) {
                l[r] = l[r] * c + psum;
                m[r] = m_new;
                corr[r] = c;
            }
        }
        __syncthreads();
        for (int64_t e = tid; e < BQ * Dh; e += ATTN_THREADS) {
            int64_t r = e / Dh, d = e % Dh;
            float acc = O[e] * corr[r];
            for (int c = 0; c < BK; c++) acc += S[r * BK + c] * Vs[c * KST + d];
            O[e] = acc;
        }
        __syncthreads();
    }

    for (int64_t e = tid; e < BQ * Dh; e += ATTN_THREADS) {
        int64_t r = e / Dh, d = e % Dh;
        if (r >= rows) continue;
        lt_st(a.o.p, a.o.dt, at(a.o, b, i0 + r, h, d), r < vrows ? O[e] / l[r] : 0.0f);
    }
    if (a.lse && tid < rows) {
        int64_t idx = (b * a.H + h) * a.Tq + i0 + tid;
        a.lse[idx] = tid < vrows ? m[tid] + logf(l[tid]) : 0.0f;
    }
}

/* ----------------------------------------------------------------- backward ---- */

/* D_i = dO_i . O_i, one warp per (b, h, i). */
__global__ void lt_attn_bwd_drow(attn_args a) {
    const int lane = threadIdx.x & 31;
    const int64_t row = (int64_t)blockIdx.x * (blockDim.x / 32) + (threadIdx.x >> 5);
    if (row >= a.B * a.H * a.Tq) return; /* whole warps leave together */
    const int64_t i = row % a.Tq, bh = row / a.Tq, h = bh % a.H, b = bh / a.H;
    float s = 0.0f;
    for (int64_t d = lane; d < a.Dh; d += 32)
        s += lt_ld(a.dout.p, a.dout.dt, at(a.dout, b, i, h, d)) * lt_ld(a.o.p, a.o.dt, at(a.o, b, i, h, d));
    s = lt_warp_sum(s);
    if (lane == 0) a.drow[row] = s;
}

/* Loads query rows i0.. (zero past L) with their dO rows, lse and D. */
LT_DEV void load_query_tile(const attn_args &a, int64_t b, int64_t h, int64_t i0, int64_t L,
                            float *Qs, float *dOs, float *lse_s, float *d_s) {
    const int64_t Dh = a.Dh;
    for (int64_t e = threadIdx.x; e < BQ * Dh; e += ATTN_THREADS) {
        int64_t r = e / Dh, d = e % Dh, i = i0 + r;
        int ok = i < L;
        Qs[e] = ok ? lt_ld(a.q.p, a.q.dt, at(a.q, b, i, h, d)) : 0.0f;
        dOs[e] = ok ? lt_ld(a.dout.p, a.dout.dt, at(a.dout, b, i, h, d)) : 0.0f;
    }
    if (threadIdx.x < BQ) {
        int64_t i = i0 + threadIdx.x, idx = (b * a.H + h) * a.Tq + i;
        lse_s[threadIdx.x] = i < L ? a.lse[idx] : 0.0f;
        d_s[threadIdx.x] = i < L ? a.drow[idx] : 0.0f;
    }
}

/* Loads key/value rows j0.. (zero from jend on) into padded tiles. */
LT_DEV void load_key_tile(const attn_args &a, int64_t b, int64_t h, int64_t j0, int64_t jend,
                          float *Ks, float *Vs) {
    const int64_t Dh = a.Dh, KST = Dh + 1;
    for (int64_t e = threadIdx.x; e < BK * Dh; e += ATTN_THREADS) {
        int64_t c = e / Dh, d = e % Dh, j = j0 + c;
        int ok = j < jend;
        Ks[c * KST + d] = ok ? lt_ld(a.k.p, a.k.dt, at(a.k, b, j, h, d)) : 0.0f;
        Vs[c * KST + d] = ok ? lt_ld(a.v.p, a.v.dt, at(a.v, b, j, h, d)) : 0.0f;
    }
}

/* P and dS of one (query tile, key tile) pair; masked entries are exactly 0. */
LT_DEV void tile_grads(const attn_args &a, int64_t i0, int64_t j0, int64_t L, const float *Qs,
                       const float *dOs, const float *lse_s, const float *d_s, const float *Ks,
                       const float *Vs, float *P, float *dS) {
    const int64_t Dh = a.Dh, KST = Dh + 1;
    for (int e = threadIdx.x; e < BQ * BK; e += ATTN_THREADS) {
        int r = e / BK, c = e % BK;
        int64_t i = i0 + r, j = j0 + c;
        float p = 0.0f, ds = 0.0f;
        if (i < L && j < L && (!a.causal || j <= i)) {
            float s = dot_rows(Qs + r * Dh, Ks + c * KST, Dh) * a.scale;
            p = expf(s - lse_s[r]);
            ds = p * (dot_rows(dOs + r * Dh, Vs + c * KST, Dh) - d_s[r]);
        }
        if (P) P[e] = p;
        dS[e] = ds;
    }
}

static size_t bwd_kv_smem_floats(int64_t Dh) {
    return (size_t)(2 * BK * (Dh + 1) + 2 * BK * Dh + 2 * BQ * Dh + 2 * BQ * BK + 2 * BQ);
}

/* dK and dV of one tile of BK keys, summed over every query that sees them. */
__global__ void __launch_bounds__(ATTN_THREADS) lt_attn_bwd_kv_kernel(attn_args a) {
    extern __shared__ float sm[];
    const int64_t Dh = a.Dh, KST = Dh + 1, T = a.Tq;
    float *Ks = sm, *Vs = Ks + BK * KST, *dK = Vs + BK * KST, *dV = dK + BK * Dh;
    float *Qs = dV + BK * Dh, *dOs = Qs + BQ * Dh, *P = dOs + BQ * Dh, *dS = P + BQ * BK;
    float *lse_s = dS + BQ * BK, *d_s = lse_s + BQ;

    const int64_t ntiles = (T + BK - 1) / BK;
    const int64_t tile = blockIdx.x % ntiles, bh = blockIdx.x / ntiles;
    const int64_t h = bh % a.H, b = bh / a.H;
    const int64_t L = a.lengths ? a.lengths[b] : T;
    const int64_t j0 = tile * BK, krows = min64(BK, T - j0), kvalid = clamp64(L - j0, 0, BK);

    if (kvalid > 0) {
        load_key_tile(a, b, h, j0, j0 + kvalid, Ks, Vs);
        for (int64_t e = threadIdx.x; e < BK * Dh; e += ATTN_THREADS) dK[e] = dV[e] = 0.0f;
        /* Causal: only queries i >= j0 see a key of this tile. */
        for (int64_t i0 = a.causal ? j0 : 0; i0 < L; i0 += BQ) {
            load_query_tile(a, b, h, i0, L, Qs, dOs, lse_s, d_s);
            __syncthreads();
            tile_grads(a, i0, j0, L, Qs, dOs, lse_s, d_s, Ks, Vs, P, dS);
            __syncthreads();
            for (int64_t e = threadIdx.x; e < BK * Dh; e += ATTN_THREADS) {
                int64_t c = e / Dh, d = e % Dh;
                float dv = dV[e], dk = dK[e];
                for (int r = 0; r < BQ; r++) {
                    dv += P[r * BK + c] * dOs[r * Dh + d];
                    dk += dS[r * BK + c] * Qs[r * Dh + d];
                }
                dV[e] = dv;
                dK[e] = dk;
            }
            __syncthreads();
        }
    }
    for (int64_t e = threadIdx.x; e < BK * Dh; e += ATTN_THREADS) {
        int64_t c = e / Dh, d = e % Dh;
        if (c >= krows) continue;
        lt_st(a.dk.p, a.dk.dt, at(a.dk, b, j0 + c, h, d), c < kvalid ? a.scale * dK[e] : 0.0f);
        lt_st(a.dv.p, a.dv.dt, at(a.dv, b, j0 + c, h, d), c < kvalid ? dV[e] : 0.0f);
    }
}

static size_t bwd_q_smem_floats(int64_t Dh) {
    return (size_t)(3 * BQ * Dh + 2 * BK * (Dh + 1) + BQ * BK + 2 * BQ);
}

/* dQ of one tile of BQ queries, summed over the keys they see. */
__global__ void __launch_bounds__(ATTN_THREADS) lt_attn_bwd_q_kernel(attn_args a) {
    extern __shared__ float sm[];
    const int64_t Dh = a.Dh, KST = Dh + 1, T = a.Tq;
    float *Qs = sm, *dOs = Qs + BQ * Dh, *dQ = dOs + BQ * Dh, *Ks = dQ + BQ * Dh;
    float *Vs = Ks + BK * KST, *dS = Vs + BK * KST, *lse_s = dS + BQ * BK, *d_s = lse_s + BQ;

    const int64_t ntiles = (T + BQ - 1) / BQ;
    const int64_t tile = blockIdx.x % ntiles, bh = blockIdx.x / ntiles;
    const int64_t h = bh % a.H, b = bh / a.H;
    const int64_t L = a.lengths ? a.lengths[b] : T;
    const int64_t i0 = tile * BQ, rows = min64(BQ, T - i0), vrows = clamp64(L - i0, 0, BQ);

    if (vrows > 0) {
        load_query_tile(a, b, h, i0, L, Qs, dOs, lse_s, d_s);
        for (int64_t e = threadIdx.x; e < BQ * Dh; e += ATTN_THREADS) dQ[e] = 0.0f;
        const int64_t jend = a.causal ? min64(L, i0 + vrows) : L;
        for (int64_t j0 = 0; j0 < jend; j0 += BK) {
            load_key_tile(a, b, h, j0, jend, Ks, Vs);
            __syncthreads();
            tile_grads(a, i0, j0, L, Qs, dOs, lse_s, d_s, Ks, Vs, NULL, dS);
            __syncthreads();
            for (int64_t e = threadIdx.x; e < BQ * Dh; e += ATTN_THREADS) {
                int64_t r = e / Dh, d = e % Dh;
                float acc = dQ[e];
                for (int c = 0; c < BK; c++) acc += dS[r * BK + c] * Ks[c * KST + d];
                dQ[e] = acc;
            }
            __syncthreads();
        }
    }
    for (int64_t e = threadIdx.x; e < BQ * Dh; e += ATTN_THREADS) {
        int64_t r = e / Dh, d = e % Dh;
        if (r >= rows) continue;
        lt_st(a.dq.p, a.dq.dt, at(a.dq, b, i0 + r, h, d), r < vrows ? a.scale * dQ[e] : 0.0f);
    }
}

/* ------------------------------------------------------------------- host ---- */

static lt_status check_lengths(lt_cuda_device *cd, const char *op, const lt_tensor *len,
                               int64_t B, int64_t lo, int64_t hi, const char *range) {
    if (!len) return LT_OK;
    int32_t *l = NULL;
    LT_TRY(lt_cuda_fetch(cd, op, len, (void **)&l));
    lt_status s = LT_OK;
    for (int64_t b = 0; b < B && s == LT_OK; b++)
        if (l[b] < lo || l[b] > hi)
            s = lt_error(LT_ERR_RANGE, "%s: lengths[%lld] = %d is outside [%lld, %lld] (%s)", op,
                         (long long)b, (int)l[b], (long long)lo, (long long)hi, range);
    free(l);
    return s;
}

/* Grid of B*H*ceil(T/tile) blocks and the kernel's shared memory, opted into when it
 * exceeds the default 48 KiB. */
static lt_status launch_shape(lt_cuda_device *cd, const char *op, const void *kernel,
                              int64_t blocks, size_t floats, int64_t Dh, size_t *smem) {
    if (blocks > INT32_MAX)
        return lt_error(LT_ERR_UNSUPPORTED, "%s: %lld thread blocks exceed the grid limit", op,
                        (long long)blocks);
    *smem = floats * sizeof(float);
    if (*smem > (size_t)(48 << 10)) {
        if (*smem > (size_t)cd->max_smem_optin)
            return lt_error(LT_ERR_UNSUPPORTED,
                            "%s: head dim %lld needs %zu bytes of shared memory, this GPU allows %d",
                            op, (long long)Dh, *smem, cd->max_smem_optin);
        LT_TRY(lt_cuda_check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                  (int)*smem),
                             op, "raising the shared memory limit"));
    }
    return LT_OK;
}

/* Device ready, every [B, T, H, Dh] tensor of a dtype the kernels load and store (each
 * its own: out/dout/dq/dk/dv may be f32 beside bf16/f16 q, k, v), every tensor naturally
 * aligned. The names list the first nsrc src and ndst dst slots. */
static lt_status prepare(lt_device *dev, const char *op, const lt_op_call *call,
                         const char *const *src_names, int nsrc, const char *const *dst_names,
                         int ndst, lt_cuda_device **cd) {
    LT_TRY(lt_cuda_ready(dev, op, cd));
    for (int i = 0; i < nsrc; i++) LT_TRY(lt_cuda_float_dtype(op, src_names[i], call->src[i]));
    for (int i = 0; i < ndst; i++) LT_TRY(lt_cuda_float_dtype(op, dst_names[i], call->dst[i]));
    for (int i = 0; i < LT_MAX_SRC; i++) LT_TRY(lt_cuda_aligned(op, "input", call->src[i]));
    for (int i = 0; i < LT_MAX_DST; i++) LT_TRY(lt_cuda_aligned(op, "output", call->dst[i]));
    return LT_OK;
}

/* Which kernel family runs: the tensor-core one (attention_tc.cu) when it supports the
 * call, unless LORETTA_CUDA_ATTN=simple asks for the simple one (so a GPU check can
 * compare the two on the same device). */
static lt_status use_tensor_cores(const char *op, const lt_op_call *call, int backward,
                                  int *use_tc) {
    const char *mode = getenv("LORETTA_CUDA_ATTN");
    *use_tc = 0;
    if (mode && *mode && strcmp(mode, "auto") != 0 && strcmp(mode, "simple") != 0)
        return lt_error(LT_ERR_INVALID_ARG, "%s: LORETTA_CUDA_ATTN=%s is not one of auto, simple",
                        op, mode);
    if (mode && strcmp(mode, "simple") == 0) return LT_OK;
    *use_tc = lt_cuda_attn_tc_unsupported(call, backward) == NULL;
    return LT_OK;
}

extern "C" lt_status lt_cuda_attn_fwd(lt_device *dev, const lt_op_call *call) {
    lt_cuda_device *cd;
    static const char *const srcs[] = {"q", "k", "v"}, *const dsts[] = {"out"};
    LT_TRY(prepare(dev, "attn_fwd", call, srcs, 3, dsts, 1, &cd));
    const lt_tensor *q = call->src[0], *len = call->src[3];
    const int64_t B = q->shape[0], T = q->shape[1], H = q->shape[2], Dh = q->shape[3];
    if (B * H * T == 0) return LT_OK;
    LT_TRY(check_lengths(cd, "attn_fwd", len, B, 0, T, "0 .. T"));
    int use_tc;
    LT_TRY(use_tensor_cores("attn_fwd", call, 0, &use_tc));
    if (use_tc) return lt_cuda_attn_tc_fwd(cd, call);
    attn_args a = {};
    a.q = view_of(q);
    a.k = view_of(call->src[1]);
    a.v = view_of(call->src[2]);
    a.o = view_of(call->dst[0]);
    a.lse = (float *)lt_cuda_ptr(call->dst[1]);
    a.lengths = (const int32_t *)lt_cuda_ptr(len);
    a.causal = call->p.attn.causal;
    a.B = B, a.Tq = T, a.Tk = T, a.H = H, a.Dh = Dh;
    a.scale = call->p.attn.scale;
    const int64_t blocks = B * H * ((T + BQ - 1) / BQ);
    size_t smem;
    LT_TRY(launch_shape(cd, "attn_fwd", (const void *)lt_attn_fwd_kernel, blocks,
                        fwd_smem_floats(Dh), Dh, &smem));
    lt_attn_fwd_kernel<<<(unsigned)blocks, ATTN_THREADS, smem, cd->stream>>>(a);
    return lt_cuda_launched("attn_fwd");
}

extern "C" lt_status lt_cuda_attn_decode(lt_device *dev, const lt_op_call *call) {
    lt_cuda_device *cd;
    static const char *const srcs[] = {"q", "k_cache", "v_cache"}, *const dsts[] = {"out"};
    LT_TRY(prepare(dev, "attn_decode", call, srcs, 3, dsts, 1, &cd));
    const lt_tensor *q = call->src[0], *kc = call->src[1], *len = call->src[3];
    const int64_t B = q->shape[0], Tq = q->shape[1], H = q->shape[2], Dh = q->shape[3];
    const int64_t Tmax = kc->shape[1];
    if (B * H * Tq == 0) return LT_OK;
    LT_TRY(check_lengths(cd, "attn_decode", len, B, Tq, Tmax, "Tq .. Tmax"));
    attn_args a = {};
    a.q = view_of(q);
    a.k = view_of(kc);
    a.v = view_of(call->src[2]);
    a.o = view_of(call->dst[0]);
    a.lengths = (const int32_t *)lt_cuda_ptr(len);
    a.causal = 1;
    a.decode = 1;
    a.B = B, a.Tq = Tq, a.Tk = Tmax, a.H = H, a.Dh = Dh;
    a.scale = call->p.attn.scale;
    const int64_t blocks = B * H * ((Tq + BQ - 1) / BQ);
    size_t smem;
    LT_TRY(launch_shape(cd, "attn_decode", (const void *)lt_attn_fwd_kernel, blocks,
                        fwd_smem_floats(Dh), Dh, &smem));
    lt_attn_fwd_kernel<<<(unsigned)blocks, ATTN_THREADS, smem, cd->stream>>>(a);
    return lt_cuda_launched("attn_decode");
}

extern "C" lt_status lt_cuda_attn_bwd(lt_device *dev, const lt_op_call *call) {
    lt_cuda_device *cd;
    static const char *const srcs[] = {"dout", "q", "k", "v", "out"},
                             *const dsts[] = {"dq", "dk", "dv"};
    LT_TRY(prepare(dev, "attn_bwd", call, srcs, 5, dsts, 3, &cd));
    const lt_tensor *q = call->src[1], *len = call->src[6];
    const int64_t B = q->shape[0], T = q->shape[1], H = q->shape[2], Dh = q->shape[3];
    if (B * H * T == 0) return LT_OK;
    LT_TRY(check_lengths(cd, "attn_bwd", len, B, 0, T, "0 .. T"));
    int use_tc;
    LT_TRY(use_tensor_cores("attn_bwd", call, 1, &use_tc));
    attn_args a = {};
    a.dout = view_of(call->src[0]);
    a.q = view_of(q);
    a.k = view_of(call->src[2]);
    a.v = view_of(call->src[3]);
    a.o = view_of(call->src[4]);
    a.lse = (float *)lt_cuda_ptr(call->src[5]);
    a.lengths = (const int32_t *)lt_cuda_ptr(len);
    a.dq = view_of(call->dst[0]);
    a.dk = view_of(call->dst[1]);
    a.dv = view_of(call->dst[2]);
    a.causal = call->p.attn.causal;
    a.B = B, a.Tq = T, a.Tk = T, a.H = H, a.Dh = Dh;
    a.scale = call->p.attn.scale;
    void *drow = NULL;
    LT_TRY(lt_cuda_scratch(cd, (size_t)(B * H * T) * sizeof(float), &drow));
    a.drow = (float *)drow;

    const int64_t rows = B * H * T, warps = ATTN_THREADS / 32, drow_blocks = (rows + warps - 1) / warps;
    if (drow_blocks > INT32_MAX)
        return lt_error(LT_ERR_UNSUPPORTED, "attn_bwd: B*H*T = %lld rows need %lld blocks for D, over the "
                        "grid limit of %d", (long long)rows, (long long)drow_blocks, INT32_MAX);
    lt_attn_bwd_drow<<<(unsigned)drow_blocks, ATTN_THREADS, 0, cd->stream>>>(a);
    LT_TRY(lt_cuda_launched("attn_bwd"));
    if (use_tc) return lt_cuda_attn_tc_bwd(cd, call, a.drow);

    size_t smem;
    int64_t blocks = B * H * ((T + BK - 1) / BK);
    LT_TRY(launch_shape(cd, "attn_bwd", (const void *)lt_attn_bwd_kv_kernel, blocks,
                        bwd_kv_smem_floats(Dh), Dh, &smem));
    lt_attn_bwd_kv_kernel<<<(unsigned)blocks, ATTN_THREADS, smem, cd->stream>>>(a);
    LT_TRY(lt_cuda_launched("attn_bwd"));

    blocks = B * H * ((T + BQ - 1) / BQ);
    LT_TRY(launch_shape(cd, "attn_bwd", (const void *)lt_attn_bwd_q_kernel, blocks,
                        bwd_q_smem_floats(Dh), Dh, &smem));
    lt_attn_bwd_q_kernel<<<(unsigned)blocks, ATTN_THREADS, smem, cd->stream>>>(a);
    return lt_cuda_launched("attn_bwd");
}

/* cache[b, pos[b] + t, h, d] = x[b, t, h, d]: same dtype, so the bits are copied. */
__global__ void lt_kv_write_kernel(void *cache, attn_view x, const int32_t *pos, int es,
                                   int64_t Tn, int64_t H, int64_t Dh, int64_t Tmax, int64_t n) {
    LT_GRID_STRIDE(idx, n) {
        int64_t d = idx % Dh, r = idx / Dh, h = r % H;
        r /= H;
        int64_t t = r % Tn, b = r / Tn;
        int64_t s = at(x, b, t, h, d), o = ((b * Tmax + pos[b] + t) * H + h) * Dh + d;
        if (es == 2) ((uint16_t *)cache)[o] = ((const uint16_t *)x.p)[s];
        else if (es == 4) ((uint32_t *)cache)[o] = ((const uint32_t *)x.p)[s];
        else ((uint64_t *)cache)[o] = ((const uint64_t *)x.p)[s];
    }
}

extern "C" lt_status lt_cuda_kv_write(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *x = call->src[0], *pos = call->src[1];
    lt_tensor *cache = call->dst[0];
    lt_cuda_device *cd;
    LT_TRY(lt_cuda_ready(dev, "kv_write", &cd));
    LT_TRY(lt_cuda_aligned("kv_write", "x", x));
    LT_TRY(lt_cuda_aligned("kv_write", "pos", pos));
    LT_TRY(lt_cuda_aligned("kv_write", "cache", cache));
    const int64_t B = x->shape[0], Tn = x->shape[1], H = x->shape[2], Dh = x->shape[3];
    const int64_t Tmax = cache->shape[1], n = B * Tn * H * Dh;
    size_t es = lt_dtype_size(x->dtype);
    if (es != 2 && es != 4 && es != 8)
        return lt_error(LT_ERR_UNSUPPORTED, "kv_write: %s caches are not supported by backend cuda",
                        lt_dtype_name(x->dtype));
    if (B == 0) return LT_OK;
    int32_t *p = NULL;
    LT_TRY(lt_cuda_fetch(cd, "kv_write", pos, (void **)&p));
    lt_status s = LT_OK;
    for (int64_t b = 0; b < B && s == LT_OK; b++)
        if (p[b] < 0 || p[b] + Tn > Tmax)
            s = lt_error(LT_ERR_RANGE,
                         "kv_write: pos[%lld] = %d with %lld new tokens does not fit the cache "
                         "(Tmax = %lld)",
                         (long long)b, (int)p[b], (long long)Tn, (long long)Tmax);
    free(p);
    if (s != LT_OK || n == 0) return s;
    lt_kv_write_kernel<<<lt_cuda_grid(n, LT_CUDA_THREADS), LT_CUDA_THREADS, 0, cd->stream>>>(
        lt_cuda_ptr(cache), view_of(x), (const int32_t *)lt_cuda_ptr(pos), (int)es, Tn, H, Dh, Tmax,
        n);
    return lt_cuda_launched("kv_write");
}
