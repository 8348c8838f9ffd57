/* core/conformance_gen_matmul.c - matmul cases: tiny and odd sizes that are no multiple
 * of any tile, every transpose, batches with broadcast, row-strided views, accumulate.
 * After the f32 cases come the mixed-precision ones (loretta/ops.h): bf16 and f16
 * operands with C in their dtype or f32, over the same variety of layouts. */
#include "conformance_case.h"

static const conf_matmul_shape lt_matmul_shapes[] = {
    /* M, K, N, ta, tb, batch, bcast, strided, accumulate, alpha, big */
    {1, 1, 1, 0, 0, 0, 0, 0, 0, 1.0f, 0},
    {17, 33, 65, 0, 0, 0, 0, 0, 0, 1.0f, 0},
    {17, 33, 65, 1, 0, 0, 0, 0, 0, 1.0f, 0},
    {17, 33, 65, 0, 1, 0, 0, 0, 0, 1.0f, 0},
    {17, 33, 65, 1, 1, 0, 0, 0, 0, 1.0f, 0},
    {64, 64, 64, 0, 0, 0, 0, 0, 1, 0.5f, 0},
    {1, 1000, 1, 0, 0, 0, 0, 0, 0, 1.0f, 0},
    {1, 257, 129, 0, 1, 0, 0, 0, 0, 1.0f, 0},
    {129, 1, 63, 0, 0, 0, 0, 0, 0, 1.0f, 0},
    {17, 33, 65, 0, 0, 3, 0, 0, 0, 1.0f, 0},
    {20, 48, 36, 0, 1, 4, 1, 0, 0, 1.0f, 0},
    {23, 19, 41, 1, 0, 3, 2, 0, 1, 1.0f, 0},
    {31, 45, 27, 0, 0, 0, 0, 1, 1, -1.5f, 0},
    {19, 23, 29, 0, 1, 2, 0, 1, 0, 1.0f, 0},
    {33, 17, 9, 1, 1, 2, 0, 1, 1, 2.0f, 0},
    {257, 513, 129, 0, 0, 0, 0, 0, 0, 1.0f, 1},
    {96, 2048, 80, 0, 1, 0, 0, 0, 0, 1.0f, 1},
};
#define MATMUL_NSHAPES ((int)(sizeof lt_matmul_shapes / sizeof lt_matmul_shapes[0]))

const conf_matmul_shape *conf_matmul_shape_at(int i, int quick) {
    for (int k = 0, seen = 0; k < MATMUL_NSHAPES; k++) {
        if (quick && lt_matmul_shapes[k].big) continue;
        if (seen++ == i) return &lt_matmul_shapes[k];
    }
    return NULL;
}

/* The mixed-precision cases: a shape with the dtype of A/B and that of C. */
typedef struct mixed_matmul {
    conf_matmul_shape s;
    lt_dtype ab, c;
} mixed_matmul;

static const mixed_matmul lt_matmul_mixed[] = {
    {{17, 33, 65, 0, 0, 0, 0, 0, 0, 1.0f, 0}, LT_BF16, LT_BF16},
    {{17, 33, 65, 0, 0, 0, 0, 0, 0, 1.0f, 0}, LT_BF16, LT_F32},
    {{17, 33, 65, 1, 0, 0, 0, 0, 0, 1.0f, 0}, LT_BF16, LT_F32},
    {{17, 33, 65, 0, 1, 0, 0, 0, 0, 1.0f, 0}, LT_BF16, LT_BF16},
    {{17, 33, 65, 1, 1, 0, 0, 0, 0, 1.0f, 0}, LT_BF16, LT_F32},
    {{3, 1000, 5, 0, 0, 0, 0, 0, 0, 1.0f, 0}, LT_BF16, LT_F32},  /* long f32 sums */
    {{3, 1000, 5, 0, 1, 0, 0, 0, 0, 1.0f, 0}, LT_BF16, LT_BF16},
    {{64, 64, 64, 0, 0, 0, 0, 0, 1, 0.5f, 0}, LT_BF16, LT_F32},
    {{20, 48, 36, 0, 1, 4, 1, 0, 0, 1.0f, 0}, LT_BF16, LT_F32},  /* A broadcast */
    {{23, 19, 41, 1, 0, 3, 2, 0, 1, 1.0f, 0}, LT_BF16, LT_F32},  /* B broadcast, += */
    {{23, 19, 41, 1, 0, 3, 2, 0, 1, 1.0f, 0}, LT_BF16, LT_BF16},
    {{31, 45, 27, 0, 0, 0, 0, 1, 1, -1.5f, 0}, LT_BF16, LT_F32}, /* row-strided, odd starts */
    {{19, 23, 29, 0, 1, 2, 0, 1, 0, 1.0f, 0}, LT_BF16, LT_BF16},
    {{33, 17, 9, 1, 1, 2, 0, 1, 1, 2.0f, 0}, LT_BF16, LT_BF16},
    {{17, 33, 65, 0, 0, 3, 0, 0, 0, 1.0f, 0}, LT_F16, LT_F16},
    {{17, 33, 65, 0, 1, 3, 0, 0, 0, 1.0f, 0}, LT_F16, LT_F32},
    {{33, 17, 9, 1, 1, 2, 0, 1, 1, 2.0f, 0}, LT_F16, LT_F32},
};
#define MATMUL_NMIXED ((int)(sizeof lt_matmul_mixed / sizeof lt_matmul_mixed[0]))

