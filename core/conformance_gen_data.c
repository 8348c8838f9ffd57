/* core/conformance_gen_data.c - cases of the data-movement ops: fill, copy, cast,
 * embedding gathers and scatters, KV-cache writes. */
#include <math.h>

#include "conformance_case.h"

/* ---------------------------------------------------------------- fill ---- */

int conf_gen_fill(conf_case *c, int i, const conf_gen_ctx *x) {
    static const struct {
        lt_dtype dt;
        int64_t rows, cols;
        double value;
        int in_middle; /* a view in the middle of a larger buffer */
    } cases[] = {
        {LT_F32, 17, 33, 3.25, 0},    {LT_F32, 1, 1, -1e-3, 0},   {LT_BF16, 1, 65, -1.5, 0},
        {LT_F16, 7, 3, 0.333, 0},     {LT_I32, 1, 13, 42, 0},      {LT_U8, 1, 1001, 7, 0},
        {LT_F64, 1, 5, 1.0 / 3.0, 0}, {LT_F32, 3, 5, -2.0, 1},     {LT_F32, 1, 100003, 2.5, 0},
    };
    if (i >= (int)(sizeof cases / sizeof cases[0])) return 0;
    int64_t cols = cases[i].cols;
    if (x->quick && cols > 20000) cols = 10007;
    int64_t shape[2] = {cases[i].rows, cols};
    conf_case_init(c, CONF_SEED(LT_OP_FILL, i), "%s[%lld,%lld] = %g%s", lt_dtype_name(cases[i].dt),
                   (long long)shape[0], (long long)shape[1], cases[i].value,
                   cases[i].in_middle ? ", view inside a larger buffer" : "");
    int t;
    if (cases[i].in_middle) {
        size_t sz = lt_dtype_size(cases[i].dt);
        int r = conf_region_new(c, (size_t)(shape[0] * shape[1] + 40) * sz);
        t = conf_view(c, "dst", r, 13 * sz, cases[i].dt, 2, shape, NULL);
    } else {
        t = conf_tensor_new(c, "dst", cases[i].dt, 2, shape);
    }
    conf_poison(c, t);
    conf_output(c, t, LT_OP_FILL);
    conf_call *k = conf_add_call(c, LT_OP_FILL);
    k->dst[0] = t;
    k->p.fill.value = cases[i].value;
    return 1;
}

/* ---------------------------------------------------------------- copy ---- */

typedef struct copy_case {
    lt_dtype dt;
    int ndim;
    int64_t shape[4];
    int64_t src_stride[4], dst_stride[4]; /* all 0 = contiguous */
    int64_t lead;
    const char *what;
    int big;
} copy_case;

static int contiguous_strides(const int64_t *s) { return !s[0] && !s[1] && !s[2] && !s[3]; }

int conf_gen_copy(conf_case *c, int i, const conf_gen_ctx *x) {
    static const copy_case cases[] = {
        {LT_F32, 1, {1}, {0}, {0}, 0, "one element", 0},
        {LT_F32, 1, {1000}, {0}, {0}, 0, "contiguous", 0},
        {LT_F32, 2, {5, 7}, {11, 1}, {0}, 3, "row-strided -> contiguous", 0},
        {LT_F32, 2, {6, 9}, {0}, {13, 1}, 2, "contiguous -> row-strided", 0},
        {LT_F32, 3, {3, 4, 5}, {1, 3, 12}, {24, 6, 1}, 1, "transposed -> padded rows", 0},
        {LT_BF16, 2, {7, 3}, {5, 1}, {0}, 1, "bf16 row-strided", 0},
        {LT_I32, 2, {4, 33}, {0}, {70, 2}, 0, "i32 into every other element", 0},
        {LT_U8, 2, {17, 19}, {1, 17}, {0}, 3, "u8 transposed", 0},
        {LT_F32, 4, {2, 3, 4, 5}, {60, 5, 15, 1}, {0}, 0, "permuted dims 1,2", 0},
        {LT_F16, 1, {33}, {3}, {2}, 1, "f16 stride 3 -> stride 2", 0},
        {LT_F64, 2, {4, 4}, {1, 4}, {0}, 0, "f64 transposed", 0},
        {LT_F32, 2, {257, 513}, {600, 1}, {0}, 5, "large row-strided", 1},
    };
    if (i >= (int)(sizeof cases / sizeof cases[0])) return 0;
    const copy_case *k = &cases[i];
    if (k->big && x->quick) return conf_gen_copy(c, i + 1, x);
    conf_case_init(c, CONF_SEED(LT_OP_COPY, i), "%s %s", lt_dtype_name(k->dt), k->what);
    int src = contiguous_strides(k->src_stride)
                  ? conf_tensor_new(c, "src", k->dt, k->ndim, k->shape)
                  : conf_strided_new(c, "src", k->dt, k->ndim, k->shape, k->src_stride, k->lead, 7);
    int dst = contiguous_strides(k->dst_stride)
                  ? conf_tensor_new(c, "dst", k->dt, k->ndim, k->shape)
                  : conf_strided_new(c, "dst", k->dt, k->ndim, k->shape, k->dst_stride, k->lead, 5);
    if (k->dt == LT_I32) conf_ints(c, src, -100000, 100000);
    else if (k->dt == LT_U8) conf_ints(c, src, 0, 256);
    else conf_uniform(c, src, -3.0, 3.0);
    conf_poison(c, dst);
    conf_output(c, dst, LT_OP_COPY);
    conf_call *call = conf_add_call(c, LT_OP_COPY);
    call->src[0] = src;
    call->dst[0] = dst;
    return 1;
}

