/* tests/test_unit_opencl.c - the opencl backend on whatever OpenCL device is present
 * (PoCL on a CPU-only machine): every op on small shapes against the plain-loop "ref"
 * device and, independently of it, against small oracles written here (exact where the
 * arithmetic is exact: integer-valued matmuls, gathers, copies, the sampling rule);
 * device-side range errors; a broken kernel build reporting its build log; the on-disk
 * kernel cache; allocations beyond CL_DEVICE_MAX_MEM_ALLOC_SIZE. Every test is skipped
 * when no OpenCL device exists. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loretta/backend.h"
#include "loretta/loretta.h"
#include "loretta/rng.h"

/* Internal hook of the opencl backend (backends/opencl/ocl_program.c); weak so this
 * program links in builds without the backend. */
lt_status lt_opencl_test_build(lt_device *dev, const char *name, const char *text,
                               int use_cache, char *cache_path, size_t cache_path_size)
    __attribute__((weak));

/* PoCL's compiler (LLVM, inside libpocl) leaks a few small objects per kernel compile;
 * under LeakSanitizer those would fail this test on a cold PoCL cache. Allocations made
 * inside libpocl are not ours to fix, so they are suppressed here; our own leaks are
 * still reported. (Only read by sanitizer builds.) */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libpocl.so\n"; }

static lt_device *ocl, *ref;

static int group_setup(void **state) {
    (void)state;
    lt_init();
    if (lt_device_find("opencl", 0, &ocl) != LT_OK) {
        printf("opencl: %s\n", lt_last_error());
        ocl = NULL;
    }
    if (lt_device_find("ref", 0, &ref) != LT_OK) ref = NULL;
    return 0;
}

#define NEED_OCL()                                            \
    do {                                                      \
        if (!ocl) {                                           \
            print_message("no OpenCL device: skipped\n");    \
            skip();                                           \
        }                                                     \
    } while (0)

#define OK(expr)                                                                  \
    do {                                                                          \
        lt_status ok_s_ = (expr);                                                 \
        if (ok_s_ != LT_OK) fail_msg("%s: %s (%s)", #expr, lt_status_name(ok_s_), lt_last_error()); \
    } while (0)

/* ---- helpers ---- */

static uint64_t rng_state = 88172645463325252ull;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) * (1.0 / 8388608.0)) - 1.0f;
}
static void fill_rand(float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = frand() * scale;
}
static int quick(void) { return getenv("LORETTA_QUICK") != NULL; }

static lt_tensor up(lt_device *d, lt_dtype dt, int ndim, const int64_t *shape, const void *data) {
    lt_tensor t;
    OK(lt_tensor_alloc(d, dt, ndim, shape, &t));
    if (data) OK(lt_tensor_upload(&t, data, lt_tensor_nbytes(&t)));
    return t;
}
static void down(const lt_tensor *t, void *out) { OK(lt_tensor_download(out, t, lt_tensor_nbytes(t))); }

static void expect_close(const char *what, const float *got, const double *want, size_t n,
                         double atol, double rtol) {
    for (size_t i = 0; i < n; i++) {
        double tol = atol + rtol * fabs(want[i]);
        if (!(fabs((double)got[i] - want[i]) <= tol))
            fail_msg("%s[%zu]: got %.9g, want %.9g (tol %.3g)", what, i, (double)got[i], want[i], tol);
    }
}
static void expect_close_f(const char *what, const float *got, const float *want, size_t n,
                           double atol, double rtol) {
    double *w = malloc(n * sizeof *w);
    for (size_t i = 0; i < n; i++) w[i] = want[i];
    expect_close(what, got, w, n, atol, rtol);
    free(w);
}
static void expect_equal(const char *what, const void *got, const void *want, size_t bytes) {
    if (memcmp(got, want, bytes) != 0) {
        const unsigned char *g = got, *w = want;
        size_t i = 0;
        while (g[i] == w[i]) i++;
        fail_msg("%s: differs at byte %zu (%02x vs %02x)", what, i, g[i], w[i]);
    }
}
/* The ref backend's ops are still being written: UNSUPPORTED there skips the comparison. */
static int ref_ran(lt_status s, const char *op) {
    if (s == LT_ERR_UNSUPPORTED) {
        print_message("ref %s: %s (comparison skipped)\n", op, lt_last_error());
        return 0;
    }
    if (s != LT_OK) fail_msg("ref %s: %s", op, lt_last_error());
    return 1;
}

/* ---- device ---- */

static void test_device_info(void **state) {
    (void)state;
    NEED_OCL();
    const lt_device_info *in = &ocl->info;
    print_message("opencl device 0: %s, %.1f GiB, max alloc %.1f GiB, %d units\n", in->name,
                  in->memory_bytes / 1073741824.0, in->max_alloc_bytes / 1073741824.0,
                  in->compute_units);
    assert_string_equal(in->backend_name, "opencl");
    assert_non_null(strchr(in->name, '(')); /* "<device> (<platform>)" */
    assert_true(in->memory_bytes > 0);
    assert_true(in->max_alloc_bytes > 0 && in->max_alloc_bytes <= in->memory_bytes);
    assert_true(in->compute_units > 0);
    assert_false(in->is_reference);
}

static void test_out_of_memory(void **state) {
    (void)state;
    NEED_OCL();
    lt_buffer *b = NULL;
    size_t big = ocl->info.max_alloc_bytes + 1;
    assert_int_equal(lt_buffer_alloc(ocl, big, &b), LT_ERR_OUT_OF_MEMORY);
    assert_null(b);
    /* The backend refuses it too, not only the core's check in front of it. */
    size_t saved = ocl->info.max_alloc_bytes;
    ocl->info.max_alloc_bytes = 0;
    lt_status s = lt_buffer_alloc(ocl, big, &b);
    ocl->info.max_alloc_bytes = saved;
    if (s == LT_OK) lt_buffer_free(b);
    assert_int_equal(s, LT_ERR_OUT_OF_MEMORY);
    assert_non_null(strstr(lt_last_error(), "CL_DEVICE_MAX_MEM_ALLOC_SIZE"));
}

/* ---- kernel builds ---- */

static void test_build_failure_reports_log(void **state) {
    (void)state;
    NEED_OCL();
    if (!lt_opencl_test_build) skip();
    const char *broken = "kernel void broken(global float *x) { x[0] = no_such_symbol_xyz; }\n";
    lt_status s = lt_opencl_test_build(ocl, "broken_for_test", broken, 0, NULL, 0);
    assert_int_equal(s, LT_ERR_DEVICE);
    const char *msg = lt_last_error();
    print_message("build failure message: %.300s\n", msg);
    assert_non_null(strstr(msg, "broken_for_test.cl"));
    assert_non_null(strstr(msg, "build log"));
    assert_non_null(strstr(msg, "no_such_symbol_xyz"));
}

