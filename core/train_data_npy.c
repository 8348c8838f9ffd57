/* core/train_data_npy.c - flat token streams from .npy files, and deterministic random
 * windows over them for `loretta train`.
 *
 * The .npy header (NumPy format 1.0/2.0/3.0) is parsed by hand: magic, version, header
 * length, then a Python dict literal with 'descr', 'fortran_order' and 'shape'. Every
 * count is checked against the file size before the data is read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/rng.h"
#include "loretta/train.h"

static const char *find_key(const char *h, const char *key) {
    const char *p = strstr(h, key);
    if (!p) return NULL;
    p += strlen(key);
    while (*p == ' ' || *p == '\'' || *p == '"' || *p == ':') p++;
    return p;
}

lt_status lt_npy_load_tokens(const char *path, int32_t **tokens, int64_t *count) {
    if (!path || !tokens || !count) return lt_error(LT_ERR_INVALID_ARG, "npy: NULL argument");
    *tokens = NULL;
    *count = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return lt_error(LT_ERR_IO, "npy: cannot open %s: %s", path, strerror(errno));
    lt_status s = LT_OK;
    char *header = NULL;
    unsigned char *raw = NULL;
    unsigned char pre[12];
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return lt_error(LT_ERR_IO, "npy: %s: cannot seek", path);
    }
    long fsize = ftell(f);
    rewind(f);
    if (fsize < 10 || fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        fclose(f);
        return lt_error(LT_ERR_FORMAT, "npy: %s: offset 0: not a .npy file (magic \\x93NUMPY missing)", path);
    }
    int major = pre[6];
    size_t hlen, hoff;
    if (major == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        hoff = 10;
    } else if (major == 2 || major == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            fclose(f);
            return lt_error(LT_ERR_FORMAT, "npy: %s: truncated header", path);
        }
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        hoff = 12;
    } else {
        fclose(f);
        return lt_error(LT_ERR_FORMAT, "npy: %s: offset 6: unknown format version %d", path, major);
    }
    if (hlen > (size_t)fsize - hoff || hlen > (1u << 20)) {
        fclose(f);
        return lt_error(LT_ERR_FORMAT, "npy: %s: offset 8: header length %zu exceeds the file of %ld bytes",
                        path, hlen, fsize);
    }
    header = calloc(hlen + 1, 1);
    if (!header || fread(header, 1, hlen, f) != hlen) {
        s = header ? lt_error(LT_ERR_FORMAT, "npy: %s: truncated header", path)
                   : lt_error(LT_ERR_OUT_OF_MEMORY, "npy: header");
        goto done;
    }
    const char *d = find_key(header, "descr");
    const char *fo = find_key(header, "fortran_order");
    const char *sh = find_key(header, "shape");
    if (!d || !fo || !sh) {
        s = lt_error(LT_ERR_FORMAT, "npy: %s: header lacks descr, fortran_order or shape", path);
        goto done;
    }
    size_t esz = 0;
    int is_signed = 0;
    if (!strncmp(d, "|u1", 3) || !strncmp(d, "<u1", 3)) esz = 1;
    else if (!strncmp(d, "<u2", 3)) esz = 2;
    else if (!strncmp(d, "<i4", 3)) esz = 4, is_signed = 1;
    else if (!strncmp(d, "<i8", 3)) esz = 8, is_signed = 1;
    if (!esz) {
        int dl = 0;
        while (dl < 8 && d[dl] && d[dl] != '\'' && d[dl] != '"') dl++;
        s = lt_error(LT_ERR_DTYPE, "npy: %s: field descr: dtype '%.*s' is not a token dtype (uint8, uint16, int32, int64 little endian)",
                     path, dl, d);
        goto done;
    }
    if (strncmp(fo, "False", 5) != 0) {
        s = lt_error(LT_ERR_FORMAT, "npy: %s: field fortran_order: Fortran order is not supported", path);
        goto done;
    }
    if (*sh != '(') {
        s = lt_error(LT_ERR_FORMAT, "npy: %s: field shape: expected a tuple", path);
        goto done;
    }
    int64_t n = 1;
    for (const char *p = sh + 1; *p && *p != ')';) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        char *end;
        long long dim = strtoll(p, &end, 10);
        if (end == p || dim < 0 || (dim > 0 && n > INT64_MAX / dim)) {
            s = lt_error(LT_ERR_FORMAT, "npy: %s: field shape: bad dimension", path);
            goto done;
        }
        n *= dim;
        p = end;
    }
    const size_t data_off = hoff + hlen;
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
    free(header);
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
