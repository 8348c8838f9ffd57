/* core/conformance_gen_attn.c - attention cases: T from 1 to 2048 (the large T in only
 * two cases), both masks, ragged lengths (one sample of length 0), q/k/v and gradients as
 * strided views into one fused buffer, odd head dims; the KV-cache decode path.
 * After the f32 cases come the mixed-precision ones (loretta/ops.h): bf16 (and some f16)
 * q/k/v with out, dout and gradients in the half dtype or f32, at Dh = 64 (the tensor-
 * core head dim) and an odd Dh = 33 (half rows that start 2 bytes off a 4-byte word),
 * T = 70..200 so there are several 64-row tiles and a ragged last one. */
#include <math.h>
#include <stdio.h>

#include "conformance_case.h"

static const conf_attn_shape lt_attn_shapes[] = {
    /* B, T, H, Dh, causal, ragged, fused, big */
    {1, 1, 1, 1, 1, 0, 0, 0},
    {1, 1, 1, 16, 0, 0, 0, 0},
    {2, 5, 1, 16, 1, 0, 0, 0},
    {3, 17, 3, 24, 0, 1, 0, 0},
    {2, 33, 2, 32, 1, 0, 1, 0},
    {4, 65, 2, 40, 1, 1, 1, 0},
    {2, 128, 4, 64, 0, 1, 0, 0},
    {1, 200, 2, 64, 1, 0, 1, 0},
    {2, 257, 1, 80, 1, 1, 0, 0},
    {1, 2048, 1, 64, 1, 0, 1, 1},
    {2, 2048, 1, 32, 0, 1, 0, 1},
};
#define ATTN_NSHAPES ((int)(sizeof lt_attn_shapes / sizeof lt_attn_shapes[0]))

const conf_attn_shape *conf_attn_shape_at(int i, int quick) {
    for (int k = 0, seen = 0; k < ATTN_NSHAPES; k++) {
        if (quick && lt_attn_shapes[k].big) continue;
        if (seen++ == i) return &lt_attn_shapes[k];
    }
    return NULL;
}

/* Ragged lengths: full, about half, 1, then 0 (a sample that is all padding). */
static int64_t ragged_length(const conf_attn_shape *s, int b) {
    switch (b) {
    case 0: return s->T;
    case 1: return (s->T + 1) / 2;
    case 2: return 1;
    default: return 0;
    }
}

/* Three [B, T, H, Dh] views into one [B, T, 3*H*Dh] buffer, as a fused QKV projection
 * leaves them; or three contiguous tensors. */
static void triple_dt(conf_case *c, const conf_attn_shape *s, lt_dtype dt,
                      const char *const names[3], int t[3]) {
    int64_t shape[4] = {s->B, s->T, s->H, s->Dh};
    if (!s->fused) {
        for (int k = 0; k < 3; k++) t[k] = conf_tensor_new(c, names[k], dt, 4, shape);
        return;
    }
    size_t es = lt_dtype_size(dt);
    int64_t hd = (int64_t)s->H * s->Dh;
    int64_t stride[4] = {s->T * 3 * hd, 3 * hd, s->Dh, 1};
    int r = conf_region_new(c, (size_t)(s->B * s->T * 3 * hd) * es);
    for (int k = 0; k < 3; k++)
        t[k] = conf_view(c, names[k], r, (size_t)(k * hd) * es, dt, 4, shape, stride);
}

static void triple(conf_case *c, const conf_attn_shape *s, const char *const names[3], int t[3]) {
    triple_dt(c, s, LT_F32, names, t);
}

void conf_attn_triple(conf_case *c, const conf_attn_shape *s, const char *const names[3], int t[3]) {
    triple(c, s, names, t);
}

static void inputs_dt(conf_case *c, const conf_attn_shape *s, lt_dtype dt, int t[4]) {
    static const char *const names[3] = {"q", "k", "v"};
    triple_dt(c, s, dt, names, t);
    conf_uniform(c, t[0], -2.0, 2.0);
    conf_uniform(c, t[1], -1.0, 1.0);
    conf_uniform(c, t[2], -1.0, 1.0);
    t[3] = -1;
    if (s->ragged) {
        int64_t ls[1] = {s->B};
        t[3] = conf_tensor_new(c, "lengths", LT_I32, 1, ls);
        for (int b = 0; b < s->B; b++) conf_set(c, t[3], b, (double)ragged_length(s, b));
    }
}