static int file_has_magic(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char m[8] = {0};
    int ok = fread(m, 1, 8, f) == 8 && memcmp(m, "LTCLBIN", 8) == 0;
    fclose(f);
    return ok;
}

static void test_kernel_cache(void **state) {
    (void)state;
    NEED_OCL();
    if (!lt_opencl_test_build) skip();
    const char *v = getenv("LORETTA_OPENCL_CACHE");
    if (v && strcmp(v, "0") == 0) skip();
    char src[160], path[1200] = "";
    /* A source of its own, so the first build misses whatever ran before. */
    snprintf(src, sizeof src, "kernel void twice(global float *x) { x[get_global_id(0)] *= 2.0f; } /* %llu */\n",
             (unsigned long long)rng_state ^ (unsigned long long)(uintptr_t)&src);
    OK(lt_opencl_test_build(ocl, "cache_test", src, 1, path, sizeof path));
    if (!*path) skip(); /* no HOME / XDG_CACHE_HOME */
    assert_true(file_has_magic(path));
    /* A damaged entry is a miss: rebuilt from source and rewritten. */
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("garbage", f);
    fclose(f);
    OK(lt_opencl_test_build(ocl, "cache_test", src, 1, path, sizeof path));
    assert_true(file_has_magic(path));
    OK(lt_opencl_test_build(ocl, "cache_test", src, 1, path, sizeof path)); /* a hit */
    remove(path);
}

/* ---- fill, copy, cast ---- */

static void test_fill_copy_cast(void **state) {
    (void)state;
    NEED_OCL();
    int64_t s6[1] = {6};
    float f[6];
    lt_tensor t = up(ocl, LT_F32, 1, s6, NULL);
    OK(lt_fill(&t, -2.5));
    down(&t, f);
    for (int i = 0; i < 6; i++) assert_true(f[i] == -2.5f);
    lt_tensor_free(&t);

    int32_t iv[6];
    t = up(ocl, LT_I32, 1, s6, NULL);
    OK(lt_fill(&t, -7.9)); /* truncates toward zero */
    down(&t, iv);
    for (int i = 0; i < 6; i++) assert_int_equal(iv[i], -7);
    assert_int_equal(lt_fill(&t, 1e12), LT_ERR_RANGE);
    lt_tensor_free(&t);

    uint16_t hv[6];
    t = up(ocl, LT_F16, 1, s6, NULL);
    OK(lt_fill(&t, 0.1));
    down(&t, hv);
    for (int i = 0; i < 6; i++) assert_int_equal(hv[i], lt_f32_to_f16(0.1f));
    lt_tensor_free(&t);

    uint8_t u8[6];
    t = up(ocl, LT_U8, 1, s6, NULL);
    OK(lt_fill(&t, 200));
    down(&t, u8);
    for (int i = 0; i < 6; i++) assert_int_equal(u8[i], 200);
    lt_tensor_free(&t);

    double dv[6];
    t = up(ocl, LT_F64, 1, s6, NULL);
    OK(lt_fill(&t, 1.0 / 3.0)); /* a bit pattern: needs no doubles on the device */
    down(&t, dv);
    for (int i = 0; i < 6; i++) assert_true(dv[i] == 1.0 / 3.0);
    lt_tensor_free(&t);

    /* Strided copy: the transpose of a 3x5 block of a 4x7 matrix into a 5x3 tensor. */
    float m[28], got[15], want[15];
    for (int i = 0; i < 28; i++) m[i] = (float)i;
    int64_t s47[2] = {4, 7}, s53[2] = {5, 3}, st[2] = {1, 7};
    lt_tensor a = up(ocl, LT_F32, 2, s47, m), at, out = up(ocl, LT_F32, 2, s53, NULL);
    int64_t shape_t[2] = {5, 3};
    OK(lt_tensor_strided(&a, (7 + 1) * sizeof(float), 2, shape_t, st, &at)); /* rows 1..3, cols 1..5 */
    OK(lt_copy(&out, &at));
    down(&out, got);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 3; j++) want[i * 3 + j] = m[(1 + j) * 7 + (1 + i)];
    expect_equal("strided copy", got, want, sizeof want);
    /* And back into a strided destination: column 6 of a, rows 0..3. */
    int64_t s4[1] = {4}, sc[1] = {7};
    float col[4] = {-1, -2, -3, -4}, back[28];
    lt_tensor cv = up(ocl, LT_F32, 1, s4, col), dcol;
    OK(lt_tensor_strided(&a, 6 * sizeof(float), 1, s4, sc, &dcol));
    OK(lt_copy(&dcol, &cv));
    down(&a, back);
    for (int i = 0; i < 28; i++) assert_true(back[i] == (i % 7 == 6 ? col[i / 7] : m[i]));
    lt_tensor_free(&cv);

    /* Casts round exactly like the host conversions. */
    float x[15];
    fill_rand(x, 15, 100.0f);
    x[0] = 65520.0f; /* overflows f16 */
    x[1] = 1e-6f;    /* f16 subnormal */
    x[2] = NAN;
    lt_tensor xs = up(ocl, LT_F32, 2, s53, x), h = up(ocl, LT_F16, 2, s53, NULL),
              bf = up(ocl, LT_BF16, 2, s53, NULL), back32 = up(ocl, LT_F32, 2, s53, NULL);
    uint16_t hg[15], bg[15];
    OK(lt_cast(&h, &xs));
    OK(lt_cast(&bf, &xs));
    down(&h, hg);
    down(&bf, bg);
    for (int i = 0; i < 15; i++) {
        assert_int_equal(hg[i], lt_f32_to_f16(x[i]));
        assert_int_equal(bg[i], lt_f32_to_bf16(x[i]));
    }
    OK(lt_cast(&back32, &h));
    down(&back32, got);
    for (int i = 3; i < 15; i++) assert_true(got[i] == lt_f16_to_f32(hg[i]));
    lt_tensor d64 = up(ocl, LT_F64, 2, s53, NULL);
    lt_status cs = lt_cast(&d64, &bf); /* UNSUPPORTED only on devices without doubles */
    if (cs != LT_ERR_UNSUPPORTED) {
        OK(cs);
        double dg[15];
        down(&d64, dg);
        for (int i = 0; i < 15; i++)
            assert_true(dg[i] == (double)lt_bf16_to_f32(bg[i]) || (isnan(dg[i]) && i == 2));
    }
    lt_tensor_free(&d64);
    lt_tensor_free(&xs);
    lt_tensor_free(&h);
    lt_tensor_free(&bf);
    lt_tensor_free(&back32);
    lt_tensor_free(&a);
    lt_tensor_free(&out);
}

/* ---- element-wise ---- */

static double gelu_ref(double x) {
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
}

