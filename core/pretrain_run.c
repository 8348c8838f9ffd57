/* core/pretrain_run.c - the language-model baselines (gpt, bert, cm3, c2m3, t-gpt,
 * t-bert, loretta) through one trainer: one loader per dataset file, each giving one
 * micro-batch per optimiser step (appendix A: every step sees every modality
 * combination), metrics.jsonl, periodic and final checkpoints, resume. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/checkpoint.h"
#include "loretta/ops.h"
#include "loretta/train.h"
#include "pretrain_internal.h"

/* Transitive rows are sampled from the model (temperature 1, no top-k: the paper
 * samples), with a fresh seed per call so every row draws its own tokens. */
typedef struct pt_gen_ctx {
    lt_generator *gen;
    uint32_t fixed_mask;
    uint64_t seed, calls;
} pt_gen_ctx;

static lt_status pt_generate(void *ctx, const lt_seq *prompts, int n, int target, int32_t *out, int stride,
                             int *lens) {
    pt_gen_ctx *g = ctx;
    lt_gen_opts go = lt_gen_opts_default();
    go.temperature = 1.0f;
    go.seed = g->seed * 1000003ull + g->calls++;
    go.fixed_len_mask = g->fixed_mask;
    go.min_new = 1;
    return lt_generate(g->gen, prompts, n, target, &go, out, stride, lens);
}

/* A checkpoint must describe the same token layout as the data's config. */
static lt_status same_layout(const lt_model_config *a, const lt_model_config *b, const char *what) {
    int ok = a->vocab_size == b->vocab_size && a->n_modality == b->n_modality;
    for (int m = 0; ok && m < a->n_modality; m++) {
        const lt_modality *x = &a->modalities[m], *y = &b->modalities[m];
        ok = !strcmp(x->name, y->name) && x->tok_lo == y->tok_lo && x->tok_hi == y->tok_hi &&
             x->begin == y->begin && x->end == y->end && x->max_len == y->max_len;
    }
    if (!ok)
        return lt_error(LT_ERR_INVALID_ARG, "pretrain: %s has another token layout than the data (vocab %d vs %d, "
                        "%d vs %d modalities)", what, a->vocab_size, b->vocab_size, a->n_modality, b->n_modality);
    return LT_OK;
}

typedef struct pt_run {
    const lt_pretrain_opts *o;
    lt_pretrain_switches sw;
    lt_model_config mc;
    lt_vocab_extra ex;
    lt_modality_graph graph;
    uint32_t fixed_mask;
    int max_T, batch_main, batch_tbert;
    lt_trainer *t;
    lt_trainer *gen_model;   /* t-bert's causal generator */
    pt_gen_ctx g;
    lt_loader *ld[LT_PRETRAIN_MAX_FILES];
    lt_tbert_src *tb[LT_PRETRAIN_MAX_FILES];
    char final[1200], last[1200], log[1200];
} pt_run;

static lt_status open_trainer(pt_run *r, int *resumed) {
    const lt_pretrain_opts *o = r->o;
    lt_train_config tc;
    lt_train_config_default(&tc);
    tc.lr_max = o->lr_max > 0 ? o->lr_max : 6e-4;
    tc.lr_min = o->lr_min > 0 ? o->lr_min : tc.lr_max / 10;
    tc.warmup_steps = o->warmup >= 0 ? o->warmup : o->steps / 20;
    tc.total_steps = o->steps;
    tc.seed = o->seed;
    const int B = o->batch;
    *resumed = 0;
    const char *from = lt_pt_exists(r->last) ? r->last : lt_pt_exists(r->final) ? r->final : NULL;
    if (from) {
        LT_TRY(lt_checkpoint_load(from, o->dev, B, r->max_T, &r->t));
        *resumed = 1;
        r->t->tc.total_steps = o->steps; /* a longer --steps extends the run */
    } else if (o->init) {
        /* LoReTTa (and T-GPT / T-BERT) continue a checkpoint's weights with a fresh
         * optimiser and schedule. */
        LT_TRY(lt_checkpoint_load(o->init, o->dev, B, r->max_T, &r->t));
        LT_TRY(lt_fill(&r->t->m, 0.0));
        LT_TRY(lt_fill(&r->t->v, 0.0));
        r->t->step = r->t->adam_step = r->t->nan_steps = 0;
        r->t->tc = tc;
    } else {
        return lt_trainer_create(o->dev, &r->mc, &tc, B, r->max_T, &r->t);
    }
    LT_TRY(same_layout(&r->t->model->cfg, &r->mc, from ? from : o->init));
    if (r->t->model->cfg.causal != r->mc.causal)
        return lt_error(LT_ERR_INVALID_ARG, "pretrain: %s is %s, method %s needs a %s model", from ? from : o->init,
                        r->t->model->cfg.causal ? "causal" : "bidirectional", lt_pretrain_method_name(o->method),
                        r->mc.causal ? "causal" : "bidirectional");
    r->mc = r->t->model->cfg;
    return LT_OK;
}

