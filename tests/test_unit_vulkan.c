/* tests/test_unit_vulkan.c - the vulkan backend on small shapes.
 *
 * Every op is compared with the "ref" device (the plain-loop oracle) and, where a value
 * can be worked out by hand, checked exactly: bit patterns of casts, integer GEMMs,
 * embedding sums, the sampling rule with equal weights. Also: batches longer than one
 * command buffer, uploads ordered between queued ops, buffers freed while queued work
 * still reads them, data errors (RANGE) reported at sync, and OUT_OF_MEMORY.
 *
 * The program then re-runs itself with LORETTA_VULKAN_VALIDATION=1 and
 * LORETTA_VULKAN_FORCE_STAGING=1: every op under the Khronos validation layer (any
 * validation error fails the next sync with LT_ERR_INTERNAL) and through the staging
 * path a discrete GPU takes. Without a Vulkan device every test is skipped. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "loretta/loretta.h"
#include "loretta/rng.h"

static lt_device *vk, *ref;
static int quick;

/* Under -DLORETTA_SANITIZE=ON: Mesa's lavapipe, LLVM and the validation layer keep
 * allocations until exit that LeakSanitizer reports as leaks (they are not ours; the
 * library's own allocations stay checked). The sanitizer runtime calls this hook; in other
 * builds it is an unused function. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
    return "leak:libvulkan_lvp.so\nleak:libLLVM\nleak:libVkLayer_khronos_validation.so\n"
           "leak:libvulkan.so\nleak:libgallium\n";
}

#define NEED_VK() \
    do {          \
        if (!vk) skip(); \
    } while (0)

/* ---- helpers ---- */

static uint32_t rng_state = 12345u;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) / 8388608.0f - 1.0f;
}

static void fill_rand(float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale * frand();
}

static lt_tensor make(lt_device *d, lt_dtype t, int nd, const int64_t *shape, const void *data) {
    lt_tensor x;
    assert_int_equal(lt_tensor_alloc(d, t, nd, shape, &x), LT_OK);
    if (data) assert_int_equal(lt_tensor_upload(&x, data, lt_tensor_nbytes(&x)), LT_OK);
    return x;
}

static void get(const lt_tensor *t, void *out) {
    lt_status s = lt_tensor_download(out, t, lt_tensor_nbytes(t));
    if (s != LT_OK) fail_msg("download: %s", lt_last_error());
}

/* The same data on the vulkan and ref devices. */
typedef struct twin {
    lt_tensor v, r;
} twin;

static twin twin_make(lt_dtype t, int nd, const int64_t *shape, const void *data) {
    twin w;
    w.v = make(vk, t, nd, shape, data);
    w.r = make(ref, t, nd, shape, data);
    return w;
}

static void twin_free(twin *w) {
    lt_tensor_free(&w->v);
    lt_tensor_free(&w->r);
}

/* The ref result of an op, or a note that the oracle cannot run it yet. */
static int ref_ok(lt_status s, const char *op) {
    if (s == LT_ERR_UNSUPPORTED) {
        printf("note: ref %s unsupported, comparison skipped\n", op);
        return 0;
    }
    if (s != LT_OK) fail_msg("ref %s: %s", op, lt_last_error());
    return 1;
}

static void vk_ok(lt_status s, const char *op) {
    if (s != LT_OK) fail_msg("vulkan %s: %s (%s)", op, lt_status_name(s), lt_last_error());
}

/* |a - b| <= atol + rtol |b| elementwise (NaN only matches NaN). */
static void close_f32(const char *what, const float *a, const float *b, size_t n, float atol,
                      float rtol) {
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) && isnan(b[i])) continue;
        if (!(fabsf(a[i] - b[i]) <= atol + rtol * fabsf(b[i])))
            fail_msg("%s[%zu]: vulkan %.9g, expected %.9g", what, i, a[i], b[i]);
    }
}

static void compare_twin(const char *what, const twin *w, float atol, float rtol) {
    size_t n = (size_t)lt_tensor_numel(&w->v);
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    get(&w->v, a);
    get(&w->r, b);
    close_f32(what, a, b, n, atol, rtol);
    free(a);
    free(b);
}

/* ---- devices ---- */

static void test_device(void **state) {
    (void)state;
    NEED_VK();
    assert_string_equal(vk->info.backend_name, "vulkan");
    assert_true(strlen(vk->info.name) > 0);
    assert_true(vk->info.memory_bytes > 0);
    assert_false(vk->info.is_reference);
    assert_int_equal(lt_device_sync(vk), LT_OK);
}

/* ---- fill / copy / cast ---- */

static void test_fill(void **state) {
    (void)state;
    NEED_VK();
    int64_t s2[2] = {5, 7}, s1[1] = {13};
    lt_tensor f = make(vk, LT_F32, 2, s2, NULL);
    vk_ok(lt_fill(&f, 2.5), "fill");
    float fv[35];
    get(&f, fv);
    for (int i = 0; i < 35; i++) assert_true(fv[i] == 2.5f);
    lt_tensor_free(&f);

    lt_tensor u = make(vk, LT_U8, 1, s1, NULL);
    vk_ok(lt_fill(&u, 7.0), "fill u8");
    uint8_t uv[13];
    get(&u, uv);
    for (int i = 0; i < 13; i++) assert_int_equal(uv[i], 7);
    /* A sub-word view in the middle: the neighbours keep their bytes. */
    int64_t s3[1] = {5};
    lt_tensor mid;
    assert_int_equal(lt_tensor_view(&u, 3, LT_U8, 1, s3, &mid), LT_OK);
    vk_ok(lt_fill(&mid, 200.0), "fill u8 view");
    get(&u, uv);
    for (int i = 0; i < 13; i++) assert_int_equal(uv[i], i >= 3 && i < 8 ? 200 : 7);
    lt_tensor_free(&u);

    lt_tensor h = make(vk, LT_BF16, 1, s1, NULL), g = make(vk, LT_F16, 1, s1, NULL);
    vk_ok(lt_fill(&h, 1.5), "fill bf16");
    vk_ok(lt_fill(&g, -0.1), "fill f16");
    uint16_t hv[13], gv[13];
    get(&h, hv);
    get(&g, gv);
    for (int i = 0; i < 13; i++) {
        assert_int_equal(hv[i], lt_f32_to_bf16(1.5f));
        assert_int_equal(gv[i], lt_f32_to_f16(-0.1f));
    }
    lt_tensor_free(&h);
    lt_tensor_free(&g);

    lt_tensor d = make(vk, LT_F64, 1, s3, NULL), n = make(vk, LT_I32, 1, s3, NULL);
    vk_ok(lt_fill(&d, 1.0 / 3.0), "fill f64");
    vk_ok(lt_fill(&n, -5.0), "fill i32");
    double dv[5];
    int32_t nv[5];
    get(&d, dv);
    get(&n, nv);
    for (int i = 0; i < 5; i++) {
        assert_true(dv[i] == 1.0 / 3.0);
        assert_int_equal(nv[i], -5);
    }
    lt_tensor_free(&d);
    lt_tensor_free(&n);
}