/* ---------------------------------------------------------------- cast ---- */

int conf_gen_cast(conf_case *c, int i, const conf_gen_ctx *x) {
    (void)x;
    static const struct {
        lt_dtype from, to;
        int64_t n;
        int reshape; /* src [7, 11] -> dst [77] */
    } cases[] = {
        {LT_F32, LT_BF16, 1000, 0}, {LT_F32, LT_F16, 1000, 0}, {LT_BF16, LT_F32, 1001, 0},
        {LT_F16, LT_F32, 999, 0},   {LT_F32, LT_F64, 77, 0},   {LT_F64, LT_F32, 77, 0},
        {LT_F32, LT_BF16, 77, 1},   {LT_F32, LT_F16, 1, 0},
    };
    if (i >= (int)(sizeof cases / sizeof cases[0])) return 0;
    lt_dtype from = cases[i].from, to = cases[i].to;
    int64_t n = cases[i].n;
    conf_case_init(c, CONF_SEED(LT_OP_CAST, i), "%s[%lld] -> %s%s", lt_dtype_name(from),
                   (long long)n, lt_dtype_name(to), cases[i].reshape ? " (src [7,11], dst [77])" : "");
    int64_t flat[1] = {n}, two[2] = {7, 11};
    int src = cases[i].reshape ? conf_tensor_new(c, "src", from, 2, two)
                               : conf_tensor_new(c, "src", from, 1, flat);
    int dst = conf_tensor_new(c, "dst", to, 1, flat);
    conf_uniform(c, src, -4.0, 4.0);
    if (from == LT_F32 && n >= 20) {
        /* Rounding ties (to even), signed zero, subnormals of f16, the largest finite f16,
         * tiny bf16 values: where a conversion done differently shows. */
        const double special[] = {0.0, -0.0, 1.0 + 1.0 / 256, 1.0 + 3.0 / 256, 1.0 + 1.0 / 2048,
                                  1.0 + 3.0 / 2048, 65504.0, -65504.0, 1e-5, 6e-8, 3e-5,
                                  1e-30, -2.5e-38, 3.0e38, 0.1, -0.7};
        for (int k = 0; k < 16; k++) {
            double v = special[k];
            if (to == LT_F16 && fabs(v) > 65504.0) v = 1.0;
            conf_set(c, src, k, v);
        }
    }
    conf_poison(c, dst);
    conf_output(c, dst, LT_OP_CAST);
    conf_call *k = conf_add_call(c, LT_OP_CAST);
    k->src[0] = src;
    k->dst[0] = dst;
    return 1;
}

/* ---------------------------------------------------------------- embed ---- */

/* Tokens with repeats: a third of the rows reuse a handful of ids. */
static void repeated_tokens(conf_case *c, int t, int64_t V) {
    int64_t n = conf_numel(c, t);
    for (int64_t k = 0; k < n; k++) {
        int64_t id = conf_randint(c, 3) == 0 ? conf_randint(c, V < 4 ? V : 4) : conf_randint(c, V);
        conf_set(c, t, k, (double)id);
    }
}

typedef struct embed_case {
    int64_t V, D, B, T; /* out [B, T, D] (B = 0: [T, D]) */
    int accumulate;
} embed_case;

static const embed_case embed_cases[] = {
    {50, 33, 0, 40, 0}, {50, 33, 2, 20, 1}, {1, 1, 0, 1, 0}, {1000, 768, 0, 64, 0},
    {300, 96, 4, 33, 1}, {7, 5, 0, 200, 0},
};
#define EMBED_NCASES ((int)(sizeof embed_cases / sizeof embed_cases[0]))

