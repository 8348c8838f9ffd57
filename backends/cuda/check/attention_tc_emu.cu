/* backends/cuda/check/attention_tc_emu.cu - the tensor-core attention's warp code run on
 * the host, so a machine without a GPU still tests its fragment index math.
 *
 * The kernels' warp-level routines (tc_mma.cuh, attention_tc.cuh) are templates on the
 * warp. Here each of 32 threads runs them as one lane of an emulated warp; the
 * collective instructions (ldmatrix.x4 with and without .trans, mma.m16n8k16, shuffles)
 * meet at a barrier and compute what the PTX ISA says each lane receives. The PTX
 * layouts are transcribed below independently of tc_mma.cuh, in the manual's own
 * element-by-element form, so a wrong lane/row/column formula, a swapped register or a
 * swapped bf16 half in the shared code gives wrong numbers here. Checked:
 *   1. each layout function against the manual's formulas, all 32 lanes;
 *   2. S = Q K^T (16 x 64 by 64 x 64) and O = P V with P re-packed from C fragments;
 *   3. one warp's forward (16 queries, three key tiles, ragged end, lengths, causal and
 *      not) against a double-precision softmax attention, output and lse;
 *   4. one warp's backward share (dK, dV of 16 keys over query chunks; dQ of 16 queries
 *      over key tiles) against double-precision gradients.
 * Not covered: the kernels' cp.async loads, block indexing and stores (a GPU run has to
 * check those). Exits 1 on any failure. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention_tc.cuh"
#include "cuda_kernels.cuh"

/* ------------------------------------------------------- the emulated warp ---- */

static pthread_barrier_t lanes_meet;
static int misaligned[32];

static void meet(void) { pthread_barrier_wait(&lanes_meet); }

/* The collectives exist in the host pass only (the device pass of nvcc sees the
 * emu_warp members' empty bodies). */
#ifndef __CUDA_ARCH__
static const uint16_t *ldsm_rows[32];
static uint32_t mma_a[32][4], mma_b[32][2];
static float mma_c[32][4], shfl_v[32];

static float half_of(uint32_t reg, int h) {
    return lt_cu_bf16_to_f32((uint16_t)(h ? reg >> 16 : reg & 0xffffu));
}

/* ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16 (PTX ISA 9.7.14.5.15): threads
 * 8m .. 8m+7 give the row addresses of matrix m; thread L receives, in register m,
 * "row L/4, elements 2(L%4) and 2(L%4)+1" of it, or with .trans the matrix read in
 * column-major order: column L/4, rows 2(L%4) and 2(L%4)+1. */
static void emu_ldsm(int lane, const uint16_t *row, int trans, uint32_t r[4]) {
    ldsm_rows[lane] = row;
    if ((uintptr_t)row % 16 != 0) misaligned[lane]++;
    meet();
    const int grp = lane / 4, tig = lane % 4;
    for (int m = 0; m < 4; m++) {
        uint16_t e[2];
        for (int h = 0; h < 2; h++)
            e[h] = trans ? ldsm_rows[8 * m + 2 * tig + h][grp] : ldsm_rows[8 * m + grp][2 * tig + h];
        r[m] = (uint32_t)e[0] | (uint32_t)e[1] << 16;
    }
    meet();
}

/* mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 (PTX ISA 9.7.14.5.8), with the
 * manual's element formulas: a0..a7 low to high in four registers, b0..b3 in two,
 * c0..c3. Positions nobody supplies stay NaN and poison the result. */