static void test_elementwise(void **state) {
    (void)state;
    NEED_OCL();
    enum { N = 1000 };
    static float x[N], g[N], got[N];
    static double want[N];
    fill_rand(x, N, 4.0f);
    fill_rand(g, N, 1.0f);
    int64_t s[2] = {10, 100};
    lt_tensor tx = up(ocl, LT_F32, 2, s, x), tg = up(ocl, LT_F32, 2, s, g),
              to = up(ocl, LT_F32, 2, s, NULL);
    OK(lt_gelu_forward(&to, &tx));
    down(&to, got);
    for (int i = 0; i < N; i++) want[i] = gelu_ref(x[i]);
    expect_close("gelu_fwd", got, want, N, 1e-6, 1e-5);
    OK(lt_gelu_backward(&to, &tg, &tx));
    down(&to, got);
    for (int i = 0; i < N; i++) {
        double h = 1e-4 * (1.0 + fabs(x[i]));
        want[i] = g[i] * (gelu_ref(x[i] + h) - gelu_ref(x[i] - h)) / (2 * h);
    }
    expect_close("gelu_bwd", got, want, N, 1e-5, 1e-4);

    /* add / scale / axpy are exact in f32 for these values. */
    float e[N];
    OK(lt_add(&to, &tx, &tg));
    down(&to, got);
    for (int i = 0; i < N; i++) e[i] = x[i] + g[i];
    expect_equal("add", got, e, sizeof e);
    OK(lt_scale(&to, &to, 0.5f)); /* in place */
    down(&to, got);
    for (int i = 0; i < N; i++) e[i] *= 0.5f;
    expect_equal("scale", got, e, sizeof e);
    OK(lt_axpy(&to, -2.0f, &tg));
    down(&to, got);
    for (int i = 0; i < N; i++) e[i] += -2.0f * g[i];
    expect_equal("axpy", got, e, sizeof e);

    /* A view that does not start on an element boundary is refused, not misread. */
    lt_tensor odd;
    int64_t s3[1] = {3};
    OK(lt_tensor_view(&tx, 2, LT_F32, 1, s3, &odd));
    assert_int_equal(lt_scale(&odd, &odd, 2.0f), LT_ERR_UNSUPPORTED);
    lt_tensor_free(&tx);
    lt_tensor_free(&tg);
    lt_tensor_free(&to);
}

/* ---- matmul ---- */

typedef struct mm_case {
    int64_t ba, bb, bc, M, N, K;
    int ta, tb, acc;
    float alpha;
} mm_case;

/* Row stride padding of every operand, so all three are row-strided views. */
#define MM_PAD 3

/* Runs one case on device d with operands carved out of padded buffers. c_io holds C's
 * initial values and receives the result; the padding of C must stay untouched. */
static lt_status mm_run(lt_device *d, const mm_case *c, const float *a, const float *b,
                        float *c_io) {
    int64_t ar = c->ta ? c->K : c->M, ac = c->ta ? c->M : c->K;
    int64_t br = c->tb ? c->N : c->K, bcn = c->tb ? c->K : c->N;
    int64_t pa[3] = {c->ba, ar, ac + MM_PAD}, pb[3] = {c->bb, br, bcn + MM_PAD},
            pc[3] = {c->bc, c->M, c->N + MM_PAD};
    lt_tensor A = up(d, LT_F32, 3, pa, a), B = up(d, LT_F32, 3, pb, b), C = up(d, LT_F32, 3, pc, c_io);
    int64_t sa[3] = {c->ba, ar, ac}, sb[3] = {c->bb, br, bcn}, sc[3] = {c->bc, c->M, c->N};
    int64_t ta[3] = {ar * (ac + MM_PAD), ac + MM_PAD, 1}, tb[3] = {br * (bcn + MM_PAD), bcn + MM_PAD, 1},
            tc[3] = {c->M * (c->N + MM_PAD), c->N + MM_PAD, 1};
    lt_tensor va, vb, vc;
    OK(lt_tensor_strided(&A, sizeof(float), 3, sa, ta, &va)); /* offset: 1 column in */
    OK(lt_tensor_strided(&B, 2 * sizeof(float), 3, sb, tb, &vb));
    OK(lt_tensor_strided(&C, sizeof(float), 3, sc, tc, &vc));
    lt_status s = lt_matmul(&vc, &va, &vb, c->ta, c->tb, c->alpha, c->acc);
    if (s == LT_OK) down(&C, c_io);
    lt_tensor_free(&A);
    lt_tensor_free(&B);
    lt_tensor_free(&C);
    return s;
}

static void mm_oracle(const mm_case *c, const float *a, const float *b, const float *c_in,
                      double *want) {
    int64_t ar = c->ta ? c->K : c->M, ac = c->ta ? c->M : c->K;
    int64_t br = c->tb ? c->N : c->K, bcn = c->tb ? c->K : c->N;
    int64_t lda = ac + MM_PAD, ldb = bcn + MM_PAD, ldc = c->N + MM_PAD;
    for (int64_t i = 0; i < c->bc * c->M * ldc; i++) want[i] = c_in[i];
    for (int64_t bi = 0; bi < c->bc; bi++) {
        const float *A = a + (c->ba == 1 ? 0 : bi) * ar * lda + 1;
        const float *B = b + (c->bb == 1 ? 0 : bi) * br * ldb + 2;
        for (int64_t i = 0; i < c->M; i++)
            for (int64_t j = 0; j < c->N; j++) {
                double s = 0;
                for (int64_t k = 0; k < c->K; k++)
                    s += (double)(c->ta ? A[k * lda + i] : A[i * lda + k]) *
                         (double)(c->tb ? B[j * ldb + k] : B[k * ldb + j]);
                double *o = &want[bi * c->M * ldc + i * ldc + j + 1];
                *o = c->alpha * s + (c->acc ? *o : 0.0);
            }
    }
}

