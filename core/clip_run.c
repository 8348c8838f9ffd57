/* core/clip_run.c - the CLIP baseline: one bidirectional encoder per modality (the same
 * architecture as the language models), trained with symmetric InfoNCE on the paired
 * samples of the data files.
 *
 * A step takes `batch` samples holding at least two modalities from every file that has
 * such samples; each encoder embeds its modality of those samples (mean of the final
 * normed hidden states); every modality pair with >= 2 samples in the batch gives one
 * InfoNCE term (loss on the host, lt_clip_loss), the step's loss is the mean of the
 * terms of a file, averaged over files. Gradients flow back through the pooling into
 * each encoder (lt_clip_encode_backward). The optimiser is the paper's for CLIP
 * (appendix A): AdamW betas (0.9, 0.98), eps 1e-6, weight decay 0.2, lr 5e-4 -> 5e-5
 * cosine, clipping of the global norm (all encoders and the temperature) at 1.0. The
 * temperature's log scale has its own host Adam (no decay) and is clamped to
 * [0, log 100] after each update, as CLIP does. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/checkpoint.h"
#include "loretta/ops.h"
#include "loretta/train.h"
#include "pretrain_internal.h"

typedef struct clip_file {
    lt_dataset *ds;
    int map[LT_DS_MAX_MODALITIES];
    uint32_t *paired;  /* indices of samples with >= 2 modalities */
    uint64_t n_paired;
} clip_file;

typedef struct clip_run {
    const lt_pretrain_opts *o;
    lt_model_config mc;
    lt_vocab_extra ex;
    lt_train_config tc;
    int n_mod, max_T, B;
    lt_trainer *enc[LT_MAX_MODALITIES];
    double log_scale, ls_m, ls_v;  /* the temperature and its Adam moments */
    double ls_grad;                /* d loss / d log_scale of the step */
    clip_file files[LT_PRETRAIN_MAX_FILES];
    /* per-step scratch */
    lt_ds_sample smp[256];
    lt_seq seqs[256];
    int32_t *tok, *pos, *zi, *lens;
    float *zw;
    float *pooled[LT_MAX_MODALITIES], *dpooled[LT_MAX_MODALITIES];
    int row_of[LT_MAX_MODALITIES][256]; /* sample -> row in modality m's batch, or -1 */
    float *ga, *gb, *ea, *eb;
} clip_run;

static void ckpt_name(const clip_run *c, char *buf, size_t n, const char *kind, int m) {
    if (m < 0) snprintf(buf, n, "%s/%s_clip.json", c->o->out_dir, kind);
    else snprintf(buf, n, "%s/%s_%s.safetensors", c->o->out_dir, kind, c->mc.modalities[m].name);
}

