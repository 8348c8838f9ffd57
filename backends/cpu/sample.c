/* backends/cpu/sample.c - token sampling by the rule of loretta/rng.h (f32 logits).
 *
 * Every step of the rule is reproduced in f32 in the same order as the reference
 * backend, so both draw the same token for the same (seed, sample id, step). What the
 * rule leaves open is fixed the same way in both: NaN logits rank below -inf (for the
 * argmax, top_k and the max m), and an i32 sample id enters the counter as an unsigned
 * 32-bit value.
 *
 * top_k needs the k-th largest logit; a three-way quickselect finds it in O(V) average
 * time (a sort would cost O(V log V) per row at every generation step). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_common.h"
#include "loretta/rng.h"

static inline float rank_key(float l) { return l != l ? -INFINITY : l; }

/* The k-th largest (1-based) of a[0..n), k <= n; reorders a. Three-way partition so
 * long runs of equal logits (masked vocabularies) do not degrade it. */
static float kth_largest(float *a, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n; /* the answer lies in a[lo..hi) */
    for (;;) {
        float pivot = a[lo + (hi - lo) / 2];
        /* a[lo..gt) > pivot, a[gt..i) == pivot, a[lt..hi) < pivot */
        int64_t gt = lo, i = lo, lt = hi;
        while (i < lt) {
            float x = a[i];
            if (x > pivot) {
                a[i++] = a[gt];
                a[gt++] = x;
            } else if (x < pivot) {
                a[i] = a[--lt];
                a[lt] = x;
            } else {
                i++;
            }
        }
        int64_t n_gt = gt - lo, n_eq = lt - gt;
        if (k <= n_gt) {
            hi = gt;
        } else if (k <= n_gt + n_eq) {
            return pivot;
        } else {
            k -= n_gt + n_eq;
            lo = lt;
        }
    }
}

/* Draws from x[lo..hi) at temperature > 0; w has room for hi - lo floats. */
static int32_t draw(const float *x, int32_t lo, int32_t hi, const lt_sample_params *p,
                    float u, float *w) {
    const int64_t n = hi - lo;
    const int64_t k = p->top_k > 0 && p->top_k < n ? p->top_k : n;
    /* Kept: key > thresh, plus the first n_eq_kept (lowest index) keys == thresh. */
    float thresh = -INFINITY;
    int64_t n_eq_kept = n;
    if (k < n) {
        for (int64_t i = 0; i < n; i++) w[i] = rank_key(x[lo + i]);
        thresh = kth_largest(w, n, k);
        int64_t n_gt = 0;
        for (int64_t i = 0; i < n; i++) n_gt += rank_key(x[lo + i]) > thresh;
        n_eq_kept = k - n_gt;
    }
    float m = -INFINITY;
    int64_t eq_seen = 0;
    int32_t last_kept = lo;
    for (int64_t i = 0; i < n; i++) {
        float key = rank_key(x[lo + i]);
        int kept = key > thresh || (key == thresh && eq_seen++ < n_eq_kept);
        w[i] = kept ? 1.0f : 0.0f; /* kept flag until the weights replace it */
        if (kept) {
            m = key > m ? key : m;
            last_kept = lo + (int32_t)i;
        }
    }
    /* Not-kept entries hold weight 0: adding 0.0f leaves an f32 sum unchanged, so these
     * sums equal the rule's sums over the kept tokens alone. */
    float total = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        if (w[i] != 0.0f) w[i] = expf((x[lo + i] - m) / p->temperature);
        total += w[i];
    }
    const float r = u * total;
    float acc = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        if (w[i] == 0.0f) continue; /* a zero weight never makes the running sum exceed r */
        acc += w[i];
        if (acc > r) return lo + (int32_t)i;
    }
    return last_kept;
}

static int32_t argmax(const float *x, int32_t lo, int32_t hi) {
    int32_t best = lo;
    for (int32_t i = lo + 1; i < hi; i++)
        if (rank_key(x[i]) > rank_key(x[best])) best = i;
    return best;
}

lt_status lt_cpu_sample(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *logits_t = call->src[0], *ids_t = call->src[1];
    if (logits_t->dtype != LT_F32)
        return lt_error(LT_ERR_UNSUPPORTED, "sample: backend cpu supports f32 logits only, got %s",
                        lt_dtype_name(logits_t->dtype));
    const lt_sample_params *p = &call->p.sample;
    const int64_t B = logits_t->shape[0], V = logits_t->shape[1];
    const float *logits = lt_cpu_ptr(logits_t);
    const int32_t *ids = lt_cpu_ptr(ids_t);
    int32_t *tokens = lt_cpu_ptr(call->dst[0]);
    const int greedy = p->temperature == 0.0f;
    const size_t scratch_bytes = (size_t)(p->range_hi - p->range_lo) * sizeof(float);
    int out_of_memory = 0;

#pragma omp parallel num_threads(lt_cpu_threads(dev))
    {
        float *w = greedy ? NULL : malloc(scratch_bytes);
        if (!greedy && !w) {
#pragma omp atomic write
            out_of_memory = 1;
        }
#pragma omp for schedule(static)
        for (int64_t b = 0; b < B; b++) {
            const float *x = logits + b * V;
            if (greedy) {
                tokens[b] = argmax(x, p->range_lo, p->range_hi);
            } else if (w) {
                uint64_t id = ids ? (uint64_t)(uint32_t)ids[b] : (uint64_t)b;
                float u = lt_rng_uniform(p->seed, id, p->step);
                tokens[b] = draw(x, p->range_lo, p->range_hi, p, u, w);
            }
        }
        free(w);
    }
    if (out_of_memory)
        return lt_error(LT_ERR_OUT_OF_MEMORY, "sample: %zu bytes of scratch per thread could not be allocated",
                        scratch_bytes);
    return LT_OK;
}
