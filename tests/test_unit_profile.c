/* tests/test_unit_profile.c - the op profiler (loretta/profile.h): nothing is recorded
 * while it is off; on, every dispatched op is counted once under its own kind, failed
 * ops are counted as failed, and the FLOP counts follow the documented formulas
 * (matmul 2*M*N*K per batch, attention 4*B*H*T^2*Dh halved when causal, backward 2.5x). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "loretta/loretta.h"
#include "loretta/profile.h"

static lt_device *device(void) {
    lt_device *d = NULL;
    if (lt_init() != LT_OK || lt_device_find("ref", 0, &d) != LT_OK)
        fail_msg("no ref device: %s", lt_last_error());
    return d;
}

static lt_tensor alloc(lt_device *d, int ndim, const int64_t *shape) {
    lt_tensor t;
    if (lt_tensor_alloc(d, LT_F32, ndim, shape, &t) != LT_OK) fail_msg("alloc: %s", lt_last_error());
    if (lt_fill(&t, 0.5) != LT_OK) fail_msg("fill: %s", lt_last_error());
    return t;
}

static void test_counts(void **state) {
    (void)state;
    lt_device *d = device();
    int64_t sa[3] = {2, 3, 4}, sb[2] = {5, 4}, sc[3] = {2, 3, 5};
    lt_tensor a = alloc(d, 3, sa), b = alloc(d, 2, sb), c = alloc(d, 3, sc);
    lt_profile p;

    lt_profile_reset();
    assert_int_equal(lt_profile_enabled(), 0);
    assert_int_equal(lt_matmul(&c, &a, &b, 0, 1, 1.0f, 0), LT_OK);
    lt_profile_get(&p);
    assert_int_equal(p.op[LT_OP_MATMUL].calls, 0);

    lt_profile_enable(1);
    assert_int_equal(lt_profile_enabled(), 1);
    for (int i = 0; i < 3; i++) assert_int_equal(lt_matmul(&c, &a, &b, 0, 1, 1.0f, 0), LT_OK);
    assert_int_equal(lt_scale(&c, &c, 2.0f), LT_OK);
    lt_profile_enable(0);
    assert_int_equal(lt_scale(&c, &c, 2.0f), LT_OK); /* off again: not counted */
    lt_profile_get(&p);
    assert_int_equal(p.op[LT_OP_MATMUL].calls, 3);
    assert_int_equal(p.op[LT_OP_SCALE].calls, 1);
    assert_int_equal(p.failed, 0);
    assert_true(p.op[LT_OP_MATMUL].seconds >= 0.0);
    /* [2,3,4] x [5,4]^T: 2 * (2*3*5*4) per call. */
    assert_true(p.op[LT_OP_MATMUL].flops == 3 * 2.0 * 2 * 3 * 5 * 4);
    assert_true(p.op[LT_OP_SCALE].flops == 0.0);
    int64_t total = 0;
    for (int op = 0; op < LT_OP_COUNT; op++) total += p.op[op].calls;
    assert_int_equal(total, 4);

    lt_profile_reset();
    lt_profile_get(&p);
    assert_int_equal(p.op[LT_OP_MATMUL].calls, 0);
    lt_tensor_free(&a);
    lt_tensor_free(&b);
    lt_tensor_free(&c);
}

static void test_failed_op(void **state) {
    (void)state;
    lt_device *d = device();
    int64_t s1[1] = {4}, sv[2] = {3, 2};
    lt_tensor tok;
    if (lt_tensor_alloc(d, LT_I32, 1, s1, &tok) != LT_OK) fail_msg("alloc: %s", lt_last_error());
    const int32_t ids[4] = {0, 1, 7, 2}; /* 7 is outside a 3-row table */
    assert_int_equal(lt_tensor_upload(&tok, ids, sizeof ids), LT_OK);
    int64_t so[2] = {4, 2};
    lt_tensor table = alloc(d, 2, sv), out = alloc(d, 2, so);
    lt_profile_reset();
    lt_profile_enable(1);
    assert_int_equal(lt_embed_forward(&out, &tok, &table, 0), LT_ERR_RANGE);
    lt_profile_enable(0);
    lt_profile p;
    lt_profile_get(&p);
    assert_int_equal(p.op[LT_OP_EMBED_FWD].calls, 1);
    assert_int_equal(p.failed, 1);
    lt_profile_reset();
    lt_tensor_free(&tok);
    lt_tensor_free(&table);
    lt_tensor_free(&out);
}

static void test_flops(void **state) {
    (void)state;
    int64_t sq[4] = {2, 8, 3, 4};
    lt_tensor q = lt_tensor_desc(LT_F32, 4, sq);
    lt_op_call call;
    memset(&call, 0, sizeof call);
    call.op = LT_OP_ATTN_FWD;
    call.src[0] = &q;
    call.p.attn.causal = 0;
    double full = 4.0 * 2 * 3 * 8 * 8 * 4;
    assert_true(lt_op_flops(&call) == full);
    call.p.attn.causal = 1;
    assert_true(lt_op_flops(&call) == 0.5 * full);
    call.op = LT_OP_ATTN_BWD;
    call.src[0] = NULL;
    call.src[1] = &q;
    assert_true(lt_op_flops(&call) == 2.5 * 0.5 * full);

    /* trans_a: A is [K, M]. */
    int64_t sa[2] = {6, 3}, sc[2] = {3, 5};
    lt_tensor a = lt_tensor_desc(LT_F32, 2, sa), c = lt_tensor_desc(LT_F32, 2, sc);
    memset(&call, 0, sizeof call);
    call.op = LT_OP_MATMUL;
    call.src[0] = &a;
    call.dst[0] = &c;
    call.p.matmul.trans_a = 1;
    assert_true(lt_op_flops(&call) == 2.0 * 3 * 5 * 6);
    assert_true(lt_op_flops(NULL) == 0.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_failed_op),
        cmocka_unit_test(test_flops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
