/* tests/test_unit_attention.c - the tiled cpu attention kernel against the ref oracle.
 *
 * Forward and backward on T in {1, 7, 64, 100, 257} (tile edges at 64), Dh in {16, 64, 80}
 * (80 leaves a tail past the 16-wide register blocks), causal and bidirectional, ragged
 * lengths including 1 and T, with q/k/v as strided views into a fused [B, T, 3*H*Dh]
 * buffer and dout, dq, dk, dv as views into row-padded buffers. Padding positions of every
 * input hold NaN, so a kernel that reads a key, value or query past a sample's length
 * fails; outputs start as NaN, so one that leaves a row unwritten fails too. Decode must
 * equal the matching rows of a full causal forward over a cache filled by kv_write.
 * LORETTA_QUICK=1 (sanitizer runs) drops the largest shapes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loretta/loretta.h"

#define DOUT_PAD 3 /* extra floats per dout row: an odd row stride */

static int quick(void) {
    const char *q = getenv("LORETTA_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

static lt_device *device(const char *name) {
    lt_device *d = NULL;
    assert_int_equal(lt_device_find(name, 0, &d), LT_OK);
    return d;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float uniform(void) { /* in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) * (1.0 / (1 << 23))) - 1.0f;
}

/* The whole tensor in logical row-major order as f32 or f64 (views of any strides). */
static double *gather(const lt_tensor *t) {
    size_t es = lt_dtype_size(t->dtype);
    char *raw = malloc(t->buf->bytes);
    assert_non_null(raw);
    assert_int_equal(lt_buffer_download(raw, t->buf, 0, t->buf->bytes), LT_OK);
    int64_t n = lt_tensor_numel(t);
    double *out = malloc((size_t)(n ? n : 1) * sizeof(double));
    assert_non_null(out);
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0, rest = i;
        for (int d = t->ndim - 1; d >= 0; d--) {
            off += (rest % t->shape[d]) * t->stride[d];
            rest /= t->shape[d];
        }
        const char *p = raw + t->offset + (size_t)off * es;
        if (t->dtype == LT_F64) {
            double x;
            memcpy(&x, p, sizeof x);
            out[i] = x;
        } else {
            float x;
            memcpy(&x, p, sizeof x);
            out[i] = x;
        }
    }
    free(raw);
    return out;
}

/* Fills a whole buffer with one f32 value (NaN poisons outputs before a call). */
static void fill_buffer(lt_buffer *buf, float value) {
    size_t n = buf->bytes / sizeof(float);
    float *x = malloc(n * sizeof(float));
    assert_non_null(x);
    for (size_t i = 0; i < n; i++) x[i] = value;
    assert_int_equal(lt_buffer_upload(buf, 0, x, n * sizeof(float)), LT_OK);
    free(x);
}

typedef struct attn_case {
    int64_t B, T, H, Dh;
    int causal;
    int32_t lengths[4]; /* used when has_lengths */
    int has_lengths;
    float amp; /* inputs uniform in [-amp, amp]; 0 = 1.5 */
} attn_case;

static int64_t case_len(const attn_case *c, int64_t b) {
    return c->has_lengths ? c->lengths[b] : c->T;
}

static void describe(const attn_case *c, char *s, size_t n) {
    int k =
        snprintf(s, n, "B=%lld T=%lld H=%lld Dh=%lld %s lengths=", (long long)c->B, (long long)c->T,
                 (long long)c->H, (long long)c->Dh, c->causal ? "causal" : "bidirectional");
    for (int64_t b = 0; b < c->B && k > 0 && (size_t)k < n; b++)
        k += snprintf(s + k, n - (size_t)k, "%d ", c->has_lengths ? c->lengths[b] : (int)c->T);
}

/* One backend's tensors for a case. */
typedef struct attn_run {
    lt_tensor qkv, q, k, v; /* q, k, v: views into qkv [B, T, 3*H*Dh] */
    lt_tensor dout_buf, dout; /* dout: view into [B, T, H, Dh + DOUT_PAD] */
    lt_tensor out, lse, len;
    lt_tensor gbuf[3], dq, dk, dv; /* views into row-padded buffers like dout */
} attn_run;

/* A [B, T, H, Dh] view into a new [B, T, H, Dh + DOUT_PAD] buffer. The core rejects
 * outputs whose address spans overlap, so dq, dk, dv cannot share one fused buffer. */
static void padded(lt_device *dev, lt_dtype dt, const attn_case *c, lt_tensor *buf,
                   lt_tensor *view) {
    int64_t p = c->Dh + DOUT_PAD;
    int64_t bshape[4] = {c->B, c->T, c->H, p}, shape[4] = {c->B, c->T, c->H, c->Dh};
    int64_t stride[4] = {c->T * c->H * p, c->H * p, p, 1};
    assert_int_equal(lt_tensor_alloc(dev, dt, 4, bshape, buf), LT_OK);
    assert_int_equal(lt_tensor_strided(buf, 0, 4, shape, stride, view), LT_OK);
}

static void fused_views(const lt_tensor *fused, const attn_case *c, lt_tensor *a, lt_tensor *b,
                        lt_tensor *d) {
    int64_t hd = c->H * c->Dh, es = (int64_t)lt_dtype_size(fused->dtype);
    int64_t shape[4] = {c->B, c->T, c->H, c->Dh}, stride[4] = {c->T * 3 * hd, 3 * hd, c->Dh, 1};
    lt_tensor *parts[3] = {a, b, d};
    for (int i = 0; i < 3; i++)
        assert_int_equal(
            lt_tensor_strided(fused, (size_t)(i * hd * es), 4, shape, stride, parts[i]), LT_OK);
}

static void run_setup(lt_device *dev, lt_dtype dt, const attn_case *c, const float *qkv_host,
                      const float *dout_host, attn_run *r) {
    memset(r, 0, sizeof *r);
    int64_t hd = c->H * c->Dh;
    int64_t fshape[3] = {c->B, c->T, 3 * hd};
    int64_t n_qkv = c->B * c->T * 3 * hd, n_dout = c->B * c->T * c->H * (c->Dh + DOUT_PAD);
    assert_int_equal(lt_tensor_alloc(dev, dt, 3, fshape, &r->qkv), LT_OK);
    padded(dev, dt, c, &r->dout_buf, &r->dout);
    padded(dev, dt, c, &r->gbuf[0], &r->dq);
    padded(dev, dt, c, &r->gbuf[1], &r->dk);
    padded(dev, dt, c, &r->gbuf[2], &r->dv);
    if (dt == LT_F64) {
        double *x = malloc((size_t)(n_qkv + n_dout) * sizeof(double));
        assert_non_null(x);
        for (int64_t i = 0; i < n_qkv; i++) x[i] = qkv_host[i];
        for (int64_t i = 0; i < n_dout; i++) x[n_qkv + i] = dout_host[i];
        assert_int_equal(lt_tensor_upload(&r->qkv, x, (size_t)n_qkv * sizeof(double)), LT_OK);
        assert_int_equal(lt_tensor_upload(&r->dout_buf, x + n_qkv, (size_t)n_dout * sizeof(double)),
                         LT_OK);
        free(x);
    } else {
        assert_int_equal(lt_tensor_upload(&r->qkv, qkv_host, (size_t)n_qkv * sizeof(float)), LT_OK);
        assert_int_equal(lt_tensor_upload(&r->dout_buf, dout_host, (size_t)n_dout * sizeof(float)),
                         LT_OK);
    }
    fused_views(&r->qkv, c, &r->q, &r->k, &r->v);
    int64_t shape[4] = {c->B, c->T, c->H, c->Dh};
    assert_int_equal(lt_tensor_alloc(dev, dt, 4, shape, &r->out), LT_OK);
    int64_t lshape[3] = {c->B, c->H, c->T};
    assert_int_equal(lt_tensor_alloc(dev, dt == LT_F64 ? LT_F64 : LT_F32, 3, lshape, &r->lse),
                     LT_OK);
    if (c->has_lengths) {
        int64_t bshape[1] = {c->B};
        assert_int_equal(lt_tensor_alloc(dev, LT_I32, 1, bshape, &r->len), LT_OK);
        assert_int_equal(lt_tensor_upload(&r->len, c->lengths, (size_t)c->B * sizeof(int32_t)),
                         LT_OK);
    }
}

static void run_free(attn_run *r) {
    lt_tensor_free(&r->qkv);
    for (int i = 0; i < 3; i++) lt_tensor_free(&r->gbuf[i]);
    lt_tensor_free(&r->dout_buf);
    lt_tensor_free(&r->out);
    lt_tensor_free(&r->lse);
    if (r->len.buf) lt_tensor_free(&r->len);
}

static void run_fwd_bwd(attn_run *r, const attn_case *c) {
    const lt_tensor *len = c->has_lengths ? &r->len : NULL;
    float scale = 1.0f / sqrtf((float)c->Dh);
    if (r->out.dtype == LT_F32) { /* outputs start as NaN: every row must be written */
        fill_buffer(r->out.buf, NAN);
        fill_buffer(r->lse.buf, NAN);
        for (int i = 0; i < 3; i++) fill_buffer(r->gbuf[i].buf, NAN);
    }
    lt_status s =
        lt_attention_forward(&r->out, &r->lse, &r->q, &r->k, &r->v, len, c->causal, scale);
    if (s != LT_OK) fail_msg("attn_fwd: %s", lt_last_error());
    s = lt_attention_backward(&r->dq, &r->dk, &r->dv, &r->dout, &r->q, &r->k, &r->v, &r->out,
                              &r->lse, len, c->causal, scale);
    if (s != LT_OK) fail_msg("attn_bwd: %s", lt_last_error());
}

/* Random q, k, v, dout with NaN in every padding position (t >= lengths[b]). */
static void make_inputs(const attn_case *c, float **qkv, float **dout) {
    int64_t hd3 = 3 * c->H * c->Dh, drow = c->H * (c->Dh + DOUT_PAD);
    *qkv = malloc((size_t)(c->B * c->T * hd3) * sizeof(float));
    *dout = malloc((size_t)(c->B * c->T * drow) * sizeof(float));
    assert_non_null(*qkv);
    assert_non_null(*dout);
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t t = 0; t < c->T; t++) {
            int pad = t >= case_len(c, b);
            float *x = *qkv + (b * c->T + t) * hd3, *g = *dout + (b * c->T + t) * drow;
            /* By default scores of a few units: the softmax neither flat nor one-hot. */
            float amp = c->amp > 0 ? c->amp : 1.5f;
            for (int64_t i = 0; i < hd3; i++) x[i] = pad ? NAN : amp * uniform();
            for (int64_t i = 0; i < drow; i++) g[i] = pad ? NAN : uniform();
        }
}

/* max |a - b| <= tol * max(1, max |b|), NaN counting as a failure. */
static void expect_close(const char *what, const attn_case *c, const double *a, const double *b,
                         int64_t n, double tol) {
    double worst = 0.0, ref_max = 0.0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= worst)) { /* also catches NaN */
            worst = isnan(d) ? INFINITY : d;
            at = i;
        }
        if (fabs(b[i]) > ref_max) ref_max = fabs(b[i]);
    }
    double limit = tol * (ref_max > 1.0 ? ref_max : 1.0);
    if (!(worst <= limit)) {
        char s[200];
        describe(c, s, sizeof s);
        fail_msg("%s: max error %.3g at %lld (%.9g vs %.9g), limit %.3g [%s]", what, worst,
                 (long long)at, a[at], b[at], limit, s);
    }
}