static int embed_out(conf_case *c, const char *name, const embed_case *e) {
    int64_t s3[3] = {e->B, e->T, e->D}, s2[2] = {e->T, e->D};
    return e->B ? conf_tensor_new(c, name, LT_F32, 3, s3) : conf_tensor_new(c, name, LT_F32, 2, s2);
}

int conf_gen_embed_fwd(conf_case *c, int i, const conf_gen_ctx *x) {
    (void)x;
    if (i >= EMBED_NCASES) return 0;
    const embed_case *e = &embed_cases[i];
    int64_t N = (e->B ? e->B : 1) * e->T;
    conf_case_init(c, CONF_SEED(LT_OP_EMBED_FWD, i), "V=%lld D=%lld N=%lld%s", (long long)e->V,
                   (long long)e->D, (long long)N, e->accumulate ? " accumulate" : "");
    int64_t ts[1] = {N}, tab[2] = {e->V, e->D};
    int tok = conf_tensor_new(c, "tokens", LT_I32, 1, ts);
    int table = conf_tensor_new(c, "table", LT_F32, 2, tab);
    int out = embed_out(c, "out", e);
    repeated_tokens(c, tok, e->V);
    conf_uniform(c, table, -1.0, 1.0);
    if (e->accumulate) conf_uniform(c, out, -1.0, 1.0);
    else conf_poison(c, out);
    conf_output(c, out, LT_OP_EMBED_FWD);
    conf_call *k = conf_add_call(c, LT_OP_EMBED_FWD);
    k->src[0] = tok;
    k->src[1] = table;
    k->dst[0] = out;
    k->p.embed.accumulate = e->accumulate;
    return 1;
}

int conf_gen_embed_bwd(conf_case *c, int i, const conf_gen_ctx *x) {
    (void)x;
    if (i >= EMBED_NCASES) return 0;
    const embed_case *e = &embed_cases[i];
    int64_t N = (e->B ? e->B : 1) * e->T;
    conf_case_init(c, CONF_SEED(LT_OP_EMBED_BWD, i), "V=%lld D=%lld N=%lld, repeated ids",
                   (long long)e->V, (long long)e->D, (long long)N);
    int64_t ts[1] = {N}, tab[2] = {e->V, e->D};
    int tok = conf_tensor_new(c, "tokens", LT_I32, 1, ts);
    int dout = embed_out(c, "dout", e);
    int dtable = conf_tensor_new(c, "dtable", LT_F32, 2, tab);
    repeated_tokens(c, tok, e->V);
    conf_uniform(c, dout, -1.0, 1.0);
    conf_uniform(c, dtable, -1.0, 1.0); /* always accumulates */
    conf_output(c, dtable, LT_OP_EMBED_BWD);
    c->deterministic = 1;
    conf_call *k = conf_add_call(c, LT_OP_EMBED_BWD);
    k->src[0] = tok;
    k->src[1] = dout;
    k->dst[0] = dtable;
    return 1;
}

int conf_gen_pos_embed_fwd(conf_case *c, int i, const conf_gen_ctx *x) {
    (void)x;
    static const struct {
        int64_t P, D, B, T;
    } cases[] = {{64, 33, 0, 40}, {60, 48, 3, 17}, {1, 1, 0, 1}, {3 * 512, 256, 2, 100}};
    if (i >= (int)(sizeof cases / sizeof cases[0])) return 0;
    int64_t P = cases[i].P, D = cases[i].D, B = cases[i].B, T = cases[i].T;
    int64_t N = (B ? B : 1) * T;
    conf_case_init(c, CONF_SEED(LT_OP_POS_EMBED_FWD, i), "P=%lld D=%lld N=%lld", (long long)P,
                   (long long)D, (long long)N);
    int64_t ps[1] = {N}, tab[2] = {P, D}, s3[3] = {B, T, D}, s2[2] = {T, D};
    int pos = conf_tensor_new(c, "pos", LT_I32, 1, ps);
    int table = conf_tensor_new(c, "table", LT_F32, 2, tab);
    int out = B ? conf_tensor_new(c, "x", LT_F32, 3, s3) : conf_tensor_new(c, "x", LT_F32, 2, s2);
    /* Positions as the model makes them: a modality base plus the position in the segment. */
    for (int64_t n = 0; n < N; n++) {
        int64_t base = (n / (T > 1 ? T / 2 : 1)) % 3 * (P / 3);
        int64_t p = base + n % (P / 3 > 0 ? P / 3 : 1);
        conf_set(c, pos, n, (double)(p < P ? p : P - 1));
    }
    conf_uniform(c, table, -1.0, 1.0);
    conf_uniform(c, out, -1.0, 1.0);
    conf_output(c, out, LT_OP_POS_EMBED_FWD);
    conf_call *k = conf_add_call(c, LT_OP_POS_EMBED_FWD);
    k->src[0] = pos;
    k->src[1] = table;
    k->dst[0] = out;
    return 1;
}

