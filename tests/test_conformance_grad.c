/* tests/test_conformance_grad.c - gradient mode: the reference backward ops against
 * finite differences of the reference forward (f64), and each device's forward+backward
 * chain against the reference's (f32); one test per op family. Also proves the checks
 * catch a wrong backward, on a device whose table is the reference's with a sabotaged
 * entry. LORETTA_QUICK=1 shrinks the shapes. */
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

static void print(const lt_conf_result *r) {
    printf("  %-20s %s:%d  %d/%d cases  max abs %.3g  rel/nmse %.3g  %s %s\n", r->test,
           r->dev->backend->name, r->dev->index, r->passed, r->cases, r->max_abs, r->nmse,
           lt_conf_verdict_name(r->verdict), r->message);
}

static void run_family(const char *name) {
    int family = -1;
    assert_int_equal(lt_conf_grad_parse(name, &family), LT_OK);
    lt_conf_options o;
    lt_conf_options_default(&o);
    int failures = 0;

    lt_conf_result fd;
    assert_int_equal(lt_conf_grad_fd(NULL, family, &o, &fd), LT_OK);
    print(&fd);
    if (fd.counts_as_failure || fd.verdict != LT_CONF_PASS) failures++;

    lt_device *devs[64];
    int n = 0;
    for (int i = 0; i < lt_device_count() && n < 64; i++) {
        lt_device *d = lt_device_get(i);
        if (!d->info.is_reference) devs[n++] = d;
    }
    lt_conf_result res[64];
    if (n) assert_int_equal(lt_conf_grad_run(devs, n, family, &o, res), LT_OK);
    for (int d = 0; d < n; d++) {
        print(&res[d]);
        if (res[d].counts_as_failure) failures++;
    }
    if (failures) fail_msg("gradients of %s fail in %d check(s) (see above)", name, failures);
}

#define FAMILY_TEST(name) \
    static void test_##name(void **state) { \
        (void)state; \
        run_family(#name); \
    }
FAMILY_TEST(matmul)
FAMILY_TEST(embed)
FAMILY_TEST(rmsnorm)
FAMILY_TEST(gelu)
FAMILY_TEST(cross_entropy)
FAMILY_TEST(attention)

static void test_family_names(void **state) {
    (void)state;
    assert_int_equal(lt_conf_grad_count(), 6);
    int f = -1;
    assert_int_equal(lt_conf_grad_parse("attn_bwd", &f), LT_OK);
    assert_string_equal(lt_conf_grad_name(f), "attention");
    assert_int_equal(lt_conf_grad_parse("rmsnorm_fwd", &f), LT_OK);
    assert_string_equal(lt_conf_grad_name(f), "rmsnorm");
    assert_int_equal(lt_conf_grad_parse("sample", &f), LT_ERR_INVALID_ARG);
}

/* ---------------------------------------------------------------- a broken device ---- */

static lt_backend broken_backend;
static lt_device broken_dev;

/* Scales one element of dst[i] by 1.01: a small error a real bug could make. */
static void nudge(const lt_op_call *call, int i) {
    const lt_tensor *t = call->dst[i];
    char *p = (char *)t->buf->host_ptr + t->offset;
    if (t->dtype == LT_F64) ((double *)p)[0] *= 1.01;
    else ((float *)p)[0] *= 1.01f;
}

static lt_status gelu_bwd_off(lt_device *dev, const lt_op_call *call) {
    lt_status s = lt_backend_ref_get()->ops[LT_OP_GELU_BWD](dev, call);
    nudge(call, 0);
    return s;
}

static lt_status rmsnorm_bwd_off(lt_device *dev, const lt_op_call *call) {
    lt_status s = lt_backend_ref_get()->ops[LT_OP_RMSNORM_BWD](dev, call);
    nudge(call, 1); /* dw */
    return s;
}

static lt_status attn_bwd_off(lt_device *dev, const lt_op_call *call) {
    lt_status s = lt_backend_ref_get()->ops[LT_OP_ATTN_BWD](dev, call);
    nudge(call, 1); /* dk[0] */
    return s;
}

static int setup_broken(void **state) {
    (void)state;
    if (lt_test_fake_device("broken", &broken_backend, &broken_dev) != 0) return -1;
    broken_backend.ops[LT_OP_GELU_BWD] = gelu_bwd_off;
    broken_backend.ops[LT_OP_RMSNORM_BWD] = rmsnorm_bwd_off;
    broken_backend.ops[LT_OP_ATTN_BWD] = attn_bwd_off;
    return 0;
}

static void expect_fd_failure(const char *name) {
    int f = -1;
    assert_int_equal(lt_conf_grad_parse(name, &f), LT_OK);
    lt_conf_result r;
    assert_int_equal(lt_conf_grad_fd(&broken_dev, f, NULL, &r), LT_OK);
    print(&r);
    assert_int_equal(r.verdict, LT_CONF_FAIL);
    assert_non_null(strstr(r.message, "relative error"));
}

static void test_fd_catches_wrong_backward(void **state) {
    (void)state;
    expect_fd_failure("gelu");
    expect_fd_failure("rmsnorm");
    expect_fd_failure("attention");
    /* The families left intact pass on the same device. */
    int f = -1;
    assert_int_equal(lt_conf_grad_parse("matmul", &f), LT_OK);
    lt_conf_result r;
    assert_int_equal(lt_conf_grad_fd(&broken_dev, f, NULL, &r), LT_OK);
    assert_int_equal(r.verdict, LT_CONF_PASS);
}

static void test_chain_catches_wrong_backward(void **state) {
    (void)state;
    int f = -1;
    assert_int_equal(lt_conf_grad_parse("attention", &f), LT_OK);
    lt_conf_options o;
    lt_conf_options_default(&o);
    o.quick = 1;
    lt_device *d = &broken_dev;
    lt_conf_result r;
    assert_int_equal(lt_conf_grad_run(&d, 1, f, &o, &r), LT_OK);
    print(&r);
    assert_int_equal(r.verdict, LT_CONF_FAIL);
    assert_non_null(strstr(r.message, "dk"));
    assert_int_equal(broken_dev.bytes_in_use, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family_names),
        cmocka_unit_test_setup(test_fd_catches_wrong_backward, setup_broken),
        cmocka_unit_test_setup(test_chain_catches_wrong_backward, setup_broken),
        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_embed),
        cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_gelu),
        cmocka_unit_test(test_cross_entropy),
        cmocka_unit_test(test_attention),
    };
    if (lt_init() != LT_OK) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
