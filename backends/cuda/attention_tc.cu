/* backends/cuda/attention_tc.cu - FlashAttention-2 style attention on the bf16 tensor
 * cores (mma.sync m16n8k16, f32 accumulation) for head dim 64, sm_80 and later.
 *
 * Forward: a block of 4 warps owns 64 queries of one (b, h), 16 per warp, whose Q rows
 * stay in registers as A fragments. Tiles of 64 keys/values pass through shared memory,
 * two stages deep: cp.async fetches tile t+1 while the warps compute on tile t. Per tile
 * each warp runs tc_fwd_tile (attention_tc.cuh): S = Q K^T, mask, online softmax in
 * registers, O += P V with P re-packed from the S accumulators and V fragments read by
 * ldmatrix.trans. Causal: the block stops at its last query's key, a warp skips the
 * tiles wholly after its rows, the diagonal tile is masked per element.
 *
 * Backward (deterministic, no atomics): D = rowsum(dO * O) comes from attention.cu's
 * small kernel; one block per 64 keys accumulates dK, dV in registers over chunks of 32
 * queries (K, V as A fragments, P^T and dS^T recomputed from lse, then re-packed as A
 * fragments of dV += P^T dO and dK += dS^T Q); one block per 64 queries accumulates dQ
 * over key tiles (dQ += dS K). Every sum runs in a fixed order.
 *
 * Inputs: q, k, v (and dout when bf16) are bf16 rows of 64 elements fetched 16 bytes at
 * a time, so their base pointers must be 16-byte aligned and their strides multiples of
 * 8 elements (lt_cuda_attn_tc_unsupported checks; attention.cu falls back to the simple
 * kernel otherwise). An f32 dout is read with float4 loads and rounded to bf16 on the
 * way into shared memory. Outputs (out, dq, dk, dv: f32 or bf16, any strides) are
 * written two adjacent columns at a time when aligned for it, else one by one. */
#include <stdlib.h>
#include <string.h>

#include "attention_tc.cuh"
#include "cuda_kernels.cuh"

/* A [B, T, H, 64] view: element strides of b, t, h (the last dim is contiguous). */
typedef struct tc_view {
    void *p;
    int64_t sb, st, sh;
    int dt;
    int pair; /* two adjacent columns may be stored as one 4- or 8-byte word */
} tc_view;

typedef struct tc_args {
    tc_view q, k, v, o, dout, dq, dk, dv;
    float *lse;             /* [B, H, T] */
    const float *drow;      /* backward: D, laid out like lse */
    const int32_t *lengths; /* NULL = all T */
    int64_t B, T, H;
    int causal;
    float scale, scale_log2;
} tc_args;

LT_DEV int64_t tc_at(const tc_view &v, int64_t b, int64_t t, int64_t h) {
    return b * v.sb + t * v.st + h * v.sh;
}

LT_DEV int64_t tc_min(int64_t a, int64_t b) { return a < b ? a : b; }
LT_DEV int64_t tc_clamp(int64_t x, int64_t lo, int64_t hi) { return x < lo ? lo : x > hi ? hi : x; }

/* cp.async of 16 bytes; bytes = 0 writes 16 zero bytes and reads nothing. */
LT_DEV void tc_cp_async16(void *smem, const void *gmem, int bytes) {
#if TC_SM80
    unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(bytes)
                 : "memory");
#else
    (void)smem, (void)gmem, (void)bytes;
    __trap();
