/* tests/test_unit_tokenize.c - the tokenisers of loretta/tokenize.h: value binning edges,
 * clamping and NaN, bin-params round trip; PCA against numpy (tools/golden/
 * make_pca_golden.py), PCA save/load and truncated files; .npy codes of every dtype and
 * the malformed ones. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loretta/tokenize.h"

static char dir[128];

static const char *tmp(const char *name) {
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

/* ---- binning ---------------------------------------------------------------------- */

static void test_bin_edges(void **state) {
    (void)state;
    /* 3 training rows, 2 features: feature 0 in [-1, 3], feature 1 in [10, 20]. */
    const double train[] = {-1, 10, 3, 20, 1, 15};
    lt_bin_params p;
    assert_int_equal(lt_bin_fit(train, 3, 2, 4, LT_BIN_PER_FEATURE, &p), LT_OK);
    assert_true(p.lo[0] == -1 && p.hi[0] == 3 && p.lo[1] == 10 && p.hi[1] == 20);
    uint16_t t[6];
    assert_int_equal(lt_bin_apply(&p, train, 3, t), LT_OK);
    assert_int_equal(t[0], 0); /* lowest -> 0 */
    assert_int_equal(t[1], 0);
    assert_int_equal(t[2], 3); /* highest -> levels-1 */
    assert_int_equal(t[3], 3);
    assert_int_equal(t[4], 2); /* (1+1)/4*4 = 2 exactly: floor of an exact edge */
    assert_int_equal(t[5], 2);
    /* Test values outside the training range clamp; just inside an edge stays below it. */
    const double test[] = {-100, 1e300, 2.9999, -INFINITY, 0.9999, INFINITY};
    assert_int_equal(lt_bin_apply(&p, test, 3, t), LT_OK);
    assert_int_equal(t[0], 0);
    assert_int_equal(t[1], 3);
    assert_int_equal(t[2], 3);
    assert_int_equal(t[3], 0);
    assert_int_equal(t[4], 1);
    assert_int_equal(t[5], 3);
    lt_bin_params_free(&p);

    /* Global range over both features: [-1, 20]. */
    assert_int_equal(lt_bin_fit(train, 3, 2, 1000, LT_BIN_GLOBAL, &p), LT_OK);
    assert_true(p.lo[0] == -1 && p.hi[1] == 20 && p.lo[1] == -1 && p.hi[0] == 20);
    assert_int_equal(lt_bin_apply(&p, train, 3, t), LT_OK);
    assert_int_equal(t[0], 0);
    assert_int_equal(t[3], 999);
    assert_int_equal(t[1], (uint16_t)floor(11.0 / 21.0 * 1000));
    lt_bin_params_free(&p);

    /* Given range; a constant feature. */
    assert_int_equal(lt_bin_range(1, 10, 0.0, 1.0, &p), LT_OK);
    const double g[] = {0.0, 0.05, 0.1, 0.95, 1.0, 2.0};
    uint16_t gt[6];
    assert_int_equal(lt_bin_apply(&p, g, 6, gt), LT_OK);
    const uint16_t want[] = {0, 0, 1, 9, 9, 9};
    for (int i = 0; i < 6; i++) assert_int_equal(gt[i], want[i]);
    lt_bin_params_free(&p);
    const double c[] = {5, 5, 5};
    assert_int_equal(lt_bin_fit(c, 3, 1, 10, LT_BIN_PER_FEATURE, &p), LT_OK);
    const double c2[] = {4, 5, 6};
    assert_int_equal(lt_bin_apply(&p, c2, 3, gt), LT_OK);
    assert_int_equal(gt[0], 0);
    assert_int_equal(gt[1], 0);
    assert_int_equal(gt[2], 9);
    lt_bin_params_free(&p);

    assert_int_equal(lt_bin_fit(train, 3, 2, 1, LT_BIN_GLOBAL, &p), LT_ERR_INVALID_ARG);
    assert_int_equal(lt_bin_fit(train, 3, 2, 70000, LT_BIN_GLOBAL, &p), LT_ERR_INVALID_ARG);
    assert_int_equal(lt_bin_range(1, 10, 1.0, 0.0, &p), LT_ERR_INVALID_ARG);
}

static void test_bin_nan(void **state) {
    (void)state;
    const double train[] = {0, 1, 2, NAN, 4, 5};
    lt_bin_params p;
    assert_int_equal(lt_bin_fit(train, 3, 2, 10, LT_BIN_PER_FEATURE, &p), LT_ERR_NUMERIC);
    assert_non_null(strstr(lt_last_error(), "sample 1, feature 1"));
    assert_null(p.lo);
    const double ok[] = {0, 1, 2, 3};
    assert_int_equal(lt_bin_fit(ok, 2, 2, 10, LT_BIN_PER_FEATURE, &p), LT_OK);
    const double bad[] = {0, 1, 2, 3, NAN, 1};
    uint16_t t[6];
    assert_int_equal(lt_bin_apply(&p, bad, 3, t), LT_ERR_NUMERIC);
    assert_non_null(strstr(lt_last_error(), "sample 2, feature 0 is NaN"));
    lt_bin_params_free(&p);
}

