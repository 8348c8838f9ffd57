/* tests/test_unit_ops_train.c - the training and generation ops on the cpu and ref
 * backends: cross_entropy, adamw, sumsq and sample (with the Philox generator under it).
 *
 * Expected values are hand-derived or come from PyTorch, computed once with the script
 * quoted next to them; they are not produced by the code under test. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loretta/loretta.h"
#include "loretta/rng.h"

static lt_device *device(const char *backend) {
    lt_device *d = NULL;
    assert_int_equal(lt_device_find(backend, 0, &d), LT_OK);
    return d;
}

/* A contiguous tensor filled from doubles (converted to its dtype); vals may be NULL. */
static lt_tensor make(lt_device *d, lt_dtype dt, int ndim, const int64_t *shape,
                      const double *vals) {
    lt_tensor t;
    assert_int_equal(lt_tensor_alloc(d, dt, ndim, shape, &t), LT_OK);
    int64_t n = lt_tensor_numel(&t);
    size_t bytes = lt_tensor_nbytes(&t);
    unsigned char *host = calloc(bytes ? bytes : 1, 1);
    assert_non_null(host);
    for (int64_t i = 0; vals && i < n; i++) {
        switch (dt) {
        case LT_F32: ((float *)host)[i] = (float)vals[i]; break;
        case LT_F64: ((double *)host)[i] = vals[i]; break;
        case LT_I32: ((int32_t *)host)[i] = (int32_t)vals[i]; break;
        case LT_U8: host[i] = (uint8_t)vals[i]; break;
        default: fail_msg("make: unsupported dtype");
        }
    }
    assert_int_equal(lt_tensor_upload(&t, host, bytes), LT_OK);
    free(host);
    return t;
}

static void fetch(const lt_tensor *t, double *out) {
    int64_t n = lt_tensor_numel(t);
    size_t bytes = lt_tensor_nbytes(t);
    unsigned char *host = malloc(bytes ? bytes : 1);
    assert_non_null(host);
    assert_int_equal(lt_tensor_download(host, t, bytes), LT_OK);
    for (int64_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case LT_F32: out[i] = ((float *)host)[i]; break;
        case LT_F64: out[i] = ((double *)host)[i]; break;
        case LT_I32: out[i] = ((int32_t *)host)[i]; break;
        default: fail_msg("fetch: unsupported dtype");
        }
    }
    free(host);
}

static void assert_close(const double *got, const double *want, int n, double rtol,
                         double atol, const char *what) {
    for (int i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= atol + rtol * fabs(want[i])))
            fail_msg("%s[%d] = %.17g, expected %.17g", what, i, got[i], want[i]);
}

static int quick(void) { return getenv("LORETTA_QUICK") != NULL; }

/* Deterministic test data (xorshift), independent of the library's generator. */
static uint64_t rand_state = 0x9E3779B97F4A7C15ull;
static double rand_uniform(void) {
    rand_state ^= rand_state << 13;
    rand_state ^= rand_state >> 7;
    rand_state ^= rand_state << 17;
    return (double)(rand_state >> 11) / 9007199254740992.0;
}

/* ------------------------------------------------------------ cross entropy ---- */

/* PyTorch, once (float64):
 *   x = torch.tensor([[1,2,.5,-1],[0,0,0,0],[3,-2,1,.25]], dtype=torch.float64,
 *                    requires_grad=True)
 *   loss = F.cross_entropy(x, torch.tensor([1,0,2]), reduction='none')
 *   (loss * torch.tensor([1.,0.,2.]) * 0.5).sum().backward()     # x.grad below
 * Row 1 has weight 0: our loss and gradient are exactly 0 there and its target (99,
 * outside the vocabulary) is never read. */
