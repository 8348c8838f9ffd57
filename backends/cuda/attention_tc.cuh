/* backends/cuda/attention_tc.cuh - one warp's share of the tensor-core attention
 * (attention_tc.cu), as templates on the warp (tc_mma.cuh) so the host test runs the
 * very same code on an emulated warp.
 *
 * A warp owns 16 rows (queries in the forward and dQ kernels, keys in the dK/dV
 * kernel); each lane holds two of them, C-fragment rows g and g + 8, whose per-row
 * values (running max, sum, lse, D) sit at index hf = 0 / 1 = element i >> 1.
 * Tiles in shared memory are bf16 rows of TC_DH = 64 elements padded to TC_PITCH = 72
 * (144 bytes): the 8 rows one ldmatrix phase reads start 16 bytes apart modulo 128, so
 * they fall in 8 different bank quads (no conflicts).
 *
 * Scores are kept in base 2: s2 = (q . k) * scale * log2(e), p = 2^(s2 - m2); the saved
 * lse is natural, lse = ln 2 * (m2 + log2 l), the same quantity as the simple kernel's.
 * P and dS are rounded to bf16 when they become A operands (FlashAttention-2 does the
 * same); the row sums l use the unrounded f32 values. */
#ifndef LT_CUDA_ATTENTION_TC_CUH
#define LT_CUDA_ATTENTION_TC_CUH

#include <math.h>

#include "cuda_common.h"
#include "tc_mma.cuh"

#define TC_DH 64       /* the head dim these kernels handle */
#define TC_PITCH 72    /* bf16 elements per shared-memory row */
#define TC_BQ 64       /* queries per block (forward, dQ): 4 warps x 16 */
#define TC_BK 64       /* keys per block (dK/dV) and per key tile (forward, dQ) */
#define TC_BQC 32      /* queries per chunk in the dK/dV kernel */
#define TC_THREADS 128 /* 4 warps */
#define TC_LOG2E 1.44269504088896341f
#define TC_LN2 0.693147180559945309f

/* Forward over one tile of 64 keys (key0 ..) for the warp's rows row0 .. row0+15:
 * S = Q K^T on the tensor cores, masked (keys >= kvlen; keys after the row when
 * causal), online softmax in registers (running max m and partial sum l per row, o
 * rescaled when the max grows), then o += P V with P taken straight from the S
 * registers. qa: the warp's Q rows as A fragments (4 x 16 columns of Dh). */
template <class W>
TC_HD void tc_fwd_tile(const W &w, const uint32_t qa[4][4], const uint16_t *ks,
                       const uint16_t *vs, int64_t row0, int64_t key0, int64_t kvlen,
                       int causal, float scale_log2, float o[8][4], float m[2], float l[2]) {
    const int lane = w.lane();
    float s[8][4];
    tc_mma_abt<4, 8>(w, qa, ks, TC_PITCH, s);
    float mx[2] = {-INFINITY, -INFINITY};
    TC_UNROLL
    for (int nt = 0; nt < 8; nt++) {
        TC_UNROLL
        for (int i = 0; i < 4; i++) {
            int64_t key = key0 + 8 * nt + tc_c_col(lane, i), row = row0 + tc_c_row(lane, i);
            int visible = key < kvlen && (!causal || key <= row);
            s[nt][i] = visible ? s[nt][i] * scale_log2 : -INFINITY;
            mx[i >> 1] = fmaxf(mx[i >> 1], s[nt][i]);
        }
    }
    /* A row's 16 C columns of a tile are spread over the 4 lanes of its quad. */
    float base[2];
    TC_UNROLL
    for (int hf = 0; hf < 2; hf++) {
        mx[hf] = fmaxf(mx[hf], w.shfl_xor(mx[hf], 1));
        mx[hf] = fmaxf(mx[hf], w.shfl_xor(mx[hf], 2));
        float m_new = fmaxf(m[hf], mx[hf]);
        /* A row with nothing visible yet keeps p = 0 instead of exp2(-inf + inf). */
        base[hf] = m_new == -INFINITY ? 0.0f : m_new;
        float corr = exp2f(m[hf] - base[hf]);
        m[hf] = m_new;
        l[hf] *= corr;
        TC_UNROLL
        for (int nt = 0; nt < 8; nt++) {
            o[nt][2 * hf] *= corr;
            o[nt][2 * hf + 1] *= corr;
        }
    }
    TC_UNROLL
    for (int nt = 0; nt < 8; nt++) {
        TC_UNROLL
        for (int i = 0; i < 4; i++) {
            float p = exp2f(s[nt][i] - base[i >> 1]);
            s[nt][i] = p;
            l[i >> 1] += p; /* this lane's part; the quad is summed once at the end */
        }
    }
    tc_mma_cb<4, 8>(w, s, vs, TC_PITCH, o);
}

/* After the last tile: l summed over the quad, o = o / l, lse = ln(sum exp(scale s)).
 * A row that saw no key (only padding rows) gets o = 0, lse = 0. */
