/* tests/test_train_checkpoint.c - safetensors checkpoints: save/resume determinism (bit
 * for bit against an uninterrupted run), cross-backend loading, and bad files (truncated,
 * corrupted header, wrong dtype/shape, missing tensor) that fail with a message naming
 * the file and the field while changing nothing on disk or in the trainer. */
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

#include "loretta/checkpoint.h"
#include "loretta/loretta.h"

static lt_device *cpu(void) {
    lt_device *d = NULL;
    assert_int_equal(lt_device_find("cpu", 0, &d), LT_OK);
    return d;
}

#define T_SEQ 24
#define B_SEQ 2
#define STREAM 4096

static int32_t stream_tokens[STREAM];
static char dir[256];

static int setup(void **state) {
    (void)state;
    uint32_t s = 11;
    for (int i = 0; i < STREAM; i++) {
        s = s * 1664525u + 1013904223u;
        stream_tokens[i] = (int32_t)((s >> 8) % 256);
    }
    snprintf(dir, sizeof dir, "%s/ckpt_test_%ld", LT_BINARY_DIR, (long)getpid());
    char cmd[400];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void make_trainer(lt_device *dev, lt_trainer **t) {
    lt_model_config mc;
    lt_train_config tc;
    assert_int_equal(lt_model_config_preset("tiny", &mc), LT_OK);
    lt_train_config_default(&tc);
    tc.warmup_steps = 2;
    tc.total_steps = 8;
    tc.lr_max = 3e-3;
    assert_int_equal(lt_trainer_create(dev, &mc, &tc, B_SEQ, T_SEQ, t), LT_OK);
}

/* One step on the data window the trainer's position points at. */
static double train_step(lt_trainer *t, lt_window_batch *w) {
    assert_int_equal(lt_window_batch_fill(w, &t->model->cfg, stream_tokens, STREAM, t->tc.seed,
                                          t->data_pos),
                     LT_OK);
    t->data_pos++;
    lt_step_result r;
    lt_status s = lt_trainer_step(t, &w->batch, 1, &r);
    if (s != LT_OK) fail_msg("step: %s", lt_last_error());
    return r.loss;
}

static float *params_of(const lt_trainer *t) {
    float *p = malloc(t->model->n_flat * sizeof(float));
    assert_int_equal(lt_tensor_download(p, &t->model->params, t->model->n_flat * sizeof(float)), LT_OK);
    return p;
}

static void test_resume_bit_exact(void **state) {
    (void)state;
    const int N = 3, M = 3;
    lt_window_batch w;
    assert_int_equal(lt_window_batch_alloc(B_SEQ, T_SEQ, &w), LT_OK);
    double straight[8];
    lt_trainer *a = NULL;
    make_trainer(cpu(), &a);
    for (int i = 0; i < N + M; i++) straight[i] = train_step(a, &w);

    lt_trainer *b = NULL;
    make_trainer(cpu(), &b);
    for (int i = 0; i < N; i++) assert_true(train_step(b, &w) == straight[i]);
    char path[400];
    snprintf(path, sizeof path, "%s/resume.safetensors", dir);
    if (lt_checkpoint_save(b, path) != LT_OK) fail_msg("save: %s", lt_last_error());
    float *saved = params_of(b);
    lt_trainer_free(b);

    lt_trainer *c = NULL;
    if (lt_checkpoint_load(path, cpu(), B_SEQ, T_SEQ, &c) != LT_OK) fail_msg("load: %s", lt_last_error());
    float *loaded = params_of(c);
    assert_memory_equal(saved, loaded, c->model->n_flat * sizeof(float));
    assert_int_equal(c->step, N);
    assert_int_equal(c->adam_step, N);
    assert_int_equal(c->data_pos, N);
    assert_true(c->tc.lr_max == 3e-3);
    for (int i = N; i < N + M; i++) {
        double l = train_step(c, &w);
        printf("# step %d: uninterrupted %.9g resumed %.9g\n", i, straight[i], l);
        assert_true(l == straight[i]); /* bit for bit */
    }
    float *pa = params_of(a), *pc = params_of(c);
    assert_memory_equal(pa, pc, a->model->n_flat * sizeof(float));
    free(saved);
    free(loaded);
    free(pa);
    free(pc);
    lt_trainer_free(a);
    lt_trainer_free(c);
    lt_window_batch_free(&w);
}

/* The data are host bytes: a cpu checkpoint loads on every other device unchanged. */
static void test_cross_backend(void **state) {
    (void)state;
    lt_trainer *a = NULL;
    make_trainer(cpu(), &a);
    lt_window_batch w;
    assert_int_equal(lt_window_batch_alloc(B_SEQ, T_SEQ, &w), LT_OK);
    train_step(a, &w);
    char path[400];
    snprintf(path, sizeof path, "%s/cross.safetensors", dir);
    assert_int_equal(lt_checkpoint_save(a, path), LT_OK);
    float *pa = params_of(a);
    for (int i = 0; i < lt_device_count(); i++) {
        lt_device *dev = lt_device_get(i);
        lt_trainer *b = NULL;
        lt_status s = lt_checkpoint_load(path, dev, B_SEQ, T_SEQ, &b);
        if (s == LT_ERR_UNSUPPORTED) {
            printf("# %s: skipped (%s)\n", dev->backend->name, lt_last_error());
            continue;
        }
        if (s != LT_OK) fail_msg("%s: %s", dev->backend->name, lt_last_error());
        float *pb = params_of(b);
        assert_memory_equal(pa, pb, a->model->n_flat * sizeof(float));
        printf("# loaded on %s\n", dev->backend->name);
        free(pb);
        lt_trainer_free(b);
    }
    free(pa);
    lt_trainer_free(a);
    lt_window_batch_free(&w);
}

static unsigned char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n + 1);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* Loads `bytes` from a file into `t`, expecting failure with `needle` in the message;
 * the file and the trainer must be unchanged afterwards. */
