/* tests/test_unit_core.c - tensors, views, status messages, the device registry, and
 * the argument checks of the op wrappers (bad calls return a status naming the op and
 * the argument, never crash). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "loretta/loretta.h"

static lt_device *cpu(void) {
    lt_device *d = NULL;
    assert_int_equal(lt_device_find("cpu", 0, &d), LT_OK);
    return d;
}

static void test_dtype_roundtrip(void **state) {
    (void)state;
    float vals[] = {0.0f, 1.0f, -2.5f, 3.14159f, 65504.0f, 1e-3f};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        float b = lt_bf16_to_f32(lt_f32_to_bf16(vals[i]));
        float h = lt_f16_to_f32(lt_f32_to_f16(vals[i]));
        assert_true(b == vals[i] || (b - vals[i]) / vals[i] < 1.0f / 128);
        assert_true(h == vals[i] || ((h - vals[i]) / vals[i] < 1.0f / 1024 && (h - vals[i]) / vals[i] > -1.0f / 1024));
    }
    assert_int_equal(lt_f32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(lt_f32_to_f16(1.0f), 0x3c00);
    assert_int_equal(lt_f32_to_f16(1e6f), 0x7c00); /* overflow to inf */
    lt_dtype t;
    assert_int_equal(lt_dtype_parse("bf16", &t), LT_OK);
    assert_int_equal(t, LT_BF16);
    assert_int_equal(lt_dtype_parse("f8", &t), LT_ERR_INVALID_ARG);
    assert_non_null(strstr(lt_last_error(), "f8"));
}

static void test_views(void **state) {
    (void)state;
    lt_tensor t, v, r;
    int64_t shape[2] = {4, 6};
    assert_int_equal(lt_tensor_alloc(cpu(), LT_F32, 2, shape, &t), LT_OK);
    assert_true(lt_tensor_is_contiguous(&t));
    int64_t vs[2] = {4, 2}, st[2] = {6, 1};
    assert_int_equal(lt_tensor_strided(&t, 4 * sizeof(float), 2, vs, st, &v), LT_OK);
    assert_false(lt_tensor_is_contiguous(&v));
    int64_t flat[1] = {24};
    assert_int_equal(lt_tensor_reshape(&t, 1, flat, &r), LT_OK);
    int64_t bad[1] = {25};
    assert_int_equal(lt_tensor_reshape(&t, 1, bad, &r), LT_ERR_SHAPE);
    int64_t big[2] = {5, 6};
    assert_int_equal(lt_tensor_view(&t, 0, LT_F32, 2, big, &r), LT_ERR_SHAPE);
    assert_non_null(strstr(lt_last_error(), "exceeds its buffer"));
    lt_tensor_free(&t);
}

static void test_out_of_memory(void **state) {
    (void)state;
    lt_device *d = cpu();
    lt_tensor t;
    int64_t huge[2] = {(int64_t)1 << 30, 1 << 10};
    assert_int_equal(lt_tensor_alloc(d, LT_F32, 2, huge, &t), LT_ERR_OUT_OF_MEMORY);
    assert_non_null(strstr(lt_last_error(), "cpu"));
    size_t before = d->bytes_in_use;
    lt_device_set_memory_limit(d, before + 1000);
    int64_t s[1] = {1000};
    assert_int_equal(lt_tensor_alloc(d, LT_F32, 1, s, &t), LT_ERR_OUT_OF_MEMORY);
    assert_non_null(strstr(lt_last_error(), "exceeds"));
    lt_device_set_memory_limit(d, 0);
    assert_int_equal(d->bytes_in_use, before);
}

static void test_registry(void **state) {
    (void)state;
    assert_true(lt_device_count() >= 2); /* cpu and ref */
    lt_device *d = NULL;
    assert_int_equal(lt_device_find(NULL, 0, &d), LT_OK);
    assert_false(d->info.is_reference);
    assert_int_equal(lt_device_find("ref", 0, &d), LT_OK);
    assert_true(d->info.is_reference);
    assert_int_equal(lt_device_find("cpu", 7, &d), LT_ERR_DEVICE);
    assert_int_equal(lt_device_find("nosuch", 0, &d), LT_ERR_DEVICE);
    assert_non_null(strstr(lt_last_error(), "nosuch"));
}

static void test_bad_calls(void **state) {
    (void)state;
    lt_device *d = cpu();
    lt_tensor a, b, c, tok, w;
    int64_t sa[2] = {3, 4}, sb[2] = {5, 6}, sc[2] = {3, 6}, st[1] = {3}, sw[1] = {7};
    assert_int_equal(lt_tensor_alloc(d, LT_F32, 2, sa, &a), LT_OK);
    assert_int_equal(lt_tensor_alloc(d, LT_F32, 2, sb, &b), LT_OK);
    assert_int_equal(lt_tensor_alloc(d, LT_F32, 2, sc, &c), LT_OK);
    assert_int_equal(lt_tensor_alloc(d, LT_F32, 1, st, &tok), LT_OK);
    assert_int_equal(lt_tensor_alloc(d, LT_F32, 1, sw, &w), LT_OK);

    assert_int_equal(lt_matmul(&c, &a, &b, 0, 0, 1.0f, 0), LT_ERR_SHAPE);
    assert_non_null(strstr(lt_last_error(), "matmul"));
    assert_non_null(strstr(lt_last_error(), "inner dims"));

    lt_tensor emb_out;
    int64_t se[2] = {3, 6};
    assert_int_equal(lt_tensor_alloc(d, LT_F32, 2, se, &emb_out), LT_OK);
    assert_int_equal(lt_embed_forward(&emb_out, &tok, &b, 0), LT_ERR_DTYPE); /* tokens f32 */
    assert_non_null(strstr(lt_last_error(), "tokens"));

    lt_tensor rstd;
    assert_int_equal(lt_tensor_alloc(d, LT_F32, 1, st, &rstd), LT_OK);
    assert_int_equal(lt_rmsnorm_forward(&a, &rstd, &a, &w, 1e-5f), LT_ERR_SHAPE);
    assert_non_null(strstr(lt_last_error(), "w has 7"));

    assert_int_equal(lt_matmul(NULL, &a, &b, 0, 0, 1.0f, 0), LT_ERR_INVALID_ARG);
    lt_tensor_free(&a);
    lt_tensor_free(&b);
    lt_tensor_free(&c);
    lt_tensor_free(&tok);
    lt_tensor_free(&w);
    lt_tensor_free(&emb_out);
    lt_tensor_free(&rstd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtype_roundtrip), cmocka_unit_test(test_views),
        cmocka_unit_test(test_out_of_memory),   cmocka_unit_test(test_registry),
        cmocka_unit_test(test_bad_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
