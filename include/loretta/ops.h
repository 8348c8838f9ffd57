/* loretta/ops.h - the op set every backend implements, and its public wrappers.
 *
 * Each wrapper checks its arguments (shapes, dtypes, devices, contiguity) in the core,
 * fills an lt_op_call and dispatches it to the backend of the output tensor's device.
 * Backends therefore receive only validated calls. An op a backend does not implement
 * returns LT_ERR_UNSUPPORTED ("<op> is not implemented by backend <name>"); it is never
 * run somewhere else silently.
 *
 * Conventions (all ops):
 *  - Unless stated, tensors must be contiguous, all on the same device.
 *  - f32 is the working dtype of every op; a backend may accept more (f64 on the
 *    reference backend, bf16/f16 for most ops on CUDA) and says so by returning
 *    UNSUPPORTED otherwise.
 *  - Mixed precision ("autocast"): matmul and attention forward/backward also take bf16
 *    or f16 operands, and then write either that dtype or f32 (see each op). Half
 *    operands are read exactly, products are summed in f32 (the reference: in double)
 *    and each output is rounded once to its dtype. Every backend accepts these
 *    combinations on a device whose info claims the half dtype (supports_bf16 /
 *    supports_f16); lse and all other ops stay f32.
 *  - "Rows" are the leading dims flattened: x[N, D] means numel = N*D with D the last dim.
 *  - Flags named `accumulate` mean dst += result instead of dst = result.
 */
#ifndef LORETTA_OPS_H
#define LORETTA_OPS_H

#include <stdint.h>

#include "loretta/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lt_op {
    LT_OP_FILL = 0,        /* dst[0] = value (any dtype; value converted) */
    LT_OP_COPY,            /* dst[0] = src[0]; same dtype and shape, ANY strides on both */
    LT_OP_CAST,            /* dst[0] = (dtype of dst) src[0]; f32 <-> bf16/f16/f64 */
    LT_OP_MATMUL,          /* see lt_matmul */
    LT_OP_EMBED_FWD,       /* see lt_embed_forward */
    LT_OP_EMBED_BWD,       /* see lt_embed_backward */
    LT_OP_POS_EMBED_FWD,   /* see lt_pos_embed_forward */
    LT_OP_RMSNORM_FWD,     /* see lt_rmsnorm_forward */
    LT_OP_RMSNORM_BWD,     /* see lt_rmsnorm_backward */
    LT_OP_GELU_FWD,        /* see lt_gelu_forward */
    LT_OP_GELU_BWD,        /* see lt_gelu_backward */
    LT_OP_ADD,             /* dst = a + b (same shapes) */
    LT_OP_SCALE,           /* dst = alpha * x (dst may be x) */
    LT_OP_AXPY,            /* y += alpha * x */
    LT_OP_CROSS_ENTROPY,   /* see lt_cross_entropy */
    LT_OP_ATTN_FWD,        /* see lt_attention_forward */
    LT_OP_ATTN_BWD,        /* see lt_attention_backward */
    LT_OP_ATTN_DECODE,     /* see lt_attention_decode */
    LT_OP_KV_WRITE,        /* see lt_kv_write */
    LT_OP_ADAMW,           /* see lt_adamw */
    LT_OP_SUMSQ,           /* see lt_sumsq */
    LT_OP_SAMPLE,          /* see lt_sample */
    LT_OP_COUNT
} lt_op;

const char *lt_op_name(lt_op op);             /* "matmul", "attn_fwd", ... */
lt_status lt_op_parse(const char *name, lt_op *out);

#define LT_MAX_SRC 8
#define LT_MAX_DST 4

/* Scalar parameters of every op, one struct per op. */
typedef struct lt_fill_params { double value; } lt_fill_params;

typedef struct lt_matmul_params {
    int trans_a, trans_b; /* op(A) = A^T when set (per batch) */
    int accumulate;       /* C = alpha*op(A)op(B) + (accumulate ? C : 0) */
    float alpha;
} lt_matmul_params;

