/* core/train_step.c - the trainer: moments, decay mask, and one optimiser step
 * (accumulate micro-batches -> global norm -> clip inside AdamW -> update).
 *
 * Clipping follows torch.nn.utils.clip_grad_norm_: coef = clip / (norm + 1e-6), clamped
 * to 1, and passed to lt_adamw as grad_scale so the gradient buffer is never rescaled
 * in a separate pass.
 *
 * BF16 precision: the update runs on the f32 masters as in FP32. The bf16 weight copy is
 * refreshed once, before the first micro-batch, from whatever the masters hold then (this
 * step's previous update, or a checkpoint restored or weights written in between); the
 * micro-batches reuse it. One cast per step, where it is read, not also after the update. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/train.h"
#include "model_internal.h"

static lt_status build_decay_mask(lt_trainer *t) {
    const lt_model *m = t->model;
    uint8_t *mask = calloc(m->n_flat ? m->n_flat : 1, 1);
    if (!mask) return lt_error(LT_ERR_OUT_OF_MEMORY, "trainer: decay mask of %zu bytes", m->n_flat);
    for (int i = 0; i < m->n_tensors; i++)
        if (m->info[i].decay) memset(mask + m->info[i].offset, 1, (size_t)m->info[i].numel);
    lt_status s = lt_tensor_upload(&t->decay_mask, mask, m->n_flat);
    free(mask);
    return s;
}

lt_status lt_trainer_create(lt_device *dev, const lt_model_config *mc, const lt_train_config *tc,
                            int max_B, int max_T, lt_trainer **out) {
    if (!dev || !mc || !tc || !out) return lt_error(LT_ERR_INVALID_ARG, "trainer: NULL argument");
    *out = NULL;
    LT_TRY(lt_train_config_validate(tc));
    lt_trainer *t = calloc(1, sizeof *t);
    if (!t) return lt_error(LT_ERR_OUT_OF_MEMORY, "trainer: out of host memory");
    t->tc = *tc;
    lt_status s = lt_model_create(dev, mc, max_B, max_T, &t->model);
    int64_t n[1] = {t->model ? (int64_t)t->model->n_flat : 0}, one[1] = {1};
    if (s == LT_OK) s = lt_model_init_weights(t->model, tc->seed);
    if (s == LT_OK) s = lt_tensor_alloc(dev, LT_F32, 1, n, &t->m);
    if (s == LT_OK) s = lt_tensor_alloc(dev, LT_F32, 1, n, &t->v);
    if (s == LT_OK) s = lt_tensor_alloc(dev, LT_U8, 1, n, &t->decay_mask);
    if (s == LT_OK) s = lt_tensor_alloc(dev, LT_F32, 1, one, &t->norm_out);
    if (s == LT_OK) s = lt_fill(&t->m, 0.0);
    if (s == LT_OK) s = lt_fill(&t->v, 0.0);
    if (s == LT_OK) s = build_decay_mask(t);
    if (s != LT_OK) {
        lt_trainer_free(t);
        return s;
    }
    *out = t;
    return LT_OK;
}

void lt_trainer_free(lt_trainer *t) {
    if (!t) return;
    lt_model_free(t->model);
    lt_tensor_free(&t->m);
    lt_tensor_free(&t->v);
    lt_tensor_free(&t->decay_mask);
    lt_tensor_free(&t->norm_out);
    free(t);
}

lt_status lt_trainer_grad_norm(lt_trainer *t, double *out) {
    LT_TRY(lt_sumsq(&t->norm_out, &t->model->grads));
    float ss = 0.0f;
    LT_TRY(lt_tensor_download(&ss, &t->norm_out, sizeof ss));
    *out = sqrt((double)ss);
    return LT_OK;
}

static double batch_weight(const lt_batch *b) {
    double w = 0.0;
    for (int64_t i = 0; i < (int64_t)b->B * b->T; i++) w += b->weights[i];
    return w;
}

static void fill_result(lt_step_result *r, const lt_trainer *t, const lt_loss_sums *sum) {
    memset(r, 0, sizeof *r);
    r->step = t->step;
    r->weight = sum->weight;
    r->loss = sum->weighted_sum / sum->weight;
    r->n_modality = t->model->cfg.n_modality;
    for (int i = 0; i < r->n_modality; i++) {
        r->mod_weight[i] = sum->mod_weight[i];
        r->mod_loss[i] = sum->mod_weight[i] > 0 ? sum->mod_sum[i] / sum->mod_weight[i] : NAN;
    }
    r->lr = lt_lr_at(&t->tc, t->step);
    r->clip_scale = 1.0;
}

lt_status lt_trainer_step(lt_trainer *t, const lt_batch *micro, int n_micro, lt_step_result *out) {
    if (!t || !micro || n_micro < 1)
        return lt_error(LT_ERR_INVALID_ARG, "train step: no trainer or no micro-batches");
    double total_w = 0.0;
    for (int i = 0; i < n_micro; i++) {
        if (!micro[i].weights)
            return lt_error(LT_ERR_INVALID_ARG, "train step: micro-batch %d has no weights", i);
        total_w += batch_weight(&micro[i]);
    }
    if (!(total_w > 0.0))
        return lt_error(LT_ERR_INVALID_ARG, "train step: the micro-batches count no token (sum of weights %g)",
                        total_w);
    lt_model *m = t->model;
    LT_TRY(lt_model_zero_grad(m));
    LT_TRY(lt_model_refresh_half(m));
    lt_loss_sums sum;
    memset(&sum, 0, sizeof sum);
    for (int i = 0; i < n_micro; i++) {
        lt_loss_sums s;
        LT_TRY(lt_model_forward_mode(m, &micro[i], (float)(1.0 / total_w), &s, LT_FWD_FRESH));
        LT_TRY(lt_model_backward(m));
        sum.weighted_sum += s.weighted_sum;
        sum.weight += s.weight;
        sum.nonfinite |= s.nonfinite;
        for (int k = 0; k < LT_MAX_MODALITIES; k++) {
            sum.mod_sum[k] += s.mod_sum[k];
            sum.mod_weight[k] += s.mod_weight[k];
        }
    }
    lt_step_result r;
    fill_result(&r, t, &sum);
    LT_TRY(lt_trainer_grad_norm(t, &r.grad_norm));
    if (sum.nonfinite || !isfinite(r.loss) || !isfinite(r.grad_norm)) {
        r.skipped = 1;
        t->nan_steps++;
        t->step++;
        if (out) *out = r;
        if (t->nan_steps > t->tc.max_nan_steps)
            return lt_error(LT_ERR_NUMERIC,
                            "train step %lld: non-finite loss or gradient; %lld steps skipped, more than max_nan_steps %d",
                            (long long)r.step, (long long)t->nan_steps, t->tc.max_nan_steps);
        return LT_OK;
    }
    if (t->tc.grad_clip > 0.0) {
        /* torch computes this in f32 tensors; the f32 rounding of the result is shared. */
        float coef = (float)t->tc.grad_clip / ((float)r.grad_norm + 1e-6f);
        r.clip_scale = coef < 1.0f ? coef : 1.0f;
    }
    lt_adamw_params p = {
        .lr = (float)r.lr,
        .beta1 = (float)t->tc.beta1,
        .beta2 = (float)t->tc.beta2,
        .eps = (float)t->tc.eps,
        .weight_decay = (float)t->tc.weight_decay,
        .grad_scale = (float)r.clip_scale,
        .step = t->adam_step + 1,
    };
    LT_TRY(lt_adamw(&m->params, &t->m, &t->v, &m->grads, &t->decay_mask, &p));
    t->adam_step++;
    t->step++;
    if (out) *out = r;
    return LT_OK;
}
