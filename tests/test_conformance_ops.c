/* tests/test_conformance_ops.c - every op on every device against the reference backend
 * (one test per op, so a failure names it), and proof that the suite catches errors:
 * the comparison and guard checks on hand-made data, and whole runs on a deliberately
 * broken device (the reference's op table with sabotaged entries). LORETTA_QUICK=1
 * shrinks the shapes (sanitizer runs). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "loretta/conformance.h"
#include "support/fake_device.h"
#include "loretta/loretta.h"

/* ---------------------------------------------------------------- every op ---- */

static void run_op(lt_op op) {
    lt_device *devs[64];
    int n = 0;
    for (int i = 0; i < lt_device_count() && n < 64; i++) {
        lt_device *d = lt_device_get(i);
        if (!d->info.is_reference) devs[n++] = d;
    }
    if (n == 0) skip();
    lt_conf_options o;
    lt_conf_options_default(&o);
    lt_conf_result res[64];
    assert_int_equal(lt_conf_run_op(devs, n, op, &o, res), LT_OK);
    int failures = 0;
    for (int d = 0; d < n; d++) {
        const lt_conf_result *r = &res[d];
        printf("  %-14s %s:%d  %d/%d cases  max abs %.3g  nmse %.3g  %s %s\n", r->test,
               r->dev->backend->name, r->dev->index, r->passed, r->cases, r->max_abs, r->nmse,
               lt_conf_verdict_name(r->verdict), r->message);
        if (r->counts_as_failure) failures++;
    }
    if (failures) fail_msg("%s fails on %d device(s) (see above)", lt_op_name(op), failures);
}

#define OP_TEST(name, op) \
    static void test_##name(void **state) { \
        (void)state; \
        run_op(op); \
    }
OP_TEST(fill, LT_OP_FILL)
OP_TEST(copy, LT_OP_COPY)
OP_TEST(cast, LT_OP_CAST)
OP_TEST(matmul, LT_OP_MATMUL)
OP_TEST(embed_fwd, LT_OP_EMBED_FWD)
OP_TEST(embed_bwd, LT_OP_EMBED_BWD)
OP_TEST(pos_embed_fwd, LT_OP_POS_EMBED_FWD)
OP_TEST(rmsnorm_fwd, LT_OP_RMSNORM_FWD)
OP_TEST(rmsnorm_bwd, LT_OP_RMSNORM_BWD)
OP_TEST(gelu_fwd, LT_OP_GELU_FWD)
OP_TEST(gelu_bwd, LT_OP_GELU_BWD)
OP_TEST(add, LT_OP_ADD)
OP_TEST(scale, LT_OP_SCALE)
OP_TEST(axpy, LT_OP_AXPY)
OP_TEST(cross_entropy, LT_OP_CROSS_ENTROPY)
OP_TEST(attn_fwd, LT_OP_ATTN_FWD)
OP_TEST(attn_bwd, LT_OP_ATTN_BWD)
OP_TEST(attn_decode, LT_OP_ATTN_DECODE)
OP_TEST(kv_write, LT_OP_KV_WRITE)
OP_TEST(adamw, LT_OP_ADAMW)
OP_TEST(sumsq, LT_OP_SUMSQ)
OP_TEST(sample, LT_OP_SAMPLE)
_Static_assert(LT_OP_COUNT == 22, "a new op needs an OP_TEST here");

/* ---------------------------------------------------------------- building blocks ---- */

static void test_compare_catches_errors(void **state) {
    (void)state;
    double want[5] = {1.0, -2.0, 3.0, 0.5, 0.0};
    double got[5];
    char msg[256];
    lt_conf_stats st;
    lt_conf_tol tol = {1e-10, 1e-6};

    memcpy(got, want, sizeof got);
    assert_int_equal(lt_conf_compare(got, want, 5, 0, tol, &st, msg, sizeof msg), 1);
    assert_true(st.max_abs == 0.0 && st.nmse == 0.0);

    got[2] = 3.001; /* a wrong value */
    assert_int_equal(lt_conf_compare(got, want, 5, 0, tol, &st, msg, sizeof msg), 0);
    assert_int_equal(st.worst, 2);
    assert_non_null(strstr(msg, "max abs err"));

    got[2] = 3.0 + 1e-9; /* within tolerance */
    assert_int_equal(lt_conf_compare(got, want, 5, 0, tol, &st, msg, sizeof msg), 1);
    lt_conf_tol exact = {0.0, 0.0};
    assert_int_equal(lt_conf_compare(got, want, 5, 0, exact, &st, msg, sizeof msg), 0);

    memcpy(got, want, sizeof got);
    got[4] = NAN; /* NaN in the output fails whatever the tolerance */
    lt_conf_tol loose = {1e9, 1e9};
    assert_int_equal(lt_conf_compare(got, want, 5, 0, loose, &st, msg, sizeof msg), 0);
    assert_int_equal(st.nonfinite_got, 1);
    assert_non_null(strstr(msg, "NaN"));
    got[4] = INFINITY;
    assert_int_equal(lt_conf_compare(got, want, 5, 0, loose, &st, msg, sizeof msg), 0);

    memcpy(got, want, sizeof got);
    want[1] = NAN; /* a NaN in the reference fails too */
    assert_int_equal(lt_conf_compare(got, want, 5, 0, loose, &st, msg, sizeof msg), 0);
    assert_non_null(strstr(msg, "reference"));

    /* Integer outputs match exactly. */
    double ti[3] = {4, 7, 9}, wi[3] = {4, 7, 9};
    assert_int_equal(lt_conf_compare(ti, wi, 3, 1, loose, &st, msg, sizeof msg), 1);
    ti[1] = 8;
    assert_int_equal(lt_conf_compare(ti, wi, 3, 1, loose, &st, msg, sizeof msg), 0);
    assert_non_null(strstr(msg, "differ"));
}

