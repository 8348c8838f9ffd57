/* loretta/model.h - the GPT-style decoder of the LoReTTa trainer: config, parameters,
 * forward and backward.
 *
 * Pre-norm decoder (SPEC section 2): x = tok_emb[tokens] + pos_emb[pos_ids]; per layer
 * x += attn(rmsnorm(x)) Wo^T and x += gelu(rmsnorm(x) Wfc^T) Wfc2^T; logits =
 * rmsnorm(x) Wout^T (untied head); cross-entropy with per-token weights. No biases, no
 * dropout. Every op goes through the public wrappers of loretta/ops.h, so the same code
 * runs on every backend.
 *
 * Position embeddings are per modality: one flat table of sum(max_len) rows, modality
 * m's rows starting at its `pos_base`; a token's position id is its modality's base plus
 * its position inside the modality (the batch builder computes them). */
#ifndef LORETTA_MODEL_H
#define LORETTA_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "loretta/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LT_MAX_MODALITIES 8
#define LT_MAX_LAYERS 256
#define LT_NAME_LEN 48

typedef struct lt_modality {
    char name[LT_NAME_LEN];
    int32_t tok_lo, tok_hi;  /* the modality's own tokens: [tok_lo, tok_hi) */
    int32_t begin, end;      /* its begin-of-modality and end-of-modality tokens */
    int32_t max_len;         /* positions, begin and end tokens included */
    int32_t pos_base;        /* first row in the position table (filled by validate) */
} lt_modality;

typedef struct lt_model_config {
    char name[LT_NAME_LEN];
    int n_layer, n_head, d_model, head_dim; /* head_dim 0 = d_model / n_head */
    int mlp_ratio;                          /* MLP hidden = mlp_ratio * d_model (4) */
    int vocab_size;
    int causal;                             /* 1 causal (GPT), 0 bidirectional (BERT) */
    float norm_eps;                         /* RMSNorm eps (1e-5) */
    float init_std;                         /* GPT-2 init std (0.02) */
    int n_modality;
    lt_modality modalities[LT_MAX_MODALITIES];
} lt_model_config;

/* Built-in presets, usable on a machine without cJSON: "tiny" (tests: 2 layers, 2 heads,
 * d 64, vocab 300, two modalities), "laptop" (4 layers, 4 heads, d 256), "paper" (8
 * layers, 8 heads, d 512). laptop and paper use the byte-level table of the PyTorch
 * baseline (vocab 300, one "bytes" modality with 2048 positions). Fills and validates. */
lt_status lt_model_config_preset(const char *name, lt_model_config *out);
/* Checks every field and fills head_dim (when 0) and each modality's pos_base.
 * Messages name the field: "config: n_head 3 does not divide d_model 64". */
lt_status lt_model_config_validate(lt_model_config *cfg);
/* Rows of the position table: the sum of the modalities' max_len. */
int64_t lt_model_config_pos_rows(const lt_model_config *cfg);
/* JSON (see configs/tiny.json). Needs cJSON: without it UNSUPPORTED with a message. */
lt_status lt_model_config_from_json(const char *json, lt_model_config *out);
lt_status lt_model_config_load(const char *path, lt_model_config *out);
/* A preset name or a JSON file path (a name without '/' or ".json" is a preset). */
lt_status lt_model_config_resolve(const char *preset_or_path, lt_model_config *out);
/* The config as JSON (no cJSON needed); *out is malloc'ed, the caller frees it. */
lt_status lt_model_config_to_json(const lt_model_config *cfg, char **out);
/* Index of the modality whose tokens, begin or end include `token`, or -1. */
int lt_model_config_modality_of(const lt_model_config *cfg, int32_t token);

/* One named tensor inside the flat parameter buffer. Names follow the PyTorch baseline's
 * state_dict ("wte.weight", "blocks.0.attn.qkv.weight", ...). */
typedef struct lt_param_info {
    char name[LT_NAME_LEN];
    int ndim;
    int64_t shape[2];
    int64_t numel;
    size_t offset; /* in elements, into the flat buffers (aligned to 64 elements) */
    int decay;     /* AdamW weight decay applies (every 2-D weight, as the baseline) */
    int residual;  /* a residual projection: init std / sqrt(2 n_layer) */
} lt_param_info;

/* One micro-batch, on the host. Rows t >= lengths[b] are padding (their weights must be
 * 0); their token and position ids must still be valid (0 is fine). */
typedef struct lt_batch {
    int B, T;
    const int32_t *tokens;   /* [B*T] */
    const int32_t *targets;  /* [B*T], read only where weights != 0 */
    const float *weights;    /* [B*T] loss weights, 0 = not counted */
    const int32_t *pos_ids;  /* [B*T] rows of the position table */
    const int32_t *lengths;  /* [B] valid tokens per sample (NULL = all T) */
    const int32_t *modality; /* [B*T] modality index for per-modality loss (NULL = 0) */
} lt_batch;