void conf_attn_inputs(conf_case *c, const conf_attn_shape *s, int t[4]) { inputs_dt(c, s, LT_F32, t); }

static int out_dt(conf_case *c, const conf_attn_shape *s, lt_dtype dt, const char *name) {
    int64_t shape[4] = {s->B, s->T, s->H, s->Dh};
    if (!s->fused) return conf_tensor_new(c, name, dt, 4, shape);
    /* Rows padded by 8 elements: a kernel that writes whole padded rows touches the gaps. */
    int64_t row = (int64_t)s->H * s->Dh + 8;
    int64_t stride[4] = {s->T * row, row, s->Dh, 1};
    return conf_strided_new(c, name, dt, 4, shape, stride, 3, 8);
}

int conf_attn_out(conf_case *c, const conf_attn_shape *s, const char *name) {
    return out_dt(c, s, LT_F32, name);
}

int conf_attn_lse(conf_case *c, const conf_attn_shape *s, const char *name) {
    int64_t shape[3] = {s->B, s->H, s->T};
    return conf_tensor_new(c, name, LT_F32, 3, shape);
}

conf_call *conf_attn_fwd_call(conf_case *c, const conf_attn_shape *s, const int t[4], int out,
                              int lse) {
    conf_call *k = conf_add_call(c, LT_OP_ATTN_FWD);
    for (int j = 0; j < 4; j++) k->src[j] = t[j];
    k->dst[0] = out;
    k->dst[1] = lse;
    k->p.attn = (lt_attn_params){s->causal, (float)(1.0 / sqrt((double)s->Dh))};
    return k;
}

/* The mixed-precision cases, after the f32 shapes: q/k/v in `in`, out (and dout) in
 * `out`, dq/dk/dv in `grad` (the backward; the forward uses in and out only). */
typedef struct mixed_attn {
    conf_attn_shape s;
    lt_dtype in, out, grad;
} mixed_attn;

static const mixed_attn lt_attn_mixed[] = {
    /* B, T, H, Dh, causal, ragged, fused, big;  q/k/v, out/dout, dq/dk/dv */
    {{2, 130, 2, 64, 1, 1, 1, 0}, LT_BF16, LT_BF16, LT_BF16},
    {{2, 130, 2, 64, 1, 1, 1, 0}, LT_BF16, LT_F32, LT_F32}, /* the trainer's bf16 mode */
    {{1, 200, 2, 64, 0, 0, 1, 0}, LT_BF16, LT_F32, LT_BF16},
    {{3, 70, 2, 64, 0, 1, 1, 0}, LT_BF16, LT_BF16, LT_F32},
    {{3, 77, 2, 33, 1, 1, 1, 0}, LT_BF16, LT_BF16, LT_BF16},
    {{2, 96, 1, 33, 0, 0, 1, 0}, LT_BF16, LT_F32, LT_F32},
    {{2, 70, 2, 64, 1, 1, 1, 0}, LT_F16, LT_F16, LT_F16},
    {{1, 65, 3, 24, 0, 1, 0, 0}, LT_F16, LT_F32, LT_F32},
};
#define ATTN_NMIXED ((int)(sizeof lt_attn_mixed / sizeof lt_attn_mixed[0]))

/* Case i of the op-mode list: an f32 shape, or past those a mixed case (*m set). */
static const conf_attn_shape *attn_case(int i, int quick, const mixed_attn **m) {
    *m = NULL;
    const conf_attn_shape *s = conf_attn_shape_at(i, quick);
    if (s) return s;
    int nf32 = 0;
    while (conf_attn_shape_at(nf32, quick)) nf32++;
    if (i - nf32 >= ATTN_NMIXED) return NULL;
    *m = &lt_attn_mixed[i - nf32];
    return &(*m)->s;
}

static void attn_desc(conf_case *c, lt_op op, int i, const conf_attn_shape *s, const mixed_attn *m) {
    char types[48] = "";
    if (m && op == LT_OP_ATTN_FWD)
        conf_fmt(types, sizeof types, ", %s -> %s", lt_dtype_name(m->in), lt_dtype_name(m->out));
    else if (m)
        conf_fmt(types, sizeof types, ", %s, out/dout %s -> %s", lt_dtype_name(m->in),
                 lt_dtype_name(m->out), lt_dtype_name(m->grad));
    conf_case_init(c, CONF_SEED(op, i), "B=%d T=%d H=%d Dh=%d %s%s%s%s", s->B, s->T, s->H, s->Dh,
                   s->causal ? "causal" : "bidirectional", s->ragged ? " ragged" : "",
                   s->fused ? " fused qkv views" : "", types);
}

