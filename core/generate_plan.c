/* core/generate_plan.c - options and the checks every generation call makes before it
 * touches the device, shared by the cached and the no-cache paths. */
#include <string.h>

#include "generate_internal.h"

lt_gen_opts lt_gen_opts_default(void) {
    lt_gen_opts o;
    memset(&o, 0, sizeof o);
    o.min_new = 1;
    return o;
}

int lt_gen_max_new(const lt_model_config *cfg, int target, const lt_gen_opts *o) {
    if (!cfg || target < 0 || target >= cfg->n_modality) return 0;
    int n = cfg->modalities[target].max_len - 2; /* BOS and EOS take two positions */
    if (n < 0) n = 0;
    if (o && o->max_new > 0 && o->max_new < n) n = o->max_new;
    return n;
}

lt_status lt_gen_plan_make(const lt_model_config *cfg, const lt_seq *prompts, int n, int target,
                           const lt_gen_opts *o, int out_stride, int max_T, const char *who,
                           lt_gen_plan *out) {
    if (!cfg || !o || !out || (n > 0 && !prompts))
        return lt_error(LT_ERR_INVALID_ARG, "%s: NULL argument", who);
    if (n < 0) return lt_error(LT_ERR_INVALID_ARG, "%s: %d prompts", who, n);
    if (!cfg->causal)
        return lt_error(LT_ERR_UNSUPPORTED,
                        "%s: model %s is bidirectional (causal 0); only causal models generate", who,
                        cfg->name);
    if (target < 0 || target >= cfg->n_modality)
        return lt_error(LT_ERR_INVALID_ARG, "%s: target modality %d, the model has %d", who, target,
                        cfg->n_modality);
    if (!(o->temperature >= 0.0f) || o->top_k < 0 || o->max_new < 0 || o->min_new < 0)
        return lt_error(LT_ERR_INVALID_ARG,
                        "%s: temperature %g, top_k %d, max_new %d and min_new %d must be >= 0", who,
                        o->temperature, o->top_k, o->max_new, o->min_new);
    const lt_modality *mod = &cfg->modalities[target];
    memset(out, 0, sizeof *out);
    out->target = target;
    out->fixed = (o->fixed_len_mask >> target) & 1u;
    out->ntok = mod->tok_hi - mod->tok_lo;
    out->width = out->ntok + (out->fixed ? 0 : 1);
    out->max_new = lt_gen_max_new(cfg, target, o);
    out->min_new = o->min_new;
    out->tok_lo = mod->tok_lo;
    out->end = mod->end;
    out->begin = mod->begin;
    out->pos_base = mod->pos_base;
    if (out_stride < out->max_new)
        return lt_error(LT_ERR_INVALID_ARG, "%s: output rows of %d tokens, %s needs up to %d", who,
                        out_stride, mod->name, out->max_new);
    const int64_t P = lt_model_config_pos_rows(cfg);
    for (int p = 0; p < n; p++) {
        const lt_seq *s = &prompts[p];
        if (s->len < 0 || (s->len > 0 && (!s->tok || !s->pos)))
            return lt_error(LT_ERR_INVALID_ARG, "%s: prompt %d has no token or position array", who, p);
        for (int t = 0; t < s->len; t++) {
            if (s->tok[t] < 0 || s->tok[t] >= cfg->vocab_size)
                return lt_error(LT_ERR_RANGE, "%s: prompt %d token %d is %d, outside the vocabulary [0, %d)",
                                who, p, t, s->tok[t], cfg->vocab_size);
            if (s->pos[t] < 0 || s->pos[t] >= P)
                return lt_error(LT_ERR_RANGE,
                                "%s: prompt %d position row %d is %d, outside the position table [0, %lld)",
                                who, p, t, s->pos[t], (long long)P);
        }
        if (s->len > out->longest) out->longest = s->len;
    }
    /* The sequence fed to the model: prompt, BOS, and every drawn token but the last. */
    const int64_t need = (int64_t)out->longest + 1 + (out->max_new > 0 ? out->max_new - 1 : 0);
    if (need > max_T)
        return lt_error(LT_ERR_SHAPE,
                        "%s: a %d-token prompt, BOS and %d %s tokens need %lld positions, the %s holds %d",
                        who, out->longest, out->max_new, mod->name, (long long)need,
                        strcmp(who, "generate_nocache") ? "generator" : "model", max_T);
    return LT_OK;
}
