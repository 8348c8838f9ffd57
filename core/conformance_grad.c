/* core/conformance_grad.c - gradient mode (a): the reference backward ops against central
 * finite differences of the reference forward, all in f64 on small shapes.
 *
 * The loss is a random projection of the forward outputs, L = sum(out * r), so the
 * backward op receives dout = r and every input element's numeric derivative
 * (L(x + eps) - L(x - eps)) / (2 eps) must match the analytic one. With eps = 1e-6 in
 * f64 the truncation error is ~eps^2 |f'''| ~ 1e-12 and the rounding error
 * ~1e-16 |L| / eps ~ 1e-9, so a correct backward agrees to ~1e-8 relative; the limits
 * below (1e-6 for the linear ops, 1e-5 for the rest) leave room and still catch a wrong
 * term, which shows up at 1e-2 or worse. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance_case.h"
#include "loretta/backend.h"

#define FD_EPS 1e-6
#define FD_MAX_OUT 2
#define FD_MAX_WRT 3

typedef struct fd_spec {
    conf_case f;                 /* the forward, f64 */
    int nouts, outs[FD_MAX_OUT]; /* outputs in the loss */
    double *r[FD_MAX_OUT];       /* their projections */
    int nwrt, wrt[FD_MAX_WRT];   /* inputs differentiated */
    conf_case b;                 /* the backward, built from the forward's results */
    int grads[FD_MAX_WRT];       /* gradient tensors in b, parallel to wrt */
    double tol;                  /* largest norm-wise relative error */
} fd_spec;

static void fd_free(fd_spec *s) {
    for (int o = 0; o < s->nouts; o++) free(s->r[o]);
    conf_case_free(&s->f);
    conf_case_free(&s->b);
}

/* Adds output t of the forward to the loss with a random projection (or `fixed`). */
static void fd_loss_term(fd_spec *s, int t, const double *fixed) {
    int o = s->nouts++;
    int64_t n = conf_numel(&s->f, t);
    s->outs[o] = t;
    s->r[o] = malloc(sizeof(double) * (size_t)n);
    if (!s->r[o]) {
        s->f.oom = 1;
        return;
    }
    for (int64_t i = 0; i < n; i++) s->r[o][i] = fixed ? fixed[i] : 2.0 * conf_rand(&s->f) - 1.0;
}

/* dout of the backward = the projection of forward output o. */
static void fd_dout(fd_spec *s, int t, int o) {
    int64_t n = conf_numel(&s->b, t);
    for (int64_t i = 0; i < n; i++) conf_set(&s->b, t, i, s->r[o][i]);
}

/* A forward input copied into the backward case. */
static int fd_copy_in(fd_spec *s, const conf_images *fim, int ft) {
    const conf_tensor *t = &s->f.t[ft];
    int bt = conf_tensor_new(&s->b, t->name, t->dtype, t->ndim, t->shape);
    conf_take(&s->b, bt, &s->f, fim, ft);
    return bt;
}

static int fd_grad(fd_spec *s, const char *name, int like) {
    const conf_tensor *t = &s->f.t[like];
    int g = conf_tensor_new(&s->b, name, t->dtype, t->ndim, t->shape);
    conf_output(&s->b, g, LT_OP_COUNT);
    return g;
}

/* ---------------------------------------------------------------- families ---- */

/* Each family: build_fwd(s, variant) returns 0 past its last variant; build_bwd(s, fim)
 * makes the backward case from the forward's results. */

