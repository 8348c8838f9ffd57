/* core/objectives.c - sequences, the RNG of the objectives, causal / commutative
 * ordering, and next-token rows. CM3 and BERT masking are in objective_mask.c, transitive
 * modeling in objective_transitive.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/objectives.h"
#include "loretta/rng.h"

lt_obj_rng lt_obj_rng_make(uint64_t seed, uint64_t stream) {
    lt_obj_rng r = {seed, stream, 0};
    return r;
}

uint32_t lt_obj_rng_u32(lt_obj_rng *r) {
    uint32_t w[4];
    lt_rng_words(r->seed, r->stream, r->counter++, w);
    return w[0];
}

double lt_obj_rng_uniform(lt_obj_rng *r) {
    uint32_t w[4];
    lt_rng_words(r->seed, r->stream, r->counter++, w);
    return ((double)(w[0] >> 5) * 67108864.0 + (double)(w[1] >> 6)) / 9007199254740992.0;
}

uint32_t lt_obj_rng_below(lt_obj_rng *r, uint32_t n) {
    if (n <= 1) return 0;
    /* Rejection keeps it unbiased: draws >= the largest multiple of n are redrawn. */
    uint32_t limit = UINT32_MAX - UINT32_MAX % n;
    for (;;) {
        uint32_t x = lt_obj_rng_u32(r);
        if (x < limit) return x % n;
    }
}

int lt_obj_rng_poisson1(lt_obj_rng *r) {
    /* Inversion: P(k) = e^-1 / k!. */
    double u = lt_obj_rng_uniform(r), p = exp(-1.0), cdf = p;
    int k = 0;
    while (u > cdf && k < 64) {
        k++;
        p /= k;
        cdf += p;
    }
    return k;
}

/* ------------------------------------------------------------------ seq ---- */

lt_status lt_seq_init(lt_seq *s, int cap) {
    memset(s, 0, sizeof *s);
    if (cap < 16) cap = 16;
    s->tok = malloc(sizeof(int32_t) * (size_t)cap);
    s->pos = malloc(sizeof(int32_t) * (size_t)cap);
    s->mod = malloc((size_t)cap);
    s->counted = malloc((size_t)cap);
    if (!s->tok || !s->pos || !s->mod || !s->counted) {
        lt_seq_free(s);
        return lt_error(LT_ERR_OUT_OF_MEMORY, "seq: %d tokens", cap);
    }
    s->cap = cap;
    return LT_OK;
}

void lt_seq_free(lt_seq *s) {
    free(s->tok);
    free(s->pos);
    free(s->mod);
    free(s->counted);
    memset(s, 0, sizeof *s);
}

void lt_seq_clear(lt_seq *s) { s->len = 0; }

static lt_status seq_grow(lt_seq *s, int need) {
    if (need <= s->cap) return LT_OK;
    int cap = s->cap ? s->cap : 16;
    while (cap < need) cap *= 2;
    int32_t *t = realloc(s->tok, sizeof(int32_t) * (size_t)cap);
    if (t) s->tok = t;
    int32_t *p = realloc(s->pos, sizeof(int32_t) * (size_t)cap);
    if (p) s->pos = p;
    int8_t *m = realloc(s->mod, (size_t)cap);
    if (m) s->mod = m;
    uint8_t *c = realloc(s->counted, (size_t)cap);
    if (c) s->counted = c;
    if (!t || !p || !m || !c) return lt_error(LT_ERR_OUT_OF_MEMORY, "seq: %d tokens", cap);
    s->cap = cap;
    return LT_OK;
}

lt_status lt_seq_push(lt_seq *s, int32_t tok, int32_t pos, int mod, int counted) {
    LT_TRY(seq_grow(s, s->len + 1));
    s->tok[s->len] = tok;
    s->pos[s->len] = pos;
    s->mod[s->len] = (int8_t)mod;
    s->counted[s->len] = counted ? 1 : 0;
    s->len++;
    return LT_OK;
}

lt_status lt_obj_modality_map(const lt_dataset *ds, const lt_model_config *cfg, int strict,
                              int map[LT_DS_MAX_MODALITIES]) {
    for (int i = 0; i < LT_DS_MAX_MODALITIES; i++) map[i] = -1;
    for (int i = 0; i < lt_dataset_modality_count(ds); i++) {
        const lt_ds_modality *dm = lt_dataset_modality(ds, i);
        for (int m = 0; m < cfg->n_modality; m++)
            if (!strcmp(cfg->modalities[m].name, dm->name)) map[i] = m;
        if (map[i] < 0 && strict)
            return lt_error(LT_ERR_INVALID_ARG, "dataset %s: modality '%s' is not in model config '%s'",
                            lt_dataset_path(ds), dm->name, cfg->name);
        if (map[i] >= 0) {
            const lt_modality *mm = &cfg->modalities[map[i]];
            if ((int64_t)dm->levels > (int64_t)mm->tok_hi - mm->tok_lo)
                return lt_error(LT_ERR_RANGE, "dataset %s: modality '%s' has %u levels, the model's "
                                "token range [%d, %d) holds %d", lt_dataset_path(ds), dm->name,
                                dm->levels, mm->tok_lo, mm->tok_hi, mm->tok_hi - mm->tok_lo);
        }
    }
    return LT_OK;
}