static void test_copy_strided(void **state) {
    (void)state;
    NEED_VK();
    /* A [3,4] tensor copied into the transpose-shaped view of a [4,3] buffer. */
    float src[12], out[12];
    for (int i = 0; i < 12; i++) src[i] = (float)i;
    int64_t s34[2] = {3, 4}, s43[2] = {4, 3};
    lt_tensor a = make(vk, LT_F32, 2, s34, src), b = make(vk, LT_F32, 2, s43, NULL);
    int64_t st[2] = {1, 3};
    lt_tensor bt;
    assert_int_equal(lt_tensor_strided(&b, 0, 2, s34, st, &bt), LT_OK);
    vk_ok(lt_copy(&bt, &a), "copy");
    get(&b, out);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) assert_true(out[j * 3 + i] == src[i * 4 + j]);
    lt_tensor_free(&a);
    lt_tensor_free(&b);

    /* 4-D: a permuted view [2,3,4,5] read with strides into a contiguous tensor. */
    float big[120], res[120];
    for (int i = 0; i < 120; i++) big[i] = (float)i * 0.5f;
    int64_t base_shape[4] = {5, 4, 3, 2}, perm_shape[4] = {2, 3, 4, 5};
    int64_t perm_stride[4] = {1, 2, 6, 24}; /* axes reversed */
    lt_tensor base = make(vk, LT_F32, 4, base_shape, big), perm, dst = make(vk, LT_F32, 4, perm_shape, NULL);
    assert_int_equal(lt_tensor_strided(&base, 0, 4, perm_shape, perm_stride, &perm), LT_OK);
    vk_ok(lt_copy(&dst, &perm), "copy 4-D");
    get(&dst, res);
    for (int a0 = 0; a0 < 2; a0++)
        for (int a1 = 0; a1 < 3; a1++)
            for (int a2 = 0; a2 < 4; a2++)
                for (int a3 = 0; a3 < 5; a3++)
                    assert_true(res[((a0 * 3 + a1) * 4 + a2) * 5 + a3] ==
                                big[a0 + 2 * a1 + 6 * a2 + 24 * a3]);
    lt_tensor_free(&base);
    lt_tensor_free(&dst);

    /* u8 into every other byte of a wider buffer: sub-word writes keep the neighbours. */
    uint8_t bytes[35], wide[70];
    for (int i = 0; i < 35; i++) bytes[i] = (uint8_t)(i * 7 + 1);
    memset(wide, 0xaa, sizeof wide);
    int64_t s57[2] = {5, 7}, s514[2] = {5, 14}, st2[2] = {14, 2};
    lt_tensor ub = make(vk, LT_U8, 2, s57, bytes), uw = make(vk, LT_U8, 2, s514, wide), uv;
    assert_int_equal(lt_tensor_strided(&uw, 1, 2, s57, st2, &uv), LT_OK);
    vk_ok(lt_copy(&uv, &ub), "copy u8");
    get(&uw, wide);
    for (int r = 0; r < 5; r++)
        for (int c = 0; c < 14; c++)
            assert_int_equal(wide[r * 14 + c], c % 2 ? bytes[r * 7 + c / 2] : 0xaa);
    lt_tensor_free(&ub);
    lt_tensor_free(&uw);

    /* f16 at an odd element offset (2 bytes into a word). */
    uint16_t hs[6] = {1, 2, 3, 4, 5, 6}, hd[8] = {0};
    int64_t s6[1] = {6}, s8[1] = {8};
    lt_tensor hsrc = make(vk, LT_F16, 1, s6, hs), hdst = make(vk, LT_F16, 1, s8, hd), hview;
    assert_int_equal(lt_tensor_view(&hdst, 2, LT_F16, 1, s6, &hview), LT_OK);
    vk_ok(lt_copy(&hview, &hsrc), "copy f16");
    get(&hdst, hd);
    for (int i = 0; i < 8; i++) assert_int_equal(hd[i], i >= 1 && i <= 6 ? hs[i - 1] : 0);
    lt_tensor_free(&hsrc);
    lt_tensor_free(&hdst);
}

static void test_cast_bits(void **state) {
    (void)state;
    NEED_VK();
    float f[] = {0.0f, -0.0f, 1.0f, -2.5f, 3.14159265f, 65504.0f, 65520.0f, 1e6f, 1e-8f,
                 5.9604645e-8f, 2.9802322e-8f, 6.1e-5f, 1e-40f, 3.4028235e38f, INFINITY,
                 -INFINITY, NAN, 1.00390625f, 1.0048828f, -7.7e-6f};
    enum { N = sizeof f / sizeof f[0] };
    int64_t sn[1] = {N};
    lt_tensor src = make(vk, LT_F32, 1, sn, f);
    lt_tensor bf = make(vk, LT_BF16, 1, sn, NULL), hf = make(vk, LT_F16, 1, sn, NULL);
    lt_tensor df = make(vk, LT_F64, 1, sn, NULL), back = make(vk, LT_F32, 1, sn, NULL);
    vk_ok(lt_cast(&bf, &src), "cast bf16");
    vk_ok(lt_cast(&hf, &src), "cast f16");
    vk_ok(lt_cast(&df, &src), "cast f64");
    uint16_t b16[N], h16[N];
    double d64[N];
    get(&bf, b16);
    get(&hf, h16);
    get(&df, d64);
    for (int i = 0; i < N; i++) {
        if (b16[i] != lt_f32_to_bf16(f[i])) fail_msg("bf16 of %g: %04x vs %04x", f[i], b16[i], lt_f32_to_bf16(f[i]));
        if (h16[i] != lt_f32_to_f16(f[i])) fail_msg("f16 of %g: %04x vs %04x", f[i], h16[i], lt_f32_to_f16(f[i]));
        if (!(d64[i] == (double)f[i] || (isnan(d64[i]) && isnan(f[i])))) fail_msg("f64 of %g", f[i]);
        if (f[i] == 0.0f) assert_int_equal(signbit(d64[i]) != 0, signbit(f[i]) != 0);
    }
    vk_ok(lt_cast(&back, &hf), "cast f16 -> f32");
    float fb[N];
    get(&back, fb);
    for (int i = 0; i < N; i++) {
        float want = lt_f16_to_f32(h16[i]);
        assert_true(memcmp(&fb[i], &want, 4) == 0 || (isnan(fb[i]) && isnan(want)));
    }

    /* f64 -> f32 rounding, including results that become f32 subnormals or overflow. */
    double dd[] = {1.0 / 3.0, -2.0 / 3.0, 1e-300, 1e300, 1e-42, 3e-45, 7.006e-46, 1.4e-45,
                   3.4028235677973366e38, 3.4028236e38, 0.1, 1.0000000596046448, -0.0};
    enum { M = sizeof dd / sizeof dd[0] };
    int64_t sm[1] = {M};
    lt_tensor dsrc = make(vk, LT_F64, 1, sm, dd), fdst = make(vk, LT_F32, 1, sm, NULL);
    vk_ok(lt_cast(&fdst, &dsrc), "cast f64 -> f32");
    float fr[M];
    get(&fdst, fr);
    for (int i = 0; i < M; i++) {
        float want = (float)dd[i];
        if (memcmp(&fr[i], &want, 4) != 0) fail_msg("f32 of %.17g: %.9g vs %.9g", dd[i], fr[i], want);
    }
    lt_tensor *all[] = {&src, &bf, &hf, &df, &back, &dsrc, &fdst};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) lt_tensor_free(all[i]);
}

/* ---- matmul ---- */