static int mm_fwd(fd_spec *s, int v) {
    if (v >= 5) return 0;
    int ta = v & 1, tb = (v >> 1) & 1, batched = v == 4;
    conf_case_init(&s->f, CONF_SEED(200, v), "C = 1.5 op(A) op(B), 3x4x5%s%s%s", ta ? " A^T" : "",
                   tb ? " B^T" : "", batched ? " batch 2" : "");
    int64_t M = 3, K = 4, N = 5;
    int64_t sa[3] = {2, ta ? K : M, ta ? M : K}, sb[3] = {2, tb ? N : K, tb ? K : N}, sc[3] = {2, M, N};
    int r = batched ? 3 : 2, o = batched ? 0 : 1;
    int a = conf_tensor_new(&s->f, "a", LT_F64, r, sa + o);
    int b = conf_tensor_new(&s->f, "b", LT_F64, r, sb + o);
    int c = conf_tensor_new(&s->f, "c", LT_F64, r, sc + o);
    conf_uniform(&s->f, a, -1.0, 1.0);
    conf_uniform(&s->f, b, -1.0, 1.0);
    conf_output(&s->f, c, LT_OP_MATMUL);
    conf_call *k = conf_add_call(&s->f, LT_OP_MATMUL);
    k->src[0] = a;
    k->src[1] = b;
    k->dst[0] = c;
    k->p.matmul = (lt_matmul_params){ta, tb, 0, 1.5f};
    fd_loss_term(s, c, NULL);
    s->nwrt = 2;
    s->wrt[0] = a;
    s->wrt[1] = b;
    s->tol = 1e-6;
    return 1;
}

/* The matmul gradient through transposed matmuls (the trainer's linear layers):
 *   dA = alpha dC op(B)^T  (A^T stored: dA = alpha op(B) dC^T)
 *   dB = alpha op(A)^T dC  (B^T stored: dB = alpha dC^T op(A)). */
void conf_matmul_grad_calls(conf_case *c, int a, int b, int dc, int da, int db, int ta, int tb,
                            float alpha) {
    conf_call *k = conf_add_call(c, LT_OP_MATMUL);
    if (!ta) {
        k->src[0] = dc;
        k->src[1] = b;
        k->p.matmul = (lt_matmul_params){0, !tb, 0, alpha};
    } else {
        k->src[0] = b;
        k->src[1] = dc;
        k->p.matmul = (lt_matmul_params){tb, 1, 0, alpha};
    }
    k->dst[0] = da;
    k = conf_add_call(c, LT_OP_MATMUL);
    if (!tb) {
        k->src[0] = a;
        k->src[1] = dc;
        k->p.matmul = (lt_matmul_params){!ta, 0, 0, alpha};
    } else {
        k->src[0] = dc;
        k->src[1] = a;
        k->p.matmul = (lt_matmul_params){1, ta, 0, alpha};
    }
    k->dst[0] = db;
}

static void mm_bwd(fd_spec *s, const conf_images *fim) {
    const lt_matmul_params *p = &s->f.call[0].p.matmul;
    int a = fd_copy_in(s, fim, s->wrt[0]), b = fd_copy_in(s, fim, s->wrt[1]);
    const conf_tensor *ct = &s->f.t[s->outs[0]];
    int dc = conf_tensor_new(&s->b, "dc", LT_F64, ct->ndim, ct->shape);
    fd_dout(s, dc, 0);
    s->grads[0] = fd_grad(s, "da", s->wrt[0]);
    s->grads[1] = fd_grad(s, "db", s->wrt[1]);
    conf_matmul_grad_calls(&s->b, a, b, dc, s->grads[0], s->grads[1], p->trans_a, p->trans_b,
                           p->alpha);
}

static int embed_fwd(fd_spec *s, int v) {
    if (v >= 1) return 0;
    conf_case_init(&s->f, CONF_SEED(201, v), "V=5 D=3 N=7, repeated ids");
    int64_t ts[1] = {7}, tab[2] = {5, 3}, os[2] = {7, 3};
    int tok = conf_tensor_new(&s->f, "tokens", LT_I32, 1, ts);
    int table = conf_tensor_new(&s->f, "table", LT_F64, 2, tab);
    int out = conf_tensor_new(&s->f, "out", LT_F64, 2, os);
    static const int ids[7] = {2, 0, 2, 4, 2, 1, 0};
    for (int n = 0; n < 7; n++) conf_set(&s->f, tok, n, ids[n]);
    conf_uniform(&s->f, table, -1.0, 1.0);
    conf_output(&s->f, out, LT_OP_EMBED_FWD);
    conf_call *k = conf_add_call(&s->f, LT_OP_EMBED_FWD);
    k->src[0] = tok;
    k->src[1] = table;
    k->dst[0] = out;
    fd_loss_term(s, out, NULL);
    s->nwrt = 1;
    s->wrt[0] = table;
    s->tol = 1e-6;
    return 1;
}