int conf_gen_attn_fwd(conf_case *c, int i, const conf_gen_ctx *x) {
    const mixed_attn *m;
    const conf_attn_shape *s = attn_case(i, x->quick, &m);
    if (!s) return 0;
    attn_desc(c, LT_OP_ATTN_FWD, i, s, m);
    int t[4];
    inputs_dt(c, s, m ? m->in : LT_F32, t);
    int out = out_dt(c, s, m ? m->out : LT_F32, "out"), lse = conf_attn_lse(c, s, "lse");
    conf_poison(c, out);
    conf_poison(c, lse);
    conf_output(c, out, LT_OP_ATTN_FWD);
    conf_output(c, lse, LT_OP_ATTN_FWD);
    conf_attn_fwd_call(c, s, t, out, lse);
    return 1;
}

int conf_gen_attn_bwd(conf_case *c, int i, const conf_gen_ctx *x) {
    const mixed_attn *m;
    const conf_attn_shape *s = attn_case(i, x->quick, &m);
    if (!s) return 0;
    lt_dtype in = m ? m->in : LT_F32, odt = m ? m->out : LT_F32, gdt = m ? m->grad : LT_F32;
    /* out and lse must belong to q, k, v: the reference forward makes them from the same
     * seed, and both devices get its rounded values (in out's dtype) as inputs. */
    conf_case f;
    attn_desc(&f, LT_OP_ATTN_BWD, i, s, m);
    int ft[4];
    inputs_dt(&f, s, in, ft);
    int fout = out_dt(&f, s, odt, "out"), flse = conf_attn_lse(&f, s, "lse");
    conf_output(&f, fout, LT_OP_ATTN_FWD);
    conf_output(&f, flse, LT_OP_ATTN_FWD);
    conf_attn_fwd_call(&f, s, ft, fout, flse);
    conf_images im;
    char msg[256];
    lt_status st = conf_execute(x->ref, &f, &im, msg, sizeof msg);
    if (st != LT_OK) {
        conf_case_free(&f);
        attn_desc(c, LT_OP_ATTN_BWD, i, s, m);
        lt_error(st, "attn_fwd on the reference: %s", msg);
        return -1;
    }

    attn_desc(c, LT_OP_ATTN_BWD, i, s, m);
    int t[4];
    inputs_dt(c, s, in, t);
    int out = out_dt(c, s, odt, "out"), lse = conf_attn_lse(c, s, "lse");
    conf_take(c, out, &f, &im, fout);
    conf_take(c, lse, &f, &im, flse);
    conf_images_free(&f, &im);
    conf_case_free(&f);
    int dout = out_dt(c, s, odt, "dout");
    conf_uniform(c, dout, -1.0, 1.0);
    static const char *const names[3] = {"dq", "dk", "dv"};
    int g[3];
    triple_dt(c, s, gdt, names, g);
    for (int k = 0; k < 3; k++) {
        conf_poison(c, g[k]);
        conf_output(c, g[k], LT_OP_ATTN_BWD);
    }
    conf_call *k = conf_add_call(c, LT_OP_ATTN_BWD);
    k->src[0] = dout;
    for (int j = 0; j < 3; j++) k->src[1 + j] = t[j];
    k->src[4] = out;
    k->src[5] = lse;
    k->src[6] = t[3];
    for (int j = 0; j < 3; j++) k->dst[j] = g[j];
    k->p.attn = (lt_attn_params){s->causal, (float)(1.0 / sqrt((double)s->Dh))};
    return 1;
}

/* ---------------------------------------------------------------- decode ---- */