/* Rows t >= lengths[b] of a [B, T, H, Dh] tensor (or lse [B, H, T]) are exactly 0. */
static void expect_padding_zero(const char *what, const attn_case *c, const double *x, int is_lse) {
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t t = case_len(c, b); t < c->T; t++)
            for (int64_t h = 0; h < c->H; h++) {
                if (is_lse) {
                    if (x[(b * c->H + h) * c->T + t] != 0.0)
                        fail_msg("%s: lse[%lld,%lld,%lld] not 0", what, (long long)b, (long long)h,
                                 (long long)t);
                    continue;
                }
                const double *row = x + ((b * c->T + t) * c->H + h) * c->Dh;
                for (int64_t d = 0; d < c->Dh; d++)
                    if (row[d] != 0.0)
                        fail_msg("%s: padding row b=%lld t=%lld h=%lld is not 0", what,
                                 (long long)b, (long long)t, (long long)h);
            }
}

static void compare_case(const attn_case *c) {
    float *qkv, *dout;
    make_inputs(c, &qkv, &dout);
    attn_run cpu, ref;
    run_setup(device("cpu"), LT_F32, c, qkv, dout, &cpu);
    run_setup(device("ref"), LT_F32, c, qkv, dout, &ref);
    run_fwd_bwd(&cpu, c);
    run_fwd_bwd(&ref, c);
    const lt_tensor *ct[5] = {&cpu.out, &cpu.lse, &cpu.dq, &cpu.dk, &cpu.dv};
    const lt_tensor *rt[5] = {&ref.out, &ref.lse, &ref.dq, &ref.dk, &ref.dv};
    const char *names[5] = {"out", "lse", "dq", "dk", "dv"};
    for (int i = 0; i < 5; i++) {
        double *a = gather(ct[i]), *b = gather(rt[i]);
        expect_close(names[i], c, a, b, lt_tensor_numel(ct[i]), 1e-5);
        expect_padding_zero(names[i], c, a, i == 1);
        expect_padding_zero(names[i], c, b, i == 1);
        free(a);
        free(b);
    }
    run_free(&cpu);
    run_free(&ref);
    free(qkv);
    free(dout);
}