static void test_matmul(void **state) {
    (void)state;
    NEED_OCL();
    const mm_case cases[] = {
        {1, 1, 1, 5, 7, 3, 0, 0, 0, 1.0f},  {1, 1, 1, 6, 4, 9, 1, 0, 1, 0.5f},
        {1, 1, 1, 4, 6, 5, 0, 1, 0, -2.0f}, {1, 1, 1, 3, 8, 4, 1, 1, 1, 1.0f},
        {3, 3, 3, 4, 5, 6, 0, 1, 0, 1.0f},  {3, 1, 3, 5, 3, 4, 0, 0, 1, 1.0f},
        {1, 2, 2, 2, 6, 7, 1, 0, 0, 0.25f}, {2, 2, 2, 1, 1, 1, 0, 0, 0, 1.0f},
        {1, 1, 1, 4, 3, 0, 0, 1, 0, 1.0f}, /* K = 0: C = 0 */
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const mm_case *c = &cases[ci];
        int64_t ar = c->ta ? c->K : c->M, ac = c->ta ? c->M : c->K;
        int64_t br = c->tb ? c->N : c->K, bcn = c->tb ? c->K : c->N;
        size_t na = (size_t)(c->ba * ar * (ac + MM_PAD)), nb = (size_t)(c->bb * br * (bcn + MM_PAD)),
               nc = (size_t)(c->bc * c->M * (c->N + MM_PAD));
        float *a = malloc((na + 1) * 4), *b = malloc((nb + 1) * 4), *c0 = malloc(nc * 4),
              *got = malloc(nc * 4), *rgot = malloc(nc * 4);
        double *want = malloc(nc * sizeof *want);
        /* Small integers: every product and sum is exact in f32, so the check is exact. */
        for (size_t i = 0; i < na; i++) a[i] = (float)((int)(frand() * 5));
        for (size_t i = 0; i < nb; i++) b[i] = (float)((int)(frand() * 5));
        for (size_t i = 0; i < nc; i++) c0[i] = c->acc ? (float)((int)(frand() * 9)) : NAN;
        /* NaN in C without accumulate must be overwritten, never read (beta = 0). Padding
         * columns hold NaN too and must stay NaN. */
        for (size_t i = 0; i < nc; i++)
            if (c->acc && (i % (size_t)(c->N + MM_PAD) == 0 || i % (size_t)(c->N + MM_PAD) > (size_t)c->N))
                c0[i] = NAN;
        memcpy(got, c0, nc * 4);
        OK(mm_run(ocl, c, a, b, got));
        mm_oracle(c, a, b, c0, want);
        for (size_t i = 0; i < nc; i++) {
            if (isnan(want[i])) {
                if (!isnan(got[i])) fail_msg("matmul case %zu: padding [%zu] overwritten", ci, i);
                continue;
            }
            if ((double)got[i] != want[i])
                fail_msg("matmul case %zu [%zu]: got %g want %g", ci, i, (double)got[i], want[i]);
        }
        if (ref) {
            memcpy(rgot, c0, nc * 4);
            if (ref_ran(mm_run(ref, c, a, b, rgot), "matmul"))
                for (size_t i = 0; i < nc; i++)
                    if (!(got[i] == rgot[i] || (isnan(got[i]) && isnan(rgot[i]))))
                        fail_msg("matmul case %zu [%zu]: opencl %g, ref %g", ci, i, (double)got[i], (double)rgot[i]);
        }
        free(a), free(b), free(c0), free(got), free(rgot), free(want);
    }
}

/* ---- embeddings ---- */

static void test_embed(void **state) {
    (void)state;
    NEED_OCL();
    enum { V = 11, D = 6, N = 9 };
    float table[V * D], out0[N * D], got[N * D], want[N * D];
    int32_t tok[N] = {3, 0, 10, 3, 7, 7, 7, 1, 3};
    for (int i = 0; i < V * D; i++) table[i] = (float)(i % 13) - 6.0f;
    for (int i = 0; i < N * D; i++) out0[i] = (float)(i % 5);
    int64_t sv[2] = {V, D}, sn[2] = {N, D}, s1[1] = {N};
    lt_tensor tt = up(ocl, LT_F32, 2, sv, table), to = up(ocl, LT_F32, 2, sn, out0),
              tk = up(ocl, LT_I32, 1, s1, tok);
    OK(lt_embed_forward(&to, &tk, &tt, 0));
    down(&to, got);
    for (int n = 0; n < N; n++)
        for (int d = 0; d < D; d++) want[n * D + d] = table[tok[n] * D + d];
    expect_equal("embed_fwd", got, want, sizeof want);
    OK(lt_pos_embed_forward(&to, &tk, &tt)); /* accumulates */
    down(&to, got);
    for (int i = 0; i < N * D; i++) want[i] *= 2.0f;
    expect_equal("pos_embed_fwd", got, want, sizeof want);

    /* Backward: integer-valued sums are exact; row 7 collects three rows. */
    float dt0[V * D], dgot[V * D], dwant[V * D];
    for (int i = 0; i < V * D; i++) dt0[i] = dwant[i] = (float)(i % 3);
    lt_tensor td = up(ocl, LT_F32, 2, sv, dt0), tdo = up(ocl, LT_F32, 2, sn, out0);
    OK(lt_embed_backward(&td, &tk, &tdo));
    down(&td, dgot);
    for (int n = 0; n < N; n++)
        for (int d = 0; d < D; d++) dwant[tok[n] * D + d] += out0[n * D + d];
    expect_equal("embed_bwd", dgot, dwant, sizeof dwant);

    /* A bad token fails with RANGE naming its position; nothing is written. */
    int32_t bad[N] = {1, 2, 3, 11, 4, -1, 0, 0, 0};
    lt_tensor tb = up(ocl, LT_I32, 1, s1, bad);
    OK(lt_tensor_upload(&to, out0, sizeof out0));
    assert_int_equal(lt_embed_forward(&to, &tb, &tt, 0), LT_ERR_RANGE);
    assert_non_null(strstr(lt_last_error(), "tokens[3] = 11"));
    down(&to, got);
    expect_equal("embed_fwd untouched after RANGE", got, out0, sizeof out0);
    assert_int_equal(lt_embed_backward(&td, &tb, &tdo), LT_ERR_RANGE);
    assert_non_null(strstr(lt_last_error(), "embed_bwd"));
    assert_int_equal(lt_pos_embed_forward(&to, &tb, &tt), LT_ERR_RANGE);
    assert_non_null(strstr(lt_last_error(), "pos[3]"));
    lt_tensor_free(&tt), lt_tensor_free(&to), lt_tensor_free(&tk), lt_tensor_free(&td);
    lt_tensor_free(&tdo), lt_tensor_free(&tb);
}

/* ---- rmsnorm ---- */

static lt_status rms_run(lt_device *d, int N, int D, const float *x, const float *w,
                         const float *g, const float *dx0, float *out, float *rstd, float *dx,
                         float *dw) {
    int64_t sx[2] = {N, D}, sw[1] = {D}, sr[1] = {N};
    lt_tensor tx = up(d, LT_F32, 2, sx, x), tw = up(d, LT_F32, 1, sw, w), tg = up(d, LT_F32, 2, sx, g),
              to = up(d, LT_F32, 2, sx, NULL), tr = up(d, LT_F32, 1, sr, NULL),
              tdx = up(d, LT_F32, 2, sx, dx0), tdw = up(d, LT_F32, 1, sw, w);
    lt_status s = lt_rmsnorm_forward(&to, &tr, &tx, &tw, 1e-5f);
    if (s == LT_OK) s = lt_rmsnorm_backward(&tdx, &tdw, &tg, &tx, &tw, &tr, 1);
    if (s == LT_OK) {
        down(&to, out), down(&tr, rstd), down(&tdx, dx), down(&tdw, dw);
    }
    lt_tensor_free(&tx), lt_tensor_free(&tw), lt_tensor_free(&tg), lt_tensor_free(&to);
    lt_tensor_free(&tr), lt_tensor_free(&tdx), lt_tensor_free(&tdw);
    return s;
}

