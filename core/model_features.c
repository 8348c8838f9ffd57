/* core/model_features.c - frozen-model features for linear probing and survival models.
 *
 * A sequence's feature is the mean of its final hidden states, taken after the final
 * RMSNorm (what the head sees), over every token of the sequence: BOS and EOS included,
 * padding excluded. The normalised states put every token on the same scale, so no
 * single large-norm position dominates the mean (the paper only says "mean of the final
 * hidden states"; docs/generation.md states this choice). The forward is the training
 * forward with zero loss weights, so features match what the model computes in training. */
#include <stdlib.h>
#include <string.h>

#include "loretta/generate.h"
#include "model_internal.h"

lt_status lt_model_features(lt_model *m, const lt_seq *seqs, int n, float *out) {
    if (!m || (n > 0 && (!seqs || !out)))
        return lt_error(LT_ERR_INVALID_ARG, "features: NULL argument");
    for (int i = 0; i < n; i++)
        if (seqs[i].len < 1 || seqs[i].len > m->max_T || !seqs[i].tok || !seqs[i].pos)
            return lt_error(LT_ERR_SHAPE, "features: sequence %d has %d tokens, the model holds 1..%d",
                            i, seqs[i].len, m->max_T);
    const int d = m->cfg.d_model, Bmax = m->max_B;
    const size_t cap = (size_t)Bmax * m->max_T;
    int32_t *tok = malloc(cap * 4), *pos = malloc(cap * 4), *zi = calloc(cap, 4);
    int32_t *lens = malloc((size_t)Bmax * 4);
    float *zw = calloc(cap, 4), *hf = malloc(cap * (size_t)d * 4);
    double *acc = malloc((size_t)d * sizeof *acc);
    lt_status s = tok && pos && zi && lens && zw && hf && acc
                      ? LT_OK
                      : lt_error(LT_ERR_OUT_OF_MEMORY, "features: host buffers for %zu tokens", cap);
    for (int i0 = 0; i0 < n && s == LT_OK; i0 += Bmax) {
        const int B = n - i0 < Bmax ? n - i0 : Bmax;
        int T = 1;
        for (int b = 0; b < B; b++) T = seqs[i0 + b].len > T ? seqs[i0 + b].len : T;
        for (int b = 0; b < B; b++) {
            const lt_seq *q = &seqs[i0 + b];
            lens[b] = q->len;
            for (int t = 0; t < T; t++) {
                tok[(size_t)b * T + t] = t < q->len ? q->tok[t] : 0;
                pos[(size_t)b * T + t] = t < q->len ? q->pos[t] : 0;
            }
        }
        lt_batch batch = {B, T, tok, zi, zw, pos, lens, NULL};
        s = lt_model_forward_mode(m, &batch, 0.0f, NULL, LT_FWD_FP32);
        lt_tensor hft;
        if (s == LT_OK) s = lt_act2(m, LT_ACT_HF, 0, d, &hft);
        if (s == LT_OK) s = lt_tensor_download(hf, &hft, (size_t)B * T * d * 4);
        for (int b = 0; b < B && s == LT_OK; b++) {
            memset(acc, 0, (size_t)d * sizeof *acc);
            for (int t = 0; t < lens[b]; t++) {
                const float *h = hf + ((size_t)b * T + t) * d;
                for (int j = 0; j < d; j++) acc[j] += h[j];
            }
            for (int j = 0; j < d; j++) out[(size_t)(i0 + b) * d + j] = (float)(acc[j] / lens[b]);
        }
        if (s != LT_OK) s = lt_error_context(s, "features: sequences %d..%d: ", i0, i0 + B - 1);
    }
    free(tok);
    free(pos);
    free(zi);
    free(lens);
    free(zw);
    free(hf);
    free(acc);
    return s;
}
