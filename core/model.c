/* core/model.c - model creation, the activation layout, and the forward/backward passes
 * composed from the parts (embed -> blocks -> head, and back). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

/* Floats per layer copy of each activation, for N = max_B * max_T rows. */
static size_t act_size(const lt_model *m, lt_act_kind k, size_t N) {
    const size_t d = (size_t)m->cfg.d_model, V = (size_t)m->cfg.vocab_size;
    const size_t F = (size_t)m->cfg.mlp_ratio * d, H = (size_t)m->cfg.n_head;
    switch (k) {
    case LT_ACT_QKV: case LT_ACT_DQKV: return N * 3 * d;
    case LT_ACT_FC: case LT_ACT_FCA: case LT_ACT_DFC: return N * F;
    case LT_ACT_RSTD1: case LT_ACT_RSTD2: case LT_ACT_RSTDF: case LT_ACT_LOSSES: return N;
    case LT_ACT_LSE: return N * H;
    case LT_ACT_LOGITS: case LT_ACT_DLOGITS: return N * V;
    default: return N * d;
    }
}

static int act_copies(const lt_model *m, lt_act_kind k) {
    switch (k) {
    case LT_ACT_RESID: return m->cfg.n_layer + 1;
    case LT_ACT_XMID: case LT_ACT_H1: case LT_ACT_RSTD1: case LT_ACT_QKV: case LT_ACT_ATT:
    case LT_ACT_LSE: case LT_ACT_H2: case LT_ACT_RSTD2: case LT_ACT_FC: case LT_ACT_FCA:
        return m->cfg.n_layer;
    default: return 1;
    }
}

static lt_status alloc_acts(lt_model *m) {
    lt_model_acts *a = calloc(1, sizeof *a);
    if (!a) return lt_error(LT_ERR_OUT_OF_MEMORY, "model: activation table");
    m->acts = a;
    const size_t N = (size_t)m->max_B * (size_t)m->max_T;
    size_t total = 0;
    for (int k = 0; k < LT_ACT_COUNT; k++) {
        /* 64-float alignment keeps every view on a 256-byte boundary. */
        a->stride[k] = (act_size(m, (lt_act_kind)k, N) + 63) / 64 * 64;
        a->off[k] = total;
        total += a->stride[k] * (size_t)act_copies(m, (lt_act_kind)k);
    }
    int64_t shape[1] = {(int64_t)total};
    LT_TRY(lt_tensor_alloc(m->dev, LT_F32, 1, shape, &a->f32));
    size_t words = 0;
    for (int k = 0; k < LT_IN_COUNT; k++) {
        a->in_off[k] = words;
        size_t n = k == LT_IN_LENGTHS ? (size_t)m->max_B : N;
        words += (n + 63) / 64 * 64;
    }
    shape[0] = (int64_t)words;
    LT_TRY(lt_tensor_alloc(m->dev, LT_I32, 1, shape, &a->in));
    a->host_losses = malloc(N * sizeof(float));
    if (!a->host_losses) return lt_error(LT_ERR_OUT_OF_MEMORY, "model: host loss buffer");
    return LT_OK;
}

lt_status lt_model_create(lt_device *dev, const lt_model_config *cfg, int max_B, int max_T,
                          lt_model **out) {
    if (!dev || !cfg || !out) return lt_error(LT_ERR_INVALID_ARG, "model: NULL argument");
    *out = NULL;
    if (max_B < 1 || max_T < 1 || (int64_t)max_B * max_T > (1 << 26))
        return lt_error(LT_ERR_INVALID_ARG, "model: batch %d x %d tokens is empty or too large",
                        max_B, max_T);
    lt_model *m = calloc(1, sizeof *m);
    if (!m) return lt_error(LT_ERR_OUT_OF_MEMORY, "model: out of host memory");
    m->cfg = *cfg;
    lt_status s = lt_model_config_validate(&m->cfg);
    if (s == LT_OK) {
        m->dev = dev;
        m->max_B = max_B;
        m->max_T = max_T;
        s = lt_model_build_table(&m->cfg, &m->info, &m->n_tensors, &m->n_flat, &m->n_weights);
    }
    int64_t shape[1] = {(int64_t)m->n_flat};
    if (s == LT_OK) s = lt_tensor_alloc(dev, LT_F32, 1, shape, &m->params);
    if (s == LT_OK) s = lt_tensor_alloc(dev, LT_F32, 1, shape, &m->grads);
    if (s == LT_OK) s = lt_fill(&m->params, 0.0);
    if (s == LT_OK) s = lt_fill(&m->grads, 0.0);
    if (s == LT_OK) s = alloc_acts(m);
    if (s != LT_OK) {
        lt_model_free(m);
        return lt_error_context(s, "creating model %s: ", cfg->name);
    }
    *out = m;
    return LT_OK;
}