typedef struct lt_embed_params { int accumulate; } lt_embed_params;
typedef struct lt_rmsnorm_params { float eps; int accumulate_dx; } lt_rmsnorm_params;
typedef struct lt_scalar_params { float alpha; } lt_scalar_params;
typedef struct lt_ce_params { float grad_scale; } lt_ce_params;

typedef struct lt_attn_params {
    int causal;   /* 1 = key j visible to query i only if j <= i; 0 = bidirectional */
    float scale;  /* usually 1/sqrt(head_dim) */
} lt_attn_params;

typedef struct lt_adamw_params {
    float lr, beta1, beta2, eps, weight_decay;
    float grad_scale; /* g = grad * grad_scale (gradient clipping, loss scaling) */
    int64_t step;     /* 1-based, for bias correction */
} lt_adamw_params;

typedef struct lt_sample_params {
    uint64_t seed;
    uint64_t step;      /* counter: the generation step */
    float temperature;  /* 0 = greedy (argmax, lowest index on ties) */
    int top_k;          /* 0 = no top-k */
    int32_t range_lo;   /* only tokens in [range_lo, range_hi) may be drawn */
    int32_t range_hi;
} lt_sample_params;

typedef union lt_op_params {
    lt_fill_params fill;
    lt_matmul_params matmul;
    lt_embed_params embed;
    lt_rmsnorm_params rmsnorm;
    lt_scalar_params scalar;
    lt_ce_params ce;
    lt_attn_params attn;
    lt_adamw_params adamw;
    lt_sample_params sample;
} lt_op_params;

/* One validated op invocation, as a backend receives it. Unused / optional tensor
 * slots are NULL. Slot meanings are documented per wrapper below ("src[i]" / "dst[i]"). */
typedef struct lt_op_call {
    lt_op op;
    const lt_tensor *src[LT_MAX_SRC];
    lt_tensor *dst[LT_MAX_DST];
    lt_op_params p;
} lt_op_call;

/* Dispatches an already validated call (used by the wrappers and the conformance
 * suite). Returns UNSUPPORTED if the device's backend has no entry for call->op. */
lt_status lt_op_dispatch(lt_device *dev, const lt_op_call *call);

/* ---------------------------------------------------------------- wrappers ---- */

lt_status lt_fill(lt_tensor *dst, double value);                          /* dst[0] */
lt_status lt_copy(lt_tensor *dst, const lt_tensor *src);                  /* src[0] -> dst[0] */
lt_status lt_cast(lt_tensor *dst, const lt_tensor *src);                  /* src[0] -> dst[0] */

/* Batched matmul. src[0]=A, src[1]=B, dst[0]=C, all rank 2 or 3 (rank 2 = batch 1).
 *   A: [bA, M, K] (or [bA, K, M] with trans_a)   B: [bB, K, N] (or [bB, N, K] with trans_b)
 *   C: [bC, M, N];  bA and bB are each 1 (broadcast) or bC.
 * The last dim of A, B, C must be contiguous; the other strides may be anything
 * (row stride >= row length), so views into larger buffers work without copies.
 * Dtypes: A and B alike; C has their dtype, or is f32 when A/B are bf16 or f16 (half
 * operands, f32 accumulation and f32 result; accumulate adds into the f32 C). */
lt_status lt_matmul(lt_tensor *c, const lt_tensor *a, const lt_tensor *b, int trans_a,
                    int trans_b, float alpha, int accumulate);

/* out[n, :] (+)= table[tokens[n], :].  src[0]=tokens i32 [N], src[1]=table [V, D],
 * dst[0]=out [N, D]. A token outside [0, V) fails with RANGE naming its position. */
lt_status lt_embed_forward(lt_tensor *out, const lt_tensor *tokens, const lt_tensor *table,
                           int accumulate);
/* dtable[tokens[n], :] += dout[n, :] (always accumulates). src[0]=tokens, src[1]=dout,
 * dst[0]=dtable. Deterministic (same sum order every run). */
