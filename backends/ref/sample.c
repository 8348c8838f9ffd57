/* backends/ref/sample.c - token sampling, the rule of loretta/rng.h followed literally.
 *
 * Unlike the other reference ops this one works in f32, not double: the rule defines
 * the weights and their running sums in f32, and every backend must draw the token the
 * rule draws. Logits of any dtype are rounded to f32 first. NaN logits rank below -inf
 * (argmax, top_k, the max m); an i32 sample id enters the counter as an unsigned
 * 32-bit value. The top_k set comes from a full sort, the plainest correct way. */
#include <math.h>
#include <stdlib.h>

#include "ref_common.h"
#include "loretta/rng.h"

typedef struct ranked { float key; int32_t index; } ranked;

static float rank_key(float l) { return isnan(l) ? -INFINITY : l; }

/* Larger logit first; on equal logits the lower index first. */
static int by_rank(const void *pa, const void *pb) {
    const ranked *a = pa, *b = pb;
    if (a->key != b->key) return a->key > b->key ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

static float logit(const lt_tensor *t, int64_t b, int32_t i) {
    return (float)lt_ref_ld(t, lt_ref_at(t, b, i, 0, 0));
}

lt_status lt_ref_sample(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    const lt_tensor *logits = call->src[0], *ids = call->src[1];
    lt_tensor *tokens = call->dst[0];
    const lt_sample_params *p = &call->p.sample;
    const int64_t B = logits->shape[0];
    const int32_t lo = p->range_lo, hi = p->range_hi, n = hi - lo;
    ranked *order = malloc((size_t)n * sizeof *order);
    unsigned char *kept = malloc((size_t)n);
    if (!order || !kept) {
        free(order);
        free(kept);
        return lt_error(LT_ERR_OUT_OF_MEMORY, "sample: no memory for %d candidates", n);
    }
    for (int64_t b = 0; b < B; b++) {
        int32_t token = lo;
        if (p->temperature == 0.0f) { /* rule 2 */
            for (int32_t i = lo + 1; i < hi; i++)
                if (rank_key(logit(logits, b, i)) > rank_key(logit(logits, b, token))) token = i;
            lt_ref_st(tokens, lt_ref_lin(tokens, b), token);
            continue;
        }
        /* rule 3 */
        int32_t k = p->top_k > 0 && p->top_k < n ? p->top_k : n;
        for (int32_t i = 0; i < n; i++) {
            order[i].key = rank_key(logit(logits, b, lo + i));
            order[i].index = i;
            kept[i] = 0;
        }
        qsort(order, (size_t)n, sizeof *order, by_rank);
        for (int32_t j = 0; j < k; j++) kept[order[j].index] = 1;
        /* rule 4 */
        float m = -INFINITY;
        for (int32_t i = 0; i < n; i++)
            if (kept[i] && rank_key(logit(logits, b, lo + i)) > m) m = rank_key(logit(logits, b, lo + i));
        float total = 0.0f;
        for (int32_t i = 0; i < n; i++)
            if (kept[i]) total += expf((logit(logits, b, lo + i) - m) / p->temperature);
        uint64_t id = ids ? (uint64_t)(uint32_t)lt_ref_i32(ids, lt_ref_lin(ids, b)) : (uint64_t)b;
        float u = lt_rng_uniform(p->seed, id, p->step);
        float r = u * total;
        /* rule 5 */
        float acc = 0.0f;
        int drawn = 0;
        for (int32_t i = 0; i < n && !drawn; i++) {
            if (!kept[i]) continue;
            token = lo + i;
            acc += expf((logit(logits, b, lo + i) - m) / p->temperature);
            drawn = acc > r;
        }
        lt_ref_st(tokens, lt_ref_lin(tokens, b), token);
    }
    free(order);
    free(kept);
    return LT_OK;
}