static lt_status save_all(clip_run *c, const char *kind, int64_t step) {
    char p[1300], tmp[1400];
    for (int m = 0; m < c->n_mod; m++) {
        c->enc[m]->step = step;
        ckpt_name(c, p, sizeof p, kind, m);
        LT_TRY(lt_checkpoint_save(c->enc[m], p));
    }
    ckpt_name(c, p, sizeof p, kind, -1);
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    FILE *f = fopen(tmp, "w");
    if (!f) return lt_error(LT_ERR_IO, "clip: cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "{\"step\": %lld, \"log_scale\": %.17g, \"adam_m\": %.17g, \"adam_v\": %.17g, \"encoders\": %d}\n",
            (long long)step, c->log_scale, c->ls_m, c->ls_v, c->n_mod);
    if (fclose(f) != 0 || rename(tmp, p) != 0) return lt_error(LT_ERR_IO, "clip: cannot write %s", p);
    return LT_OK;
}

/* Restores every encoder and the temperature of a `kind` ("last" or "final") save. */
static lt_status load_all(clip_run *c, const char *kind, int64_t *step) {
    char p[1300];
    ckpt_name(c, p, sizeof p, kind, -1);
    FILE *f = fopen(p, "r");
    if (!f) return lt_error(LT_ERR_IO, "clip: cannot read %s", p);
    long long st = 0;
    int n = 0;
    int ok = fscanf(f, "{\"step\": %lld, \"log_scale\": %lf, \"adam_m\": %lf, \"adam_v\": %lf, \"encoders\": %d}", &st,
                    &c->log_scale, &c->ls_m, &c->ls_v, &n) == 5;
    fclose(f);
    if (!ok || n != c->n_mod) return lt_error(LT_ERR_FORMAT, "clip: %s is not a CLIP state of %d encoders", p, c->n_mod);
    for (int m = 0; m < c->n_mod; m++) {
        ckpt_name(c, p, sizeof p, kind, m);
        LT_TRY(lt_checkpoint_restore(c->enc[m], p));
    }
    *step = st;
    return LT_OK;
}

static lt_status open_files(clip_run *c) {
    const lt_pretrain_opts *o = c->o;
    uint64_t total = 0;
    for (int f = 0; f < o->n_files; f++) {
        clip_file *cf = &c->files[f];
        LT_TRY(lt_dataset_open(o->files[f], &cf->ds));
        LT_TRY(lt_obj_modality_map(cf->ds, &c->mc, 0, cf->map));
        cf->paired = malloc(sizeof(uint32_t) * (lt_dataset_size(cf->ds) + 1));
        if (!cf->paired) return lt_error(LT_ERR_OUT_OF_MEMORY, "clip: index of %s", o->files[f]);
        for (uint64_t i = 0; i < lt_dataset_size(cf->ds); i++) {
            lt_ds_sample s;
            LT_TRY(lt_dataset_get(cf->ds, i, &s));
            int k = 0;
            for (int m = 0; m < LT_DS_MAX_MODALITIES; m++) k += (s.mask >> m & 1) && cf->map[m] >= 0;
            if (k >= 2) cf->paired[cf->n_paired++] = (uint32_t)i;
        }
        total += cf->n_paired;
    }
    if (total == 0) return lt_error(LT_ERR_INVALID_ARG, "clip: no data file holds a sample with two modalities");
    return LT_OK;
}

/* Sample j of step `step` of file f: a seeded shuffle of the paired samples per epoch. */
static uint32_t pick(const clip_run *c, int f, int64_t step, int j) {
    const clip_file *cf = &c->files[f];
    const uint64_t n = cf->n_paired, row = (uint64_t)step * (uint64_t)c->B + (uint64_t)j;
    const uint64_t epoch = row / n, k = row % n;
    /* An affine permutation of the epoch (multiplier odd and coprime to n by search),
     * cheaper to seek than a stored shuffle. */
    lt_obj_rng r = lt_obj_rng_make(c->o->seed ^ 0xc11bull, epoch * 64 + (uint64_t)f);
    uint64_t a = 1 + 2 * (uint64_t)lt_obj_rng_below(&r, 1u << 20), b = lt_obj_rng_u32(&r);
    for (;;) {
        uint64_t x = a, y = n;
        while (y) {
            uint64_t t = x % y;
            x = y;
            y = t;
        }
        if (x == 1) break;
        a += 2;
    }
    return cf->paired[(a * k + b) % n];
}

static lt_status file_step(clip_run *c, int f, int64_t step, double weight, double *loss, int *terms) {
    clip_file *cf = &c->files[f];
    const int B = c->B, d = c->mc.d_model;
    for (int j = 0; j < B; j++) LT_TRY(lt_dataset_get(cf->ds, pick(c, f, step, j), &c->smp[j]));
    /* Encode modality m of every sample holding it. */
    int inv[LT_MAX_MODALITIES];
    for (int m = 0; m < c->n_mod; m++) inv[m] = -1;
    for (int k = 0; k < LT_DS_MAX_MODALITIES; k++)
        if (cf->map[k] >= 0) inv[cf->map[k]] = k;
    int n_rows[LT_MAX_MODALITIES] = {0};
    for (int m = 0; m < c->n_mod; m++) {
        int rows = 0, T = 1;
        for (int j = 0; j < B; j++) {
            c->row_of[m][j] = -1;
            const int k = inv[m];
            if (k < 0 || !(c->smp[j].mask >> k & 1)) continue;
            lt_seq *q = &c->seqs[rows];
            lt_seq_clear(q);
            LT_TRY(lt_seq_append_modality(q, &c->mc, m, c->smp[j].tokens[k], c->smp[j].len[k], 0));
            T = q->len > T ? q->len : T;
            c->row_of[m][j] = rows++;
        }
        n_rows[m] = rows;
        if (rows == 0) continue;
        for (int r = 0; r < rows; r++) {
            const lt_seq *q = &c->seqs[r];
            c->lens[r] = q->len;
            for (int t = 0; t < T; t++) {
                c->tok[(size_t)r * T + t] = t < q->len ? q->tok[t] : 0;
                c->pos[(size_t)r * T + t] = t < q->len ? q->pos[t] : 0;
            }
        }
        lt_batch b = {rows, T, c->tok, c->zi, c->zw, c->pos, c->lens, NULL};
        LT_TRY(lt_clip_encode(c->enc[m]->model, &b, c->pooled[m]));
        memset(c->dpooled[m], 0, sizeof(float) * (size_t)rows * d);
    }
    /* One InfoNCE term per modality pair present together in >= 2 samples. */
    int n_terms = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int a = 0; a < c->n_mod; a++)
            for (int bm = a + 1; bm < c->n_mod; bm++) {
                int n = 0;
                for (int j = 0; j < B; j++)
                    if (c->row_of[a][j] >= 0 && c->row_of[bm][j] >= 0) {
                        if (pass == 1) {
                            memcpy(c->ea + (size_t)n * d, c->pooled[a] + (size_t)c->row_of[a][j] * d, sizeof(float) * d);
                            memcpy(c->eb + (size_t)n * d, c->pooled[bm] + (size_t)c->row_of[bm][j] * d, sizeof(float) * d);
                        }
                        n++;
                    }
                if (n < 2) continue;
                if (pass == 0) {
                    n_terms++;
                    continue;
                }
                double l, ds;
                LT_TRY(lt_clip_loss(c->ea, c->eb, n, d, c->log_scale, &l, c->ga, c->gb, &ds));
                const double w = weight / n_terms;
                *loss += w * l;
                c->ls_grad += w * ds;
                int i = 0;
                for (int j = 0; j < B; j++)
                    if (c->row_of[a][j] >= 0 && c->row_of[bm][j] >= 0) {
                        float *pa = c->dpooled[a] + (size_t)c->row_of[a][j] * d;
                        float *pb = c->dpooled[bm] + (size_t)c->row_of[bm][j] * d;
                        for (int k = 0; k < d; k++) {
                            pa[k] += (float)w * c->ga[(size_t)i * d + k];
                            pb[k] += (float)w * c->gb[(size_t)i * d + k];
                        }
                        i++;
                    }
            }
        if (n_terms == 0) break;
    }
    *terms += n_terms;
    for (int m = 0; m < c->n_mod && n_terms > 0; m++)
        if (n_rows[m] > 0) LT_TRY(lt_clip_encode_backward(c->enc[m]->model, c->dpooled[m]));
    return LT_OK;
}