static void expect_bad(lt_trainer *t, const char *path, const unsigned char *bytes, size_t n,
                       const char *needle) {
    write_file(path, bytes, n);
    float *before = params_of(t);
    int64_t step = t->step;
    lt_status s = lt_checkpoint_restore(t, path);
    printf("# %-32s -> %s\n", needle, lt_last_error());
    if (s == LT_OK) fail_msg("loading a bad checkpoint (%s) succeeded", needle);
    if (!strstr(lt_last_error(), needle) || !strstr(lt_last_error(), path))
        fail_msg("message '%s' lacks '%s' or the path", lt_last_error(), needle);
    float *after = params_of(t);
    assert_memory_equal(before, after, t->model->n_flat * sizeof(float));
    assert_int_equal(t->step, step);
    size_t n2;
    unsigned char *again = read_file(path, &n2);
    assert_int_equal(n2, n);
    assert_memory_equal(again, bytes, n);
    free(again);
    free(before);
    free(after);
    lt_trainer *fresh = NULL;
    assert_int_not_equal(lt_checkpoint_load(path, cpu(), B_SEQ, T_SEQ, &fresh), LT_OK);
    assert_null(fresh);
}

static void replace(unsigned char *buf, size_t hlen, const char *from, const char *to) {
    assert_int_equal(strlen(from), strlen(to));
    char *hdr = (char *)buf + 8;
    char save = hdr[hlen];
    hdr[hlen] = '\0';
    char *p = strstr(hdr, from);
    hdr[hlen] = save;
    assert_non_null(p);
    memcpy(p, to, strlen(to));
}

static void test_bad_files(void **state) {
    (void)state;
    lt_trainer *t = NULL;
    make_trainer(cpu(), &t);
    char good[400], bad[400];
    snprintf(good, sizeof good, "%s/good.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    assert_int_equal(lt_checkpoint_save(t, good), LT_OK);
    size_t n;
    unsigned char *orig = read_file(good, &n);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)orig[i] << (8 * i);
    assert_true(hlen % 8 == 0 && 8 + hlen < n);
    unsigned char *b = malloc(n);

    expect_bad(t, bad, orig, 5, "too short");
    expect_bad(t, bad, orig, 8 + hlen / 2, "header length");
    expect_bad(t, bad, orig, n - 1, "truncated");
    expect_bad(t, bad, orig, n - 4096, "truncated");
    memcpy(b, orig, n);
    b[7] = 0x40; /* absurd header length */
    expect_bad(t, bad, b, n, "header length");
    memcpy(b, orig, n);
    b[8] = '[';
    expect_bad(t, bad, b, n, "not valid JSON");
    memcpy(b, orig, n);
    replace(b, hlen, "\"nf.weight\":{\"dtype\":\"F32\"", "\"nf.weight\":{\"dtype\":\"F16\"");
    expect_bad(t, bad, b, n, "dtype is F16");
    memcpy(b, orig, n);
    replace(b, hlen, "\"nf.weight\":{\"dtype\":\"F32\",\"shape\":[64]", "\"nf.weight\":{\"dtype\":\"F32\",\"shape\":[46]");
    expect_bad(t, bad, b, n, "field shape");
    memcpy(b, orig, n);
    replace(b, hlen, "\"nf.weight\"", "\"nf.wEight\"");
    expect_bad(t, bad, b, n, "does not have");
    memcpy(b, orig, n);
    replace(b, hlen, "loretta.checkpoint", "loretta.chekpoint_");
    expect_bad(t, bad, b, n, "format");
    /* An extra byte at the end is not ours either. */
    unsigned char *longer = malloc(n + 1);
    memcpy(longer, orig, n);
    longer[n] = 0;
    expect_bad(t, bad, longer, n + 1, "the file has");
    free(longer);
    assert_int_equal(lt_checkpoint_restore(t, good), LT_OK);

    /* A save into a missing directory fails cleanly and creates nothing. */
    char missing[400];
    snprintf(missing, sizeof missing, "%s/no/such/dir/x.safetensors", dir);
    assert_int_equal(lt_checkpoint_save(t, missing), LT_ERR_IO);
    assert_non_null(strstr(lt_last_error(), "no/such/dir"));
    /* Saving over an existing checkpoint replaces it whole (temp file + rename). */
    assert_int_equal(lt_checkpoint_save(t, good), LT_OK);
    size_t n3;
    unsigned char *again = read_file(good, &n3);
    assert_int_equal(n3, n);
    free(again);
    free(b);
    free(orig);
    lt_trainer_free(t);
}

/* The Python side reads our files: safetensors (when installed) or plain json + torch. */
static void test_python_reads(void **state) {
    (void)state;
    if (getenv("LORETTA_QUICK") || access("/usr/bin/python3", X_OK) != 0) {
        skip();
        return;
    }
    lt_trainer *t = NULL;
    make_trainer(cpu(), &t);
    char path[400], cmd[1200];
    snprintf(path, sizeof path, "%s/py.safetensors", dir);
    assert_int_equal(lt_checkpoint_save(t, path), LT_OK);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c 'import torch' 2>/dev/null");
    if (system(cmd) != 0) {
        lt_trainer_free(t);
        skip();
        return;
    }
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/golden/read_checkpoint.py '%s'", LT_SOURCE_DIR, path);
    assert_int_equal(system(cmd), 0);
    lt_trainer_free(t);
}

int main(void) {
    if (lt_init() != LT_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_bit_exact),
        cmocka_unit_test(test_cross_backend),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_python_reads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
