/* tests/test_unit_ops_basic.c - small hand-checkable cases for the basic op families
 * (fill, copy, cast, matmul, embeddings, RMSNorm, GELU, add/scale/axpy) on both CPU
 * backends, "cpu" and "ref". Expected values are worked out by hand or, where noted,
 * taken from PyTorch (float64, torch 2.x; F.gelu(approximate="tanh"), autograd for the
 * RMSNorm backward). The cpu matmul is also run through every GEMM engine and kernel
 * this machine has (LORETTA_CPU_GEMM, LORETTA_CPU_GEMM_KERNEL) against a naive loop. */
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

static const char *const backends[] = {"cpu", "ref"};
#define N_BACKENDS 2

static int quick(void) { return getenv("LORETTA_QUICK") != NULL; }

static lt_device *device(const char *name) {
    lt_device *d = NULL;
    if (lt_device_find(name, 0, &d) != LT_OK) fail_msg("no %s device: %s", name, lt_last_error());
    return d;
}

static void ok(lt_status s, const char *what, const char *be) {
    if (s != LT_OK) fail_msg("%s on %s: %s (%s)", what, be, lt_status_name(s), lt_last_error());
}

/* A tensor of `dt` holding `vals` (converted from double). */
static lt_tensor make(lt_device *d, lt_dtype dt, int ndim, const int64_t *shape,
                      const double *vals) {
    lt_tensor t;
    if (lt_tensor_alloc(d, dt, ndim, shape, &t) != LT_OK) fail_msg("alloc: %s", lt_last_error());
    const int64_t n = lt_tensor_numel(&t);
    const size_t bytes = lt_tensor_nbytes(&t);
    unsigned char *buf = calloc(bytes ? bytes : 1, 1);
    assert_non_null(buf);
    for (int64_t i = 0; vals && i < n; i++) {
        switch (dt) {
        case LT_F32: ((float *)buf)[i] = (float)vals[i]; break;
        case LT_F64: ((double *)buf)[i] = vals[i]; break;
        case LT_BF16: ((uint16_t *)buf)[i] = lt_f32_to_bf16((float)vals[i]); break;
        case LT_F16: ((uint16_t *)buf)[i] = lt_f32_to_f16((float)vals[i]); break;
        case LT_I32: ((int32_t *)buf)[i] = (int32_t)vals[i]; break;
        default: ((uint8_t *)buf)[i] = (uint8_t)vals[i]; break;
        }
    }
    assert_int_equal(lt_tensor_upload(&t, buf, bytes), LT_OK);
    free(buf);
    return t;
}

static lt_tensor make_f32(lt_device *d, int ndim, const int64_t *shape, const double *vals) {
    return make(d, LT_F32, ndim, shape, vals);
}

/* Downloads a contiguous tensor as doubles. */
static void get(const lt_tensor *t, double *out) {
    const int64_t n = lt_tensor_numel(t);
    const size_t bytes = lt_tensor_nbytes(t);
    unsigned char *buf = malloc(bytes ? bytes : 1);
    assert_non_null(buf);
    assert_int_equal(lt_tensor_download(buf, t, bytes), LT_OK);
    for (int64_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case LT_F32: out[i] = ((float *)buf)[i]; break;
        case LT_F64: out[i] = ((double *)buf)[i]; break;
        case LT_BF16: out[i] = lt_bf16_to_f32(((uint16_t *)buf)[i]); break;
        case LT_F16: out[i] = lt_f16_to_f32(((uint16_t *)buf)[i]); break;
        case LT_I32: out[i] = ((int32_t *)buf)[i]; break;
        default: out[i] = ((uint8_t *)buf)[i]; break;
        }
    }
    free(buf);
}

/* |got - want| <= tol * max(1, |want|) for every element. */
static void expect(const lt_tensor *t, const double *want, double tol, const char *what,
                   const char *be) {
    const int64_t n = lt_tensor_numel(t);
    double *got = malloc((size_t)(n ? n : 1) * sizeof *got);
    assert_non_null(got);
    get(t, got);
    for (int64_t i = 0; i < n; i++) {
        const double scale = fabs(want[i]) > 1.0 ? fabs(want[i]) : 1.0;
        if (got[i] != want[i] && !(fabs(got[i] - want[i]) <= tol * scale)) { /* == for inf */
            const double g = got[i];
            free(got);
            fail_msg("%s on %s: element %lld = %.9g, expected %.9g", what, be, (long long)i, g,
                     want[i]);
        }
    }
    free(got);
}