static lt_status open_sources(pt_run *r) {
    const lt_pretrain_opts *o = r->o;
    lt_device *dev = o->dev;
    r->g.fixed_mask = r->fixed_mask;
    r->g.seed = o->seed;
    r->g.calls = (uint64_t)r->t->step * 1000;
    if (r->sw.transitive && !r->sw.causal) {
        if (!o->generator)
            return lt_error(LT_ERR_INVALID_ARG, "pretrain t-bert: a bidirectional model cannot generate; "
                            "--generator CKPT (a causal checkpoint, e.g. gpt or c2m3 on the same data) is needed");
        LT_TRY(lt_checkpoint_load(o->generator, dev, r->batch_tbert, r->max_T, &r->gen_model));
        LT_TRY(same_layout(&r->gen_model->model->cfg, &r->mc, o->generator));
        if (!r->gen_model->model->cfg.causal)
            return lt_error(LT_ERR_INVALID_ARG, "pretrain t-bert: generator %s is not causal", o->generator);
        LT_TRY(lt_generator_create(r->gen_model->model, r->batch_tbert, r->max_T, &r->g.gen));
    } else if (r->sw.transitive) {
        LT_TRY(lt_generator_create(r->t->model, o->batch, r->max_T, &r->g.gen));
    }
    lt_loader_opts lo = lt_loader_defaults();
    lo.batch = r->batch_main;
    lo.objective = r->sw.objective;
    lo.p_cm3 = o->p_cm3;
    lo.max_spans = o->max_spans;
    if (r->sw.transitive && r->sw.causal) {
        lo.transitive_share = o->transitive_share;
        lo.graph = &r->graph;
        lo.generate = pt_generate;
        lo.generate_ctx = &r->g;
    }
    for (int i = 0; i < o->n_files; i++) {
        lo.seed = o->seed * 7919 + (uint64_t)(i + 1) * 104729 + (uint64_t)o->method;
        LT_TRY(lt_loader_open(o->files[i], &r->mc, &r->ex, &lo, r->max_T, &r->ld[i]));
        /* Each step takes batch_main rows of every loader: the position follows the step. */
        uint64_t pos = (uint64_t)r->t->step * (uint64_t)r->batch_main;
        uint64_t n = lt_dataset_size(lt_loader_dataset(r->ld[i]));
        LT_TRY(lt_loader_seek(r->ld[i], pos / n, pos % n));
        if (r->batch_tbert > 0) {
            LT_TRY(lt_tbert_open(o->files[i], &r->mc, &r->ex, &r->graph, r->g.gen, r->fixed_mask, r->batch_tbert,
                                 r->max_T, lo.seed ^ 0x7be27ull, &r->tb[i]));
            lt_tbert_seek(r->tb[i], (uint64_t)r->t->step * (uint64_t)r->batch_tbert);
        }
    }
    return LT_OK;
}

static void close_run(pt_run *r) {
    for (int i = 0; i < LT_PRETRAIN_MAX_FILES; i++) {
        lt_loader_close(r->ld[i]);
        lt_tbert_close(r->tb[i]);
    }
    if (r->g.gen) lt_generator_free(r->g.gen);
    lt_trainer_free(r->gen_model);
    lt_trainer_free(r->t);
}

