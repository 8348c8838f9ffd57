/* tests/test_conformance_mixed.c - the mixed-precision contract of matmul and attention
 * (loretta/ops.h): which dtype combinations the op checks accept and refuse, the
 * reference's single rounding, the f32 staging's memory accounting on every device, and
 * proof that the conformance suite's mixed cases catch the errors such code makes (a
 * truncating f32 -> bf16 conversion, operands read through a lossy path) on a device
 * built from the reference's op table with sabotaged entries. */
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
#include "op_f32_staging.h"

static lt_device *device(const char *name) {
    lt_device *d = NULL;
    if (lt_device_find(name, 0, &d) != LT_OK) return NULL;
    return d;
}

static lt_tensor alloc(lt_device *d, lt_dtype dt, int ndim, const int64_t *shape) {
    lt_tensor t;
    if (lt_tensor_alloc(d, dt, ndim, shape, &t) != LT_OK) fail_msg("alloc: %s", lt_last_error());
    return t;
}

/* A contiguous bf16 / f16 / f32 tensor holding vals. */
static lt_tensor make(lt_device *d, lt_dtype dt, int ndim, const int64_t *shape,
                      const double *vals) {
    lt_tensor t = alloc(d, dt, ndim, shape);
    int64_t n = lt_tensor_numel(&t);
    uint8_t buf[4 * 64];
    assert_true(n <= 64);
    for (int64_t i = 0; i < n; i++) {
        float f = (float)vals[i];
        uint16_t h = dt == LT_BF16 ? lt_f32_to_bf16(f) : lt_f32_to_f16(f);
        if (dt == LT_F32) memcpy(buf + 4 * i, &f, 4);
        else memcpy(buf + 2 * i, &h, 2);
    }
    assert_int_equal(lt_tensor_upload(&t, buf, lt_tensor_nbytes(&t)), LT_OK);
    return t;
}

static double get1(const lt_tensor *t, int64_t i) {
    uint8_t buf[4 * 64];
    assert_true(lt_tensor_numel(t) <= 64);
    assert_int_equal(lt_tensor_download(buf, t, lt_tensor_nbytes(t)), LT_OK);
    uint16_t h;
    float f;
    switch (t->dtype) {
    case LT_F32: memcpy(&f, buf + 4 * i, 4); return f;
    case LT_BF16: memcpy(&h, buf + 2 * i, 2); return lt_bf16_to_f32(h);
    default: memcpy(&h, buf + 2 * i, 2); return lt_f16_to_f32(h);
    }
}

static void expect_dtype_error(lt_status s, const char *needle) {
    assert_int_equal(s, LT_ERR_DTYPE);
    if (!strstr(lt_last_error(), needle))
        fail_msg("error '%s' does not mention '%s'", lt_last_error(), needle);
}

/* ---------------------------------------------------------------- the checks ---- */

static void test_matmul_dtype_rules(void **state) {
    (void)state;
    lt_device *r = device("ref");
    assert_non_null(r);
    int64_t s[2] = {2, 2};
    lt_tensor a16 = alloc(r, LT_BF16, 2, s), b16 = alloc(r, LT_BF16, 2, s),
              c16 = alloc(r, LT_BF16, 2, s), c32 = alloc(r, LT_F32, 2, s),
              h16 = alloc(r, LT_F16, 2, s), a32 = alloc(r, LT_F32, 2, s),
              c64 = alloc(r, LT_F64, 2, s);
    assert_int_equal(lt_fill(&a16, 1.0), LT_OK);
    assert_int_equal(lt_fill(&b16, 2.0), LT_OK);
    assert_int_equal(lt_matmul(&c16, &a16, &b16, 0, 0, 1.0f, 0), LT_OK);
    assert_int_equal(lt_matmul(&c32, &a16, &b16, 0, 0, 1.0f, 0), LT_OK);
    assert_true(get1(&c32, 3) == 4.0);
    /* A and B must agree; C is theirs or f32, never another half or a wider type. */
    expect_dtype_error(lt_matmul(&c32, &a16, &a32, 0, 0, 1.0f, 0), "matmul: b is f32 but a is bf16");
    expect_dtype_error(lt_matmul(&h16, &a16, &b16, 0, 0, 1.0f, 0), "c is f16 but a is bf16 (expected bf16 or f32)");
    expect_dtype_error(lt_matmul(&c16, &a32, &c32, 0, 0, 1.0f, 0), "c is bf16 but a is f32 (expected f32)");
    expect_dtype_error(lt_matmul(&c64, &a16, &b16, 0, 0, 1.0f, 0), "c is f64");
    lt_tensor *all[7] = {&a16, &b16, &c16, &c32, &h16, &a32, &c64};
    for (int i = 0; i < 7; i++) lt_tensor_free(all[i]);
}

