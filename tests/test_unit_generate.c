/* tests/test_unit_generate.c - generation and feature extraction on the tiny preset with
 * random weights (cpu device; the ref device repeats the cache/no-cache comparison):
 *  - the KV-cache generator draws exactly the tokens of the no-cache reference (which
 *    re-runs the training forward every step), greedy and sampled, fixed and variable
 *    length, with ragged prompts in one batch;
 *  - a batch gives each row what that prompt gives alone; lt_generate_many with mixed
 *    targets and the transitive adapter agree with lt_generate;
 *  - tokens stay in the target's range, fixed-length rows have exactly max_len - 2
 *    tokens, variable-length rows stop at the end token and respect min_new;
 *  - the first greedy token and the features match a plain host forward in double
 *    (an implementation independent of both library paths);
 *  - bad calls fail with a message. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loretta/generate.h"
#include "loretta/loretta.h"
#include "loretta/rng.h"

#define NP 5        /* prompts */
#define MAX_T 80    /* prompt (48) + BOS + 29 fed b tokens fit; 45 fed a tokens do not */
#define STRIDE 64

typedef struct fixture {
    lt_device *dev;
    lt_model *model;
    lt_generator *gen;
    lt_seq prompts[NP];
} fixture;

static const int prompt_len[NP] = {5, 17, 46, 1, 30}; /* modality a values */

/* Prompts of modality a (tokens 0..255), ragged. */
static void make_prompts(const lt_model_config *cfg, lt_seq *p) {
    for (int i = 0; i < NP; i++) {
        uint16_t v[64];
        for (int t = 0; t < prompt_len[i]; t++) {
            uint32_t w[4];
            lt_rng_words(1234, (uint64_t)i, (uint64_t)t, w);
            v[t] = (uint16_t)(w[0] % 256);
        }
        assert_int_equal(lt_seq_init(&p[i], 64), LT_OK);
        assert_int_equal(lt_seq_append_modality(&p[i], cfg, 0, v, (uint32_t)prompt_len[i], 0), LT_OK);
    }
}

static int setup_dev(void **state, const char *backend) {
    if (lt_init() != LT_OK) return -1;
    fixture *f = calloc(1, sizeof *f);
    if (lt_device_find(backend, 0, &f->dev) != LT_OK) {
        free(f);
        *state = NULL;
        return 0; /* tests skip */
    }
    lt_model_config cfg;
    if (lt_model_config_preset("tiny", &cfg) != LT_OK) return -1;
    if (lt_model_create(f->dev, &cfg, NP, MAX_T, &f->model) != LT_OK) return -1;
    /* A larger init std makes the logits peaky enough that greedy runs are far from
     * ties and sampled runs vary. */
    f->model->cfg.init_std = 0.3f;
    if (lt_model_init_weights(f->model, 7) != LT_OK) return -1;
    if (lt_generator_create(f->model, NP, MAX_T, &f->gen) != LT_OK) return -1;
    make_prompts(&f->model->cfg, f->prompts);
    *state = f;
    return 0;
}

static int setup_cpu(void **state) { return setup_dev(state, "cpu"); }
static int setup_ref(void **state) { return setup_dev(state, "ref"); }

static int teardown(void **state) {
    fixture *f = *state;
    if (!f) return 0;
    for (int i = 0; i < NP; i++) lt_seq_free(&f->prompts[i]);
    lt_generator_free(f->gen);
    lt_model_free(f->model);
    free(f);
    return 0;
}

#define NEED_FIXTURE(f)                                     \
    fixture *f = *state;                                    \
    if (!f) {                                               \
        print_message("device not available: skipped\n");  \
        skip();                                             \
    }

static void check_range(const lt_model_config *cfg, int target, const int32_t *out,
                        const int *len, int n) {
    const lt_modality *m = &cfg->modalities[target];
    for (int p = 0; p < n; p++)
        for (int i = 0; i < len[p]; i++) {
            int32_t t = out[p * STRIDE + i];
            if (t < m->tok_lo || t >= m->tok_hi) fail_msg("row %d token %d = %d outside [%d, %d)", p, i, t, m->tok_lo, m->tok_hi);
        }
}

static void expect_same(const int32_t *a, const int *la, const int32_t *b, const int *lb, int n) {
    for (int p = 0; p < n; p++) {
        if (la[p] != lb[p]) fail_msg("row %d: %d tokens vs %d", p, la[p], lb[p]);
        for (int i = 0; i < la[p]; i++)
            if (a[p * STRIDE + i] != b[p * STRIDE + i])
                fail_msg("row %d token %d: %d vs %d", p, i, a[p * STRIDE + i], b[p * STRIDE + i]);
    }
}