static void embed_bwd(fd_spec *s, const conf_images *fim) {
    int tok = fd_copy_in(s, fim, 0);
    const conf_tensor *ot = &s->f.t[s->outs[0]];
    int dout = conf_tensor_new(&s->b, "dout", LT_F64, ot->ndim, ot->shape);
    fd_dout(s, dout, 0);
    s->grads[0] = fd_grad(s, "dtable", s->wrt[0]); /* zeros: embed_bwd accumulates */
    conf_call *k = conf_add_call(&s->b, LT_OP_EMBED_BWD);
    k->src[0] = tok;
    k->src[1] = dout;
    k->dst[0] = s->grads[0];
}

static int norm_fwd(fd_spec *s, int v) {
    if (v >= 2) return 0;
    int64_t N = v ? 2 : 3, D = v ? 8 : 5;
    conf_case_init(&s->f, CONF_SEED(202, v), "x [%lld,%lld]", (long long)N, (long long)D);
    int64_t xs[2] = {N, D}, ws[1] = {D}, rs[1] = {N};
    int x = conf_tensor_new(&s->f, "x", LT_F64, 2, xs);
    int w = conf_tensor_new(&s->f, "w", LT_F64, 1, ws);
    int out = conf_tensor_new(&s->f, "out", LT_F64, 2, xs);
    int rstd = conf_tensor_new(&s->f, "rstd", LT_F64, 1, rs);
    conf_uniform(&s->f, x, -2.0, 2.0);
    conf_uniform(&s->f, w, 0.5, 1.5);
    conf_output(&s->f, out, LT_OP_RMSNORM_FWD);
    conf_output(&s->f, rstd, LT_OP_RMSNORM_FWD);
    conf_call *k = conf_add_call(&s->f, LT_OP_RMSNORM_FWD);
    k->src[0] = x;
    k->src[1] = w;
    k->dst[0] = out;
    k->dst[1] = rstd;
    k->p.rmsnorm.eps = 1e-5f;
    fd_loss_term(s, out, NULL);
    s->nwrt = 2;
    s->wrt[0] = x;
    s->wrt[1] = w;
    s->tol = 1e-5;
    return 1;
}

static void norm_bwd(fd_spec *s, const conf_images *fim) {
    int x = fd_copy_in(s, fim, 0), w = fd_copy_in(s, fim, 1), rstd = fd_copy_in(s, fim, 3);
    const conf_tensor *ot = &s->f.t[s->outs[0]];
    int dout = conf_tensor_new(&s->b, "dout", LT_F64, ot->ndim, ot->shape);
    fd_dout(s, dout, 0);
    s->grads[0] = fd_grad(s, "dx", s->wrt[0]);
    s->grads[1] = fd_grad(s, "dw", s->wrt[1]); /* zeros: dw accumulates */
    conf_call *k = conf_add_call(&s->b, LT_OP_RMSNORM_BWD);
    k->src[0] = dout;
    k->src[1] = x;
    k->src[2] = w;
    k->src[3] = rstd;
    k->dst[0] = s->grads[0];
    k->dst[1] = s->grads[1];
    k->p.rmsnorm.accumulate_dx = 0;
}