static void test_attention_dtype_rules(void **state) {
    (void)state;
    lt_device *r = device("ref");
    assert_non_null(r);
    int64_t s4[4] = {1, 3, 1, 4}, s3[3] = {1, 1, 3};
    lt_tensor q = alloc(r, LT_BF16, 4, s4), k = alloc(r, LT_BF16, 4, s4), v = alloc(r, LT_BF16, 4, s4);
    lt_tensor o16 = alloc(r, LT_BF16, 4, s4), o32 = alloc(r, LT_F32, 4, s4), oh = alloc(r, LT_F16, 4, s4);
    lt_tensor d32 = alloc(r, LT_F32, 4, s4), g16 = alloc(r, LT_BF16, 4, s4);
    lt_tensor dq = alloc(r, LT_F32, 4, s4), dk = alloc(r, LT_F32, 4, s4), dv = alloc(r, LT_F32, 4, s4);
    lt_tensor lse = alloc(r, LT_F32, 3, s3), lse16 = alloc(r, LT_BF16, 3, s3);
    lt_tensor *ins[5] = {&q, &k, &v, &d32, &g16};
    for (int i = 0; i < 5; i++) assert_int_equal(lt_fill(ins[i], 0.25 * (i + 1)), LT_OK);
    float sc = 0.5f;
    assert_int_equal(lt_attention_forward(&o16, &lse, &q, &k, &v, NULL, 1, sc), LT_OK);
    assert_int_equal(lt_attention_forward(&o32, &lse, &q, &k, &v, NULL, 1, sc), LT_OK);
    expect_dtype_error(lt_attention_forward(&oh, &lse, &q, &k, &v, NULL, 1, sc), "out is f16 but q is bf16");
    expect_dtype_error(lt_attention_forward(&o32, &lse16, &q, &k, &v, NULL, 1, sc), "lse is bf16, expected f32");
    expect_dtype_error(lt_attention_forward(&o32, &lse, &q, &k, &o32, NULL, 1, sc), "v is f32 but q is bf16");
    /* out/dout: one dtype (bf16 or f32 here); dq/dk/dv: one dtype, chosen apart. */
    assert_int_equal(lt_attention_backward(&dq, &dk, &dv, &d32, &q, &k, &v, &o32, &lse, NULL, 1, sc), LT_OK);
    assert_int_equal(lt_attention_backward(&dq, &dk, &dv, &g16, &q, &k, &v, &o16, &lse, NULL, 1, sc), LT_OK);
    expect_dtype_error(lt_attention_backward(&dq, &dk, &dv, &d32, &q, &k, &v, &o16, &lse, NULL, 1, sc),
                       "dout is f32 but out is bf16");
    lt_tensor dk16 = alloc(r, LT_BF16, 4, s4);
    expect_dtype_error(lt_attention_backward(&dq, &dk16, &dv, &d32, &q, &k, &v, &o32, &lse, NULL, 1, sc),
                       "dk is bf16 but dq is f32");
    expect_dtype_error(lt_attention_backward(&dq, &dk, &dv, &oh, &q, &k, &v, &oh, &lse, NULL, 1, sc),
                       "out is f16 but q is bf16");
    /* f32 q takes no half result. */
    expect_dtype_error(lt_attention_forward(&o16, &lse, &o32, &d32, &dq, NULL, 1, sc),
                       "out is bf16 but q is f32 (expected f32)");
    lt_tensor *all[] = {&q, &k, &v, &o16, &o32, &oh, &d32, &g16, &dq, &dk, &dv, &lse, &lse16, &dk16};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) lt_tensor_free(all[i]);
}

/* 1 + 2^-8 + 2^-30 lies just above the bf16 tie between 1 and 1 + 2^-7, so rounded once
 * it is 1 + 2^-7; through f32 first it becomes the tie 1 + 2^-8 and then 1 (to even). */