static const double ce_logits[12] = {1.0, 2.0, 0.5, -1.0, 0.0, 0.0, 0.0, 0.0, 3.0, -2.0, 1.0, 0.25};
static const double ce_targets[3] = {1, 99, 2};
static const double ce_weights[3] = {1.0, 0.0, 2.0};
static const double ce_loss[3] = {0.49518189808585605, 0.0, 2.1873100033148707};
static const double ce_grad[12] = {
    0.11210390902410057, -0.19526998120056144, 0.06799445789675276, 0.015171614279708113,
    0.0, 0.0, 0.0, 0.0,
    0.8291866459291315, 0.005587015672619937, -0.8877817904171641, 0.05300812881541289};

static void ce_case(const char *backend, lt_dtype dt, double tol) {
    lt_device *d = device(backend);
    int64_t s2[2] = {3, 4}, s1[1] = {3};
    lt_tensor x = make(d, dt, 2, s2, ce_logits);
    lt_tensor t = make(d, LT_I32, 1, s1, ce_targets);
    lt_tensor w = make(d, LT_F32, 1, s1, ce_weights);
    lt_tensor loss = make(d, dt == LT_F64 ? LT_F64 : LT_F32, 1, s1, NULL);
    lt_fill(&loss, 7.0); /* the zero-weight row must be overwritten with 0 */
    const double loss_tol = dt == LT_F64 ? 1e-13 : 1e-6;
    double got[12];

    /* Separate dlogits first, then in place (dlogits = logits). */
    lt_tensor g = make(d, dt, 2, s2, NULL);
    lt_fill(&g, 7.0);
    assert_int_equal(lt_cross_entropy(&loss, &g, &x, &t, &w, 0.5f), LT_OK);
    fetch(&loss, got);
    assert_close(got, ce_loss, 3, loss_tol, 0, "loss");
    fetch(&g, got);
    assert_close(got, ce_grad, 12, tol, tol, "dlogits");
    fetch(&x, got);
    assert_close(got, ce_logits, 12, 0, 0, "logits (must be unchanged)");

    assert_int_equal(lt_cross_entropy(&loss, &x, &x, &t, &w, 0.5f), LT_OK);
    fetch(&x, got);
    assert_close(got, ce_grad, 12, tol, tol, "in-place dlogits");
    fetch(&loss, got);
    assert_close(got, ce_loss, 3, loss_tol, 0, "in-place loss");

    lt_tensor_free(&x);
    lt_tensor_free(&t);
    lt_tensor_free(&w);
    lt_tensor_free(&loss);
    lt_tensor_free(&g);
}

static void test_ce_values(void **state) {
    (void)state;
    ce_case("cpu", LT_F32, 1e-6);
    ce_case("ref", LT_F32, 1e-6);
    ce_case("ref", LT_F64, 1e-13);
}

static void test_ce_bad_target(void **state) {
    (void)state;
    const char *backends[2] = {"cpu", "ref"};
    for (int b = 0; b < 2; b++) {
        lt_device *d = device(backends[b]);
        int64_t s2[2] = {3, 4}, s1[1] = {3};
        double bad_targets[3] = {1, 99, 7}; /* row 1 has weight 0: only row 2 is wrong */
        lt_tensor x = make(d, LT_F32, 2, s2, ce_logits);
        lt_tensor t = make(d, LT_I32, 1, s1, bad_targets);
        lt_tensor w = make(d, LT_F32, 1, s1, ce_weights);
        lt_tensor loss = make(d, LT_F32, 1, s1, NULL);
        assert_int_equal(lt_cross_entropy(&loss, &x, &x, &t, &w, 1.0f), LT_ERR_RANGE);
        assert_non_null(strstr(lt_last_error(), "targets[2] = 7 is outside the vocabulary of 4"));
        double got[12];
        fetch(&x, got);
        assert_close(got, ce_logits, 12, 0, 0, "logits after a failed call");
        /* Without weights every row counts, so row 1's 99 is the first bad one. */
        assert_int_equal(lt_cross_entropy(&loss, NULL, &x, &t, NULL, 1.0f), LT_ERR_RANGE);
        assert_non_null(strstr(lt_last_error(), "targets[1] = 99"));
        lt_tensor_free(&x);
        lt_tensor_free(&t);
        lt_tensor_free(&w);
        lt_tensor_free(&loss);
    }
}