static int gelu_fwd(fd_spec *s, int v) {
    if (v >= 1) return 0;
    conf_case_init(&s->f, CONF_SEED(203, v), "x [11] in [-5, 5]");
    int64_t xs[1] = {11};
    int x = conf_tensor_new(&s->f, "x", LT_F64, 1, xs);
    int out = conf_tensor_new(&s->f, "out", LT_F64, 1, xs);
    conf_uniform(&s->f, x, -5.0, 5.0);
    conf_set(&s->f, x, 0, 0.0);
    conf_output(&s->f, out, LT_OP_GELU_FWD);
    conf_call *k = conf_add_call(&s->f, LT_OP_GELU_FWD);
    k->src[0] = x;
    k->dst[0] = out;
    fd_loss_term(s, out, NULL);
    s->nwrt = 1;
    s->wrt[0] = x;
    s->tol = 1e-5;
    return 1;
}

static void gelu_bwd(fd_spec *s, const conf_images *fim) {
    int x = fd_copy_in(s, fim, 0);
    int dout = conf_tensor_new(&s->b, "dout", LT_F64, 1, s->f.t[s->outs[0]].shape);
    fd_dout(s, dout, 0);
    s->grads[0] = fd_grad(s, "dx", s->wrt[0]);
    conf_call *k = conf_add_call(&s->b, LT_OP_GELU_BWD);
    k->src[0] = dout;
    k->src[1] = x;
    k->dst[0] = s->grads[0];
}

/* L = grad_scale * sum_n w_n loss_n, whose gradient dlogits is by definition. A zero
 * weight row has an out-of-range target: it must contribute nothing either way. */
static int ce_fwd(fd_spec *s, int v) {
    if (v >= 1) return 0;
    conf_case_init(&s->f, CONF_SEED(204, v), "N=4 V=6, a zero-weight row, grad_scale 0.25");
    int64_t ls[2] = {4, 6}, ns[1] = {4};
    int logits = conf_tensor_new(&s->f, "logits", LT_F64, 2, ls);
    int targets = conf_tensor_new(&s->f, "targets", LT_I32, 1, ns);
    int weights = conf_tensor_new(&s->f, "weights", LT_F32, 1, ns);
    int losses = conf_tensor_new(&s->f, "losses", LT_F64, 1, ns);
    conf_uniform(&s->f, logits, -3.0, 3.0);
    static const int tg[4] = {1, 5, 99, 0};
    static const double w[4] = {1.0, 0.5, 0.0, 2.0};
    double r[4];
    for (int n = 0; n < 4; n++) {
        conf_set(&s->f, targets, n, tg[n]);
        conf_set(&s->f, weights, n, w[n]);
        r[n] = 0.25 * w[n];
    }
    conf_output(&s->f, losses, LT_OP_CROSS_ENTROPY);
    conf_call *k = conf_add_call(&s->f, LT_OP_CROSS_ENTROPY);
    k->src[0] = logits;
    k->src[1] = targets;
    k->src[2] = weights;
    k->dst[0] = losses;
    k->p.ce.grad_scale = 0.25f;
    fd_loss_term(s, losses, r);
    s->nwrt = 1;
    s->wrt[0] = logits;
    s->tol = 1e-5;
    return 1;
}

static void ce_bwd(fd_spec *s, const conf_images *fim) {
    int logits = fd_copy_in(s, fim, 0), targets = fd_copy_in(s, fim, 1), weights = fd_copy_in(s, fim, 2);
    int64_t ns[1] = {4};
    int losses = conf_tensor_new(&s->b, "losses", LT_F64, 1, ns);
    conf_output(&s->b, losses, LT_OP_COUNT);
    s->grads[0] = fd_grad(s, "dlogits", s->wrt[0]);
    conf_call *k = conf_add_call(&s->b, LT_OP_CROSS_ENTROPY);
    k->src[0] = logits;
    k->src[1] = targets;
    k->src[2] = weights;
    k->dst[0] = losses;
    k->dst[1] = s->grads[0];
    k->p.ce.grad_scale = 0.25f;
}

