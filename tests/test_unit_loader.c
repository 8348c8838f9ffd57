/* tests/test_unit_loader.c - micro-batches from dataset files: shapes, ragged lengths
 * with zero-weight padding, determinism, resume by position, BERT rows, and transitive
 * rows whose generation is batched per step and target modality. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loretta/loader.h"
#include "support/abc_config.h"

static lt_model_config cfg;
#define ex lt_test_abc_extra
static char path[256];

static void setup(void) {
    lt_test_abc_config(&cfg, "loadertest");
    /* 12 samples: pairs (a,b), pairs (b,c), and a alone, lengths 1..5 */
    snprintf(path, sizeof path, "/tmp/lt_test_loader_%ld.ltds", (long)getpid());
    lt_ds_modality mods[3] = {{"a", 10, 6, 0}, {"b", 10, 6, 0}, {"c", 10, 6, 0}};
    lt_dataset_writer *w;
    assert_int_equal(lt_dataset_writer_open(path, mods, 3, &w), LT_OK);
    for (int i = 0; i < 12; i++) {
        uint16_t v[3][6];
        uint32_t len[3];
        for (int m = 0; m < 3; m++) {
            len[m] = (uint32_t)(1 + (i + m) % 5);
            for (int k = 0; k < 6; k++) v[m][k] = (uint16_t)((i + k + m) % 10);
        }
        const uint16_t *t[3] = {v[0], v[1], v[2]};
        uint32_t mask = i % 3 == 0 ? 0x3 : i % 3 == 1 ? 0x6 : 0x1;
        assert_int_equal(lt_dataset_writer_add(w, i % 10, mask, t, len), LT_OK);
    }
    assert_int_equal(lt_dataset_writer_close(w), LT_OK);
}

static void test_batches(void **state) {
    (void)state;
    setup();
    lt_loader_opts o = lt_loader_defaults();
    o.batch = 5;
    o.objective = LT_OBJ_C2M3;
    int max_T = lt_loader_max_row(&cfg, &ex, o.max_spans);
    lt_loader *l1, *l2;
    assert_int_equal(lt_loader_open(path, &cfg, &ex, &o, max_T, &l1), LT_OK);
    assert_int_equal(lt_loader_open(path, &cfg, &ex, &o, max_T, &l2), LT_OK);
    for (int step = 0; step < 7; step++) { /* crosses epochs (12 samples, 5 per batch) */
        const lt_batch *b1, *b2;
        assert_int_equal(lt_loader_next(l1, &b1), LT_OK);
        assert_int_equal(lt_loader_next(l2, &b2), LT_OK);
        assert_int_equal(b1->B, 5);
        assert_int_equal(b1->T, b2->T);
        assert_memory_equal(b1->tokens, b2->tokens, sizeof(int32_t) * 5 * (size_t)b1->T);
        int longest = 0;
        for (int b = 0; b < 5; b++) {
            assert_true(b1->lengths[b] >= 2 && b1->lengths[b] <= b1->T);
            if (b1->lengths[b] > longest) longest = b1->lengths[b];
            for (int t = b1->lengths[b]; t < b1->T; t++) assert_true(b1->weights[b * b1->T + t] == 0.0f);
            for (int t = 0; t < b1->lengths[b]; t++) {
                int32_t tok = b1->tokens[b * b1->T + t];
                assert_true(tok >= 0 && tok < 42);
            }
        }
        assert_int_equal(longest, b1->T); /* T is the longest row: no extra padding */
    }
    /* resume: a fresh loader seeked to l1's position continues identically */
    uint64_t ep, cur;
    lt_loader_position(l1, &ep, &cur);
    lt_loader *l3;
    assert_int_equal(lt_loader_open(path, &cfg, &ex, &o, max_T, &l3), LT_OK);
    assert_int_equal(lt_loader_seek(l3, ep, cur), LT_OK);
    const lt_batch *a, *c;
    assert_int_equal(lt_loader_next(l1, &a), LT_OK);
    assert_int_equal(lt_loader_next(l3, &c), LT_OK);
    assert_int_equal(a->T, c->T);
    assert_memory_equal(a->tokens, c->tokens, sizeof(int32_t) * 5 * (size_t)a->T);
    assert_memory_equal(a->weights, c->weights, sizeof(float) * 5 * (size_t)a->T);
    lt_loader_close(l1);
    lt_loader_close(l2);
    lt_loader_close(l3);
}