static void test_matmul_exact(void **state) {
    (void)state;
    NEED_VK();
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {7, 8, 9, 10, 11, 12}, c[4];
    int64_t s23[2] = {2, 3}, s32[2] = {3, 2}, s22[2] = {2, 2};
    lt_tensor A = make(vk, LT_F32, 2, s23, a), B = make(vk, LT_F32, 2, s32, b);
    lt_tensor C = make(vk, LT_F32, 2, s22, NULL);
    vk_ok(lt_fill(&C, NAN), "fill");
    vk_ok(lt_matmul(&C, &A, &B, 0, 0, 1.0f, 0), "matmul"); /* NaN in C is never read */
    get(&C, c);
    assert_true(c[0] == 58 && c[1] == 64 && c[2] == 139 && c[3] == 154);
    vk_ok(lt_matmul(&C, &A, &B, 0, 0, 0.5f, 1), "matmul acc");
    get(&C, c);
    assert_true(c[0] == 87 && c[1] == 96 && c[2] == 208.5f && c[3] == 231);
    lt_tensor_free(&A);
    lt_tensor_free(&B);
    lt_tensor_free(&C);
}

static void matmul_case(int64_t batch, int64_t M, int64_t N, int64_t K, int ta, int tb, int bcast_b,
                        int acc, float alpha) {
    int64_t as[3] = {batch, ta ? K : M, ta ? M : K};
    int64_t bs[3] = {bcast_b ? 1 : batch, tb ? N : K, tb ? K : N};
    int64_t cs[3] = {batch, M, N};
    size_t na = (size_t)(as[0] * as[1] * as[2]), nb = (size_t)(bs[0] * bs[1] * bs[2]);
    size_t nc = (size_t)(batch * M * N);
    float *a = malloc(na * 4), *b = malloc(nb * 4), *c = malloc(nc * 4);
    fill_rand(a, na, 1.0f);
    fill_rand(b, nb, 1.0f);
    fill_rand(c, nc, 1.0f);
    twin A = twin_make(LT_F32, 3, as, a), B = twin_make(LT_F32, 3, bs, b), C = twin_make(LT_F32, 3, cs, c);
    vk_ok(lt_matmul(&C.v, &A.v, &B.v, ta, tb, alpha, acc), "matmul");
    if (ref_ok(lt_matmul(&C.r, &A.r, &B.r, ta, tb, alpha, acc), "matmul"))
        compare_twin("matmul", &C, 1e-4f, 1e-4f);
    twin_free(&A);
    twin_free(&B);
    twin_free(&C);
    free(a);
    free(b);
    free(c);
}

static void test_matmul_vs_ref(void **state) {
    (void)state;
    NEED_VK();
    matmul_case(1, 70, 65, 33, 0, 0, 0, 0, 1.0f);
    matmul_case(2, 17, 9, 40, 1, 0, 0, 1, 0.5f);
    matmul_case(3, 8, 31, 5, 0, 1, 1, 0, -2.0f);
    matmul_case(2, 65, 3, 70, 1, 1, 1, 1, 1.0f);
    if (!quick) matmul_case(1, 130, 129, 100, 0, 1, 0, 0, 1.0f);

    /* Row-stride views: A and C are the left parts of wider buffers. */
    float a[5 * 12], b[7 * 4], c[5 * 10];
    fill_rand(a, 60, 1.0f);
    fill_rand(b, 28, 1.0f);
    memset(c, 0, sizeof c);
    int64_t wa[2] = {5, 12}, sb[2] = {7, 4}, wc[2] = {5, 10};
    twin A = twin_make(LT_F32, 2, wa, a), B = twin_make(LT_F32, 2, sb, b), C = twin_make(LT_F32, 2, wc, c);
    int64_t va[2] = {5, 7}, vas[2] = {12, 1}, vc[2] = {5, 4}, vcs[2] = {10, 1};
    lt_tensor av, cv, ar, cr;
    assert_int_equal(lt_tensor_strided(&A.v, 4, 2, va, vas, &av), LT_OK);
    assert_int_equal(lt_tensor_strided(&C.v, 8, 2, vc, vcs, &cv), LT_OK);
    assert_int_equal(lt_tensor_strided(&A.r, 4, 2, va, vas, &ar), LT_OK);
    assert_int_equal(lt_tensor_strided(&C.r, 8, 2, vc, vcs, &cr), LT_OK);
    vk_ok(lt_matmul(&cv, &av, &B.v, 0, 0, 1.0f, 0), "matmul views");
    if (ref_ok(lt_matmul(&cr, &ar, &B.r, 0, 0, 1.0f, 0), "matmul"))
        compare_twin("matmul views (whole C, untouched parts included)", &C, 1e-5f, 1e-5f);
    twin_free(&A);
    twin_free(&B);
    twin_free(&C);
}

/* ---- embeddings ---- */

static void test_embed(void **state) {
    (void)state;
    NEED_VK();
    float table[4 * 3] = {1, 2, 3, 10, 20, 30, 100, 200, 300, 1000, 2000, 3000};
    int32_t tok[5] = {2, 0, 2, 3, 2};
    int64_t st[2] = {4, 3}, sn[1] = {5}, so[2] = {5, 3};
    twin T = twin_make(LT_F32, 2, st, table), I = twin_make(LT_I32, 1, sn, tok);
    twin O = twin_make(LT_F32, 2, so, NULL);
    vk_ok(lt_embed_forward(&O.v, &I.v, &T.v, 0), "embed_fwd");
    vk_ok(lt_embed_forward(&O.v, &I.v, &T.v, 1), "embed_fwd acc");
    float o[15];
    get(&O.v, o);
    for (int n = 0; n < 5; n++)
        for (int d = 0; d < 3; d++) assert_true(o[n * 3 + d] == 2 * table[tok[n] * 3 + d]);
    vk_ok(lt_pos_embed_forward(&O.v, &I.v, &T.v), "pos_embed_fwd");
    get(&O.v, o);
    for (int n = 0; n < 5; n++)
        for (int d = 0; d < 3; d++) assert_true(o[n * 3 + d] == 3 * table[tok[n] * 3 + d]);

    /* Backward: rows of repeated tokens sum their gradients (small integers: exact). */
    float dout[15];
    for (int i = 0; i < 15; i++) dout[i] = (float)(i + 1);
    twin G = twin_make(LT_F32, 2, so, dout), DT = twin_make(LT_F32, 2, st, NULL);
    vk_ok(lt_fill(&DT.v, 0.5), "fill");
    vk_ok(lt_embed_backward(&DT.v, &I.v, &G.v), "embed_bwd");
    float dt[12];
    get(&DT.v, dt);
    for (int v = 0; v < 4; v++)
        for (int d = 0; d < 3; d++) {
            float want = 0.5f;
            for (int n = 0; n < 5; n++)
                if (tok[n] == v) want += dout[n * 3 + d];
            assert_true(dt[v * 3 + d] == want);
        }
    if (ref_ok(lt_fill(&DT.r, 0.5), "fill") && ref_ok(lt_embed_backward(&DT.r, &I.r, &G.r), "embed_bwd"))
        compare_twin("embed_bwd", &DT, 0, 0);

    /* A token out of range is reported at the next sync, naming its position. */
    int32_t bad[5] = {0, 1, 7, 1, -1};
    assert_int_equal(lt_tensor_upload(&I.v, bad, sizeof bad), LT_OK);
    vk_ok(lt_embed_forward(&O.v, &I.v, &T.v, 0), "embed_fwd (queued)");
    assert_int_equal(lt_device_sync(vk), LT_ERR_RANGE);
    assert_non_null(strstr(lt_last_error(), "embed_fwd"));
    assert_non_null(strstr(lt_last_error(), "position 2"));
    assert_int_equal(lt_device_sync(vk), LT_OK); /* reported once */
    vk_ok(lt_embed_backward(&DT.v, &I.v, &G.v), "embed_bwd (queued)");
    float tmp[12];
    assert_int_equal(lt_tensor_download(tmp, &DT.v, sizeof tmp), LT_ERR_RANGE);
    twin_free(&T);
    twin_free(&I);
    twin_free(&O);
    twin_free(&G);
    twin_free(&DT);
}

