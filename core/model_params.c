/* core/model_params.c - the table of named parameter tensors in the flat buffers, and
 * the GPT-2 initialisation.
 *
 * The table is data (llm.c keeps a fixed struct): models with other modality tables or
 * extra heads only add rows. Offsets are aligned to 64 elements (256 bytes) so every
 * tensor view meets the strictest sub-buffer alignment of the GPU backends; the padding
 * stays zero in parameters, gradients and moments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/model.h"
#include "loretta/ops.h"
#include "loretta/rng.h"
#include "model_internal.h"

#define LT_PARAM_ALIGN 64

static void add(lt_param_info *t, int *n, size_t *off, const char *name, int64_t rows,
                int64_t cols, int residual) {
    lt_param_info *p = &t[(*n)++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = cols ? 2 : 1;
    p->shape[0] = rows;
    p->shape[1] = cols;
    p->numel = cols ? rows * cols : rows;
    p->offset = *off;
    p->decay = cols != 0; /* the PyTorch baseline decays every 2-D weight, embeddings too */
    p->residual = residual;
    *off += ((size_t)p->numel + LT_PARAM_ALIGN - 1) / LT_PARAM_ALIGN * LT_PARAM_ALIGN;
}

int lt_model_param_count(const lt_model_config *c) { return 2 + 6 * c->n_layer + 2; }

lt_status lt_model_build_table(const lt_model_config *c, lt_param_info **out, int *count,
                               size_t *n_flat, int64_t *n_weights) {
    int total = lt_model_param_count(c);
    lt_param_info *t = calloc((size_t)total, sizeof *t);
    if (!t) return lt_error(LT_ERR_OUT_OF_MEMORY, "model: parameter table");
    const int64_t d = c->d_model, V = c->vocab_size, F = (int64_t)c->mlp_ratio * d;
    size_t off = 0;
    int n = 0;
    char name[LT_NAME_LEN];
    add(t, &n, &off, "wte.weight", V, d, 0);
    add(t, &n, &off, "wpe.weight", lt_model_config_pos_rows(c), d, 0);
    for (int l = 0; l < c->n_layer; l++) {
        snprintf(name, sizeof name, "blocks.%d.n1.weight", l);
        add(t, &n, &off, name, d, 0, 0);
        snprintf(name, sizeof name, "blocks.%d.attn.qkv.weight", l);
        add(t, &n, &off, name, 3 * d, d, 0);
        snprintf(name, sizeof name, "blocks.%d.attn.proj.weight", l);
        add(t, &n, &off, name, d, d, 1);
        snprintf(name, sizeof name, "blocks.%d.n2.weight", l);
        add(t, &n, &off, name, d, 0, 0);
        snprintf(name, sizeof name, "blocks.%d.fc.weight", l);
        add(t, &n, &off, name, F, d, 0);
        snprintf(name, sizeof name, "blocks.%d.fc2.weight", l);
        add(t, &n, &off, name, d, F, 1);
    }
    add(t, &n, &off, "nf.weight", d, 0, 0);
    add(t, &n, &off, "head.weight", V, d, 0);
    int64_t w = 0;
    for (int i = 0; i < n; i++) w += t[i].numel;
    *out = t;
    *count = n;
    *n_flat = off;
    *n_weights = w;
    return LT_OK;
}

const lt_param_info *lt_model_find(const lt_model *m, const char *name) {
    if (!m || !name) return NULL;
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->info[i].name, name)) return &m->info[i];
    return NULL;
}

lt_status lt_model_tensor(const lt_model *m, const lt_tensor *flat, const lt_param_info *p,
                          lt_tensor *out) {
    if (!m || !flat || !p || !out) return lt_error(LT_ERR_INVALID_ARG, "model: NULL argument");
    int64_t shape[2] = {p->shape[0], p->shape[1]};
    return lt_tensor_view(flat, p->offset * lt_dtype_size(flat->dtype), flat->dtype, p->ndim,
                          shape, out);
}

/* Box-Muller on two Philox words: u1 in (0, 1) so the log is finite. Computed in double
 * and rounded once, which numpy reproduces (tools/golden/make_golden.py). */
double lt_init_normal(uint64_t seed, uint64_t element, uint64_t tensor_index) {
    uint32_t w[4];
    lt_rng_words(seed, element, tensor_index, w);
    const double u1 = ((double)w[0] + 0.5) / 4294967296.0;
    const double u2 = (double)w[1] / 4294967296.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

lt_status lt_model_init_weights(lt_model *m, uint64_t seed) {
    if (!m) return lt_error(LT_ERR_INVALID_ARG, "model init: NULL model");
    float *host = calloc(m->n_flat ? m->n_flat : 1, sizeof(float));
    if (!host) return lt_error(LT_ERR_OUT_OF_MEMORY, "model init: %zu host floats", m->n_flat);
    const double resid = 1.0 / sqrt(2.0 * m->cfg.n_layer);
    for (int i = 0; i < m->n_tensors; i++) {
        const lt_param_info *p = &m->info[i];
        float *dst = host + p->offset;
        if (p->ndim == 1) {
            for (int64_t e = 0; e < p->numel; e++) dst[e] = 1.0f; /* RMSNorm gains */
            continue;
        }
        const double std = (double)m->cfg.init_std * (p->residual ? resid : 1.0);
        /* Each element is a pure function of (seed, e, i): threads cannot change values. */
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
        for (int64_t e = 0; e < p->numel; e++)
            dst[e] = (float)(std * lt_init_normal(seed, (uint64_t)e, (uint64_t)i));
    }
    lt_status s = lt_tensor_upload(&m->params, host, m->n_flat * sizeof(float));
    free(host);
    return s;
}