/* Large logits (a naive exp overflows f32 at 88) and a 3-d logits tensor; cpu against ref
 * in double. */
static void test_ce_cpu_matches_ref(void **state) {
    (void)state;
    enum { N = 6, V = 1000 };
    static double x[N * V], tg[N], wt[N];
    for (int i = 0; i < N * V; i++) x[i] = 8.0 * rand_uniform() + (i / V) * 40.0;
    for (int n = 0; n < N; n++) {
        tg[n] = (n * 337) % V;
        wt[n] = n == 3 ? 0.0 : 0.5 + n;
    }
    int64_t s3[3] = {2, 3, V}, s1[1] = {N};
    double loss[2][N], grad[2][N * V];
    const char *backends[2] = {"cpu", "ref"};
    for (int b = 0; b < 2; b++) {
        lt_device *d = device(backends[b]);
        lt_tensor tx = make(d, LT_F32, 3, s3, x), tt = make(d, LT_I32, 1, s1, tg);
        lt_tensor tw = make(d, LT_F32, 1, s1, wt), tl = make(d, LT_F32, 1, s1, NULL);
        lt_tensor tgr = make(d, LT_F32, 3, s3, NULL);
        assert_int_equal(lt_cross_entropy(&tl, &tgr, &tx, &tt, &tw, 0.25f), LT_OK);
        fetch(&tl, loss[b]);
        fetch(&tgr, grad[b]);
        lt_tensor_free(&tx);
        lt_tensor_free(&tt);
        lt_tensor_free(&tw);
        lt_tensor_free(&tl);
        lt_tensor_free(&tgr);
    }
    for (int n = 0; n < N; n++) assert_true(isfinite(loss[0][n]) && loss[0][n] >= 0);
    assert_true(loss[0][3] == 0.0);
    assert_close(loss[0], loss[1], N, 1e-5, 1e-6, "cpu loss vs ref");
    assert_close(grad[0], grad[1], N * V, 1e-5, 1e-8, "cpu dlogits vs ref");
    /* Each weighted gradient row sums to 0 (softmax sums to 1). */
    for (int n = 0; n < N; n++) {
        double s = 0;
        for (int i = 0; i < V; i++) s += grad[0][n * V + i];
        assert_true(fabs(s) < 1e-5);
    }
}

static void test_ce_cpu_rejects_f64(void **state) {
    (void)state;
    lt_device *d = device("cpu");
    int64_t s2[2] = {3, 4}, s1[1] = {3};
    lt_tensor x;
    if (lt_tensor_alloc(d, LT_F64, 2, s2, &x) != LT_OK) skip();
    lt_tensor t = make(d, LT_I32, 1, s1, ce_targets), loss = make(d, LT_F64, 1, s1, NULL);
    assert_int_equal(lt_cross_entropy(&loss, NULL, &x, &t, NULL, 1.0f), LT_ERR_UNSUPPORTED);
    assert_non_null(strstr(lt_last_error(), "f32"));
    lt_tensor_free(&x);
    lt_tensor_free(&t);
    lt_tensor_free(&loss);
}

/* -------------------------------------------------------------------- adamw ---- */

/* PyTorch, once, float64, with the f32-rounded hyperparameters our f32 params carry
 * (f = lambda v: float(np.float32(v))); element 1 sits in a group with weight_decay 0,
 * which is what decay_mask = {1, 0, 1, 1} means:
 *   opt = torch.optim.AdamW([{'params': [p_decay]}, {'params': [p_keep], 'weight_decay': 0}],
 *       lr=f(0.01), betas=(f(0.9), f(0.999)), eps=f(1e-8), weight_decay=f(0.1), foreach=False)
 *   three opt.step() calls with the grads below; param, exp_avg, exp_avg_sq after each. */