static void test_fwd_bwd_vs_ref(void **state) {
    (void)state;
    const int64_t Ts[] = {1, 7, 64, 100, 257}, Dhs[] = {16, 64, 80};
    int nT = quick() ? 4 : 5;
    for (int ti = 0; ti < nT; ti++)
        for (int di = 0; di < 3; di++)
            for (int causal = 0; causal < 2; causal++) {
                int64_t T = Ts[ti];
                attn_case c = {3, T, 2, Dhs[di], causal, {(int32_t)T, 1, (int32_t)(T / 2 + 1), 0},
                               1, 0};
                compare_case(&c);
            }
}

/* No lengths tensor, one head, a sample of length 0 (all padding), H = 3, and scores
 * of tens of units (nearly one-hot rows: exp underflows and the running max jumps). */
static void test_variants(void **state) {
    (void)state;
    for (int causal = 0; causal < 2; causal++) {
        attn_case all = {2, 70, 1, 24, causal, {0}, 0, 0};
        compare_case(&all);
        attn_case empty = {2, 9, 3, 16, causal, {0, 9}, 1, 0};
        compare_case(&empty);
        attn_case sharp = {2, 130, 2, 16, causal, {130, 77}, 1, 6.0f};
        compare_case(&sharp);
    }
}

/* A NaN in one query row makes that row's output NaN and leaves the others finite. */
static void test_nan_propagates(void **state) {
    (void)state;
    const char *names[2] = {"cpu", "ref"};
    attn_case c = {1, 70, 2, 16, 1, {0}, 0, 0};
    for (int bi = 0; bi < 2; bi++) {
        float *qkv, *dout;
        make_inputs(&c, &qkv, &dout);
        qkv[5 * 3 * c.H * c.Dh + 3] = NAN; /* q of token 5, head 0 */
        attn_run r;
        run_setup(device(names[bi]), LT_F32, &c, qkv, dout, &r);
        run_fwd_bwd(&r, &c);
        double *out = gather(&r.out);
        for (int64_t t = 0; t < c.T; t++)
            for (int64_t h = 0; h < c.H; h++) {
                double x = out[(t * c.H + h) * c.Dh];
                if ((t == 5 && h == 0) != (isnan(x) != 0))
                    fail_msg("%s: out[t=%lld, h=%lld] = %g", names[bi], (long long)t, (long long)h,
                             x);
            }
        free(out);
        run_free(&r);
        free(qkv);
        free(dout);
    }
}