static lt_status check_room(const lt_model_config *cfg, int model_mod, uint32_t n) {
    if (model_mod < 0 || model_mod >= cfg->n_modality)
        return lt_error(LT_ERR_INVALID_ARG, "seq: modality %d of %d", model_mod, cfg->n_modality);
    const lt_modality *m = &cfg->modalities[model_mod];
    if ((int64_t)n + 2 > m->max_len)
        return lt_error(LT_ERR_RANGE, "seq: modality %s: %u tokens + BOS/EOS exceed its %d positions",
                        m->name, n, m->max_len);
    return LT_OK;
}

lt_status lt_seq_append_modality(lt_seq *s, const lt_model_config *cfg, int model_mod,
                                 const uint16_t *values, uint32_t n, int counted) {
    LT_TRY(check_room(cfg, model_mod, n));
    const lt_modality *m = &cfg->modalities[model_mod];
    LT_TRY(seq_grow(s, s->len + (int)n + 2));
    LT_TRY(lt_seq_push(s, m->begin, m->pos_base, model_mod, counted));
    for (uint32_t i = 0; i < n; i++) {
        int32_t tok = m->tok_lo + values[i];
        if (tok >= m->tok_hi)
            return lt_error(LT_ERR_RANGE, "seq: modality %s: value %u at %u is outside its %d tokens",
                            m->name, values[i], i, m->tok_hi - m->tok_lo);
        LT_TRY(lt_seq_push(s, tok, m->pos_base + 1 + (int32_t)i, model_mod, counted));
    }
    return lt_seq_push(s, m->end, m->pos_base + 1 + (int32_t)n, model_mod, counted);
}

lt_status lt_seq_append_tokens(lt_seq *s, const lt_model_config *cfg, int model_mod,
                               const int32_t *tokens, uint32_t n, int counted) {
    LT_TRY(check_room(cfg, model_mod, n));
    const lt_modality *m = &cfg->modalities[model_mod];
    LT_TRY(seq_grow(s, s->len + (int)n + 2));
    LT_TRY(lt_seq_push(s, m->begin, m->pos_base, model_mod, counted));
    for (uint32_t i = 0; i < n; i++) {
        if (tokens[i] < m->tok_lo || tokens[i] >= m->tok_hi)
            return lt_error(LT_ERR_RANGE, "seq: modality %s: token %d at %u is outside [%d, %d)",
                            m->name, tokens[i], i, m->tok_lo, m->tok_hi);
        LT_TRY(lt_seq_push(s, tokens[i], m->pos_base + 1 + (int32_t)i, model_mod, counted));
    }
    return lt_seq_push(s, m->end, m->pos_base + 1 + (int32_t)n, model_mod, counted);
}

/* Dataset modality index holding model modality `mm` in this sample, or -1. */
static int sample_slot(const lt_ds_sample *smp, const int map[LT_DS_MAX_MODALITIES], int mm) {
    for (int i = 0; i < LT_DS_MAX_MODALITIES; i++)
        if (map[i] == mm && (smp->mask >> i & 1)) return i;
    return -1;
}

lt_status lt_obj_causal(lt_seq *s, const lt_model_config *cfg, const lt_ds_sample *sample,
                        const int map[LT_DS_MAX_MODALITIES], const int *order, int n) {
    lt_seq_clear(s);
    for (int k = 0; k < n; k++) {
        int slot = sample_slot(sample, map, order[k]);
        if (slot < 0)
            return lt_error(LT_ERR_INVALID_ARG, "causal: the sample (label %d) has no modality %s",
                            sample->label, cfg->modalities[order[k]].name);
        LT_TRY(lt_seq_append_modality(s, cfg, order[k], sample->tokens[slot], sample->len[slot], 1));
    }
    return LT_OK;
}

lt_status lt_obj_commutative(lt_seq *s, const lt_model_config *cfg, const lt_ds_sample *sample,
                             const int map[LT_DS_MAX_MODALITIES], lt_obj_rng *r) {
    int order[LT_MAX_MODALITIES], n = 0;
    for (int mm = 0; mm < cfg->n_modality; mm++)
        if (sample_slot(sample, map, mm) >= 0) order[n++] = mm;
    if (n == 0)
        return lt_error(LT_ERR_INVALID_ARG, "commutative: the sample (label %d) has no modality of the model",
                        sample->label);
    for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
        int j = (int)lt_obj_rng_below(r, (uint32_t)i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    return lt_obj_causal(s, cfg, sample, map, order, n);
}

lt_status lt_seq_to_rows(const lt_seq *s, int cap, int32_t *tokens, int32_t *targets,
                         float *weights, int32_t *pos_ids, int32_t *modality, int *n_rows) {
    int n = s->len - 1;
    if (n < 1) return lt_error(LT_ERR_INVALID_ARG, "rows: a sequence of %d tokens has nothing to predict", s->len);
    if (n > cap) return lt_error(LT_ERR_RANGE, "rows: %d rows exceed the batch length %d", n, cap);
    for (int t = 0; t < n; t++) {
        tokens[t] = s->tok[t];
        targets[t] = s->tok[t + 1];
        weights[t] = s->counted[t + 1] ? 1.0f : 0.0f;
        pos_ids[t] = s->pos[t];
        if (modality) modality[t] = s->mod[t + 1] >= 0 ? s->mod[t + 1] : 0;
    }
    *n_rows = n;
    return LT_OK;
}