static void test_rmsnorm(void **state) {
    (void)state;
    NEED_OCL();
    enum { N = 7, D = 300 };
    static float x[N * D], w[D], g[N * D], dx0[N * D], out[N * D], rstd[N], dx[N * D], dw[D];
    static float r_out[N * D], r_rstd[N], r_dx[N * D], r_dw[D];
    static double wout[N * D], wr[N], wdx[N * D], wdw[D];
    fill_rand(x, N * D, 2.0f), fill_rand(w, D, 1.0f), fill_rand(g, N * D, 1.0f), fill_rand(dx0, N * D, 1.0f);
    OK(rms_run(ocl, N, D, x, w, g, dx0, out, rstd, dx, dw));
    for (int d = 0; d < D; d++) wdw[d] = w[d]; /* dw starts as w (accumulates) */
    for (int n = 0; n < N; n++) {
        double ss = 0, dot = 0;
        for (int d = 0; d < D; d++) ss += (double)x[n * D + d] * x[n * D + d];
        double r = 1.0 / sqrt(ss / D + 1e-5);
        wr[n] = r;
        for (int d = 0; d < D; d++) {
            wout[n * D + d] = x[n * D + d] * r * w[d];
            dot += (double)g[n * D + d] * w[d] * x[n * D + d] * r;
            wdw[d] += (double)g[n * D + d] * x[n * D + d] * r;
        }
        for (int d = 0; d < D; d++)
            wdx[n * D + d] = dx0[n * D + d] + r * (g[n * D + d] * w[d] - x[n * D + d] * r * dot / D);
    }
    expect_close("rmsnorm out", out, wout, N * D, 1e-5, 1e-5);
    expect_close("rmsnorm rstd", rstd, wr, N, 0, 1e-5);
    expect_close("rmsnorm dx", dx, wdx, N * D, 1e-5, 1e-4);
    expect_close("rmsnorm dw", dw, wdw, D, 1e-5, 1e-4);
    if (ref && ref_ran(rms_run(ref, N, D, x, w, g, dx0, r_out, r_rstd, r_dx, r_dw), "rmsnorm")) {
        expect_close_f("rmsnorm out vs ref", out, r_out, N * D, 1e-5, 1e-5);
        expect_close_f("rmsnorm dx vs ref", dx, r_dx, N * D, 1e-5, 1e-4);
        expect_close_f("rmsnorm dw vs ref", dw, r_dw, D, 1e-5, 1e-4);
    }
}

/* ---- cross-entropy ---- */

/* Loss and gradient of rows with weights 1, 0, 0.5, 2, ... (every third row unweighted,
 * its target out of range and never read) against a double-precision oracle; then the
 * same with dlogits written over the logits, which must agree bit for bit. V below the
 * work-group size matters: PoCL once crashed there (see docs/opencl.md). */
static void ce_check(int N, int V) {
    float *x = malloc((size_t)N * V * 4), *loss = malloc((size_t)N * 4), *wts = malloc((size_t)N * 4),
          *dl = malloc((size_t)N * V * 4), *dl_sep = malloc((size_t)N * V * 4);
    double *wl = malloc((size_t)N * 8), *wd = malloc((size_t)N * V * 8);
    int32_t *tg = malloc((size_t)N * 4);
    fill_rand(x, (size_t)N * V, 8.0f);
    x[(N - 1) * V] = 80.0f; /* a dominant logit: exp without the max would overflow */
    for (int n = 0; n < N; n++) {
        wts[n] = n % 3 == 1 ? 0.0f : (n % 3 == 2 ? 0.5f : 1.0f + (float)(n % 2));
        tg[n] = wts[n] == 0.0f ? (n % 2 ? -1 : V + 9999) : (n * 7) % V;
    }
    int64_t sx[2] = {N, V}, sn[1] = {N};
    lt_tensor tx = up(ocl, LT_F32, 2, sx, x), tt = up(ocl, LT_I32, 1, sn, tg),
              tw = up(ocl, LT_F32, 1, sn, wts), tl = up(ocl, LT_F32, 1, sn, NULL),
              tdl = up(ocl, LT_F32, 2, sx, NULL);
    OK(lt_cross_entropy(&tl, &tdl, &tx, &tt, &tw, 0.25f));
    down(&tdl, dl_sep);
    OK(lt_cross_entropy(&tl, &tx, &tx, &tt, &tw, 0.25f));
    down(&tl, loss);
    down(&tx, dl);
    expect_equal("ce dlogits in place vs separate", dl, dl_sep, (size_t)N * V * 4);
    for (int n = 0; n < N; n++) {
        if (wts[n] == 0) {
            wl[n] = 0;
            for (int i = 0; i < V; i++) wd[n * V + i] = 0;
            continue;
        }
        double m = -INFINITY, s = 0;
        for (int i = 0; i < V; i++) m = fmax(m, x[n * V + i]);
        for (int i = 0; i < V; i++) s += exp(x[n * V + i] - m);
        double lse = m + log(s);
        wl[n] = lse - x[n * V + tg[n]];
        for (int i = 0; i < V; i++)
            wd[n * V + i] = wts[n] * 0.25 * (exp(x[n * V + i] - lse) - (i == tg[n]));
    }
    expect_close("ce loss", loss, wl, (size_t)N, 1e-5, 1e-5);
    expect_close("ce dlogits", dl, wd, (size_t)N * V, 1e-7, 1e-4);
    for (int n = 1; n < N; n += 3) assert_true(loss[n] == 0.0f);

    /* Without weights every row counts, and row 1's target is out of range. */
    OK(lt_tensor_upload(&tx, x, (size_t)N * V * 4));
    if (N > 1) {
        assert_int_equal(lt_cross_entropy(&tl, NULL, &tx, &tt, NULL, 1.0f), LT_ERR_RANGE);
        char want[64];
        snprintf(want, sizeof want, "targets[1] = %d", tg[1]);
        assert_non_null(strstr(lt_last_error(), want));
    }
    for (int n = 0; n < N; n++) tg[n] = (n * 7) % V;
    OK(lt_tensor_upload(&tt, tg, (size_t)N * 4));
    OK(lt_cross_entropy(&tl, NULL, &tx, &tt, NULL, 1.0f));
    if (ref) {
        lt_tensor rx = up(ref, LT_F32, 2, sx, x), rt = up(ref, LT_I32, 1, sn, tg),
                  rl = up(ref, LT_F32, 1, sn, NULL);
        float *rloss = malloc((size_t)N * 4);
        if (ref_ran(lt_cross_entropy(&rl, NULL, &rx, &rt, NULL, 1.0f), "cross_entropy")) {
            down(&rl, rloss);
            down(&tl, loss);
            expect_close_f("ce loss vs ref", loss, rloss, (size_t)N, 1e-5, 1e-5);
        }
        free(rloss);
        lt_tensor_free(&rx), lt_tensor_free(&rt), lt_tensor_free(&rl);
    }
    lt_tensor_free(&tx), lt_tensor_free(&tt), lt_tensor_free(&tw), lt_tensor_free(&tl);
    lt_tensor_free(&tdl);
    free(x), free(loss), free(wts), free(dl), free(dl_sep), free(wl), free(wd), free(tg);
}