/* The oracle in f64 agrees with the cpu kernel in f32 (checks the ref's f64 path). */
static void test_ref_f64(void **state) {
    (void)state;
    attn_case c = {2, 33, 2, 16, 1, {33, 5}, 1, 0};
    float *qkv, *dout;
    make_inputs(&c, &qkv, &dout);
    attn_run cpu, ref;
    run_setup(device("cpu"), LT_F32, &c, qkv, dout, &cpu);
    run_setup(device("ref"), LT_F64, &c, qkv, dout, &ref);
    run_fwd_bwd(&cpu, &c);
    run_fwd_bwd(&ref, &c);
    const lt_tensor *ct[5] = {&cpu.out, &cpu.lse, &cpu.dq, &cpu.dk, &cpu.dv};
    const lt_tensor *rt[5] = {&ref.out, &ref.lse, &ref.dq, &ref.dk, &ref.dv};
    for (int i = 0; i < 5; i++) {
        double *a = gather(ct[i]), *b = gather(rt[i]);
        expect_close("f64 ref", &c, a, b, lt_tensor_numel(ct[i]), 1e-5);
        free(a);
        free(b);
    }
    run_free(&cpu);
    run_free(&ref);
    free(qkv);
    free(dout);
}

/* Same inputs, 1 and 2 threads, twice each: bit-identical outputs and gradients. */
static void test_deterministic(void **state) {
    (void)state;
    attn_case c = {2, 150, 3, 64, 1, {150, 97}, 1, 0};
    float *qkv, *dout;
    make_inputs(&c, &qkv, &dout);
    lt_device *dev = device("cpu");
    int saved = dev->threads;
    double *first[4] = {0};
    for (int rep = 0; rep < 3; rep++) {
        lt_device_set_threads(dev, rep == 0 ? 1 : 2);
        attn_run r;
        run_setup(dev, LT_F32, &c, qkv, dout, &r);
        run_fwd_bwd(&r, &c);
        const lt_tensor *t[4] = {&r.out, &r.dq, &r.dk, &r.dv};
        for (int i = 0; i < 4; i++) {
            double *x = gather(t[i]);
            if (!first[i]) {
                first[i] = x;
                continue;
            }
            if (memcmp(x, first[i], (size_t)lt_tensor_numel(t[i]) * sizeof(double)) != 0)
                fail_msg("tensor %d differs between runs (rep %d)", i, rep);
            free(x);
        }
        run_free(&r);
    }
    lt_device_set_threads(dev, saved);
    for (int i = 0; i < 4; i++) free(first[i]);
    free(qkv);
    free(dout);
}

