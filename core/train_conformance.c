/* core/train_conformance.c - a whole training step (forward, backward, clipping, AdamW)
 * on one device against another, from identical weights.
 *
 * Both trainers draw their weights from the same seed on the host, so they start equal
 * bit for bit; each step then reports both losses and how far the parameters drifted
 * apart (per tensor: max |p_dev - p_base| / max |p_base|, the worst tensor named). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/rng.h"
#include "loretta/train.h"

static lt_status drift(const lt_trainer *a, const lt_trainer *b, float *ha, float *hb,
                       lt_train_conf_result *worst, const char **where) {
    const lt_model *m = a->model;
    LT_TRY(lt_tensor_download(ha, &a->model->params, m->n_flat * sizeof(float)));
    LT_TRY(lt_tensor_download(hb, &b->model->params, m->n_flat * sizeof(float)));
    worst->drift_max = worst->drift_l2 = 0.0;
    *where = m->info[0].name;
    for (int i = 0; i < m->n_tensors; i++) {
        const lt_param_info *p = &m->info[i];
        double num = 0.0, den = 0.0, sd = 0.0, sy = 0.0;
        for (int64_t e = 0; e < p->numel; e++) {
            const double x = ha[p->offset + e], y = hb[p->offset + e];
            const double d = fabs(x - y);
            if (!(d <= num)) num = d; /* NaN wins */
            if (fabs(y) > den) den = fabs(y);
            sd += d * d;
            sy += y * y;
        }
        const double r = den > 0 ? num / den : num;
        const double r2 = sy > 0 ? sqrt(sd / sy) : sqrt(sd);
        if (!(r <= worst->drift_max)) {
            worst->drift_max = r;
            *where = p->name;
        }
        if (!(r2 <= worst->drift_l2)) worst->drift_l2 = r2;
    }
    return LT_OK;
}

lt_status lt_train_conformance(lt_device *dev, lt_device *base, const lt_model_config *cfg,
                               lt_precision precision, int B, int T, int steps, FILE *log,
                               lt_train_conf_result *out) {
    if (!dev || !base || !cfg || steps < 1)
        return lt_error(LT_ERR_INVALID_ARG, "train conformance: NULL device/config or steps < 1");
    lt_train_config tc;
    lt_train_config_default(&tc);
    tc.warmup_steps = 1;
    tc.total_steps = steps;
    tc.lr_max = 1e-3;
    lt_trainer *a = NULL, *b = NULL;
    float *ha = NULL, *hb = NULL;
    int32_t *stream = NULL;
    lt_window_batch wb;
    memset(&wb, 0, sizeof wb);
    lt_status s = lt_trainer_create(dev, cfg, &tc, B, T, &a);
    if (s == LT_OK) s = lt_trainer_create(base, cfg, &tc, B, T, &b);
    if (s == LT_OK) s = lt_model_set_precision(a->model, precision);
    if (s == LT_OK) s = lt_model_set_precision(b->model, precision);
    if (s == LT_OK) s = lt_window_batch_alloc(B, T, &wb);
    const int64_t n = (int64_t)(T + 1) * B * 4;
    if (s == LT_OK) {
        ha = malloc(a->model->n_flat * sizeof(float));
        hb = malloc(a->model->n_flat * sizeof(float));
        stream = malloc((size_t)n * sizeof(int32_t));
        if (!ha || !hb || !stream) s = lt_error(LT_ERR_OUT_OF_MEMORY, "train conformance: host buffers");
    }
    if (s == LT_OK) {
        const lt_modality *m0 = &a->model->cfg.modalities[0];
        for (int64_t i = 0; i < n; i++)
            stream[i] = m0->tok_lo + (int32_t)(lt_rng_uniform(99, (uint64_t)i, 1) * (float)(m0->tok_hi - m0->tok_lo));
    }
    lt_train_conf_result worst = {0, 0, 0};
    if (s == LT_OK && log)
        fprintf(log, "train step: %s [%s] vs %s [%s], model %s, B %d T %d, %s\n", dev->info.name,
                dev->info.backend_name, base->info.name, base->info.backend_name, cfg->name, B, T,
                lt_precision_name(precision));
    for (int st = 0; st < steps && s == LT_OK; st++) {
        s = lt_window_batch_fill(&wb, &a->model->cfg, stream, n, 5, (uint64_t)st);
        lt_step_result ra, rb;
        if (s == LT_OK) s = lt_trainer_step(a, &wb.batch, 1, &ra);
        if (s != LT_OK) {
            s = lt_error_context(s, "train conformance on %s: ", dev->info.backend_name);
            break;
        }
        s = lt_trainer_step(b, &wb.batch, 1, &rb);
        if (s != LT_OK) {
            s = lt_error_context(s, "train conformance on %s: ", base->info.backend_name);
            break;
        }
        lt_train_conf_result now;
        const char *where = "";
        s = drift(a, b, ha, hb, &now, &where);
        const double dl = fabs(ra.loss - rb.loss);
        if (!(dl <= worst.loss_diff)) worst.loss_diff = dl;
        if (s == LT_OK && !(now.drift_max <= worst.drift_max)) worst.drift_max = now.drift_max;
        if (s == LT_OK && !(now.drift_l2 <= worst.drift_l2)) worst.drift_l2 = now.drift_l2;
        if (s == LT_OK && log)
            fprintf(log, "  step %d loss %.7f vs %.7f (diff %.2e) grad norm %.5f vs %.5f, param drift "
                         "max %.2e (%s) L2 %.2e\n",
                    st, ra.loss, rb.loss, dl, ra.grad_norm, rb.grad_norm, now.drift_max, where,
                    now.drift_l2);
    }
    if (out) *out = worst;
    free(ha);
    free(hb);
    free(stream);
    lt_window_batch_free(&wb);
    lt_trainer_free(a);
    lt_trainer_free(b);
    return s;
}