static void log_step(pt_run *r, FILE *mf, const lt_step_result *s, double seconds, double tokens) {
    fprintf(mf, "{\"method\": \"%s\", \"step\": %lld, \"loss\": %.6f, \"lr\": %.6g, \"grad_norm\": %.5g, "
                "\"skipped\": %d, \"seconds\": %.3f, \"tokens\": %.0f",
            lt_pretrain_method_name(r->o->method), (long long)s->step, s->loss, s->lr, s->grad_norm, s->skipped,
            seconds, tokens);
    for (int m = 0; m < s->n_modality; m++)
        if (isfinite(s->mod_loss[m])) fprintf(mf, ", \"loss_%s\": %.6f", r->mc.modalities[m].name, s->mod_loss[m]);
    fprintf(mf, "}\n");
}

static lt_status train_loop(pt_run *r, FILE *mf, lt_pretrain_result *res) {
    const lt_pretrain_opts *o = r->o;
    lt_trainer *t = r->t;
    const int64_t start = t->step;
    const double t0 = lt_pt_now();
    double tokens = 0;
    lt_pt_losses losses = {{0}, {0}, 0};
    lt_status st = LT_OK;
    if (!o->quiet)
        fprintf(stderr, "pretrain [%s]: %s at step %lld of %d (%d files x %d rows%s), model %d layers d %d vocab %d\n",
                lt_pretrain_method_name(o->method), start ? "resuming" : "training", (long long)start, o->steps,
                o->n_files, o->batch, r->sw.transitive ? ", transitive rows" : "", r->mc.n_layer, r->mc.d_model,
                r->mc.vocab_size);
    while (st == LT_OK && t->step < o->steps) {
        lt_batch micro[2 * LT_PRETRAIN_MAX_FILES];
        int n_micro = 0;
        for (int i = 0; i < o->n_files && st == LT_OK; i++) {
            const lt_batch *b;
            st = lt_loader_next(r->ld[i], &b);
            if (st == LT_OK) micro[n_micro++] = *b;
            if (st == LT_OK && r->tb[i]) {
                st = lt_tbert_next(r->tb[i], &b);
                if (st == LT_OK) micro[n_micro++] = *b;
            }
        }
        if (st != LT_OK) break;
        lt_step_result s;
        st = lt_trainer_step(t, micro, n_micro, &s);
        if (st != LT_OK) break;
        for (int i = 0; i < n_micro; i++) {
            const int64_t N = (int64_t)micro[i].B * micro[i].T;
            for (int b = 0; b < micro[i].B; b++) tokens += micro[i].lengths ? micro[i].lengths[b] : micro[i].T;
            for (int64_t k = 0; k < N; k++) res->counted_tokens += micro[i].weights[k] != 0.0f;
        }
        if (!r->sw.causal) res->masked_tokens = res->counted_tokens;
        if (!s.skipped) lt_pt_losses_add(&losses, s.loss);
        const double el = lt_pt_now() - t0;
        log_step(r, mf, &s, el, tokens);
        const int64_t done = t->step - start;
        const int every = o->steps >= 200 ? o->steps / 20 : 10;
        if (!o->quiet && (t->step % every == 0 || t->step == o->steps)) {
            char eta[32];
            lt_pt_fmt_eta(el / (double)done * (double)(o->steps - t->step), eta, sizeof eta);
            fprintf(stderr, "pretrain [%s] step %lld/%d loss %.4f", lt_pretrain_method_name(o->method),
                    (long long)t->step, o->steps, s.loss);
            for (int m = 0; m < s.n_modality; m++)
                if (isfinite(s.mod_loss[m])) fprintf(stderr, " %s %.3f", r->mc.modalities[m].name, s.mod_loss[m]);
            fprintf(stderr, " lr %.2e %.0f tok/s ETA %s\n", s.lr, tokens / el, eta);
        }
        if (o->save_every > 0 && t->step % o->save_every == 0 && t->step < o->steps) {
            fflush(mf);
            st = lt_checkpoint_save(t, r->last);
        }
    }
    res->steps_run = (int)(t->step - start);
    res->step = t->step;
    res->seconds = lt_pt_now() - t0;
    lt_pt_losses_result(&losses, res);
    for (int i = 0; i < o->n_files; i++) {
        uint64_t rows = 0, gen = 0;
        if (r->ld[i]) lt_loader_transitive_stats(r->ld[i], &rows, &gen);
        res->transitive_rows += rows;
        res->generated += gen;
        if (r->tb[i]) {
            lt_tbert_stats(r->tb[i], &rows, &gen);
            res->transitive_rows += rows;
            res->generated += gen;
        }
    }
    return st;
}

