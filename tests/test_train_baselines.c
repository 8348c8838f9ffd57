/* tests/test_train_baselines.c - `loretta pretrain`'s methods on a tiny synthetic
 * three-modality dataset (pairs (a, b) and (b, c), the paper's disjoint setting): each
 * method trains a few steps on the cpu device and its loss goes down; BERT batches
 * predict masked positions only; CLIP's loss and gradients match PyTorch, and a few CLIP
 * steps reduce the contrastive loss; runs resume. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loretta/loretta.h"
#include "loretta/pretrain.h"

static char g_dir[256];
static char g_ab[300], g_bc[300], g_c[300];
static lt_device *g_dev;

static int quick(void) { return getenv("LORETTA_QUICK") != NULL; }

/* Class y shapes every modality, so modalities predict each other. */
static void make_sample(int y, int i, uint16_t a[6], uint16_t b[5], uint16_t c[4], uint32_t *lb) {
    for (int k = 0; k < 6; k++) a[k] = (uint16_t)((y * 2 + k) % 8);
    *lb = 3 + (uint32_t)(i % 3);
    for (uint32_t k = 0; k < *lb; k++) b[k] = (uint16_t)((y + 3 * k) % 8);
    for (int k = 0; k < 4; k++) c[k] = (uint16_t)((y + (k == 3 ? i % 2 : 0)) % 6);
}

static void write_file(const char *path, uint32_t mask, int n) {
    const lt_ds_modality mods[3] = {{"a", 8, 6, 1}, {"b", 8, 5, 0}, {"c", 6, 4, 1}};
    lt_dataset_writer *w;
    assert_int_equal(lt_dataset_writer_open(path, mods, 3, &w), LT_OK);
    for (int i = 0; i < n; i++) {
        uint16_t a[6], b[5], c[4];
        uint32_t lb;
        const int y = i % 4;
        make_sample(y, i, a, b, c, &lb);
        const uint16_t *tok[3] = {a, b, c};
        const uint32_t len[3] = {6, lb, 4};
        assert_int_equal(lt_dataset_writer_add(w, y, mask, tok, len), LT_OK);
    }
    assert_int_equal(lt_dataset_writer_close(w), LT_OK);
}