static const double aw_p0[4] = {0.5, -1.25, 2.0, 0.0};
static const double aw_mask[4] = {1, 0, 1, 1};
static const double aw_grads[3][4] = {
    {0.1, -0.2, 0.3, 0.0}, {-0.5, 0.25, 0.125, 1.0}, {0.75, 0.0, -1.5, -0.25}};
static const double aw_p[3][4] = {
    {0.4895000012272426, -1.2400000007235175, 1.988000000571752, 0.0},
    {0.4949940428788188, -1.2416273233643849, 1.9769640211995907, -0.007441368081471821},
    {0.4918149254896725, -1.2428852484475819, 1.9797508723622297, -0.011464134969664542}};
static const double aw_m[3][4] = {
    {0.010000002384185792, -0.020000004768371583, 0.03000000715255737, 0.0},
    {-0.041000010013580376, 0.0070000021457673235, 0.03950000870227796, 0.10000002384185791},
    {0.03810000984668751, 0.0063000017642975345, -0.1144500288724903, 0.06500001311302128}};
static const double aw_v[3][4] = {
    {9.999871253967286e-06, 3.999948501586914e-05, 8.999884128570556e-05, 0.0},
    {0.0002599866528606398, 0.00010245868138312631, 0.00010553364243744311, 0.0009999871253967285},
    {0.000822219427590664, 0.00010235622402085806, 0.0023553991422963485, 0.0010614863464830648}};

static void adamw_case(const char *backend, lt_dtype dt, double grad_mult, double tol) {
    lt_device *d = device(backend);
    int64_t s[1] = {4};
    lt_tensor p = make(d, dt, 1, s, aw_p0), m = make(d, dt, 1, s, NULL), v = make(d, dt, 1, s, NULL);
    lt_tensor mask = make(d, LT_U8, 1, s, aw_mask);
    lt_adamw_params hp = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                          .weight_decay = 0.1f, .grad_scale = (float)(1.0 / grad_mult)};
    for (int step = 0; step < 3; step++) {
        double g[4];
        for (int i = 0; i < 4; i++) g[i] = aw_grads[step][i] * grad_mult;
        lt_tensor tg = make(d, dt, 1, s, g);
        hp.step = step + 1;
        assert_int_equal(lt_adamw(&p, &m, &v, &tg, &mask, &hp), LT_OK);
        lt_tensor_free(&tg);
        double got[4];
        fetch(&p, got);
        assert_close(got, aw_p[step], 4, tol, tol, "param");
        fetch(&m, got);
        assert_close(got, aw_m[step], 4, tol, tol * 1e-2, "m");
        fetch(&v, got);
        assert_close(got, aw_v[step], 4, tol, tol * 1e-4, "v");
    }
    lt_tensor_free(&p);
    lt_tensor_free(&m);
    lt_tensor_free(&v);
    lt_tensor_free(&mask);
}

static void test_adamw_matches_torch(void **state) {
    (void)state;
    adamw_case("cpu", LT_F32, 1.0, 2e-6);
    adamw_case("cpu", LT_F32, 4.0, 2e-6); /* grad_scale 0.25 undoes grads 4x too large */
    adamw_case("ref", LT_F32, 1.0, 2e-6);
    adamw_case("ref", LT_F64, 1.0, 1e-12);
    adamw_case("ref", LT_F64, 4.0, 1e-12);
}

/* No mask decays everything. One step by hand: mhat = g, vhat = g^2, so
 * p1 = p0 - lr * (g / (|g| + eps) + wd * p0). */