/* Cached and no-cache generation of modality b from the ragged prompts. */
static void cache_vs_nocache(fixture *f, const lt_gen_opts *o, int *len_out) {
    int32_t a[NP * STRIDE], b[NP * STRIDE];
    int la[NP], lb[NP];
    assert_int_equal(lt_generate(f->gen, f->prompts, NP, 1, o, a, STRIDE, la), LT_OK);
    assert_int_equal(lt_generate_nocache(f->model, f->prompts, NP, 1, o, b, STRIDE, lb), LT_OK);
    check_range(&f->model->cfg, 1, a, la, NP);
    expect_same(a, la, b, lb, NP);
    if (len_out) memcpy(len_out, la, sizeof la);
}

static void test_greedy_fixed(void **state) {
    NEED_FIXTURE(f);
    lt_gen_opts o = lt_gen_opts_default();
    o.fixed_len_mask = 1u << 1;
    int len[NP];
    cache_vs_nocache(f, &o, len);
    for (int p = 0; p < NP; p++) assert_int_equal(len[p], f->model->cfg.modalities[1].max_len - 2);
}

static void test_sampled_fixed_topk(void **state) {
    NEED_FIXTURE(f);
    lt_gen_opts o = lt_gen_opts_default();
    o.fixed_len_mask = 1u << 1;
    o.temperature = 1.3f;
    o.top_k = 7;
    o.seed = 99;
    cache_vs_nocache(f, &o, NULL);
}

/* Variable length at a high temperature: the end token is drawn in some rows (checked),
 * and every row agrees with the reference, including where it stopped. */
static void test_sampled_variable_stops(void **state) {
    NEED_FIXTURE(f);
    const int max_new = f->model->cfg.modalities[1].max_len - 2;
    int stopped = 0;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        lt_gen_opts o = lt_gen_opts_default();
        o.temperature = 3.0f;
        o.seed = seed;
        o.min_new = 2;
        int len[NP];
        cache_vs_nocache(f, &o, &len[0]);
        for (int p = 0; p < NP; p++) {
            assert_true(len[p] >= 2 && len[p] <= max_new);
            stopped += len[p] < max_new;
        }
    }
    print_message("rows stopped by the end token: %d of %d\n", stopped, 3 * NP);
    assert_true(stopped > 0);
}

static void test_greedy_variable_capped(void **state) {
    NEED_FIXTURE(f);
    lt_gen_opts o = lt_gen_opts_default();
    o.max_new = 9;
    int len[NP];
    cache_vs_nocache(f, &o, len);
    for (int p = 0; p < NP; p++) assert_true(len[p] >= 1 && len[p] <= 9);
}

/* An empty prompt (unconditional generation: BOS only) next to non-empty ones. */
static void test_empty_prompt(void **state) {
    NEED_FIXTURE(f);
    lt_seq pr[3] = {f->prompts[1], {0}, f->prompts[3]};
    lt_gen_opts o = lt_gen_opts_default();
    o.temperature = 1.0f;
    o.seed = 21;
    int32_t a[3 * STRIDE], b[3 * STRIDE];
    int la[3], lb[3];
    assert_int_equal(lt_generate(f->gen, pr, 3, 1, &o, a, STRIDE, la), LT_OK);
    assert_int_equal(lt_generate_nocache(f->model, pr, 3, 1, &o, b, STRIDE, lb), LT_OK);
    expect_same(a, la, b, lb, 3);
    assert_true(la[1] >= 1);
}

/* Each row of a batch equals the prompt generated alone (same sample id). */
static void test_batch_rows_independent(void **state) {
    NEED_FIXTURE(f);
    lt_gen_opts o = lt_gen_opts_default();
    o.temperature = 1.0f;
    o.seed = 5;
    int32_t all[NP * STRIDE], one[STRIDE];
    int la[NP], l1;
    assert_int_equal(lt_generate(f->gen, f->prompts, NP, 1, &o, all, STRIDE, la), LT_OK);
    for (int p = 0; p < NP; p++) {
        int32_t id = p;
        lt_gen_opts o1 = o;
        o1.sample_ids = &id;
        assert_int_equal(lt_generate(f->gen, &f->prompts[p], 1, 1, &o1, one, STRIDE, &l1), LT_OK);
        expect_same(all + p * STRIDE, &la[p], one, &l1, 1);
    }
    const lt_gen_stats *st = lt_generator_stats(f->gen);
    assert_int_equal(st->prompt_tokens, f->prompts[NP - 1].len + 1);
    assert_int_equal(st->generated, l1);
}