static void test_cross_entropy(void **state) {
    (void)state;
    NEED_OCL();
    ce_check(5, 300);
    ce_check(7, 33);
    ce_check(1, 1);
}

/* ---- attention ---- */

typedef struct attn_case {
    int B, T, H, Dh, causal;
    int32_t len[2];
    int has_len;
} attn_case;

/* q, k, v live in one fused [B, T, 3, H, Dh] buffer (strided views); so do dq, dk, dv. */
static size_t qkv_at(const attn_case *c, int b, int t, int which, int h, int d) {
    return ((((size_t)b * c->T + t) * 3 + which) * c->H + h) * c->Dh + d;
}
static size_t bthd(const attn_case *c, int b, int t, int h, int d) {
    return (((size_t)b * c->T + t) * c->H + h) * c->Dh + d;
}

static void attn_oracle(const attn_case *c, const float *qkv, const float *dout, float scale,
                        double *out, double *lse, double *dqkv) {
    int T = c->T, Dh = c->Dh;
    double *p = malloc((size_t)T * T * sizeof *p), *dp = malloc((size_t)T * T * sizeof *dp);
    memset(dqkv, 0, (size_t)c->B * T * 3 * c->H * Dh * sizeof *dqkv);
    for (int b = 0; b < c->B; b++)
        for (int h = 0; h < c->H; h++) {
            int L = c->has_len ? c->len[b] : T;
            for (int i = 0; i < T; i++) {
                lse[((size_t)b * c->H + h) * T + i] = 0;
                for (int d = 0; d < Dh; d++) out[bthd(c, b, i, h, d)] = 0;
                if (i >= L) continue;
                double m = -INFINITY, l = 0;
                for (int j = 0; j < L; j++) {
                    p[i * T + j] = -INFINITY;
                    if (c->causal && j > i) continue;
                    double s = 0;
                    for (int d = 0; d < Dh; d++) s += (double)qkv[qkv_at(c, b, i, 0, h, d)] * qkv[qkv_at(c, b, j, 1, h, d)];
                    p[i * T + j] = s * scale;
                    m = fmax(m, s * scale);
                }
                for (int j = 0; j < L; j++) l += exp(p[i * T + j] - m);
                lse[((size_t)b * c->H + h) * T + i] = m + log(l);
                for (int j = 0; j < L; j++) {
                    p[i * T + j] = exp(p[i * T + j] - m) / l;
                    for (int d = 0; d < Dh; d++) out[bthd(c, b, i, h, d)] += p[i * T + j] * qkv[qkv_at(c, b, j, 2, h, d)];
                }
            }
            for (int i = 0; i < L; i++) {
                double delta = 0;
                for (int d = 0; d < Dh; d++) delta += (double)dout[bthd(c, b, i, h, d)] * (float)out[bthd(c, b, i, h, d)];
                for (int j = 0; j < L; j++) {
                    double g = 0;
                    for (int d = 0; d < Dh; d++) g += (double)dout[bthd(c, b, i, h, d)] * qkv[qkv_at(c, b, j, 2, h, d)];
                    dp[i * T + j] = p[i * T + j] * (g - delta) * scale;
                }
            }
            for (int i = 0; i < L; i++)
                for (int j = 0; j < L; j++)
                    for (int d = 0; d < Dh; d++) {
                        dqkv[qkv_at(c, b, i, 0, h, d)] += dp[i * T + j] * qkv[qkv_at(c, b, j, 1, h, d)];
                        dqkv[qkv_at(c, b, j, 1, h, d)] += dp[i * T + j] * qkv[qkv_at(c, b, i, 0, h, d)];
                        dqkv[qkv_at(c, b, j, 2, h, d)] += p[i * T + j] * dout[bthd(c, b, i, h, d)];
                    }
        }
    free(p);
    free(dp);
}

static void qkv_views(const attn_case *c, const lt_tensor *fused, lt_tensor v[3]) {
    int64_t shape[4] = {c->B, c->T, c->H, c->Dh};
    int64_t st[4] = {(int64_t)c->T * 3 * c->H * c->Dh, 3 * c->H * c->Dh, c->Dh, 1};
    for (int w = 0; w < 3; w++)
        OK(lt_tensor_strided(fused, (size_t)w * c->H * c->Dh * sizeof(float), 4, shape, st, &v[w]));
}

/* Forward then backward (fed the oracle's out and lse, so both sides see the same). */
static lt_status attn_run(lt_device *d, const attn_case *c, const float *qkv, const float *dout,
                          const float *out_in, const float *lse_in, float scale, float *out,
                          float *lse, float *dqkv) {
    int64_t sf[1] = {(int64_t)c->B * c->T * 3 * c->H * c->Dh}, so[4] = {c->B, c->T, c->H, c->Dh},
            sl[3] = {c->B, c->H, c->T}, sb[1] = {c->B};
    lt_tensor tf = up(d, LT_F32, 1, sf, qkv), tg = up(d, LT_F32, 1, sf, NULL),
              to = up(d, LT_F32, 4, so, NULL), tl = up(d, LT_F32, 3, sl, NULL),
              tdo = up(d, LT_F32, 4, so, dout), toi = up(d, LT_F32, 4, so, out_in),
              tli = up(d, LT_F32, 3, sl, lse_in), tn = up(d, LT_I32, 1, sb, c->len);
    OK(lt_fill(&tg, 7.0)); /* the gaps of the fused gradient buffer: none here, all written */
    lt_tensor q[3], g[3];
    qkv_views(c, &tf, q);
    qkv_views(c, &tg, g);
    const lt_tensor *len = c->has_len ? &tn : NULL;
    lt_status s = lt_attention_forward(&to, &tl, &q[0], &q[1], &q[2], len, c->causal, scale);
    if (s == LT_OK)
        s = lt_attention_backward(&g[0], &g[1], &g[2], &tdo, &q[0], &q[1], &q[2], &toi, &tli, len,
                                  c->causal, scale);
    if (s == LT_OK) down(&to, out), down(&tl, lse), down(&tg, dqkv);
    lt_tensor_free(&tf), lt_tensor_free(&tg), lt_tensor_free(&to), lt_tensor_free(&tl);
    lt_tensor_free(&tdo), lt_tensor_free(&toi), lt_tensor_free(&tli), lt_tensor_free(&tn);
    return s;
}