static void emu_mma(int lane, float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    memcpy(mma_a[lane], a, sizeof mma_a[lane]);
    mma_b[lane][0] = b0;
    mma_b[lane][1] = b1;
    memcpy(mma_c[lane], d, sizeof mma_c[lane]);
    meet();
    float A[16][16], B[16][8], C[16][8];
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) A[r][c] = NAN;
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 8; c++) B[r][c] = C[r][c] = NAN;
    for (int L = 0; L < 32; L++) {
        const int groupID = L >> 2, threadID_in_group = L % 4;
        for (int i = 0; i < 8; i++) {
            int row = (i < 2 || (i >= 4 && i < 6)) ? groupID : groupID + 8;
            int col = i < 4 ? threadID_in_group * 2 + (i & 1) : threadID_in_group * 2 + (i & 1) + 8;
            A[row][col] = half_of(mma_a[L][i / 2], i % 2);
        }
        for (int i = 0; i < 4; i++) {
            int row = i < 2 ? threadID_in_group * 2 + (i & 1) : threadID_in_group * 2 + (i & 1) + 8;
            B[row][groupID] = half_of(mma_b[L][i / 2], i % 2);
        }
        for (int i = 0; i < 4; i++) {
            int row = i < 2 ? groupID : groupID + 8;
            C[row][threadID_in_group * 2 + (i & 1)] = mma_c[L][i];
        }
    }
    const int groupID = lane >> 2, threadID_in_group = lane % 4;
    for (int i = 0; i < 4; i++) {
        int row = i < 2 ? groupID : groupID + 8, col = threadID_in_group * 2 + (i & 1);
        double acc = C[row][col];
        for (int k = 0; k < 16; k++) acc += (double)A[row][k] * B[k][col];
        d[i] = (float)acc;
    }
    meet();
}

static float emu_shfl_xor(int lane, float v, int mask) {
    shfl_v[lane] = v;
    meet();
    float r = shfl_v[lane ^ mask];
    meet();
    return r;
}

#endif

/* The warp type the shared templates are instantiated with (see tc_gpu_warp). */
struct emu_warp {
    int l;
    TC_HD int lane() const { return l; }
    TC_HD void ldsm_x4(uint32_t r[4], const uint16_t *row) const {
#ifndef __CUDA_ARCH__
        emu_ldsm(l, row, 0, r);
#else
        (void)r, (void)row;
#endif
    }
    TC_HD void ldsm_x4_trans(uint32_t r[4], const uint16_t *row) const {
#ifndef __CUDA_ARCH__
        emu_ldsm(l, row, 1, r);
#else
        (void)r, (void)row;
#endif
    }
    TC_HD void mma(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1) const {
#ifndef __CUDA_ARCH__
        emu_mma(l, d, a, b0, b1);
#else
        (void)d, (void)a, (void)b0, (void)b1;
#endif
    }
    TC_HD float shfl_xor(float v, int mask) const {
#ifndef __CUDA_ARCH__
        return emu_shfl_xor(l, v, mask);
#else
        (void)mask;
        return v;
#endif
    }
};

typedef void (*lane_program)(const emu_warp &w);
static lane_program current_program;

static void *lane_main(void *arg) {
    emu_warp w;
    w.l = (int)(intptr_t)arg;
    current_program(w);
    return NULL;
}

/* Runs prog as the 32 lanes of one warp. */
static void run_warp(lane_program prog) {
    pthread_t th[32];
    current_program = prog;
    pthread_barrier_init(&lanes_meet, NULL, 32);
    for (int l = 0; l < 32; l++) pthread_create(&th[l], NULL, lane_main, (void *)(intptr_t)l);
    for (int l = 0; l < 32; l++) pthread_join(th[l], NULL);
    pthread_barrier_destroy(&lanes_meet);
}

/* The manual's C/D position of element i of lane L (for gathering results). */
static int ptx_c_row(int L, int i) { return i < 2 ? L >> 2 : (L >> 2) + 8; }
static int ptx_c_col(int L, int i) { return (L % 4) * 2 + (i & 1); }

/* ---------------------------------------------------------------- helpers ---- */

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static float uniform(float lo, float hi) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t u = rng_state * 0x2545F4914F6CDD1Dull;
    return lo + (hi - lo) * (float)((u >> 40) * (1.0 / 16777216.0));
}
static float round_bf16(float x) { return lt_cu_bf16_to_f32(lt_cu_f32_to_bf16(x)); }

/* Rows r0 .. r0+nrows-1 of a [*, 64] matrix into a padded bf16 tile, zero from nvalid on
 * (what the kernels' tc_load_rows leaves in shared memory). */
static void fill_tile(uint16_t *tile, const float *m, int64_t r0, int nrows, int64_t nvalid) {
    for (int r = 0; r < nrows; r++)
        for (int c = 0; c < TC_PITCH; c++)
            tile[r * TC_PITCH + c] =
                r < nvalid && c < TC_DH ? lt_cu_f32_to_bf16(m[(r0 + r) * TC_DH + c]) : 0;
}

static int failures;

