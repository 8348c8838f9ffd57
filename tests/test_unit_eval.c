/* tests/test_unit_eval.c - evaluation metrics against established implementations
 * (values from tools/golden/make_eval_golden.py: sacrebleu, rouge-score, NLTK, and an
 * independent numpy Cox fit) and the linear probe on data with a known answer. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "loretta/eval.h"

/* Pasted from tools/golden/make_eval_golden.py. */
#define GOLD_BLEU 0.3542451370
#define GOLD_ROUGE_L 0.7354916326
#define GOLD_METEOR 0.7403547603
static const double GOLD_COX_BETA[3] = {3.0140858121, -1.8428532058, 0.0425297348};
#define GOLD_CINDEX 0.8985507246

static const char *HYP[4] = {"the cat sat on the mat", "a quick brown fox jumps over the lazy dog",
                             "there is a big red barn in the field", "wine with notes of cherry and oak"};
static const char *REF[4] = {"the cat is sitting on the mat", "the quick brown fox jumped over the lazy dog",
                             "a big red barn stands in the field", "this wine shows cherry and oak notes"};

static void test_text_metrics(void **state) {
    (void)state;
    assert_float_equal(lt_bleu4(HYP, REF, 4), GOLD_BLEU, 1e-9);
    assert_float_equal(lt_rouge_l(HYP, REF, 4), GOLD_ROUGE_L, 1e-9);
    assert_float_equal(lt_meteor_exact(HYP, REF, 4), GOLD_METEOR, 1e-9);
    assert_float_equal(lt_bleu4(REF, REF, 4), 1.0, 1e-12);
    const char *none[1] = {"completely different words"};
    assert_float_equal(lt_bleu4(none, REF, 1), 0.0, 0);
}

static void survival_data(double *x, double *time, int *event) {
    const double true_b[3] = {0.8, -0.5, 0.0};
    for (int i = 0; i < 60; i++) {
        double eta = 0;
        for (int j = 0; j < 3; j++) {
            x[i * 3 + j] = sin(0.7 * i * (j + 1) + 0.3 * j);
            eta += x[i * 3 + j] * true_b[j];
        }
        time[i] = exp(-eta) * (1.0 + (i * 37 % 11) / 11.0);
        event[i] = i % 7 == 3 ? 0 : 1;
    }
}

static void test_survival(void **state) {
    (void)state;
    double x[180], time[60], risk[60];
    int event[60];
    survival_data(x, time, event);
    for (int i = 0; i < 60; i++) risk[i] = x[i * 3] * 0.8 - x[i * 3 + 1] * 0.5;
    double c;
    assert_int_equal(lt_cindex(risk, time, event, 60, &c), LT_OK);
    assert_float_equal(c, GOLD_CINDEX, 1e-9);
    lt_cox_opts o = lt_cox_defaults();
    o.lambda = 0.05;
    o.l1_ratio = 0.5;
    double beta[3];
    int it;
    assert_int_equal(lt_cox_fit(x, time, event, 60, 3, &o, beta, &it), LT_OK);
    for (int j = 0; j < 3; j++) assert_float_equal(beta[j], GOLD_COX_BETA[j], 1e-4);
    int none[60] = {0};
    assert_int_equal(lt_cox_fit(x, time, none, 60, 3, &o, beta, &it), LT_ERR_INVALID_ARG);
}

/* Ten Gaussian blobs in 8-D: a linear probe must separate them almost perfectly, and a
 * probe on pure noise must sit near chance. */
static void make_blobs(float *x, int32_t *y, int n, uint32_t seed, int informative) {
    for (int i = 0; i < n; i++) {
        y[i] = i % 10;
        for (int j = 0; j < 8; j++) {
            seed = seed * 1664525u + 1013904223u;
            double u = (seed >> 8) / 16777216.0 - 0.5;
            x[i * 8 + j] = (float)((informative ? 3.0 * ((y[i] >> (j % 4)) & 1) + (j == y[i] % 8) * 2.0 : 0.0) + u);
        }
    }
}

static void test_probe(void **state) {
    (void)state;
    static float tx[2000 * 8], ex[500 * 8];
    static int32_t ty[2000], ey[500];
    make_blobs(tx, ty, 2000, 1, 1);
    make_blobs(ex, ey, 500, 2, 1);
    lt_probe_opts o = lt_probe_defaults();
    o.epochs = 20;
    lt_probe_result r;
    assert_int_equal(lt_probe_run(tx, ty, 2000, ex, ey, 500, 8, 10, &o, &r), LT_OK);
    assert_int_equal(r.trials, 3);
    assert_int_equal(r.per_class_used, 100);
    assert_true(r.mean > 0.95);
    make_blobs(tx, ty, 2000, 3, 0);
    make_blobs(ex, ey, 500, 4, 0);
    assert_int_equal(lt_probe_run(tx, ty, 2000, ex, ey, 500, 8, 10, &o, &r), LT_OK);
    assert_true(r.mean < 0.2);
    assert_true(r.std >= 0);
    ty[5] = 12;
    assert_int_equal(lt_probe_run(tx, ty, 2000, ex, ey, 500, 8, 10, &o, &r), LT_ERR_RANGE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_metrics), cmocka_unit_test(test_survival), cmocka_unit_test(test_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
