/* core/conformance_gen_loss.c - cross-entropy and sampling cases. */
#include <stdio.h>

#include "conformance_case.h"

/* ---------------------------------------------------------------- cross_entropy ---- */

typedef struct ce_case {
    int64_t B, N, V;   /* logits [B?, N, V] */
    int weights;       /* 0 = NULL, 1 = mixed with zero rows, 2 = all ones */
    int dlogits;       /* 0 = NULL, 1 = separate, 2 = in place (the logits tensor) */
    double range;      /* logits uniform in [-range, range] */
    int big;
} ce_case;

static const ce_case ce_cases[] = {
    {0, 7, 33, 1, 1, 4.0, 0},   {0, 1, 1, 0, 1, 4.0, 0},     {0, 16, 5000, 0, 0, 30.0, 0},
    {0, 9, 257, 1, 2, 4.0, 0},  {2, 13, 100, 2, 1, 4.0, 0},  {0, 128, 8192, 1, 1, 8.0, 1},
};

static const ce_case *ce_at(int i, int quick) {
    for (int k = 0, seen = 0; k < (int)(sizeof ce_cases / sizeof ce_cases[0]); k++) {
        if (quick && ce_cases[k].big) continue;
        if (seen++ == i) return &ce_cases[k];
    }
    return NULL;
}

/* Builds one cross-entropy call; shared with the gradient chain (which always asks for
 * dlogits). Zero-weight rows get targets outside the vocabulary: the op must not read them. */
static void ce_build(conf_case *c, const ce_case *e, int want_dlogits) {
    int64_t N = (e->B ? e->B : 1) * e->N;
    int64_t s3[3] = {e->B, e->N, e->V}, s2[2] = {e->N, e->V}, rs[1] = {N};
    int rank = e->B ? 3 : 2;
    const int64_t *ls = e->B ? s3 : s2;
    int logits = conf_tensor_new(c, "logits", LT_F32, rank, ls);
    int targets = conf_tensor_new(c, "targets", LT_I32, 1, rs);
    int weights = e->weights ? conf_tensor_new(c, "weights", LT_F32, 1, rs) : -1;
    int losses = conf_tensor_new(c, "losses", LT_F32, 1, rs);
    conf_uniform(c, logits, -e->range, e->range);
    conf_ints(c, targets, 0, e->V);
    for (int64_t n = 0; weights >= 0 && n < N; n++) {
        double w = e->weights == 2 ? 1.0 : (n % 3 == 2 ? 0.0 : (n % 3 == 1 ? 0.5 : 2.0));
        conf_set(c, weights, n, w);
        if (w == 0.0) conf_set(c, targets, n, n % 2 ? -1.0 : (double)(e->V + 1000));
    }
    conf_poison(c, losses);
    conf_output(c, losses, LT_OP_CROSS_ENTROPY);
    int dmode = want_dlogits && !e->dlogits ? 1 : e->dlogits;
    int dl = -1;
    if (dmode == 1) {
        dl = conf_tensor_new(c, "dlogits", LT_F32, rank, ls);
        conf_poison(c, dl);
    } else if (dmode == 2) {
        dl = logits;
    }
    if (dl >= 0) conf_output(c, dl, LT_OP_CROSS_ENTROPY);
    conf_call *k = conf_add_call(c, LT_OP_CROSS_ENTROPY);
    k->src[0] = logits;
    k->src[1] = targets;
    k->src[2] = weights;
    k->dst[0] = losses;
    k->dst[1] = dl;
    k->p.ce.grad_scale = (float)(1.0 / (double)N);
}

static void ce_desc(conf_case *c, uint64_t seed, const ce_case *e, int dmode) {
    conf_case_init(c, seed, "N=%lld V=%lld logits in +-%g, %s, %s",
                   (long long)((e->B ? e->B : 1) * e->N), (long long)e->V, e->range,
                   e->weights == 1   ? "zero-weight rows"
                   : e->weights == 2 ? "unit weights"
                                     : "no weights",
                   dmode == 0 ? "no dlogits" : dmode == 2 ? "dlogits in place" : "dlogits");
}

