/* core/model_block.c - one pre-norm decoder block, forward and backward side by side.
 *
 *   h1 = rmsnorm(x) * n1;  qkv = h1 Wqkv^T;  att = attention(q, k, v);
 *   xmid = x + att Wo^T;   h2 = rmsnorm(xmid) * n2;  fc = h2 Wfc^T;
 *   x'   = xmid + gelu(fc) Wfc2^T
 *
 * q, k and v are strided [B, T, H, Dh] views into the fused [B*T, 3d] qkv rows, so the
 * attention kernel reads them without a copy. The residual adds are matmuls with
 * accumulate = 1 onto a copy of the stream. Backward keeps dL/dx in LT_ACT_DX and adds
 * each branch's contribution through rmsnorm_backward's accumulate_dx.
 *
 * In a bf16 pass (BF16 precision) every matmul and the attention read the *_mm / qa, ka,
 * va operands: bf16 copies of h1, qkv, att, h2 and gelu(fc), cast right after the f32
 * op that produced them and kept per layer for the backward, and the bf16 weights; the
 * backward casts each incoming gradient dY to bf16 scratch before its two matmuls. The
 * results (and dW, accumulated into the f32 gradients) are f32. In an f32 pass the
 * operands are the f32 tensors themselves and the casts are skipped. */
#include <math.h>

#include "model_internal.h"

typedef struct block_views {
    lt_tensor x, xmid, xout, h1, rstd1, qkv, att2, h2, rstd2, fc, fca;
    lt_tensor q, k, v, att4, lse;
    lt_tensor h1_mm, qkv_mm, att_mm, h2_mm, fca_mm; /* matmul operands */
    lt_tensor qa, ka, va;                           /* attention operands (views of qkv_mm) */
    lt_tensor lengths;
    int has_lengths;
} block_views;

typedef struct block_params {
    lt_tensor n1, qkv, proj, n2, fc, fc2;
} block_params;

/* The norm gains from `norms`, the matmul weights from `mm` (params16 in a bf16 pass). */
static lt_status get_params(const lt_model *m, const lt_tensor *norms, const lt_tensor *mm, int l,
                            block_params *p) {
    LT_TRY(lt_model_param(m, norms, lt_pidx_block(l, LT_P_N1), &p->n1));
    LT_TRY(lt_model_param(m, mm, lt_pidx_block(l, LT_P_QKV), &p->qkv));
    LT_TRY(lt_model_param(m, mm, lt_pidx_block(l, LT_P_PROJ), &p->proj));
    LT_TRY(lt_model_param(m, norms, lt_pidx_block(l, LT_P_N2), &p->n2));
    LT_TRY(lt_model_param(m, mm, lt_pidx_block(l, LT_P_FC), &p->fc));
    return lt_model_param(m, mm, lt_pidx_block(l, LT_P_FC2), &p->fc2);
}

/* [B, T, H, Dh] views of the q, k, v (or dq, dk, dv) thirds of fused [B*T, 3d] rows. */
static lt_status split_heads(const lt_model *m, const lt_tensor *fused, lt_tensor *q,
                             lt_tensor *k, lt_tensor *v) {
    const int64_t B = m->acts->B, T = m->acts->T, H = m->cfg.n_head, Dh = m->cfg.head_dim;
    const int64_t d = m->cfg.d_model;
    const int64_t shape[4] = {B, T, H, Dh}, stride[4] = {T * 3 * d, 3 * d, Dh, 1};
    const size_t third = (size_t)d * lt_dtype_size(fused->dtype);
    LT_TRY(lt_tensor_strided(fused, 0, 4, shape, stride, q));
    LT_TRY(lt_tensor_strided(fused, third, 4, shape, stride, k));
    return lt_tensor_strided(fused, 2 * third, 4, shape, stride, v);
}

