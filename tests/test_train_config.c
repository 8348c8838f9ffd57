/* tests/test_train_config.c - model configs (presets, JSON, validation of impossible
 * sizes), the learning-rate schedule, gradient accumulation and NaN-step handling. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loretta/loretta.h"
#include "loretta/model.h"
#include "loretta/train.h"

static lt_device *cpu(void) {
    lt_device *d = NULL;
    assert_int_equal(lt_device_find("cpu", 0, &d), LT_OK);
    return d;
}

static void expect_invalid(lt_model_config c, lt_status want, const char *needle) {
    lt_status s = lt_model_config_validate(&c);
    if (s != want || !strstr(lt_last_error(), needle))
        fail_msg("expected status %d with '%s', got %d: '%s'", want, needle, s, lt_last_error());
}

static void test_presets(void **state) {
    (void)state;
    const char *names[3] = {"tiny", "laptop", "paper"};
    const int layers[3] = {2, 4, 8}, d[3] = {64, 256, 512}, hd[3] = {32, 64, 64};
    for (int i = 0; i < 3; i++) {
        lt_model_config c;
        assert_int_equal(lt_model_config_preset(names[i], &c), LT_OK);
        assert_int_equal(c.n_layer, layers[i]);
        assert_int_equal(c.d_model, d[i]);
        assert_int_equal(c.head_dim, hd[i]);
    }
    lt_model_config c;
    assert_int_equal(lt_model_config_preset("tiny", &c), LT_OK);
    assert_int_equal(c.modalities[1].pos_base, 48);
    assert_int_equal(lt_model_config_pos_rows(&c), 80);
    assert_int_equal(lt_model_config_modality_of(&c, 260), 1);
    assert_int_equal(lt_model_config_modality_of(&c, 256), 0);
    assert_int_equal(lt_model_config_modality_of(&c, 299), -1);
    assert_int_equal(lt_model_config_preset("huge", &c), LT_ERR_INVALID_ARG);
    assert_non_null(strstr(lt_last_error(), "huge"));
    /* The paper model's FLOPs per token at T = 256, the PyTorch baseline's formula. */
    assert_int_equal(lt_model_config_preset("paper", &c), LT_OK);
    double n_mm = 12.0 * 8 * 512 * 512 + 300.0 * 512;
    assert_true(fabs(lt_model_train_flops_per_token(&c, 256) - (6 * n_mm + 12.0 * 8 * 256 * 512)) < 1);
}

static void test_impossible_configs(void **state) {
    (void)state;
    lt_model_config base;
    assert_int_equal(lt_model_config_preset("tiny", &base), LT_OK);
    lt_model_config c = base;
    c.n_head = 3;
    c.head_dim = 0;
    expect_invalid(c, LT_ERR_INVALID_ARG, "n_head 3 does not divide d_model 64");
    c = base;
    c.head_dim = 16;
    expect_invalid(c, LT_ERR_INVALID_ARG, "head_dim 16");
    c = base;
    c.n_layer = 0;
    expect_invalid(c, LT_ERR_INVALID_ARG, "n_layer 0");
    c = base;
    c.d_model = 0;
    expect_invalid(c, LT_ERR_INVALID_ARG, "d_model 0");
    c = base;
    c.vocab_size = 280;
    expect_invalid(c, LT_ERR_RANGE, "outside the vocabulary");
    c = base;
    c.modalities[1].tok_lo = 200;
    expect_invalid(c, LT_ERR_RANGE, "overlap");
    c = base;
    c.modalities[0].max_len = 0;
    expect_invalid(c, LT_ERR_INVALID_ARG, "max_len 0");
    c = base;
    c.modalities[0].begin = 10;
    expect_invalid(c, LT_ERR_RANGE, "lies in the token range");
    c = base;
    c.modalities[1].end = 256;
    expect_invalid(c, LT_ERR_RANGE, "share a begin/end token");
    c = base;
    c.n_modality = 0;
    expect_invalid(c, LT_ERR_INVALID_ARG, "0 modalities");
    c = base;
    c.norm_eps = 0.0f;
    expect_invalid(c, LT_ERR_INVALID_ARG, "norm_eps");
    lt_model *m = NULL;
    assert_int_equal(lt_model_create(cpu(), &base, 0, 16, &m), LT_ERR_INVALID_ARG);
    assert_null(m);
    c = base;
    c.n_head = 5;
    assert_int_equal(lt_model_create(cpu(), &c, 1, 16, &m), LT_ERR_INVALID_ARG);
    assert_non_null(strstr(lt_last_error(), "does not divide"));
}