static void test_adamw_no_mask(void **state) {
    (void)state;
    const char *backends[2] = {"cpu", "ref"};
    for (int b = 0; b < 2; b++) {
        lt_device *d = device(backends[b]);
        int64_t s[1] = {4};
        lt_tensor p = make(d, LT_F32, 1, s, aw_p0), m = make(d, LT_F32, 1, s, NULL);
        lt_tensor v = make(d, LT_F32, 1, s, NULL), g = make(d, LT_F32, 1, s, aw_grads[0]);
        lt_adamw_params hp = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                              .weight_decay = 0.1f, .grad_scale = 1.0f, .step = 1};
        assert_int_equal(lt_adamw(&p, &m, &v, &g, NULL, &hp), LT_OK);
        double got[4], want[4];
        for (int i = 0; i < 4; i++) {
            double gi = (float)aw_grads[0][i];
            want[i] = aw_p0[i] - (double)0.01f * (gi / (fabs(gi) + (double)1e-8f) + (double)0.1f * aw_p0[i]);
        }
        fetch(&p, got);
        assert_close(got, want, 4, 2e-6, 1e-7, "param without mask");
        lt_tensor_free(&p);
        lt_tensor_free(&m);
        lt_tensor_free(&v);
        lt_tensor_free(&g);
    }
}

/* -------------------------------------------------------------------- sumsq ---- */

static void test_sumsq(void **state) {
    (void)state;
    lt_device *cpu = device("cpu"), *ref = device("ref");
    /* Small, exact: 1 + 4 + 0.25 + 9 + 16. */
    int64_t s5[1] = {5}, s1[1] = {1};
    double small[5] = {1, -2, 0.5, 3, -4}, got;
    lt_tensor x5 = make(cpu, LT_F32, 1, s5, small), out = make(cpu, LT_F32, 1, s1, NULL);
    assert_int_equal(lt_sumsq(&out, &x5), LT_OK);
    fetch(&out, &got);
    assert_true(got == 30.25);

    /* Bit-identical for 1, 2 and 3 threads; close to the double sum of the ref. */
    const int64_t n = quick() ? 20011 : 200003;
    int64_t sn[2] = {n, 1};
    double *vals = malloc((size_t)n * sizeof *vals);
    assert_non_null(vals);
    for (int64_t i = 0; i < n; i++) vals[i] = (rand_uniform() - 0.5) * (i % 7 == 0 ? 1e3 : 1.0);
    lt_tensor x = make(cpu, LT_F32, 2, sn, vals);
    int saved = cpu->threads;
    float bits[3];
    for (int t = 1; t <= 3; t++) {
        lt_device_set_threads(cpu, t);
        assert_int_equal(lt_sumsq(&out, &x), LT_OK);
        assert_int_equal(lt_tensor_download(&bits[t - 1], &out, sizeof(float)), LT_OK);
    }
    lt_device_set_threads(cpu, saved);
    assert_memory_equal(&bits[0], &bits[1], sizeof(float));
    assert_memory_equal(&bits[0], &bits[2], sizeof(float));
    lt_tensor xr = make(ref, LT_F64, 2, sn, NULL), outr = make(ref, LT_F64, 1, s1, NULL);
    for (int64_t i = 0; i < n; i++) vals[i] = (float)vals[i]; /* the values the cpu saw */
    assert_int_equal(lt_tensor_upload(&xr, vals, (size_t)n * sizeof(double)), LT_OK);
    assert_int_equal(lt_sumsq(&outr, &xr), LT_OK);
    fetch(&outr, &got);
    assert_true(fabs(bits[0] - got) <= 0x1p-23 * got); /* f32 rounding of a double sum */

    /* NaN propagates. */
    small[2] = NAN;
    lt_tensor xn = make(cpu, LT_F32, 1, s5, small);
    assert_int_equal(lt_sumsq(&out, &xn), LT_OK);
    fetch(&out, &got);
    assert_true(isnan(got));

    free(vals);
    lt_tensor_free(&x5);
    lt_tensor_free(&x);
    lt_tensor_free(&xn);
    lt_tensor_free(&out);
    lt_tensor_free(&xr);
    lt_tensor_free(&outr);
}

/* ------------------------------------------------------------------- sample ---- */

/* Known-answer vectors of Random123 (tests/kat_vectors, "philox4x32 10" lines):
 * counter (4 words), key (2 words) -> output (4 words). */