static void test_bin_save_load(void **state) {
    (void)state;
    const double train[] = {-1.5, 10, 3.25, 20, 1, 15};
    lt_bin_params p, q;
    assert_int_equal(lt_bin_fit(train, 3, 2, 1000, LT_BIN_PER_FEATURE, &p), LT_OK);
    assert_int_equal(lt_bin_save(&p, tmp("b.bins")), LT_OK);
    assert_int_equal(lt_bin_load(tmp("b.bins"), &q), LT_OK);
    assert_int_equal(q.dim, 2);
    assert_int_equal(q.levels, 1000);
    assert_int_equal(q.mode, LT_BIN_PER_FEATURE);
    for (int j = 0; j < 2; j++) assert_true(q.lo[j] == p.lo[j] && q.hi[j] == p.hi[j]);
    lt_bin_params_free(&q);
    /* Truncate by 8 bytes. */
    FILE *f = fopen(tmp("b.bins"), "rb");
    unsigned char buf[256];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    f = fopen(tmp("short.bins"), "wb");
    fwrite(buf, 1, n - 8, f);
    fclose(f);
    assert_int_equal(lt_bin_load(tmp("short.bins"), &q), LT_ERR_FORMAT);
    assert_non_null(strstr(lt_last_error(), "short.bins"));
    assert_null(q.lo);
    lt_bin_params_free(&p);
}

/* ---- PCA -------------------------------------------------------------------------- */

/* The same formula as tools/golden/make_pca_golden.py. */
static double x_at(int i, int j) {
    return sin(0.37 * (i + 1) * (j + 1)) + 0.1 * cos(1.7 * i - 0.3 * j) + 0.05 * j +
           0.02 * ((i * 7 + j * 3) % 11);
}

typedef struct golden {
    int n, d, k, t;
    double ratio[8], var[8];
    double *proj; /* [(n+t), k] */
    double *x;    /* [(n+t), d] */
} golden;

static void read_golden(golden *g) {
    FILE *f = fopen(LT_SOURCE_DIR "/tests/golden/pca_golden.txt", "r");
    assert_non_null(f);
    char line[512];
    assert_non_null(fgets(line, sizeof line, f));
    assert_int_equal(fscanf(f, "%d %d %d %d", &g->n, &g->d, &g->k, &g->t), 4);
    assert_true(g->k <= 8);
    for (int c = 0; c < g->k; c++) assert_int_equal(fscanf(f, "%lf", &g->ratio[c]), 1);
    for (int c = 0; c < g->k; c++) assert_int_equal(fscanf(f, "%lf", &g->var[c]), 1);
    const int rows = g->n + g->t;
    g->proj = malloc(sizeof(double) * (size_t)(rows * g->k));
    for (int i = 0; i < rows * g->k; i++) assert_int_equal(fscanf(f, "%lf", &g->proj[i]), 1);
    fclose(f);
    g->x = malloc(sizeof(double) * (size_t)(rows * g->d));
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < g->d; j++) g->x[i * g->d + j] = x_at(i, j);
}