/* ---- rmsnorm, elementwise, cross-entropy ---- */

static void test_rmsnorm(void **state) {
    (void)state;
    NEED_VK();
    const int64_t N = 6, D = 300;
    float *x = malloc((size_t)(N * D) * 4), *g = malloc((size_t)(N * D) * 4), w[300];
    fill_rand(x, (size_t)(N * D), 2.0f);
    fill_rand(g, (size_t)(N * D), 1.0f);
    fill_rand(w, 300, 1.0f);
    x[0] = 3.0f; /* row 0 gets a known rstd below */
    for (int d = 1; d < D; d++) x[d] = d == 1 ? 4.0f : 0.0f;
    int64_t sx[2] = {N, D}, sw[1] = {D}, sr[1] = {N};
    twin X = twin_make(LT_F32, 2, sx, x), W = twin_make(LT_F32, 1, sw, w), G = twin_make(LT_F32, 2, sx, g);
    twin O = twin_make(LT_F32, 2, sx, NULL), R = twin_make(LT_F32, 1, sr, NULL);
    twin DX = twin_make(LT_F32, 2, sx, g), DW = twin_make(LT_F32, 1, sw, w);
    vk_ok(lt_rmsnorm_forward(&O.v, &R.v, &X.v, &W.v, 1e-5f), "rmsnorm_fwd");
    float r[6];
    get(&R.v, r);
    assert_true(fabsf(r[0] - 1.0f / sqrtf(25.0f / 300.0f + 1e-5f)) < 1e-5f);
    vk_ok(lt_rmsnorm_backward(&DX.v, &DW.v, &G.v, &X.v, &W.v, &R.v, 1), "rmsnorm_bwd");
    if (ref_ok(lt_rmsnorm_forward(&O.r, &R.r, &X.r, &W.r, 1e-5f), "rmsnorm_fwd")) {
        compare_twin("rmsnorm out", &O, 1e-5f, 1e-4f);
        compare_twin("rmsnorm rstd", &R, 1e-6f, 1e-5f);
        if (ref_ok(lt_rmsnorm_backward(&DX.r, &DW.r, &G.r, &X.r, &W.r, &R.r, 1), "rmsnorm_bwd")) {
            compare_twin("rmsnorm dx", &DX, 1e-4f, 1e-4f);
            compare_twin("rmsnorm dw", &DW, 1e-4f, 1e-4f);
        }
    }
    twin *all[] = {&X, &W, &G, &O, &R, &DX, &DW};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) twin_free(all[i]);
    free(x);
    free(g);
}

static double gelu_d(double x) {
    return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

static void test_elementwise(void **state) {
    (void)state;
    NEED_VK();
    enum { N = 1000 };
    float x[N], y[N], out[N], tmp[N];
    fill_rand(x, N, 6.0f);
    fill_rand(y, N, 1.0f);
    x[0] = 30.0f; /* large |x|: tanh saturates without overflow */
    x[1] = -30.0f;
    x[2] = 0.0f;
    int64_t sn[1] = {N};
    twin X = twin_make(LT_F32, 1, sn, x), Y = twin_make(LT_F32, 1, sn, y), O = twin_make(LT_F32, 1, sn, NULL);
    vk_ok(lt_gelu_forward(&O.v, &X.v), "gelu_fwd");
    get(&O.v, out);
    for (int i = 0; i < N; i++) {
        double want = gelu_d(x[i]);
        if (fabs(out[i] - want) > 1e-6 + 1e-5 * fabs(want)) fail_msg("gelu(%g) = %g, want %g", x[i], out[i], want);
    }
    if (ref_ok(lt_gelu_forward(&O.r, &X.r), "gelu_fwd")) compare_twin("gelu_fwd", &O, 1e-6f, 1e-5f);
    vk_ok(lt_gelu_backward(&O.v, &Y.v, &X.v), "gelu_bwd");
    get(&O.v, out);
    for (int i = 0; i < N; i++) {
        double h = 1e-3 * (fabs(x[i]) + 1.0);
        double want = y[i] * (gelu_d(x[i] + h) - gelu_d(x[i] - h)) / (2 * h);
        if (fabs(out[i] - want) > 1e-4) fail_msg("gelu'(%g) * %g = %g, want %g", x[i], y[i], out[i], want);
    }
    if (ref_ok(lt_gelu_backward(&O.r, &Y.r, &X.r), "gelu_bwd")) compare_twin("gelu_bwd", &O, 1e-6f, 1e-5f);

    vk_ok(lt_add(&O.v, &X.v, &Y.v), "add");
    get(&O.v, out);
    for (int i = 0; i < N; i++) assert_true(out[i] == x[i] + y[i]);
    vk_ok(lt_axpy(&O.v, -1.0f, &Y.v), "axpy"); /* (x + y) - y, the f32 way */
    get(&O.v, out);
    for (int i = 0; i < N; i++) assert_true(out[i] == (x[i] + y[i]) + -1.0f * y[i]);
    vk_ok(lt_scale(&X.v, &X.v, 0.25f), "scale in place");
    get(&X.v, tmp);
    for (int i = 0; i < N; i++) assert_true(tmp[i] == 0.25f * x[i]);
    twin_free(&X);
    twin_free(&Y);
    twin_free(&O);
}

static void test_cross_entropy(void **state) {
    (void)state;
    NEED_VK();
    const int64_t N = 5, V = 300;
    float *l = malloc((size_t)(N * V) * 4);
    fill_rand(l, (size_t)(N * V), 4.0f);
    for (int j = 0; j < V; j++) l[j] = 1.5f; /* row 0: uniform, loss = log V */
    int32_t t[5] = {3, 0, 299, 17, 250};
    float wt[5] = {1.0f, 0.5f, 0.0f, 2.0f, 1.0f};
    int64_t sl[2] = {N, V}, sn[1] = {N};
    twin L = twin_make(LT_F32, 2, sl, l), T = twin_make(LT_I32, 1, sn, t);
    twin W = twin_make(LT_F32, 1, sn, wt), LS = twin_make(LT_F32, 1, sn, NULL), DL = twin_make(LT_F32, 2, sl, NULL);
    vk_ok(lt_cross_entropy(&LS.v, &DL.v, &L.v, &T.v, &W.v, 0.5f), "cross_entropy");
    float ls[5];
    get(&LS.v, ls);
    assert_true(fabsf(ls[0] - logf(300.0f)) < 1e-5f);
    assert_true(ls[2] == 0.0f);
    if (ref_ok(lt_cross_entropy(&LS.r, &DL.r, &L.r, &T.r, &W.r, 0.5f), "cross_entropy")) {
        compare_twin("ce losses", &LS, 1e-5f, 1e-5f);
        compare_twin("ce dlogits", &DL, 1e-7f, 1e-4f);
        /* In place: dlogits overwrite the logits. */
        vk_ok(lt_cross_entropy(&LS.v, &L.v, &L.v, &T.v, NULL, 1.0f), "cross_entropy in place");
        assert_int_equal(lt_cross_entropy(&LS.r, &L.r, &L.r, &T.r, NULL, 1.0f), LT_OK);
        compare_twin("ce in place", &L, 1e-7f, 1e-4f);
        compare_twin("ce losses (no weights)", &LS, 1e-5f, 1e-5f);
    }
    int32_t bad[5] = {3, 0, 999, 17, 300}; /* row 2 has weight 0: its target is not read */
    assert_int_equal(lt_tensor_upload(&T.v, bad, sizeof bad), LT_OK);
    vk_ok(lt_cross_entropy(&LS.v, NULL, &L.v, &T.v, &W.v, 1.0f), "cross_entropy (queued)");
    assert_int_equal(lt_device_sync(vk), LT_ERR_RANGE);
    assert_non_null(strstr(lt_last_error(), "row 4"));
    twin *all[] = {&L, &T, &W, &LS, &DL};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) twin_free(all[i]);
    free(l);
}

