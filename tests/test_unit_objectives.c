/* tests/test_unit_objectives.c - the LoReTTa sequence transforms with exact expected
 * sequences where the rules leave no freedom, and the invariants of the rules where they
 * do (fixed seeds): causal, commutative, CM3 spans/sentinels/positions, BERT masking,
 * next-token rows, the modality graph and the five transitive cases of appendix D. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "loretta/objectives.h"
#include "support/abc_config.h"

static lt_model_config cfg;
#define ex lt_test_abc_extra

static void setup_cfg(void) { lt_test_abc_config(&cfg, "objtest"); }

static lt_ds_sample sample_of(uint32_t mask, const uint16_t *a, uint32_t na, const uint16_t *b,
                              uint32_t nb, const uint16_t *c, uint32_t nc) {
    lt_ds_sample s;
    memset(&s, 0, sizeof s);
    s.label = 3;
    s.mask = mask;
    s.tokens[0] = a; s.len[0] = na;
    s.tokens[1] = b; s.len[1] = nb;
    s.tokens[2] = c; s.len[2] = nc;
    return s;
}

static const int ident[LT_DS_MAX_MODALITIES] = {0, 1, 2, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};

static void expect_seq(const lt_seq *s, const int32_t *tok, const int32_t *pos, const uint8_t *counted, int n) {
    if (s->len != n) {
        for (int i = 0; i < s->len; i++) printf("%d@%d%s ", s->tok[i], s->pos[i], s->counted[i] ? "" : "'");
        printf("\n");
    }
    assert_int_equal(s->len, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(s->tok[i], tok[i]);
        assert_int_equal(s->pos[i], pos[i]);
        if (counted) assert_int_equal(s->counted[i], counted[i]);
    }
}

static void test_causal_and_rows(void **state) {
    (void)state;
    setup_cfg();
    uint16_t a[2] = {1, 2}, b[1] = {5};
    lt_ds_sample smp = sample_of(3, a, 2, b, 1, NULL, 0);
    lt_seq s;
    assert_int_equal(lt_seq_init(&s, 4), LT_OK);
    int order[2] = {1, 0};
    assert_int_equal(lt_obj_causal(&s, &cfg, &smp, ident, order, 2), LT_OK);
    const int32_t tok[7] = {32, 15, 33, 30, 1, 2, 31}, pos[7] = {8, 9, 10, 0, 1, 2, 3};
    expect_seq(&s, tok, pos, NULL, 7);
    int32_t t[8], tg[8], p[8], mo[8];
    float w[8];
    int n;
    assert_int_equal(lt_seq_to_rows(&s, 8, t, tg, w, p, mo, &n), LT_OK);
    assert_int_equal(n, 6);
    assert_int_equal(tg[0], 15);
    assert_int_equal(t[5], 2);
    assert_int_equal(tg[5], 31);
    assert_int_equal(mo[2], 0); /* the target BOS_a belongs to modality a */
    assert_int_equal(lt_seq_to_rows(&s, 5, t, tg, w, p, mo, &n), LT_ERR_RANGE);
    int missing[1] = {2};
    assert_int_equal(lt_obj_causal(&s, &cfg, &smp, ident, missing, 1), LT_ERR_INVALID_ARG);
    uint16_t big[7] = {0};
    lt_ds_sample toolong = sample_of(1, big, 7, NULL, 0, NULL, 0);
    int one[1] = {0};
    assert_int_equal(lt_obj_causal(&s, &cfg, &toolong, ident, one, 1), LT_ERR_RANGE);
    lt_seq_free(&s);
}

