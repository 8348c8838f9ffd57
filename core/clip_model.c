/* core/clip_model.c - a CLIP encoder pass over the trainer's model: the ordinary forward
 * (loss weights 0, so the head's cross-entropy contributes nothing) keeps the final
 * normed hidden states HF; the pooled embedding is their mean over each row's valid
 * tokens (BOS/EOS included, as lt_model_features). The backward starts from d(pooled):
 * dHF[b, t] = dpooled[b] / len_b on valid tokens, 0 on padding, then the final RMSNorm's
 * backward into dx_L and the blocks' and embeddings' backward of core/model_*.c. */
#include <stdlib.h>
#include <string.h>

#include "loretta/pretrain.h"
#include "model_internal.h"

lt_status lt_clip_encode(lt_model *m, const lt_batch *b, float *pooled) {
    if (!m || !b || !pooled) return lt_error(LT_ERR_INVALID_ARG, "clip encode: NULL argument");
    LT_TRY(lt_model_forward(m, b, 0.0f, NULL));
    const int d = m->cfg.d_model;
    const size_t n = (size_t)b->B * b->T * d;
    float *hf = malloc(n * sizeof(float));
    if (!hf) return lt_error(LT_ERR_OUT_OF_MEMORY, "clip encode: %zu floats", n);
    lt_tensor t;
    lt_status st = lt_act2(m, LT_ACT_HF, 0, d, &t);
    if (st == LT_OK) st = lt_tensor_download(hf, &t, n * sizeof(float));
    for (int r = 0; r < b->B && st == LT_OK; r++) {
        const int len = b->lengths ? b->lengths[r] : b->T;
        for (int k = 0; k < d; k++) {
            double acc = 0;
            for (int i = 0; i < len; i++) acc += hf[((size_t)r * b->T + i) * d + k];
            pooled[(size_t)r * d + k] = len > 0 ? (float)(acc / len) : 0.0f;
        }
    }
    free(hf);
    return st; /* the backward reads the lengths back from the model's input buffer */
}

lt_status lt_clip_encode_backward(lt_model *m, const float *dpooled) {
    if (!m || !dpooled) return lt_error(LT_ERR_INVALID_ARG, "clip backward: NULL argument");
    const int B = m->acts->B, T = m->acts->T, d = m->cfg.d_model, L = m->cfg.n_layer;
    if (B == 0) return lt_error(LT_ERR_INVALID_ARG, "clip backward: no forward pass yet");
    int32_t *lens = malloc((size_t)B * sizeof(int32_t));
    float *dh = calloc((size_t)B * T * d, sizeof(float));
    lt_status st = lens && dh ? LT_OK : lt_error(LT_ERR_OUT_OF_MEMORY, "clip backward: %d x %d", B, T);
    if (st == LT_OK && m->acts->has_lengths) {
        lt_tensor lt;
        st = lt_model_input(m, LT_IN_LENGTHS, LT_I32, B, &lt);
        if (st == LT_OK) st = lt_tensor_download(lens, &lt, (size_t)B * sizeof(int32_t));
    } else if (lens) {
        for (int r = 0; r < B; r++) lens[r] = T;
    }
    for (int r = 0; r < B && st == LT_OK; r++)
        for (int i = 0; i < lens[r]; i++)
            for (int k = 0; k < d; k++)
                dh[((size_t)r * T + i) * d + k] = dpooled[(size_t)r * d + k] / (float)lens[r];
    lt_tensor tdh, x, rstd, nf, dnf, dx;
    if (st == LT_OK) st = lt_act2(m, LT_ACT_DH, 0, d, &tdh);
    if (st == LT_OK) st = lt_tensor_upload(&tdh, dh, (size_t)B * T * d * sizeof(float));
    free(lens);
    free(dh);
    if (st != LT_OK) return st;
    LT_TRY(lt_act2(m, LT_ACT_RESID, L, d, &x));
    LT_TRY(lt_act2(m, LT_ACT_RSTDF, 0, 0, &rstd));
    LT_TRY(lt_act2(m, LT_ACT_DX, 0, d, &dx));
    LT_TRY(lt_model_param(m, &m->params, lt_pidx_nf(m), &nf));
    LT_TRY(lt_model_param(m, &m->grads, lt_pidx_nf(m), &dnf));
    LT_TRY(lt_rmsnorm_backward(&dx, &dnf, &tdh, &x, &nf, &rstd, 0));
    for (int l = L - 1; l >= 0; l--) LT_TRY(lt_block_backward(m, l));
    return lt_embed_part_backward(m);
}