static void test_untouched_catches_guard_writes(void **state) {
    (void)state;
    uint8_t before[64], after[64], writable[64];
    for (int i = 0; i < 64; i++) before[i] = (uint8_t)(0xA5 ^ (i * 37));
    memset(writable, 0, sizeof writable);
    memset(writable + 16, 1, 32); /* the output is bytes 16..47 */
    memcpy(after, before, sizeof after);
    for (int i = 16; i < 48; i++) after[i] = 0; /* the op wrote its output */
    size_t bad = 0;
    assert_int_equal(lt_conf_untouched(before, after, writable, 64, &bad), 1);
    after[48] ^= 1; /* one byte of the guard after it */
    assert_int_equal(lt_conf_untouched(before, after, writable, 64, &bad), 0);
    assert_int_equal(bad, 48);
    after[48] = before[48];
    after[3] = 0; /* the guard before it */
    assert_int_equal(lt_conf_untouched(before, after, writable, 64, &bad), 0);
    assert_int_equal(bad, 3);
}

/* ---------------------------------------------------------------- a broken device ---- */

static lt_backend broken_backend;
static lt_device broken_dev;

static void *dst_ptr(const lt_op_call *call, int i) {
    return (char *)call->dst[i]->buf->host_ptr + call->dst[i]->offset;
}

static lt_status wrong_scale(lt_device *dev, const lt_op_call *call) { /* one sign flipped */
    lt_status s = lt_backend_ref_get()->ops[LT_OP_SCALE](dev, call);
    float *p = dst_ptr(call, 0);
    int64_t n = lt_tensor_numel(call->dst[0]);
    if (p[n / 2] != 0.0f) p[n / 2] = -p[n / 2];
    return s;
}

static lt_status add_past_end(lt_device *dev, const lt_op_call *call) { /* 1 float too many */
    lt_status s = lt_backend_ref_get()->ops[LT_OP_ADD](dev, call);
    float *p = dst_ptr(call, 0);
    p[lt_tensor_numel(call->dst[0])] = 0.0f;
    return s;
}

static lt_status gelu_nan(lt_device *dev, const lt_op_call *call) {
    lt_status s = lt_backend_ref_get()->ops[LT_OP_GELU_FWD](dev, call);
    float *p = dst_ptr(call, 0);
    p[0] = NAN;
    return s;
}

static lt_status axpy_clobbers_x(lt_device *dev, const lt_op_call *call) {
    lt_status s = lt_backend_ref_get()->ops[LT_OP_AXPY](dev, call);
    float *x = (float *)((char *)call->src[0]->buf->host_ptr + call->src[0]->offset);
    x[0] += 1.0f;
    return s;
}

static lt_status sample_off_by_one(lt_device *dev, const lt_op_call *call) {
    lt_status s = lt_backend_ref_get()->ops[LT_OP_SAMPLE](dev, call);
    int32_t *t = dst_ptr(call, 0);
    t[0] = t[0] + 1 < call->p.sample.range_hi ? t[0] + 1 : t[0] - 1;
    return s;
}

static lt_status matmul_ignores_row_stride(lt_device *dev, const lt_op_call *call) {
    /* The classic bug: treat a row-strided C as contiguous (only when it is strided). */
    const lt_tensor *c = call->dst[0];
    int r = c->ndim - 2;
    if (c->stride[r] == c->shape[r + 1]) return lt_backend_ref_get()->ops[LT_OP_MATMUL](dev, call);
    lt_op_call k = *call;
    lt_tensor packed = *c;
    packed.stride[r] = c->shape[r + 1];
    if (c->ndim == 3) packed.stride[0] = c->shape[1] * c->shape[2];
    k.dst[0] = &packed;
    return lt_backend_ref_get()->ops[LT_OP_MATMUL](dev, &k);
}