/* Global norm over every encoder's gradient and the temperature's. */
static lt_status grad_norm(clip_run *c, double *out) {
    double ss = c->ls_grad * c->ls_grad;
    for (int m = 0; m < c->n_mod; m++) {
        double n;
        LT_TRY(lt_trainer_grad_norm(c->enc[m], &n));
        ss += n * n;
    }
    *out = sqrt(ss);
    return LT_OK;
}

static lt_status update(clip_run *c, int64_t step, double lr, double clip_scale) {
    const lt_train_config *tc = &c->tc;
    for (int m = 0; m < c->n_mod; m++) {
        lt_trainer *t = c->enc[m];
        lt_adamw_params p = {
            .lr = (float)lr,
            .beta1 = (float)tc->beta1,
            .beta2 = (float)tc->beta2,
            .eps = (float)tc->eps,
            .weight_decay = (float)tc->weight_decay,
            .grad_scale = (float)clip_scale,
            .step = t->adam_step + 1,
        };
        LT_TRY(lt_adamw(&t->model->params, &t->m, &t->v, &t->model->grads, &t->decay_mask, &p));
        t->adam_step++;
        t->step = step + 1;
    }
    /* The temperature: plain Adam, no weight decay, then CLIP's clamp. */
    const double g = c->ls_grad * clip_scale;
    const int64_t k = c->enc[0]->adam_step;
    c->ls_m = tc->beta1 * c->ls_m + (1 - tc->beta1) * g;
    c->ls_v = tc->beta2 * c->ls_v + (1 - tc->beta2) * g * g;
    const double mh = c->ls_m / (1 - pow(tc->beta1, (double)k)), vh = c->ls_v / (1 - pow(tc->beta2, (double)k));
    c->log_scale -= lr * mh / (sqrt(vh) + tc->eps);
    if (c->log_scale < 0) c->log_scale = 0;
    if (c->log_scale > LT_CLIP_LOG_SCALE_MAX) c->log_scale = LT_CLIP_LOG_SCALE_MAX;
    return LT_OK;
}

