/* tests/test_train_data.c - token .npy files (dtypes, bad headers, truncation), the
 * deterministic window sampler of `loretta train`, and the whole-step conformance of
 * the cpu device against the ref oracle. */
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

#include "loretta/loretta.h"
#include "loretta/train.h"

static char path[512];

/* A .npy file with the given descr, shape text and raw data bytes. */
static void write_npy(const char *descr, const char *shape, const void *data, size_t bytes,
                      size_t truncate_to) {
    char dict[256];
    int dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    size_t total = 10 + (size_t)dl + 1, pad = (64 - total % 64) % 64, hlen = (size_t)dl + pad + 1;
    unsigned char *buf = malloc(10 + hlen + bytes);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
    memcpy(buf, pre, 10);
    memcpy(buf + 10, dict, (size_t)dl);
    memset(buf + 10 + dl, ' ', pad);
    buf[10 + hlen - 1] = '\n';
    memcpy(buf + 10 + hlen, data, bytes);
    size_t n = 10 + hlen + bytes;
    if (truncate_to && truncate_to < n) n = truncate_to;
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    fclose(f);
    free(buf);
}

static void test_npy_dtypes(void **state) {
    (void)state;
    int32_t *t = NULL;
    int64_t n = 0;
    const uint8_t u8[5] = {1, 2, 3, 250, 255};
    write_npy("|u1", "(5,)", u8, 5, 0);
    assert_int_equal(lt_npy_load_tokens(path, &t, &n), LT_OK);
    assert_int_equal(n, 5);
    assert_int_equal(t[3], 250);
    free(t);
    const uint16_t u16[3] = {7, 300, 65535};
    write_npy("<u2", "(3,)", u16, 6, 0);
    assert_int_equal(lt_npy_load_tokens(path, &t, &n), LT_OK);
    assert_int_equal(n, 3);
    assert_int_equal(t[2], 65535);
    free(t);
    const int32_t i32[4] = {0, 1, 299, 5};
    write_npy("<i4", "(2, 2)", i32, 16, 0); /* any rank, read flat */
    assert_int_equal(lt_npy_load_tokens(path, &t, &n), LT_OK);
    assert_int_equal(n, 4);
    assert_int_equal(t[2], 299);
    free(t);
    /* Round trip through our writer. */
    assert_int_equal(lt_npy_save_i32(path, i32, 4), LT_OK);
    assert_int_equal(lt_npy_load_tokens(path, &t, &n), LT_OK);
    assert_int_equal(n, 4);
    assert_memory_equal(t, i32, 16);
    free(t);
}

static void test_npy_bad(void **state) {
    (void)state;
    int32_t *t = NULL;
    int64_t n = 0;
    const float f32[2] = {1.0f, 2.0f};
    write_npy("<f4", "(2,)", f32, 8, 0);
    assert_int_equal(lt_npy_load_tokens(path, &t, &n), LT_ERR_DTYPE);
    assert_non_null(strstr(lt_last_error(), "'<f4'"));
    const int32_t neg[2] = {1, -3};
    write_npy("<i4", "(2,)", neg, 8, 0);
    assert_int_equal(lt_npy_load_tokens(path, &t, &n), LT_ERR_RANGE);
    const uint8_t u8[8] = {0};
    write_npy("|u1", "(100,)", u8, 8, 0); /* header promises more than the file holds */
    assert_int_equal(lt_npy_load_tokens(path, &t, &n), LT_ERR_FORMAT);
    assert_non_null(strstr(lt_last_error(), "100 tokens"));
    write_npy("|u1", "(8,)", u8, 8, 30); /* truncated inside the header */
    assert_int_equal(lt_npy_load_tokens(path, &t, &n), LT_ERR_FORMAT);
    FILE *f = fopen(path, "wb");
    fputs("not numpy at all", f);
    fclose(f);
    assert_int_equal(lt_npy_load_tokens(path, &t, &n), LT_ERR_FORMAT);
    assert_non_null(strstr(lt_last_error(), "magic"));
    assert_null(t);
    assert_int_equal(lt_npy_load_tokens("/nonexistent.npy", &t, &n), LT_ERR_IO);
}

static void test_windows(void **state) {
    (void)state;
    lt_model_config mc;
    assert_int_equal(lt_model_config_preset("tiny", &mc), LT_OK);
    int32_t stream[500];
    for (int i = 0; i < 500; i++) stream[i] = i % 256;
    lt_window_batch a, b;
    assert_int_equal(lt_window_batch_alloc(3, 16, &a), LT_OK);
    assert_int_equal(lt_window_batch_alloc(3, 16, &b), LT_OK);
    assert_int_equal(lt_window_batch_fill(&a, &mc, stream, 500, 42, 7), LT_OK);
    assert_int_equal(lt_window_batch_fill(&b, &mc, stream, 500, 42, 7), LT_OK);
    assert_memory_equal(a.tokens, b.tokens, 3 * 16 * 4); /* same (seed, draw): same windows */
    for (int i = 0; i < 3 * 16; i++) {
        assert_int_equal(a.targets[i], (a.tokens[i] + 1) % 256 == 0 && a.tokens[i] == 255 ? 0 : a.tokens[i] + 1);
        assert_true(a.weights[i] == 1.0f);
        assert_int_equal(a.pos_ids[i], i % 16); /* modality a, base 0 */
    }
    assert_int_equal(lt_window_batch_fill(&b, &mc, stream, 500, 42, 8), LT_OK);
    assert_memory_not_equal(a.tokens, b.tokens, 3 * 16 * 4);
    stream[100] = 400; /* outside the vocabulary of 300 */
    int bad = 0;
    for (uint64_t d = 0; d < 64; d++) bad |= lt_window_batch_fill(&a, &mc, stream, 500, 1, d) == LT_ERR_RANGE;
    assert_true(bad);
    assert_int_equal(lt_window_batch_fill(&a, &mc, stream, 10, 1, 0), LT_ERR_INVALID_ARG);
    lt_window_batch_free(&a);
    lt_window_batch_free(&b);
}

/* The cpu device against the plain-loop oracle over a few whole steps. */
static void test_step_conformance(void **state) {
    (void)state;
    lt_device *cpu = NULL, *ref = NULL;
    assert_int_equal(lt_device_find("cpu", 0, &cpu), LT_OK);
    if (lt_device_find("ref", 0, &ref) != LT_OK) {
        skip();
        return;
    }
    lt_model_config mc;
    assert_int_equal(lt_model_config_preset("tiny", &mc), LT_OK);
    lt_train_conf_result r = {-1, -1, -1};
    lt_status s = lt_train_conformance(cpu, ref, &mc, LT_PRECISION_FP32, 2, 16, 3, stdout, &r);
    if (s != LT_OK) fail_msg("%s", lt_last_error());
    assert_true(r.loss_diff >= 0 && r.loss_diff < 1e-5);
    assert_true(r.drift_max >= 0 && r.drift_max < 1e-4);
    assert_true(r.drift_l2 >= 0 && r.drift_l2 < 1e-4);
}

int main(void) {
    if (lt_init() != LT_OK) return 1;
    snprintf(path, sizeof path, "%s/train_data_%ld.npy", LT_BINARY_DIR, (long)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npy_dtypes),
        cmocka_unit_test(test_npy_bad),
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_step_conformance),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    remove(path);
    return rc;
}