static void test_json(void **state) {
    (void)state;
#ifdef LT_HAVE_CJSON
    const char *names[3] = {"tiny", "laptop", "paper"};
    for (int i = 0; i < 3; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/configs/%s.json", LT_SOURCE_DIR, names[i]);
        lt_model_config file, preset;
        if (lt_model_config_load(path, &file) != LT_OK) fail_msg("%s", lt_last_error());
        assert_int_equal(lt_model_config_preset(names[i], &preset), LT_OK);
        char *a = NULL, *b = NULL;
        assert_int_equal(lt_model_config_to_json(&file, &a), LT_OK);
        assert_int_equal(lt_model_config_to_json(&preset, &b), LT_OK);
        assert_string_equal(a, b); /* shipped configs equal the presets */
        lt_model_config back;
        assert_int_equal(lt_model_config_from_json(a, &back), LT_OK);
        free(b);
        assert_int_equal(lt_model_config_to_json(&back, &b), LT_OK);
        assert_string_equal(a, b); /* round trip */
        free(a);
        free(b);
    }
    lt_model_config c;
    assert_int_equal(lt_model_config_from_json("{\"n_layers\": 2}", &c), LT_ERR_FORMAT);
    assert_non_null(strstr(lt_last_error(), "n_layers"));
    assert_int_equal(lt_model_config_from_json("{\"n_layer\": 2,", &c), LT_ERR_FORMAT);
    assert_non_null(strstr(lt_last_error(), "syntax"));
    const char *bad_mode =
        "{\"n_layer\": 1, \"n_head\": 1, \"d_model\": 8, \"vocab_size\": 10, \"attention\": \"sideways\","
        " \"modalities\": [{\"name\": \"x\", \"tokens\": [0, 8], \"begin\": 8, \"end\": 9, \"max_len\": 4}]}";
    assert_int_equal(lt_model_config_from_json(bad_mode, &c), LT_ERR_FORMAT);
    assert_non_null(strstr(lt_last_error(), "sideways"));
    const char *bidir =
        "{\"n_layer\": 1, \"n_head\": 2, \"d_model\": 8, \"vocab_size\": 10, \"attention\": \"bidirectional\","
        " \"modalities\": [{\"name\": \"x\", \"tokens\": [0, 8], \"begin\": 8, \"end\": 9, \"max_len\": 4}]}";
    assert_int_equal(lt_model_config_from_json(bidir, &c), LT_OK);
    assert_int_equal(c.causal, 0);
    assert_int_equal(c.head_dim, 4);
    const char *too_big =
        "{\"n_layer\": 1, \"n_head\": 2, \"d_model\": 8, \"vocab_size\": 10,"
        " \"modalities\": [{\"name\": \"x\", \"tokens\": [0, 12], \"begin\": 8, \"end\": 9, \"max_len\": 4}]}";
    assert_int_equal(lt_model_config_from_json(too_big, &c), LT_ERR_RANGE);
    assert_int_equal(lt_model_config_load("/nonexistent/x.json", &c), LT_ERR_IO);
#else
    lt_model_config c;
    assert_int_equal(lt_model_config_from_json("{}", &c), LT_ERR_UNSUPPORTED);
#endif
}

static void test_schedule(void **state) {
    (void)state;
    lt_train_config t;
    lt_train_config_default(&t);
    t.warmup_steps = 10;
    t.total_steps = 110;
    assert_true(lt_lr_at(&t, 0) == 1e-7);
    assert_true(fabs(lt_lr_at(&t, 5) - (1e-7 + (6e-4 - 1e-7) * 0.5)) < 1e-15);
    assert_true(fabs(lt_lr_at(&t, 10) - 6e-4) < 1e-15);
    assert_true(fabs(lt_lr_at(&t, 60) - (6e-5 + 0.5 * (6e-4 - 6e-5))) < 1e-12);
    assert_true(fabs(lt_lr_at(&t, 110) - 6e-5) < 1e-15);
    assert_true(fabs(lt_lr_at(&t, 500) - 6e-5) < 1e-15);
    for (int s = 10; s < 110; s++) assert_true(lt_lr_at(&t, s + 1) <= lt_lr_at(&t, s));
    t.beta2 = 1.0;
    assert_int_equal(lt_train_config_validate(&t), LT_ERR_INVALID_ARG);
}

