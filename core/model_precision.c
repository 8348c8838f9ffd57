/* core/model_precision.c - the training precision: names, the device probe, and the bf16
 * copies of BF16 mode (weights and matmul/attention operands).
 *
 * BF16 mode is "autocast" (docs/trainer.md, "Precision"): the f32 masters, gradients and
 * AdamW moments stay as they are; the matmuls and the attention read bf16 operands and
 * write f32. The copies live in two extra buffers: params16, a bf16 image of the flat
 * parameter buffer (same offsets, so one lt_cast refreshes it), and acts->b16, the bf16
 * operand regions of lt_act16_kind. */
#include <math.h>
#include <string.h>

#include "loretta/backend.h"
#include "model_internal.h"

const char *lt_precision_name(lt_precision p) {
    switch (p) {
    case LT_PRECISION_FP32: return "fp32";
    case LT_PRECISION_BF16: return "bf16";
    }
    return "?";
}

lt_status lt_precision_parse(const char *s, lt_precision *out) {
    if (!s || !out) return lt_error(LT_ERR_INVALID_ARG, "precision: NULL argument");
    if (!strcmp(s, "fp32")) *out = LT_PRECISION_FP32;
    else if (!strcmp(s, "bf16")) *out = LT_PRECISION_BF16;
    else return lt_error(LT_ERR_INVALID_ARG, "precision: '%s' is not fp32 or bf16", s);
    return LT_OK;
}

lt_precision lt_model_precision(const lt_model *m) {
    return m ? m->precision : LT_PRECISION_FP32;
}

/* ---- the operand buffer ---- */

static size_t a16_size(const lt_model *m, lt_act16_kind k, size_t N) {
    const size_t d = (size_t)m->cfg.d_model, V = (size_t)m->cfg.vocab_size;
    const size_t F = (size_t)m->cfg.mlp_ratio * d;
    switch (k) {
    case LT_A16_QKV: return N * 3 * d;
    case LT_A16_FCA: return N * F;
    case LT_A16_DY: {
        size_t w = V > F ? V : F;
        return N * (w > 3 * d ? w : 3 * d);
    }
    default: return N * d;
    }
}

static int a16_copies(const lt_model *m, lt_act16_kind k) {
    return k == LT_A16_HF || k == LT_A16_DY ? 1 : m->cfg.n_layer;
}

lt_status lt_model_alloc_half(lt_model *m) {
    lt_model_acts *a = m->acts;
    const size_t N = (size_t)m->max_B * (size_t)m->max_T;
    size_t total = 0;
    for (int k = 0; k < LT_A16_COUNT; k++) {
        /* 128 bf16 elements = 256 bytes, the alignment of the f32 regions. */
        a->stride16[k] = (a16_size(m, (lt_act16_kind)k, N) + 127) / 128 * 128;
        a->off16[k] = total;
        total += a->stride16[k] * (size_t)a16_copies(m, (lt_act16_kind)k);
    }
    int64_t shape[1] = {(int64_t)total};
    LT_TRY(lt_tensor_alloc(m->dev, LT_BF16, 1, shape, &a->b16));
    shape[0] = (int64_t)m->n_flat;
    lt_status s = lt_tensor_alloc(m->dev, LT_BF16, 1, shape, &m->params16);
    if (s != LT_OK) lt_model_free_half(m);
    return s;
}

void lt_model_free_half(lt_model *m) {
    if (m->acts) {
        lt_tensor_free(&m->acts->b16);
        memset(&m->acts->b16, 0, sizeof m->acts->b16);
        m->acts->half = 0;
    }
    lt_tensor_free(&m->params16);
    memset(&m->params16, 0, sizeof m->params16);
}

lt_status lt_act16(const lt_model *m, lt_act16_kind k, int layer, int64_t width, lt_tensor *out) {
    const lt_model_acts *a = m->acts;
    if (!a->b16.buf)
        return lt_error(LT_ERR_INTERNAL, "model: bf16 operand requested in fp32 mode");
    const size_t off = a->off16[k] + (size_t)layer * a->stride16[k];
    int64_t shape[2] = {(int64_t)a->B * a->T, width};
    return lt_tensor_view(&a->b16, off * 2, LT_BF16, 2, shape, out);
}

lt_status lt_model_operand_view(const lt_model *m, lt_act16_kind k, int layer,
                                const lt_tensor *f32, lt_tensor *out) {
    if (!m->acts->half) {
        *out = *f32;
        return LT_OK;
    }
    return lt_act16(m, k, layer, f32->shape[f32->ndim - 1], out);
}

lt_status lt_model_operand_fill(const lt_model *m, lt_tensor *op, const lt_tensor *f32) {
    return m->acts->half ? lt_cast(op, f32) : LT_OK;
}

lt_status lt_model_refresh_half(lt_model *m) {
    if (!m || m->precision != LT_PRECISION_BF16) return LT_OK;
    return lt_cast(&m->params16, &m->params);
}

/* ---- the probe ---- */

enum { P_X, P_X16, P_C, P_Q16, P_OUT, P_LSE, P_DOUT, P_DQ, P_DK, P_DV, P_COUNT };

