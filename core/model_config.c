/* core/model_config.c - model presets, validation and the modality table.
 *
 * Presets live in C so a bare machine (no cJSON, no configs/ directory) can still train;
 * configs/{tiny,laptop,paper}.json hold the same values. */
#include <stdio.h>
#include <string.h>

#include "loretta/model.h"

static void set_modality(lt_modality *m, const char *name, int lo, int hi, int begin, int end,
                         int max_len) {
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    m->tok_lo = lo;
    m->tok_hi = hi;
    m->begin = begin;
    m->end = end;
    m->max_len = max_len;
}

static void base_config(lt_model_config *c, const char *name, int L, int H, int d) {
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->n_layer = L;
    c->n_head = H;
    c->d_model = d;
    c->head_dim = d / H;
    c->mlp_ratio = 4;
    c->causal = 1;
    c->norm_eps = 1e-5f;
    c->init_std = 0.02f;
}

lt_status lt_model_config_preset(const char *name, lt_model_config *out) {
    if (!name || !out) return lt_error(LT_ERR_INVALID_ARG, "config: NULL preset name or output");
    if (!strcmp(name, "tiny")) {
        /* Two small modalities so the per-modality position table is exercised. */
        base_config(out, "tiny", 2, 2, 64);
        out->vocab_size = 300;
        out->n_modality = 2;
        set_modality(&out->modalities[0], "a", 0, 256, 256, 257, 48);
        set_modality(&out->modalities[1], "b", 258, 290, 290, 291, 32);
    } else if (!strcmp(name, "laptop") || !strcmp(name, "paper")) {
        /* The byte-level table of bench/torch_gpt_baseline.py: vocab 300, 2048 positions,
         * so parameter counts and FLOPs match the PyTorch baseline exactly. */
        int big = !strcmp(name, "paper");
        base_config(out, name, big ? 8 : 4, big ? 8 : 4, big ? 512 : 256);
        out->vocab_size = 300;
        out->n_modality = 1;
        set_modality(&out->modalities[0], "bytes", 0, 256, 256, 257, 2048);
    } else {
        return lt_error(LT_ERR_INVALID_ARG, "config: unknown preset '%s' (tiny, laptop, paper)",
                        name);
    }
    return lt_model_config_validate(out);
}

static int in_range(int32_t t, const lt_modality *m) { return t >= m->tok_lo && t < m->tok_hi; }