static void test_attention(void **state) {
    (void)state;
    NEED_OCL();
    const attn_case cases[] = {
        {2, 37, 2, 8, 1, {37, 20}, 1},
        {2, 37, 2, 8, 0, {5, 37}, 1},
        {1, 70, 1, 16, 1, {0, 0}, 0},
        {2, 9, 3, 5, 0, {0, 9}, 1},
    };
    int ncases = quick() ? 2 : (int)(sizeof cases / sizeof cases[0]);
    for (int ci = 0; ci < ncases; ci++) {
        const attn_case *c = &cases[ci];
        size_t nf = (size_t)c->B * c->T * 3 * c->H * c->Dh, no = nf / 3, nl = (size_t)c->B * c->H * c->T;
        float scale = 1.0f / sqrtf((float)c->Dh);
        float *qkv = malloc(nf * 4), *dout = malloc(no * 4), *out = malloc(no * 4), *lse = malloc(nl * 4),
              *dq = malloc(nf * 4), *of = malloc(no * 4), *lf = malloc(nl * 4), *r1 = malloc(no * 4),
              *r2 = malloc(nl * 4), *r3 = malloc(nf * 4);
        double *wo = malloc(no * 8), *wl = malloc(nl * 8), *wd = malloc(nf * 8);
        fill_rand(qkv, nf, 2.0f);
        fill_rand(dout, no, 1.0f);
        attn_oracle(c, qkv, dout, scale, wo, wl, wd);
        for (size_t i = 0; i < no; i++) of[i] = (float)wo[i];
        for (size_t i = 0; i < nl; i++) lf[i] = (float)wl[i];
        OK(attn_run(ocl, c, qkv, dout, of, lf, scale, out, lse, dq));
        char what[64];
        snprintf(what, sizeof what, "attn case %d out", ci);
        expect_close(what, out, wo, no, 1e-5, 1e-4);
        snprintf(what, sizeof what, "attn case %d lse", ci);
        expect_close(what, lse, wl, nl, 1e-5, 1e-5);
        snprintf(what, sizeof what, "attn case %d dqkv", ci);
        expect_close(what, dq, wd, nf, 2e-5, 1e-3);
        if (ref && ref_ran(attn_run(ref, c, qkv, dout, of, lf, scale, r1, r2, r3), "attention")) {
            expect_close_f("attn out vs ref", out, r1, no, 1e-5, 1e-4);
            expect_close_f("attn dqkv vs ref", dq, r3, nf, 2e-5, 1e-3);
        }
        free(qkv), free(dout), free(out), free(lse), free(dq), free(of), free(lf);
        free(r1), free(r2), free(r3), free(wo), free(wl), free(wd);
    }
}

static void test_decode_kv_write(void **state) {
    (void)state;
    NEED_OCL();
    enum { B = 2, Tmax = 40, H = 2, Dh = 12, Tq = 2 };
    static float kc[B * Tmax * H * Dh], vc[B * Tmax * H * Dh], q[B * Tq * H * Dh], kn[B * Tq * H * Dh];
    static float got[B * Tmax * H * Dh], out[B * Tq * H * Dh];
    static double want[B * Tq * H * Dh];
    fill_rand(kc, sizeof kc / 4, 1.0f), fill_rand(vc, sizeof vc / 4, 1.0f);
    fill_rand(q, sizeof q / 4, 2.0f), fill_rand(kn, sizeof kn / 4, 1.0f);
    int32_t pos[B] = {5, 38}, len[B] = {7, 40};
    int64_t sc[4] = {B, Tmax, H, Dh}, sq[4] = {B, Tq, H, Dh}, sb[1] = {B};
    lt_tensor tk = up(ocl, LT_F32, 4, sc, kc), tv = up(ocl, LT_F32, 4, sc, vc),
              tq = up(ocl, LT_F32, 4, sq, q), tn = up(ocl, LT_F32, 4, sq, kn),
              tp = up(ocl, LT_I32, 1, sb, pos), tl = up(ocl, LT_I32, 1, sb, len),
              to = up(ocl, LT_F32, 4, sq, NULL);
    /* kv_write is a copy: exact. */
    OK(lt_kv_write(&tk, &tn, &tp));
    down(&tk, got);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < Tq; t++)
            memcpy(&kc[((b * Tmax + pos[b] + t) * H) * Dh], &kn[((b * Tq + t) * H) * Dh], H * Dh * 4);
    expect_equal("kv_write", got, kc, sizeof kc);
    int32_t badpos[B] = {5, 39};
    OK(lt_tensor_upload(&tp, badpos, sizeof badpos));
    assert_int_equal(lt_kv_write(&tk, &tn, &tp), LT_ERR_RANGE);
    assert_non_null(strstr(lt_last_error(), "pos[1] = 39"));

    float scale = 0.3f;
    OK(lt_attention_decode(&to, &tq, &tk, &tv, &tl, scale));
    down(&to, out);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < Tq; t++)
            for (int h = 0; h < H; h++) {
                int p = len[b] - Tq + t;
                double s[Tmax], m = -INFINITY, l = 0;
                for (int j = 0; j <= p; j++) {
                    s[j] = 0;
                    for (int d = 0; d < Dh; d++)
                        s[j] += (double)q[((b * Tq + t) * H + h) * Dh + d] * kc[((b * Tmax + j) * H + h) * Dh + d];
                    s[j] *= scale;
                    m = fmax(m, s[j]);
                }
                for (int j = 0; j <= p; j++) l += exp(s[j] - m);
                for (int d = 0; d < Dh; d++) {
                    double a = 0;
                    for (int j = 0; j <= p; j++) a += exp(s[j] - m) / l * vc[((b * Tmax + j) * H + h) * Dh + d];
                    want[((b * Tq + t) * H + h) * Dh + d] = a;
                }
            }
    expect_close("attn_decode", out, want, sizeof out / 4, 1e-5, 1e-4);
    int32_t badlen[B] = {1, 40}; /* 1 < Tq */
    OK(lt_tensor_upload(&tl, badlen, sizeof badlen));
    assert_int_equal(lt_attention_decode(&to, &tq, &tk, &tv, &tl, scale), LT_ERR_RANGE);
    assert_non_null(strstr(lt_last_error(), "lengths[0] = 1"));
    lt_tensor_free(&tk), lt_tensor_free(&tv), lt_tensor_free(&tq), lt_tensor_free(&tn);
    lt_tensor_free(&tp), lt_tensor_free(&tl), lt_tensor_free(&to);
}

/* ---- optimiser ---- */