static int attn_fwd(fd_spec *s, int v) {
    static const struct {
        int B, T, H, Dh, causal, ragged;
    } shapes[] = {{2, 4, 2, 3, 1, 1}, {2, 4, 2, 3, 0, 1}, {1, 5, 1, 4, 0, 0}, {1, 6, 1, 2, 1, 0}};
    if (v >= (int)(sizeof shapes / sizeof shapes[0])) return 0;
    int B = shapes[v].B, T = shapes[v].T, H = shapes[v].H, Dh = shapes[v].Dh;
    conf_case_init(&s->f, CONF_SEED(205, v), "B=%d T=%d H=%d Dh=%d %s%s", B, T, H, Dh,
                   shapes[v].causal ? "causal" : "bidirectional",
                   shapes[v].ragged ? " lengths [4,3]" : "");
    int64_t sh[4] = {B, T, H, Dh}, ls[3] = {B, H, T}, bs[1] = {B};
    int q = conf_tensor_new(&s->f, "q", LT_F64, 4, sh);
    int k = conf_tensor_new(&s->f, "k", LT_F64, 4, sh);
    int vv = conf_tensor_new(&s->f, "v", LT_F64, 4, sh);
    int len = -1;
    if (shapes[v].ragged) {
        len = conf_tensor_new(&s->f, "lengths", LT_I32, 1, bs);
        conf_set(&s->f, len, 0, T);
        conf_set(&s->f, len, 1, T - 1);
    }
    int out = conf_tensor_new(&s->f, "out", LT_F64, 4, sh);
    int lse = conf_tensor_new(&s->f, "lse", LT_F64, 3, ls);
    conf_uniform(&s->f, q, -1.5, 1.5);
    conf_uniform(&s->f, k, -1.5, 1.5);
    conf_uniform(&s->f, vv, -1.0, 1.0);
    conf_output(&s->f, out, LT_OP_ATTN_FWD);
    conf_output(&s->f, lse, LT_OP_ATTN_FWD);
    conf_call *c = conf_add_call(&s->f, LT_OP_ATTN_FWD);
    c->src[0] = q;
    c->src[1] = k;
    c->src[2] = vv;
    c->src[3] = len;
    c->dst[0] = out;
    c->dst[1] = lse;
    c->p.attn = (lt_attn_params){shapes[v].causal, (float)(1.0 / sqrt((double)Dh))};
    fd_loss_term(s, out, NULL);
    s->nwrt = 3;
    s->wrt[0] = q;
    s->wrt[1] = k;
    s->wrt[2] = vv;
    s->tol = 1e-5;
    return 1;
}

static void attn_bwd(fd_spec *s, const conf_images *fim) {
    const conf_call *fc = &s->f.call[0];
    int q = fd_copy_in(s, fim, fc->src[0]), k = fd_copy_in(s, fim, fc->src[1]);
    int v = fd_copy_in(s, fim, fc->src[2]);
    int len = fc->src[3] >= 0 ? fd_copy_in(s, fim, fc->src[3]) : -1;
    int out = fd_copy_in(s, fim, fc->dst[0]), lse = fd_copy_in(s, fim, fc->dst[1]);
    const conf_tensor *ot = &s->f.t[fc->dst[0]];
    int dout = conf_tensor_new(&s->b, "dout", LT_F64, 4, ot->shape);
    fd_dout(s, dout, 0);
    s->grads[0] = fd_grad(s, "dq", s->wrt[0]);
    s->grads[1] = fd_grad(s, "dk", s->wrt[1]);
    s->grads[2] = fd_grad(s, "dv", s->wrt[2]);
    conf_call *c = conf_add_call(&s->b, LT_OP_ATTN_BWD);
    c->src[0] = dout;
    c->src[1] = q;
    c->src[2] = k;
    c->src[3] = v;
    c->src[4] = out;
    c->src[5] = lse;
    c->src[6] = len;
    for (int j = 0; j < 3; j++) c->dst[j] = s->grads[j];
    c->p.attn = fc->p.attn;
}

