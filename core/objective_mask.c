/* core/objective_mask.c - causal masked modeling (CM3, Aghajanyan et al. 2022, as the
 * LoReTTa paper uses it) and BERT's masked token prediction. */
#include <stdlib.h>
#include <string.h>

#include "loretta/objectives.h"

typedef struct span {
    int a, b; /* inclusive token indices into the sequence */
} span;

static int cmp_span(const void *x, const void *y) {
    return ((const span *)x)->a - ((const span *)y)->a;
}

/* Content tokens are a modality's own tokens: not BOS/EOS, not special, not already a
 * sentinel. A sequence holds them in runs, one per modality segment. */
static int is_content(const lt_seq *s, int i, const int8_t *is_edge) {
    return s->mod[i] >= 0 && !is_edge[i];
}

lt_status lt_obj_cm3(lt_seq *s, const lt_vocab_extra *ex, int max_spans, lt_obj_rng *r,
                     int *n_spans) {
    *n_spans = 0;
    if (max_spans < 1 || max_spans > ex->n_sentinels)
        return lt_error(LT_ERR_INVALID_ARG, "cm3: max_spans %d must be in [1, %d] (the sentinels)",
                        max_spans, ex->n_sentinels);
    /* BOS and EOS are the first and last token of each modality segment. */
    int8_t *edge = calloc((size_t)s->len + 1, 1);
    int *content = malloc(sizeof(int) * ((size_t)s->len + 1));
    if (!edge || !content) {
        free(edge);
        free(content);
        return lt_error(LT_ERR_OUT_OF_MEMORY, "cm3: %d tokens", s->len);
    }
    for (int i = 0; i < s->len; i++) {
        if (s->mod[i] < 0) continue;
        if (i == 0 || s->mod[i - 1] != s->mod[i] || s->pos[i] < s->pos[i - 1]) edge[i] = 1;
        if (i == s->len - 1 || s->mod[i + 1] != s->mod[i] || s->pos[i + 1] < s->pos[i]) edge[i] = 1;
    }
    int nc = 0;
    for (int i = 0; i < s->len; i++)
        if (is_content(s, i, edge)) content[nc++] = i;
    int k = lt_obj_rng_poisson1(r);
    if (k < 1) k = 1;
    if (k > max_spans) k = max_spans;
    span spans[64];
    int placed = 0;
    /* Each try: a first token uniform over all content tokens, an end uniform over the rest
     * of its segment; overlapping tries are redrawn (bounded, so a crowded sequence ends
     * with fewer spans rather than looping). */
    for (int attempt = 0; placed < k && nc > 0 && attempt < 64 * k; attempt++) {
        int a = content[lt_obj_rng_below(r, (uint32_t)nc)];
        int last = a;
        while (last + 1 < s->len && is_content(s, last + 1, edge) && s->mod[last + 1] == s->mod[a]) last++;
        int b = a + (int)lt_obj_rng_below(r, (uint32_t)(last - a + 1));
        int clash = 0;
        for (int j = 0; j < placed && !clash; j++) clash = !(b < spans[j].a || a > spans[j].b);
        if (clash) continue;
        spans[placed].a = a;
        spans[placed].b = b;
        placed++;
    }
    free(content);
    if (placed == 0) {
        free(edge);
        return LT_OK;
    }
    qsort(spans, (size_t)placed, sizeof(span), cmp_span);
    lt_seq out;
    lt_status st = lt_seq_init(&out, s->len + 3 * placed + 1);
    for (int i = 0, j = 0; st == LT_OK && i < s->len; i++) {
        if (j < placed && i == spans[j].a) {
            st = lt_seq_push(&out, ex->sentinel_base + j, s->pos[i], LT_SEQ_SPECIAL, 0);
            i = spans[j].b;
            j++;
            continue;
        }
        st = lt_seq_push(&out, s->tok[i], s->pos[i], s->mod[i], s->counted[i]);
    }
    for (int j = 0; st == LT_OK && j < placed; j++) {
        int first = s->pos[spans[j].a];
        st = lt_seq_push(&out, ex->sentinel_base + j, first, LT_SEQ_SPECIAL, 0);
        for (int i = spans[j].a; st == LT_OK && i <= spans[j].b; i++)
            st = lt_seq_push(&out, s->tok[i], s->pos[i], s->mod[i], s->counted[i]);
        if (st == LT_OK) st = lt_seq_push(&out, ex->end_of_span, first, LT_SEQ_SPECIAL, 1);
    }
    free(edge);
    if (st != LT_OK) {
        lt_seq_free(&out);
        return st;
    }
    lt_seq_free(s);
    *s = out;
    *n_spans = placed;
    return LT_OK;
}

lt_status lt_obj_bert(lt_seq *s, const lt_model_config *cfg, const lt_vocab_extra *ex, double p,
                      lt_obj_rng *r, int32_t *labels) {
    if (!(p > 0 && p < 1)) return lt_error(LT_ERR_INVALID_ARG, "bert: mask probability %g", p);
    int chosen = 0, first_content = -1;
    for (int i = 0; i < s->len; i++) {
        labels[i] = -1;
        int m = s->mod[i];
        if (m < 0) continue;
        const lt_modality *md = &cfg->modalities[m];
        if (s->tok[i] == md->begin || s->tok[i] == md->end) continue;
        if (first_content < 0) first_content = i;
        if (lt_obj_rng_uniform(r) >= p) continue;
        chosen++;
        labels[i] = s->tok[i];
        double u = lt_obj_rng_uniform(r);
        if (u < 0.8) s->tok[i] = ex->mask;
        else if (u < 0.9) s->tok[i] = md->tok_lo + (int32_t)lt_obj_rng_below(r, (uint32_t)(md->tok_hi - md->tok_lo));
    }
    if (chosen == 0 && first_content >= 0) { /* a row with nothing to predict is wasted */
        labels[first_content] = s->tok[first_content];
        s->tok[first_content] = ex->mask;
    }
    return LT_OK;
}