static void expect_bits16(const lt_tensor *t, const uint16_t *want, const char *what, const char *be) {
    const int64_t n = lt_tensor_numel(t);
    uint16_t got[16];
    assert_true(n <= 16);
    assert_int_equal(lt_tensor_download(got, t, (size_t)n * 2), LT_OK);
    for (int64_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("%s on %s: element %lld = 0x%04x, expected 0x%04x", what, be, (long long)i,
                     got[i], want[i]);
}

/* ---------------------------------------------------------------- fill / copy / cast ---- */

static void test_fill(void **state) {
    (void)state;
    for (int b = 0; b < N_BACKENDS; b++) {
        const char *be = backends[b];
        lt_device *d = device(be);
        int64_t s[1] = {5};
        lt_tensor f = make_f32(d, 1, s, NULL), h = make(d, LT_BF16, 1, s, NULL),
                  g = make(d, LT_F16, 1, s, NULL), k = make(d, LT_I32, 1, s, NULL),
                  u = make(d, LT_U8, 1, s, NULL);
        ok(lt_fill(&f, 2.5), "fill f32", be);
        ok(lt_fill(&h, 1.0), "fill bf16", be);
        ok(lt_fill(&g, -2.0), "fill f16", be);
        ok(lt_fill(&k, 7.9), "fill i32", be); /* truncates toward zero */
        ok(lt_fill(&u, 200.0), "fill u8", be);
        const double w25[5] = {2.5, 2.5, 2.5, 2.5, 2.5}, w7[5] = {7, 7, 7, 7, 7},
                     w200[5] = {200, 200, 200, 200, 200};
        const uint16_t one_bf16[5] = {0x3f80, 0x3f80, 0x3f80, 0x3f80, 0x3f80};
        const uint16_t m2_f16[5] = {0xc000, 0xc000, 0xc000, 0xc000, 0xc000};
        expect(&f, w25, 0, "fill f32", be);
        expect_bits16(&h, one_bf16, "fill bf16", be);
        expect_bits16(&g, m2_f16, "fill f16", be);
        expect(&k, w7, 0, "fill i32", be);
        expect(&u, w200, 0, "fill u8", be);
        assert_int_equal(lt_fill(&u, 300.0), LT_ERR_RANGE);
        assert_non_null(strstr(lt_last_error(), "u8"));
        lt_tensor_free(&f);
        lt_tensor_free(&h);
        lt_tensor_free(&g);
        lt_tensor_free(&k);
        lt_tensor_free(&u);
    }
}

static void test_copy_strided(void **state) {
    (void)state;
    for (int b = 0; b < N_BACKENDS; b++) {
        const char *be = backends[b];
        lt_device *d = device(be);
        /* src: a [3,2] view of a [4,6] block 0..23, every other column from column 1. */
        double v[24];
        for (int i = 0; i < 24; i++) v[i] = i;
        int64_t s46[2] = {4, 6}, s23[2] = {2, 3}, s32[2] = {3, 2};
        lt_tensor base = make_f32(d, 2, s46, v), dbase = make_f32(d, 2, s23, NULL), src, dst;
        int64_t st_src[2] = {6, 2}, st_dst[2] = {1, 3};
        ok(lt_tensor_strided(&base, 1 * sizeof(float), 2, s32, st_src, &src), "view", be);
        /* dst: the transpose of a contiguous [2,3], so dbase ends up holding src^T. */
        ok(lt_tensor_strided(&dbase, 0, 2, s32, st_dst, &dst), "view", be);
        ok(lt_copy(&dst, &src), "copy", be);
        const double want[6] = {1, 7, 13, 3, 9, 15};
        expect(&dbase, want, 0, "strided copy", be);

        /* bf16 copy keeps the bits, including a NaN payload a conversion would rewrite. */
        int64_t s3[1] = {3};
        lt_tensor h = make(d, LT_BF16, 1, s3, NULL), h2 = make(d, LT_BF16, 1, s3, NULL);
        const uint16_t bits[3] = {0x3f80, 0x7f81, 0x8000};
        assert_int_equal(lt_tensor_upload(&h, bits, sizeof bits), LT_OK);
        ok(lt_copy(&h2, &h), "copy bf16", be);
        expect_bits16(&h2, bits, "copy bf16", be);

        /* Large enough for the cpu backend's threaded path: a [300, 200] transpose. */
        const int64_t R = 300, C = 200;
        int64_t sRC[2] = {R, C}, sCR[2] = {C, R}, stT[2] = {1, C};
        double *big = malloc((size_t)(R * C) * sizeof *big), *bw = malloc((size_t)(R * C) * sizeof *bw);
        assert_non_null(big);
        assert_non_null(bw);
        for (int64_t i = 0; i < R * C; i++) big[i] = (double)(i % 1000) - 500.0;
        for (int64_t i = 0; i < R; i++)
            for (int64_t j = 0; j < C; j++) bw[j * R + i] = big[i * C + j];
        lt_tensor bs = make_f32(d, 2, sRC, big), bd = make_f32(d, 2, sCR, NULL), bt;
        ok(lt_tensor_strided(&bs, 0, 2, sCR, stT, &bt), "view", be);
        ok(lt_copy(&bd, &bt), "copy transpose", be);
        expect(&bd, bw, 0, "transposing copy", be);
        free(big);
        free(bw);
        lt_tensor_free(&bs);
        lt_tensor_free(&bd);
        lt_tensor_free(&h);
        lt_tensor_free(&h2);
        lt_tensor_free(&base);
        lt_tensor_free(&dbase);
    }
}

static void test_cast(void **state) {
    (void)state;
    const double vals[6] = {1.0, -2.5, 3.14159265, 65504.0, 1.0 / 3.0, 70000.0};
    /* Round to nearest even, from PyTorch's .to(torch.bfloat16 / torch.float16). */
    const uint16_t want_bf16[6] = {0x3f80, 0xc020, 0x4049, 0x4780, 0x3eab, 0x4789};
    const uint16_t want_f16[6] = {0x3c00, 0xc100, 0x4248, 0x7bff, 0x3555, 0x7c00};
    for (int b = 0; b < N_BACKENDS; b++) {
        const char *be = backends[b];
        lt_device *d = device(be);
        int64_t s[1] = {6};
        lt_tensor f = make_f32(d, 1, s, vals), h = make(d, LT_BF16, 1, s, NULL),
                  g = make(d, LT_F16, 1, s, NULL), back = make_f32(d, 1, s, NULL),
                  w = make(d, LT_F64, 1, s, NULL);
        ok(lt_cast(&h, &f), "cast f32->bf16", be);
        ok(lt_cast(&g, &f), "cast f32->f16", be);
        expect_bits16(&h, want_bf16, "cast f32->bf16", be);
        expect_bits16(&g, want_f16, "cast f32->f16", be);
        ok(lt_cast(&back, &h), "cast bf16->f32", be);
        const double bf_back[6] = {1.0, -2.5, 3.140625, 65536.0, 0.333984375, 70144.0};
        expect(&back, bf_back, 0, "cast bf16->f32", be);
        ok(lt_cast(&back, &g), "cast f16->f32", be);
        const double hf_back[6] = {1.0, -2.5, 3.140625, 65504.0, 0.333251953125, INFINITY};
        expect(&back, hf_back, 0, "cast f16->f32", be);
        ok(lt_cast(&w, &f), "cast f32->f64", be);
        double fv[6];
        for (int i = 0; i < 6; i++) fv[i] = (float)vals[i]; /* exact widening */
        expect(&w, fv, 0, "cast f32->f64", be);
        lt_tensor_free(&f);
        lt_tensor_free(&h);
        lt_tensor_free(&g);
        lt_tensor_free(&back);
        lt_tensor_free(&w);
    }
}

/* ---------------------------------------------------------------- matmul ---- */

/* A = [[1,2,3],[4,5,6]], B = [[7,8],[9,10],[11,12]], A B = [[58,64],[139,154]]. */
static const double MA[6] = {1, 2, 3, 4, 5, 6}, MAT[6] = {1, 4, 2, 5, 3, 6};
static const double MB[6] = {7, 8, 9, 10, 11, 12}, MBT[6] = {7, 9, 11, 8, 10, 12};
static const double MAB[4] = {58, 64, 139, 154};

static void matmul_small(const char *be, lt_dtype dt) {
    lt_device *d = device(be);
    int64_t s23[2] = {2, 3}, s32[2] = {3, 2}, s22[2] = {2, 2};
    lt_tensor a = make(d, dt, 2, s23, MA), at = make(d, dt, 2, s32, MAT);
    lt_tensor bm = make(d, dt, 2, s32, MB), bt = make(d, dt, 2, s23, MBT);
    lt_tensor c = make(d, dt, 2, s22, NULL);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            ok(lt_fill(&c, NAN), "fill", be); /* C must not be read when not accumulating */
            ok(lt_matmul(&c, ta ? &at : &a, tb ? &bt : &bm, ta, tb, 1.0f, 0), "matmul", be);
            char what[64];
            snprintf(what, sizeof what, "matmul %s ta=%d tb=%d", lt_dtype_name(dt), ta, tb);
            expect(&c, MAB, 0, what, be);
        }
    /* alpha and accumulate: C = 1 + 0.5 A B */
    ok(lt_fill(&c, 1.0), "fill", be);
    ok(lt_matmul(&c, &at, &bm, 1, 0, 0.5f, 1), "matmul accumulate", be);
    const double acc[4] = {30, 33, 70.5, 78};
    expect(&c, acc, 0, "matmul alpha=0.5 accumulate", be);
    lt_tensor_free(&a);
    lt_tensor_free(&at);
    lt_tensor_free(&bm);
    lt_tensor_free(&bt);
    lt_tensor_free(&c);
}