/* Mixed targets through lt_generate_many, and the transitive adapter. */
static void test_many_and_adapter(void **state) {
    NEED_FIXTURE(f);
    const lt_model_config *cfg = &f->model->cfg;
    lt_seq pr[7];
    int targets[7];
    for (int i = 0; i < 7; i++) {
        pr[i] = f->prompts[i % NP];
        targets[i] = i % 3 == 0 ? 0 : 1; /* a from a, b from a */
    }
    lt_gen_opts o = lt_gen_opts_default();
    o.temperature = 0.8f;
    o.seed = 11;
    o.fixed_len_mask = 1u << 0;
    o.max_new = 20;
    int32_t out[7 * STRIDE], one[STRIDE];
    int len[7], l1;
    assert_int_equal(lt_generate_many(f->gen, pr, targets, 7, &o, out, STRIDE, len), LT_OK);
    for (int i = 0; i < 7; i++) {
        int32_t id = i;
        lt_gen_opts o1 = o;
        o1.sample_ids = &id;
        assert_int_equal(lt_generate(f->gen, &pr[i], 1, targets[i], &o1, one, STRIDE, &l1), LT_OK);
        expect_same(out + i * STRIDE, &len[i], one, &l1, 1);
        if (targets[i] == 0) assert_int_equal(len[i], 20);
        check_range(cfg, targets[i], out + i * STRIDE, &len[i], 1);
    }
    lt_gen_adapter ad = {f->gen, o, 0};
    lt_generate_fn fn = lt_generate_adapter;
    for (int call = 0; call < 2; call++) {
        int n = 0;
        assert_int_equal(fn(&ad, &f->prompts[call], 1, one, 12, &n), LT_OK);
        int32_t id = call, ref[STRIDE];
        int lr;
        lt_gen_opts o1 = o;
        o1.sample_ids = &id;
        o1.max_new = 12;
        assert_int_equal(lt_generate(f->gen, &f->prompts[call], 1, 1, &o1, ref, STRIDE, &lr), LT_OK);
        expect_same(one, &n, ref, &lr, 1);
    }
    assert_int_equal((int)ad.calls, 2);
}

/* ---- host forward in double ---- */

typedef struct host_model {
    const lt_model *m;
    float *p;
} host_model;

static const float *hp(const host_model *h, const char *fmt, int l) {
    char name[64];
    snprintf(name, sizeof name, fmt, l);
    const lt_param_info *pi = lt_model_find(h->m, name);
    assert_non_null(pi);
    return h->p + pi->offset;
}

static void rmsnorm(const double *x, const float *w, int d, double eps, double *out) {
    double ss = 0.0;
    for (int j = 0; j < d; j++) ss += x[j] * x[j];
    double r = 1.0 / sqrt(ss / d + eps);
    for (int j = 0; j < d; j++) out[j] = x[j] * r * w[j];
}

static void matvec(const float *W, int rows, int cols, const double *x, double *y, int acc) {
    for (int r = 0; r < rows; r++) {
        double s = 0.0;
        for (int c = 0; c < cols; c++) s += (double)W[(size_t)r * cols + c] * x[c];
        y[r] = acc ? y[r] + s : s;
    }
}