/* ---- attention ---- */

/* q, k, v as thirds of one fused [B, T, 3*H*Dh] buffer, as the trainer lays them out. */
typedef struct fused {
    twin buf;
    lt_tensor qv, kv, vv, qr, kr, vr;
} fused;

static void fused_views(lt_tensor *buf, int64_t B, int64_t T, int64_t H, int64_t Dh, lt_tensor *q,
                        lt_tensor *k, lt_tensor *v) {
    int64_t shape[4] = {B, T, H, Dh}, stride[4] = {T * 3 * H * Dh, 3 * H * Dh, Dh, 1};
    lt_tensor *out[3] = {q, k, v};
    for (int i = 0; i < 3; i++)
        assert_int_equal(lt_tensor_strided(buf, (size_t)(i * H * Dh) * 4, 4, shape, stride, out[i]), LT_OK);
}

static fused fused_make(int64_t B, int64_t T, int64_t H, int64_t Dh, float scale) {
    fused f;
    size_t n = (size_t)(B * T * 3 * H * Dh);
    float *data = malloc(n * 4);
    fill_rand(data, n, scale);
    int64_t s[3] = {B, T, 3 * H * Dh};
    f.buf = twin_make(LT_F32, 3, s, data);
    free(data);
    fused_views(&f.buf.v, B, T, H, Dh, &f.qv, &f.kv, &f.vv);
    fused_views(&f.buf.r, B, T, H, Dh, &f.qr, &f.kr, &f.vr);
    return f;
}

static void attention_case(int64_t B, int64_t T, int64_t H, int64_t Dh, int causal, const int32_t *len) {
    fused in = fused_make(B, T, H, Dh, 1.0f);
    fused grad = fused_make(B, T, H, Dh, 0.0f); /* dq, dk, dv interleaved like q, k, v */
    int64_t so[4] = {B, T, H, Dh}, sl[3] = {B, H, T}, sb[1] = {B};
    size_t n = (size_t)(B * T * H * Dh);
    float *g = malloc(n * 4);
    fill_rand(g, n, 1.0f);
    twin O = twin_make(LT_F32, 4, so, NULL), LSE = twin_make(LT_F32, 3, sl, NULL);
    twin G = twin_make(LT_F32, 4, so, g);
    twin LEN = twin_make(LT_I32, 1, sb, len);
    const lt_tensor *lv = len ? &LEN.v : NULL, *lr = len ? &LEN.r : NULL;
    float scale = 1.0f / sqrtf((float)Dh);
    vk_ok(lt_attention_forward(&O.v, &LSE.v, &in.qv, &in.kv, &in.vv, lv, causal, scale), "attn_fwd");
    vk_ok(lt_attention_backward(&grad.qv, &grad.kv, &grad.vv, &G.v, &in.qv, &in.kv, &in.vv, &O.v,
                                &LSE.v, lv, causal, scale), "attn_bwd");
    if (ref_ok(lt_attention_forward(&O.r, &LSE.r, &in.qr, &in.kr, &in.vr, lr, causal, scale), "attn_fwd")) {
        compare_twin("attn out", &O, 1e-5f, 1e-4f);
        compare_twin("attn lse", &LSE, 1e-5f, 1e-5f);
        if (ref_ok(lt_attention_backward(&grad.qr, &grad.kr, &grad.vr, &G.r, &in.qr, &in.kr, &in.vr,
                                         &O.r, &LSE.r, lr, causal, scale), "attn_bwd"))
            compare_twin("attn dq|dk|dv", &grad.buf, 1e-4f, 1e-3f);
    }
    twin_free(&in.buf);
    twin_free(&grad.buf);
    twin *all[] = {&O, &LSE, &G, &LEN};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) twin_free(all[i]);
    free(g);
}

static void test_attention(void **state) {
    (void)state;
    NEED_VK();
    int32_t len2[2] = {37, 9};
    attention_case(2, 37, 2, 16, 1, NULL);
    attention_case(2, 37, 2, 16, 0, len2);
    attention_case(1, 70, 3, 24, 1, NULL);
    int32_t len1[1] = {0}; /* every row padding */
    attention_case(1, 5, 1, 8, 1, len1);
    if (!quick) attention_case(1, 130, 2, 64, 1, NULL);
}

/* One token at a time through kv_write + attn_decode reproduces the causal forward. */
static void test_decode(void **state) {
    (void)state;
    NEED_VK();
    const int64_t B = 2, T = 21, H = 2, Dh = 32, Tmax = 24;
    fused in = fused_make(B, T, H, Dh, 1.0f);
    int64_t so[4] = {B, T, H, Dh}, sl[3] = {B, H, T}, sc[4] = {B, Tmax, H, Dh}, sb[1] = {B};
    lt_tensor O = make(vk, LT_F32, 4, so, NULL), LSE = make(vk, LT_F32, 3, sl, NULL);
    lt_tensor KC = make(vk, LT_F32, 4, sc, NULL), VC = make(vk, LT_F32, 4, sc, NULL);
    lt_tensor OD = make(vk, LT_F32, 4, so, NULL), POS = make(vk, LT_I32, 1, sb, NULL);
    lt_tensor LEN = make(vk, LT_I32, 1, sb, NULL);
    float scale = 0.17f;
    vk_ok(lt_attention_forward(&O, &LSE, &in.qv, &in.kv, &in.vv, NULL, 1, scale), "attn_fwd");
    /* Prefill 5 tokens at once, then one by one. */
    int64_t t0 = 0;
    while (t0 < T) {
        int64_t tn = t0 == 0 ? 5 : 1;
        int64_t vs[4] = {B, tn, H, Dh}, st[4] = {T * 3 * H * Dh, 3 * H * Dh, Dh, 1};
        lt_tensor q, k, v, od;
        size_t at = (size_t)(t0 * 3 * H * Dh) * 4;
        assert_int_equal(lt_tensor_strided(&in.buf.v, at, 4, vs, st, &q), LT_OK);
        assert_int_equal(lt_tensor_strided(&in.buf.v, at + (size_t)(H * Dh) * 4, 4, vs, st, &k), LT_OK);
        assert_int_equal(lt_tensor_strided(&in.buf.v, at + (size_t)(2 * H * Dh) * 4, 4, vs, st, &v), LT_OK);
        int64_t ost[4] = {T * H * Dh, H * Dh, Dh, 1};
        assert_int_equal(lt_tensor_strided(&OD, (size_t)(t0 * H * Dh) * 4, 4, vs, ost, &od), LT_OK);
        int32_t pos[2] = {(int32_t)t0, (int32_t)t0}, len[2] = {(int32_t)(t0 + tn), (int32_t)(t0 + tn)};
        assert_int_equal(lt_tensor_upload(&POS, pos, sizeof pos), LT_OK);
        assert_int_equal(lt_tensor_upload(&LEN, len, sizeof len), LT_OK);
        vk_ok(lt_kv_write(&KC, &k, &POS), "kv_write");
        vk_ok(lt_kv_write(&VC, &v, &POS), "kv_write");
        vk_ok(lt_attention_decode(&od, &q, &KC, &VC, &LEN, scale), "attn_decode");
        t0 += tn;
    }
    size_t n = (size_t)(B * T * H * Dh);
    float *a = malloc(n * 4), *b = malloc(n * 4);
    get(&O, a);
    get(&OD, b);
    close_f32("decode vs forward", b, a, n, 1e-5f, 1e-4f);
    /* The cache holds exactly the keys. */
    float *kc = malloc((size_t)(B * Tmax * H * Dh) * 4), *all = malloc((size_t)(B * T * 3 * H * Dh) * 4);
    get(&KC, kc);
    get(&in.buf.v, all);
    for (int64_t bb = 0; bb < B; bb++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t i = 0; i < H * Dh; i++)
                assert_true(kc[(bb * Tmax + t) * H * Dh + i] == all[(bb * T + t) * 3 * H * Dh + H * Dh + i]);
    /* No room: RANGE at the next sync. */
    int32_t pos[2] = {0, (int32_t)Tmax - 1};
    assert_int_equal(lt_tensor_upload(&POS, pos, sizeof pos), LT_OK);
    vk_ok(lt_kv_write(&KC, &in.kv, &POS), "kv_write (queued)");
    assert_int_equal(lt_device_sync(vk), LT_ERR_RANGE);
    assert_non_null(strstr(lt_last_error(), "kv_write"));
    free(a);
    free(b);
    free(kc);
    free(all);
    twin_free(&in.buf);
    lt_tensor *ts[] = {&O, &LSE, &KC, &VC, &OD, &POS, &LEN};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) lt_tensor_free(ts[i]);
}

