/* loretta/generate.h - batched autoregressive generation with a KV cache, the no-cache
 * reference, the adapter transitive modeling calls, feature extraction for linear
 * probing, and the image / text views of generated tokens. docs/generation.md has the
 * details.
 *
 * Generation of modality `target` from a prompt (an lt_seq, e.g. [BOS_a a_1 .. a_l EOS_a]):
 * the generator appends BOS_target (position row pos_base), then draws token i at position
 * row pos_base + 1 + i, restricted to the target's own tokens [tok_lo, tok_hi), plus its
 * end token for variable-length modalities. Fixed-length modalities get exactly
 * max_len - 2 tokens; variable-length ones stop at the end token (not returned) or after
 * max_len - 2 tokens. Token i of prompt p is drawn by lt_sample with counter (seed,
 * sample id of p, i), so the same prompts give the same tokens on every backend, with or
 * without the cache, alone or in any batch. No gradient is touched.
 *
 * The candidates of a draw are laid out compactly as the target's tokens [tok_lo, tok_hi)
 * followed by its end token (variable length only); loretta/rng.h's rule is applied to
 * that row, identically on every path and backend.
 */
#ifndef LORETTA_GENERATE_H
#define LORETTA_GENERATE_H

#include <stdint.h>

#include "loretta/model.h"
#include "loretta/objectives.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lt_gen_opts {
    float temperature;        /* 0 = greedy (argmax) */
    int top_k;                /* 0 = every candidate */
    uint64_t seed;
    uint32_t fixed_len_mask;  /* bit m set: model modality m is fixed-length */
    int max_new;              /* cap on generated tokens; 0 = the target's max_len - 2 */
    int min_new;              /* variable length: the end token is not a candidate before
                                 this many tokens (default 1: never an empty modality) */
    const int32_t *sample_ids;/* RNG id per prompt; NULL = the prompt's index */
} lt_gen_opts;

/* Greedy, seed 0, every modality variable-length, min_new 1. */
lt_gen_opts lt_gen_opts_default(void);
/* Tokens a call generates at most for `target`: max_len - 2, capped by o->max_new. */
int lt_gen_max_new(const lt_model_config *cfg, int target, const lt_gen_opts *o);

/* Timings of the last lt_generate call (host wall clock; every phase ends with a
 * download, so the device work is included). */
typedef struct lt_gen_stats {
    double prefill_s, decode_s;
    int64_t prompt_tokens;  /* valid prompt tokens + BOS, summed over rows */
    int64_t decode_steps;   /* cached forward passes after the prefill */
    int64_t generated;      /* tokens returned, summed over rows */
} lt_gen_stats;

typedef struct lt_generator lt_generator;

/* A generator for `m` (which it reads, never changes) on m->dev: per-layer K/V caches
 * [max_B, max_T, H, Dh] and the scratch of one forward over max_B x max_T tokens. max_T
 * must hold the longest prompt, BOS and the generated tokens but the last. */
lt_status lt_generator_create(lt_model *m, int max_B, int max_T, lt_generator **out);
void lt_generator_free(lt_generator *g);
const lt_gen_stats *lt_generator_stats(const lt_generator *g);

/* Generates `target` for n <= max_B prompts (ragged lengths, one may be empty) in one
 * batch: a prefill forward over the prompts + BOS that fills the caches, then one cached
 * forward per token. Row p's tokens go to out[p * out_stride ..] (out_stride >=
 * lt_gen_max_new), their count to out_len[p]. */
lt_status lt_generate(lt_generator *g, const lt_seq *prompts, int n, int target,
                      const lt_gen_opts *o, int32_t *out, int out_stride, int *out_len);
/* Any number of prompts, each with its own target (targets[p]); rows with the same
 * target are batched max_B at a time. Sample ids default to the prompt index p. */
lt_status lt_generate_many(lt_generator *g, const lt_seq *prompts, const int *targets, int n,
                           const lt_gen_opts *o, int32_t *out, int out_stride, int *out_len);

/* The reference without a cache: every token re-runs lt_model_forward over the whole
 * sequence and samples from lt_model_logits. m must hold n x (longest prompt + max_new)
 * tokens. Same tokens as lt_generate up to float rounding between the two paths. */
lt_status lt_generate_nocache(lt_model *m, const lt_seq *prompts, int n, int target,
                              const lt_gen_opts *o, int32_t *out, int out_stride, int *out_len);

/* lt_generate_fn for transitive modeling: ctx is an lt_gen_adapter. Each call is one
 * prompt; its sample id is the adapter's call counter (then incremented), so a training
 * run draws reproducibly from (opts.seed, call number, token). */
typedef struct lt_gen_adapter {
    lt_generator *gen;
    lt_gen_opts opts;   /* opts.sample_ids is ignored */
    uint64_t calls;
} lt_gen_adapter;
lt_status lt_generate_adapter(void *ctx, const lt_seq *prompt, int target, int32_t *out,
                              int max_out, int *n_out);

/* Features for linear probing: out[i, :] = mean over the tokens of seqs[i] (all of them,
 * BOS/EOS included) of the final hidden state after the final RMSNorm, f32 [n, d_model]
 * on the host. Runs lt_model_forward in batches of m->max_B (no gradient kept); every
 * sequence must fit m->max_T. Overwrites the model's activations. */
lt_status lt_model_features(lt_model *m, const lt_seq *seqs, int n, float *out);

/* Grey image of w x h values in [0, 255] (row-major): PNG when the library was built with
 * libpng, else binary PGM. `path` has no extension; the one used (".png" / ".pgm") is
 * appended. */
lt_status lt_write_grey_image(const char *path, const uint8_t *pixels, int w, int h);
/* Bytes as UTF-8 text: valid UTF-8 sequences are kept, every other byte becomes U+FFFD. */
lt_status lt_write_utf8_text(const char *path, const uint8_t *bytes, size_t n);

#ifdef __cplusplus
}
#endif
#endif