template <class W>
TC_HD void tc_fwd_final(const W &w, float o[8][4], const float m[2], float l[2], float lse[2]) {
    TC_UNROLL
    for (int hf = 0; hf < 2; hf++) {
        l[hf] += w.shfl_xor(l[hf], 1);
        l[hf] += w.shfl_xor(l[hf], 2);
        float inv = l[hf] > 0.0f ? 1.0f / l[hf] : 0.0f;
        lse[hf] = l[hf] > 0.0f ? (m[hf] + log2f(l[hf])) * TC_LN2 : 0.0f;
        TC_UNROLL
        for (int nt = 0; nt < 8; nt++) {
            o[nt][2 * hf] *= inv;
            o[nt][2 * hf + 1] *= inv;
        }
    }
}

/* dK/dV kernel, one chunk of TC_BQC queries (q0 ..) against the warp's 16 keys (key0 ..):
 * S^T = K Q^T and dP^T = V dO^T with K, V as A fragments (ka, va) and Q, dO rows from
 * shared memory; P^T = 2^(s2 - lse2) (lse2 = lse log2 e, per query), dS^T = P^T (dP^T - D);
 * then dV += P^T dO and dK += dS^T Q (dK still lacks the factor scale). Masked entries
 * are exactly 0, whatever the padding rows hold. */
template <class W>
TC_HD void tc_bwd_kv_chunk(const W &w, const uint32_t ka[4][4], const uint32_t va[4][4],
                           const uint16_t *qs, const uint16_t *dos, const float *lse2,
                           const float *dd, int64_t q0, int64_t key0, int64_t len, int causal,
                           float scale_log2, float dk[8][4], float dv[8][4]) {
    const int lane = w.lane();
    float st[TC_BQC / 8][4], dpt[TC_BQC / 8][4];
    tc_mma_abt<4, TC_BQC / 8>(w, ka, qs, TC_PITCH, st);
    tc_mma_abt<4, TC_BQC / 8>(w, va, dos, TC_PITCH, dpt);
    TC_UNROLL
    for (int nt = 0; nt < TC_BQC / 8; nt++) {
        TC_UNROLL
        for (int i = 0; i < 4; i++) {
            int qi = 8 * nt + tc_c_col(lane, i);
            int64_t q = q0 + qi, key = key0 + tc_c_row(lane, i);
            int visible = q < len && key < len && (!causal || key <= q);
            float p = visible ? exp2f(st[nt][i] * scale_log2 - lse2[qi]) : 0.0f;
            dpt[nt][i] = visible ? p * (dpt[nt][i] - dd[qi]) : 0.0f;
            st[nt][i] = p;
        }
    }
    tc_mma_cb<TC_BQC / 16, 8>(w, st, dos, TC_PITCH, dv);
    tc_mma_cb<TC_BQC / 16, 8>(w, dpt, qs, TC_PITCH, dk);
}

/* dQ kernel, one tile of 64 keys (key0 ..) against the warp's 16 queries (row0 ..):
 * S = Q K^T, dP = dO V^T, dS = P (dP - D), dQ += dS K (dQ still lacks the factor
 * scale). lse2 and dd: this lane's two rows (hf = 0, 1). */
template <class W>
TC_HD void tc_bwd_q_tile(const W &w, const uint32_t qa[4][4], const uint32_t doa[4][4],
                         const uint16_t *ks, const uint16_t *vs, int64_t row0, int64_t key0,
                         int64_t len, int causal, float scale_log2, const float lse2[2],
                         const float dd[2], float dq[8][4]) {
    const int lane = w.lane();
    float s[8][4], dp[8][4];
    tc_mma_abt<4, 8>(w, qa, ks, TC_PITCH, s);
    tc_mma_abt<4, 8>(w, doa, vs, TC_PITCH, dp);
    TC_UNROLL
    for (int nt = 0; nt < 8; nt++) {
        TC_UNROLL
        for (int i = 0; i < 4; i++) {
            int64_t key = key0 + 8 * nt + tc_c_col(lane, i), row = row0 + tc_c_row(lane, i);
            int visible = row < len && key < len && (!causal || key <= row);
            float p = visible ? exp2f(s[nt][i] * scale_log2 - lse2[i >> 1]) : 0.0f;
            s[nt][i] = visible ? p * (dp[nt][i] - dd[i >> 1]) : 0.0f;
        }
    }
    tc_mma_cb<4, 8>(w, s, ks, TC_PITCH, dq);
}

/* ---------------------------------------------- host side (attention_tc.cu) ---- */

/* NULL when the tensor-core kernels can run this attn_fwd (backward = 0) or attn_bwd
 * (backward = 1) call, else why not (for the docs and debugging). */
const char *lt_cuda_attn_tc_unsupported(const lt_op_call *call, int backward);
/* Lengths already checked; drow = D_i = dO_i . O_i laid out like lse. */
lt_status lt_cuda_attn_tc_fwd(lt_cuda_device *cd, const lt_op_call *call);
lt_status lt_cuda_attn_tc_bwd(lt_cuda_device *cd, const lt_op_call *call, const float *drow);

#endif