static void test_reference_rounds_once(void **state) {
    (void)state;
    lt_device *r = device("ref");
    assert_non_null(r);
    int64_t sa[2] = {1, 3}, sb[2] = {3, 1}, sc[2] = {1, 1};
    const double av[3] = {1.0, 0x1p-8, 0x1p-15}, bv[3] = {1.0, 1.0, 0x1p-15};
    lt_tensor a = make(r, LT_BF16, 2, sa, av), b = make(r, LT_BF16, 2, sb, bv);
    lt_tensor c16 = alloc(r, LT_BF16, 2, sc), c32 = alloc(r, LT_F32, 2, sc), ch = alloc(r, LT_F16, 2, sc);
    assert_int_equal(lt_matmul(&c16, &a, &b, 0, 0, 1.0f, 0), LT_OK);
    assert_true(get1(&c16, 0) == 1.0 + 0x1p-7);
    assert_int_equal(lt_matmul(&c32, &a, &b, 0, 0, 1.0f, 0), LT_OK);
    assert_true(get1(&c32, 0) == 1.0 + 0x1p-8);
    /* f16 (10 stored bits): 1 + 2^-11 + 2^-30 rounds up to 1 + 2^-10, through f32 to 1. */
    const double hv[3] = {1.0, 0x1p-11, 0x1p-15};
    lt_tensor ah = make(r, LT_F16, 2, sa, hv), bh = make(r, LT_F16, 2, sb, bv);
    assert_int_equal(lt_matmul(&ch, &ah, &bh, 0, 0, 1.0f, 0), LT_OK);
    assert_true(get1(&ch, 0) == 1.0 + 0x1p-10);
    lt_tensor *all[] = {&a, &b, &c16, &c32, &ch, &ah, &bh};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) lt_tensor_free(all[i]);
}

/* ---------------------------------------------------------------- f32 staging ---- */

/* Every device that claims bf16: a bf16 matmul into f32 and bf16 gives exact small
 * products, frees its scratch, and fails cleanly (OUT_OF_MEMORY, nothing leaked) when the
 * device's memory limit leaves no room for the f32 copies. */
static void test_staging_memory(void **state) {
    (void)state;
    for (int i = 0; i < lt_device_count(); i++) {
        lt_device *d = lt_device_get(i);
        if (!d->info.supports_bf16 || d->info.is_reference) continue;
        int64_t s[2] = {4, 4};
        double av[16], bv[16];
        for (int j = 0; j < 16; j++) {
            av[j] = (j % 5) - 2;
            bv[j] = 0.5 * ((j % 3) - 1);
        }
        lt_tensor a = make(d, LT_BF16, 2, s, av), b = make(d, LT_BF16, 2, s, bv);
        lt_tensor c32 = alloc(d, LT_F32, 2, s), c16 = alloc(d, LT_BF16, 2, s);
        size_t before = d->bytes_in_use;
        lt_status st = lt_matmul(&c32, &a, &b, 0, 1, 1.0f, 0);
        if (st != LT_OK) fail_msg("%s: bf16 matmul: %s", d->backend->name, lt_last_error());
        assert_int_equal(lt_matmul(&c16, &a, &b, 0, 1, 1.0f, 0), LT_OK);
        assert_int_equal(lt_device_sync(d), LT_OK);
        for (int m = 0; m < 4; m++)
            for (int n = 0; n < 4; n++) {
                double want = 0.0;
                for (int k = 0; k < 4; k++) want += av[m * 4 + k] * bv[n * 4 + k];
                if (get1(&c32, m * 4 + n) != want || get1(&c16, m * 4 + n) != want)
                    fail_msg("%s: c[%d,%d] = %g / %g, expected %g", d->backend->name, m, n,
                             get1(&c32, m * 4 + n), get1(&c16, m * 4 + n), want);
            }
        assert_int_equal(d->bytes_in_use, before);
        lt_device_set_memory_limit(d, before + 16);
        assert_int_equal(lt_matmul(&c16, &a, &b, 0, 1, 1.0f, 0), LT_ERR_OUT_OF_MEMORY);
        lt_device_set_memory_limit(d, 0);
        assert_int_equal(d->bytes_in_use, before);
        printf("  %s: bf16 matmul exact, scratch freed, OUT_OF_MEMORY under a limit\n",
               d->backend->name);
        lt_tensor_free(&a);
        lt_tensor_free(&b);
        lt_tensor_free(&c32);
        lt_tensor_free(&c16);
    }
}

/* ---------------------------------------------------------------- a broken device ---- */

static lt_backend broken_backend;
static lt_device broken_dev;

static int is_half(const lt_tensor *t) { return t && (t->dtype == LT_BF16 || t->dtype == LT_F16); }

/* A staging conversion with the classic bugs: f32 -> half truncates instead of rounding
 * to nearest even; half -> f32 is exact unless `lossy_reads`, which drops the last
 * mantissa bit of every operand. Host memory (the broken device is the reference's). */