lt_status lt_model_config_validate(lt_model_config *c) {
    if (!c) return lt_error(LT_ERR_INVALID_ARG, "config: NULL");
    const char *n = c->name[0] ? c->name : "(unnamed)";
    if (c->n_layer < 1 || c->n_layer > LT_MAX_LAYERS)
        return lt_error(LT_ERR_INVALID_ARG, "config %s: n_layer %d must be in [1, %d]", n,
                        c->n_layer, LT_MAX_LAYERS);
    if (c->n_head < 1) return lt_error(LT_ERR_INVALID_ARG, "config %s: n_head %d must be >= 1", n, c->n_head);
    if (c->d_model < 1 || c->d_model > (1 << 16))
        return lt_error(LT_ERR_INVALID_ARG, "config %s: d_model %d must be in [1, 65536]", n, c->d_model);
    if (c->d_model % c->n_head)
        return lt_error(LT_ERR_INVALID_ARG, "config %s: n_head %d does not divide d_model %d", n,
                        c->n_head, c->d_model);
    if (c->head_dim == 0) c->head_dim = c->d_model / c->n_head;
    if (c->head_dim != c->d_model / c->n_head)
        return lt_error(LT_ERR_INVALID_ARG,
                        "config %s: head_dim %d must equal d_model / n_head = %d", n, c->head_dim,
                        c->d_model / c->n_head);
    if (c->mlp_ratio < 1 || c->mlp_ratio > 64)
        return lt_error(LT_ERR_INVALID_ARG, "config %s: mlp_ratio %d must be in [1, 64]", n, c->mlp_ratio);
    if (c->vocab_size < 2 || c->vocab_size > (1 << 24))
        return lt_error(LT_ERR_INVALID_ARG, "config %s: vocab_size %d must be in [2, 16777216]", n,
                        c->vocab_size);
    if (c->causal != 0 && c->causal != 1)
        return lt_error(LT_ERR_INVALID_ARG, "config %s: causal must be 0 or 1", n);
    if (!(c->norm_eps > 0.0f && c->norm_eps < 1.0f))
        return lt_error(LT_ERR_INVALID_ARG, "config %s: norm_eps %g must be in (0, 1)", n, c->norm_eps);
    if (!(c->init_std > 0.0f && c->init_std < 10.0f))
        return lt_error(LT_ERR_INVALID_ARG, "config %s: init_std %g must be in (0, 10)", n, c->init_std);
    if (c->n_modality < 1 || c->n_modality > LT_MAX_MODALITIES)
        return lt_error(LT_ERR_INVALID_ARG, "config %s: %d modalities, expected 1 to %d", n,
                        c->n_modality, LT_MAX_MODALITIES);
    int64_t base = 0;
    for (int i = 0; i < c->n_modality; i++) {
        lt_modality *m = &c->modalities[i];
        if (!m->name[0]) return lt_error(LT_ERR_INVALID_ARG, "config %s: modality %d has no name", n, i);
        for (int j = 0; j < i; j++)
            if (!strcmp(m->name, c->modalities[j].name))
                return lt_error(LT_ERR_INVALID_ARG, "config %s: modality name '%s' appears twice", n, m->name);
        if (m->tok_lo < 0 || m->tok_hi > c->vocab_size || m->tok_lo >= m->tok_hi)
            return lt_error(LT_ERR_RANGE,
                            "config %s: modality '%s' token range [%d, %d) is empty or outside the vocabulary [0, %d)",
                            n, m->name, m->tok_lo, m->tok_hi, c->vocab_size);
        const int32_t special[2] = {m->begin, m->end};
        const char *which[2] = {"begin", "end"};
        for (int s = 0; s < 2; s++)
            if (special[s] < 0 || special[s] >= c->vocab_size)
                return lt_error(LT_ERR_RANGE, "config %s: modality '%s' %s token %d is outside the vocabulary [0, %d)",
                                n, m->name, which[s], special[s], c->vocab_size);
        if (m->begin == m->end)
            return lt_error(LT_ERR_INVALID_ARG, "config %s: modality '%s' has the same begin and end token %d",
                            n, m->name, m->begin);
        if (m->max_len < 1)
            return lt_error(LT_ERR_INVALID_ARG, "config %s: modality '%s' max_len %d must be >= 1", n,
                            m->name, m->max_len);
        m->pos_base = (int32_t)base;
        base += m->max_len;
        if (base > (1 << 24))
            return lt_error(LT_ERR_INVALID_ARG, "config %s: position table of %lld rows is too large", n,
                            (long long)base);
    }
    /* Token ranges and special tokens must not collide: a token must name one modality. */
    for (int i = 0; i < c->n_modality; i++) {
        const lt_modality *a = &c->modalities[i];
        for (int j = 0; j < c->n_modality; j++) {
            const lt_modality *b = &c->modalities[j];
            if (j > i && a->tok_lo < b->tok_hi && b->tok_lo < a->tok_hi)
                return lt_error(LT_ERR_RANGE, "config %s: token ranges of '%s' [%d, %d) and '%s' [%d, %d) overlap",
                                n, a->name, a->tok_lo, a->tok_hi, b->name, b->tok_lo, b->tok_hi);
            if (in_range(a->begin, b) || in_range(a->end, b))
                return lt_error(LT_ERR_RANGE, "config %s: begin/end token of '%s' (%d, %d) lies in the token range of '%s'",
                                n, a->name, a->begin, a->end, b->name);
            if (j > i && (a->begin == b->begin || a->begin == b->end || a->end == b->begin ||
                          a->end == b->end))
                return lt_error(LT_ERR_RANGE, "config %s: modalities '%s' and '%s' share a begin/end token",
                                n, a->name, b->name);
        }
    }
    return LT_OK;
}

int64_t lt_model_config_pos_rows(const lt_model_config *c) {
    int64_t rows = 0;
    for (int i = 0; i < c->n_modality; i++) rows += c->modalities[i].max_len;
    return rows;
}

int lt_model_config_modality_of(const lt_model_config *c, int32_t token) {
    for (int i = 0; i < c->n_modality; i++) {
        const lt_modality *m = &c->modalities[i];
        if (in_range(token, m) || token == m->begin || token == m->end) return i;
    }
    return -1;
}

lt_status lt_model_config_resolve(const char *s, lt_model_config *out) {
    if (!s || !out) return lt_error(LT_ERR_INVALID_ARG, "config: NULL name");
    size_t n = strlen(s);
    int is_path = strchr(s, '/') != NULL || (n > 5 && !strcmp(s + n - 5, ".json"));
    return is_path ? lt_model_config_load(s, out) : lt_model_config_preset(s, out);
}

double lt_model_train_flops_per_token(const lt_model_config *c, int T) {
    double L = c->n_layer, d = c->d_model, V = c->vocab_size, r = c->mlp_ratio;
    /* qkv 3d^2 + proj d^2 + MLP 2 r d^2 per layer (12 d^2 at r = 4), plus the head. */
    double n_mm = L * (4.0 + 2.0 * r) * d * d + V * d;
    return 6.0 * n_mm + 12.0 * L * (double)T * d;
}