/* Host copy of a small f32 probe result; 1 when every element is `want` (to 1e-3). */
static lt_status probe_expect(const lt_tensor *t, int64_t n, const float *want, int *ok) {
    float got[16];
    LT_TRY(lt_tensor_download(got, t, (size_t)n * sizeof(float)));
    for (int64_t i = 0; i < n; i++)
        if (!(fabsf(got[i] - want[i]) <= 1e-3f)) *ok = 0;
    return LT_OK;
}

/* Runs every op kind BF16 mode needs, on tiny tensors: f32 -> bf16 cast, matmul with bf16
 * operands into f32 (= and +=), attention forward and backward with bf16 q/k/v; then
 * checks the values, so a backend that took the calls but misread bf16 is caught too.
 * x = 0.25 gives C = 8 * 0.0625 twice = 1; equal q = k = v = 0.5 give out = 0.5 and,
 * with dout = 1 and causal masking over 2 rows, dv = (1.5, 0.5) per row. */
static lt_status probe_ops(lt_device *dev, lt_tensor *t, int *ok) {
    const int64_t s_x[2] = {4, 8}, s_c[2] = {4, 4}, s_h[4] = {1, 2, 1, 8}, s_lse[3] = {1, 1, 2};
    const struct { lt_dtype dt; int nd; const int64_t *shape; } spec[P_COUNT] = {
        {LT_F32, 2, s_x}, {LT_BF16, 2, s_x}, {LT_F32, 2, s_c}, {LT_BF16, 4, s_h},
        {LT_F32, 4, s_h}, {LT_F32, 3, s_lse}, {LT_F32, 4, s_h}, {LT_F32, 4, s_h},
        {LT_F32, 4, s_h}, {LT_F32, 4, s_h},
    };
    for (int i = 0; i < P_COUNT; i++) LT_TRY(lt_tensor_alloc(dev, spec[i].dt, spec[i].nd, spec[i].shape, &t[i]));
    LT_TRY(lt_fill(&t[P_X], 0.25));
    LT_TRY(lt_fill(&t[P_Q16], 0.5));
    LT_TRY(lt_fill(&t[P_DOUT], 1.0));
    LT_TRY(lt_cast(&t[P_X16], &t[P_X]));
    LT_TRY(lt_matmul(&t[P_C], &t[P_X16], &t[P_X16], 0, 1, 1.0f, 0));
    LT_TRY(lt_matmul(&t[P_C], &t[P_X16], &t[P_X16], 0, 1, 1.0f, 1));
    const lt_tensor *q = &t[P_Q16];
    LT_TRY(lt_attention_forward(&t[P_OUT], &t[P_LSE], q, q, q, NULL, 1, 0.25f));
    LT_TRY(lt_attention_backward(&t[P_DQ], &t[P_DK], &t[P_DV], &t[P_DOUT], q, q, q, &t[P_OUT],
                                 &t[P_LSE], NULL, 1, 0.25f));
    LT_TRY(lt_device_sync(dev));
    float ones[16], halves[16], dv[16];
    for (int i = 0; i < 16; i++) {
        ones[i] = 1.0f;
        halves[i] = 0.5f;
        dv[i] = i < 8 ? 1.5f : 0.5f;
    }
    *ok = 1;
    LT_TRY(probe_expect(&t[P_C], 16, ones, ok));
    LT_TRY(probe_expect(&t[P_OUT], 16, halves, ok));
    return probe_expect(&t[P_DV], 16, dv, ok);
}

static lt_status probe_bf16(lt_device *dev) {
    lt_tensor t[P_COUNT];
    memset(t, 0, sizeof t);
    int ok = 0;
    lt_status s = probe_ops(dev, t, &ok);
    for (int i = 0; i < P_COUNT; i++) lt_tensor_free(&t[i]);
    if (s == LT_OK && !ok)
        return lt_error(LT_ERR_UNSUPPORTED,
                        "model: bf16 precision is not available on %s device %d (%s): its bf16 "
                        "matmul/attention gave wrong values on a known case",
                        dev->backend ? dev->backend->name : "?", dev->index, dev->info.name);
    if (s == LT_ERR_UNSUPPORTED || s == LT_ERR_DTYPE)
        return lt_error_context(LT_ERR_UNSUPPORTED,
                                "model: bf16 precision is not available on %s device %d (%s): ",
                                dev->backend ? dev->backend->name : "?", dev->index, dev->info.name);
    if (s != LT_OK) return lt_error_context(s, "model: probing bf16 on %s: ", dev->info.name);
    return LT_OK;
}

lt_status lt_model_set_precision(lt_model *m, lt_precision p) {
    if (!m) return lt_error(LT_ERR_INVALID_ARG, "model: NULL model");
    if (p != LT_PRECISION_FP32 && p != LT_PRECISION_BF16)
        return lt_error(LT_ERR_INVALID_ARG, "model: precision %d is not fp32 or bf16", (int)p);
    if (p == LT_PRECISION_FP32) {
        lt_model_free_half(m);
        m->precision = LT_PRECISION_FP32;
        return LT_OK;
    }
    if (m->precision == LT_PRECISION_BF16) return lt_model_refresh_half(m);
    LT_TRY(probe_bf16(m->dev));
    LT_TRY(lt_model_alloc_half(m));
    m->precision = LT_PRECISION_BF16;
    lt_status s = lt_model_refresh_half(m);
    if (s != LT_OK) {
        lt_model_free_half(m);
        m->precision = LT_PRECISION_FP32;
    }
    return s;
}