void lt_model_free(lt_model *m) {
    if (!m) return;
    lt_model_free_half(m);
    if (m->acts) {
        lt_tensor_free(&m->acts->f32);
        lt_tensor_free(&m->acts->in);
        free(m->acts->host_losses);
        free(m->acts);
    }
    lt_tensor_free(&m->params);
    lt_tensor_free(&m->grads);
    free(m->info);
    free(m);
}

lt_status lt_act(const lt_model *m, lt_act_kind k, int layer, int ndim, const int64_t *shape,
                 lt_tensor *out) {
    const lt_model_acts *a = m->acts;
    size_t off = a->off[k] + (size_t)layer * a->stride[k];
    return lt_tensor_view(&a->f32, off * sizeof(float), LT_F32, ndim, shape, out);
}

lt_status lt_act2(const lt_model *m, lt_act_kind k, int layer, int64_t width, lt_tensor *out) {
    int64_t shape[2] = {(int64_t)m->acts->B * m->acts->T, width};
    return lt_act(m, k, layer, width ? 2 : 1, shape, out);
}

lt_status lt_model_input(const lt_model *m, lt_input_kind k, lt_dtype dt, int64_t n,
                         lt_tensor *out) {
    int64_t shape[1] = {n};
    return lt_tensor_view(&m->acts->in, m->acts->in_off[k] * 4, dt, 1, shape, out);
}

lt_status lt_model_param(const lt_model *m, const lt_tensor *flat, int index, lt_tensor *out) {
    return lt_model_tensor(m, flat, &m->info[index], out);
}

static lt_status check_batch(const lt_model *m, const lt_batch *b) {
    if (!b || !b->tokens || !b->targets || !b->weights || !b->pos_ids)
        return lt_error(LT_ERR_INVALID_ARG, "model forward: batch or one of its arrays is NULL");
    if (b->B < 1 || b->T < 1 || b->B > m->max_B || b->T > m->max_T)
        return lt_error(LT_ERR_SHAPE, "model forward: batch %d x %d does not fit the model's %d x %d",
                        b->B, b->T, m->max_B, m->max_T);
    const int64_t P = lt_model_config_pos_rows(&m->cfg);
    for (int i = 0; i < b->B; i++) {
        int len = b->lengths ? b->lengths[i] : b->T;
        if (len < 0 || len > b->T)
            return lt_error(LT_ERR_RANGE, "model forward: lengths[%d] = %d outside [0, %d]", i, len, b->T);
        for (int t = 0; t < b->T; t++) {
            int64_t n = (int64_t)i * b->T + t;
            if (t >= len && b->weights[n] != 0.0f)
                return lt_error(LT_ERR_INVALID_ARG, "model forward: padding token (%d, %d) has loss weight %g",
                                i, t, b->weights[n]);
            if (b->pos_ids[n] < 0 || b->pos_ids[n] >= P)
                return lt_error(LT_ERR_RANGE, "model forward: pos_ids[%d, %d] = %d outside the position table [0, %lld)",
                                i, t, b->pos_ids[n], (long long)P);
            if (b->modality && (b->modality[n] < 0 || b->modality[n] >= m->cfg.n_modality))
                return lt_error(LT_ERR_RANGE, "model forward: modality[%d, %d] = %d, the config has %d",
                                i, t, b->modality[n], m->cfg.n_modality);
        }
    }
    return LT_OK;
}