static const struct {
    const char *name;
    int (*fwd)(fd_spec *s, int variant);
    void (*bwd)(fd_spec *s, const conf_images *fim);
    lt_op op; /* the backward op checked */
} fd_families[] = {
    {"matmul", mm_fwd, mm_bwd, LT_OP_MATMUL},
    {"embed", embed_fwd, embed_bwd, LT_OP_EMBED_BWD},
    {"rmsnorm", norm_fwd, norm_bwd, LT_OP_RMSNORM_BWD},
    {"gelu", gelu_fwd, gelu_bwd, LT_OP_GELU_BWD},
    {"cross_entropy", ce_fwd, ce_bwd, LT_OP_CROSS_ENTROPY},
    {"attention", attn_fwd, attn_bwd, LT_OP_ATTN_BWD},
};

/* ---------------------------------------------------------------- driver ---- */

static double fd_loss(const fd_spec *s, const conf_images *im) {
    double L = 0.0;
    for (int o = 0; o < s->nouts; o++) {
        int64_t n = conf_numel(&s->f, s->outs[o]);
        for (int64_t i = 0; i < n; i++) L += s->r[o][i] * conf_image_get(&s->f, im, s->outs[o], i);
    }
    return L;
}

/* Runs the forward with element j of input t moved by delta; returns the loss. */
static lt_status fd_eval(fd_spec *s, lt_device *ref, int t, int64_t j, double delta, double *L,
                         char *msg, size_t n) {
    double v0 = conf_get(&s->f, t, j);
    conf_set(&s->f, t, j, v0 + delta);
    conf_images im;
    lt_status st = conf_execute(ref, &s->f, &im, msg, n);
    conf_set(&s->f, t, j, v0);
    if (st != LT_OK) return st;
    *L = fd_loss(s, &im);
    conf_images_free(&s->f, &im);
    return LT_OK;
}

/* Compares the backward's gradients with central differences of the forward:
 * 1 pass, 0 fail, -1 unsupported (message in msg). */
static int fd_check_grads(fd_spec *s, lt_device *ref, lt_conf_result *r, char *msg, size_t n) {
    conf_images bim;
    lt_status st = conf_execute(ref, &s->b, &bim, msg, n);
    if (st != LT_OK) return st == LT_ERR_UNSUPPORTED ? -1 : 0;
    int pass = 1;
    for (int w = 0; w < s->nwrt && pass; w++) {
        int t = s->wrt[w];
        int64_t cnt = conf_numel(&s->f, t);
        double num = 0.0, den_fd = 0.0, den_an = 0.0, worst = 0.0;
        int64_t worst_i = 0;
        double worst_fd = 0.0, worst_an = 0.0;
        for (int64_t j = 0; j < cnt && pass; j++) {
            double lp, lm;
            if (fd_eval(s, ref, t, j, FD_EPS, &lp, msg, n) != LT_OK ||
                fd_eval(s, ref, t, j, -FD_EPS, &lm, msg, n) != LT_OK) {
                pass = 0;
                break;
            }
            double fd = (lp - lm) / (2.0 * FD_EPS);
            double an = conf_image_get(&s->b, &bim, s->grads[w], j);
            if (!isfinite(an)) {
                conf_fmt(msg, n, "d%s has NaN/Inf at [%lld]", s->f.t[t].name, (long long)j);
                pass = 0;
                break;
            }
            double d = fabs(fd - an);
            num += d * d;
            den_fd += fd * fd;
            den_an += an * an;
            if (d > worst) {
                worst = d;
                worst_i = j;
                worst_fd = fd;
                worst_an = an;
            }
        }
        if (!pass) break;
        double den = den_fd > den_an ? den_fd : den_an;
        double rel = den > 0.0 ? sqrt(num / den) : sqrt(num);
        if (rel > r->nmse) r->nmse = rel;
        if (worst > r->max_abs) r->max_abs = worst;
        if (rel / s->tol > r->worst_ratio) r->worst_ratio = rel / s->tol;
        if (rel > s->tol) {
            conf_fmt(msg, n, "d%s: relative error %.3g > %.1g; worst [%lld]: analytic %.10g, "
                     "numeric %.10g", s->f.t[t].name, rel, s->tol, (long long)worst_i, worst_an,
                     worst_fd);
            pass = 0;
        }
    }
    conf_images_free(&s->b, &bim);
    return pass;
}

