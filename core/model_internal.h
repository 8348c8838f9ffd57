/* core/model_internal.h - what the model's source files share: the activation layout
 * and the per-part forward/backward functions (core/model_embed.c, model_block.c,
 * model_head.c), composed by core/model.c. */
#ifndef LT_MODEL_INTERNAL_H
#define LT_MODEL_INTERNAL_H

#include "loretta/model.h"
#include "loretta/ops.h"

/* Activations, each sized for (max_B, max_T) and, where marked, one copy per layer.
 * A call with a smaller batch uses the contiguous prefix of each region. */
typedef enum lt_act_kind {
    LT_ACT_RESID,  /* x_l, [N, d], n_layer + 1 copies: the residual stream entering layer l */
    LT_ACT_XMID,   /* per layer [N, d]: x after the attention residual */
    LT_ACT_H1,     /* per layer [N, d]: rmsnorm1(x) */
    LT_ACT_RSTD1,  /* per layer [N] */
    LT_ACT_QKV,    /* per layer [N, 3d]: fused q|k|v rows */
    LT_ACT_ATT,    /* per layer [N, d]: attention output [B, T, H, Dh] */
    LT_ACT_LSE,    /* per layer [B, H, T] */
    LT_ACT_H2,     /* per layer [N, d]: rmsnorm2(xmid) */
    LT_ACT_RSTD2,  /* per layer [N] */
    LT_ACT_FC,     /* per layer [N, F]: pre-activation */
    LT_ACT_FCA,    /* per layer [N, F]: gelu(FC) */
    LT_ACT_HF,     /* [N, d] final rmsnorm */
    LT_ACT_RSTDF,  /* [N] */
    LT_ACT_LOGITS, /* [N, V] */
    LT_ACT_DLOGITS,/* [N, V] */
    LT_ACT_LOSSES, /* [N] */
    LT_ACT_DX,     /* [N, d]: gradient of the residual stream (backward scratch) */
    LT_ACT_DH,     /* [N, d] */
    LT_ACT_DQKV,   /* [N, 3d] */
    LT_ACT_DATT,   /* [N, d] */
    LT_ACT_DFC,    /* [N, F] */
    LT_ACT_COUNT
} lt_act_kind;

typedef enum lt_input_kind {
    LT_IN_TOKENS, LT_IN_TARGETS, LT_IN_WEIGHTS, LT_IN_POS, LT_IN_LENGTHS, LT_IN_COUNT
} lt_input_kind;

/* The bf16 operand copies of BF16 mode, in a second flat buffer (allocated by
 * lt_model_set_precision): what each matmul and attention reads instead of the f32
 * region of the same name. DY is backward scratch: the incoming gradient of one matmul
 * at a time, [N, width] with width up to max(V, F, 3d). */
typedef enum lt_act16_kind {
    LT_A16_H1,  /* per layer [N, d] */
    LT_A16_QKV, /* per layer [N, 3d]: q, k, v of the attention */
    LT_A16_ATT, /* per layer [N, d] */
    LT_A16_H2,  /* per layer [N, d] */
    LT_A16_FCA, /* per layer [N, F] */
    LT_A16_HF,  /* [N, d] */
    LT_A16_DY,  /* [N, max(V, F, 3d)] */
    LT_A16_COUNT
} lt_act16_kind;

struct lt_model_acts {
    lt_tensor f32;                   /* the whole activation buffer, flat */
    lt_tensor in;                    /* batch inputs (i32 and f32 words), flat */
    size_t off[LT_ACT_COUNT];        /* in floats */
    size_t stride[LT_ACT_COUNT];     /* floats between layer copies */
    size_t in_off[LT_IN_COUNT];      /* in words */
    int B, T;                        /* shape of the last forward */
    int has_lengths;
    int have_grad;                   /* the last forward kept dlogits */
    float *host_losses;              /* [max N] */
    lt_tensor b16;                   /* bf16 operand copies (BF16 mode only), flat */
    size_t off16[LT_A16_COUNT];      /* in bf16 elements */
    size_t stride16[LT_A16_COUNT];
    int half;                        /* the last forward ran with bf16 operands */
};