static void test_adamw_sumsq(void **state) {
    (void)state;
    NEED_OCL();
    enum { N = 3001 };
    static float p[N], m[N], v[N], g[N], gp[N], gm[N], gv[N];
    static double wp[N], wm[N], wv[N];
    static uint8_t mask[N];
    fill_rand(p, N, 1.0f), fill_rand(m, N, 0.1f), fill_rand(g, N, 1.0f);
    for (int i = 0; i < N; i++) v[i] = fabsf(frand()) * 0.01f, mask[i] = (uint8_t)(i % 3 != 0);
    lt_adamw_params ap = {1e-2f, 0.9f, 0.999f, 1e-8f, 0.1f, 0.5f, 7};
    int64_t s[1] = {N};
    lt_tensor tp = up(ocl, LT_F32, 1, s, p), tm = up(ocl, LT_F32, 1, s, m), tv = up(ocl, LT_F32, 1, s, v),
              tg = up(ocl, LT_F32, 1, s, g), tk = up(ocl, LT_U8, 1, s, mask);
    OK(lt_adamw(&tp, &tm, &tv, &tg, &tk, &ap));
    down(&tp, gp), down(&tm, gm), down(&tv, gv);
    double bc1 = 1 - pow(0.9, 7), bc2 = 1 - pow(0.999, 7);
    for (int i = 0; i < N; i++) {
        double gi = g[i] * 0.5;
        wm[i] = 0.9 * m[i] + 0.1 * gi;
        wv[i] = 0.999 * v[i] + 0.001 * gi * gi;
        double wd = mask[i] ? 0.1 : 0.0;
        wp[i] = p[i] - 1e-2 * ((wm[i] / bc1) / (sqrt(wv[i] / bc2) + 1e-8) + wd * p[i]);
    }
    expect_close("adamw m", gm, wm, N, 1e-7, 1e-5);
    expect_close("adamw v", gv, wv, N, 1e-9, 1e-4);
    expect_close("adamw param", gp, wp, N, 1e-6, 1e-5);

    /* sumsq: close to the double sum, and the same bits on every run. */
    int64_t n = quick() ? 20000 : 300000, s1[1] = {1};
    float *x = malloc((size_t)n * 4), r1, r2;
    fill_rand(x, (size_t)n, 1.0f);
    double w = 0;
    for (int64_t i = 0; i < n; i++) w += (double)x[i] * x[i];
    lt_tensor tx = up(ocl, LT_F32, 1, &n, x), to = up(ocl, LT_F32, 1, s1, NULL);
    OK(lt_sumsq(&to, &tx));
    down(&to, &r1);
    OK(lt_sumsq(&to, &tx));
    down(&to, &r2);
    assert_true(memcmp(&r1, &r2, 4) == 0);
    assert_true(fabs(r1 - w) <= 1e-5 * w);
    x[n / 2] = NAN;
    OK(lt_tensor_upload(&tx, x, (size_t)n * 4));
    OK(lt_sumsq(&to, &tx));
    down(&to, &r1);
    assert_true(isnan(r1));
    free(x);
    lt_tensor_free(&tp), lt_tensor_free(&tm), lt_tensor_free(&tv), lt_tensor_free(&tg);
    lt_tensor_free(&tk), lt_tensor_free(&tx), lt_tensor_free(&to);
}

/* ---- sampling ---- */

/* The rule of loretta/rng.h written out on the host, independently of every backend. */
static int32_t sample_rule(const float *row, int V, const lt_sample_params *p, uint64_t id) {
    (void)V;
    int lo = p->range_lo, hi = p->range_hi, n = hi - lo;
#define RK(x) (isnan(x) ? -INFINITY : (x))
    if (p->temperature == 0.0f) {
        int best = lo;
        for (int i = lo + 1; i < hi; i++)
            if (RK(row[i]) > RK(row[best])) best = i;
        return best;
    }
    int k = p->top_k > 0 && p->top_k < n ? p->top_k : n;
    char *kept = calloc((size_t)V, 1);
    for (int c = 0; c < k; c++) { /* selection: the largest not yet kept, lowest index first */
        int best = -1;
        for (int i = lo; i < hi; i++)
            if (!kept[i] && (best < 0 || RK(row[i]) > RK(row[best]))) best = i;
        kept[best] = 1;
    }
    float m = -INFINITY, total = 0.0f, acc = 0.0f;
    for (int i = lo; i < hi; i++)
        if (kept[i] && RK(row[i]) > m) m = RK(row[i]);
    for (int i = lo; i < hi; i++)
        if (kept[i]) total += expf((row[i] - m) / p->temperature);
    float r = lt_rng_uniform(p->seed, id, p->step) * total;
    int token = lo;
    for (int i = lo; i < hi; i++) {
        if (!kept[i]) continue;
        token = i;
        acc += expf((row[i] - m) / p->temperature);
        if (acc > r) break;
    }
    free(kept);
    return token;
#undef RK
}

static void test_sample(void **state) {
    (void)state;
    NEED_OCL();
    enum { B = 6, V = 500 };
    static float x[B * V];
    fill_rand(x, B * V, 3.0f);
    x[0 * V + 100] = x[0 * V + 40] = 9.0f; /* tie: 40 wins the argmax */
    x[1 * V + 7] = NAN;                     /* NaN ranks below everything */
    for (int i = 0; i < 60; i++) x[2 * V + 200 + i] = 2.9f; /* ties across the top-k cut */
    int32_t ids[B] = {11, 0, 5, 3, 2, 1000000};
    int64_t sx[2] = {B, V}, sb[1] = {B};
    lt_tensor tx = up(ocl, LT_F32, 2, sx, x), ti = up(ocl, LT_I32, 1, sb, ids), tt = up(ocl, LT_I32, 1, sb, NULL);
    const lt_sample_params ps[] = {
        {42, 0, 0.0f, 0, 0, V},     {42, 3, 1.0f, 0, 0, V},    {7, 9, 0.7f, 50, 0, V},
        {7, 10, 2.0f, 5, 100, 300}, {1, 1, 1.0f, 1, 0, V},      {99, 123456789012ull, 0.01f, 0, 10, 20},
    };
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        for (int with_ids = 0; with_ids < 2; with_ids++) {
            int32_t got[B];
            OK(lt_sample(&tt, &tx, with_ids ? &ti : NULL, &ps[k]));
            down(&tt, got);
            for (int b = 0; b < B; b++) {
                uint64_t id = with_ids ? (uint64_t)(uint32_t)ids[b] : (uint64_t)b;
                int32_t want = sample_rule(&x[b * V], V, &ps[k], id);
                if (got[b] != want)
                    fail_msg("sample params %zu ids %d row %d: got %d, rule draws %d", k, with_ids, b,
                             got[b], want);
            }
        }
    }
    lt_tensor_free(&tx), lt_tensor_free(&ti), lt_tensor_free(&tt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_info),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_build_failure_reports_log),
        cmocka_unit_test(test_kernel_cache),
        cmocka_unit_test(test_fill_copy_cast),
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_embed),
        cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_cross_entropy),
        cmocka_unit_test(test_attention),
        cmocka_unit_test(test_decode_kv_write),
        cmocka_unit_test(test_adamw_sumsq),
        cmocka_unit_test(test_sample),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