int conf_gen_attn_decode(conf_case *c, int i, const conf_gen_ctx *x) {
    (void)x;
    static const struct {
        int B, Tq, Tmax, H, Dh;
        int lengths[3];
        int fused; /* q as the q part of a fused [B, Tq, 3*H*Dh] buffer */
    } cases[] = {
        {1, 1, 1, 1, 1, {1}, 0},           {3, 1, 40, 3, 24, {1, 17, 40}, 0},
        {2, 4, 33, 2, 32, {4, 33}, 1},     {2, 7, 300, 4, 64, {300, 123}, 0},
        {1, 1, 2048, 2, 64, {2048}, 0},
    };
    if (i >= (int)(sizeof cases / sizeof cases[0])) return 0;
    int B = cases[i].B, Tq = cases[i].Tq, Tmax = cases[i].Tmax, H = cases[i].H, Dh = cases[i].Dh;
    conf_case_init(c, CONF_SEED(LT_OP_ATTN_DECODE, i), "B=%d Tq=%d Tmax=%d H=%d Dh=%d%s", B, Tq,
                   Tmax, H, Dh, cases[i].fused ? " fused q view" : "");
    conf_attn_shape qs = {B, Tq, H, Dh, 1, 0, cases[i].fused, 0};
    int64_t cs[4] = {B, Tmax, H, Dh}, ls[1] = {B};
    int q;
    if (cases[i].fused) {
        static const char *const names[3] = {"q", "k_new", "v_new"};
        int t3[3];
        triple(c, &qs, names, t3);
        for (int k = 0; k < 3; k++) conf_uniform(c, t3[k], -1.0, 1.0);
        q = t3[0];
    } else {
        int64_t qsh[4] = {B, Tq, H, Dh};
        q = conf_tensor_new(c, "q", LT_F32, 4, qsh);
    }
    conf_uniform(c, q, -2.0, 2.0);
    int kc = conf_tensor_new(c, "k_cache", LT_F32, 4, cs);
    int vc = conf_tensor_new(c, "v_cache", LT_F32, 4, cs);
    int len = conf_tensor_new(c, "lengths", LT_I32, 1, ls);
    /* Entries past each length hold values too: the op must not read them. */
    conf_uniform(c, kc, -1.0, 1.0);
    conf_uniform(c, vc, -1.0, 1.0);
    for (int b = 0; b < B; b++) conf_set(c, len, b, cases[i].lengths[b]);
    int out = conf_attn_out(c, &qs, "out");
    conf_poison(c, out);
    conf_output(c, out, LT_OP_ATTN_DECODE);
    conf_call *k = conf_add_call(c, LT_OP_ATTN_DECODE);
    k->src[0] = q;
    k->src[1] = kc;
    k->src[2] = vc;
    k->src[3] = len;
    k->dst[0] = out;
    k->p.attn = (lt_attn_params){1, (float)(1.0 / sqrt((double)Dh))};
    return 1;
}

/* Gradient chain: forward, then the backward from the device's own out and lse, into
 * gradients that are fused views like q/k/v. */
int conf_chain_attention(conf_case *c, int i, const conf_gen_ctx *x) {
    const conf_attn_shape *s = conf_attn_shape_at(i, x->quick);
    if (!s) return 0;
    attn_desc(c, 100 + LT_OP_ATTN_BWD, i, s, NULL);
    int t[4];
    conf_attn_inputs(c, s, t);
    int out = conf_attn_out(c, s, "out"), lse = conf_attn_lse(c, s, "lse");
    int dout = conf_attn_out(c, s, "dout");
    conf_uniform(c, dout, -1.0, 1.0);
    conf_poison(c, out);
    conf_poison(c, lse);
    conf_output(c, out, LT_OP_ATTN_FWD);
    conf_output(c, lse, LT_OP_ATTN_FWD);
    static const char *const names[3] = {"dq", "dk", "dv"};
    int g[3];
    conf_attn_triple(c, s, names, g);
    for (int k = 0; k < 3; k++) {
        conf_poison(c, g[k]);
        conf_output(c, g[k], LT_OP_ATTN_BWD);
    }
    conf_call *k = conf_attn_fwd_call(c, s, t, out, lse);
    float scale = k->p.attn.scale;
    k = conf_add_call(c, LT_OP_ATTN_BWD);
    k->src[0] = dout;
    for (int j = 0; j < 3; j++) k->src[1 + j] = t[j];
    k->src[4] = out;
    k->src[5] = lse;
    k->src[6] = t[3];
    for (int j = 0; j < 3; j++) k->dst[j] = g[j];
    k->p.attn = (lt_attn_params){s->causal, scale};
    return 1;
}