/* One operand: [batch?, rows, cols], row-strided (padded rows, padded batches, an odd
 * start) when asked. */
static int operand(conf_case *c, const char *name, lt_dtype dt, int64_t batch, int64_t rows,
                   int64_t cols, int strided) {
    int64_t s3[3] = {batch, rows, cols}, s2[2] = {rows, cols};
    if (!strided) return conf_tensor_new(c, name, dt, batch ? 3 : 2, batch ? s3 : s2);
    int64_t ld = cols + 7, st3[3] = {rows * ld + 3, ld, 1}, st2[2] = {ld, 1};
    return batch ? conf_strided_new(c, name, dt, 3, s3, st3, 5, 11)
                 : conf_strided_new(c, name, dt, 2, s2, st2, 5, 11);
}

static conf_call *build(conf_case *c, const conf_matmul_shape *s, lt_dtype ab, lt_dtype cdt,
                        int t[3]) {
    int64_t M = s->M, K = s->K, N = s->N;
    int64_t bA = s->batch, bB = s->batch;
    if (s->bcast == 1) bA = 0;      /* rank 2: broadcast over the batch */
    if (s->bcast == 2) bB = 1;      /* rank 3 with batch 1 */
    t[0] = operand(c, "a", ab, bA, s->ta ? K : M, s->ta ? M : K, s->strided);
    t[1] = operand(c, "b", ab, bB, s->tb ? N : K, s->tb ? K : N, s->strided);
    t[2] = operand(c, "c", cdt, s->batch, M, N, s->strided);
    conf_uniform(c, t[0], -1.0, 1.0);
    conf_uniform(c, t[1], -1.0, 1.0);
    if (s->accumulate) conf_uniform(c, t[2], -1.0, 1.0);
    else conf_poison(c, t[2]);
    conf_call *k = conf_add_call(c, LT_OP_MATMUL);
    k->src[0] = t[0];
    k->src[1] = t[1];
    k->dst[0] = t[2];
    k->p.matmul = (lt_matmul_params){s->ta, s->tb, s->accumulate, s->alpha};
    return k;
}

conf_call *conf_matmul_build(conf_case *c, const conf_matmul_shape *s, int t[3]) {
    return build(c, s, LT_F32, LT_F32, t);
}

int conf_gen_matmul(conf_case *c, int i, const conf_gen_ctx *x) {
    const conf_matmul_shape *s = conf_matmul_shape_at(i, x->quick);
    lt_dtype ab = LT_F32, cdt = LT_F32;
    if (!s) {
        int nf32 = 0;
        while (conf_matmul_shape_at(nf32, x->quick)) nf32++;
        if (i - nf32 >= MATMUL_NMIXED) return 0;
        const mixed_matmul *m = &lt_matmul_mixed[i - nf32];
        s = &m->s;
        ab = m->ab;
        cdt = m->c;
    }
    char types[32] = "";
    if (ab != LT_F32)
        conf_fmt(types, sizeof types, ", %s -> %s", lt_dtype_name(ab), lt_dtype_name(cdt));
    conf_case_init(c, CONF_SEED(LT_OP_MATMUL, i), "%dx%dx%d%s%s batch %d%s%s%s alpha %g%s", s->M,
                   s->K, s->N, s->ta ? " A^T" : "", s->tb ? " B^T" : "", s->batch ? s->batch : 1,
                   s->bcast == 1 ? " (A broadcast)" : s->bcast == 2 ? " (B broadcast)" : "",
                   s->strided ? " row-strided" : "", s->accumulate ? " accumulate" : "",
                   (double)s->alpha, types);
    int t[3];
    build(c, s, ab, cdt, t);
    conf_output(c, t[2], LT_OP_MATMUL);
    return 1;
}

/* Gradient chain: C = alpha op(A) op(B), then dA and dB from a random dC through the
 * transposed matmuls the trainer uses. Broadcast shapes are left out: their gradient sums
 * over the batch, which is not one matmul. */
int conf_chain_matmul(conf_case *c, int i, const conf_gen_ctx *x) {
    const conf_matmul_shape *s = NULL;
    for (int k = 0, seen = 0; (s = conf_matmul_shape_at(k, x->quick)) != NULL; k++)
        if (!s->bcast && seen++ == i) break;
    if (!s) return 0;
    conf_case_init(c, CONF_SEED(100 + LT_OP_MATMUL, i), "%dx%dx%d%s%s batch %d%s alpha %g: C, dA, dB",
                   s->M, s->K, s->N, s->ta ? " A^T" : "", s->tb ? " B^T" : "",
                   s->batch ? s->batch : 1, s->strided ? " row-strided" : "", (double)s->alpha);
    conf_matmul_shape fwd = *s;
    fwd.accumulate = 0;
    int t[3];
    conf_matmul_build(c, &fwd, t);
    conf_output(c, t[2], LT_OP_MATMUL);
    int dc = conf_like(c, "dc", t[2]);
    conf_uniform(c, dc, -1.0, 1.0);
    int da = conf_like(c, "da", t[0]), db = conf_like(c, "db", t[1]);
    conf_poison(c, da);
    conf_poison(c, db);
    conf_output(c, da, LT_OP_MATMUL);
    conf_output(c, db, LT_OP_MATMUL);
    conf_matmul_grad_calls(c, t[0], t[1], dc, da, db, s->ta, s->tb, s->alpha);
    return 1;
}