static lt_status setup(clip_run *c) {
    const lt_pretrain_opts *o = c->o;
    c->B = o->batch;
    if (c->B < 2 || c->B > 256)
        return lt_error(LT_ERR_INVALID_ARG, "clip: batch %d must be in [2, 256] (InfoNCE needs negatives)", c->B);
    LT_TRY(lt_pretrain_model_config(o->files[0], o->model, 0, o->max_spans, &c->mc, &c->ex));
    c->n_mod = c->mc.n_modality;
    if (c->n_mod < 2) return lt_error(LT_ERR_INVALID_ARG, "clip: the data have %d modality, two are needed", c->n_mod);
    for (int m = 0; m < c->n_mod; m++)
        if (c->mc.modalities[m].max_len > c->max_T) c->max_T = c->mc.modalities[m].max_len;
    lt_train_config_default(&c->tc);
    c->tc.beta1 = 0.9;
    c->tc.beta2 = 0.98;
    c->tc.eps = 1e-6;
    c->tc.weight_decay = 0.2;
    c->tc.lr_max = o->lr_max > 0 ? o->lr_max : 5e-4;
    c->tc.lr_min = o->lr_min > 0 ? o->lr_min : c->tc.lr_max / 10;
    c->tc.warmup_steps = o->warmup >= 0 ? o->warmup : o->steps / 20;
    c->tc.total_steps = o->steps;
    c->log_scale = LT_CLIP_LOG_SCALE_INIT;
    for (int m = 0; m < c->n_mod; m++) {
        lt_train_config tc = c->tc;
        tc.seed = o->seed + 7919ull * (uint64_t)(m + 1); /* each encoder its own init */
        LT_TRY(lt_trainer_create(o->dev, &c->mc, &tc, c->B, c->max_T, &c->enc[m]));
    }
    const size_t BT = (size_t)c->B * c->max_T, d = (size_t)c->mc.d_model;
    c->tok = calloc(BT, 4);
    c->pos = calloc(BT, 4);
    c->zi = calloc(BT, 4);
    c->zw = calloc(BT, 4);
    c->lens = calloc((size_t)c->B, 4);
    c->ga = malloc(sizeof(float) * c->B * d);
    c->gb = malloc(sizeof(float) * c->B * d);
    c->ea = malloc(sizeof(float) * c->B * d);
    c->eb = malloc(sizeof(float) * c->B * d);
    int ok = c->tok && c->pos && c->zi && c->zw && c->lens && c->ga && c->gb && c->ea && c->eb;
    for (int m = 0; m < c->n_mod; m++) {
        c->pooled[m] = malloc(sizeof(float) * c->B * d);
        c->dpooled[m] = malloc(sizeof(float) * c->B * d);
        ok = ok && c->pooled[m] && c->dpooled[m];
    }
    for (int j = 0; j < c->B && ok; j++) ok = lt_seq_init(&c->seqs[j], c->max_T + 1) == LT_OK;
    if (!ok) return lt_error(LT_ERR_OUT_OF_MEMORY, "clip: step buffers");
    return open_files(c);
}

static void teardown(clip_run *c) {
    for (int m = 0; m < LT_MAX_MODALITIES; m++) {
        lt_trainer_free(c->enc[m]);
        free(c->pooled[m]);
        free(c->dpooled[m]);
    }
    for (int f = 0; f < LT_PRETRAIN_MAX_FILES; f++) {
        lt_dataset_close(c->files[f].ds);
        free(c->files[f].paired);
    }
    for (int j = 0; j < 256; j++) lt_seq_free(&c->seqs[j]);
    free(c->tok); free(c->pos); free(c->zi); free(c->zw); free(c->lens);
    free(c->ga); free(c->gb); free(c->ea); free(c->eb);
}

