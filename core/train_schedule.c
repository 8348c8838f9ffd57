/* core/train_schedule.c - optimiser defaults (paper appendix A), validation and the
 * learning-rate schedule: linear warm-up from lr_init, then cosine to lr_min. */
#include <math.h>
#include <string.h>

#include "json_write.h"
#include "loretta/train.h"

void lt_train_config_default(lt_train_config *c) {
    memset(c, 0, sizeof *c);
    c->lr_max = 6e-4;
    c->lr_min = 6e-5;
    c->lr_init = 1e-7;
    c->warmup_steps = 200;
    c->total_steps = 10000;
    c->beta1 = 0.9;
    c->beta2 = 0.95;
    c->eps = 1e-8;
    c->weight_decay = 0.1;
    c->grad_clip = 1.0;
    c->max_nan_steps = 10;
    c->seed = 1234;
}

lt_status lt_train_config_validate(const lt_train_config *c) {
    if (!c) return lt_error(LT_ERR_INVALID_ARG, "train config: NULL");
    const double lrs[3] = {c->lr_max, c->lr_min, c->lr_init};
    const char *names[3] = {"lr_max", "lr_min", "lr_init"};
    for (int i = 0; i < 3; i++)
        if (!(lrs[i] >= 0.0 && lrs[i] < 10.0))
            return lt_error(LT_ERR_INVALID_ARG, "train config: %s %g must be in [0, 10)", names[i], lrs[i]);
    if (c->warmup_steps < 0 || c->total_steps < 1)
        return lt_error(LT_ERR_INVALID_ARG, "train config: warmup_steps %lld must be >= 0 and total_steps %lld >= 1",
                        (long long)c->warmup_steps, (long long)c->total_steps);
    if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
        return lt_error(LT_ERR_INVALID_ARG, "train config: betas (%g, %g) must be in [0, 1)", c->beta1, c->beta2);
    if (!(c->eps > 0 && c->eps < 1))
        return lt_error(LT_ERR_INVALID_ARG, "train config: eps %g must be in (0, 1)", c->eps);
    if (!(c->weight_decay >= 0 && c->weight_decay < 10))
        return lt_error(LT_ERR_INVALID_ARG, "train config: weight_decay %g must be in [0, 10)", c->weight_decay);
    if (!(c->grad_clip >= 0 && isfinite(c->grad_clip)))
        return lt_error(LT_ERR_INVALID_ARG, "train config: grad_clip %g must be finite and >= 0", c->grad_clip);
    if (c->max_nan_steps < 0)
        return lt_error(LT_ERR_INVALID_ARG, "train config: max_nan_steps %d must be >= 0", c->max_nan_steps);
    return LT_OK;
}

double lt_lr_at(const lt_train_config *c, int64_t s) {
    if (s < c->warmup_steps)
        return c->lr_init + (c->lr_max - c->lr_init) * (double)s / (double)c->warmup_steps;
    int64_t span = c->total_steps - c->warmup_steps;
    double p = (double)(s - c->warmup_steps) / (double)(span > 1 ? span : 1);
    if (p > 1.0) p = 1.0;
    return c->lr_min + 0.5 * (c->lr_max - c->lr_min) * (1.0 + cos(3.141592653589793 * p));
}

lt_status lt_train_config_to_json(const lt_train_config *c, char **out) {
    lt_sbuf s = {0};
    lt_sbuf_printf(&s, "{\"optimizer\": \"adamw\", \"lr_max\": ");
    lt_sbuf_json_double(&s, c->lr_max);
    lt_sbuf_printf(&s, ", \"lr_min\": ");
    lt_sbuf_json_double(&s, c->lr_min);
    lt_sbuf_printf(&s, ", \"lr_init\": ");
    lt_sbuf_json_double(&s, c->lr_init);
    lt_sbuf_printf(&s, ", \"warmup_steps\": %lld, \"total_steps\": %lld, \"beta1\": ",
                   (long long)c->warmup_steps, (long long)c->total_steps);
    lt_sbuf_json_double(&s, c->beta1);
    lt_sbuf_printf(&s, ", \"beta2\": ");
    lt_sbuf_json_double(&s, c->beta2);
    lt_sbuf_printf(&s, ", \"eps\": ");
    lt_sbuf_json_double(&s, c->eps);
    lt_sbuf_printf(&s, ", \"weight_decay\": ");
    lt_sbuf_json_double(&s, c->weight_decay);
    lt_sbuf_printf(&s, ", \"grad_clip\": ");
    lt_sbuf_json_double(&s, c->grad_clip);
    lt_sbuf_printf(&s, ", \"max_nan_steps\": %d, \"seed\": \"%llu\"}", c->max_nan_steps,
                   (unsigned long long)c->seed);
    lt_status st = lt_sbuf_check(&s, "train config to JSON");
    if (st != LT_OK) {
        lt_sbuf_free(&s);
        return st;
    }
    *out = s.p;
    return LT_OK;
}