static void test_commutative(void **state) {
    (void)state;
    setup_cfg();
    uint16_t a[1] = {1}, b[1] = {2}, c[1] = {3};
    lt_ds_sample smp = sample_of(7, a, 1, b, 1, c, 1);
    lt_seq s;
    lt_seq_init(&s, 16);
    int seen_first[3] = {0};
    for (int k = 0; k < 300; k++) {
        lt_obj_rng r = lt_obj_rng_make(42, (uint64_t)k);
        assert_int_equal(lt_obj_commutative(&s, &cfg, &smp, ident, &r), LT_OK);
        assert_int_equal(s.len, 9);
        seen_first[s.mod[0]]++;
        /* each modality block intact: BOS token EOS with its own positions */
        for (int i = 0; i < 9; i += 3) {
            int m = s.mod[i];
            assert_int_equal(s.tok[i], 30 + 2 * m);
            assert_int_equal(s.tok[i + 1], 10 * m + m + 1);
            assert_int_equal(s.pos[i + 2], 8 * m + 2);
        }
    }
    for (int m = 0; m < 3; m++) assert_true(seen_first[m] > 60); /* every order happens */
    /* reproducible from the seed */
    lt_obj_rng r1 = lt_obj_rng_make(7, 1), r2 = lt_obj_rng_make(7, 1);
    lt_seq s2;
    lt_seq_init(&s2, 16);
    lt_obj_commutative(&s, &cfg, &smp, ident, &r1);
    lt_obj_commutative(&s2, &cfg, &smp, ident, &r2);
    assert_memory_equal(s.tok, s2.tok, sizeof(int32_t) * 9);
    lt_seq_free(&s);
    lt_seq_free(&s2);
}

static void test_cm3_single_token_modality(void **state) {
    (void)state;
    setup_cfg();
    /* A modality of length 1 leaves exactly one possible span: the rules fix the output. */
    uint16_t a[1] = {4};
    lt_ds_sample smp = sample_of(1, a, 1, NULL, 0, NULL, 0);
    lt_seq s;
    lt_seq_init(&s, 8);
    int order[1] = {0}, n;
    for (uint64_t seed = 0; seed < 20; seed++) {
        lt_obj_causal(&s, &cfg, &smp, ident, order, 1);
        lt_obj_rng r = lt_obj_rng_make(seed, 0);
        assert_int_equal(lt_obj_cm3(&s, &ex, 3, &r, &n), LT_OK);
        assert_int_equal(n, 1);
        /* BOS_a S0 EOS_a | S0 a4 EOSpan: sentinel and end-of-span at the span's position 1 */
        const int32_t tok[6] = {30, 36, 31, 36, 4, 40}, pos[6] = {0, 1, 2, 1, 1, 1};
        const uint8_t counted[6] = {1, 0, 1, 0, 1, 1};
        expect_seq(&s, tok, pos, counted, 6);
    }
    lt_seq_free(&s);
}

static void test_cm3_invariants(void **state) {
    (void)state;
    setup_cfg();
    uint16_t a[6] = {0, 1, 2, 3, 4, 5}, b[5] = {5, 6, 7, 8, 9}, c[1] = {9};
    lt_ds_sample smp = sample_of(7, a, 6, b, 5, c, 1);
    lt_seq s;
    lt_seq_init(&s, 32);
    int order[3] = {0, 1, 2}, hist[5] = {0}, at_end = 0;
    for (uint64_t seed = 0; seed < 400; seed++) {
        lt_obj_causal(&s, &cfg, &smp, ident, order, 3);
        lt_seq orig;
        lt_seq_init(&orig, 32);
        for (int i = 0; i < s.len; i++) lt_seq_push(&orig, s.tok[i], s.pos[i], s.mod[i], s.counted[i]);
        lt_obj_rng r = lt_obj_rng_make(seed, 5);
        int n;
        assert_int_equal(lt_obj_cm3(&s, &ex, 3, &r, &n), LT_OK);
        assert_true(n >= 1 && n <= 3);
        hist[n]++;
        /* the masked part: sentinels 0..n-1 in order, then n appended blocks */
        int next = 0, i = 0;
        for (; i < s.len && next < n + 1; i++) {
            if (s.tok[i] >= 36 && s.tok[i] < 40) {
                if (s.tok[i] == 36 + next) next++;
                else break; /* the first repeat of sentinel 0 starts the appended part */
            }
        }
        assert_int_equal(next, n);
        /* every original token appears exactly once, with its original position */
        int used[32] = {0};
        for (int k = 0; k < s.len; k++) {
            if (s.mod[k] < 0) {
                assert_int_equal(s.counted[k], s.tok[k] == 40); /* sentinels never counted */
                continue;
            }
            int found = 0;
            for (int o = 0; o < orig.len && !found; o++)
                if (!used[o] && orig.tok[o] == s.tok[k] && orig.pos[o] == s.pos[k]) used[o] = found = 1;
            assert_true(found);
        }
        for (int o = 0; o < orig.len; o++) assert_true(used[o]);
        /* a span at the very end of the last modality happens */
        for (int k = 0; k + 1 < s.len; k++)
            if (s.tok[k] >= 36 && s.tok[k] < 40 && s.tok[k + 1] == 35 && k > 0 && s.tok[k - 1] == 34) at_end++;
        lt_seq_free(&orig);
    }
    assert_true(hist[1] > hist[2] && hist[2] > hist[3] / 2); /* Poisson(1) clamped */
    assert_true(at_end > 0);
    lt_obj_rng r = lt_obj_rng_make(1, 1);
    int n;
    assert_int_equal(lt_obj_cm3(&s, &ex, 5, &r, &n), LT_ERR_INVALID_ARG); /* only 4 sentinels */
    lt_seq_free(&s);
}