/* Decode over a cache written by kv_write equals rows of a full causal forward. */
static void decode_case(const char *backend, int64_t Tq) {
    lt_device *dev = device(backend);
    const int64_t B = 3, Tmax = 90, H = 2, Dh = 80;
    attn_case full = {B, Tmax, H, Dh, 1, {90, 71, 70}, 1, 0};
    int64_t hd = H * Dh, row3 = 3 * hd;
    float *qkv, *dout;
    make_inputs(&full, &qkv, &dout);
    attn_run r;
    run_setup(dev, LT_F32, &full, qkv, dout, &r);
    run_fwd_bwd(&r, &full);
    double *ref_out = gather(&r.out);

    /* Cache: NaN everywhere, then each sample's prompt (all but its Tq newest tokens) with
     * one kv_write per sample, then the Tq newest tokens of all samples in one call. */
    int64_t cshape[4] = {B, Tmax, H, Dh};
    lt_tensor kc, vc, pos, len;
    assert_int_equal(lt_tensor_alloc(dev, LT_F32, 4, cshape, &kc), LT_OK);
    assert_int_equal(lt_tensor_alloc(dev, LT_F32, 4, cshape, &vc), LT_OK);
    fill_buffer(kc.buf, NAN);
    fill_buffer(vc.buf, NAN);
    int64_t one[1] = {1}, bshape[1] = {B};
    assert_int_equal(lt_tensor_alloc(dev, LT_I32, 1, bshape, &pos), LT_OK);
    assert_int_equal(lt_tensor_alloc(dev, LT_I32, 1, bshape, &len), LT_OK);
    assert_int_equal(lt_tensor_upload(&len, full.lengths, sizeof(int32_t) * B), LT_OK);
    lt_tensor *caches[2] = {&kc, &vc};
    const lt_tensor *src[2] = {&r.k, &r.v};
    for (int kv = 0; kv < 2; kv++)
        for (int64_t b = 0; b < B; b++) {
            int64_t prompt = full.lengths[b] - Tq;
            if (prompt == 0) continue;
            lt_tensor cb, xb, p1;
            int64_t s1[4] = {1, Tmax, H, Dh}, sx[4] = {1, prompt, H, Dh};
            assert_int_equal(lt_tensor_view(caches[kv], (size_t)(b * Tmax * hd) * sizeof(float),
                                            LT_F32, 4, s1, &cb),
                             LT_OK);
            assert_int_equal(lt_tensor_strided(src[kv], (size_t)(b * Tmax * row3) * sizeof(float),
                                               4, sx, src[kv]->stride, &xb),
                             LT_OK);
            int32_t zero = 0;
            assert_int_equal(lt_tensor_view(&pos, 0, LT_I32, 1, one, &p1), LT_OK);
            assert_int_equal(lt_tensor_upload(&p1, &zero, sizeof zero), LT_OK);
            if (lt_kv_write(&cb, &xb, &p1) != LT_OK) fail_msg("kv_write: %s", lt_last_error());
        }
    /* The new tokens' q, k, v, gathered host-side into a fused [B, Tq, 3*H*Dh] buffer. */
    float *newh = malloc((size_t)(B * Tq * row3) * sizeof(float));
    assert_non_null(newh);
    int32_t p0[3];
    for (int64_t b = 0; b < B; b++) {
        p0[b] = full.lengths[b] - (int32_t)Tq;
        memcpy(newh + b * Tq * row3, qkv + (b * Tmax + p0[b]) * row3,
               (size_t)(Tq * row3) * sizeof(float));
    }
    int64_t nshape[3] = {B, Tq, row3};
    lt_tensor fused, q, k, v, out;
    assert_int_equal(lt_tensor_alloc(dev, LT_F32, 3, nshape, &fused), LT_OK);
    assert_int_equal(lt_tensor_upload(&fused, newh, (size_t)(B * Tq * row3) * sizeof(float)),
                     LT_OK);
    attn_case nc = {B, Tq, H, Dh, 1, {0}, 0, 0};
    fused_views(&fused, &nc, &q, &k, &v);
    assert_int_equal(lt_tensor_upload(&pos, p0, sizeof p0), LT_OK);
    if (lt_kv_write(&kc, &k, &pos) != LT_OK || lt_kv_write(&vc, &v, &pos) != LT_OK)
        fail_msg("kv_write: %s", lt_last_error());
    int64_t oshape[4] = {B, Tq, H, Dh};
    assert_int_equal(lt_tensor_alloc(dev, LT_F32, 4, oshape, &out), LT_OK);
    fill_buffer(out.buf, NAN);
    if (lt_attention_decode(&out, &q, &kc, &vc, &len, 1.0f / sqrtf((float)Dh)) != LT_OK)
        fail_msg("attn_decode: %s", lt_last_error());
    double *got = gather(&out);
    double *want = malloc((size_t)(B * Tq * hd) * sizeof(double));
    assert_non_null(want);
    for (int64_t b = 0; b < B; b++)
        memcpy(want + b * Tq * hd, ref_out + (b * Tmax + p0[b]) * hd,
               (size_t)(Tq * hd) * sizeof(double));
    attn_case shown = {B, Tq, H, Dh, 1, {90, 71, 70}, 1, 0};
    expect_close(backend, &shown, got, want, B * Tq * hd, 1e-5);
    free(got);
    free(want);
    free(newh);
    free(ref_out);
    lt_tensor_free(&out);
    lt_tensor_free(&fused);
    lt_tensor_free(&kc);
    lt_tensor_free(&vc);
    lt_tensor_free(&pos);
    lt_tensor_free(&len);
    run_free(&r);
    free(qkv);
    free(dout);
}