static lt_status get_views(const lt_model *m, int l, block_views *v) {
    const int64_t B = m->acts->B, T = m->acts->T, H = m->cfg.n_head, Dh = m->cfg.head_dim;
    const int64_t d = m->cfg.d_model, F = (int64_t)m->cfg.mlp_ratio * d;
    LT_TRY(lt_act2(m, LT_ACT_RESID, l, d, &v->x));
    LT_TRY(lt_act2(m, LT_ACT_RESID, l + 1, d, &v->xout));
    LT_TRY(lt_act2(m, LT_ACT_XMID, l, d, &v->xmid));
    LT_TRY(lt_act2(m, LT_ACT_H1, l, d, &v->h1));
    LT_TRY(lt_act2(m, LT_ACT_RSTD1, l, 0, &v->rstd1));
    LT_TRY(lt_act2(m, LT_ACT_QKV, l, 3 * d, &v->qkv));
    LT_TRY(lt_act2(m, LT_ACT_ATT, l, d, &v->att2));
    LT_TRY(lt_act2(m, LT_ACT_H2, l, d, &v->h2));
    LT_TRY(lt_act2(m, LT_ACT_RSTD2, l, 0, &v->rstd2));
    LT_TRY(lt_act2(m, LT_ACT_FC, l, F, &v->fc));
    LT_TRY(lt_act2(m, LT_ACT_FCA, l, F, &v->fca));
    LT_TRY(split_heads(m, &v->qkv, &v->q, &v->k, &v->v));
    const int64_t s4[4] = {B, T, H, Dh}, s3[3] = {B, H, T};
    LT_TRY(lt_act(m, LT_ACT_ATT, l, 4, s4, &v->att4));
    LT_TRY(lt_act(m, LT_ACT_LSE, l, 3, s3, &v->lse));
    LT_TRY(lt_model_operand_view(m, LT_A16_H1, l, &v->h1, &v->h1_mm));
    LT_TRY(lt_model_operand_view(m, LT_A16_QKV, l, &v->qkv, &v->qkv_mm));
    LT_TRY(lt_model_operand_view(m, LT_A16_ATT, l, &v->att2, &v->att_mm));
    LT_TRY(lt_model_operand_view(m, LT_A16_H2, l, &v->h2, &v->h2_mm));
    LT_TRY(lt_model_operand_view(m, LT_A16_FCA, l, &v->fca, &v->fca_mm));
    LT_TRY(split_heads(m, &v->qkv_mm, &v->qa, &v->ka, &v->va));
    v->has_lengths = m->acts->has_lengths;
    if (v->has_lengths) LT_TRY(lt_model_input(m, LT_IN_LENGTHS, LT_I32, B, &v->lengths));
    return LT_OK;
}

static float attn_scale(const lt_model *m) { return 1.0f / sqrtf((float)m->cfg.head_dim); }

/* ---- attention sub-layer ---- */

static lt_status attn_forward(lt_model *m, block_views *v, block_params *p) {
    LT_TRY(lt_rmsnorm_forward(&v->h1, &v->rstd1, &v->x, &p->n1, m->cfg.norm_eps));
    LT_TRY(lt_model_operand_fill(m, &v->h1_mm, &v->h1));
    LT_TRY(lt_matmul(&v->qkv, &v->h1_mm, &p->qkv, 0, 1, 1.0f, 0));
    LT_TRY(lt_model_operand_fill(m, &v->qkv_mm, &v->qkv));
    LT_TRY(lt_attention_forward(&v->att4, &v->lse, &v->qa, &v->ka, &v->va,
                                v->has_lengths ? &v->lengths : NULL, m->cfg.causal,
                                attn_scale(m)));
    LT_TRY(lt_model_operand_fill(m, &v->att_mm, &v->att2));
    LT_TRY(lt_copy(&v->xmid, &v->x));
    return lt_matmul(&v->xmid, &v->att_mm, &p->proj, 0, 1, 1.0f, 1);
}

/* On entry dx = dL/dxmid; on exit dx = dL/dx. */
static lt_status attn_backward(lt_model *m, block_views *v, block_params *p, block_params *g) {
    const int64_t d = m->cfg.d_model;
    lt_tensor dx, dh, datt2, datt4, dqkv, dq, dk, dv, dy;
    LT_TRY(lt_act2(m, LT_ACT_DX, 0, d, &dx));
    LT_TRY(lt_act2(m, LT_ACT_DH, 0, d, &dh));
    LT_TRY(lt_act2(m, LT_ACT_DATT, 0, d, &datt2));
    LT_TRY(lt_act2(m, LT_ACT_DQKV, 0, 3 * d, &dqkv));
    const int64_t s4[4] = {m->acts->B, m->acts->T, m->cfg.n_head, m->cfg.head_dim};
    LT_TRY(lt_act(m, LT_ACT_DATT, 0, 4, s4, &datt4));
    LT_TRY(split_heads(m, &dqkv, &dq, &dk, &dv));
    LT_TRY(lt_model_operand_view(m, LT_A16_DY, 0, &dx, &dy));
    LT_TRY(lt_model_operand_fill(m, &dy, &dx));
    LT_TRY(lt_matmul(&g->proj, &dy, &v->att_mm, 1, 0, 1.0f, 1)); /* dWo += dx^T att */
    LT_TRY(lt_matmul(&datt2, &dy, &p->proj, 0, 0, 1.0f, 0));     /* datt = dx Wo */
    LT_TRY(lt_attention_backward(&dq, &dk, &dv, &datt4, &v->qa, &v->ka, &v->va, &v->att4,
                                 &v->lse, v->has_lengths ? &v->lengths : NULL, m->cfg.causal,
                                 attn_scale(m)));
    LT_TRY(lt_model_operand_view(m, LT_A16_DY, 0, &dqkv, &dy));
    LT_TRY(lt_model_operand_fill(m, &dy, &dqkv));
    LT_TRY(lt_matmul(&g->qkv, &dy, &v->h1_mm, 1, 0, 1.0f, 1)); /* dWqkv += dqkv^T h1 */
    LT_TRY(lt_matmul(&dh, &dy, &p->qkv, 0, 0, 1.0f, 0));       /* dh1 = dqkv Wqkv */
    return lt_rmsnorm_backward(&dx, &g->n1, &dh, &v->x, &p->n1, &v->rstd1, 1);
}