static int lossy_reads;

static lt_status sloppy_convert(lt_device *dev, lt_tensor *dst, const lt_tensor *src) {
    (void)dev;
    const lt_tensor *h = is_half(dst) ? dst : src;
    int64_t n = lt_tensor_numel(h), row = h->shape[h->ndim - 1];
    for (int64_t i = 0; i < n; i++) {
        int64_t r = i / row, off = i % row;
        for (int d = h->ndim - 2; d >= 0; d--) {
            off += (r % h->shape[d]) * h->stride[d];
            r /= h->shape[d];
        }
        uint16_t *hp = (uint16_t *)((char *)h->buf->host_ptr + h->offset) + off;
        float *fp = (float *)((char *)(is_half(dst) ? src : dst)->buf->host_ptr +
                              (is_half(dst) ? src : dst)->offset) + i;
        if (is_half(dst)) {
            uint32_t u;
            memcpy(&u, fp, 4);
            *hp = h->dtype == LT_BF16 ? (uint16_t)(u >> 16) : lt_f32_to_f16(*fp);
            if (h->dtype == LT_F16 && fabsf(lt_f16_to_f32(*hp)) > fabsf(*fp)) *hp -= 1;
        } else {
            uint16_t v = lossy_reads ? (uint16_t)(*hp & ~1u) : *hp;
            *fp = h->dtype == LT_BF16 ? lt_bf16_to_f32(v) : lt_f16_to_f32(v);
        }
    }
    return LT_OK;
}

#define SLOPPY(name, op)                                                      \
    static lt_status sloppy_##name(lt_device *dev, const lt_op_call *call) { \
        if (lt_op_has_half(call)) return lt_op_run_staged_f32(dev, call, sloppy_convert); \
        return lt_backend_ref_get()->ops[op](dev, call);                      \
    }
SLOPPY(matmul, LT_OP_MATMUL)
SLOPPY(attn_fwd, LT_OP_ATTN_FWD)
SLOPPY(attn_bwd, LT_OP_ATTN_BWD)

static int setup_broken(void **state) {
    (void)state;
    if (lt_test_fake_device("sloppy", &broken_backend, &broken_dev) != 0) return -1;
    broken_backend.ops[LT_OP_MATMUL] = sloppy_matmul;
    broken_backend.ops[LT_OP_ATTN_FWD] = sloppy_attn_fwd;
    broken_backend.ops[LT_OP_ATTN_BWD] = sloppy_attn_bwd;
    return 0;
}

/* Runs op on the sloppy device (quick shapes): it must fail, on a mixed case. */
static void expect_caught(lt_op op, int lossy) {
    lossy_reads = lossy;
    lt_device *d = &broken_dev;
    lt_conf_options o;
    lt_conf_options_default(&o);
    o.quick = 1;
    lt_conf_result r;
    assert_int_equal(lt_conf_run_op(&d, 1, op, &o, &r), LT_OK);
    printf("  sloppy %-8s (%s) -> %s, %d of %d cases failed: %s\n", lt_op_name(op),
           lossy ? "lossy reads" : "truncating writes", lt_conf_verdict_name(r.verdict),
           r.failed, r.cases, r.message);
    assert_int_equal(r.verdict, LT_CONF_FAIL);
    assert_true(r.counts_as_failure);
    assert_true(strstr(r.message, "bf16") || strstr(r.message, "f16"));
    assert_int_equal(broken_dev.bytes_in_use, 0);
}

static void test_truncation_caught(void **state) {
    (void)state;
    expect_caught(LT_OP_MATMUL, 0);
    expect_caught(LT_OP_ATTN_FWD, 0);
    expect_caught(LT_OP_ATTN_BWD, 0);
}

static void test_lossy_reads_caught(void **state) {
    (void)state;
    expect_caught(LT_OP_MATMUL, 1);
    expect_caught(LT_OP_ATTN_FWD, 1);
    expect_caught(LT_OP_ATTN_BWD, 1);
}

int main(void) {
    if (lt_init() != LT_OK) {
        fprintf(stderr, "lt_init: %s\n", lt_last_error());
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_dtype_rules),
        cmocka_unit_test(test_attention_dtype_rules),
        cmocka_unit_test(test_reference_rounds_once),
        cmocka_unit_test(test_staging_memory),
        cmocka_unit_test_setup(test_truncation_caught, setup_broken),
        cmocka_unit_test_setup(test_lossy_reads_caught, setup_broken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