static int setup(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/lt_baselines_XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    snprintf(g_ab, sizeof g_ab, "%s/ab.ltds", g_dir);
    snprintf(g_bc, sizeof g_bc, "%s/bc.ltds", g_dir);
    snprintf(g_c, sizeof g_c, "%s/c.ltds", g_dir);
    write_file(g_ab, 3u, 32);
    write_file(g_bc, 6u, 32);
    write_file(g_c, 4u, 16);
    return lt_device_find("cpu", 0, &g_dev) == LT_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static lt_pretrain_opts opts(lt_pretrain_method m, const char *out) {
    lt_pretrain_opts o = lt_pretrain_defaults();
    o.files[0] = g_ab;
    o.files[1] = g_bc;
    o.files[2] = g_c;
    o.n_files = 3;
    o.method = m;
    o.model = "tiny";
    o.steps = quick() ? 8 : 16;
    o.warmup = 2;
    o.batch = 4;
    o.lr_max = 3e-3;
    o.lr_min = 1e-3;
    o.dev = g_dev;
    o.out_dir = out;
    o.save_every = 0;
    o.seed = 7;
    o.quiet = 1;
    return o;
}

static void run_method(lt_pretrain_method m, const char *init, const char *generator, lt_pretrain_result *r) {
    char out[400];
    snprintf(out, sizeof out, "%s/%s", g_dir, lt_pretrain_method_name(m));
    lt_pretrain_opts o = opts(m, out);
    o.init = init;
    o.generator = generator;
    lt_status st = lt_pretrain_run(&o, r);
    if (st != LT_OK) fprintf(stderr, "%s: %s\n", lt_pretrain_method_name(m), lt_last_error());
    assert_int_equal(st, LT_OK);
    assert_int_equal(r->steps_run, o.steps);
    fprintf(stderr, "  %-8s loss %.4f -> %.4f, %llu transitive rows\n", lt_pretrain_method_name(m), r->first_loss,
            r->final_loss, (unsigned long long)r->transitive_rows);
    assert_true(isfinite(r->first_loss) && isfinite(r->final_loss));
    assert_true(r->final_loss < r->first_loss);
}

static void test_switches(void **state) {
    (void)state;
    lt_pretrain_method m;
    assert_int_equal(lt_pretrain_method_parse("t-bert", &m), LT_OK);
    assert_int_equal(m, LT_PT_TBERT);
    assert_int_not_equal(lt_pretrain_method_parse("xlnet", &m), LT_OK);
    lt_pretrain_switches s = lt_pretrain_method_switches(LT_PT_GPT);
    assert_true(s.causal && s.objective == LT_OBJ_CAUSAL && !s.transitive);
    s = lt_pretrain_method_switches(LT_PT_BERT);
    assert_true(!s.causal && s.objective == LT_OBJ_BERT);
    s = lt_pretrain_method_switches(LT_PT_LORETTA);
    assert_true(s.causal && s.objective == LT_OBJ_C2M3 && s.transitive);
    /* The config from the modality table: a, b, c, then BOS/EOS, sentinels, eos-span, mask. */
    lt_model_config mc;
    lt_vocab_extra ex;
    assert_int_equal(lt_pretrain_model_config(g_ab, "tiny", 0, 3, &mc, &ex), LT_OK);
    assert_int_equal(mc.n_modality, 3);
    assert_int_equal(mc.modalities[2].tok_lo, 16);
    assert_int_equal(mc.modalities[2].max_len, 6);
    assert_int_equal(mc.causal, 0);
    assert_int_equal(ex.mask, mc.vocab_size - 1);
    assert_int_equal(mc.vocab_size, 22 + 6 + 3 + 2);
    const char *files[3] = {g_ab, g_bc, g_c};
    lt_modality_graph g;
    assert_int_equal(lt_pretrain_graph(files, 3, &mc, &g), LT_OK);
    assert_true(g.edge[0][1] && g.edge[1][2] && !g.edge[0][2]);
}

/* BERT rows: the loss is on chosen (masked) positions only, each targeting a modality's
 * own token; every [MASK] in the input is such a position. */
static void test_bert_batches(void **state) {
    (void)state;
    lt_model_config mc;
    lt_vocab_extra ex;
    assert_int_equal(lt_pretrain_model_config(g_ab, "tiny", 0, 3, &mc, &ex), LT_OK);
    lt_loader_opts lo = lt_loader_defaults();
    lo.batch = 8;
    lo.objective = LT_OBJ_BERT;
    lt_loader *l;
    assert_int_equal(lt_loader_open(g_ab, &mc, &ex, &lo, lt_loader_max_row(&mc, &ex, 3), &l), LT_OK);
    int counted = 0, masks = 0, total = 0;
    for (int it = 0; it < 4; it++) {
        const lt_batch *b;
        assert_int_equal(lt_loader_next(l, &b), LT_OK);
        for (int r = 0; r < b->B; r++)
            for (int t = 0; t < b->lengths[r]; t++) {
                const int64_t k = (int64_t)r * b->T + t;
                total++;
                if (b->tokens[k] == ex.mask) {
                    masks++;
                    assert_true(b->weights[k] == 1.0f);
                }
                if (b->weights[k] == 0.0f) continue;
                counted++;
                const int m = lt_model_config_modality_of(&mc, b->targets[k]);
                assert_true(m >= 0);
                assert_true(b->targets[k] >= mc.modalities[m].tok_lo && b->targets[k] < mc.modalities[m].tok_hi);
            }
    }
    lt_loader_close(l);
    assert_true(masks > 0 && counted >= masks);
    assert_true(counted < total / 3); /* ~15% of the content tokens, not every position */
}

static void test_language_methods(void **state) {
    (void)state;
    lt_pretrain_result r;
    run_method(LT_PT_GPT, NULL, NULL, &r);
    assert_int_equal(r.transitive_rows, 0);
    run_method(LT_PT_BERT, NULL, NULL, &r);
    assert_true(r.masked_tokens > 0);
    run_method(LT_PT_CM3, NULL, NULL, &r);
    run_method(LT_PT_C2M3, NULL, NULL, &r);
    run_method(LT_PT_TGPT, NULL, NULL, &r);
    assert_true(r.transitive_rows > 0 && r.generated > 0);
    char c2m3[400], gpt[400];
    snprintf(c2m3, sizeof c2m3, "%s/c2m3/final.safetensors", g_dir);
    snprintf(gpt, sizeof gpt, "%s/gpt/final.safetensors", g_dir);
    run_method(LT_PT_LORETTA, c2m3, NULL, &r);
    assert_true(r.transitive_rows > 0);
    run_method(LT_PT_TBERT, NULL, gpt, &r);
    assert_true(r.transitive_rows > 0 && r.masked_tokens > 0);
    /* T-BERT without a causal generator is refused with a message. */
    char out[400];
    snprintf(out, sizeof out, "%s/tbert-nogen", g_dir);
    lt_pretrain_opts o = opts(LT_PT_TBERT, out);
    assert_int_equal(lt_pretrain_run(&o, &r), LT_ERR_INVALID_ARG);
    assert_non_null(strstr(lt_last_error(), "--generator"));
}

/* A finished run is left alone; a longer --steps resumes from its final checkpoint. */
static void test_resume(void **state) {
    (void)state;
    char out[400];
    snprintf(out, sizeof out, "%s/resume", g_dir);
    lt_pretrain_opts o = opts(LT_PT_CM3, out);
    o.steps = 4;
    lt_pretrain_result r;
    assert_int_equal(lt_pretrain_run(&o, &r), LT_OK);
    assert_int_equal(r.step, 4);
    assert_int_equal(lt_pretrain_run(&o, &r), LT_OK);
    assert_int_equal(r.steps_run, 0);
    o.steps = 6;
    assert_int_equal(lt_pretrain_run(&o, &r), LT_OK);
    assert_int_equal(r.steps_run, 2);
    assert_int_equal(r.step, 6);
}

/* Reference values, computed once with
 * /usr/bin/python3 -c "import torch,math
 * a=torch.tensor([[(i*4+k)%7*0.25-0.7 for k in range(4)] for i in range(3)],dtype=torch.float64,requires_grad=True)
 * b=torch.tensor([[((i+1)*(k+2))%5*0.3-0.5 for k in range(4)] for i in range(3)],dtype=torch.float64,requires_grad=True)
 * s=torch.tensor(math.log(1/0.07),dtype=torch.float64,requires_grad=True)
 * za=a/a.norm(dim=1,keepdim=True); zb=b/b.norm(dim=1,keepdim=True); L=s.exp()*za@zb.T; y=torch.arange(3)
 * loss=(torch.nn.functional.cross_entropy(L,y)+torch.nn.functional.cross_entropy(L.T,y))/2; loss.backward()
 * print(loss.item(), a.grad.flatten().tolist(), b.grad.flatten().tolist(), s.grad.item())" */
static void test_clip_loss_torch(void **state) {
    (void)state;
    float a[12], b[12], da[12], db[12];
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 4; k++) {
            a[i * 4 + k] = (float)((i * 4 + k) % 7 * 0.25 - 0.7);
            b[i * 4 + k] = (float)(((i + 1) * (k + 2)) % 5 * 0.3 - 0.5);
        }
    static const double want_da[12] = {0.47598218390943847, 0.828651652550136,   -3.220625042903956,
                                       1.2391152760675443,  -2.365498697523512,  1.8089773770387838,
                                       -0.2820263483014904, 0.08523838496155012, 2.517294521303894,
                                       -3.217842788901205,  0.20674598517814968, 1.5962555918253445};
    static const double want_db[12] = {3.8558327471466405,  1.559919168394031,   -0.7359944103585789,
                                       0.9887097096425368,  0.5276307143449657,  -1.4323286363644283,
                                       -0.9278511342056206, 0.5693335472642271,  1.880467310710318,
                                       -0.8521536005627115, 0.5862371307809944,  -1.8279545389157243};
    double loss, ds;
    assert_int_equal(lt_clip_loss(a, b, 3, 4, LT_CLIP_LOG_SCALE_INIT, &loss, da, db, &ds), LT_OK);
    assert_true(fabs(loss - 7.506390449953072) < 1e-5);
    assert_true(fabs(ds - 7.3405285700424105) < 1e-4);
    for (int i = 0; i < 12; i++) {
        assert_true(fabs(da[i] - want_da[i]) < 1e-4 * (1 + fabs(want_da[i])));
        assert_true(fabs(db[i] - want_db[i]) < 1e-4 * (1 + fabs(want_db[i])));
    }
    assert_int_not_equal(lt_clip_loss(a, b, 0, 4, 1.0, &loss, da, db, &ds), LT_OK);
}