static void test_decode(void **state) {
    (void)state;
    const int64_t Tqs[] = {1, 5, 70}; /* 70 > one 64-row query tile */
    for (int i = 0; i < 3; i++) {
        decode_case("cpu", Tqs[i]);
        decode_case("ref", Tqs[i]);
    }
}

/* kv_write past the cache end fails with RANGE naming the sample and writes nothing;
 * lengths outside their range fail the attention ops the same way. */
static void test_range_errors(void **state) {
    (void)state;
    const char *names[2] = {"cpu", "ref"};
    for (int bi = 0; bi < 2; bi++) {
        lt_device *dev = device(names[bi]);
        int64_t cshape[4] = {3, 8, 2, 4}, xshape[4] = {3, 3, 2, 4}, bshape[1] = {3};
        lt_tensor cache, x, pos, len, out, lse;
        assert_int_equal(lt_tensor_alloc(dev, LT_F32, 4, cshape, &cache), LT_OK);
        assert_int_equal(lt_tensor_alloc(dev, LT_F32, 4, xshape, &x), LT_OK);
        assert_int_equal(lt_tensor_alloc(dev, LT_I32, 1, bshape, &pos), LT_OK);
        fill_buffer(cache.buf, 0.0f);
        fill_buffer(x.buf, 1.0f);
        int32_t bad_end[3] = {0, 6, 2}, bad_neg[3] = {0, 1, -1}, fits[3] = {5, 0, 2};
        assert_int_equal(lt_tensor_upload(&pos, bad_end, sizeof bad_end), LT_OK);
        assert_int_equal(lt_kv_write(&cache, &x, &pos), LT_ERR_RANGE);
        assert_non_null(strstr(lt_last_error(), "pos[1]"));
        assert_non_null(strstr(lt_last_error(), "kv_write"));
        double *c0 = gather(&cache);
        for (int64_t i = 0; i < lt_tensor_numel(&cache); i++) assert_true(c0[i] == 0.0);
        free(c0);
        assert_int_equal(lt_tensor_upload(&pos, bad_neg, sizeof bad_neg), LT_OK);
        assert_int_equal(lt_kv_write(&cache, &x, &pos), LT_ERR_RANGE);
        assert_non_null(strstr(lt_last_error(), "pos[2]"));
        assert_int_equal(lt_tensor_upload(&pos, fits, sizeof fits), LT_OK);
        assert_int_equal(lt_kv_write(&cache, &x, &pos), LT_OK);
        double *c1 = gather(&cache);
        assert_true(c1[(0 * 8 + 7) * 8] == 1.0 && c1[(0 * 8 + 4) * 8] == 0.0);
        free(c1);

        /* Attention over the cache as [B, T=8, H, Dh]: lengths[b] must be in [0, 8]. */
        int64_t lshape[3] = {3, 2, 8};
        assert_int_equal(lt_tensor_alloc(dev, LT_F32, 4, cshape, &out), LT_OK);
        assert_int_equal(lt_tensor_alloc(dev, LT_F32, 3, lshape, &lse), LT_OK);
        assert_int_equal(lt_tensor_alloc(dev, LT_I32, 1, bshape, &len), LT_OK);
        int32_t too_long[3] = {8, 1, 9}, negative[3] = {-1, 1, 1}, below_tq[3] = {8, 2, 8};
        assert_int_equal(lt_tensor_upload(&len, too_long, sizeof too_long), LT_OK);
        assert_int_equal(lt_attention_forward(&out, &lse, &cache, &cache, &cache, &len, 1, 0.5f),
                         LT_ERR_RANGE);
        assert_non_null(strstr(lt_last_error(), "lengths[2]"));
        assert_int_equal(lt_tensor_upload(&len, negative, sizeof negative), LT_OK);
        lt_tensor g[3];
        for (int i = 0; i < 3; i++)
            assert_int_equal(lt_tensor_alloc(dev, LT_F32, 4, cshape, &g[i]), LT_OK);
        assert_int_equal(lt_attention_backward(&g[0], &g[1], &g[2], &cache, &cache, &cache, &cache,
                                               &cache, &lse, &len, 0, 0.5f),
                         LT_ERR_RANGE);
        assert_non_null(strstr(lt_last_error(), "attn_bwd: lengths[0]"));
        for (int i = 0; i < 3; i++) lt_tensor_free(&g[i]);
        /* Decode: Tq = 3 new tokens need lengths[b] >= 3. */
        lt_tensor dout;
        assert_int_equal(lt_tensor_alloc(dev, LT_F32, 4, xshape, &dout), LT_OK);
        assert_int_equal(lt_tensor_upload(&len, below_tq, sizeof below_tq), LT_OK);
        assert_int_equal(lt_attention_decode(&dout, &x, &cache, &cache, &len, 0.5f), LT_ERR_RANGE);
        assert_non_null(strstr(lt_last_error(), "lengths[1]"));
        lt_tensor_free(&dout);
        lt_tensor_free(&out);
        lt_tensor_free(&lse);
        lt_tensor_free(&len);
        lt_tensor_free(&cache);
        lt_tensor_free(&x);
        lt_tensor_free(&pos);
    }
}

int main(void) {
    assert_int_equal(lt_init(), LT_OK);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fwd_bwd_vs_ref), cmocka_unit_test(test_variants),
        cmocka_unit_test(test_ref_f64),        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_decode),         cmocka_unit_test(test_range_errors),
        cmocka_unit_test(test_nan_propagates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