/* ---- MLP sub-layer ---- */

static lt_status mlp_forward(lt_model *m, block_views *v, block_params *p) {
    LT_TRY(lt_rmsnorm_forward(&v->h2, &v->rstd2, &v->xmid, &p->n2, m->cfg.norm_eps));
    LT_TRY(lt_model_operand_fill(m, &v->h2_mm, &v->h2));
    LT_TRY(lt_matmul(&v->fc, &v->h2_mm, &p->fc, 0, 1, 1.0f, 0));
    LT_TRY(lt_gelu_forward(&v->fca, &v->fc));
    LT_TRY(lt_model_operand_fill(m, &v->fca_mm, &v->fca));
    LT_TRY(lt_copy(&v->xout, &v->xmid));
    return lt_matmul(&v->xout, &v->fca_mm, &p->fc2, 0, 1, 1.0f, 1);
}

/* On entry dx = dL/dxout; on exit dx = dL/dxmid. */
static lt_status mlp_backward(lt_model *m, block_views *v, block_params *p, block_params *g) {
    const int64_t d = m->cfg.d_model, F = (int64_t)m->cfg.mlp_ratio * d;
    lt_tensor dx, dh, dfc, dy;
    LT_TRY(lt_act2(m, LT_ACT_DX, 0, d, &dx));
    LT_TRY(lt_act2(m, LT_ACT_DH, 0, d, &dh));
    LT_TRY(lt_act2(m, LT_ACT_DFC, 0, F, &dfc));
    LT_TRY(lt_model_operand_view(m, LT_A16_DY, 0, &dx, &dy));
    LT_TRY(lt_model_operand_fill(m, &dy, &dx));
    LT_TRY(lt_matmul(&g->fc2, &dy, &v->fca_mm, 1, 0, 1.0f, 1)); /* dWfc2 += dx^T gelu(fc) */
    LT_TRY(lt_matmul(&dfc, &dy, &p->fc2, 0, 0, 1.0f, 0));       /* dgelu = dx Wfc2 */
    LT_TRY(lt_gelu_backward(&dfc, &dfc, &v->fc));               /* in place */
    LT_TRY(lt_model_operand_view(m, LT_A16_DY, 0, &dfc, &dy));
    LT_TRY(lt_model_operand_fill(m, &dy, &dfc));
    LT_TRY(lt_matmul(&g->fc, &dy, &v->h2_mm, 1, 0, 1.0f, 1));   /* dWfc += dfc^T h2 */
    LT_TRY(lt_matmul(&dh, &dy, &p->fc, 0, 0, 1.0f, 0));         /* dh2 = dfc Wfc */
    return lt_rmsnorm_backward(&dx, &g->n2, &dh, &v->xmid, &p->n2, &v->rstd2, 1);
}

/* ---- the block ---- */

lt_status lt_block_forward(lt_model *m, int l) {
    block_views v;
    block_params p;
    LT_TRY(get_views(m, l, &v));
    LT_TRY(get_params(m, &m->params, lt_model_mm_weights(m), l, &p));
    LT_TRY(attn_forward(m, &v, &p));
    return mlp_forward(m, &v, &p);
}

lt_status lt_block_backward(lt_model *m, int l) {
    block_views v;
    block_params p, g;
    LT_TRY(get_views(m, l, &v));
    LT_TRY(get_params(m, &m->params, lt_model_mm_weights(m), l, &p));
    LT_TRY(get_params(m, &m->grads, &m->grads, l, &g));
    LT_TRY(mlp_backward(m, &v, &p, &g));
    return attn_backward(m, &v, &p, &g);
}