/* The encoder backward from d(pooled) against a finite difference of the pooled
 * embedding: d/dw <g, pooled(w)> for a few single weights. */
static void test_clip_encoder_grad(void **state) {
    (void)state;
    lt_model_config mc;
    lt_vocab_extra ex;
    assert_int_equal(lt_pretrain_model_config(g_ab, "tiny", 0, 3, &mc, &ex), LT_OK);
    lt_model *m;
    assert_int_equal(lt_model_create(g_dev, &mc, 2, 8, &m), LT_OK);
    assert_int_equal(lt_model_init_weights(m, 3), LT_OK);
    int32_t tok[16], pos[16], zi[16] = {0}, lens[2] = {8, 5};
    float zw[16] = {0};
    for (int i = 0; i < 16; i++) {
        tok[i] = (i * 5) % 8;
        pos[i] = i % 8;
    }
    lt_batch b = {2, 8, tok, zi, zw, pos, lens, NULL};
    const int d = mc.d_model;
    float *pooled = malloc(sizeof(float) * 2 * d), *g = malloc(sizeof(float) * 2 * d);
    float *grads = malloc(sizeof(float) * m->n_flat), *params = malloc(sizeof(float) * m->n_flat);
    for (int i = 0; i < 2 * d; i++) g[i] = (float)sin(0.37 * i + 1.0);
    assert_int_equal(lt_model_zero_grad(m), LT_OK);
    assert_int_equal(lt_clip_encode(m, &b, pooled), LT_OK);
    assert_int_equal(lt_clip_encode_backward(m, g), LT_OK);
    assert_int_equal(lt_tensor_download(grads, &m->grads, sizeof(float) * m->n_flat), LT_OK);
    assert_int_equal(lt_tensor_download(params, &m->params, sizeof(float) * m->n_flat), LT_OK);
    const char *names[4] = {"wte.weight", "blocks.0.attn.qkv.weight", "blocks.1.fc2.weight", "nf.weight"};
    for (int k = 0; k < 4; k++) {
        const lt_param_info *p = lt_model_find(m, names[k]);
        assert_non_null(p);
        /* wte: a weight of token 5, which the batch uses */
        const size_t at = p->offset + (k == 0 ? (size_t)(5 * d + 3) : (size_t)(p->numel / 3));
        const float w0 = params[at], h = 1e-2f;
        double f[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            params[at] = w0 + (sgn ? -h : h);
            assert_int_equal(lt_tensor_upload(&m->params, params, sizeof(float) * m->n_flat), LT_OK);
            assert_int_equal(lt_clip_encode(m, &b, pooled), LT_OK);
            f[sgn] = 0;
            for (int i = 0; i < 2 * d; i++) f[sgn] += (double)g[i] * pooled[i];
        }
        params[at] = w0;
        assert_int_equal(lt_tensor_upload(&m->params, params, sizeof(float) * m->n_flat), LT_OK);
        const double fd = (f[0] - f[1]) / (2 * h);
        fprintf(stderr, "  %s: backward %.6g, finite difference %.6g\n", names[k], grads[at], fd);
        assert_true(fabs(fd - grads[at]) < 2e-2 * (fabs(fd) + 1e-2));
    }
    free(pooled);
    free(g);
    free(grads);
    free(params);
    lt_model_free(m);
}

static void test_clip_trains(void **state) {
    (void)state;
    lt_pretrain_result r;
    char out[400];
    snprintf(out, sizeof out, "%s/clip", g_dir);
    lt_pretrain_opts o = opts(LT_PT_CLIP, out);
    o.lr_max = 2e-3;
    o.lr_min = 1e-3;
    assert_int_equal(lt_pretrain_run(&o, &r), LT_OK);
    fprintf(stderr, "  clip     loss %.4f -> %.4f\n", r.first_loss, r.final_loss);
    assert_int_equal(r.steps_run, o.steps);
    assert_true(r.final_loss < r.first_loss);
    char p[500];
    snprintf(p, sizeof p, "%s/final_b.safetensors", out);
    assert_int_equal(access(p, R_OK), 0);
    o.steps += 2; /* resumes from final_*.safetensors and final_clip.json */
    assert_int_equal(lt_pretrain_run(&o, &r), LT_OK);
    assert_int_equal(r.steps_run, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_switches),
        cmocka_unit_test(test_bert_batches),
        cmocka_unit_test(test_clip_loss_torch),
        cmocka_unit_test(test_clip_encoder_grad),
        cmocka_unit_test(test_language_methods),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_clip_trains),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