static int setup_broken(void **state) {
    (void)state;
    if (lt_test_fake_device("broken", &broken_backend, &broken_dev) != 0) return -1;
    broken_backend.ops[LT_OP_SCALE] = wrong_scale;
    broken_backend.ops[LT_OP_ADD] = add_past_end;
    broken_backend.ops[LT_OP_GELU_FWD] = gelu_nan;
    broken_backend.ops[LT_OP_AXPY] = axpy_clobbers_x;
    broken_backend.ops[LT_OP_SAMPLE] = sample_off_by_one;
    broken_backend.ops[LT_OP_MATMUL] = matmul_ignores_row_stride;
    broken_backend.ops[LT_OP_SUMSQ] = NULL; /* unsupported */
    return 0;
}

static void expect_failure(lt_op op, lt_conf_verdict want, const char *needle) {
    lt_device *d = &broken_dev;
    lt_conf_options o;
    lt_conf_options_default(&o);
    o.quick = 1;
    lt_conf_result r;
    assert_int_equal(lt_conf_run_op(&d, 1, op, &o, &r), LT_OK);
    printf("  broken %-10s -> %s: %s\n", lt_op_name(op), lt_conf_verdict_name(r.verdict), r.message);
    assert_int_equal(r.verdict, want);
    assert_true(r.counts_as_failure);
    if (needle) assert_non_null(strstr(r.message, needle));
    assert_int_equal(broken_dev.bytes_in_use, 0); /* every buffer freed */
}

static void test_broken_value(void **state) {
    (void)state;
    expect_failure(LT_OP_SCALE, LT_CONF_FAIL, "max abs err");
}

static void test_broken_guard(void **state) {
    (void)state;
    expect_failure(LT_OP_ADD, LT_CONF_FAIL, "past its end");
}

static void test_broken_nan(void **state) {
    (void)state;
    expect_failure(LT_OP_GELU_FWD, LT_CONF_FAIL, "NaN");
}

static void test_broken_input_write(void **state) {
    (void)state;
    expect_failure(LT_OP_AXPY, LT_CONF_FAIL, "modified input 'x'");
}

static void test_broken_tokens(void **state) {
    (void)state;
    expect_failure(LT_OP_SAMPLE, LT_CONF_FAIL, "differ");
}

static void test_broken_strides(void **state) {
    (void)state;
    expect_failure(LT_OP_MATMUL, LT_CONF_FAIL, "strided view 'c'");
}

static void test_broken_unsupported(void **state) {
    (void)state;
    expect_failure(LT_OP_SUMSQ, LT_CONF_UNSUPPORTED, "not implemented");
}

static void test_intact_ops_pass_on_broken_device(void **state) {
    (void)state;
    /* The untouched entries are the reference's own: they must pass exactly. */
    lt_device *d = &broken_dev;
    lt_conf_options o;
    lt_conf_options_default(&o);
    o.quick = 1;
    lt_conf_result r;
    assert_int_equal(lt_conf_run_op(&d, 1, LT_OP_COPY, &o, &r), LT_OK);
    assert_int_equal(r.verdict, LT_CONF_PASS);
    assert_true(r.max_abs == 0.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare_catches_errors),
        cmocka_unit_test(test_untouched_catches_guard_writes),
        cmocka_unit_test_setup(test_broken_value, setup_broken),
        cmocka_unit_test_setup(test_broken_guard, setup_broken),
        cmocka_unit_test_setup(test_broken_nan, setup_broken),
        cmocka_unit_test_setup(test_broken_input_write, setup_broken),
        cmocka_unit_test_setup(test_broken_tokens, setup_broken),
        cmocka_unit_test_setup(test_broken_strides, setup_broken),
        cmocka_unit_test_setup(test_broken_unsupported, setup_broken),
        cmocka_unit_test_setup(test_intact_ops_pass_on_broken_device, setup_broken),
        cmocka_unit_test(test_fill),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_cast),
        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_embed_fwd),
        cmocka_unit_test(test_embed_bwd),
        cmocka_unit_test(test_pos_embed_fwd),
        cmocka_unit_test(test_rmsnorm_fwd),
        cmocka_unit_test(test_rmsnorm_bwd),
        cmocka_unit_test(test_gelu_fwd),
        cmocka_unit_test(test_gelu_bwd),
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_scale),
        cmocka_unit_test(test_axpy),
        cmocka_unit_test(test_cross_entropy),
        cmocka_unit_test(test_attn_fwd),
        cmocka_unit_test(test_attn_bwd),
        cmocka_unit_test(test_attn_decode),
        cmocka_unit_test(test_kv_write),
        cmocka_unit_test(test_adamw),
        cmocka_unit_test(test_sumsq),
        cmocka_unit_test(test_sample),
    };
    if (lt_init() != LT_OK) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
