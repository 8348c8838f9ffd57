/* backends/cuda/tc_mma.cuh - warp-level bf16 tensor-core building blocks (mma.sync
 * m16n8k16 with f32 accumulation, ldmatrix), written once for the GPU and for a host
 * emulation of one warp (check/attention_tc_emu.cu).
 *
 * Everything that depends on which lane holds which matrix element lives here, as
 * __host__ __device__ functions of the lane: the kernels call them, and the host test
 * runs the same code for 32 emulated lanes against an independent transcription of the
 * PTX ISA layouts, so a wrong index fails a test on a machine without a GPU.
 *
 * Layouts (PTX ISA 9.7.14.5.8 "Matrix Fragments for mma.m16n8k16 with floating point
 * type"; g = lane >> 2 is the groupID, t = lane & 3 the threadID_in_group; register r
 * holds elements 2r (low 16 bits) and 2r + 1 (high 16 bits), h = 0 / 1 below):
 *   A, 16 x 16 bf16, 4 registers:  row g + 8 (r & 1),  col 2t + h + 8 (r >> 1)
 *   B, 16 x 8 bf16, 2 registers:   row (k) 2t + h + 8 r,  col (n) g
 *   C/D, 16 x 8 f32, c[0..3]:      row g + 8 (i >> 1),  col 2t + (i & 1)
 * ldmatrix.m8n8.x4.b16 (PTX ISA 9.7.14.5.15): lanes 8m .. 8m+7 give the addresses of the
 * 8 rows (16 bytes each) of matrix m; register m of lane L receives row L >> 2, columns
 * 2 (L & 3) + h of matrix m, or with .trans row 2 (L & 3) + h, column L >> 2 (the matrix
 * read column by column). */
#ifndef LT_CUDA_TC_MMA_CUH
#define LT_CUDA_TC_MMA_CUH

#include <stdint.h>
#include <string.h>

#include <cuda_bf16.h>

#define TC_HD __host__ __device__ __forceinline__
/* mma.sync bf16 and cp.async need sm_80. A build that also targets an older GPU (a
 * CUDA_ARCHITECTURES list with 75, say) still compiles: there the instructions become a
 * trap, and lt_cuda_attn_tc_unsupported keeps such a device on the simple kernel. */
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define TC_SM80 1
#else
#define TC_SM80 0
#endif
/* Loop unrolling for the device pass; the host compiler does not know the pragma. */
#ifdef __CUDA_ARCH__
#define TC_UNROLL _Pragma("unroll")
#else
#define TC_UNROLL
#endif

/* ------------------------------------------------------- fragment layouts ---- */

/* A operand: register r (0..3), half h (0 low, 1 high). */
TC_HD int tc_a_row(int lane, int r) { return (lane >> 2) + 8 * (r & 1); }
TC_HD int tc_a_col(int lane, int r, int h) { return 2 * (lane & 3) + h + 8 * (r >> 1); }
/* B operand: register r (0..1), half h; k is the row (reduction index), n the column. */
TC_HD int tc_b_k(int lane, int r, int h) { return 2 * (lane & 3) + h + 8 * r; }
TC_HD int tc_b_n(int lane) { return lane >> 2; }
/* C/D accumulator: element i (0..3). */
TC_HD int tc_c_row(int lane, int i) { return (lane >> 2) + 8 * (i >> 1); }
TC_HD int tc_c_col(int lane, int i) { return 2 * (lane & 3) + (i & 1); }

/* The (row, col) inside a 16 x 16 tile whose 16-byte row this lane hands to ldmatrix.x4,
 * for the three ways the kernels use it:
 *  - A operand, non-transposed, tile stored row-major (rows = m, cols = k): matrices
 *    0..3 = (rows 0-7, k 0-7), (rows 8-15, k 0-7), (rows 0-7, k 8-15), (rows 8-15,
 *    k 8-15), i.e. A registers 0..3.
 *  - B operands of two n-tiles, tile stored n-major (rows = n, cols = k; K rows for
 *    S = Q K^T): matrices = (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7),
 *    (n 8-15, k 8-15), i.e. B registers 0, 1 of n-tile 0, then of n-tile 1.
 *  - the same with .trans from a tile stored k-major (rows = k, cols = n; V rows for
 *    O = P V): matrices = (k 0-7, n 0-7), (k 8-15, n 0-7), (k 0-7, n 8-15),
 *    (k 8-15, n 8-15), again B registers 0, 1 of n-tile 0, then of n-tile 1. */
TC_HD int tc_ldsm_a_row(int lane) { return lane & 15; }
TC_HD int tc_ldsm_a_col(int lane) { return 8 * (lane >> 4); }
TC_HD int tc_ldsm_bn_row(int lane) { return (lane & 7) + 8 * (lane >> 4); }
TC_HD int tc_ldsm_bn_col(int lane) { return 8 * ((lane >> 3) & 1); }
TC_HD int tc_ldsm_bk_row(int lane) { return (lane & 7) + 8 * ((lane >> 3) & 1); }
TC_HD int tc_ldsm_bk_col(int lane) { return 8 * (lane >> 4); }

/* Two f32 values rounded to bf16 (nearest even) in one register, `lo` in the low 16
 * bits: the element with the lower index of a fragment pair. cuda_bf16.h's own
 * conversion, so host and device share it (cvt.rn.bf16x2.f32 on sm_80+). */
TC_HD uint32_t tc_pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