static void report(const char *what, double err, double tol) {
    int ok = err <= tol;
    printf("%-52s max error %.3g (tolerance %.3g)  %s\n", what, err, tol, ok ? "ok" : "FAILED");
    failures += !ok;
}

/* --------------------------------------------------- 1. layout functions ---- */

static void check_layouts(void) {
    long bad = 0;
    for (int L = 0; L < 32; L++) {
        const int groupID = L >> 2, threadID_in_group = L % 4;
        for (int i = 0; i < 8; i++) { /* A element i = register i/2, half i%2 */
            int row = (i < 2 || (i >= 4 && i < 6)) ? groupID : groupID + 8;
            int col = threadID_in_group * 2 + (i & 1) + (i >= 4 ? 8 : 0);
            bad += tc_a_row(L, i / 2) != row || tc_a_col(L, i / 2, i % 2) != col;
        }
        for (int i = 0; i < 4; i++) {
            int row = threadID_in_group * 2 + (i & 1) + (i >= 2 ? 8 : 0);
            bad += tc_b_k(L, i / 2, i % 2) != row || tc_b_n(L) != groupID;
            bad += tc_c_row(L, i) != ptx_c_row(L, i) || tc_c_col(L, i) != ptx_c_col(L, i);
        }
        /* The kernels store elements 2hf, 2hf+1 as one pair of adjacent columns. */
        for (int hf = 0; hf < 2; hf++)
            bad += tc_c_row(L, 2 * hf + 1) != tc_c_row(L, 2 * hf) ||
                   tc_c_col(L, 2 * hf + 1) != tc_c_col(L, 2 * hf) + 1 || tc_c_col(L, 2 * hf) % 2;
        /* ldmatrix rows: every lane addresses a distinct (row, 8-column block). */
        for (int M = 0; M < 32; M++) {
            if (M == L) continue;
            bad += tc_ldsm_a_row(L) == tc_ldsm_a_row(M) && tc_ldsm_a_col(L) == tc_ldsm_a_col(M);
            bad += tc_ldsm_bn_row(L) == tc_ldsm_bn_row(M) && tc_ldsm_bn_col(L) == tc_ldsm_bn_col(M);
            bad += tc_ldsm_bk_row(L) == tc_ldsm_bk_row(M) && tc_ldsm_bk_col(L) == tc_ldsm_bk_col(M);
        }
    }
    /* Packing: first value in the low half, both rounded as core/tensor.c rounds. */
    for (int n = 0; n < 200000; n++) {
        float lo = uniform(-4.0f, 4.0f), hi = n % 7 == 0 ? lo * 0x1p-20f : uniform(-1e3f, 1e3f);
        if (n % 5 == 0) { /* exact ties between two bf16 values */
            uint32_t u = lt_cu_f32_bits(lo);
            lo = lt_cu_bits_f32((u & 0xffff0000u) | 0x8000u);
        }
        uint32_t p = tc_pack_bf16(lo, hi);
        bad += (uint16_t)(p & 0xffffu) != lt_cu_f32_to_bf16(lo) ||
               (uint16_t)(p >> 16) != lt_cu_f32_to_bf16(hi);
    }
    report("layout functions vs PTX ISA formulas, bf16 packing", (double)bad, 0.0);
}

/* -------------------------------------------- 2. S = Q K^T and O = P V ---- */

alignas(16) static uint16_t tq[16 * TC_PITCH], tk[64 * TC_PITCH], tv[64 * TC_PITCH];
static float lane_s[32][8][4], lane_p[32][8][4], lane_o[32][8][4];

static void prog_gemm(const emu_warp &w) {
    const int l = w.lane();
    uint32_t qa[4][4];
    tc_load_a<4>(w, tq, TC_PITCH, qa);
    tc_mma_abt<4, 8>(w, qa, tk, TC_PITCH, lane_s[l]);
    float o[8][4];
    for (int nt = 0; nt < 8; nt++)
        for (int i = 0; i < 4; i++) o[nt][i] = 0.25f * (float)(nt - i); /* O starts non-zero */
    tc_mma_cb<4, 8>(w, lane_p[l], tv, TC_PITCH, o);
    memcpy(lane_o[l], o, sizeof o);
}

