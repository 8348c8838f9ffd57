/* backends/ref/matmul.c - batched matmul as the textbook triple loop, summed in double.
 * Any float dtypes (A and B alike, C theirs or f32): bf16/f16 operands are exact in
 * double, and each C element is rounded once to its dtype. */
#include "ref_common.h"

/* Element offset of row r, column c of matrix `b` in a rank-2 or rank-3 tensor; a batch
 * of size 1 is broadcast over every batch. */
static int64_t mat_at(const lt_tensor *t, int64_t b, int64_t r, int64_t c) {
    if (t->ndim == 3) return lt_ref_at(t, t->shape[0] == 1 ? 0 : b, r, c, 0);
    return lt_ref_at(t, r, c, 0, 0);
}

lt_status lt_ref_matmul(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    const lt_tensor *a = call->src[0], *b = call->src[1];
    lt_tensor *c = call->dst[0];
    const lt_matmul_params *p = &call->p.matmul;
    const int rc = c->ndim - 2;
    const int64_t batches = c->ndim == 3 ? c->shape[0] : 1;
    const int64_t M = c->shape[rc], N = c->shape[rc + 1];
    const int64_t K = p->trans_a ? a->shape[a->ndim - 2] : a->shape[a->ndim - 1];
    for (int64_t bi = 0; bi < batches; bi++)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0.0;
                for (int64_t k = 0; k < K; k++) {
                    double av = lt_ref_ld(a, p->trans_a ? mat_at(a, bi, k, i) : mat_at(a, bi, i, k));
                    double bv = lt_ref_ld(b, p->trans_b ? mat_at(b, bi, j, k) : mat_at(b, bi, k, j));
                    s += av * bv;
                }
                const int64_t o = mat_at(c, bi, i, j);
                double v = (double)p->alpha * s;
                if (p->accumulate) v += lt_ref_ld(c, o);
                lt_ref_st_once(c, o, v);
            }
    return LT_OK;
}