/* ---- optimizer ---- */

static void test_adamw_sumsq(void **state) {
    (void)state;
    NEED_VK();
    enum { N = 10007 };
    float *p = malloc(N * 4), *g = malloc(N * 4), *m = malloc(N * 4), *v = malloc(N * 4);
    uint8_t *mask = malloc(N);
    fill_rand(p, N, 1.0f);
    fill_rand(g, N, 1.0f);
    fill_rand(m, N, 0.1f);
    for (int i = 0; i < N; i++) {
        v[i] = 0.01f * (frand() + 1.0f);
        mask[i] = (uint8_t)(i % 3 != 0);
    }
    int64_t sn[1] = {N};
    twin P = twin_make(LT_F32, 1, sn, p), G = twin_make(LT_F32, 1, sn, g), M = twin_make(LT_F32, 1, sn, m);
    twin Vt = twin_make(LT_F32, 1, sn, v), K = twin_make(LT_U8, 1, sn, mask);
    lt_adamw_params ap = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                          .weight_decay = 0.1f, .grad_scale = 0.5f, .step = 3};
    vk_ok(lt_adamw(&P.v, &M.v, &Vt.v, &G.v, &K.v, &ap), "adamw");
    float *pr = malloc(N * 4);
    get(&P.v, pr);
    for (int i = 0; i < N; i++) { /* the formula of ops.h, in double */
        double gg = (double)g[i] * ap.grad_scale;
        double mm = ap.beta1 * (double)m[i] + (1 - ap.beta1) * gg;
        double vv = ap.beta2 * (double)v[i] + (1 - ap.beta2) * gg * gg;
        double mh = mm / (1 - pow(ap.beta1, 3)), vh = vv / (1 - pow(ap.beta2, 3));
        double want = p[i] - ap.lr * (mh / (sqrt(vh) + ap.eps) + (mask[i] ? ap.weight_decay : 0) * p[i]);
        if (fabs(pr[i] - want) > 1e-6 + 1e-5 * fabs(want)) fail_msg("adamw[%d] %.9g want %.9g", i, pr[i], want);
    }
    if (ref_ok(lt_adamw(&P.r, &M.r, &Vt.r, &G.r, &K.r, &ap), "adamw")) {
        compare_twin("adamw param", &P, 1e-6f, 1e-5f);
        compare_twin("adamw m", &M, 1e-7f, 1e-5f);
        compare_twin("adamw v", &Vt, 1e-8f, 1e-5f);
    }

    /* sumsq: integers give an exact sum; repeated runs agree bit for bit. */
    for (int i = 0; i < N; i++) g[i] = (float)(i % 7) - 3.0f;
    assert_int_equal(lt_tensor_upload(&G.v, g, N * 4), LT_OK);
    int64_t s1[1] = {1};
    lt_tensor S = make(vk, LT_F32, 1, s1, NULL);
    vk_ok(lt_sumsq(&S, &G.v), "sumsq");
    float s, s2;
    get(&S, &s);
    double want = 0;
    for (int i = 0; i < N; i++) want += (double)g[i] * g[i];
    assert_true(s == (float)want);
    vk_ok(lt_sumsq(&S, &P.v), "sumsq");
    get(&S, &s);
    vk_ok(lt_sumsq(&S, &P.v), "sumsq");
    get(&S, &s2);
    assert_true(memcmp(&s, &s2, 4) == 0);
    twin S2 = twin_make(LT_F32, 1, s1, NULL);
    vk_ok(lt_sumsq(&S2.v, &P.v), "sumsq");
    if (ref_ok(lt_sumsq(&S2.r, &P.r), "sumsq")) compare_twin("sumsq", &S2, 0, 1e-5f);
    twin *all[] = {&P, &G, &M, &Vt, &K, &S2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) twin_free(all[i]);
    lt_tensor_free(&S);
    free(p);
    free(g);
    free(m);
    free(v);
    free(mask);
    free(pr);
}

/* ---- sampling ---- */