static void matmul_batched_views(const char *be) {
    lt_device *d = device(be);
    /* Batched A [2,2,3] (batch 1 = A, batch 2 = 2A) times a shared B [3,2]. */
    double a2[12];
    for (int i = 0; i < 6; i++) a2[i] = MA[i], a2[6 + i] = 2 * MA[i];
    int64_t s223[3] = {2, 2, 3}, s32[2] = {3, 2}, s222[3] = {2, 2, 2}, s232[3] = {2, 3, 2};
    lt_tensor a = make_f32(d, 3, s223, a2), bm = make_f32(d, 2, s32, MB), c = make_f32(d, 3, s222, NULL);
    ok(lt_matmul(&c, &a, &bm, 0, 0, 1.0f, 0), "batched matmul", be);
    const double want[8] = {58, 64, 139, 154, 116, 128, 278, 308};
    expect(&c, want, 0, "matmul batch A, shared B", be);
    /* Shared A [1,2,3] (rank 3, batch 1) times batched B [2,3,2] = (B, 3B). */
    double b2[12];
    for (int i = 0; i < 6; i++) b2[i] = MB[i], b2[6 + i] = 3 * MB[i];
    int64_t s123[3] = {1, 2, 3};
    lt_tensor a1 = make_f32(d, 3, s123, MA), b3 = make_f32(d, 3, s232, b2);
    ok(lt_matmul(&c, &a1, &b3, 0, 0, 1.0f, 0), "batched matmul", be);
    const double want3[8] = {58, 64, 139, 154, 174, 192, 417, 462};
    expect(&c, want3, 0, "matmul shared A, batch B", be);

    /* C as a [2,2] view into columns 1..2 of a [2,4] buffer: the rest must stay put. */
    int64_t s24[2] = {2, 4}, s22[2] = {2, 2}, st[2] = {4, 1}, s23[2] = {2, 3};
    const double guard[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
    lt_tensor wide = make_f32(d, 2, s24, guard), cv, a0 = make_f32(d, 2, s23, MA);
    ok(lt_tensor_strided(&wide, sizeof(float), 2, s22, st, &cv), "view", be);
    ok(lt_matmul(&cv, &a0, &bm, 0, 0, 1.0f, 1), "matmul into view", be);
    const double wantw[8] = {-1, 57, 63, -1, -1, 138, 153, -1};
    expect(&wide, wantw, 0, "matmul into a strided view", be);
    lt_tensor_free(&a);
    lt_tensor_free(&bm);
    lt_tensor_free(&c);
    lt_tensor_free(&a1);
    lt_tensor_free(&b3);
    lt_tensor_free(&wide);
    lt_tensor_free(&a0);
}

static void test_matmul(void **state) {
    (void)state;
    for (int b = 0; b < N_BACKENDS; b++) {
        matmul_small(backends[b], LT_F32);
        matmul_batched_views(backends[b]);
    }
    matmul_small("ref", LT_F64);
    matmul_small("ref", LT_BF16); /* every value here is exact in bf16 */
    /* The cpu backend says clearly that it leaves f64 to the reference backend. */
    lt_device *d = device("cpu");
    int64_t s[2] = {2, 2};
    lt_tensor x = make(d, LT_F64, 2, s, NULL), y = make(d, LT_F64, 2, s, NULL),
              z = make(d, LT_F64, 2, s, NULL);
    assert_int_equal(lt_matmul(&z, &x, &y, 0, 0, 1.0f, 0), LT_ERR_UNSUPPORTED);
    assert_non_null(strstr(lt_last_error(), "f32"));
    lt_tensor_free(&x);
    lt_tensor_free(&y);
    lt_tensor_free(&z);
}

/* Every GEMM engine and micro-kernel of the cpu backend, on shapes that cross every
 * block boundary, against a naive double loop (exact: small integers). */
static void gemm_case(lt_device *d, int64_t M, int64_t N, int64_t K, int ta, int tb, int acc,
                      const char *engine) {
    int64_t sa[2] = {ta ? K : M, ta ? M : K}, sb[2] = {tb ? N : K, tb ? K : N}, sc[2] = {M, N};
    double *av = malloc((size_t)(M * K) * sizeof *av), *bv = malloc((size_t)(K * N) * sizeof *bv);
    double *cv = malloc((size_t)(M * N) * sizeof *cv), *want = malloc((size_t)(M * N) * sizeof *want);
    assert_true(av && bv && cv && want);
    /* Small integers times a power of two: every product and partial sum is exact in f32. */
    for (int64_t i = 0; i < M * K; i++) av[i] = (double)((i * 7 + 3) % 11 - 5);
    for (int64_t i = 0; i < K * N; i++) bv[i] = (double)((i * 5 + 1) % 9 - 4);
    for (int64_t i = 0; i < M * N; i++) cv[i] = (double)(i % 13);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++)
                s += av[ta ? k * M + i : i * K + k] * bv[tb ? j * K + k : k * N + j];
            want[i * N + j] = 0.5 * s + (acc ? cv[i * N + j] : 0.0);
        }
    lt_tensor a = make_f32(d, 2, sa, av), bm = make_f32(d, 2, sb, bv), c = make_f32(d, 2, sc, cv);
    char what[128];
    snprintf(what, sizeof what, "gemm %s M=%lld N=%lld K=%lld ta=%d tb=%d acc=%d", engine,
             (long long)M, (long long)N, (long long)K, ta, tb, acc);
    ok(lt_matmul(&c, &a, &bm, ta, tb, 0.5f, acc), what, "cpu");
    expect(&c, want, 0, what, "cpu");
    free(av);
    free(bv);
    free(cv);
    free(want);
    lt_tensor_free(&a);
    lt_tensor_free(&bm);
    lt_tensor_free(&c);
}