/* A random token stream inside modality "a" of the tiny preset. */
static int32_t *make_stream(int64_t n, uint32_t seed) {
    int32_t *s = malloc((size_t)n * sizeof *s);
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        s[i] = (int32_t)((seed >> 8) % 256);
    }
    return s;
}

static void download_all(const lt_trainer *t, float *out) {
    assert_int_equal(lt_tensor_download(out, &t->model->params, t->model->n_flat * sizeof(float)), LT_OK);
}

/* Two micro-batches of one sample equal one batch of two (same mean over tokens). */
static void test_accumulation(void **state) {
    (void)state;
    lt_model_config mc;
    lt_train_config tc;
    assert_int_equal(lt_model_config_preset("tiny", &mc), LT_OK);
    lt_train_config_default(&tc);
    tc.warmup_steps = 0;
    tc.total_steps = 4;
    const int T = 24;
    int32_t *stream = make_stream(4096, 5);
    lt_window_batch w2, w1a, w1b;
    assert_int_equal(lt_window_batch_alloc(2, T, &w2), LT_OK);
    assert_int_equal(lt_window_batch_alloc(1, T, &w1a), LT_OK);
    assert_int_equal(lt_window_batch_alloc(1, T, &w1b), LT_OK);
    lt_trainer *a = NULL, *b = NULL;
    assert_int_equal(lt_trainer_create(cpu(), &mc, &tc, 2, T, &a), LT_OK);
    assert_int_equal(lt_trainer_create(cpu(), &mc, &tc, 1, T, &b), LT_OK);
    for (int step = 0; step < 2; step++) {
        assert_int_equal(lt_window_batch_fill(&w2, &mc, stream, 4096, 9, (uint64_t)step), LT_OK);
        /* The same two windows, one per micro-batch. */
        memcpy(w1a.tokens, w2.tokens, T * 4);
        memcpy(w1a.targets, w2.targets, T * 4);
        memcpy(w1a.pos_ids, w2.pos_ids, T * 4);
        memcpy(w1a.modality, w2.modality, T * 4);
        memcpy(w1a.weights, w2.weights, T * 4);
        w1a.lengths[0] = T;
        memcpy(w1b.tokens, w2.tokens + T, T * 4);
        memcpy(w1b.targets, w2.targets + T, T * 4);
        memcpy(w1b.pos_ids, w2.pos_ids + T, T * 4);
        memcpy(w1b.modality, w2.modality + T, T * 4);
        memcpy(w1b.weights, w2.weights + T, T * 4);
        w1b.lengths[0] = T;
        lt_step_result ra, rb;
        assert_int_equal(lt_trainer_step(a, &w2.batch, 1, &ra), LT_OK);
        lt_batch micro[2] = {w1a.batch, w1b.batch};
        assert_int_equal(lt_trainer_step(b, micro, 2, &rb), LT_OK);
        assert_true(fabs(ra.loss - rb.loss) < 1e-5 * ra.loss);
        assert_true(fabs(ra.grad_norm - rb.grad_norm) < 1e-4 * ra.grad_norm);
    }
    float *pa = malloc(a->model->n_flat * sizeof(float)), *pb = malloc(a->model->n_flat * sizeof(float));
    download_all(a, pa);
    download_all(b, pb);
    double worst = 0;
    for (size_t i = 0; i < a->model->n_flat; i++) worst = fmax(worst, fabs((double)pa[i] - pb[i]));
    printf("# accumulation: max param difference %.3g\n", worst);
    assert_true(worst < 1e-5);
    free(pa);
    free(pb);
    lt_trainer_free(a);
    lt_trainer_free(b);
    lt_window_batch_free(&w2);
    lt_window_batch_free(&w1a);
    lt_window_batch_free(&w1b);
    free(stream);
}