static void test_philox_kat(void **state) {
    (void)state;
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
         0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
         0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}};
    for (int k = 0; k < 3; k++) {
        uint32_t out[4];
        lt_philox4x32_10(kat[k], kat[k][4], kat[k][5], out);
        for (int i = 0; i < 4; i++) assert_int_equal(out[i], kat[k][6 + i]);
    }
    /* (seed 0, sample 0, step 0) is counter 0, key 0: u = 0x6627e8 / 2^24. */
    assert_true(lt_rng_uniform(0, 0, 0) == (float)0x6627e8 / 16777216.0f);
    for (uint64_t s = 0; s < 1000; s++) {
        float u = lt_rng_uniform(12345, s, s * 7);
        assert_true(u >= 0.0f && u < 1.0f);
    }
}

typedef struct sample_out { int32_t tok[64]; } sample_out;

/* Runs lt_sample on backend with logits [B, V] (B <= 64) and ids (NULL = row index). */
static void run_sample(const char *backend, const double *logits, int B, int V,
                       const double *ids, const lt_sample_params *p, int32_t *tok) {
    lt_device *d = device(backend);
    int64_t s2[2] = {B, V}, s1[1] = {B};
    lt_tensor x = make(d, LT_F32, 2, s2, logits), out = make(d, LT_I32, 1, s1, NULL);
    lt_tensor tid = ids ? make(d, LT_I32, 1, s1, ids) : out;
    assert_int_equal(lt_sample(&out, &x, ids ? &tid : NULL, p), LT_OK);
    assert_int_equal(lt_tensor_download(tok, &out, (size_t)B * sizeof(int32_t)), LT_OK);
    lt_tensor_free(&x);
    lt_tensor_free(&out);
    if (ids) lt_tensor_free(&tid);
}

enum { SB = 6, SV = 37 };
static double s_logits[SB * SV];

static void fill_sample_logits(void) {
    for (int i = 0; i < SB * SV; i++) s_logits[i] = 4.0 * rand_uniform() - 2.0;
    for (int i = 0; i < SV; i++) s_logits[2 * SV + i] = 1.0;    /* row 2: all tied */
    s_logits[3 * SV + 9] = s_logits[3 * SV + 21] = 5.0;         /* row 3: tie for max */
    s_logits[4 * SV + 30] = 9.0;                                /* row 4: max at 30 */
    s_logits[5 * SV + 0] = -INFINITY;                           /* row 5: a -inf */
}