static void test_bert(void **state) {
    (void)state;
    setup_cfg();
    uint16_t a[6] = {0, 1, 2, 3, 4, 5};
    lt_ds_sample smp = sample_of(1, a, 6, NULL, 0, NULL, 0);
    lt_seq s;
    lt_seq_init(&s, 16);
    int order[1] = {0};
    int32_t labels[16];
    long chosen = 0, masked = 0, total = 0;
    for (uint64_t seed = 0; seed < 2000; seed++) {
        lt_obj_causal(&s, &cfg, &smp, ident, order, 1);
        lt_obj_rng r = lt_obj_rng_make(seed, 9);
        assert_int_equal(lt_obj_bert(&s, &cfg, &ex, 0.15, &r, labels), LT_OK);
        assert_int_equal(labels[0], -1); /* never BOS/EOS */
        assert_int_equal(labels[7], -1);
        int any = 0;
        for (int i = 1; i < 7; i++) {
            total++;
            if (labels[i] < 0) {
                assert_int_equal(s.tok[i], i - 1);
                continue;
            }
            any = 1;
            chosen++;
            assert_int_equal(labels[i], i - 1);
            masked += s.tok[i] == 41;
            assert_true(s.tok[i] == 41 || (s.tok[i] >= 0 && s.tok[i] < 10));
        }
        assert_true(any);
    }
    /* 0.15 per token plus the forced pick when none was chosen (0.85^6 = 0.38 of rows) */
    assert_true(chosen > total * 0.18 && chosen < total * 0.24);
    assert_true(masked > chosen * 0.8 && masked < chosen * 0.92); /* 80% plus the forced picks */
    lt_seq_free(&s);
}

static void test_graph(void **state) {
    (void)state;
    setup_cfg();
    lt_modality_graph g;
    assert_int_equal(lt_graph_init(&g, 3), LT_OK);
    lt_graph_add_pair(&g, 0, 1);
    lt_graph_add_pair(&g, 1, 2);
    lt_graph_finish(&g);
    int path[8], n;
    assert_int_equal(lt_graph_path(&g, &cfg, 0, 2, path, &n), LT_OK);
    assert_int_equal(n, 3);
    assert_int_equal(path[0], 0);
    assert_int_equal(path[1], 1);
    assert_int_equal(path[2], 2);
    assert_int_equal(lt_graph_path(&g, &cfg, 2, 0, path, &n), LT_OK);
    assert_int_equal(path[1], 1);
    lt_modality_graph g2;
    lt_graph_init(&g2, 3);
    lt_graph_add_pair(&g2, 0, 1);
    lt_graph_finish(&g2);
    assert_int_equal(lt_graph_path(&g2, &cfg, 0, 2, path, &n), LT_ERR_INVALID_ARG);
    assert_non_null(strstr(lt_last_error(), "links a and c"));
}

/* A deterministic stand-in for the model: modality m is "generated" as tokens
 * tok_lo + 7, 8, 9 (3 tokens), and it records what it was asked. */
typedef struct fake_gen {
    int calls;
    int from[8], to[8];
} fake_gen;

static lt_status fake(void *ctx, const lt_seq *prompt, int target, int32_t *out, int max_out, int *n_out) {
    fake_gen *f = ctx;
    assert_true(max_out >= 3);
    f->from[f->calls] = prompt->mod[0];
    f->to[f->calls] = target;
    f->calls++;
    for (int i = 0; i < 3; i++) out[i] = cfg.modalities[target].tok_lo + 7 + i;
    *n_out = 3;
    return LT_OK;
}