lt_status lt_pretrain_run(const lt_pretrain_opts *o, lt_pretrain_result *out) {
    lt_pretrain_result res;
    memset(&res, 0, sizeof res);
    if (out) *out = res;
    if (!o || !o->dev || o->n_files < 1 || o->n_files > LT_PRETRAIN_MAX_FILES || !o->out_dir)
        return lt_error(LT_ERR_INVALID_ARG, "pretrain: a device, 1..%d data files and an output directory are needed",
                        LT_PRETRAIN_MAX_FILES);
    if (o->steps < 1 || o->batch < 1 || o->max_spans < 1 || !(o->transitive_share >= 0 && o->transitive_share < 1))
        return lt_error(LT_ERR_INVALID_ARG, "pretrain: steps %d and batch %d must be >= 1, max_spans %d >= 1, "
                        "transitive share %g in [0, 1)", o->steps, o->batch, o->max_spans, o->transitive_share);
    if (o->method == LT_PT_CLIP) {
        lt_status st = lt_clip_run(o, &res);
        if (out) *out = res;
        return st;
    }
    pt_run *r = calloc(1, sizeof *r);
    if (!r) return lt_error(LT_ERR_OUT_OF_MEMORY, "pretrain: run state");
    r->o = o;
    r->sw = lt_pretrain_method_switches(o->method);
    snprintf(r->final, sizeof r->final, "%s/final.safetensors", o->out_dir);
    snprintf(r->last, sizeof r->last, "%s/last.safetensors", o->out_dir);
    snprintf(r->log, sizeof r->log, "%s/metrics.jsonl", o->out_dir);
    r->batch_main = o->batch;
    if (r->sw.transitive && !r->sw.causal) {
        /* T-BERT: a share of each file's rows comes from the transitive source. */
        r->batch_tbert = (int)lround(o->batch * o->transitive_share);
        if (r->batch_tbert < 1 || r->batch_tbert >= o->batch)
            return free(r), lt_error(LT_ERR_INVALID_ARG, "pretrain t-bert: batch %d x share %g leaves no room for "
                                     "both BERT and transitive rows (use batch >= 2)", o->batch, o->transitive_share);
        r->batch_main = o->batch - r->batch_tbert;
    }
    lt_status st = lt_pretrain_model_config(o->files[0], o->model, r->sw.causal, o->max_spans, &r->mc, &r->ex);
    if (st == LT_OK) st = lt_pretrain_graph(o->files, o->n_files, &r->mc, &r->graph);
    if (st == LT_OK) st = lt_pretrain_fixed_mask(o->files[0], &r->mc, &r->fixed_mask);
    if (st == LT_OK) st = lt_pt_mkdir(o->out_dir);
    r->max_T = lt_loader_max_row(&r->mc, &r->ex, o->max_spans);
    int resumed = 0;
    if (st == LT_OK) st = open_trainer(r, &resumed);
    if (st == LT_OK && r->t->step >= o->steps) {
        if (!o->quiet)
            fprintf(stderr, "pretrain [%s]: %s is at step %lld >= %d, nothing to do\n", lt_pretrain_method_name(o->method),
                    o->out_dir, (long long)r->t->step, o->steps);
        res.step = r->t->step;
        close_run(r);
        free(r);
        if (out) *out = res;
        return LT_OK;
    }
    if (st == LT_OK) st = open_sources(r);
    FILE *mf = NULL;
    if (st == LT_OK) {
        mf = fopen(r->log, resumed ? "a" : "w");
        if (!mf) st = lt_error(LT_ERR_IO, "pretrain: cannot write %s: %s", r->log, strerror(errno));
    }
    if (st == LT_OK) st = train_loop(r, mf, &res);
    if (mf) fclose(mf);
    if (st == LT_OK) st = lt_checkpoint_save(r->t, r->final);
    if (st == LT_OK) remove(r->last);
    if (st == LT_OK && !o->quiet)
        fprintf(stderr, "pretrain [%s]: %d steps in %.1f s, loss %.4f -> %.4f, %llu transitive rows; %s\n",
                lt_pretrain_method_name(o->method), res.steps_run, res.seconds, res.first_loss, res.final_loss,
                (unsigned long long)res.transitive_rows, r->final);
    close_run(r);
    free(r);
    if (out) *out = res;
    return st;
}
