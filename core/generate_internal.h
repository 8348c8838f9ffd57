/* core/generate_internal.h - what the cached generator (model_generate.c) and the
 * no-cache reference (model_generate_ref.c) share: the checks of a call and the layout of
 * the sampling candidates, so both paths draw from identical rows. */
#ifndef LT_GENERATE_INTERNAL_H
#define LT_GENERATE_INTERNAL_H

#include "loretta/generate.h"

/* One generation call for one target modality. Candidates of a draw are the compact row
 * [tok_lo .. tok_hi) followed (variable length only) by the end token. */
typedef struct lt_gen_plan {
    int target;
    int fixed;        /* exactly max_new tokens, the end token never a candidate */
    int ntok;         /* tok_hi - tok_lo */
    int width;        /* candidates per row: ntok (+1 for the end token) */
    int max_new, min_new;
    int32_t tok_lo, end, begin, pos_base;
    int longest;      /* longest prompt, in tokens */
} lt_gen_plan;

/* Checks the call (target, causal model, prompt tokens and position rows, output room)
 * and fills the plan. `max_T` is the room of the sequence: longest prompt + BOS +
 * max_new - 1 tokens must fit (the last token drawn is never fed back). */
lt_status lt_gen_plan_make(const lt_model_config *cfg, const lt_seq *prompts, int n, int target,
                           const lt_gen_opts *o, int out_stride, int max_T, const char *who,
                           lt_gen_plan *out);

/* The candidate range of draw `step`: [0, range_hi). */
static inline int32_t lt_gen_range_hi(const lt_gen_plan *p, int step) {
    return p->fixed || step < p->min_new ? p->ntok : p->width;
}

/* Candidate index -> token id. */
static inline int32_t lt_gen_token(const lt_gen_plan *p, int32_t idx) {
    return idx < p->ntok ? p->tok_lo + idx : p->end;
}

static inline int32_t lt_gen_sample_id(const lt_gen_opts *o, int p) {
    return o && o->sample_ids ? o->sample_ids[p] : (int32_t)p;
}

/* Records draw `step` (candidate idx) of a row; returns 1 when the row is finished. */
static inline int lt_gen_take(const lt_gen_plan *p, int32_t idx, int32_t *row, int *len) {
    int32_t tok = lt_gen_token(p, idx);
    if (!p->fixed && tok == p->end) return 1;
    row[(*len)++] = tok;
    return *len >= p->max_new;
}

#endif
