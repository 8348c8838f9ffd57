/* core/model_embed.c - token + per-modality position embeddings, forward and backward.
 *
 * x_0 = wte[tokens] + wpe[pos_ids]; pos_ids already carry each modality's base row. */
#include "model_internal.h"

lt_status lt_embed_part_forward(lt_model *m) {
    const int64_t N = (int64_t)m->acts->B * m->acts->T;
    lt_tensor x, tok, pos, wte, wpe;
    LT_TRY(lt_act2(m, LT_ACT_RESID, 0, m->cfg.d_model, &x));
    LT_TRY(lt_model_input(m, LT_IN_TOKENS, LT_I32, N, &tok));
    LT_TRY(lt_model_input(m, LT_IN_POS, LT_I32, N, &pos));
    LT_TRY(lt_model_param(m, &m->params, lt_pidx_wte(), &wte));
    LT_TRY(lt_model_param(m, &m->params, lt_pidx_wpe(), &wpe));
    LT_TRY(lt_embed_forward(&x, &tok, &wte, 0));
    return lt_pos_embed_forward(&x, &pos, &wpe);
}

/* dx (the gradient of x_0, left in LT_ACT_DX by the first block's backward) scatters
 * into both tables; lt_embed_backward accumulates, as gradient accumulation needs. */
lt_status lt_embed_part_backward(lt_model *m) {
    const int64_t N = (int64_t)m->acts->B * m->acts->T;
    lt_tensor dx, tok, pos, dwte, dwpe;
    LT_TRY(lt_act2(m, LT_ACT_DX, 0, m->cfg.d_model, &dx));
    LT_TRY(lt_model_input(m, LT_IN_TOKENS, LT_I32, N, &tok));
    LT_TRY(lt_model_input(m, LT_IN_POS, LT_I32, N, &pos));
    LT_TRY(lt_model_param(m, &m->grads, lt_pidx_wte(), &dwte));
    LT_TRY(lt_model_param(m, &m->grads, lt_pidx_wpe(), &dwpe));
    LT_TRY(lt_embed_backward(&dwte, &tok, &dx));
    return lt_embed_backward(&dwpe, &pos, &dx);
}