static void test_gemm_engines(void **state) {
    (void)state;
    lt_device *d = device("cpu");
    struct {
        const char *gemm, *kernel;
    } engines[] = {{"blas", NULL}, {"own", NULL}, {"own", "avx2"}, {"own", "generic"}};
    /* M x N x K: several K blocks; several A panels; several B blocks; the unpacked
     * few-rows path, threaded and not; a single element; K = 0 (C = beta C). */
    const int64_t shapes[][3] = {{67, 45, 401}, {1550, 20, 10}, {13, 530, 5}, {2, 700, 300},
                                 {4, 300, 9},   {1, 1, 1},      {5, 3, 0}};
    const int n_shapes = (int)(sizeof shapes / sizeof shapes[0]);
    for (size_t e = 0; e < sizeof engines / sizeof engines[0]; e++) {
        setenv("LORETTA_CPU_GEMM", engines[e].gemm, 1);
        if (engines[e].kernel) setenv("LORETTA_CPU_GEMM_KERNEL", engines[e].kernel, 1);
        else unsetenv("LORETTA_CPU_GEMM_KERNEL");
        char name[64];
        snprintf(name, sizeof name, "%s/%s", engines[e].gemm,
                 engines[e].kernel ? engines[e].kernel : "auto");
        for (int s = 0; s < n_shapes; s++)
            for (int t = 0; t < 4; t++)
                gemm_case(d, shapes[s][0], shapes[s][1], shapes[s][2], t & 1, t >> 1, s % 2,
                          name);
    }
    unsetenv("LORETTA_CPU_GEMM");
    unsetenv("LORETTA_CPU_GEMM_KERNEL");
}