static int argmax_in(const double *x, int lo, int hi) {
    int best = lo;
    for (int i = lo + 1; i < hi; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static void test_sample_greedy_and_top1(void **state) {
    (void)state;
    fill_sample_logits();
    const char *backends[2] = {"cpu", "ref"};
    for (int b = 0; b < 2; b++) {
        int32_t tok[SB];
        lt_sample_params p = {.seed = 7, .step = 3, .temperature = 0.0f, .range_lo = 0, .range_hi = SV};
        run_sample(backends[b], s_logits, SB, SV, NULL, &p, tok);
        for (int r = 0; r < SB; r++) assert_int_equal(tok[r], argmax_in(s_logits + r * SV, 0, SV));
        assert_int_equal(tok[2], 0);
        assert_int_equal(tok[3], 9);
        /* Range restriction: row 4's max at 30 is outside [10, 25). */
        p.range_lo = 10;
        p.range_hi = 25;
        run_sample(backends[b], s_logits, SB, SV, NULL, &p, tok);
        for (int r = 0; r < SB; r++) assert_int_equal(tok[r], argmax_in(s_logits + r * SV, 10, 25));
        /* top_k = 1 at any temperature is the greedy choice, ties included. */
        for (int step = 0; step < 20; step++) {
            lt_sample_params q = {.seed = 99, .step = (uint64_t)step, .temperature = 1.5f,
                                  .top_k = 1, .range_lo = 0, .range_hi = SV};
            run_sample(backends[b], s_logits, SB, SV, NULL, &q, tok);
            for (int r = 0; r < SB; r++) assert_int_equal(tok[r], argmax_in(s_logits + r * SV, 0, SV));
        }
    }
}

/* Never draws outside the range, even when the logits outside dominate. */
static void test_sample_range(void **state) {
    (void)state;
    enum { B = 8, V = 20 };
    double x[B * V];
    for (int i = 0; i < B * V; i++) x[i] = (i % V) < 5 || (i % V) >= 12 ? 30.0 : 0.0;
    const char *backends[2] = {"cpu", "ref"};
    for (int b = 0; b < 2; b++)
        for (int step = 0; step < 50; step++) {
            int32_t tok[B];
            lt_sample_params p = {.seed = 5, .step = (uint64_t)step, .temperature = 1.0f,
                                  .top_k = step % 3 == 0 ? 4 : 0, .range_lo = 5, .range_hi = 12};
            run_sample(backends[b], x, B, V, NULL, &p, tok);
            for (int r = 0; r < B; r++) assert_true(tok[r] >= 5 && tok[r] < 12);
        }
}

/* The same (seed, sample id, step) gives the same token on cpu and ref, token for token. */
static void test_sample_cpu_matches_ref(void **state) {
    (void)state;
    fill_sample_logits();
    double ids[SB] = {3, 1000, 7, 7, 123456, 2};
    const int steps = quick() ? 40 : 200;
    int32_t first_row0 = -1;
    int row0_varies = 0;
    for (int step = 0; step < steps; step++) {
        lt_sample_params p = {.seed = 0xDEADBEEFCAFEull, .step = (uint64_t)step,
                              .temperature = step % 2 ? 0.7f : 1.3f, .top_k = (step / 2) % 3 * 4,
                              .range_lo = step % 5, .range_hi = SV - step % 3};
        int32_t a[SB], r[SB];
        run_sample("cpu", s_logits, SB, SV, ids, &p, a);
        run_sample("ref", s_logits, SB, SV, ids, &p, r);
        for (int i = 0; i < SB; i++) {
            if (a[i] != r[i]) fail_msg("step %d row %d: cpu drew %d, ref %d", step, i, a[i], r[i]);
            assert_true(a[i] >= p.range_lo && a[i] < p.range_hi);
        }
        if (step == 0) first_row0 = a[0];
        else if (a[0] != first_row0) row0_varies = 1; /* the step must change the draw */
    }
    assert_true(row0_varies);
    /* Same inputs twice: same tokens. */
    lt_sample_params p = {.seed = 1, .step = 17, .temperature = 1.0f, .range_lo = 0, .range_hi = SV};
    int32_t a[SB], b[SB];
    run_sample("cpu", s_logits, SB, SV, ids, &p, a);
    run_sample("cpu", s_logits, SB, SV, ids, &p, b);
    assert_memory_equal(a, b, sizeof a);
}

/* Rule 5 at its boundary: the token drawn is the first whose running sum EXCEEDS r, so
 * r equal to a running sum moves on to the next token. Four equal logits give weights 1
 * and total 4; the steps below were found by a search over (seed 1, id 0, step) for
 * u in {0, 1/4, 1/2, 3/4} (checked here), where r = 4u is exactly 0, 1, 2, 3. A leading
 * -inf logit has weight 0 and is never drawn, even at u = 0. */
static void test_sample_boundary(void **state) {
    (void)state;
    static const struct { uint64_t step; float u; int32_t tok[2]; } cases[4] = {
        {270842, 0.0f, {0, 1}}, {14022774, 0.25f, {1, 1}},
        {30312640, 0.5f, {2, 2}}, {11517191, 0.75f, {3, 3}}};
    const double x[8] = {0, 0, 0, 0, -INFINITY, 0, 0, 0}, ids[2] = {0, 0};
    const char *backends[2] = {"cpu", "ref"};
    for (int c = 0; c < 4; c++) {
        assert_true(lt_rng_uniform(1, 0, cases[c].step) == cases[c].u);
        for (int b = 0; b < 2; b++) {
            lt_sample_params p = {.seed = 1, .step = cases[c].step, .temperature = 1.0f,
                                  .range_lo = 0, .range_hi = 4};
            int32_t tok[2];
            run_sample(backends[b], x, 2, 4, ids, &p, tok);
            if (tok[0] != cases[c].tok[0] || tok[1] != cases[c].tok[1])
                fail_msg("%s, u = %g: drew %d %d, expected %d %d", backends[b], cases[c].u,
                         tok[0], tok[1], cases[c].tok[0], cases[c].tok[1]);
        }
    }
}

/* Frequencies over many draws of a 4-token distribution (one row per draw, ids = row
 * index). Pearson chi-square, loose bound: with 3 degrees of freedom P(X > 30) ~ 1.4e-6
 * for a correct sampler (1 dof for top_k = 2: P(X > 30) ~ 4e-8); an off-by-one token
 * or a wrong weight (e.g. probabilities 0.25 each) gives chi2 in the hundreds. */
static void freq_case(const char *backend, int top_k, const double *want_p) {
    const int n = quick() ? 8000 : 20000;
    double *x = malloc((size_t)n * 4 * sizeof *x);
    assert_non_null(x);
    for (int i = 0; i < n; i++) {
        x[4 * i + 0] = log(0.1);
        x[4 * i + 1] = log(0.2);
        x[4 * i + 2] = log(0.3);
        x[4 * i + 3] = log(0.4);
    }
    lt_device *d = device(backend);
    int64_t s2[2] = {n, 4}, s1[1] = {n};
    lt_tensor tx = make(d, LT_F32, 2, s2, x), out = make(d, LT_I32, 1, s1, NULL);
    lt_sample_params p = {.seed = 2024, .step = 11, .temperature = 1.0f, .top_k = top_k,
                          .range_lo = 0, .range_hi = 4};
    assert_int_equal(lt_sample(&out, &tx, NULL, &p), LT_OK);
    int32_t *tok = malloc((size_t)n * sizeof *tok);
    assert_non_null(tok);
    assert_int_equal(lt_tensor_download(tok, &out, (size_t)n * sizeof *tok), LT_OK);
    int count[4] = {0, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        assert_true(tok[i] >= 0 && tok[i] < 4);
        count[tok[i]]++;
    }
    double chi2 = 0;
    for (int k = 0; k < 4; k++) {
        if (want_p[k] == 0) {
            assert_int_equal(count[k], 0);
            continue;
        }
        double e = n * want_p[k];
        chi2 += (count[k] - e) * (count[k] - e) / e;
    }
    if (!(chi2 < 30.0))
        fail_msg("%s top_k %d: counts %d %d %d %d, chi2 %.2f", backend, top_k, count[0], count[1],
                 count[2], count[3], chi2);
    free(tok);
    free(x);
    lt_tensor_free(&tx);
    lt_tensor_free(&out);
}

static void test_sample_frequencies(void **state) {
    (void)state;
    const double all[4] = {0.1, 0.2, 0.3, 0.4}, top2[4] = {0, 0, 3.0 / 7, 4.0 / 7};
    freq_case("cpu", 0, all);
    freq_case("ref", 0, all);
    freq_case("cpu", 2, top2);
    freq_case("ref", 2, top2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ce_values),
        cmocka_unit_test(test_ce_bad_target),
        cmocka_unit_test(test_ce_cpu_matches_ref),
        cmocka_unit_test(test_ce_cpu_rejects_f64),
        cmocka_unit_test(test_adamw_matches_torch),
        cmocka_unit_test(test_adamw_no_mask),
        cmocka_unit_test(test_sumsq),
        cmocka_unit_test(test_philox_kat),
        cmocka_unit_test(test_sample_greedy_and_top1),
        cmocka_unit_test(test_sample_range),
        cmocka_unit_test(test_sample_cpu_matches_ref),
        cmocka_unit_test(test_sample_boundary),
        cmocka_unit_test(test_sample_frequencies),
    };
    if (lt_init() != LT_OK) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