static lt_status train(clip_run *c, int64_t step, lt_pretrain_result *res) {
    const lt_pretrain_opts *o = c->o;
    char log[1200];
    snprintf(log, sizeof log, "%s/metrics.jsonl", o->out_dir);
    FILE *mf = fopen(log, step > 0 ? "a" : "w");
    if (!mf) return lt_error(LT_ERR_IO, "clip: cannot write %s: %s", log, strerror(errno));
    const int64_t start = step;
    const double t0 = lt_pt_now();
    lt_pt_losses losses = {{0}, {0}, 0};
    int n_files_paired = 0;
    for (int f = 0; f < o->n_files; f++) n_files_paired += c->files[f].n_paired > 0;
    lt_status st = LT_OK;
    if (!o->quiet)
        fprintf(stderr, "pretrain [clip]: %s at step %lld of %d, %d encoders of %d layers d %d, batch %d\n",
                start ? "resuming" : "training", (long long)start, o->steps, c->n_mod, c->mc.n_layer, c->mc.d_model,
                c->B);
    while (st == LT_OK && step < o->steps) {
        for (int m = 0; m < c->n_mod && st == LT_OK; m++) st = lt_model_zero_grad(c->enc[m]->model);
        c->ls_grad = 0;
        double loss = 0;
        int terms = 0;
        for (int f = 0; f < o->n_files && st == LT_OK; f++)
            if (c->files[f].n_paired > 0) st = file_step(c, f, step, 1.0 / n_files_paired, &loss, &terms);
        if (st != LT_OK) break;
        if (terms == 0) {
            st = lt_error(LT_ERR_INVALID_ARG, "clip step %lld: no modality pair appears twice in the batch "
                          "(raise --batch)", (long long)step);
            break;
        }
        double gn, lr = lt_lr_at(&c->tc, step), scale = 1.0;
        st = grad_norm(c, &gn);
        if (st != LT_OK) break;
        int skipped = !isfinite(loss) || !isfinite(gn);
        if (!skipped) {
            float coef = (float)c->tc.grad_clip / ((float)gn + 1e-6f);
            scale = coef < 1.0f ? coef : 1.0f;
            st = update(c, step, lr, scale);
            lt_pt_losses_add(&losses, loss);
        }
        const double el = lt_pt_now() - t0;
        fprintf(mf, "{\"method\": \"clip\", \"step\": %lld, \"loss\": %.6f, \"lr\": %.6g, \"grad_norm\": %.5g, "
                    "\"skipped\": %d, \"log_scale\": %.5f, \"terms\": %d, \"seconds\": %.3f}\n",
                (long long)step, loss, lr, gn, skipped, c->log_scale, terms, el);
        step++;
        const int every = o->steps >= 200 ? o->steps / 20 : 10;
        if (!o->quiet && (step % every == 0 || step == o->steps)) {
            char eta[32];
            lt_pt_fmt_eta(el / (double)(step - start) * (double)(o->steps - step), eta, sizeof eta);
            fprintf(stderr, "pretrain [clip] step %lld/%d loss %.4f temperature %.4f lr %.2e ETA %s\n",
                    (long long)step, o->steps, loss, exp(-c->log_scale), lr, eta);
        }
        if (st == LT_OK && o->save_every > 0 && step % o->save_every == 0 && step < o->steps) {
            fflush(mf);
            st = save_all(c, "last", step);
        }
    }
    fclose(mf);
    res->steps_run = (int)(step - start);
    res->step = step;
    res->seconds = lt_pt_now() - t0;
    lt_pt_losses_result(&losses, res);
    if (st == LT_OK) st = save_all(c, "final", step);
    return st;
}

lt_status lt_clip_run(const lt_pretrain_opts *o, lt_pretrain_result *out) {
    clip_run *c = calloc(1, sizeof *c);
    if (!c) return lt_error(LT_ERR_OUT_OF_MEMORY, "clip: run state");
    c->o = o;
    memset(out, 0, sizeof *out);
    lt_status st = lt_pt_mkdir(o->out_dir);
    if (st == LT_OK) st = setup(c);
    int64_t step = 0;
    char p[1300];
    if (st == LT_OK) {
        ckpt_name(c, p, sizeof p, "last", -1);
        if (lt_pt_exists(p)) st = load_all(c, "last", &step);
        else {
            ckpt_name(c, p, sizeof p, "final", -1);
            if (lt_pt_exists(p)) st = load_all(c, "final", &step);
        }
        for (int m = 0; m < c->n_mod && st == LT_OK; m++) c->enc[m]->tc.total_steps = o->steps;
    }
    if (st == LT_OK && step >= o->steps) {
        if (!o->quiet)
            fprintf(stderr, "pretrain [clip]: %s is at step %lld >= %d, nothing to do\n", o->out_dir, (long long)step,
                    o->steps);
        out->step = step;
    } else if (st == LT_OK) {
        st = train(c, step, out);
        if (st == LT_OK) {
            ckpt_name(c, p, sizeof p, "last", -1);
            remove(p);
            for (int m = 0; m < c->n_mod; m++) {
                ckpt_name(c, p, sizeof p, "last", m);
                remove(p);
            }
        }
        if (st == LT_OK && !o->quiet)
            fprintf(stderr, "pretrain [clip]: %d steps in %.1f s, loss %.4f -> %.4f; %s/final_*.safetensors\n",
                    out->steps_run, out->seconds, out->first_loss, out->final_loss, o->out_dir);
    }
    teardown(c);
    free(c);
    return st;
}
