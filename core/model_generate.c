/* core/model_generate.c - batched autoregressive generation with a per-layer KV cache.
 *
 * The forward mirrors core/model_block.c op for op (pre-norm block, fused qkv rows split
 * into strided [B, T, H, Dh] views, residual adds as accumulating matmuls), with two
 * changes that make it a generator:
 *  - prefill: one forward over the right-padded prompts + BOS; every layer writes its K
 *    and V rows into the cache (lt_kv_write at position 0) and attends with
 *    lt_attention_forward and per-sample lengths, exactly as training does;
 *  - decode: one forward per token over the B newest tokens only (N = B rows in every
 *    matmul); K/V go to the cache at each row's own length and lt_attention_decode
 *    reads the cache. Padding rows of the prefill land in the cache beyond a row's
 *    length, where the first decode step overwrites them and attention never looks.
 * Only the head rows of the candidates are multiplied (the target's tokens and its end
 * token, laid out as lt_gen_plan says), so the logits of a draw are [B, width].
 * The residual stream is updated in place (x += att Wo^T, x += gelu(fc) Wfc2^T): the
 * same accumulating GEMM the model runs on its copy of x, without the copy.
 * Nothing is allocated per step: every buffer is sized at creation; a step uploads one
 * block of 4 x B words and downloads the B drawn candidates. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "generate_internal.h"
#include "loretta/ops.h"

/* f32 scratch regions, each sized for max_B x max_T rows (LAST, HF, LOGITS: max_B rows). */
enum { S_X, S_H, S_RSTD, S_QKV, S_ATT, S_LSE, S_FC, S_FCA, S_LAST, S_HF, S_LOGITS, S_COUNT };
/* Small i32 slots of `slot` words each; TOK..LENS are uploaded together every step. */
enum { K_TOK, K_POS, K_KVPOS, K_LENS, K_IDS, K_SAMPLED, K_COUNT };

typedef struct layer_w {
    lt_tensor n1, qkv, proj, n2, fc, fc2;
} layer_w;

struct lt_generator {
    lt_model *m;
    int max_B, max_T;
    layer_w *w;             /* [n_layer] views into m->params */
    lt_tensor wte, wpe, nf, head;
    lt_tensor cache;        /* K and V of layer l at copies 2l and 2l + 1 */
    size_t cache_each;      /* floats of one [max_B, max_T, H, Dh] copy */
    lt_tensor f32;
    size_t off[S_COUNT];    /* floats */
    lt_tensor i32;          /* prompt tokens [N] | position rows [N] | K_COUNT slots */
    size_t pos_off, small_off, slot; /* words */
    int32_t *h_tok, *h_pos; /* [max_B * max_T] host staging of the prefill inputs */
    int32_t *h_small;       /* [K_COUNT * slot] */
    int *ctx;               /* cache entries per row */
    unsigned char *done;
    lt_gen_stats stats;
};