static void run_transitive(uint32_t mask, lt_seq *s, fake_gen *f, uint64_t seed, double p_all) {
    uint16_t a[2] = {1, 2}, b[2] = {3, 4}, c[2] = {5, 6};
    lt_ds_sample smp = sample_of(mask, a, 2, b, 2, c, 2);
    lt_modality_graph g; /* the paper's chain a - b - c: pairs (a,b) and (b,c) */
    lt_graph_init(&g, 3);
    lt_graph_add_pair(&g, 0, 1);
    lt_graph_add_pair(&g, 1, 2);
    lt_graph_finish(&g);
    lt_transitive_opts o = {p_all, 1};
    lt_obj_rng r = lt_obj_rng_make(seed, 3);
    memset(f, 0, sizeof *f);
    int used;
    assert_int_equal(lt_obj_transitive(s, &cfg, &g, &smp, ident, &o, &r, fake, f, &used), LT_OK);
    assert_int_equal(used, f->calls);
}

static void test_transitive_cases(void **state) {
    (void)state;
    setup_cfg();
    lt_seq s;
    lt_seq_init(&s, 32);
    fake_gen f;
    /* case 1: (a, b) -> c generated from b, row [c_hat, a], loss on a only */
    run_transitive(0x3, &s, &f, 1, 0.0);
    assert_int_equal(f.calls, 1);
    assert_int_equal(f.from[0], 1);
    assert_int_equal(f.to[0], 2);
    {
        const int32_t tok[9] = {34, 27, 28, 29, 35, 30, 1, 2, 31}, pos[9] = {16, 17, 18, 19, 20, 0, 1, 2, 3};
        const uint8_t counted[9] = {0, 0, 0, 0, 0, 1, 1, 1, 1};
        expect_seq(&s, tok, pos, counted, 9);
    }
    /* case 2: (b, c) -> a from b, row [a_hat, c] */
    run_transitive(0x6, &s, &f, 1, 0.0);
    assert_int_equal(f.calls, 1);
    assert_int_equal(f.from[0], 1);
    assert_int_equal(f.to[0], 0);
    assert_int_equal(s.tok[0], 30);
    assert_int_equal(s.tok[5], 34);
    assert_int_equal(s.counted[1], 0);
    assert_int_equal(s.counted[6], 1);
    /* case 3: a alone -> b_hat from a, c_hat from b_hat, row [c_hat, a] */
    run_transitive(0x1, &s, &f, 1, 0.0);
    assert_int_equal(f.calls, 2);
    assert_int_equal(f.from[0], 0);
    assert_int_equal(f.to[0], 1);
    assert_int_equal(f.from[1], 1);
    assert_int_equal(f.to[1], 2);
    assert_int_equal(s.tok[0], 34);
    assert_int_equal(s.tok[5], 30);
    /* case 5: c alone -> b_hat, a_hat, row [a_hat, c] */
    run_transitive(0x4, &s, &f, 1, 0.0);
    assert_int_equal(f.calls, 2);
    assert_int_equal(f.to[1], 0);
    assert_int_equal(s.tok[0], 30);
    assert_int_equal(s.tok[5], 34);
    /* case 4: b alone -> a_hat and c_hat from b, shuffled, loss on the second */
    int a_first = 0;
    for (uint64_t seed = 0; seed < 40; seed++) {
        run_transitive(0x2, &s, &f, seed, 0.0);
        assert_int_equal(f.calls, 2);
        assert_int_equal(f.from[0], 1);
        assert_int_equal(f.from[1], 1);
        assert_int_equal(s.len, 10);
        assert_int_equal(s.counted[1], 0);
        assert_int_equal(s.counted[6], 1);
        a_first += s.tok[0] == 30;
    }
    assert_true(a_first > 5 && a_first < 35);
    /* all modalities (p_all = 1): (a, b) + c_hat, loss on a and b only */
    run_transitive(0x3, &s, &f, 4, 1.0);
    assert_int_equal(f.calls, 1);
    assert_int_equal(s.len, 13);
    for (int i = 0; i < s.len; i++) assert_int_equal(s.counted[i], s.mod[i] != 2);
    /* a triplet has nothing missing: the plain (shuffled) sample */
    run_transitive(0x7, &s, &f, 4, 0.0);
    assert_int_equal(f.calls, 0);
    assert_int_equal(s.len, 12);
    lt_seq_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_causal_and_rows), cmocka_unit_test(test_commutative),
        cmocka_unit_test(test_cm3_single_token_modality), cmocka_unit_test(test_cm3_invariants),
        cmocka_unit_test(test_bert), cmocka_unit_test(test_graph),
        cmocka_unit_test(test_transitive_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