static void test_pca_golden(void **state) {
    (void)state;
    golden g;
    read_golden(&g);
    lt_pca *p = NULL;
    lt_status s = lt_pca_fit(g.x, g.n, g.d, g.k, &p);
#ifndef LT_HAVE_LAPACKE
    assert_int_equal(s, LT_ERR_UNSUPPORTED);
    assert_non_null(strstr(lt_last_error(), "liblapacke-dev"));
    free(g.proj);
    free(g.x);
    return;
#endif
    assert_int_equal(s, LT_OK);
    assert_int_equal(lt_pca_components(p), g.k);
    assert_int_equal(lt_pca_input_dim(p), g.d);
    assert_int_equal(lt_pca_levels(p), 1000);
    const int rows = g.n + g.t;
    for (int c = 0; c < g.k; c++) {
        assert_true(fabs(lt_pca_explained_variance_ratio(p)[c] - g.ratio[c]) < 1e-12);
        assert_true(fabs(lt_pca_explained_variance(p)[c] - g.var[c]) < 1e-10);
        double norm = 0;
        for (int j = 0; j < g.d; j++) norm += lt_pca_axes(p)[c * g.d + j] * lt_pca_axes(p)[c * g.d + j];
        assert_true(fabs(norm - 1.0) < 1e-12);
    }
    double *proj = malloc(sizeof(double) * (size_t)(rows * g.k));
    assert_int_equal(lt_pca_transform(p, g.x, rows, proj), LT_OK);
    double worst = 0;
    for (int i = 0; i < rows * g.k; i++) worst = fmax(worst, fabs(proj[i] - g.proj[i]));
    assert_true(worst < 1e-9);

    /* Tokens: training extremes of each component hit 0 and levels-1; every held-out
     * token is in range. */
    uint16_t *tok = malloc(sizeof(uint16_t) * (size_t)(rows * g.k));
    assert_int_equal(lt_pca_tokenize(p, g.x, rows, tok), LT_OK);
    for (int c = 0; c < g.k; c++) {
        int lo = 1000, hi = -1;
        for (int i = 0; i < g.n; i++) {
            lo = tok[i * g.k + c] < lo ? tok[i * g.k + c] : lo;
            hi = tok[i * g.k + c] > hi ? tok[i * g.k + c] : hi;
        }
        assert_int_equal(lo, 0);
        assert_int_equal(hi, 999);
    }
    for (int i = 0; i < rows * g.k; i++) assert_true(tok[i] < 1000);

    /* Save/load round trip gives identical tokens. */
    assert_int_equal(lt_pca_save(p, tmp("m.pca")), LT_OK);
    lt_pca *q = NULL;
    assert_int_equal(lt_pca_load(tmp("m.pca"), &q), LT_OK);
    assert_int_equal(lt_pca_components(q), g.k);
    uint16_t *tok2 = malloc(sizeof(uint16_t) * (size_t)(rows * g.k));
    assert_int_equal(lt_pca_tokenize(q, g.x, rows, tok2), LT_OK);
    assert_memory_equal(tok, tok2, sizeof(uint16_t) * (size_t)(rows * g.k));
    for (int c = 0; c < g.k; c++) assert_true(lt_pca_explained_variance_ratio(q)[c] == lt_pca_explained_variance_ratio(p)[c]);
    lt_pca_free(q);

    /* Truncated file: rejected, message names the file. */
    FILE *f = fopen(tmp("m.pca"), "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    unsigned char *buf = malloc((size_t)size);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    f = fopen(tmp("cut.pca"), "wb");
    fwrite(buf, 1, (size_t)size - 16, f);
    fclose(f);
    assert_int_equal(lt_pca_load(tmp("cut.pca"), &q), LT_ERR_FORMAT);
    assert_non_null(strstr(lt_last_error(), "cut.pca"));
    assert_null(q);
    f = fopen(tmp("hdr.pca"), "wb");
    fwrite(buf, 1, 20, f);
    fclose(f);
    assert_int_equal(lt_pca_load(tmp("hdr.pca"), &q), LT_ERR_FORMAT);
    assert_non_null(strstr(lt_last_error(), "hdr.pca"));
    free(buf);

    /* NaN in a row to transform. */
    g.x[3] = NAN;
    assert_int_equal(lt_pca_transform(p, g.x, 1, proj), LT_ERR_NUMERIC);
    assert_non_null(strstr(lt_last_error(), "sample 0, feature 3"));
    assert_int_equal(lt_pca_fit(g.x, g.n, g.d, g.d + 1, &q), LT_ERR_INVALID_ARG);

    free(tok);
    free(tok2);
    free(proj);
    lt_pca_free(p);
    free(g.proj);
    free(g.x);
}

/* ---- npy codes -------------------------------------------------------------------- */

static void write_npy(const char *path, const char *descr, const char *fortran, const char *shape,
                      const void *data, size_t bytes) {
    char dict[160];
    int dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr, fortran, shape);
    size_t total = 10 + (size_t)dl + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)dl + pad + 1;
    FILE *f = fopen(path, "wb");
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
    fwrite(pre, 1, 10, f);
    fwrite(dict, 1, (size_t)dl, f);
    for (size_t i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    fwrite(data, 1, bytes, f);
    fclose(f);
}