static void test_sample(void **state) {
    (void)state;
    NEED_VK();
    enum { B = 6, V = 700 };
    float *l = malloc(B * V * 4);
    int64_t sl[2] = {B, V}, sb[1] = {B};
    /* Equal logits: every weight is exactly 1, so the rule draws floor(u * n) exactly. */
    for (int i = 0; i < B * V; i++) l[i] = 0.25f;
    int32_t ids[B] = {0, 5, -3, 77, 1000000, 2}, tok[B];
    twin L = twin_make(LT_F32, 2, sl, l), I = twin_make(LT_I32, 1, sb, ids), T = twin_make(LT_I32, 1, sb, NULL);
    lt_sample_params sp = {.seed = 0x1234567890abcdefull, .step = 41, .temperature = 0.7f,
                           .top_k = 0, .range_lo = 10, .range_hi = 650};
    vk_ok(lt_sample(&T.v, &L.v, &I.v, &sp), "sample");
    get(&T.v, tok);
    for (int b = 0; b < B; b++) {
        float u = lt_rng_uniform(sp.seed, (uint64_t)(uint32_t)ids[b], sp.step);
        float r = u * 640.0f;
        int want = 649;
        float acc = 0;
        for (int j = 10; j < 650; j++) {
            acc += 1.0f;
            if (acc > r) {
                want = j;
                break;
            }
        }
        assert_int_equal(tok[b], want);
    }
    /* Greedy: argmax, lowest index on ties, NaN ranks lowest. */
    fill_rand(l, B * V, 3.0f);
    l[0 * V + 100] = 9.0f;
    l[0 * V + 50] = 9.0f;
    l[1 * V + 699] = 9.0f;
    l[2 * V + 20] = NAN;
    assert_int_equal(lt_tensor_upload(&L.v, l, B * V * 4), LT_OK);
    assert_int_equal(lt_tensor_upload(&L.r, l, B * V * 4), LT_OK);
    sp.temperature = 0.0f;
    sp.range_lo = 0;
    sp.range_hi = V;
    vk_ok(lt_sample(&T.v, &L.v, NULL, &sp), "sample greedy");
    get(&T.v, tok);
    assert_int_equal(tok[0], 50);
    assert_int_equal(tok[1], 699);
    int32_t rt[B];
    if (ref_ok(lt_sample(&T.r, &L.r, NULL, &sp), "sample")) {
        get(&T.r, rt);
        for (int b = 0; b < B; b++) assert_int_equal(tok[b], rt[b]);
    }
    /* top_k with ties at the cut (value 2.0 repeated), several temperatures and steps. */
    for (int i = 0; i < 40; i++) l[3 * V + 200 + i] = 2.0f;
    assert_int_equal(lt_tensor_upload(&L.v, l, B * V * 4), LT_OK);
    assert_int_equal(lt_tensor_upload(&L.r, l, B * V * 4), LT_OK);
    int ks[4] = {1, 7, 50, 0};
    float temps[3] = {0.3f, 1.0f, 2.5f};
    for (int ki = 0; ki < 4; ki++)
        for (int ti = 0; ti < 3; ti++) {
            sp.top_k = ks[ki];
            sp.temperature = temps[ti];
            sp.step = (uint64_t)(ki * 3 + ti);
            sp.range_lo = 3;
            sp.range_hi = 690;
            vk_ok(lt_sample(&T.v, &L.v, &I.v, &sp), "sample top_k");
            get(&T.v, tok);
            for (int b = 0; b < B; b++) assert_true(tok[b] >= 3 && tok[b] < 690);
            if (!ref_ok(lt_sample(&T.r, &L.r, &I.r, &sp), "sample")) continue;
            get(&T.r, rt);
            for (int b = 0; b < B; b++)
                if (tok[b] != rt[b])
                    fail_msg("sample row %d (top_k %d, T %g): vulkan %d, ref %d", b, sp.top_k,
                             sp.temperature, tok[b], rt[b]);
        }
    twin_free(&L);
    twin_free(&I);
    twin_free(&T);
    free(l);
}

/* ---- long loops ----
 * lavapipe (Mesa 22.3) silently stops any invocation after 65535 loop iterations in
 * total, so every kernel keeps per-invocation loops short; these shapes would exceed the
 * limit with a naive kernel (one key per iteration and a loop over the head dim, one
 * token per iteration, a serial walk over the vocabulary, ...). */

static void test_long_loops(void **state) {
    (void)state;
    NEED_VK();
    /* Decoding against a long cache; a head dim that needs the 128-wide kernels. */
    int64_t Tmax = quick ? 1100 : 2048;
    int dhs[2] = {64, 96}; /* 96 runs the 128-wide kernels, slow to build on lavapipe */
    for (int k = 0; k < (quick ? 1 : 2); k++) {
        int64_t H = 2, Dh = dhs[k];
        int64_t qs[4] = {1, 1, H, Dh}, cs[4] = {1, Tmax, H, Dh}, ls[1] = {1};
        size_t nc = (size_t)(Tmax * H * Dh);
        float *kc = malloc(nc * 4), *vc = malloc(nc * 4), q[192];
        fill_rand(kc, nc, 1.0f);
        fill_rand(vc, nc, 1.0f);
        fill_rand(q, (size_t)(H * Dh), 2.0f);
        int32_t len = (int32_t)Tmax - 3;
        twin Q = twin_make(LT_F32, 4, qs, q), K = twin_make(LT_F32, 4, cs, kc), V = twin_make(LT_F32, 4, cs, vc);
        twin L = twin_make(LT_I32, 1, ls, &len), O = twin_make(LT_F32, 4, qs, NULL);
        vk_ok(lt_attention_decode(&O.v, &Q.v, &K.v, &V.v, &L.v, 0.125f), "attn_decode");
        if (ref_ok(lt_attention_decode(&O.r, &Q.r, &K.r, &V.r, &L.r, 0.125f), "attn_decode"))
            compare_twin("long decode", &O, 1e-5f, 1e-4f);
        twin *all[] = {&Q, &K, &V, &L, &O};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) twin_free(all[i]);
        free(kc);
        free(vc);
    }
    attention_case(1, quick ? 300 : 600, 1, 64, 1, NULL);
    if (!quick) attention_case(1, 40, 2, 96, 0, NULL);

    /* A GEMM with a long inner dimension (K/16 tiles of 64x16 loads per invocation). */
    matmul_case(1, 2, 3, 70000, 1, 0, 0, 0, 1.0f);

    /* embed_bwd over more tokens than one invocation may walk: all hit row 1. */
    int64_t N = 70000;
    int32_t *tok = malloc((size_t)N * 4);
    float *ones = malloc((size_t)N * 2 * 4);
    for (int64_t i = 0; i < N; i++) {
        tok[i] = 1;
        ones[2 * i] = ones[2 * i + 1] = 1.0f;
    }
    int64_t sn[1] = {N}, sd[2] = {N, 2}, st[2] = {3, 2};
    lt_tensor T = make(vk, LT_I32, 1, sn, tok), G = make(vk, LT_F32, 2, sd, ones), DT = make(vk, LT_F32, 2, st, NULL);
    vk_ok(lt_fill(&DT, 0.0), "fill");
    vk_ok(lt_embed_backward(&DT, &T, &G), "embed_bwd");
    float dt[6];
    get(&DT, dt);
    assert_true(dt[0] == 0.0f && dt[2] == (float)N && dt[3] == (float)N && dt[5] == 0.0f);

    /* rmsnorm's dw over more rows than one invocation may walk. */
    int64_t sr[1] = {N}, s1[1] = {1}, sx[2] = {N, 1};
    lt_tensor X = make(vk, LT_F32, 2, sx, ones), W = make(vk, LT_F32, 1, s1, ones), R = make(vk, LT_F32, 1, sr, NULL);
    lt_tensor O = make(vk, LT_F32, 2, sx, NULL), DX = make(vk, LT_F32, 2, sx, NULL), DW = make(vk, LT_F32, 1, s1, NULL);
    vk_ok(lt_fill(&DW, 0.0), "fill");
    vk_ok(lt_rmsnorm_forward(&O, &R, &X, &W, 0.0f), "rmsnorm_fwd");
    vk_ok(lt_rmsnorm_backward(&DX, &DW, &X, &X, &W, &R, 0), "rmsnorm_bwd");
    float dw;
    get(&DW, &dw);
    assert_true(dw == (float)N); /* sum over rows of dout * x * rstd = 1 * 1 * 1 */
    lt_tensor *ts[] = {&T, &G, &DT, &X, &W, &R, &O, &DX, &DW};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) lt_tensor_free(ts[i]);
    free(tok);
    free(ones);

    /* Sampling over a large vocabulary: top-50 and no top-k at all. */
    enum { B = 3, VOC = 32000 };
    float *l = malloc((size_t)B * VOC * 4);
    fill_rand(l, (size_t)B * VOC, 3.0f);
    int64_t sl[2] = {B, VOC}, sb[1] = {B};
    twin Lg = twin_make(LT_F32, 2, sl, l), Tk = twin_make(LT_I32, 1, sb, NULL);
    int ks[2] = {50, 0};
    for (int k = 0; k < 2; k++) {
        lt_sample_params sp = {.seed = 99, .step = (uint64_t)k, .temperature = 0.7f, .top_k = ks[k],
                               .range_lo = 0, .range_hi = VOC};
        vk_ok(lt_sample(&Tk.v, &Lg.v, NULL, &sp), "sample");
        if (!ref_ok(lt_sample(&Tk.r, &Lg.r, NULL, &sp), "sample")) continue;
        int32_t a[B], b[B];
        get(&Tk.v, a);
        get(&Tk.r, b);
        for (int i = 0; i < B; i++)
            if (a[i] != b[i]) fail_msg("sample V=32000 top_k=%d row %d: vulkan %d, ref %d", ks[k], i, a[i], b[i]);
    }
    twin_free(&Lg);
    twin_free(&Tk);
    free(l);
}

