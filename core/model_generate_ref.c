/* core/model_generate_ref.c - generation without a cache, the reference for the cached
 * generator: every token re-runs lt_model_forward (the training forward) over the whole
 * sequence so far and draws from lt_model_logits, through the same candidate layout and
 * the same lt_sample call as core/model_generate.c. It shares no forward code with the
 * cached path, which is what makes the comparison of the two a test. */
#include <stdlib.h>
#include <string.h>

#include "generate_internal.h"
#include "loretta/ops.h"
#include "model_internal.h"

typedef struct ref_state {
    int n, cap_T;
    int32_t *tok, *pos, *zero_i; /* [n * cap_T] */
    float *zero_w;               /* [n * cap_T] */
    int32_t *lens, *ids, *drawn; /* [n] */
    float *logits, *cand;        /* [n * cap_T * V], [n * width] */
    unsigned char *done;
    lt_tensor d_cand, d_ints;    /* device: candidates [n, width]; ids [n] | drawn [n] */
} ref_state;

static void ref_free(ref_state *r) {
    free(r->tok);
    free(r->pos);
    free(r->zero_i);
    free(r->zero_w);
    free(r->lens);
    free(r->ids);
    free(r->drawn);
    free(r->logits);
    free(r->cand);
    free(r->done);
    lt_tensor_free(&r->d_cand);
    lt_tensor_free(&r->d_ints);
}

static lt_status ref_alloc(ref_state *r, lt_model *m, int n, int cap_T, int width) {
    memset(r, 0, sizeof *r);
    r->n = n;
    r->cap_T = cap_T;
    const size_t N = (size_t)n * cap_T, V = (size_t)m->cfg.vocab_size;
    r->tok = malloc(N * 4);
    r->pos = malloc(N * 4);
    r->zero_i = calloc(N, 4);
    r->zero_w = calloc(N, 4);
    r->lens = malloc((size_t)n * 4);
    r->ids = malloc((size_t)n * 4);
    r->drawn = malloc((size_t)n * 4);
    r->logits = malloc(N * V * 4);
    r->cand = malloc((size_t)n * width * 4);
    r->done = calloc((size_t)n, 1);
    if (!r->tok || !r->pos || !r->zero_i || !r->zero_w || !r->lens || !r->ids || !r->drawn ||
        !r->logits || !r->cand || !r->done)
        return lt_error(LT_ERR_OUT_OF_MEMORY, "generate_nocache: host buffers for %zu tokens", N);
    int64_t shape[2] = {n, width};
    LT_TRY(lt_tensor_alloc(m->dev, LT_F32, 2, shape, &r->d_cand));
    shape[0] = 2 * (int64_t)n;
    return lt_tensor_alloc(m->dev, LT_I32, 1, shape, &r->d_ints);
}