static size_t round64(size_t n) { return (n + 63) / 64 * 64; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static lt_status find_param(const lt_model *m, const char *name, lt_tensor *out) {
    const lt_param_info *p = lt_model_find(m, name);
    if (!p) return lt_error(LT_ERR_INVALID_ARG, "generator: the model has no tensor '%s'", name);
    return lt_model_tensor(m, &m->params, p, out);
}

static lt_status bind_params(lt_generator *g) {
    const lt_model *m = g->m;
    char name[LT_NAME_LEN + 16];
    LT_TRY(find_param(m, "wte.weight", &g->wte));
    LT_TRY(find_param(m, "wpe.weight", &g->wpe));
    LT_TRY(find_param(m, "nf.weight", &g->nf));
    LT_TRY(find_param(m, "head.weight", &g->head));
    static const char *const part[6] = {"n1", "attn.qkv", "attn.proj", "n2", "fc", "fc2"};
    for (int l = 0; l < m->cfg.n_layer; l++) {
        lt_tensor *t[6] = {&g->w[l].n1, &g->w[l].qkv, &g->w[l].proj,
                           &g->w[l].n2, &g->w[l].fc,  &g->w[l].fc2};
        for (int i = 0; i < 6; i++) {
            snprintf(name, sizeof name, "blocks.%d.%s.weight", l, part[i]);
            LT_TRY(find_param(m, name, t[i]));
        }
    }
    return LT_OK;
}

static lt_status alloc_buffers(lt_generator *g) {
    const lt_model_config *c = &g->m->cfg;
    const size_t B = (size_t)g->max_B, N = B * (size_t)g->max_T, d = (size_t)c->d_model;
    const size_t F = (size_t)c->mlp_ratio * d, V = (size_t)c->vocab_size;
    const size_t size[S_COUNT] = {N * d, N * d, N, N * 3 * d, N * d, N * (size_t)c->n_head,
                                  N * F, N * F, B * d, B * d, B * V};
    size_t total = 0;
    for (int k = 0; k < S_COUNT; k++) {
        g->off[k] = total;
        total += round64(size[k]); /* 256-byte aligned views */
    }
    int64_t shape[1] = {(int64_t)total};
    LT_TRY(lt_tensor_alloc(g->m->dev, LT_F32, 1, shape, &g->f32));
    g->cache_each = N * d;
    shape[0] = (int64_t)(g->cache_each * 2 * (size_t)c->n_layer);
    LT_TRY(lt_tensor_alloc(g->m->dev, LT_F32, 1, shape, &g->cache));
    g->slot = round64(B);
    g->pos_off = round64(N);
    g->small_off = 2 * round64(N);
    shape[0] = (int64_t)(g->small_off + K_COUNT * g->slot);
    LT_TRY(lt_tensor_alloc(g->m->dev, LT_I32, 1, shape, &g->i32));
    g->h_tok = malloc(N * sizeof(int32_t));
    g->h_pos = malloc(N * sizeof(int32_t));
    g->h_small = calloc(K_COUNT * g->slot, sizeof(int32_t));
    g->ctx = calloc(B, sizeof(int));
    g->done = calloc(B, 1);
    g->w = calloc((size_t)c->n_layer, sizeof *g->w);
    if (!g->h_tok || !g->h_pos || !g->h_small || !g->ctx || !g->done || !g->w)
        return lt_error(LT_ERR_OUT_OF_MEMORY, "generator: host staging for %zu tokens", N);
    return LT_OK;
}

lt_status lt_generator_create(lt_model *m, int max_B, int max_T, lt_generator **out) {
    if (!m || !out) return lt_error(LT_ERR_INVALID_ARG, "generator: NULL model or output");
    *out = NULL;
    if (max_B < 1 || max_T < 1 || (int64_t)max_B * max_T > (1 << 26))
        return lt_error(LT_ERR_INVALID_ARG, "generator: batch %d x %d tokens is empty or too large",
                        max_B, max_T);
    if (!m->cfg.causal)
        return lt_error(LT_ERR_UNSUPPORTED, "generator: model %s is bidirectional (causal 0)",
                        m->cfg.name);
    lt_generator *g = calloc(1, sizeof *g);
    if (!g) return lt_error(LT_ERR_OUT_OF_MEMORY, "generator: out of host memory");
    g->m = m;
    g->max_B = max_B;
    g->max_T = max_T;
    lt_status s = alloc_buffers(g);
    if (s == LT_OK) s = bind_params(g);
    if (s == LT_OK) s = lt_fill(&g->cache, 0.0); /* no stale NaN may ever meet a 0 weight */
    if (s != LT_OK) {
        lt_generator_free(g);
        return lt_error_context(s, "creating a %d x %d generator: ", max_B, max_T);
    }
    *out = g;
    return LT_OK;
}

void lt_generator_free(lt_generator *g) {
    if (!g) return;
    lt_tensor_free(&g->f32);
    lt_tensor_free(&g->cache);
    lt_tensor_free(&g->i32);
    free(g->h_tok);
    free(g->h_pos);
    free(g->h_small);
    free(g->ctx);
    free(g->done);
    free(g->w);
    free(g);
}

const lt_gen_stats *lt_generator_stats(const lt_generator *g) { return g ? &g->stats : NULL; }

/* ---- views ---- */

static lt_status f32_view(const lt_generator *g, int k, int64_t rows, int64_t cols, lt_tensor *out) {
    int64_t shape[2] = {rows, cols};
    return lt_tensor_view(&g->f32, g->off[k] * sizeof(float), LT_F32, cols ? 2 : 1, shape, out);
}

static lt_status small_view(const lt_generator *g, int k, int64_t n, lt_tensor *out) {
    int64_t shape[1] = {n};
    return lt_tensor_view(&g->i32, (g->small_off + (size_t)k * g->slot) * 4, LT_I32, 1, shape, out);
}

/* [B, Tq, H, Dh] views of the q, k, v thirds of fused [B*Tq, 3d] rows (as the model). */
static lt_status split_heads(const lt_generator *g, int B, int Tq, lt_tensor *q, lt_tensor *k,
                             lt_tensor *v) {
    const int64_t H = g->m->cfg.n_head, Dh = g->m->cfg.head_dim, d = g->m->cfg.d_model;
    const int64_t shape[4] = {B, Tq, H, Dh}, stride[4] = {Tq * 3 * d, 3 * d, Dh, 1};
    const size_t base = g->off[S_QKV] * sizeof(float);
    LT_TRY(lt_tensor_strided(&g->f32, base, 4, shape, stride, q));
    LT_TRY(lt_tensor_strided(&g->f32, base + (size_t)d * sizeof(float), 4, shape, stride, k));
    return lt_tensor_strided(&g->f32, base + (size_t)(2 * d) * sizeof(float), 4, shape, stride, v);
}

static lt_status cache_view(const lt_generator *g, int copy, int B, lt_tensor *out) {
    const int64_t shape[4] = {B, g->max_T, g->m->cfg.n_head, g->m->cfg.head_dim};
    return lt_tensor_view(&g->cache, (size_t)copy * g->cache_each * sizeof(float), LT_F32, 4,
                          shape, out);
}

/* ---- the forward ---- */

/* x_0 = wte[tokens] + wpe[pos] for N rows whose ids are in `tok` and `pos`. */
static lt_status embed(lt_generator *g, int64_t N, const lt_tensor *tok, const lt_tensor *pos) {
    lt_tensor x;
    LT_TRY(f32_view(g, S_X, N, g->m->cfg.d_model, &x));
    LT_TRY(lt_embed_forward(&x, tok, &g->wte, 0));
    return lt_pos_embed_forward(&x, pos, &g->wpe);
}

/* One block over B x Tq rows; prefill attends within the rows, decode reads the cache. */
static lt_status block(lt_generator *g, int l, int B, int Tq, int prefill) {
    const lt_model_config *c = &g->m->cfg;
    const int64_t d = c->d_model, F = (int64_t)c->mlp_ratio * d, N = (int64_t)B * Tq;
    const layer_w *w = &g->w[l];
    const float scale = 1.0f / sqrtf((float)c->head_dim);
    lt_tensor x, h, rstd, qkv, att2, att4, fc, fca, q, k, v, kc, vc, kvpos, lens;
    LT_TRY(f32_view(g, S_X, N, d, &x));
    LT_TRY(f32_view(g, S_H, N, d, &h));
    LT_TRY(f32_view(g, S_RSTD, N, 0, &rstd));
    LT_TRY(f32_view(g, S_QKV, N, 3 * d, &qkv));
    LT_TRY(f32_view(g, S_ATT, N, d, &att2));
    LT_TRY(f32_view(g, S_FC, N, F, &fc));
    LT_TRY(f32_view(g, S_FCA, N, F, &fca));
    const int64_t s4[4] = {B, Tq, c->n_head, c->head_dim};
    LT_TRY(lt_tensor_reshape(&att2, 4, s4, &att4));
    LT_TRY(split_heads(g, B, Tq, &q, &k, &v));
    LT_TRY(cache_view(g, 2 * l, B, &kc));
    LT_TRY(cache_view(g, 2 * l + 1, B, &vc));
    LT_TRY(small_view(g, K_KVPOS, B, &kvpos));
    LT_TRY(small_view(g, K_LENS, B, &lens));

    LT_TRY(lt_rmsnorm_forward(&h, &rstd, &x, &w->n1, c->norm_eps));
    LT_TRY(lt_matmul(&qkv, &h, &w->qkv, 0, 1, 1.0f, 0));
    LT_TRY(lt_kv_write(&kc, &k, &kvpos));
    LT_TRY(lt_kv_write(&vc, &v, &kvpos));
    if (prefill) {
        lt_tensor lse;
        const int64_t s3[3] = {B, c->n_head, Tq};
        LT_TRY(lt_tensor_view(&g->f32, g->off[S_LSE] * sizeof(float), LT_F32, 3, s3, &lse));
        LT_TRY(lt_attention_forward(&att4, &lse, &q, &k, &v, &lens, 1, scale));
    } else {
        LT_TRY(lt_attention_decode(&att4, &q, &kc, &vc, &lens, scale));
    }
    LT_TRY(lt_matmul(&x, &att2, &w->proj, 0, 1, 1.0f, 1));
    LT_TRY(lt_rmsnorm_forward(&h, &rstd, &x, &w->n2, c->norm_eps));
    LT_TRY(lt_matmul(&fc, &h, &w->fc, 0, 1, 1.0f, 0));
    LT_TRY(lt_gelu_forward(&fca, &fc));
    return lt_matmul(&x, &fca, &w->fc2, 0, 1, 1.0f, 1);
}

/* Final norm of B rows `src`, the candidate logits and one draw per row; the drawn
 * candidate indices land in h_small[K_SAMPLED]. */
static lt_status head_and_draw(lt_generator *g, const lt_tensor *src, int B,
                               const lt_gen_plan *pl, const lt_gen_opts *o, int step) {
    const lt_model_config *c = &g->m->cfg;
    const int64_t d = c->d_model, W = pl->width;
    lt_tensor hf, rstd, logits, cols, col_end, rows, row_end, ids, drawn;
    LT_TRY(f32_view(g, S_HF, B, d, &hf));
    LT_TRY(f32_view(g, S_RSTD, B, 0, &rstd));
    LT_TRY(f32_view(g, S_LOGITS, B, W, &logits));
    LT_TRY(lt_rmsnorm_forward(&hf, &rstd, src, &g->nf, c->norm_eps));
    const size_t base = g->off[S_LOGITS] * sizeof(float);
    const int64_t cs[2] = {B, pl->ntok}, cst[2] = {W, 1};
    LT_TRY(lt_tensor_strided(&g->f32, base, 2, cs, cst, &cols));
    const int64_t rs[2] = {pl->ntok, d};
    LT_TRY(lt_tensor_view(&g->head, (size_t)pl->tok_lo * d * sizeof(float), LT_F32, 2, rs, &rows));
    LT_TRY(lt_matmul(&cols, &hf, &rows, 0, 1, 1.0f, 0));
    if (!pl->fixed) {
        const int64_t es[2] = {B, 1}, rs1[2] = {1, d};
        LT_TRY(lt_tensor_strided(&g->f32, base + (size_t)pl->ntok * sizeof(float), 2, es, cst,
                                 &col_end));
        LT_TRY(lt_tensor_view(&g->head, (size_t)pl->end * d * sizeof(float), LT_F32, 2, rs1,
                              &row_end));
        LT_TRY(lt_matmul(&col_end, &hf, &row_end, 0, 1, 1.0f, 0));
    }
    LT_TRY(small_view(g, K_IDS, B, &ids));
    LT_TRY(small_view(g, K_SAMPLED, B, &drawn));
    lt_sample_params sp;
    memset(&sp, 0, sizeof sp);
    sp.seed = o->seed;
    sp.step = (uint64_t)step;
    sp.temperature = o->temperature;
    sp.top_k = o->top_k;
    sp.range_lo = 0;
    sp.range_hi = lt_gen_range_hi(pl, step);
    LT_TRY(lt_sample(&drawn, &logits, &ids, &sp));
    return lt_tensor_download(g->h_small + K_SAMPLED * g->slot, &drawn, (size_t)B * 4);
}

/* Prompts + BOS, right-padded to Tp; fills the caches and draws token 0. */
static lt_status prefill(lt_generator *g, const lt_seq *prompts, int B, const lt_gen_plan *pl,
                         const lt_gen_opts *o) {
    const int Tp = pl->longest + 1;
    const int64_t N = (int64_t)B * Tp, d = g->m->cfg.d_model;
    int32_t *lens = g->h_small + K_LENS * g->slot, *kvpos = g->h_small + K_KVPOS * g->slot;
    int32_t *ids = g->h_small + K_IDS * g->slot;
    for (int b = 0; b < B; b++) {
        const lt_seq *s = &prompts[b];
        for (int t = 0; t < Tp; t++) {
            int64_t n = (int64_t)b * Tp + t;
            g->h_tok[n] = t < s->len ? s->tok[t] : t == s->len ? pl->begin : 0;
            g->h_pos[n] = t < s->len ? s->pos[t] : t == s->len ? pl->pos_base : 0;
        }
        lens[b] = s->len + 1;
        kvpos[b] = 0;
        ids[b] = lt_gen_sample_id(o, b);
        g->ctx[b] = s->len + 1;
    }
    lt_tensor tok, pos, small;
    int64_t shape[1] = {N};
    LT_TRY(lt_tensor_view(&g->i32, 0, LT_I32, 1, shape, &tok));
    LT_TRY(lt_tensor_view(&g->i32, g->pos_off * 4, LT_I32, 1, shape, &pos));
    shape[0] = (int64_t)(K_SAMPLED * g->slot);
    LT_TRY(lt_tensor_view(&g->i32, g->small_off * 4, LT_I32, 1, shape, &small));
    LT_TRY(lt_tensor_upload(&tok, g->h_tok, (size_t)N * 4));
    LT_TRY(lt_tensor_upload(&pos, g->h_pos, (size_t)N * 4));
    LT_TRY(lt_tensor_upload(&small, g->h_small, (size_t)shape[0] * 4));
    LT_TRY(embed(g, N, &tok, &pos));
    for (int l = 0; l < g->m->cfg.n_layer; l++) LT_TRY(block(g, l, B, Tp, 1));
    /* The BOS row of each sample predicts token 0. */
    lt_tensor last, x;
    for (int b = 0; b < B; b++) {
        const int64_t one[2] = {1, d};
        const size_t row = (size_t)b * Tp + (size_t)prompts[b].len;
        LT_TRY(lt_tensor_view(&g->f32, (g->off[S_X] + row * d) * sizeof(float), LT_F32, 2, one, &x));
        LT_TRY(lt_tensor_view(&g->f32, (g->off[S_LAST] + (size_t)b * d) * sizeof(float), LT_F32, 2,
                              one, &last));
        LT_TRY(lt_copy(&last, &x));
    }
    LT_TRY(f32_view(g, S_LAST, B, d, &last));
    return head_and_draw(g, &last, B, pl, o, 0);
}

/* Feeds each row's newest token (h_small TOK/POS/KVPOS/LENS already set) and draws. */
static lt_status decode_step(lt_generator *g, int B, const lt_gen_plan *pl, const lt_gen_opts *o,
                             int step) {
    lt_tensor head4, tok, pos, x;
    int64_t shape[1] = {(int64_t)(4 * g->slot)};
    LT_TRY(lt_tensor_view(&g->i32, g->small_off * 4, LT_I32, 1, shape, &head4));
    LT_TRY(lt_tensor_upload(&head4, g->h_small, (size_t)shape[0] * 4));
    LT_TRY(small_view(g, K_TOK, B, &tok));
    LT_TRY(small_view(g, K_POS, B, &pos));
    LT_TRY(embed(g, B, &tok, &pos));
    for (int l = 0; l < g->m->cfg.n_layer; l++) LT_TRY(block(g, l, B, 1, 0));
    LT_TRY(f32_view(g, S_X, B, g->m->cfg.d_model, &x));
    return head_and_draw(g, &x, B, pl, o, step);
}

lt_status lt_generate(lt_generator *g, const lt_seq *prompts, int n, int target,
                      const lt_gen_opts *o, int32_t *out, int out_stride, int *out_len) {
    if (!g || (n > 0 && (!out || !out_len)))
        return lt_error(LT_ERR_INVALID_ARG, "generate: NULL generator or output");
    lt_gen_opts def = lt_gen_opts_default();
    if (!o) o = &def;
    lt_gen_plan pl;
    LT_TRY(lt_gen_plan_make(&g->m->cfg, prompts, n, target, o, out_stride, g->max_T, "generate",
                            &pl));
    if (n > g->max_B)
        return lt_error(LT_ERR_SHAPE, "generate: %d prompts, the generator batches up to %d", n,
                        g->max_B);
    memset(&g->stats, 0, sizeof g->stats);
    for (int b = 0; b < n; b++) out_len[b] = 0;
    if (n == 0 || pl.max_new == 0) return LT_OK;

    double t0 = now_s();
    LT_TRY(prefill(g, prompts, n, &pl, o));
    double t1 = now_s();
    const int32_t *drawn = g->h_small + K_SAMPLED * g->slot;
    int live = 0;
    for (int b = 0; b < n; b++) {
        g->done[b] = (unsigned char)lt_gen_take(&pl, drawn[b], out + (size_t)b * out_stride, &out_len[b]);
        live += !g->done[b];
        g->stats.prompt_tokens += prompts[b].len + 1;
    }
    int32_t *tok = g->h_small + K_TOK * g->slot, *pos = g->h_small + K_POS * g->slot;
    int32_t *kvpos = g->h_small + K_KVPOS * g->slot, *lens = g->h_small + K_LENS * g->slot;
    for (int step = 1; step < pl.max_new && live > 0; step++) {
        for (int b = 0; b < n; b++) {
            /* Finished rows keep feeding a valid token; their draws are ignored. */
            tok[b] = g->done[b] ? pl.end : out[(size_t)b * out_stride + out_len[b] - 1];
            pos[b] = pl.pos_base + step; /* token step-1 sits at pos_base + 1 + (step-1) */
            kvpos[b] = g->ctx[b];
            lens[b] = ++g->ctx[b];
        }
        LT_TRY(decode_step(g, n, &pl, o, step));
        g->stats.decode_steps++;
        for (int b = 0; b < n; b++) {
            if (g->done[b]) continue;
            g->done[b] = (unsigned char)lt_gen_take(&pl, drawn[b], out + (size_t)b * out_stride,
                                                    &out_len[b]);
            live -= g->done[b];
        }
    }
    double t2 = now_s();
    g->stats.prefill_s = t1 - t0;
    g->stats.decode_s = t2 - t1;
    for (int b = 0; b < n; b++) g->stats.generated += out_len[b];
    return LT_OK;
}

lt_status lt_generate_many(lt_generator *g, const lt_seq *prompts, const int *targets, int n,
                           const lt_gen_opts *o, int32_t *out, int out_stride, int *out_len) {
    if (!g || (n > 0 && (!prompts || !targets || !out || !out_len)))
        return lt_error(LT_ERR_INVALID_ARG, "generate_many: NULL argument");
    const lt_model_config *c = &g->m->cfg;
    for (int p = 0; p < n; p++)
        if (targets[p] < 0 || targets[p] >= c->n_modality)
            return lt_error(LT_ERR_INVALID_ARG, "generate_many: prompt %d has target modality %d, the model has %d",
                            p, targets[p], c->n_modality);
    lt_gen_opts def = lt_gen_opts_default();
    if (!o) o = &def;
    const int B = g->max_B;
    lt_seq *chunk = malloc((size_t)B * sizeof *chunk);
    int32_t *ids = malloc((size_t)B * sizeof *ids), *tmp = malloc((size_t)B * out_stride * sizeof *tmp + 4);
    int *idx = malloc((size_t)B * sizeof *idx), *lens = malloc((size_t)B * sizeof *lens);
    lt_status s = chunk && ids && tmp && idx && lens
                      ? LT_OK
                      : lt_error(LT_ERR_OUT_OF_MEMORY, "generate_many: chunk of %d prompts", B);
    for (int t = 0; t < c->n_modality && s == LT_OK; t++) {
        int p = 0;
        for (;;) {
            int k = 0;
            for (; p < n && k < B; p++)
                if (targets[p] == t) {
                    chunk[k] = prompts[p];
                    ids[k] = lt_gen_sample_id(o, p);
                    idx[k++] = p;
                }
            if (k == 0) break;
            lt_gen_opts oc = *o;
            oc.sample_ids = ids;
            s = lt_generate(g, chunk, k, t, &oc, tmp, out_stride, lens);
            if (s != LT_OK) {
                s = lt_error_context(s, "generate_many: prompts %d..%d: ", idx[0], idx[k - 1]);
                break;
            }
            for (int j = 0; j < k; j++) {
                memcpy(out + (size_t)idx[j] * out_stride, tmp + (size_t)j * out_stride,
                       (size_t)lens[j] * sizeof *tmp);
                out_len[idx[j]] = lens[j];
            }
        }
    }
    free(chunk);
    free(ids);
    free(tmp);
    free(idx);
    free(lens);
    return s;
}

lt_status lt_generate_adapter(void *ctx, const lt_seq *prompt, int target, int32_t *out,
                              int max_out, int *n_out) {
    lt_gen_adapter *a = ctx;
    if (!a || !a->gen || !prompt || !out || !n_out || max_out < 1)
        return lt_error(LT_ERR_INVALID_ARG, "generate adapter: NULL argument or no room (%d)", max_out);
    lt_gen_opts o = a->opts;
    int32_t id = (int32_t)(uint32_t)a->calls++;
    o.sample_ids = &id;
    if (max_out < lt_gen_max_new(&a->gen->m->cfg, target, &o)) o.max_new = max_out;
    return lt_generate(a->gen, prompt, 1, target, &o, out, max_out, n_out);
}