#endif
}
LT_DEV void tc_cp_commit() {
#if TC_SM80
    asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
/* Waits until at most N committed groups are still in flight. */
template <int N> LT_DEV void tc_cp_wait() {
#if TC_SM80
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

/* Rows r0 .. r0+nrows-1 of (b, h) into shared rows 0 .., zero from row nvalid on (so
 * padding never brings NaN into a product). bf16 rows go by cp.async (the caller
 * commits and waits); f32 rows (dout only) are rounded to bf16 through registers. */
LT_DEV void tc_load_rows(uint16_t *s, const tc_view &v, int64_t b, int64_t h, int64_t r0,
                         int nrows, int64_t nvalid) {
    for (int e = threadIdx.x; e < nrows * (TC_DH / 8); e += TC_THREADS) {
        int r = e / (TC_DH / 8), c = 8 * (e % (TC_DH / 8));
        uint16_t *dst = s + r * TC_PITCH + c;
        int ok = r < nvalid;
        int64_t off = ok ? tc_at(v, b, r0 + r, h) + c : 0;
        if (v.dt == LT_BF16) {
            tc_cp_async16(dst, (const uint16_t *)v.p + off, ok ? 16 : 0);
        } else {
            uint4 u = make_uint4(0u, 0u, 0u, 0u);
            if (ok) {
                const float4 *x = (const float4 *)((const float *)v.p + off);
                float4 x0 = x[0], x1 = x[1];
                u = make_uint4(tc_pack_bf16(x0.x, x0.y), tc_pack_bf16(x0.z, x0.w),
                               tc_pack_bf16(x1.x, x1.y), tc_pack_bf16(x1.z, x1.w));
            }
            *(uint4 *)dst = u;
        }
    }
}

/* Elements off and off+1 of an f32 or bf16 output; bf16 rounds as core/tensor.c does. */
LT_DEV void tc_store2(const tc_view &v, int64_t off, float x0, float x1) {
    if (v.dt == LT_F32) {
        float *p = (float *)v.p + off;
        if (v.pair) {
            *(float2 *)p = make_float2(x0, x1);
        } else {
            p[0] = x0;
            p[1] = x1;
        }
    } else {
        uint16_t *p = (uint16_t *)v.p + off;
        uint16_t h0 = lt_cu_f32_to_bf16(x0), h1 = lt_cu_f32_to_bf16(x1);
        if (v.pair) {
            *(uint32_t *)p = (uint32_t)h0 | (uint32_t)h1 << 16;
        } else {
            p[0] = h0;
            p[1] = h1;
        }
    }
}

/* The warp's 16 x 64 result (C fragments) times mul into rows row0 .. of (b, h): rows
 * >= T are not written, rows >= len get 0. Elements 2hf and 2hf+1 of a C fragment are
 * adjacent columns of one row (tc_mma.cuh layout, checked by the host test). */
LT_DEV void tc_store_rows(const tc_view &v, int64_t b, int64_t h, int64_t row0, int64_t T,
                          int64_t len, const float c[8][4], float mul) {
    const int lane = threadIdx.x & 31;
    TC_UNROLL
    for (int hf = 0; hf < 2; hf++) {
        int64_t row = row0 + tc_c_row(lane, 2 * hf);
        if (row >= T) continue;
        int valid = row < len;
        int64_t base = tc_at(v, b, row, h);
        TC_UNROLL
        for (int nt = 0; nt < 8; nt++) {
            int col = 8 * nt + tc_c_col(lane, 2 * hf);
            tc_store2(v, base + col, valid ? c[nt][2 * hf] * mul : 0.0f,
                      valid ? c[nt][2 * hf + 1] * mul : 0.0f);
        }
    }
}

#define TC_TILE (TC_BK * TC_PITCH) /* bf16 elements of one 64-row tile */

/* K and V tiles of pipeline stage st (0, 1), computed rather than picked from an array
 * (an array indexed at run time would live in local memory). */
LT_DEV uint16_t *tc_stage_k(uint16_t *sm, int st) { return sm + 2 * st * TC_TILE; }
LT_DEV uint16_t *tc_stage_v(uint16_t *sm, int st) { return sm + (2 * st + 1) * TC_TILE; }

/* What a block of the three kernels owns: `rows` consecutive rows (queries or keys)
 * starting at r0 of head h of sample b, `valid` of them below that sample's length L.
 * Grids are B * H * ceil(T / rows) blocks, tiles fastest. */
typedef struct tc_block {
    int64_t b, h, L, r0, valid;
} tc_block;

LT_DEV tc_block tc_block_of(const tc_args &a, int64_t rows) {
    const int64_t ntiles = (a.T + rows - 1) / rows;
    const int64_t tile = blockIdx.x % ntiles, bh = blockIdx.x / ntiles;
    tc_block k;
    k.h = bh % a.H;
    k.b = bh / a.H;
    k.L = a.lengths ? a.lengths[k.b] : a.T;
    k.r0 = tile * rows;
    k.valid = tc_clamp(k.L - k.r0, 0, rows);
    return k;
}

/* The two-stage K/V pipeline of the forward and dQ loops: before computing on tile t
 * (stage t & 1), start fetching tile t + 1 into the other stage and wait only for tile
 * t; on the last tile wait for everything. Ends with the barrier that makes tile t
 * visible to every warp. */
LT_DEV void tc_kv_advance(uint16_t *sm, const tc_args &a, int64_t b, int64_t h, int64_t t,
                          int64_t nk, int64_t kend) {
    if (t + 1 < nk) {
        const int64_t jn = (t + 1) * TC_BK;
        const int sn = (int)((t + 1) & 1);
        tc_load_rows(tc_stage_k(sm, sn), a.k, b, h, jn, TC_BK, tc_min(kend - jn, TC_BK));
        tc_load_rows(tc_stage_v(sm, sn), a.v, b, h, jn, TC_BK, tc_min(kend - jn, TC_BK));
        tc_cp_commit();
        tc_cp_wait<1>();
    } else {
        tc_cp_wait<0>();
    }
    __syncthreads();
}

/* ------------------------------------------------------------------ forward ---- */

/* Shared memory: K and V tiles of two stages; Q passes through stage 1 before the key
 * loop first writes it. */
static const size_t tc_fwd_smem = 4 * TC_TILE * sizeof(uint16_t);

__global__ void __launch_bounds__(TC_THREADS) lt_attn_tc_fwd_kernel(tc_args a) {
    extern __shared__ uint4 tc_sm[];
    uint16_t *sm = (uint16_t *)tc_sm;
    uint16_t *qs = sm + 2 * TC_TILE; /* = stage 1's K tile */
    const tc_gpu_warp w;
    const int warp = threadIdx.x >> 5;

    const tc_block blk = tc_block_of(a, TC_BQ);
    const int64_t b = blk.b, h = blk.h, L = blk.L, i0 = blk.r0, vrows = blk.valid;
    const int64_t row0 = i0 + 16 * warp;

    float o[8][4] = {}, m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
    if (vrows > 0) { /* uniform over the block */
        /* Keys any query of the tile sees. */
        const int64_t kend = a.causal ? tc_min(L, i0 + vrows) : L;
        const int64_t nk = (kend + TC_BK - 1) / TC_BK;
        tc_load_rows(qs, a.q, b, h, i0, TC_BQ, vrows);
        tc_load_rows(tc_stage_k(sm, 0), a.k, b, h, 0, TC_BK, tc_min(kend, TC_BK));
        tc_load_rows(tc_stage_v(sm, 0), a.v, b, h, 0, TC_BK, tc_min(kend, TC_BK));
        tc_cp_commit();
        tc_cp_wait<0>();
        __syncthreads();
        uint32_t qa[4][4];
        tc_load_a<4>(w, qs + 16 * warp * TC_PITCH, TC_PITCH, qa);
        __syncthreads(); /* stage 1 is free again */
        const int live = row0 < i0 + vrows; /* the warp has a non-padding row */
        for (int64_t t = 0; t < nk; t++) {
            const int64_t j0 = t * TC_BK;
            tc_kv_advance(sm, a, b, h, t, nk, kend);
            if (live && (!a.causal || j0 <= row0 + 15))
                tc_fwd_tile(w, qa, tc_stage_k(sm, (int)(t & 1)), tc_stage_v(sm, (int)(t & 1)), row0, j0, L, a.causal, a.scale_log2, o,
                            m, l);
            __syncthreads(); /* the stage is refilled next iteration */
        }
    }
    float lse[2];
    tc_fwd_final(w, o, m, l, lse);
    tc_store_rows(a.o, b, h, row0, a.T, L, o, 1.0f);
    const int lane = threadIdx.x & 31;
    if ((lane & 3) == 0) {
        TC_UNROLL
        for (int hf = 0; hf < 2; hf++) {
            int64_t row = row0 + tc_c_row(lane, 2 * hf);
            if (row < a.T) a.lse[(b * a.H + h) * a.T + row] = row < L ? lse[hf] : 0.0f;
        }
    }
}

/* ------------------------------------------------------------ backward dK dV ---- */

/* Chunk of TC_BQC queries q0 .. for the dK/dV kernel: Q and dO rows (asynchronous, the
 * caller commits), lse in base 2 and D (plain stores), zero past len. */
LT_DEV void tc_bwd_load_chunk(const tc_args &a, int64_t b, int64_t h, int64_t q0, int64_t len,
                              const float *lse_bh, const float *d_bh, uint16_t *qs,
                              uint16_t *dos, float *lse2, float *dd) {
    const int64_t nv = tc_clamp(len - q0, 0, TC_BQC);
    tc_load_rows(qs, a.q, b, h, q0, TC_BQC, nv);
    tc_load_rows(dos, a.dout, b, h, q0, TC_BQC, nv);
    if (threadIdx.x < TC_BQC) {
        int64_t i = q0 + threadIdx.x;
        lse2[threadIdx.x] = i < len ? lse_bh[i] * TC_LOG2E : 0.0f;
        dd[threadIdx.x] = i < len ? d_bh[i] : 0.0f;
    }
}

/* Shared memory: K and V of the block's 64 keys, then two stages of (Q, dO) chunks of
 * 32 rows and their lse2, D. */
static const size_t tc_kv_smem =
    (2 * TC_TILE + 2 * 2 * TC_BQC * TC_PITCH) * sizeof(uint16_t) + 2 * 2 * TC_BQC * sizeof(float);

__global__ void __launch_bounds__(TC_THREADS) lt_attn_tc_bwd_kv_kernel(tc_args a) {
    extern __shared__ uint4 tc_sm[];
    uint16_t *sm = (uint16_t *)tc_sm;
    uint16_t *ks = sm, *vs = sm + TC_TILE;
    /* Stage st: Q rows at chunk + 2 st CH, dO rows CH later; lse2 at fs + 2 st BQC, D
     * BQC later. */
    uint16_t *chunk = sm + 2 * TC_TILE;
    float *fs = (float *)(sm + 2 * TC_TILE + 4 * TC_BQC * TC_PITCH);
    const int CH = TC_BQC * TC_PITCH;
    const tc_gpu_warp w;
    const int warp = threadIdx.x >> 5;

    const tc_block blk = tc_block_of(a, TC_BK);
    const int64_t b = blk.b, h = blk.h, L = blk.L, j0 = blk.r0, kvalid = blk.valid;
    const int64_t key0 = j0 + 16 * warp;
    const float *lse_bh = a.lse + (b * a.H + h) * a.T, *d_bh = a.drow + (b * a.H + h) * a.T;

    float dk[8][4] = {}, dv[8][4] = {};
    if (kvalid > 0) {
        /* Causal: only queries i >= j0 see these keys. */
        const int64_t qstart = a.causal ? j0 : 0;
        const int64_t nq = (L - qstart + TC_BQC - 1) / TC_BQC;
        tc_load_rows(ks, a.k, b, h, j0, TC_BK, kvalid);
        tc_load_rows(vs, a.v, b, h, j0, TC_BK, kvalid);
        tc_bwd_load_chunk(a, b, h, qstart, L, lse_bh, d_bh, chunk, chunk + CH, fs, fs + TC_BQC);
        tc_cp_commit();
        tc_cp_wait<0>();
        __syncthreads();
        /* The warp's 16 keys stay in registers as A fragments. */
        uint32_t ka[4][4], va[4][4];
        tc_load_a<4>(w, ks + 16 * warp * TC_PITCH, TC_PITCH, ka);
        tc_load_a<4>(w, vs + 16 * warp * TC_PITCH, TC_PITCH, va);
        for (int64_t c = 0; c < nq; c++) {
            const int64_t q0 = qstart + c * TC_BQC;
            const int sc = (int)(c & 1), sn = 1 - sc;
            if (c + 1 < nq) {
                tc_bwd_load_chunk(a, b, h, q0 + TC_BQC, L, lse_bh, d_bh, chunk + 2 * sn * CH,
                                  chunk + (2 * sn + 1) * CH, fs + 2 * sn * TC_BQC,
                                  fs + (2 * sn + 1) * TC_BQC);
                tc_cp_commit();
                tc_cp_wait<1>();
            } else {
                tc_cp_wait<0>();
            }
            __syncthreads();
            if (key0 < L && (!a.causal || q0 + TC_BQC - 1 >= key0))
                tc_bwd_kv_chunk(w, ka, va, chunk + 2 * sc * CH, chunk + (2 * sc + 1) * CH,
                                fs + 2 * sc * TC_BQC, fs + (2 * sc + 1) * TC_BQC, q0, key0, L,
                                a.causal, a.scale_log2, dk, dv);
            __syncthreads(); /* the stage is refilled next iteration */
        }
    }
    tc_store_rows(a.dk, b, h, key0, a.T, L, dk, a.scale);
    tc_store_rows(a.dv, b, h, key0, a.T, L, dv, 1.0f);
}

/* --------------------------------------------------------------- backward dQ ---- */

/* Shared memory as the forward's: K and V tiles of two stages; Q and dO pass through
 * stage 1 first. */
static const size_t tc_q_smem = 4 * TC_TILE * sizeof(uint16_t);
/* Launched without the opt-in for more than 48 KiB of dynamic shared memory. */
static_assert(tc_fwd_smem <= 48 * 1024 && tc_kv_smem <= 48 * 1024 && tc_q_smem <= 48 * 1024,
              "a tile change needs cudaFuncSetAttribute(MaxDynamicSharedMemorySize)");

__global__ void __launch_bounds__(TC_THREADS) lt_attn_tc_bwd_q_kernel(tc_args a) {
    extern __shared__ uint4 tc_sm[];
    uint16_t *sm = (uint16_t *)tc_sm;
    uint16_t *qs = sm + 2 * TC_TILE, *dos = sm + 3 * TC_TILE; /* = stage 1's K, V tiles */
    const tc_gpu_warp w;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;

    const tc_block blk = tc_block_of(a, TC_BQ);
    const int64_t b = blk.b, h = blk.h, L = blk.L, i0 = blk.r0, vrows = blk.valid;
    const int64_t row0 = i0 + 16 * warp;

    float dq[8][4] = {};
    if (vrows > 0) {
        const int64_t kend = a.causal ? tc_min(L, i0 + vrows) : L;
        const int64_t nk = (kend + TC_BK - 1) / TC_BK;
        tc_load_rows(qs, a.q, b, h, i0, TC_BQ, vrows);
        tc_load_rows(dos, a.dout, b, h, i0, TC_BQ, vrows);
        tc_load_rows(tc_stage_k(sm, 0), a.k, b, h, 0, TC_BK, tc_min(kend, TC_BK));
        tc_load_rows(tc_stage_v(sm, 0), a.v, b, h, 0, TC_BK, tc_min(kend, TC_BK));
        tc_cp_commit();
        /* This lane's two rows' lse (base 2) and D, while the tiles arrive. */
        float lse2[2], dd[2];
        TC_UNROLL
        for (int hf = 0; hf < 2; hf++) {
            int64_t row = row0 + tc_c_row(lane, 2 * hf), idx = (b * a.H + h) * a.T + row;
            lse2[hf] = row < L ? a.lse[idx] * TC_LOG2E : 0.0f;
            dd[hf] = row < L ? a.drow[idx] : 0.0f;
        }
        tc_cp_wait<0>();
        __syncthreads();
        uint32_t qa[4][4], doa[4][4];
        tc_load_a<4>(w, qs + 16 * warp * TC_PITCH, TC_PITCH, qa);
        tc_load_a<4>(w, dos + 16 * warp * TC_PITCH, TC_PITCH, doa);
        __syncthreads();
        const int live = row0 < i0 + vrows;
        for (int64_t t = 0; t < nk; t++) {
            const int64_t j0 = t * TC_BK;
            tc_kv_advance(sm, a, b, h, t, nk, kend);
            if (live && (!a.causal || j0 <= row0 + 15))
                tc_bwd_q_tile(w, qa, doa, tc_stage_k(sm, (int)(t & 1)), tc_stage_v(sm, (int)(t & 1)), row0, j0, L, a.causal,
                              a.scale_log2, lse2, dd, dq);
            __syncthreads();
        }
    }
    tc_store_rows(a.dq, b, h, row0, a.T, L, dq, a.scale);
}

/* ------------------------------------------------------------------- host ---- */

/* Base pointer 16-byte aligned and every stride that matters (dims longer than 1) a
 * multiple of `elems`: rows can be fetched 16 bytes at a time. */
static int tc_rows_aligned(const lt_tensor *t, int64_t elems) {
    if ((uintptr_t)lt_cuda_ptr(t) % 16 != 0 || t->stride[3] != 1) return 0;
    for (int d = 0; d < 3; d++)
        if (t->shape[d] > 1 && t->stride[d] % elems != 0) return 0;
    return 1;
}

/* Two adjacent columns (an even column and the next) form one aligned word. */
static int tc_pairs_aligned(const lt_tensor *t) {
    if ((uintptr_t)lt_cuda_ptr(t) % (2 * lt_dtype_size(t->dtype)) != 0) return 0;
    for (int d = 0; d < 3; d++)
        if (t->shape[d] > 1 && t->stride[d] % 2 != 0) return 0;
    return 1;
}

static tc_view tc_view_of(const lt_tensor *t) {
    tc_view v;
    v.p = lt_cuda_ptr(t);
    v.sb = t->stride[0];
    v.st = t->stride[1];
    v.sh = t->stride[2];
    v.dt = (int)t->dtype;
    v.pair = tc_pairs_aligned(t);
    return v;
}

static int tc_out_dtype(const lt_tensor *t) { return t->dtype == LT_F32 || t->dtype == LT_BF16; }

const char *lt_cuda_attn_tc_unsupported(const lt_op_call *call, int backward) {
    const lt_tensor *q = call->src[backward ? 1 : 0];
    const lt_tensor *k = call->src[backward ? 2 : 1], *v = call->src[backward ? 3 : 2];
    if (q->dtype != LT_BF16) return "q is not bf16";
    if (!q->buf || !q->buf->dev || !q->buf->dev->info.supports_bf16)
        return "the GPU is older than sm_80 (no bf16 mma.sync)";
    if (q->shape[3] != TC_DH) return "head dim is not 64";
    if (!tc_rows_aligned(q, 8) || !tc_rows_aligned(k, 8) || !tc_rows_aligned(v, 8))
        return "q/k/v rows are not 16-byte aligned (base or a stride not a multiple of 8)";
    if (!backward) return tc_out_dtype(call->dst[0]) ? NULL : "out is neither f32 nor bf16";
    const lt_tensor *dout = call->src[0];
    if (dout->dtype == LT_BF16 ? !tc_rows_aligned(dout, 8)
                               : dout->dtype != LT_F32 || !tc_rows_aligned(dout, 4))
        return "dout is not bf16 or f32 with 16-byte aligned rows";
    for (int i = 0; i < 3; i++)
        if (!tc_out_dtype(call->dst[i])) return "dq/dk/dv are neither f32 nor bf16";
    return NULL;
}

/* The forward and dQ grids are counted with TC_BQ, the dK/dV grid with TC_BK; one
 * tc_grid check covers both only while they are equal. */
static_assert(TC_BQ == TC_BK, "tc_grid checks one block count for both backward grids");

static lt_status tc_grid(const char *op, int64_t blocks) {
    if (blocks > INT32_MAX)
        return lt_error(LT_ERR_UNSUPPORTED, "%s: %lld thread blocks exceed the grid limit", op,
                        (long long)blocks);
    return LT_OK;
}

static tc_args tc_common(const lt_op_call *call, const lt_tensor *q, const lt_tensor *len) {
    tc_args a;
    memset(&a, 0, sizeof a);
    a.B = q->shape[0];
    a.T = q->shape[1];
    a.H = q->shape[2];
    a.lengths = (const int32_t *)lt_cuda_ptr(len);
    a.causal = call->p.attn.causal;
    a.scale = call->p.attn.scale;
    a.scale_log2 = call->p.attn.scale * TC_LOG2E;
    return a;
}

lt_status lt_cuda_attn_tc_fwd(lt_cuda_device *cd, const lt_op_call *call) {
    tc_args a = tc_common(call, call->src[0], call->src[3]);
    a.q = tc_view_of(call->src[0]);
    a.k = tc_view_of(call->src[1]);
    a.v = tc_view_of(call->src[2]);
    a.o = tc_view_of(call->dst[0]);
    a.lse = (float *)lt_cuda_ptr(call->dst[1]);
    const int64_t blocks = a.B * a.H * ((a.T + TC_BQ - 1) / TC_BQ);
    LT_TRY(tc_grid("attn_fwd", blocks));
    lt_attn_tc_fwd_kernel<<<(unsigned)blocks, TC_THREADS, tc_fwd_smem, cd->stream>>>(a);
    return lt_cuda_launched("attn_fwd");
}

lt_status lt_cuda_attn_tc_bwd(lt_cuda_device *cd, const lt_op_call *call, const float *drow) {
    tc_args a = tc_common(call, call->src[1], call->src[6]);
    a.dout = tc_view_of(call->src[0]);
    a.q = tc_view_of(call->src[1]);
    a.k = tc_view_of(call->src[2]);
    a.v = tc_view_of(call->src[3]);
    a.lse = (float *)lt_cuda_ptr(call->src[5]);
    a.drow = drow;
    a.dq = tc_view_of(call->dst[0]);
    a.dk = tc_view_of(call->dst[1]);
    a.dv = tc_view_of(call->dst[2]);
    int64_t blocks = a.B * a.H * ((a.T + TC_BK - 1) / TC_BK);
    LT_TRY(tc_grid("attn_bwd", blocks));
    lt_attn_tc_bwd_kv_kernel<<<(unsigned)blocks, TC_THREADS, tc_kv_smem, cd->stream>>>(a);
    LT_TRY(lt_cuda_launched("attn_bwd"));
    blocks = a.B * a.H * ((a.T + TC_BQ - 1) / TC_BQ);
    lt_attn_tc_bwd_q_kernel<<<(unsigned)blocks, TC_THREADS, tc_q_smem, cd->stream>>>(a);
    return lt_cuda_launched("attn_bwd");
}