static void test_bert_rows(void **state) {
    (void)state;
    setup();
    lt_loader_opts o = lt_loader_defaults();
    o.batch = 4;
    o.objective = LT_OBJ_BERT;
    lt_loader *l;
    assert_int_equal(lt_loader_open(path, &cfg, &ex, &o, 30, &l), LT_OK);
    const lt_batch *b;
    assert_int_equal(lt_loader_next(l, &b), LT_OK);
    for (int r = 0; r < 4; r++) {
        int counted = 0;
        for (int t = 0; t < b->lengths[r]; t++) {
            if (b->weights[r * b->T + t] == 0.0f) continue;
            counted++;
            int32_t tgt = b->targets[r * b->T + t];
            assert_true(tgt >= 0 && tgt < 30); /* a modality token, never BOS/EOS */
        }
        assert_true(counted >= 1);
    }
    lt_loader_close(l);
}

static int gen_calls, gen_rows;
static lt_status fake_gen(void *ctx, const lt_seq *prompts, int n, int target, int32_t *out, int stride,
                          int *lens) {
    (void)ctx;
    gen_calls++;
    gen_rows += n;
    for (int i = 0; i < n; i++) {
        assert_true(prompts[i].len >= 3);
        assert_int_not_equal(prompts[i].mod[0], target);
        for (int k = 0; k < 2; k++) out[(size_t)i * stride + k] = cfg.modalities[target].tok_lo + k;
        lens[i] = 2;
    }
    return LT_OK;
}

static void test_transitive_rows(void **state) {
    (void)state;
    setup();
    lt_modality_graph g;
    lt_graph_init(&g, 3);
    lt_graph_add_pair(&g, 0, 1);
    lt_graph_add_pair(&g, 1, 2);
    lt_graph_finish(&g);
    lt_loader_opts o = lt_loader_defaults();
    o.batch = 6;
    o.transitive_share = 1.0;
    o.transitive.p_all = 0.0;
    o.graph = &g;
    o.generate = fake_gen;
    lt_loader *l;
    int max_T = lt_loader_max_row(&cfg, &ex, o.max_spans);
    assert_int_equal(lt_loader_open(path, &cfg, &ex, &o, max_T, &l), LT_OK);
    gen_calls = gen_rows = 0;
    const lt_batch *b;
    assert_int_equal(lt_loader_next(l, &b), LT_OK);
    uint64_t rows, generated;
    lt_loader_transitive_stats(l, &rows, &generated);
    assert_int_equal(rows, 6);
    assert_int_equal(generated, (uint64_t)gen_rows);
    /* batched: at most (chain steps x target modalities) calls for six rows */
    assert_true(gen_calls <= 2 * 3);
    assert_true(gen_rows >= 6);
    /* every row starts with the generated modality (never counted) and ends with a real
     * one (counted): [y_hat, x] for these chains */
    for (int r = 0; r < 6; r++) {
        assert_true(b->weights[r * b->T] == 0.0f);
        assert_true(b->weights[r * b->T + b->lengths[r] - 1] == 1.0f);
    }
    lt_loader_close(l);
    o.generate = NULL;
    assert_int_equal(lt_loader_open(path, &cfg, &ex, &o, max_T, &l), LT_ERR_INVALID_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches), cmocka_unit_test(test_bert_rows), cmocka_unit_test(test_transitive_rows),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    remove(path);
    return r;
}
