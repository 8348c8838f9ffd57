/* loretta/train.h - the optimiser loop: AdamW with global-norm clipping, the warm-up +
 * cosine schedule, gradient accumulation, NaN handling; token files for `loretta train`;
 * the whole-step cross-backend check.
 *
 * Defaults are the paper's appendix A: AdamW betas (0.9, 0.95), eps 1e-8, weight decay
 * 0.1 (on every 2-D weight, as the PyTorch baseline), clipping at 1.0, learning rate
 * linearly from 1e-7 to 6e-4 over the warm-up, then cosine down to 6e-5. */
#ifndef LORETTA_TRAIN_H
#define LORETTA_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "loretta/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lt_train_config {
    double lr_max, lr_min, lr_init;
    int64_t warmup_steps, total_steps;
    double beta1, beta2, eps, weight_decay;
    double grad_clip;      /* global L2 norm; 0 = no clipping */
    int max_nan_steps;     /* skipped (non-finite) steps tolerated before the run stops */
    uint64_t seed;         /* weight init and data order */
} lt_train_config;

void lt_train_config_default(lt_train_config *c);
lt_status lt_train_config_validate(const lt_train_config *c);
/* Learning rate of step s (0-based): lr_init + (lr_max - lr_init) s / warmup while
 * s < warmup, then lr_min + (lr_max - lr_min)(1 + cos(pi p)) / 2 with
 * p = min(1, (s - warmup) / max(1, total - warmup)). */
double lt_lr_at(const lt_train_config *c, int64_t step);
/* The optimiser hyper-parameters as one JSON object (checkpoint metadata). */
lt_status lt_train_config_to_json(const lt_train_config *c, char **out);

typedef struct lt_trainer {
    lt_model *model;
    lt_train_config tc;
    lt_tensor m, v;        /* AdamW moments, f32 [n_flat], mirroring the parameters */
    lt_tensor decay_mask;  /* u8 [n_flat] */
    lt_tensor norm_out;    /* f32 [1] for lt_sumsq */
    int64_t step;          /* steps taken (applied or skipped): the schedule position */
    int64_t adam_step;     /* updates applied: AdamW's bias-correction counter */
    int64_t nan_steps;     /* steps skipped for a non-finite loss or gradient */
    uint64_t data_pos;     /* position of the data stream (owned by the caller) */
    uint64_t rng_counter;  /* counter of the data RNG (Philox keyed by tc.seed) */
} lt_trainer;

typedef struct lt_step_result {
    int64_t step;           /* index of this step (0-based) */
    double loss;            /* sum(w * ce) / sum(w) over the micro-batches */
    double weight;          /* sum(w): counted tokens */
    int n_modality;
    double mod_loss[LT_MAX_MODALITIES];    /* NaN for a modality without counted tokens */
    double mod_weight[LT_MAX_MODALITIES];
    double grad_norm;       /* before clipping */
    double clip_scale;      /* factor applied to the gradient (1 = not clipped) */
    double lr;
    int skipped;            /* 1: non-finite loss or gradient, no update */
} lt_step_result;

/* Creates the model (weights initialised from tc->seed), moments and decay mask. */
lt_status lt_trainer_create(lt_device *dev, const lt_model_config *mc, const lt_train_config *tc,
                            int max_B, int max_T, lt_trainer **out);
void lt_trainer_free(lt_trainer *t);
/* One optimiser step over n_micro micro-batches (gradient accumulation). A non-finite
 * loss or gradient norm skips the update (result.skipped = 1); once more than
 * tc.max_nan_steps steps were skipped it returns LT_ERR_NUMERIC. */
lt_status lt_trainer_step(lt_trainer *t, const lt_batch *micro, int n_micro, lt_step_result *out);
/* Global L2 norm of the current gradient (lt_sumsq on the flat buffer). */
lt_status lt_trainer_grad_norm(lt_trainer *t, double *out);

/* ---- token files ---- */

/* A flat token array from a .npy file (uint8, uint16, int32 or int64 little endian, 1-D
 * or C-order of any rank), converted to int32; the header is checked against the file
 * size. *tokens is malloc'ed. */
lt_status lt_npy_load_tokens(const char *path, int32_t **tokens, int64_t *count);
/* Writes int32 tokens as a 1-D .npy file (tests, tools). */
lt_status lt_npy_save_i32(const char *path, const int32_t *v, int64_t count);

/* Fills a batch of B windows of T+1 tokens from a flat stream: window b of draw `draw`
 * starts at a Philox-uniform offset (seed, draw, b); inputs are the first T tokens,
 * targets the next T, weight 1, positions modality base + offset from the window start
 * (clamped to the modality's table), modality by token (0 when none owns it). */
typedef struct lt_window_batch {
    int B, T;
    int32_t *tokens, *targets, *pos_ids, *lengths, *modality;
    float *weights;
    lt_batch batch; /* views of the arrays above */
} lt_window_batch;
lt_status lt_window_batch_alloc(int B, int T, lt_window_batch *out);
void lt_window_batch_free(lt_window_batch *w);
lt_status lt_window_batch_fill(lt_window_batch *w, const lt_model_config *cfg,
                               const int32_t *stream, int64_t n, uint64_t seed, uint64_t draw);

/* ---- whole-step conformance ---- */

/* The worst values over the steps of lt_train_conformance. */
typedef struct lt_train_conf_result {
    double loss_diff; /* |loss_dev - loss_base| */
    double drift_max; /* per tensor max |p_dev - p_base| / max |p_base|, worst tensor */
    double drift_l2;  /* per tensor ||p_dev - p_base|| / ||p_base||, worst tensor */
} lt_train_conf_result;

/* Trains `steps` steps of config `cfg` (B x T windows of a fixed random stream) on `dev`
 * and on `base` (normally the cpu device) from identical weights, both in `precision`
 * (lt_model_set_precision), and writes one line per step to `log`: both losses, their
 * difference and the parameter drift. The element-wise drift_max suits fp32, where both
 * sides round alike; in bf16 one f32 sum in another order can move a bf16 rounding, and
 * AdamW turns a changed sign of a near-zero gradient into a full lr step on that element,
 * so bf16 is judged by drift_l2. `out` (may be NULL) receives the worst values. */
lt_status lt_train_conformance(lt_device *dev, lt_device *base, const lt_model_config *cfg,
                               lt_precision precision, int B, int T, int steps, FILE *log,
                               lt_train_conf_result *out);

#ifdef __cplusplus
}
#endif
#endif