/* Final hidden states (after the final RMSNorm) of one sequence: hf[T][d]. */
static void host_forward(const host_model *h, const lt_seq *s, double *hf) {
    const lt_model_config *c = &h->m->cfg;
    const int d = c->d_model, H = c->n_head, Dh = c->head_dim, F = c->mlp_ratio * d, T = s->len;
    double *x = calloc((size_t)T * d, 8), *qkv = calloc((size_t)T * 3 * d, 8);
    double *hb = calloc((size_t)d, 8), *att = calloc((size_t)d, 8), *fc = calloc((size_t)F, 8);
    double *sc = calloc((size_t)T, 8);
    const float *wte = hp(h, "wte.weight", 0), *wpe = hp(h, "wpe.weight", 0);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < d; j++)
            x[t * d + j] = (double)wte[s->tok[t] * d + j] + (double)wpe[s->pos[t] * d + j];
    for (int l = 0; l < c->n_layer; l++) {
        for (int t = 0; t < T; t++) {
            rmsnorm(x + t * d, hp(h, "blocks.%d.n1.weight", l), d, c->norm_eps, hb);
            matvec(hp(h, "blocks.%d.attn.qkv.weight", l), 3 * d, d, hb, qkv + (size_t)t * 3 * d, 0);
        }
        for (int t = 0; t < T; t++) {
            for (int hh = 0; hh < H; hh++) {
                const double *q = qkv + (size_t)t * 3 * d + hh * Dh;
                double mx = -1e300, sum = 0.0;
                for (int j = 0; j <= t; j++) {
                    const double *k = qkv + (size_t)j * 3 * d + d + hh * Dh;
                    double a = 0.0;
                    for (int e = 0; e < Dh; e++) a += q[e] * k[e];
                    sc[j] = a / sqrt((double)Dh);
                    mx = sc[j] > mx ? sc[j] : mx;
                }
                for (int j = 0; j <= t; j++) sum += (sc[j] = exp(sc[j] - mx));
                for (int e = 0; e < Dh; e++) {
                    double a = 0.0;
                    for (int j = 0; j <= t; j++) a += sc[j] * qkv[(size_t)j * 3 * d + 2 * d + hh * Dh + e];
                    att[hh * Dh + e] = a / sum;
                }
            }
            /* Every row's q, k, v were taken before any row of x changed. */
            matvec(hp(h, "blocks.%d.attn.proj.weight", l), d, d, att, x + t * d, 1);
        }
        for (int t = 0; t < T; t++) {
            rmsnorm(x + t * d, hp(h, "blocks.%d.n2.weight", l), d, c->norm_eps, hb);
            matvec(hp(h, "blocks.%d.fc.weight", l), F, d, hb, fc, 0);
            for (int j = 0; j < F; j++) {
                double v = fc[j];
                fc[j] = 0.5 * v * (1.0 + tanh(sqrt(2.0 / 3.14159265358979323846) * (v + 0.044715 * v * v * v)));
            }
            matvec(hp(h, "blocks.%d.fc2.weight", l), d, F, fc, x + t * d, 1);
        }
    }
    for (int t = 0; t < T; t++) rmsnorm(x + t * d, hp(h, "nf.weight", 0), d, c->norm_eps, hf + t * d);
    free(x);
    free(qkv);
    free(hb);
    free(att);
    free(fc);
    free(sc);
}

static host_model host_of(const lt_model *m) {
    host_model h = {m, malloc(m->n_flat * sizeof(float))};
    assert_int_equal(lt_tensor_download(h.p, &m->params, m->n_flat * sizeof(float)), LT_OK);
    return h;
}

/* Features = mean of the host's final hidden states; a batch of ragged sequences. */
static void test_features_match_host(void **state) {
    NEED_FIXTURE(f);
    const int d = f->model->cfg.d_model;
    host_model h = host_of(f->model);
    float *feat = malloc((size_t)NP * d * sizeof(float));
    assert_int_equal(lt_model_features(f->model, f->prompts, NP, feat), LT_OK);
    double worst = 0.0;
    for (int p = 0; p < NP; p++) {
        const int T = f->prompts[p].len;
        double *hf = malloc((size_t)T * d * 8);
        host_forward(&h, &f->prompts[p], hf);
        for (int j = 0; j < d; j++) {
            double mean = 0.0;
            for (int t = 0; t < T; t++) mean += hf[t * d + j];
            mean /= T;
            double e = fabs(mean - feat[p * d + j]);
            worst = e > worst ? e : worst;
        }
        free(hf);
    }
    print_message("features: max |ours - host mean| = %.3g\n", worst);
    assert_true(worst < 1e-4);
    free(feat);
    free(h.p);
}

/* The first greedy token is the argmax of the host logits at BOS over the candidates. */
static void test_first_token_matches_host(void **state) {
    NEED_FIXTURE(f);
    const lt_model_config *cfg = &f->model->cfg;
    const lt_modality *b = &cfg->modalities[1];
    const int d = cfg->d_model;
    host_model h = host_of(f->model);
    int32_t out[NP * STRIDE];
    int len[NP];
    lt_gen_opts o = lt_gen_opts_default();
    o.min_new = 0; /* the end token is a candidate from the first draw */
    assert_int_equal(lt_generate(f->gen, f->prompts, NP, 1, &o, out, STRIDE, len), LT_OK);
    const float *head = hp(&h, "head.weight", 0);
    for (int p = 0; p < NP; p++) {
        lt_seq s;
        assert_int_equal(lt_seq_init(&s, 64), LT_OK);
        for (int t = 0; t < f->prompts[p].len; t++)
            lt_seq_push(&s, f->prompts[p].tok[t], f->prompts[p].pos[t], 0, 0);
        lt_seq_push(&s, b->begin, b->pos_base, 1, 0);
        double *hf = malloc((size_t)s.len * d * 8), best = -1e300;
        host_forward(&h, &s, hf);
        int32_t arg = -1;
        for (int32_t tok = b->tok_lo; tok <= b->end; tok++) {
            if (tok >= b->tok_hi && tok != b->end) continue;
            double z = 0.0;
            for (int j = 0; j < d; j++) z += head[(size_t)tok * d + j] * hf[(size_t)(s.len - 1) * d + j];
            if (z > best) best = z, arg = tok;
        }
        if (arg == b->end) assert_int_equal(len[p], 0);
        else assert_int_equal(out[p * STRIDE], arg);
        free(hf);
        lt_seq_free(&s);
    }
    free(h.p);
}

