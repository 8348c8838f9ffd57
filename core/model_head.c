/* core/model_head.c - final RMSNorm, the untied output head and the weighted
 * cross-entropy, forward and backward.
 *
 * The loss of a step is sum(w * ce) / sum(w) over all its micro-batches; the caller
 * passes grad_scale = 1 / sum(w) so dlogits is already the gradient of that mean.
 *
 * In a bf16 pass the head matmul reads bf16(hf) and the bf16 head weights, and its
 * backward bf16(dlogits); logits, the loss and dlogits stay f32. */
#include "model_internal.h"

lt_status lt_head_forward(lt_model *m, float grad_scale) {
    const int L = m->cfg.n_layer, d = m->cfg.d_model, V = m->cfg.vocab_size;
    const int64_t N = (int64_t)m->acts->B * m->acts->T;
    lt_tensor x, hf, hf_mm, rstd, nf, head, logits, dlogits, losses, targets, weights;
    LT_TRY(lt_act2(m, LT_ACT_RESID, L, d, &x));
    LT_TRY(lt_act2(m, LT_ACT_HF, 0, d, &hf));
    LT_TRY(lt_act2(m, LT_ACT_RSTDF, 0, 0, &rstd));
    LT_TRY(lt_act2(m, LT_ACT_LOGITS, 0, V, &logits));
    LT_TRY(lt_act2(m, LT_ACT_DLOGITS, 0, V, &dlogits));
    LT_TRY(lt_act2(m, LT_ACT_LOSSES, 0, 0, &losses));
    LT_TRY(lt_model_param(m, &m->params, lt_pidx_nf(m), &nf));
    LT_TRY(lt_model_param(m, lt_model_mm_weights(m), lt_pidx_head(m), &head));
    LT_TRY(lt_model_input(m, LT_IN_TARGETS, LT_I32, N, &targets));
    LT_TRY(lt_model_input(m, LT_IN_WEIGHTS, LT_F32, N, &weights));
    LT_TRY(lt_rmsnorm_forward(&hf, &rstd, &x, &nf, m->cfg.norm_eps));
    LT_TRY(lt_model_operand_view(m, LT_A16_HF, 0, &hf, &hf_mm));
    LT_TRY(lt_model_operand_fill(m, &hf_mm, &hf));
    LT_TRY(lt_matmul(&logits, &hf_mm, &head, 0, 1, 1.0f, 0)); /* [N, d] x [V, d]^T */
    return lt_cross_entropy(&losses, grad_scale != 0.0f ? &dlogits : NULL, &logits, &targets,
                            &weights, grad_scale);
}

/* Leaves dL/dx_L in LT_ACT_DX (overwritten: the backward of the residual stream starts here). */
lt_status lt_head_backward(lt_model *m) {
    const int L = m->cfg.n_layer, d = m->cfg.d_model, V = m->cfg.vocab_size;
    lt_tensor x, hf, hf_mm, rstd, nf, head, dnf, dhead, dlogits, dy, dh, dx;
    LT_TRY(lt_act2(m, LT_ACT_RESID, L, d, &x));
    LT_TRY(lt_act2(m, LT_ACT_HF, 0, d, &hf));
    LT_TRY(lt_act2(m, LT_ACT_RSTDF, 0, 0, &rstd));
    LT_TRY(lt_act2(m, LT_ACT_DLOGITS, 0, V, &dlogits));
    LT_TRY(lt_act2(m, LT_ACT_DH, 0, d, &dh));
    LT_TRY(lt_act2(m, LT_ACT_DX, 0, d, &dx));
    LT_TRY(lt_model_param(m, &m->params, lt_pidx_nf(m), &nf));
    LT_TRY(lt_model_param(m, lt_model_mm_weights(m), lt_pidx_head(m), &head));
    LT_TRY(lt_model_param(m, &m->grads, lt_pidx_nf(m), &dnf));
    LT_TRY(lt_model_param(m, &m->grads, lt_pidx_head(m), &dhead));
    LT_TRY(lt_model_operand_view(m, LT_A16_HF, 0, &hf, &hf_mm));
    LT_TRY(lt_model_operand_view(m, LT_A16_DY, 0, &dlogits, &dy));
    LT_TRY(lt_model_operand_fill(m, &dy, &dlogits));
    LT_TRY(lt_matmul(&dhead, &dy, &hf_mm, 1, 0, 1.0f, 1)); /* dW += dlogits^T hf */
    LT_TRY(lt_matmul(&dh, &dy, &head, 0, 0, 1.0f, 0));     /* dhf = dlogits W */
    return lt_rmsnorm_backward(&dx, &dnf, &dh, &x, &nf, &rstd, 0);
}