static void check_gemm(void) {
    static float Q[16 * 64], K[64 * 64], V[64 * 64], P[16][64];
    for (int e = 0; e < 16 * 64; e++) Q[e] = round_bf16(uniform(-2.0f, 2.0f));
    for (int e = 0; e < 64 * 64; e++) K[e] = round_bf16(uniform(-2.0f, 2.0f));
    for (int e = 0; e < 64 * 64; e++) V[e] = round_bf16(uniform(-2.0f, 2.0f));
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 64; c++) P[r][c] = uniform(0.0f, 1.0f); /* f32, rounded in the mma */
    fill_tile(tq, Q, 0, 16, 16);
    fill_tile(tk, K, 0, 64, 64);
    fill_tile(tv, V, 0, 64, 64);
    for (int L = 0; L < 32; L++)
        for (int nt = 0; nt < 8; nt++)
            for (int i = 0; i < 4; i++) lane_p[L][nt][i] = P[ptx_c_row(L, i)][8 * nt + ptx_c_col(L, i)];
    run_warp(prog_gemm);
    double es = 0, eo = 0;
    for (int L = 0; L < 32; L++)
        for (int nt = 0; nt < 8; nt++)
            for (int i = 0; i < 4; i++) {
                int r = ptx_c_row(L, i), c = 8 * nt + ptx_c_col(L, i);
                double s = 0, o = 0.25 * (nt - i);
                for (int d = 0; d < 64; d++) s += (double)Q[r * 64 + d] * K[c * 64 + d];
                for (int j = 0; j < 64; j++) o += (double)round_bf16(P[r][j]) * V[j * 64 + c];
                es = fmax(es, fabs(lane_s[L][nt][i] - s));
                eo = fmax(eo, fabs(lane_o[L][nt][i] - o));
            }
    report("S = Q K^T, 16x64 by 64x64 (ldmatrix, mma)", es, 1e-4);
    report("O += P V, P re-packed from C fragments (ldmatrix.trans)", eo, 1e-4);
}

/* ----------------------------------------------- 3 and 4. one warp's attention ---- */

#define T_SEQ 150 /* three key tiles, the last one ragged */
static float Qm[T_SEQ * 64], Km[T_SEQ * 64], Vm[T_SEQ * 64], dOm[T_SEQ * 64];
static double ref_o[T_SEQ * 64], ref_lse[T_SEQ], ref_d[T_SEQ];
static double ref_dq[T_SEQ * 64], ref_dk[T_SEQ * 64], ref_dv[T_SEQ * 64];
static int64_t cur_len, cur_row0;
static int cur_causal;
static const float cur_scale = 0.125f; /* 1/sqrt(64) */
alignas(16) static uint16_t tq2[TC_BQ * TC_PITCH], tdo2[TC_BQ * TC_PITCH];
static float chunk_lse2[TC_BQC], chunk_d[TC_BQC];
static float lane_out[32][8][4], lane_lse[32][2], lane_dk[32][8][4];

/* Softmax attention and its gradients in double, from the bf16-exact inputs. */
static void reference(int64_t len, int causal) {
    memset(ref_dq, 0, sizeof ref_dq);
    memset(ref_dk, 0, sizeof ref_dk);
    memset(ref_dv, 0, sizeof ref_dv);
    static double p[T_SEQ];
    for (int64_t i = 0; i < len; i++) {
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < len; j++) {
            p[j] = -INFINITY;
            if (causal && j > i) continue;
            double s = 0;
            for (int d = 0; d < 64; d++) s += (double)Qm[i * 64 + d] * Km[j * 64 + d];
            p[j] = s * cur_scale;
            mx = fmax(mx, p[j]);
        }
        for (int64_t j = 0; j < len; j++) sum += p[j] = p[j] == -INFINITY ? 0 : exp(p[j] - mx);
        ref_lse[i] = mx + log(sum);
        double dd = 0;
        for (int d = 0; d < 64; d++) {
            double o = 0;
            for (int64_t j = 0; j < len; j++) o += p[j] / sum * Vm[j * 64 + d];
            ref_o[i * 64 + d] = o;
            dd += o * dOm[i * 64 + d];
        }
        ref_d[i] = dd;
        for (int64_t j = 0; j < len; j++) {
            double pij = p[j] / sum, dp = 0;
            if (pij == 0) continue;
            for (int d = 0; d < 64; d++) dp += (double)dOm[i * 64 + d] * Vm[j * 64 + d];
            double ds = pij * (dp - dd);
            for (int d = 0; d < 64; d++) {
                ref_dq[i * 64 + d] += cur_scale * ds * Km[j * 64 + d];
                ref_dk[j * 64 + d] += cur_scale * ds * Qm[i * 64 + d];
                ref_dv[j * 64 + d] += pij * dOm[i * 64 + d];
            }
        }
    }
}