/* ---- batching, ordering, lifetimes, memory ---- */

static void test_batching(void **state) {
    (void)state;
    NEED_VK();
    enum { N = 1000 };
    int steps = quick ? 300 : 700; /* more than one batch of commands */
    float ones[N], x[N];
    for (int i = 0; i < N; i++) ones[i] = 1.0f;
    int64_t sn[1] = {N};
    lt_tensor X = make(vk, LT_F32, 1, sn, NULL), O = make(vk, LT_F32, 1, sn, ones);
    vk_ok(lt_fill(&X, 0.0), "fill");
    for (int s = 0; s < steps; s++) vk_ok(lt_axpy(&X, 1.0f, &O), "axpy");
    get(&X, x);
    for (int i = 0; i < N; i++) assert_true(x[i] == (float)steps);

    /* Uploads queue between ops: the second upload must not overtake the first scale. */
    float a1[N], a2[N], r1[N], r2[N];
    for (int i = 0; i < N; i++) {
        a1[i] = (float)i;
        a2[i] = (float)(3 * i);
    }
    lt_tensor A = make(vk, LT_F32, 1, sn, NULL), R1 = make(vk, LT_F32, 1, sn, NULL), R2 = make(vk, LT_F32, 1, sn, NULL);
    assert_int_equal(lt_device_sync(vk), LT_OK);
    assert_int_equal(lt_tensor_upload(&A, a1, sizeof a1), LT_OK);
    vk_ok(lt_scale(&R1, &A, 2.0f), "scale");
    assert_int_equal(lt_tensor_upload(&A, a2, sizeof a2), LT_OK);
    vk_ok(lt_scale(&R2, &A, 2.0f), "scale");
    get(&R2, r2);
    get(&R1, r1);
    for (int i = 0; i < N; i++) {
        assert_true(r1[i] == 2.0f * a1[i]);
        assert_true(r2[i] == 2.0f * a2[i]);
    }

    /* A buffer freed right after an op that reads it is kept until that op has run. */
    for (int k = 0; k < 20; k++) {
        lt_tensor tmp = make(vk, LT_F32, 1, sn, a1);
        vk_ok(lt_add(&R1, &R1, &tmp), "add");
        lt_tensor_free(&tmp);
        lt_tensor big;
        int64_t bs[1] = {1 << 16};
        assert_int_equal(lt_tensor_alloc(vk, LT_F32, 1, bs, &big), LT_OK);
        vk_ok(lt_fill(&big, 1.0), "fill");
        lt_tensor_free(&big);
    }
    get(&R1, r1);
    for (int i = 0; i < N; i++) assert_true(r1[i] == 22.0f * a1[i]);

    /* Same-device copies, including an overlapping one (memmove semantics). */
    assert_int_equal(lt_buffer_copy(R2.buf, 0, A.buf, 0, N * 4), LT_OK);
    assert_int_equal(lt_buffer_copy(A.buf, 4, A.buf, 0, (N - 1) * 4), LT_OK);
    get(&R2, r2);
    get(&A, r1);
    for (int i = 0; i < N; i++) {
        assert_true(r2[i] == a2[i]);
        assert_true(r1[i] == (i == 0 ? a2[0] : a2[i - 1]));
    }
    lt_tensor *ts[] = {&X, &O, &A, &R1, &R2};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) lt_tensor_free(ts[i]);
    assert_int_equal(lt_device_sync(vk), LT_OK);
}

static void test_out_of_memory(void **state) {
    (void)state;
    NEED_VK();
    lt_tensor t;
    int64_t huge[2] = {(int64_t)1 << 30, (int64_t)1 << 12};
    assert_int_equal(lt_tensor_alloc(vk, LT_F32, 2, huge, &t), LT_ERR_OUT_OF_MEMORY);
    assert_non_null(strstr(lt_last_error(), "vulkan"));
    size_t before = vk->bytes_in_use;
    lt_device_set_memory_limit(vk, before + 4096);
    int64_t s[1] = {2048};
    assert_int_equal(lt_tensor_alloc(vk, LT_F32, 1, s, &t), LT_ERR_OUT_OF_MEMORY);
    lt_device_set_memory_limit(vk, 0);
    assert_int_equal(vk->bytes_in_use, before);
    /* Unsupported dtypes are refused by name, not computed wrongly. */
    int64_t s2[2] = {2, 2};
    lt_tensor a = make(vk, LT_F64, 2, s2, NULL), c = make(vk, LT_F64, 2, s2, NULL);
    assert_int_equal(lt_matmul(&c, &a, &a, 0, 0, 1.0f, 0), LT_ERR_UNSUPPORTED);
    assert_non_null(strstr(lt_last_error(), "f64"));
    lt_tensor_free(&a);
    lt_tensor_free(&c);
}

/* ---- the validation / staging rerun ---- */

static void test_validation_child(void **state) {
    (void)state;
    NEED_VK();
    if (getenv("LT_VK_TEST_CHILD")) {
        /* In the child: confirm the layer is really on (else nothing was validated). */
        if (!strstr(vk->info.name, "[validation]")) {
            printf("note: VK_LAYER_KHRONOS_validation not installed; ran without it\n");
            skip();
        }
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("LT_VK_TEST_CHILD", "1", 1);
        setenv("LORETTA_VULKAN_VALIDATION", "1", 1);
        setenv("LORETTA_VULKAN_FORCE_STAGING", "1", 1);
        char *argv[] = {(char *)"test_unit_vulkan", NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("the rerun under the validation layer / staging path failed (exit %d)",
                 WEXITSTATUS(status));
}

static int setup(void **state) {
    (void)state;
    const char *q = getenv("LORETTA_QUICK");
    quick = q && *q && strcmp(q, "0") != 0;
    if (getenv("LT_VK_TEST_CHILD")) quick = 1; /* validation is slow: small shapes suffice */
    assert_int_equal(lt_init(), LT_OK);
    if (lt_device_find("vulkan", 0, &vk) != LT_OK) {
        printf("note: no vulkan device (%s); tests skipped\n", lt_backend_note("vulkan"));
        vk = NULL;
    }
    if (lt_device_find("ref", 0, &ref) != LT_OK) ref = NULL;
    if (vk && !ref) {
        printf("note: no ref device; tests skipped\n");
        vk = NULL;
    }
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device),
        cmocka_unit_test(test_fill),
        cmocka_unit_test(test_copy_strided),
        cmocka_unit_test(test_cast_bits),
        cmocka_unit_test(test_matmul_exact),
        cmocka_unit_test(test_matmul_vs_ref),
        cmocka_unit_test(test_embed),
        cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_cross_entropy),
        cmocka_unit_test(test_attention),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_adamw_sumsq),
        cmocka_unit_test(test_sample),
        cmocka_unit_test(test_long_loops),
        cmocka_unit_test(test_batching),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_validation_child),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