/* Per-token losses of one forward pass, reduced on the host. */
typedef struct lt_loss_sums {
    double weighted_sum;                     /* sum of w * ce */
    double weight;                           /* sum of w */
    double mod_sum[LT_MAX_MODALITIES];       /* per modality */
    double mod_weight[LT_MAX_MODALITIES];
    int nonfinite;                           /* a counted token had a NaN/Inf loss */
} lt_loss_sums;

typedef struct lt_model_acts lt_model_acts; /* activations, private to core/model_*.c */

/* Training precision, a run option (not a model property: checkpoints hold f32 masters
 * only). BF16 is "autocast": f32 master weights, gradients and AdamW moments as in FP32;
 * every matmul and attention reads bf16 operands (a bf16 copy of the weights, refreshed
 * from the masters, and bf16 copies of the activations) and writes f32; norms, GELU,
 * residuals, softmax/cross-entropy, lse and losses stay f32. docs/trainer.md, "Precision". */
typedef enum lt_precision { LT_PRECISION_FP32 = 0, LT_PRECISION_BF16 = 1 } lt_precision;

const char *lt_precision_name(lt_precision p); /* "fp32", "bf16" */
/* "fp32" or "bf16"; anything else is INVALID_ARG naming the string. */
lt_status lt_precision_parse(const char *s, lt_precision *out);

typedef struct lt_model {
    lt_model_config cfg;
    lt_device *dev;
    int n_tensors;
    lt_param_info *info;   /* [n_tensors] */
    size_t n_flat;         /* elements in each flat buffer (with alignment padding) */
    int64_t n_weights;     /* real parameter count */
    lt_tensor params;      /* f32 [n_flat] */
    lt_tensor grads;       /* f32 [n_flat] */
    int max_B, max_T;
    lt_model_acts *acts;
    lt_precision precision; /* LT_PRECISION_FP32 unless lt_model_set_precision */
    lt_tensor params16;     /* bf16 [n_flat] copy of params in BF16 mode (else no buffer) */
} lt_model;

/* Builds the parameter table, allocates parameters, gradients and the activations for
 * batches up to max_B x max_T on `dev`. Weights are zero until lt_model_init_weights. */
lt_status lt_model_create(lt_device *dev, const lt_model_config *cfg, int max_B, int max_T,
                          lt_model **out);
void lt_model_free(lt_model *m);

/* GPT-2 init from a counter-based host RNG: normal(0, std) per weight from Philox
 * (seed, element, tensor index) through Box-Muller, std = init_std, / sqrt(2 n_layer)
 * for residual projections; RMSNorm weights 1. tools/golden/make_golden.py reproduces
 * it exactly. */
lt_status lt_model_init_weights(lt_model *m, uint64_t seed);
/* The normal deviate used by the init (exposed for tests and tools). */
double lt_init_normal(uint64_t seed, uint64_t element, uint64_t tensor_index);

const lt_param_info *lt_model_find(const lt_model *m, const char *name);
/* A view of one named tensor in `flat` (params, params16, grads or an optimiser buffer),
 * with flat's dtype. */
lt_status lt_model_tensor(const lt_model *m, const lt_tensor *flat, const lt_param_info *p,
                          lt_tensor *out);

/* Forward pass of one micro-batch; fills the per-token losses. With grad_scale != 0 the
 * dlogits of the loss grad_scale * sum(w * ce) are kept for lt_model_backward
 * (grad_scale = 1 / total weight of the step gives the mean loss). */
lt_status lt_model_forward(lt_model *m, const lt_batch *b, float grad_scale, lt_loss_sums *out);
/* Backward pass of the last forward; gradients are ADDED to m->grads. */
lt_status lt_model_backward(lt_model *m);
lt_status lt_model_zero_grad(lt_model *m);
/* Logits of the last forward: f32 [B*T, vocab] (rows of padding included). */
lt_status lt_model_logits(const lt_model *m, lt_tensor *out);

/* Switches the precision of the forward/backward passes. BF16 allocates the bf16 copy of
 * the parameters (same table and offsets as params) and the bf16 activation copies, and
 * fills the copy from the current masters; FP32 frees them. The device is probed first
 * (cast, matmul and attention with bf16 operands and f32 results): a device that cannot
 * run them gives UNSUPPORTED ("model: bf16 precision is not available on ...") and the
 * model stays as it was. In BF16 mode the copy is refreshed from params where it is read:
 * by lt_model_forward before it runs and by lt_trainer_step before its first micro-batch,
 * so weights written straight into params (updates, checkpoint restore, init, tests) are
 * never used stale. Between those it may lag the masters. */
lt_status lt_model_set_precision(lt_model *m, lt_precision p);
lt_precision lt_model_precision(const lt_model *m);

/* FLOPs of one training step per token, the PyTorch baseline's formula:
 * 6 * N_mm + 12 * L * T * d with N_mm = 12 L d^2 + V d (matmul weights incl. the head). */
double lt_model_train_flops_per_token(const lt_model_config *cfg, int T);

#ifdef __cplusplus
}
#endif
#endif