static lt_status upload_batch(lt_model *m, const lt_batch *b) {
    const int64_t N = (int64_t)b->B * b->T;
    lt_tensor t;
    LT_TRY(lt_model_input(m, LT_IN_TOKENS, LT_I32, N, &t));
    LT_TRY(lt_tensor_upload(&t, b->tokens, (size_t)N * 4));
    LT_TRY(lt_model_input(m, LT_IN_TARGETS, LT_I32, N, &t));
    LT_TRY(lt_tensor_upload(&t, b->targets, (size_t)N * 4));
    LT_TRY(lt_model_input(m, LT_IN_WEIGHTS, LT_F32, N, &t));
    LT_TRY(lt_tensor_upload(&t, b->weights, (size_t)N * 4));
    LT_TRY(lt_model_input(m, LT_IN_POS, LT_I32, N, &t));
    LT_TRY(lt_tensor_upload(&t, b->pos_ids, (size_t)N * 4));
    m->acts->has_lengths = b->lengths != NULL;
    if (b->lengths) {
        LT_TRY(lt_model_input(m, LT_IN_LENGTHS, LT_I32, b->B, &t));
        LT_TRY(lt_tensor_upload(&t, b->lengths, (size_t)b->B * 4));
    }
    return LT_OK;
}

/* Per-token losses -> sums, in double and in index order (deterministic). */
static lt_status reduce_losses(lt_model *m, const lt_batch *b, lt_loss_sums *out) {
    const int64_t N = (int64_t)b->B * b->T;
    lt_tensor losses;
    LT_TRY(lt_act2(m, LT_ACT_LOSSES, 0, 0, &losses));
    LT_TRY(lt_tensor_download(m->acts->host_losses, &losses, (size_t)N * sizeof(float)));
    lt_loss_sums s;
    memset(&s, 0, sizeof s);
    for (int64_t n = 0; n < N; n++) {
        const double w = b->weights[n];
        if (w == 0.0) continue;
        const double l = m->acts->host_losses[n];
        if (!isfinite(l)) s.nonfinite = 1;
        const int mod = b->modality ? b->modality[n] : 0;
        s.weighted_sum += w * l;
        s.weight += w;
        s.mod_sum[mod] += w * l;
        s.mod_weight[mod] += w;
    }
    if (out) *out = s;
    return LT_OK;
}

lt_status lt_model_forward_mode(lt_model *m, const lt_batch *b, float grad_scale,
                                lt_loss_sums *out, lt_fwd_mode mode) {
    if (!m) return lt_error(LT_ERR_INVALID_ARG, "model forward: NULL model");
    LT_TRY(check_batch(m, b));
    m->acts->B = b->B;
    m->acts->T = b->T;
    m->acts->have_grad = 0;
    /* The backward follows the precision of the forward it differentiates. */
    m->acts->half = m->precision == LT_PRECISION_BF16 && mode != LT_FWD_FP32;
    if (m->acts->half && mode == LT_FWD_REFRESH) LT_TRY(lt_model_refresh_half(m));
    LT_TRY(upload_batch(m, b));
    LT_TRY(lt_embed_part_forward(m));
    for (int l = 0; l < m->cfg.n_layer; l++) LT_TRY(lt_block_forward(m, l));
    LT_TRY(lt_head_forward(m, grad_scale));
    m->acts->have_grad = grad_scale != 0.0f;
    return reduce_losses(m, b, out);
}

lt_status lt_model_forward(lt_model *m, const lt_batch *b, float grad_scale, lt_loss_sums *out) {
    return lt_model_forward_mode(m, b, grad_scale, out, LT_FWD_REFRESH);
}

lt_status lt_model_backward(lt_model *m) {
    if (!m) return lt_error(LT_ERR_INVALID_ARG, "model backward: NULL model");
    if (!m->acts->have_grad)
        return lt_error(LT_ERR_INVALID_ARG,
                        "model backward: the last forward kept no gradient (grad_scale 0)");
    LT_TRY(lt_head_backward(m));
    for (int l = m->cfg.n_layer - 1; l >= 0; l--) LT_TRY(lt_block_backward(m, l));
    LT_TRY(lt_embed_part_backward(m));
    m->acts->have_grad = 0;
    return LT_OK;
}

lt_status lt_model_zero_grad(lt_model *m) {
    if (!m) return lt_error(LT_ERR_INVALID_ARG, "model: NULL model");
    return lt_fill(&m->grads, 0.0);
}

lt_status lt_model_logits(const lt_model *m, lt_tensor *out) {
    if (!m || !out) return lt_error(LT_ERR_INVALID_ARG, "model logits: NULL argument");
    if (m->acts->B == 0) return lt_error(LT_ERR_INVALID_ARG, "model logits: no forward pass yet");
    return lt_act2(m, LT_ACT_LOGITS, 0, m->cfg.vocab_size, out);
}