static void test_npy_codes(void **state) {
    (void)state;
    uint16_t *codes;
    int64_t r, c;
    int32_t mx;
    /* Host is little endian (x86/arm64), so the arrays are written as they lie. */
    const uint8_t u8[6] = {0, 1, 2, 3, 4, 255};
    write_npy(tmp("u8.npy"), "|u1", "False", "(2, 3)", u8, sizeof u8);
    assert_int_equal(lt_npy_codes_load(tmp("u8.npy"), &codes, &r, &c, &mx), LT_OK);
    assert_int_equal(r, 2);
    assert_int_equal(c, 3);
    assert_int_equal(mx, 255);
    assert_int_equal(codes[4], 4);
    free(codes);
    const uint16_t u16[4] = {7, 65535, 0, 9};
    write_npy(tmp("u16.npy"), "<u2", "False", "(4,)", u16, sizeof u16);
    assert_int_equal(lt_npy_codes_load(tmp("u16.npy"), &codes, &r, &c, &mx), LT_OK);
    assert_int_equal(r, 1);
    assert_int_equal(c, 4);
    assert_int_equal(mx, 65535);
    assert_int_equal(codes[1], 65535);
    free(codes);
    const int32_t i32[6] = {5, 4, 3, 2, 1, 511};
    write_npy(tmp("i32.npy"), "<i4", "False", "(3, 2)", i32, sizeof i32);
    assert_int_equal(lt_npy_codes_load(tmp("i32.npy"), &codes, &r, &c, &mx), LT_OK);
    assert_int_equal(r, 3);
    assert_int_equal(c, 2);
    assert_int_equal(mx, 511);
    assert_int_equal(codes[2], 3);
    free(codes);
    const int64_t i64[4] = {1023, 0, 17, 1};
    write_npy(tmp("i64.npy"), "<i8", "False", "(2, 2)", i64, sizeof i64);
    assert_int_equal(lt_npy_codes_load(tmp("i64.npy"), &codes, &r, &c, &mx), LT_OK);
    assert_int_equal(mx, 1023);
    assert_int_equal(codes[2], 17);
    free(codes);

    /* Errors: negative and too-large codes name row and column. */
    const int32_t neg[6] = {5, 4, 3, 2, -1, 0};
    write_npy(tmp("neg.npy"), "<i4", "False", "(3, 2)", neg, sizeof neg);
    assert_int_equal(lt_npy_codes_load(tmp("neg.npy"), &codes, &r, &c, &mx), LT_ERR_RANGE);
    assert_non_null(strstr(lt_last_error(), "row 2, column 0"));
    assert_null(codes);
    const int64_t big[2] = {0, 70000};
    write_npy(tmp("big.npy"), "<i8", "False", "(2,)", big, sizeof big);
    assert_int_equal(lt_npy_codes_load(tmp("big.npy"), &codes, &r, &c, &mx), LT_ERR_RANGE);
    assert_non_null(strstr(lt_last_error(), "row 0, column 1"));
    /* Fortran order, wrong size (short and long), 3-D, float dtype, big endian. */
    write_npy(tmp("f.npy"), "<i4", "True", "(3, 2)", i32, sizeof i32);
    assert_int_equal(lt_npy_codes_load(tmp("f.npy"), &codes, &r, &c, &mx), LT_ERR_FORMAT);
    assert_non_null(strstr(lt_last_error(), "Fortran"));
    write_npy(tmp("short.npy"), "<i4", "False", "(3, 3)", i32, sizeof i32);
    assert_int_equal(lt_npy_codes_load(tmp("short.npy"), &codes, &r, &c, &mx), LT_ERR_FORMAT);
    assert_non_null(strstr(lt_last_error(), "short.npy"));
    write_npy(tmp("long.npy"), "<i4", "False", "(2, 2)", i32, sizeof i32);
    assert_int_equal(lt_npy_codes_load(tmp("long.npy"), &codes, &r, &c, &mx), LT_ERR_FORMAT);
    write_npy(tmp("3d.npy"), "|u1", "False", "(1, 2, 3)", u8, sizeof u8);
    assert_int_equal(lt_npy_codes_load(tmp("3d.npy"), &codes, &r, &c, &mx), LT_ERR_SHAPE);
    write_npy(tmp("f4.npy"), "<f4", "False", "(6,)", i32, sizeof i32);
    assert_int_equal(lt_npy_codes_load(tmp("f4.npy"), &codes, &r, &c, &mx), LT_ERR_DTYPE);
    write_npy(tmp("be.npy"), ">i4", "False", "(6,)", i32, sizeof i32);
    assert_int_equal(lt_npy_codes_load(tmp("be.npy"), &codes, &r, &c, &mx), LT_ERR_DTYPE);
    FILE *f = fopen(tmp("junk.npy"), "wb");
    fputs("not numpy at all", f);
    fclose(f);
    assert_int_equal(lt_npy_codes_load(tmp("junk.npy"), &codes, &r, &c, &mx), LT_ERR_FORMAT);
    assert_int_equal(lt_npy_codes_load(tmp("missing.npy"), &codes, &r, &c, &mx), LT_ERR_IO);
}

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/lt_tokenize_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    const char *names[] = {"b.bins", "short.bins", "m.pca", "cut.pca", "hdr.pca", "u8.npy", "u16.npy",
                           "i32.npy", "i64.npy", "neg.npy", "big.npy", "f.npy", "short.npy", "long.npy",
                           "3d.npy", "f4.npy", "be.npy", "junk.npy"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) unlink(tmp(names[i]));
    rmdir(dir);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bin_edges),   cmocka_unit_test(test_bin_nan),
        cmocka_unit_test(test_bin_save_load), cmocka_unit_test(test_pca_golden),
        cmocka_unit_test(test_npy_codes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