/* A NaN weight makes every loss NaN: steps are skipped (no update, reported), and the
 * run stops with NUMERIC once more than max_nan_steps were skipped. */
static void test_nan_steps(void **state) {
    (void)state;
    lt_model_config mc;
    lt_train_config tc;
    assert_int_equal(lt_model_config_preset("tiny", &mc), LT_OK);
    lt_train_config_default(&tc);
    tc.max_nan_steps = 2;
    const int T = 16;
    int32_t *stream = make_stream(1024, 3);
    lt_window_batch w;
    assert_int_equal(lt_window_batch_alloc(2, T, &w), LT_OK);
    assert_int_equal(lt_window_batch_fill(&w, &mc, stream, 1024, 1, 0), LT_OK);
    lt_trainer *t = NULL;
    assert_int_equal(lt_trainer_create(cpu(), &mc, &tc, 2, T, &t), LT_OK);
    const lt_param_info *nf = lt_model_find(t->model, "nf.weight");
    assert_non_null(nf);
    lt_tensor view;
    assert_int_equal(lt_model_tensor(t->model, &t->model->params, nf, &view), LT_OK);
    float *nan = malloc((size_t)nf->numel * sizeof(float));
    for (int64_t i = 0; i < nf->numel; i++) nan[i] = NAN;
    assert_int_equal(lt_tensor_upload(&view, nan, (size_t)nf->numel * sizeof(float)), LT_OK);
    float *before = malloc(t->model->n_flat * sizeof(float)), *after = malloc(t->model->n_flat * sizeof(float));
    download_all(t, before);
    lt_step_result r;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(lt_trainer_step(t, &w.batch, 1, &r), LT_OK);
        assert_int_equal(r.skipped, 1);
    }
    download_all(t, after);
    assert_memory_equal(before, after, t->model->n_flat * sizeof(float)); /* no update */
    assert_int_equal(t->adam_step, 0);
    assert_int_equal(t->step, 2);
    assert_int_equal(lt_trainer_step(t, &w.batch, 1, &r), LT_ERR_NUMERIC);
    assert_non_null(strstr(lt_last_error(), "max_nan_steps"));
    free(nan);
    free(before);
    free(after);
    lt_trainer_free(t);
    lt_window_batch_free(&w);
    free(stream);
}

static void test_bad_batches(void **state) {
    (void)state;
    lt_model_config mc;
    lt_train_config tc;
    assert_int_equal(lt_model_config_preset("tiny", &mc), LT_OK);
    lt_train_config_default(&tc);
    lt_trainer *t = NULL;
    assert_int_equal(lt_trainer_create(cpu(), &mc, &tc, 1, 8, &t), LT_OK);
    int32_t tok[8] = {0}, tgt[8] = {0}, pos[8] = {0}, len[1] = {8};
    float w[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    lt_batch b = {1, 8, tok, tgt, w, pos, len, NULL};
    lt_step_result r;
    tok[3] = 300; /* outside the vocabulary */
    assert_int_equal(lt_trainer_step(t, &b, 1, &r), LT_ERR_RANGE);
    tok[3] = 0;
    pos[2] = 80; /* outside the position table */
    assert_int_equal(lt_trainer_step(t, &b, 1, &r), LT_ERR_RANGE);
    assert_non_null(strstr(lt_last_error(), "pos_ids"));
    pos[2] = 0;
    len[0] = 4; /* padding with a loss weight */
    assert_int_equal(lt_trainer_step(t, &b, 1, &r), LT_ERR_INVALID_ARG);
    len[0] = 8;
    memset(w, 0, sizeof w);
    assert_int_equal(lt_trainer_step(t, &b, 1, &r), LT_ERR_INVALID_ARG);
    assert_non_null(strstr(lt_last_error(), "no token"));
    lt_batch big = {2, 8, tok, tgt, w, pos, NULL, NULL};
    assert_int_equal(lt_model_forward(t->model, &big, 0.0f, NULL), LT_ERR_SHAPE);
    lt_trainer_free(t);
}

int main(void) {
    if (lt_init() != LT_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_impossible_configs),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_accumulation),
        cmocka_unit_test(test_nan_steps),
        cmocka_unit_test(test_bad_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
