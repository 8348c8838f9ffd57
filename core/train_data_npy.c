/* core/train_data_npy.c - flat token streams from .npy files, and deterministic random
 * windows over them for `loretta train`.
 *
 * The .npy header is parsed by core/npy_header.c (shared with the VQ code reader); every
 * count is checked against the file size before the data is read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/rng.h"
#include "loretta/train.h"
#include "npy_header.h"

lt_status lt_npy_load_tokens(const char *path, int32_t **tokens, int64_t *count) {
    if (!path || !tokens || !count) return lt_error(LT_ERR_INVALID_ARG, "npy: NULL argument");
    *tokens = NULL;
    *count = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return lt_error(LT_ERR_IO, "npy: cannot open %s: %s", path, strerror(errno));
    unsigned char *raw = NULL;
    lt_npy_header hd;
    lt_status s = lt_npy_read_header("npy", path, f, &hd);
    if (s != LT_OK) goto done;
    const long fsize = hd.file_size;
    const size_t esz = hd.esz;
    const int is_signed = hd.is_signed;
    int64_t n = 1; /* any rank: the tokens are read as one stream */
    for (int i = 0; i < hd.ndim; i++) {
        if (hd.dims[i] > 0 && n > INT64_MAX / hd.dims[i]) {
            s = lt_error(LT_ERR_FORMAT, "npy: %s: field shape: the element count overflows", path);
            goto done;
        }
        n *= hd.dims[i];
    }
    const size_t data_off = hd.data_off;
    if ((uint64_t)n > ((uint64_t)fsize - data_off) / esz) {
        s = lt_error(LT_ERR_FORMAT, "npy: %s: offset %zu: shape says %lld tokens of %zu bytes, the file holds %zu data bytes",
                     path, data_off, (long long)n, esz, (size_t)fsize - data_off);
        goto done;
    }
    if (n > ((int64_t)1 << 34)) {
        s = lt_error(LT_ERR_FORMAT, "npy: %s: %lld tokens is more than supported", path, (long long)n);
        goto done;
    }
    raw = malloc((size_t)n * esz + 1);
    int32_t *out = malloc((size_t)n * sizeof(int32_t) + 1);
    if (!raw || !out) {
        free(out);
        s = lt_error(LT_ERR_OUT_OF_MEMORY, "npy: %s: %lld tokens", path, (long long)n);
        goto done;
    }
    if (fread(raw, esz, (size_t)n, f) != (size_t)n) {
        free(out);
        s = lt_error(LT_ERR_IO, "npy: %s: short read", path);
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        const unsigned char *e = raw + (size_t)i * esz;
        int64_t v = 0;
        for (size_t k = 0; k < esz; k++) v |= (int64_t)e[k] << (8 * k);
        if (is_signed && esz == 4) v = (int32_t)(uint32_t)v;
        if (v < 0 || v > INT32_MAX) {
            free(out);
            s = lt_error(LT_ERR_RANGE, "npy: %s: token %lld is %lld, outside [0, 2^31)", path,
                         (long long)i, (long long)v);
            goto done;
        }
        out[i] = (int32_t)v;
    }
    *tokens = out;
    *count = n;
done:
    free(raw);
    fclose(f);
    return s;
}

lt_status lt_npy_save_i32(const char *path, const int32_t *v, int64_t count) {
    if (!path || (!v && count)) return lt_error(LT_ERR_INVALID_ARG, "npy: NULL argument");
    char dict[128];
    int dl = snprintf(dict, sizeof dict, "{'descr': '<i4', 'fortran_order': False, 'shape': (%lld,), }",
                      (long long)count);
    /* Pad so the data starts on a 64-byte boundary, header ending in '\n' (the spec). */
    size_t total = 10 + (size_t)dl + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)dl + pad + 1;
    FILE *f = fopen(path, "wb");
    if (!f) return lt_error(LT_ERR_IO, "npy: cannot create %s: %s", path, strerror(errno));
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)dl, f) == (size_t)dl;
    for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    ok = ok && fwrite(v, sizeof(int32_t), (size_t)count, f) == (size_t)count;
    ok = (fclose(f) == 0) && ok;
    return ok ? LT_OK : lt_error(LT_ERR_IO, "npy: writing %s failed", path);
}

lt_status lt_window_batch_alloc(int B, int T, lt_window_batch *w) {
    if (!w || B < 1 || T < 1) return lt_error(LT_ERR_INVALID_ARG, "window batch: bad size %d x %d", B, T);
    memset(w, 0, sizeof *w);
    const size_t n = (size_t)B * (size_t)T;
    w->B = B;
    w->T = T;
    w->tokens = malloc(n * 4);
    w->targets = malloc(n * 4);
    w->pos_ids = malloc(n * 4);
    w->modality = malloc(n * 4);
    w->weights = malloc(n * 4);
    w->lengths = malloc((size_t)B * 4);
    if (!w->tokens || !w->targets || !w->pos_ids || !w->modality || !w->weights || !w->lengths) {
        lt_window_batch_free(w);
        return lt_error(LT_ERR_OUT_OF_MEMORY, "window batch: %d x %d", B, T);
    }
    w->batch = (lt_batch){B, T, w->tokens, w->targets, w->weights, w->pos_ids, w->lengths, w->modality};
    return LT_OK;
}

void lt_window_batch_free(lt_window_batch *w) {
    if (!w) return;
    free(w->tokens);
    free(w->targets);
    free(w->pos_ids);
    free(w->modality);
    free(w->weights);
    free(w->lengths);
    memset(w, 0, sizeof *w);
}

lt_status lt_window_batch_fill(lt_window_batch *w, const lt_model_config *cfg,
                               const int32_t *stream, int64_t n, uint64_t seed, uint64_t draw) {
    if (!w || !cfg || !stream) return lt_error(LT_ERR_INVALID_ARG, "window batch: NULL argument");
    const int T = w->T;
    if (n < (int64_t)T + 1)
        return lt_error(LT_ERR_INVALID_ARG, "window batch: %lld tokens, need at least T + 1 = %d",
                        (long long)n, T + 1);
    const uint64_t starts = (uint64_t)(n - T);
    for (int b = 0; b < w->B; b++) {
        uint32_t r[4];
        lt_rng_words(seed, draw, (uint64_t)b, r);
        /* 64 random bits modulo the start count: bias below 2^-30 for any real file. */
        const int64_t s0 = (int64_t)((((uint64_t)r[1] << 32) | r[0]) % starts);
        w->lengths[b] = T;
        for (int t = 0; t < T; t++) {
            const int64_t i = (int64_t)b * T + t;
            const int32_t tok = stream[s0 + t];
            if (tok >= cfg->vocab_size)
                return lt_error(LT_ERR_RANGE, "window batch: token %d at stream offset %lld is outside the vocabulary of %d",
                                tok, (long long)(s0 + t), cfg->vocab_size);
            int mod = lt_model_config_modality_of(cfg, tok);
            if (mod < 0) mod = 0;
            const lt_modality *m = &cfg->modalities[mod];
            w->tokens[i] = tok;
            w->targets[i] = stream[s0 + t + 1];
            if (w->targets[i] >= cfg->vocab_size)
                return lt_error(LT_ERR_RANGE, "window batch: token %d at stream offset %lld is outside the vocabulary of %d",
                                w->targets[i], (long long)(s0 + t + 1), cfg->vocab_size);
            w->weights[i] = 1.0f;
            w->modality[i] = mod;
            w->pos_ids[i] = m->pos_base + (t < m->max_len ? t : m->max_len - 1);
        }
    }
    return LT_OK;
}