lt_status lt_embed_backward(lt_tensor *dtable, const lt_tensor *tokens, const lt_tensor *dout);
/* x[n, :] += table[pos[n], :]: the per-modality learned position embeddings live in one
 * table, each modality's rows at its own offset, so pos[n] = modality base + position.
 * src[0]=pos i32 [N], src[1]=table [P, D], dst[0]=x [N, D]. Gradient: lt_embed_backward. */
lt_status lt_pos_embed_forward(lt_tensor *x, const lt_tensor *pos, const lt_tensor *table);

/* out = x * rstd * w, rstd[n] = 1/sqrt(mean(x[n,:]^2) + eps).
 * src[0]=x [N, D], src[1]=w [D]; dst[0]=out [N, D], dst[1]=rstd f32 [N] (saved). */
lt_status lt_rmsnorm_forward(lt_tensor *out, lt_tensor *rstd, const lt_tensor *x,
                             const lt_tensor *w, float eps);
/* src[0]=dout, src[1]=x, src[2]=w, src[3]=rstd; dst[0]=dx (= or += per accumulate_dx),
 * dst[1]=dw (always +=). */
lt_status lt_rmsnorm_backward(lt_tensor *dx, lt_tensor *dw, const lt_tensor *dout,
                              const lt_tensor *x, const lt_tensor *w, const lt_tensor *rstd,
                              int accumulate_dx);

/* GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 * fwd: src[0]=x, dst[0]=out.  bwd: src[0]=dout, src[1]=x, dst[0]=dx (=). */
lt_status lt_gelu_forward(lt_tensor *out, const lt_tensor *x);
lt_status lt_gelu_backward(lt_tensor *dx, const lt_tensor *dout, const lt_tensor *x);

lt_status lt_add(lt_tensor *out, const lt_tensor *a, const lt_tensor *b); /* src a,b */
lt_status lt_scale(lt_tensor *out, const lt_tensor *x, float alpha);    /* dst may be x */
lt_status lt_axpy(lt_tensor *y, float alpha, const lt_tensor *x);       /* src[0]=x, dst[0]=y */

/* Softmax cross-entropy fused with its gradient.
 * src[0]=logits [N, V], src[1]=targets i32 [N], src[2]=weights f32 [N] (NULL = all 1);
 * dst[0]=losses f32 [N] (f64 when logits are f64, for finite-difference gradient checks):
 *        -log softmax(logits[n])[targets[n]] where weights[n] != 0,
 *        exactly 0 where weights[n] == 0 (the target is then not read);
 * dst[1]=dlogits [N, V] or NULL: weights[n] * grad_scale * (softmax - onehot(target)),
 *        0 rows where weights[n] == 0. dlogits may be the same tensor as logits.
 * A target outside [0, V) on a weighted row fails with RANGE. */
lt_status lt_cross_entropy(lt_tensor *losses, lt_tensor *dlogits, const lt_tensor *logits,
                           const lt_tensor *targets, const lt_tensor *weights,
                           float grad_scale);

/* Tiled (flash) attention. q, k, v, out: [B, T, H, Dh] with ANY strides except a
 * contiguous last dim (so q/k/v can be views into a fused [B, T, 3*H*Dh] buffer).
 * src[0]=q, src[1]=k, src[2]=v, src[3]=lengths i32 [B] or NULL (all T);
 * dst[0]=out [B, T, H, Dh], dst[1]=lse f32 [B, H, T] (logsumexp of scaled scores).
 * Query i of sample b sees keys j < lengths[b] (and j <= i when causal). Rows
 * i >= lengths[b] are padding: out = 0, lse = 0. Never forms a T x T matrix.
 * Dtypes: q, k, v alike (f32, bf16, f16; f64 on ref); out has q's dtype, or f32 when q
 * is bf16/f16; lse is f32 (f64 when q is f64). */
lt_status lt_attention_forward(lt_tensor *out, lt_tensor *lse, const lt_tensor *q,
                               const lt_tensor *k, const lt_tensor *v,
                               const lt_tensor *lengths, int causal, float scale);