/* A contiguous view [shape] at the start of region `k` for layer `layer`. */
lt_status lt_act(const lt_model *m, lt_act_kind k, int layer, int ndim, const int64_t *shape,
                 lt_tensor *out);
/* [N, width] view of region k (N = B*T of the current batch). */
lt_status lt_act2(const lt_model *m, lt_act_kind k, int layer, int64_t width, lt_tensor *out);
lt_status lt_model_input(const lt_model *m, lt_input_kind k, lt_dtype dt, int64_t n,
                         lt_tensor *out);
/* [N, width] bf16 view of operand region k (BF16 mode only). */
lt_status lt_act16(const lt_model *m, lt_act16_kind k, int layer, int64_t width, lt_tensor *out);

/* How a forward picks its precision: the model's, refreshing the bf16 weights first (the
 * public lt_model_forward); the model's with weights the caller has just refreshed (the
 * trainer's micro-batches); or f32 whatever the model's precision (features and the
 * reference generator, which are inference paths kept in f32). */
typedef enum lt_fwd_mode { LT_FWD_REFRESH, LT_FWD_FRESH, LT_FWD_FP32 } lt_fwd_mode;
lt_status lt_model_forward_mode(lt_model *m, const lt_batch *b, float grad_scale,
                                lt_loss_sums *out, lt_fwd_mode mode);
/* params16 = bf16(params), one lt_cast; a no-op in FP32 mode. */
lt_status lt_model_refresh_half(lt_model *m);
/* The bf16 operand buffer's layout and allocation, and freeing (core/model_precision.c). */
lt_status lt_model_alloc_half(lt_model *m);
void lt_model_free_half(lt_model *m);
/* The operand a matmul or attention of this pass reads in place of the f32 tensor `f32`
 * ([N, width], contiguous): in a bf16 pass the view of region k (layer) of the bf16
 * buffer, else `f32` itself. _fill writes the bf16 copy (a no-op in an f32 pass). */
lt_status lt_model_operand_view(const lt_model *m, lt_act16_kind k, int layer,
                                const lt_tensor *f32, lt_tensor *out);
lt_status lt_model_operand_fill(const lt_model *m, lt_tensor *op, const lt_tensor *f32);
/* Where the matmul weights of a pass live: params16 when the pass is bf16, else params. */
static inline const lt_tensor *lt_model_mm_weights(const lt_model *m) {
    return m->acts->half ? &m->params16 : &m->params;
}

/* View of parameter (or gradient, with flat = &m->grads) number `index` of the table. */
lt_status lt_model_param(const lt_model *m, const lt_tensor *flat, int index, lt_tensor *out);

/* Table indices of the parameters. */
static inline int lt_pidx_wte(void) { return 0; }
static inline int lt_pidx_wpe(void) { return 1; }
static inline int lt_pidx_block(int layer, int which) { return 2 + 6 * layer + which; }
enum { LT_P_N1 = 0, LT_P_QKV, LT_P_PROJ, LT_P_N2, LT_P_FC, LT_P_FC2 };
static inline int lt_pidx_nf(const lt_model *m) { return 2 + 6 * m->cfg.n_layer; }
static inline int lt_pidx_head(const lt_model *m) { return 3 + 6 * m->cfg.n_layer; }

int lt_model_param_count(const lt_model_config *c);
lt_status lt_model_build_table(const lt_model_config *c, lt_param_info **out, int *count,
                               size_t *n_flat, int64_t *n_weights);

/* The parts, forward and backward side by side in their files. */
lt_status lt_embed_part_forward(lt_model *m);
lt_status lt_embed_part_backward(lt_model *m);
lt_status lt_block_forward(lt_model *m, int layer);
lt_status lt_block_backward(lt_model *m, int layer);
lt_status lt_head_forward(lt_model *m, float grad_scale);
lt_status lt_head_backward(lt_model *m);

#endif