/* ---------------------------------------------------------------- kv_write ---- */

int conf_gen_kv_write(conf_case *c, int i, const conf_gen_ctx *x) {
    (void)x;
    static const struct {
        int64_t B, Tmax, H, Dh, Tn;
        int64_t pos[3];
        int fused; /* x as the k part of a fused [B, Tn, 3*H*Dh] buffer */
    } cases[] = {
        {1, 8, 1, 1, 1, {0}, 0},
        {3, 40, 3, 24, 1, {0, 17, 39}, 0},
        {2, 33, 2, 16, 5, {0, 28}, 1},
        {2, 100, 4, 64, 17, {3, 83}, 1},
    };
    if (i >= (int)(sizeof cases / sizeof cases[0])) return 0;
    int64_t B = cases[i].B, Tmax = cases[i].Tmax, H = cases[i].H, Dh = cases[i].Dh, Tn = cases[i].Tn;
    conf_case_init(c, CONF_SEED(LT_OP_KV_WRITE, i), "B=%lld Tmax=%lld H=%lld Dh=%lld Tn=%lld%s",
                   (long long)B, (long long)Tmax, (long long)H, (long long)Dh, (long long)Tn,
                   cases[i].fused ? " fused x" : "");
    int64_t xs[4] = {B, Tn, H, Dh}, cs[4] = {B, Tmax, H, Dh}, ps[1] = {B};
    int xt;
    if (cases[i].fused) {
        int64_t hd = H * Dh, st[4] = {Tn * 3 * hd, 3 * hd, Dh, 1};
        int64_t fs[3] = {B, Tn, 3 * hd};
        int whole = conf_tensor_new(c, "qkv", LT_F32, 3, fs);
        conf_uniform(c, whole, -1.0, 1.0);
        xt = conf_view(c, "x", c->t[whole].region, (size_t)hd * 4, LT_F32, 4, xs, st);
    } else {
        xt = conf_tensor_new(c, "x", LT_F32, 4, xs);
    }
    int pos = conf_tensor_new(c, "pos", LT_I32, 1, ps);
    int cache = conf_tensor_new(c, "cache", LT_F32, 4, cs);
    conf_uniform(c, xt, -1.0, 1.0);
    for (int64_t b = 0; b < B; b++) conf_set(c, pos, b, (double)cases[i].pos[b]);
    conf_uniform(c, cache, -1.0, 1.0); /* rows not written must keep these */
    conf_output(c, cache, LT_OP_KV_WRITE);
    conf_call *k = conf_add_call(c, LT_OP_KV_WRITE);
    k->src[0] = xt;
    k->src[1] = pos;
    k->dst[0] = cache;
    return 1;
}

/* Gradient chain: out = table[tokens] then dtable = scatter-add of a random dout (dtable
 * starts at zero, as a fresh gradient buffer). */
int conf_chain_embed(conf_case *c, int i, const conf_gen_ctx *x) {
    (void)x;
    if (i >= EMBED_NCASES) return 0;
    const embed_case *e = &embed_cases[i];
    int64_t N = (e->B ? e->B : 1) * e->T;
    conf_case_init(c, CONF_SEED(100 + LT_OP_EMBED_BWD, i), "V=%lld D=%lld N=%lld: out, dtable",
                   (long long)e->V, (long long)e->D, (long long)N);
    int64_t ts[1] = {N}, tab[2] = {e->V, e->D};
    int tok = conf_tensor_new(c, "tokens", LT_I32, 1, ts);
    int table = conf_tensor_new(c, "table", LT_F32, 2, tab);
    int out = embed_out(c, "out", e), dout = embed_out(c, "dout", e);
    int dtable = conf_tensor_new(c, "dtable", LT_F32, 2, tab);
    repeated_tokens(c, tok, e->V);
    conf_uniform(c, table, -1.0, 1.0);
    conf_uniform(c, dout, -1.0, 1.0);
    conf_poison(c, out);
    conf_output(c, out, LT_OP_EMBED_FWD);
    conf_output(c, dtable, LT_OP_EMBED_BWD);
    conf_call *k = conf_add_call(c, LT_OP_EMBED_FWD);
    k->src[0] = tok;
    k->src[1] = table;
    k->dst[0] = out;
    k = conf_add_call(c, LT_OP_EMBED_BWD);
    k->src[0] = tok;
    k->src[1] = dout;
    k->dst[0] = dtable;
    return 1;
}