/* One forward over the rows so far (row b holds lens[b] tokens) and one draw per row. */
static lt_status ref_step(ref_state *r, lt_model *m, const lt_gen_plan *pl, const lt_gen_opts *o,
                          int step) {
    int T = 1;
    for (int b = 0; b < r->n; b++) T = r->lens[b] > T ? r->lens[b] : T;
    /* Repack the rows at stride T (the batch is [n, T] row-major). */
    int32_t *tok = malloc((size_t)r->n * T * 4), *pos = malloc((size_t)r->n * T * 4);
    if (!tok || !pos) {
        free(tok);
        free(pos);
        return lt_error(LT_ERR_OUT_OF_MEMORY, "generate_nocache: batch of %d x %d", r->n, T);
    }
    for (int b = 0; b < r->n; b++)
        for (int t = 0; t < T; t++) {
            int keep = t < r->lens[b];
            tok[(size_t)b * T + t] = keep ? r->tok[(size_t)b * r->cap_T + t] : 0;
            pos[(size_t)b * T + t] = keep ? r->pos[(size_t)b * r->cap_T + t] : 0;
        }
    lt_batch batch = {r->n, T, tok, r->zero_i, r->zero_w, pos, r->lens, NULL};
    /* f32 whatever the training precision: the cached generator it checks is f32. */
    lt_status s = lt_model_forward_mode(m, &batch, 0.0f, NULL, LT_FWD_FP32);
    free(tok);
    free(pos);
    LT_TRY(s);
    const size_t V = (size_t)m->cfg.vocab_size;
    lt_tensor logits;
    LT_TRY(lt_model_logits(m, &logits));
    LT_TRY(lt_tensor_download(r->logits, &logits, (size_t)r->n * T * V * 4));
    for (int b = 0; b < r->n; b++) {
        const float *row = r->logits + ((size_t)b * T + (size_t)r->lens[b] - 1) * V;
        float *c = r->cand + (size_t)b * pl->width;
        memcpy(c, row + pl->tok_lo, (size_t)pl->ntok * 4);
        if (!pl->fixed) c[pl->ntok] = row[pl->end];
    }
    LT_TRY(lt_tensor_upload(&r->d_cand, r->cand, (size_t)r->n * pl->width * 4));
    lt_tensor ids, drawn;
    int64_t shape[1] = {r->n};
    LT_TRY(lt_tensor_view(&r->d_ints, 0, LT_I32, 1, shape, &ids));
    LT_TRY(lt_tensor_view(&r->d_ints, (size_t)r->n * 4, LT_I32, 1, shape, &drawn));
    LT_TRY(lt_tensor_upload(&ids, r->ids, (size_t)r->n * 4));
    lt_sample_params sp;
    memset(&sp, 0, sizeof sp);
    sp.seed = o->seed;
    sp.step = (uint64_t)step;
    sp.temperature = o->temperature;
    sp.top_k = o->top_k;
    sp.range_hi = lt_gen_range_hi(pl, step);
    LT_TRY(lt_sample(&drawn, &r->d_cand, &ids, &sp));
    return lt_tensor_download(r->drawn, &drawn, (size_t)r->n * 4);
}

lt_status lt_generate_nocache(lt_model *m, const lt_seq *prompts, int n, int target,
                              const lt_gen_opts *o, int32_t *out, int out_stride, int *out_len) {
    if (!m || (n > 0 && (!out || !out_len)))
        return lt_error(LT_ERR_INVALID_ARG, "generate_nocache: NULL model or output");
    lt_gen_opts def = lt_gen_opts_default();
    if (!o) o = &def;
    lt_gen_plan pl;
    LT_TRY(lt_gen_plan_make(&m->cfg, prompts, n, target, o, out_stride, m->max_T,
                            "generate_nocache", &pl));
    if (n > m->max_B)
        return lt_error(LT_ERR_SHAPE, "generate_nocache: %d prompts, the model batches up to %d", n,
                        m->max_B);
    for (int b = 0; b < n; b++) out_len[b] = 0;
    if (n == 0 || pl.max_new == 0) return LT_OK;
    ref_state r;
    const int cap_T = pl.longest + pl.max_new;
    lt_status s = ref_alloc(&r, m, n, cap_T, pl.width);
    for (int b = 0; b < n && s == LT_OK; b++) {
        const lt_seq *p = &prompts[b];
        int32_t *tok = r.tok + (size_t)b * cap_T, *pos = r.pos + (size_t)b * cap_T;
        if (p->len > 0) {
            memcpy(tok, p->tok, (size_t)p->len * 4);
            memcpy(pos, p->pos, (size_t)p->len * 4);
        }
        tok[p->len] = pl.begin;
        pos[p->len] = pl.pos_base;
        r.lens[b] = p->len + 1;
        r.ids[b] = lt_gen_sample_id(o, b);
    }
    int live = n;
    for (int step = 0; step < pl.max_new && live > 0 && s == LT_OK; step++) {
        s = ref_step(&r, m, &pl, o, step);
        for (int b = 0; b < n && s == LT_OK; b++) {
            if (r.done[b]) continue;
            int32_t *row = out + (size_t)b * out_stride;
            r.done[b] = (unsigned char)lt_gen_take(&pl, r.drawn[b], row, &out_len[b]);
            live -= r.done[b];
            if (!r.done[b]) { /* feed the token back: it sits at pos_base + 1 + step */
                r.tok[(size_t)b * cap_T + r.lens[b]] = row[out_len[b] - 1];
                r.pos[(size_t)b * cap_T + r.lens[b]] = pl.pos_base + 1 + step;
                r.lens[b]++;
            }
        }
    }
    ref_free(&r);
    return s;
}