/* ---------------------------------------------------------------- embeddings ---- */

static void test_embed(void **state) {
    (void)state;
    /* table row v = [10v, 10v+1, 10v+2] */
    const double table[12] = {0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32};
    for (int b = 0; b < N_BACKENDS; b++) {
        const char *be = backends[b];
        lt_device *d = device(be);
        int64_t s43[2] = {4, 3}, s3[1] = {3}, s33[2] = {3, 3};
        const double tokv[3] = {2, 0, 2};
        lt_tensor tab = make_f32(d, 2, s43, table), tok = make(d, LT_I32, 1, s3, tokv);
        lt_tensor out = make_f32(d, 2, s33, NULL);
        ok(lt_fill(&out, NAN), "fill", be);
        ok(lt_embed_forward(&out, &tok, &tab, 0), "embed_fwd", be);
        const double want[9] = {20, 21, 22, 0, 1, 2, 20, 21, 22};
        expect(&out, want, 0, "embed_fwd", be);
        ok(lt_embed_forward(&out, &tok, &tab, 1), "embed_fwd accumulate", be);
        double want2[9];
        for (int i = 0; i < 9; i++) want2[i] = 2 * want[i];
        expect(&out, want2, 0, "embed_fwd accumulate", be);
        ok(lt_fill(&out, 1.0), "fill", be);
        ok(lt_pos_embed_forward(&out, &tok, &tab), "pos_embed_fwd", be);
        for (int i = 0; i < 9; i++) want2[i] = want[i] + 1;
        expect(&out, want2, 0, "pos_embed_fwd", be);

        /* dtable[2] += rows 0 and 2 of dout, dtable[0] += row 1; rows 1 and 3 untouched. */
        const double dout_v[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        lt_tensor dout = make_f32(d, 2, s33, dout_v), dtab = make_f32(d, 2, s43, NULL);
        ok(lt_fill(&dtab, 0.5), "fill", be);
        ok(lt_embed_backward(&dtab, &tok, &dout), "embed_bwd", be);
        const double wantd[12] = {4.5, 5.5, 6.5, 0.5, 0.5, 0.5, 8.5, 10.5, 12.5, 0.5, 0.5, 0.5};
        expect(&dtab, wantd, 0, "embed_bwd", be);

        /* Out-of-range ids fail with RANGE, name the position, and write nothing. */
        int64_t s18[1] = {18}, s256[2] = {256, 2}, s182[2] = {18, 2};
        double ids[18] = {0};
        ids[17] = 300;
        lt_tensor big = make_f32(d, 2, s256, NULL), ids_t = make(d, LT_I32, 1, s18, ids);
        lt_tensor o18 = make_f32(d, 2, s182, NULL);
        ok(lt_fill(&o18, 3.0), "fill", be);
        assert_int_equal(lt_embed_forward(&o18, &ids_t, &big, 0), LT_ERR_RANGE);
        assert_string_equal(lt_last_error(), "embed_fwd: tokens[17] = 300 is outside the table of 256 rows");
        double threes[36];
        for (int i = 0; i < 36; i++) threes[i] = 3.0;
        expect(&o18, threes, 0, "embed_fwd after a failed call", be);
        const double neg[3] = {0, -1, 1};
        lt_tensor negt = make(d, LT_I32, 1, s3, neg);
        assert_int_equal(lt_pos_embed_forward(&out, &negt, &tab), LT_ERR_RANGE);
        assert_string_equal(lt_last_error(), "pos_embed_fwd: pos[1] = -1 is outside the table of 4 rows");
        assert_int_equal(lt_embed_backward(&dtab, &negt, &dout), LT_ERR_RANGE);
        assert_non_null(strstr(lt_last_error(), "embed_bwd: tokens[1] = -1"));
        lt_tensor_free(&tab);
        lt_tensor_free(&tok);
        lt_tensor_free(&out);
        lt_tensor_free(&dout);
        lt_tensor_free(&dtab);
        lt_tensor_free(&big);
        lt_tensor_free(&ids_t);
        lt_tensor_free(&o18);
        lt_tensor_free(&negt);
    }
}

/* embed_bwd must give the same bits every run and for every thread count, even with many
 * repeated tokens whose float sums depend on order. */
static void test_embed_bwd_deterministic(void **state) {
    (void)state;
    lt_device *d = device("cpu");
    const int64_t N = quick() ? 512 : 2048, V = 7, D = 200;
    double *ids = malloc((size_t)N * sizeof *ids), *dv = malloc((size_t)(N * D) * sizeof *dv);
    double *r1 = malloc((size_t)(V * D) * sizeof *r1), *r2 = malloc((size_t)(V * D) * sizeof *r2);
    assert_true(ids && dv && r1 && r2);
    uint32_t x = 12345;
    for (int64_t i = 0; i < N; i++) ids[i] = (double)(i * 3 % V);
    for (int64_t i = 0; i < N * D; i++) {
        x = x * 1664525u + 1013904223u;
        dv[i] = (double)(x >> 8) / 16777216.0 - 0.5 + 1e-3 * (double)(i % 17);
    }
    int64_t sN[1] = {N}, sND[2] = {N, D}, sVD[2] = {V, D};
    lt_tensor tok = make(d, LT_I32, 1, sN, ids), dout = make_f32(d, 2, sND, dv),
              dtab = make_f32(d, 2, sVD, NULL);
    const int threads[2] = {2, 1};
    for (int run = 0; run < 2; run++) {
        lt_device_set_threads(d, threads[run]);
        ok(lt_fill(&dtab, 0.0), "fill", "cpu");
        ok(lt_embed_backward(&dtab, &tok, &dout), "embed_bwd", "cpu");
        get(&dtab, run ? r2 : r1);
    }
    lt_device_set_threads(d, 0);
    assert_memory_equal(r1, r2, (size_t)(V * D) * sizeof *r1);
    free(ids);
    free(dv);
    free(r1);
    free(r2);
    lt_tensor_free(&tok);
    lt_tensor_free(&dout);
    lt_tensor_free(&dtab);
}

/* ---------------------------------------------------------------- rmsnorm ---- */

static void test_rmsnorm(void **state) {
    (void)state;
    /* x = [[3,4],[1,-1]], w = [2,0.5], eps = 0: rstd = [1/sqrt(12.5), 1]. Backward with
     * dout = [[1,2],[-1,0.5]]; dx, dw from PyTorch autograd (float64). */
    const double xv[4] = {3, 4, 1, -1}, wv[2] = {2, 0.5}, dv[4] = {1, 2, -1, 0.5};
    const double want_out[4] = {1.697056274847714, 0.565685424949238, 2.0, -0.5};
    const double want_rstd[2] = {0.282842712474619, 1.0};
    const double want_dx[4] = {0.22627416997969518, -0.16970562748477142, -0.875, -0.875};
    const double want_dw[2] = {-0.15147186257614298, 1.762741699796952};
    for (int b = 0; b < N_BACKENDS + 1; b++) { /* cpu f32, ref f32, ref f64 */
        const char *be = b < N_BACKENDS ? backends[b] : "ref";
        const lt_dtype dt = b < N_BACKENDS ? LT_F32 : LT_F64;
        const double tol = dt == LT_F64 ? 1e-14 : 1e-6;
        lt_device *d = device(be);
        int64_t s22[2] = {2, 2}, s2[1] = {2};
        lt_tensor x = make(d, dt, 2, s22, xv), w = make(d, dt, 1, s2, wv), out = make(d, dt, 2, s22, NULL),
                  rstd = make(d, dt, 1, s2, NULL), dout = make(d, dt, 2, s22, dv),
                  dx = make(d, dt, 2, s22, NULL), dw = make(d, dt, 1, s2, NULL);
        ok(lt_rmsnorm_forward(&out, &rstd, &x, &w, 0.0f), "rmsnorm_fwd", be);
        expect(&out, want_out, tol, "rmsnorm_fwd out", be);
        expect(&rstd, want_rstd, tol, "rmsnorm_fwd rstd", be);
        ok(lt_fill(&dx, NAN), "fill", be);
        ok(lt_fill(&dw, 1.0), "fill", be);
        ok(lt_rmsnorm_backward(&dx, &dw, &dout, &x, &w, &rstd, 0), "rmsnorm_bwd", be);
        expect(&dx, want_dx, tol, "rmsnorm_bwd dx", be);
        const double dw1[2] = {1 + want_dw[0], 1 + want_dw[1]};
        expect(&dw, dw1, tol, "rmsnorm_bwd dw (+= onto 1)", be);
        ok(lt_rmsnorm_backward(&dx, &dw, &dout, &x, &w, &rstd, 1), "rmsnorm_bwd acc", be);
        double dx2[4];
        for (int i = 0; i < 4; i++) dx2[i] = 2 * want_dx[i];
        expect(&dx, dx2, tol, "rmsnorm_bwd dx accumulated", be);
        /* In place: out is x. */
        ok(lt_rmsnorm_forward(&x, &rstd, &x, &w, 0.0f), "rmsnorm_fwd in place", be);
        expect(&x, want_out, tol, "rmsnorm_fwd in place", be);
        lt_tensor_free(&x);
        lt_tensor_free(&w);
        lt_tensor_free(&out);
        lt_tensor_free(&rstd);
        lt_tensor_free(&dout);
        lt_tensor_free(&dx);
        lt_tensor_free(&dw);
    }
}

/* ---------------------------------------------------------------- element-wise ---- */

static void test_elementwise(void **state) {
    (void)state;
    /* GELU (tanh form) and its derivative at these points, from PyTorch float64. */
    const double xv[5] = {1.0, 0.0, -1.0, 2.0, -3.0};
    const double gelu[5] = {0.8411919906082768, 0.0, -0.15880800939172324, 1.954597694087775,
                            -0.0036373920817729943};
    const double dgelu[5] = {1.0829640838457826, 0.5, -0.08296408384578252, 1.0860992566236183,
                             -0.011584166630969648};
    for (int b = 0; b < N_BACKENDS; b++) {
        const char *be = backends[b];
        lt_device *d = device(be);
        int64_t s5[1] = {5};
        const double dout_v[5] = {1, 2, 1, -1, 1};
        lt_tensor x = make_f32(d, 1, s5, xv), y = make_f32(d, 1, s5, NULL),
                  dout = make_f32(d, 1, s5, dout_v), dx = make_f32(d, 1, s5, NULL);
        ok(lt_gelu_forward(&y, &x), "gelu_fwd", be);
        expect(&y, gelu, 1e-6, "gelu_fwd", be);
        ok(lt_gelu_backward(&dx, &dout, &x), "gelu_bwd", be);
        double want_dx[5];
        for (int i = 0; i < 5; i++) want_dx[i] = dout_v[i] * dgelu[i];
        expect(&dx, want_dx, 1e-6, "gelu_bwd", be);
        ok(lt_gelu_forward(&x, &x), "gelu_fwd in place", be);
        expect(&x, gelu, 1e-6, "gelu_fwd in place", be);

        int64_t s3[1] = {3};
        const double av[3] = {1, 2, 3}, bv[3] = {10, 20, 30}, ones[3] = {1, 1, 1}, xs[3] = {2, 4, 6};
        lt_tensor a = make_f32(d, 1, s3, av), bb = make_f32(d, 1, s3, bv), o = make_f32(d, 1, s3, NULL);
        ok(lt_add(&o, &a, &bb), "add", be);
        const double sum[3] = {11, 22, 33};
        expect(&o, sum, 0, "add", be);
        ok(lt_add(&a, &a, &bb), "add in place", be);
        expect(&a, sum, 0, "add in place", be);
        ok(lt_scale(&o, &o, -2.0f), "scale in place", be);
        const double sc[3] = {-22, -44, -66};
        expect(&o, sc, 0, "scale", be);
        lt_tensor yv = make_f32(d, 1, s3, ones), xx = make_f32(d, 1, s3, xs);
        ok(lt_axpy(&yv, 0.5f, &xx), "axpy", be);
        const double ax[3] = {2, 3, 4};
        expect(&yv, ax, 0, "axpy", be);
        lt_tensor_free(&x);
        lt_tensor_free(&y);
        lt_tensor_free(&dout);
        lt_tensor_free(&dx);
        lt_tensor_free(&a);
        lt_tensor_free(&bb);
        lt_tensor_free(&o);
        lt_tensor_free(&yv);
        lt_tensor_free(&xx);
    }
    /* The reference backend takes other float dtypes: 1.5 + 2.25 is exact in bf16. */
    lt_device *r = device("ref");
    int64_t s1[1] = {1};
    const double p[1] = {1.5}, q[1] = {2.25}, pq[1] = {3.75};
    lt_tensor p16 = make(r, LT_BF16, 1, s1, p), q16 = make(r, LT_BF16, 1, s1, q),
              o16 = make(r, LT_BF16, 1, s1, NULL);
    ok(lt_add(&o16, &p16, &q16), "add bf16", "ref");
    expect(&o16, pq, 0, "add bf16", "ref");
    lt_tensor_free(&p16);
    lt_tensor_free(&q16);
    lt_tensor_free(&o16);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill),          cmocka_unit_test(test_copy_strided),
        cmocka_unit_test(test_cast),          cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_gemm_engines),  cmocka_unit_test(test_embed),
        cmocka_unit_test(test_embed_bwd_deterministic), cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_elementwise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