/* The key range a query tile needs and the tile walk of the forward / dQ kernels. */
static int64_t key_end(void) {
    return cur_causal ? (cur_len < cur_row0 + 16 ? cur_len : cur_row0 + 16) : cur_len;
}

static void prog_forward(const emu_warp &w) {
    const int l = w.lane();
    uint32_t qa[4][4];
    tc_load_a<4>(w, tq2, TC_PITCH, qa);
    float o[8][4] = {}, m[2] = {-INFINITY, -INFINITY}, s[2] = {0.0f, 0.0f};
    const int64_t kend = key_end();
    for (int64_t j0 = 0; j0 < kend; j0 += TC_BK) {
        meet(); /* lane 0 fills the tiles between the meetings */
        if (l == 0) {
            fill_tile(tk, Km, j0, TC_BK, kend - j0);
            fill_tile(tv, Vm, j0, TC_BK, kend - j0);
        }
        meet();
        if (!cur_causal || j0 <= cur_row0 + 15)
            tc_fwd_tile(w, qa, tk, tv, cur_row0, j0, cur_len, cur_causal, cur_scale * TC_LOG2E, o, m, s);
    }
    tc_fwd_final(w, o, m, s, lane_lse[l]);
    memcpy(lane_out[l], o, sizeof o);
}

static void prog_bwd_q(const emu_warp &w) {
    const int l = w.lane();
    uint32_t qa[4][4], doa[4][4];
    tc_load_a<4>(w, tq2, TC_PITCH, qa);
    tc_load_a<4>(w, tdo2, TC_PITCH, doa);
    float lse2[2], dd[2], dq[8][4] = {};
    for (int hf = 0; hf < 2; hf++) { /* as the dQ kernel reads them */
        int64_t row = cur_row0 + tc_c_row(l, 2 * hf);
        lse2[hf] = row < cur_len ? (float)ref_lse[row] * TC_LOG2E : 0.0f;
        dd[hf] = row < cur_len ? (float)ref_d[row] : 0.0f;
    }
    const int64_t kend = key_end();
    for (int64_t j0 = 0; j0 < kend; j0 += TC_BK) {
        meet();
        if (l == 0) {
            fill_tile(tk, Km, j0, TC_BK, kend - j0);
            fill_tile(tv, Vm, j0, TC_BK, kend - j0);
        }
        meet();
        if (!cur_causal || j0 <= cur_row0 + 15)
            tc_bwd_q_tile(w, qa, doa, tk, tv, cur_row0, j0, cur_len, cur_causal,
                          cur_scale * TC_LOG2E, lse2, dd, dq);
    }
    for (int nt = 0; nt < 8; nt++)
        for (int i = 0; i < 4; i++) dq[nt][i] *= cur_scale; /* as the kernel's store does */
    memcpy(lane_out[l], dq, sizeof dq);
}

/* cur_row0 is the warp's first key here. */
static void prog_bwd_kv(const emu_warp &w) {
    const int l = w.lane();
    const int64_t key0 = cur_row0;
    uint32_t ka[4][4], va[4][4];
    meet();
    if (l == 0) {
        fill_tile(tk, Km, key0, 16, cur_len - key0);
        fill_tile(tv, Vm, key0, 16, cur_len - key0);
    }
    meet();
    tc_load_a<4>(w, tk, TC_PITCH, ka);
    tc_load_a<4>(w, tv, TC_PITCH, va);
    float dk[8][4] = {}, dv[8][4] = {};
    const int64_t qstart = cur_causal ? key0 - key0 % TC_BK : 0; /* the block's first key */
    for (int64_t q0 = qstart; q0 < cur_len; q0 += TC_BQC) {
        meet();
        if (l == 0) {
            fill_tile(tq2, Qm, q0, TC_BQC, cur_len - q0);
            fill_tile(tdo2, dOm, q0, TC_BQC, cur_len - q0);
            for (int r = 0; r < TC_BQC; r++) {
                chunk_lse2[r] = q0 + r < cur_len ? (float)ref_lse[q0 + r] * TC_LOG2E : 0.0f;
                chunk_d[r] = q0 + r < cur_len ? (float)ref_d[q0 + r] : 0.0f;
            }
        }
        meet();
        if (key0 < cur_len && (!cur_causal || q0 + TC_BQC - 1 >= key0))
            tc_bwd_kv_chunk(w, ka, va, tq2, tdo2, chunk_lse2, chunk_d, q0, key0, cur_len,
                            cur_causal, cur_scale * TC_LOG2E, dk, dv);
    }
    for (int nt = 0; nt < 8; nt++)
        for (int i = 0; i < 4; i++) dk[nt][i] *= cur_scale;
    memcpy(lane_dk[l], dk, sizeof dk);
    memcpy(lane_out[l], dv, sizeof dv);
}