/* One variant: 1 pass, 0 fail, -1 unsupported; message in msg. */
static int fd_check(fd_spec *s, void (*bwd)(fd_spec *, const conf_images *), lt_device *ref,
                    lt_conf_result *r, char *msg, size_t n) {
    if (s->f.oom) {
        conf_fmt(msg, n, "could not build the case");
        return 0;
    }
    conf_images fim;
    lt_status st = conf_execute(ref, &s->f, &fim, msg, n);
    if (st != LT_OK) return st == LT_ERR_UNSUPPORTED ? -1 : 0;
    for (int o = 0; o < s->nouts; o++) {
        int64_t cnt = conf_numel(&s->f, s->outs[o]);
        for (int64_t i = 0; i < cnt; i++)
            if (!isfinite(conf_image_get(&s->f, &fim, s->outs[o], i))) {
                conf_fmt(msg, n, "forward output '%s' has NaN/Inf at [%lld]",
                         s->f.t[s->outs[o]].name, (long long)i);
                conf_images_free(&s->f, &fim);
                return 0;
            }
    }
    bwd(s, &fim);
    conf_images_free(&s->f, &fim);
    if (s->b.oom) {
        conf_fmt(msg, n, "could not build the backward case");
        return 0;
    }
    return fd_check_grads(s, ref, r, msg, n);
}

lt_status lt_conf_grad_fd(lt_device *dev, int family, const lt_conf_options *o,
                          lt_conf_result *r) {
    int nf = (int)(sizeof fd_families / sizeof fd_families[0]);
    if (family < 0 || family >= nf || !r)
        return lt_error(LT_ERR_INVALID_ARG, "conformance: gradient family %d does not exist", family);
    /* Family numbers are shared with lt_conf_grad_run (conformance.c): same order. */
    if (strcmp(fd_families[family].name, lt_conf_grad_name(family)) != 0)
        return lt_error(LT_ERR_INTERNAL, "conformance: gradient family %d is '%s' here, '%s' in "
                        "conformance.c", family, fd_families[family].name, lt_conf_grad_name(family));
    lt_device *ref = dev;
    if (!ref) LT_TRY(lt_conf_reference(&ref));
    memset(r, 0, sizeof *r);
    conf_fmt(r->test, sizeof r->test, "fd:%s", fd_families[family].name);
    r->dev = ref;
    if (!ref->info.supports_f64) {
        r->verdict = LT_CONF_SKIPPED;
        conf_fmt(r->message, sizeof r->message, "finite differences need f64, which %s lacks",
                 ref->backend->name);
        return LT_OK;
    }
    char msg[320], line[200];
    for (int v = 0;; v++) {
        fd_spec *s = calloc(1, sizeof *s);
        if (!s) return lt_error(LT_ERR_OUT_OF_MEMORY, "conformance: host memory for a gradient check");
        if (!fd_families[family].fwd(s, v)) {
            fd_free(s);
            free(s);
            break;
        }
        r->cases++;
        if (o && o->log) {
            conf_fmt(line, sizeof line, "%s case %d: %s", r->test, v, s->f.desc);
            o->log(o->user, line);
        }
        msg[0] = '\0';
        int res = fd_check(s, fd_families[family].bwd, ref, r, msg, sizeof msg);
        if (res == 1) {
            r->passed++;
        } else if (res == -1) {
            r->unsupported++;
        } else {
            r->failed++;
        }
        if (res != 1 && !r->message[0])
            conf_fmt(r->message, sizeof r->message, "case %d (%s): %s", v, s->f.desc, msg);
        fd_free(s);
        free(s);
    }
    conf_finish(r, fd_families[family].op);
    return LT_OK;
}