/* FlashAttention-2's register reuse: the C fragments of two adjacent 16 x 8 tiles
 * (columns 16kk .. 16kk+7 and 16kk+8 .. 16kk+15) are, element for element, the A
 * fragment of the 16 x 16 tile they form (columns = k): C element (g, 2t + h) is A
 * register 0 half h, (g + 8, 2t + h) register 1, and the second tile's the same + 8
 * columns, registers 2 and 3. No data moves between lanes. */
TC_HD void tc_c_to_a(const float c0[4], const float c1[4], uint32_t a[4]) {
    a[0] = tc_pack_bf16(c0[0], c0[1]);
    a[1] = tc_pack_bf16(c0[2], c0[3]);
    a[2] = tc_pack_bf16(c1[0], c1[1]);
    a[3] = tc_pack_bf16(c1[2], c1[3]);
}

/* ----------------------------------------------------------- the GPU warp ---- */

/* The collective operations of one warp on the GPU. The host test supplies another
 * class with the same members (an emulation), and the routines below are templates on
 * it. The bodies are empty in the host pass of nvcc: only the device calls them. */
struct tc_gpu_warp {
    TC_HD int lane() const {
#ifdef __CUDA_ARCH__
        return (int)(threadIdx.x & 31);
#else
        return 0;
#endif
    }
    /* `row` is this lane's 16-byte row in shared memory (16-byte aligned). The "memory"
     * clobber keeps the load after the __syncthreads that publishes the tile. */
    TC_HD void ldsm_x4(uint32_t r[4], const uint16_t *row) const {
#ifdef __CUDA_ARCH__
        unsigned s = (unsigned)__cvta_generic_to_shared(row);
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                     : "r"(s)
                     : "memory");
#else
        (void)row;
        r[0] = r[1] = r[2] = r[3] = 0;
#endif
    }
    TC_HD void ldsm_x4_trans(uint32_t r[4], const uint16_t *row) const {
#ifdef __CUDA_ARCH__
        unsigned s = (unsigned)__cvta_generic_to_shared(row);
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                     : "r"(s)
                     : "memory");
#else
        (void)row;
        r[0] = r[1] = r[2] = r[3] = 0;
#endif
    }
    /* d = A B + d for one 16 x 8 x 16 product, f32 accumulation. */
    TC_HD void mma(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1) const {
#if TC_SM80
        asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, "
            "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#elif defined(__CUDA_ARCH__)
        (void)d, (void)a, (void)b0, (void)b1;
        __trap();
#else
        (void)d, (void)a, (void)b0, (void)b1;
#endif
    }
    TC_HD float shfl_xor(float v, int mask) const {
#ifdef __CUDA_ARCH__
        return __shfl_xor_sync(0xffffffffu, v, mask);
#else
        (void)mask;
        return v;
#endif
    }
};

/* ------------------------------------------------------ warp-level GEMMs ---- */

/* A fragments of a 16 x 16KT tile stored row-major in shared memory (`pitch` elements
 * per row): a[kk] covers columns 16kk .. 16kk+15. */
template <int KT, class W>
TC_HD void tc_load_a(const W &w, const uint16_t *s, int pitch, uint32_t a[][4]) {
    const int lane = w.lane();
    const uint16_t *p = s + tc_ldsm_a_row(lane) * pitch + tc_ldsm_a_col(lane);
    TC_UNROLL
    for (int kk = 0; kk < KT; kk++) w.ldsm_x4(a[kk], p + 16 * kk);
}

/* c (16 x 8NT) = A (16 x 16KT, fragments) * B^T, with B^T's 8NT rows stored n-major in
 * shared memory (row n = column n of the product, 16KT elements each): S = Q K^T from
 * rows of K. c[nt] holds columns 8nt .. 8nt+7. */
template <int KT, int NT, class W>
TC_HD void tc_mma_abt(const W &w, const uint32_t a[][4], const uint16_t *s, int pitch,
                      float c[][4]) {
    const int lane = w.lane();
    const uint16_t *p = s + tc_ldsm_bn_row(lane) * pitch + tc_ldsm_bn_col(lane);
    TC_UNROLL
    for (int nt = 0; nt < NT; nt++) c[nt][0] = c[nt][1] = c[nt][2] = c[nt][3] = 0.0f;
    TC_UNROLL
    for (int kk = 0; kk < KT; kk++) {
        TC_UNROLL
        for (int np = 0; np < NT / 2; np++) {
            uint32_t b[4];
            w.ldsm_x4(b, p + 16 * np * pitch + 16 * kk);
            w.mma(c[2 * np], a[kk], b[0], b[1]);
            w.mma(c[2 * np + 1], a[kk], b[2], b[3]);
        }
    }
}

/* acc (16 x 8NT) += bf16(c) (16 x 16KT, given as 2KT C fragments) * B, with B's 16KT
 * rows stored k-major in shared memory (row k, 8NT elements): O += P V from rows of V.
 * The C fragments become A fragments in place (tc_c_to_a). */
template <int KT, int NT, class W>
TC_HD void tc_mma_cb(const W &w, const float c[][4], const uint16_t *s, int pitch,
                     float acc[][4]) {
    const int lane = w.lane();
    const uint16_t *p = s + tc_ldsm_bk_row(lane) * pitch + tc_ldsm_bk_col(lane);
    TC_UNROLL
    for (int kk = 0; kk < KT; kk++) {
        uint32_t a[4];
        tc_c_to_a(c[2 * kk], c[2 * kk + 1], a);
        TC_UNROLL
        for (int np = 0; np < NT / 2; np++) {
            uint32_t b[4];
            w.ldsm_x4_trans(b, p + 16 * kk * pitch + 16 * np);
            w.mma(acc[2 * np], a, b[0], b[1]);
            w.mma(acc[2 * np + 1], a, b[2], b[3]);
        }
    }
}

#endif