/* src[0]=dout, src[1]=q, src[2]=k, src[3]=v, src[4]=out, src[5]=lse, src[6]=lengths|NULL;
 * dst[0]=dq, dst[1]=dk, dst[2]=dv ([B, T, H, Dh], any strides, contiguous last dim;
 * written with =, padding rows get 0).
 * Dtypes: q, k, v alike; out and dout share one dtype, q's or f32 when q is bf16/f16;
 * dq, dk, dv share one dtype, q's or f32 when q is bf16/f16; lse as in the forward.
 * D_i = rowsum(dout_i * out_i) is taken from the given out, so a half out's rounding is
 * part of the input, as in every tiled backward. */
lt_status lt_attention_backward(lt_tensor *dq, lt_tensor *dk, lt_tensor *dv,
                                const lt_tensor *dout, const lt_tensor *q, const lt_tensor *k,
                                const lt_tensor *v, const lt_tensor *out,
                                const lt_tensor *lse, const lt_tensor *lengths, int causal,
                                float scale);
/* KV-cache attention for generation. q: [B, Tq, H, Dh] (any strides, contiguous last dim)
 * holds the Tq newest tokens of each sample; k_cache, v_cache: [B, Tmax, H, Dh] contiguous,
 * already holding those tokens' keys/values; lengths i32 [B] = valid cache entries per
 * sample including the new ones (Tq <= lengths[b] <= Tmax). New token t of sample b sits
 * at absolute position lengths[b] - Tq + t and attends to cache positions <= it.
 * src[0]=q, src[1]=k_cache, src[2]=v_cache, src[3]=lengths; dst[0]=out [B, Tq, H, Dh]. */
lt_status lt_attention_decode(lt_tensor *out, const lt_tensor *q, const lt_tensor *k_cache,
                              const lt_tensor *v_cache, const lt_tensor *lengths, float scale);
/* cache[b, pos[b] + t, :, :] = x[b, t, :, :] for t < Tn.
 * src[0]=x [B, Tn, H, Dh] (any strides, contiguous last dim), src[1]=pos i32 [B];
 * dst[0]=cache [B, Tmax, H, Dh] contiguous. pos[b] + Tn > Tmax fails with RANGE. */
lt_status lt_kv_write(lt_tensor *cache, const lt_tensor *x, const lt_tensor *pos);

/* AdamW on flat f32 tensors of N elements, in place:
 *   g = grad*grad_scale; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 *   mhat = m/(1-b1^step); vhat = v/(1-b2^step);
 *   param -= lr * (mhat/(sqrt(vhat)+eps) + wd_i * param),  wd_i = decay_mask[i] ? wd : 0.
 * The param on the right is the pre-step value, so this is torch.optim.AdamW exactly (not
 * just to first order): torch decays first, param *= 1 - lr*wd_i, then subtracts
 * lr*mhat/(sqrt(vhat)+eps), a term that does not depend on param.
 * src[0]=grad [N], src[1]=decay_mask u8 [N] or NULL (NULL = decay everything);
 * dst[0]=param, dst[1]=m, dst[2]=v. */
lt_status lt_adamw(lt_tensor *param, lt_tensor *m, lt_tensor *v, const lt_tensor *grad,
                   const lt_tensor *decay_mask, const lt_adamw_params *p);

/* dst[0] = f32 [1]: sum of x[i]^2 over the whole of src[0] (any shape), accumulated in
 * a fixed order so repeated runs agree bit for bit. NaN/Inf propagate. */
lt_status lt_sumsq(lt_tensor *out, const lt_tensor *x);

/* Draws one token per row. src[0]=logits f32 [B, V], src[1]=sample ids i32 [B] or NULL
 * (NULL = row index); dst[0]=tokens i32 [B]. Only tokens in [range_lo, range_hi) are
 * candidates; with temperature 0 the argmax, else softmax(logits/temperature) over the
 * top_k largest candidates (all when top_k = 0) sampled with u = lt_rng_uniform(seed,
 * sample id, step) by the rule in loretta/rng.h, so every backend draws the same token. */
lt_status lt_sample(lt_tensor *tokens, const lt_tensor *logits, const lt_tensor *sample_ids,
                    const lt_sample_params *p);

#ifdef __cplusplus
}
#endif
#endif