/* Largest |emulated - reference| over the warp's 16 rows that are < len, relative to
 * the largest |reference| there. */
static double compare_rows(const float lane_vals[32][8][4], const double *ref, int64_t row0,
                           int64_t len) {
    double err = 0, big = 1e-30;
    for (int L = 0; L < 32; L++)
        for (int nt = 0; nt < 8; nt++)
            for (int i = 0; i < 4; i++) {
                int64_t r = row0 + ptx_c_row(L, i);
                if (r >= len) continue;
                double want = ref[r * 64 + 8 * nt + ptx_c_col(L, i)];
                err = fmax(err, fabs(lane_vals[L][nt][i] - want));
                big = fmax(big, fabs(want));
            }
    return err / big;
}

static void check_attention(void) {
    for (int e = 0; e < T_SEQ * 64; e++) {
        Qm[e] = round_bf16(uniform(-2.0f, 2.0f));
        Km[e] = round_bf16(uniform(-2.0f, 2.0f));
        Vm[e] = round_bf16(uniform(-1.0f, 1.0f));
        dOm[e] = round_bf16(uniform(-1.0f, 1.0f));
    }
    static const int64_t row0s[3] = {0, 48, 128}; /* 128: rows 137.. are padding */
    const int64_t len = 137;
    double eo = 0, el = 0, edq = 0, edk = 0, edv = 0;
    for (int causal = 0; causal < 2; causal++) {
        reference(len, causal);
        cur_len = len;
        cur_causal = causal;
        for (int n = 0; n < 3; n++) {
            cur_row0 = row0s[n];
            fill_tile(tq2, Qm, cur_row0, 16, len - cur_row0);
            fill_tile(tdo2, dOm, cur_row0, 16, len - cur_row0);
            run_warp(prog_forward);
            eo = fmax(eo, compare_rows(lane_out, ref_o, cur_row0, len));
            for (int L = 0; L < 32; L++)
                for (int hf = 0; hf < 2; hf++) {
                    int64_t r = cur_row0 + ptx_c_row(L, 2 * hf);
                    if (r < len) el = fmax(el, fabs(lane_lse[L][hf] - ref_lse[r]));
                }
            fill_tile(tq2, Qm, cur_row0, 16, len - cur_row0);
            fill_tile(tdo2, dOm, cur_row0, 16, len - cur_row0);
            run_warp(prog_bwd_q);
            edq = fmax(edq, compare_rows(lane_out, ref_dq, cur_row0, len));
            run_warp(prog_bwd_kv);
            edk = fmax(edk, compare_rows(lane_dk, ref_dk, cur_row0, len));
            edv = fmax(edv, compare_rows(lane_out, ref_dv, cur_row0, len));
        }
    }
    /* P and dS enter the products rounded to bf16 (relative error 2^-9 each). */
    report("forward out, 3 warps x causal/not, T 150, len 137", eo, 6e-3);
    report("forward lse (absolute)", el, 1e-4);
    report("backward dQ (relative to max |dQ|)", edq, 1e-2);
    report("backward dK (relative to max |dK|)", edk, 1e-2);
    report("backward dV (relative to max |dV|)", edv, 1e-2);
}

int main(void) {
    check_layouts();
    check_gemm();
    check_attention();
    int bad_align = 0;
    for (int l = 0; l < 32; l++) bad_align += misaligned[l];
    report("ldmatrix row addresses not 16-byte aligned", (double)bad_align, 0.0);
    printf("%s\n", failures ? "FAILED" : "all passed");
    return failures ? 1 : 0;
}