int conf_gen_cross_entropy(conf_case *c, int i, const conf_gen_ctx *x) {
    const ce_case *e = ce_at(i, x->quick);
    if (!e) return 0;
    ce_desc(c, CONF_SEED(LT_OP_CROSS_ENTROPY, i), e, e->dlogits);
    ce_build(c, e, 0);
    return 1;
}

int conf_chain_cross_entropy(conf_case *c, int i, const conf_gen_ctx *x) {
    const ce_case *e = ce_at(i, x->quick);
    if (!e) return 0;
    ce_desc(c, CONF_SEED(100 + LT_OP_CROSS_ENTROPY, i), e, e->dlogits ? e->dlogits : 1);
    ce_build(c, e, 1);
    return 1;
}

/* ---------------------------------------------------------------- sample ---- */

int conf_gen_sample(conf_case *c, int i, const conf_gen_ctx *x) {
    (void)x;
    static const struct {
        int B, V;
        float temperature;
        int top_k, lo, hi; /* hi 0 = V */
        int ids;           /* sample ids given (else NULL = row index) */
        int levels;        /* logits quantised to this many values: ties (0 = continuous) */
        uint64_t step;
        const char *what;
    } cases[] = {
        {4, 50, 0.0f, 0, 0, 0, 0, 3, 0, "greedy, ties"},
        {4, 50, 0.0f, 0, 10, 40, 1, 0, 0, "greedy in range [10,40)"},
        {5, 50, 0.8f, 0, 0, 0, 0, 0, 3, "temperature 0.8"},
        {8, 1000, 1.0f, 5, 0, 0, 1, 0, 7, "top-5, sample ids"},
        {3, 33, 1.5f, 1, 0, 0, 0, 0, 1, "top-1"},
        {6, 50, 1.0f, 100, 0, 20, 0, 0, 2, "top_k above the candidates"},
        {1, 1, 1.0f, 0, 0, 0, 0, 0, 0, "one token"},
        {16, 32000, 0.7f, 50, 0, 0, 1, 0, 11, "large vocabulary, top-50"},
        {8, 64, 1.0f, 7, 3, 60, 0, 4, 5, "top-7 with ties at the cut"},
        {12, 300, 0.05f, 0, 0, 0, 1, 0, 9, "temperature 0.05"},
    };
    if (i >= (int)(sizeof cases / sizeof cases[0])) return 0;
    int B = cases[i].B, V = cases[i].V;
    conf_case_init(c, CONF_SEED(LT_OP_SAMPLE, i), "B=%d V=%d T=%g top_k=%d: %s", B, V,
                   (double)cases[i].temperature, cases[i].top_k, cases[i].what);
    int64_t ls[2] = {B, V}, bs[1] = {B};
    int logits = conf_tensor_new(c, "logits", LT_F32, 2, ls);
    int ids = cases[i].ids ? conf_tensor_new(c, "sample_ids", LT_I32, 1, bs) : -1;
    int tokens = conf_tensor_new(c, "tokens", LT_I32, 1, bs);
    if (cases[i].levels) conf_ints(c, logits, 0, cases[i].levels);
    else conf_uniform(c, logits, -3.0, 3.0);
    if (ids >= 0)
        for (int b = 0; b < B; b++) conf_set(c, ids, b, 100 + 37 * b);
    conf_poison(c, tokens);
    conf_output(c, tokens, LT_OP_SAMPLE);
    conf_call *k = conf_add_call(c, LT_OP_SAMPLE);
    k->src[0] = logits;
    k->src[1] = ids;
    k->dst[0] = tokens;
    k->p.sample = (lt_sample_params){0x10AE77Aull + (uint64_t)i, cases[i].step, cases[i].temperature,
                                     cases[i].top_k, cases[i].lo, cases[i].hi ? cases[i].hi : V};
    return 1;
}