static void test_bad_calls(void **state) {
    NEED_FIXTURE(f);
    int32_t out[NP * STRIDE];
    int len[NP];
    lt_gen_opts o = lt_gen_opts_default();
    assert_int_equal(lt_generate(f->gen, f->prompts, NP, 7, &o, out, STRIDE, len), LT_ERR_INVALID_ARG);
    assert_non_null(strstr(lt_last_error(), "target modality 7"));
    assert_int_equal(lt_generate(f->gen, f->prompts, NP, 1, &o, out, 8, len), LT_ERR_INVALID_ARG);
    /* The longest prompt and 46 tokens of a overflow the 80-token generator. */
    assert_int_equal(lt_generate(f->gen, f->prompts, NP, 0, &o, out, STRIDE, len), LT_ERR_SHAPE);
    print_message("expected error: %s\n", lt_last_error());
    lt_seq bad = f->prompts[0];
    int32_t tok[8];
    memcpy(tok, bad.tok, sizeof tok);
    tok[2] = 4000;
    bad.tok = tok;
    assert_int_equal(lt_generate(f->gen, &bad, 1, 1, &o, out, STRIDE, len), LT_ERR_RANGE);
    assert_non_null(strstr(lt_last_error(), "prompt 0 token 2"));
    lt_model_config cfg = f->model->cfg;
    cfg.causal = 0;
    lt_model *bert = NULL;
    lt_generator *g = NULL;
    assert_int_equal(lt_model_create(f->dev, &cfg, 1, 8, &bert), LT_OK);
    assert_int_equal(lt_generator_create(bert, 1, 8, &g), LT_ERR_UNSUPPORTED);
    assert_null(g);
    lt_model_free(bert);
}

/* The ref device: cache vs no-cache, and the same tokens as the cpu device. */
static void test_ref_device(void **state) {
    NEED_FIXTURE(f);
    lt_gen_opts o = lt_gen_opts_default();
    o.temperature = 1.0f;
    o.seed = 3;
    o.max_new = 12;
    cache_vs_nocache(f, &o, NULL);
    lt_device *cpu;
    if (lt_device_find("cpu", 0, &cpu) != LT_OK) return;
    fixture *c = NULL;
    assert_int_equal(setup_cpu((void **)&c), 0);
    int32_t a[NP * STRIDE], b[NP * STRIDE];
    int la[NP], lb[NP];
    assert_int_equal(lt_generate(f->gen, f->prompts, NP, 1, &o, a, STRIDE, la), LT_OK);
    assert_int_equal(lt_generate(c->gen, c->prompts, NP, 1, &o, b, STRIDE, lb), LT_OK);
    expect_same(a, la, b, lb, NP);
    teardown((void **)&c);
}

int main(void) {
    const struct CMUnitTest cpu[] = {
        cmocka_unit_test(test_greedy_fixed),
        cmocka_unit_test(test_sampled_fixed_topk),
        cmocka_unit_test(test_sampled_variable_stops),
        cmocka_unit_test(test_greedy_variable_capped),
        cmocka_unit_test(test_empty_prompt),
        cmocka_unit_test(test_batch_rows_independent),
        cmocka_unit_test(test_many_and_adapter),
        cmocka_unit_test(test_features_match_host),
        cmocka_unit_test(test_first_token_matches_host),
        cmocka_unit_test(test_bad_calls),
    };
    const struct CMUnitTest ref[] = {
        cmocka_unit_test(test_ref_device),
    };
    int fails = cmocka_run_group_tests_name("generate_cpu", cpu, setup_cpu, teardown);
    fails += cmocka_run_group_tests_name("generate_ref", ref, setup_ref, teardown);
    return fails ? 1 : 0;
}
