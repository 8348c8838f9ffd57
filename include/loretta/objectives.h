/* loretta/objectives.h - the LoReTTa training objectives as composable transforms of
 * host-side token sequences (paper section 3, appendix D; SPEC section 2).
 *
 * A sample of one or more modalities becomes a sequence
 *     [BOS_a a_1 .. a_l EOS_a  BOS_b b_1 .. b_m EOS_b ...]
 * where every token carries its position id (modality's base row + position inside the
 * modality, BOS at 0), its modality and a "counted" flag saying whether predicting it is
 * part of the loss. Transforms (commutative order, causal masking, transitive context)
 * rewrite sequences; lt_seq_to_rows turns one into next-token training rows.
 *
 * Every random choice comes from an lt_obj_rng, a Philox counter keyed by (seed, stream),
 * so a transform is reproducible from a seed and independent of thread count. */
#ifndef LORETTA_OBJECTIVES_H
#define LORETTA_OBJECTIVES_H

#include <stdint.h>

#include "loretta/dataset.h"
#include "loretta/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Special tokens beyond the modalities' own: CM3 sentinels and end-of-span, BERT's mask. */
typedef struct lt_vocab_extra {
    int32_t sentinel_base; /* sentinel i is sentinel_base + i */
    int n_sentinels;       /* = the largest number of spans CM3 may mask */
    int32_t end_of_span;
    int32_t mask;          /* BERT's [MASK] */
} lt_vocab_extra;

typedef struct lt_obj_rng {
    uint64_t seed, stream, counter;
} lt_obj_rng;

lt_obj_rng lt_obj_rng_make(uint64_t seed, uint64_t stream);
uint32_t lt_obj_rng_u32(lt_obj_rng *r);
double lt_obj_rng_uniform(lt_obj_rng *r);       /* [0, 1) with 53 bits */
uint32_t lt_obj_rng_below(lt_obj_rng *r, uint32_t n); /* uniform in [0, n), unbiased */
int lt_obj_rng_poisson1(lt_obj_rng *r);          /* Poisson(1) by inversion */

#define LT_SEQ_SPECIAL (-1) /* modality of sentinel / end-of-span tokens */

typedef struct lt_seq {
    int len, cap;
    int32_t *tok;
    int32_t *pos;    /* position-table row */
    int8_t *mod;     /* model modality index, or LT_SEQ_SPECIAL */
    uint8_t *counted;/* 1: predicting this token counts in the loss */
} lt_seq;

lt_status lt_seq_init(lt_seq *s, int cap);
void lt_seq_free(lt_seq *s);
void lt_seq_clear(lt_seq *s);
lt_status lt_seq_push(lt_seq *s, int32_t tok, int32_t pos, int mod, int counted);

/* Maps dataset modality indices to model modality indices by name; -1 where the model has
 * no such modality. Fails naming the first dataset modality the model lacks when strict. */
lt_status lt_obj_modality_map(const lt_dataset *ds, const lt_model_config *cfg, int strict,
                              int map[LT_DS_MAX_MODALITIES]);

/* Appends [BOS tokens EOS] of one modality (values mapped to tok_lo + v). `counted` sets
 * the flag of every token appended (BOS included). Fails if the modality's max_len is
 * exceeded. */
lt_status lt_seq_append_modality(lt_seq *s, const lt_model_config *cfg, int model_mod,
                                 const uint16_t *values, uint32_t n, int counted);
/* The same with ready token ids (already in the modality's range), e.g. generated ones. */
lt_status lt_seq_append_tokens(lt_seq *s, const lt_model_config *cfg, int model_mod,
                               const int32_t *tokens, uint32_t n, int counted);

/* Causal: the modalities of `sample` in the given order (model modality indices; n of
 * them; every one must be present in the sample). */
lt_status lt_obj_causal(lt_seq *s, const lt_model_config *cfg, const lt_ds_sample *sample,
                        const int map[LT_DS_MAX_MODALITIES], const int *order, int n);
/* Commutative: the present modalities in a random order. */
lt_status lt_obj_commutative(lt_seq *s, const lt_model_config *cfg, const lt_ds_sample *sample,
                             const int map[LT_DS_MAX_MODALITIES], lt_obj_rng *r);

/* Causal masked modeling (CM3) applied in place: k ~ Poisson(1) clamped to [1, max_spans]
 * spans, each inside one modality's own tokens (never BOS/EOS), non-overlapping, with
 * uniform boundaries. Span i is replaced by sentinel i and `sentinel_i span end_of_span`
 * is appended for each span in order. Moved tokens keep their position ids; the
 * sentinels and the end-of-span take their span's first position. Predicting a sentinel
 * never counts. Returns the number of spans placed (0 when no modality has room). */
lt_status lt_obj_cm3(lt_seq *s, const lt_vocab_extra *ex, int max_spans, lt_obj_rng *r,
                     int *n_spans);

/* BERT masking in place for bidirectional models: each modality token is chosen with
 * probability p (at least one per sequence); chosen tokens are replaced by [MASK] 80%, a
 * random token of the same modality 10%, kept 10%. labels[i] is the original token where
 * chosen, -1 elsewhere (the loss is on chosen positions only). */
lt_status lt_obj_bert(lt_seq *s, const lt_model_config *cfg, const lt_vocab_extra *ex, double p,
                      lt_obj_rng *r, int32_t *labels);

/* Next-token rows: tokens[t] = s[t], targets[t] = s[t+1], weight 1 where s[t+1] is
 * counted, modality[t] = modality of s[t+1] (0 for special tokens); T-1 rows of a
 * sequence of T tokens, written at row offset `at` of arrays with room for `cap`. */
lt_status lt_seq_to_rows(const lt_seq *s, int cap, int32_t *tokens, int32_t *targets,
                         float *weights, int32_t *pos_ids, int32_t *modality, int *n_rows);

/* ---- transitive modeling ---- */

/* The graph of aligned modality pairs present in the training data (figure 2d): edge
 * (i, j) when some dataset holds samples with both. Transitive chains follow paths in a
 * spanning tree of it (BFS from modality 0, fixed so runs are reproducible). */
typedef struct lt_modality_graph {
    int n;
    uint8_t edge[LT_MAX_MODALITIES][LT_MAX_MODALITIES];
    int parent[LT_MAX_MODALITIES]; /* spanning tree (BFS), -1 at roots */
    int component[LT_MAX_MODALITIES];
} lt_modality_graph;

lt_status lt_graph_init(lt_modality_graph *g, int n);
void lt_graph_add_pair(lt_modality_graph *g, int i, int j);
/* Builds the spanning tree; call after the last add. */
void lt_graph_finish(lt_modality_graph *g);
/* Tree path from a to b, both included: path[0] = a, path[*n-1] = b. Fails naming the
 * two modalities when no path exists. */
lt_status lt_graph_path(const lt_modality_graph *g, const lt_model_config *cfg, int a, int b,
                        int *path, int *n);

/* Generates the tokens of model modality `target` conditioned on `prompt` (a sequence
 * whose last modality is complete; the generator appends BOS_target itself). Tokens are
 * written to out (at most max_out) and *n_out set; no gradient flows through it. */
typedef lt_status (*lt_generate_fn)(void *ctx, const lt_seq *prompt, int target, int32_t *out,
                                    int max_out, int *n_out);

typedef struct lt_transitive_opts {
    double p_all;          /* probability of the all-modalities sequence (0.1) */
    int shuffle;           /* commutative order inside the transitive row (1) */
} lt_transitive_opts;

/* Transitive modeling for one sample (appendix D, generalised to any spanning tree):
 * the sample's real modalities R and a missing modality y are chosen; y (and the
 * intermediate modalities on the tree path from a real one to y) are generated; the
 * row is [y_hat, x] for a real x, with the loss only on real tokens. With probability
 * p_all the row holds every modality (generated where missing), shuffled, loss on the
 * real ones. Cases of the paper (a-b-c chain): (a,b) -> [c_hat, a]; (b,c) -> [a_hat, c];
 * a -> b_hat -> [c_hat, a]; c -> b_hat -> [a_hat, c]; b -> [a_hat, c_hat] shuffled (no
 * real tokens: the pseudocode's case 4, counted as the paper writes it).
 * *used_generated is set to the number of generated modalities. */
lt_status lt_obj_transitive(lt_seq *s, const lt_model_config *cfg, const lt_modality_graph *g,
                            const lt_ds_sample *sample, const int map[LT_DS_MAX_MODALITIES],
                            const lt_transitive_opts *o, lt_obj_rng *r, lt_generate_fn gen,
                            void *gen_ctx, int *used_generated);

/* The same transform in three phases, so a trainer can batch the generation of many
 * rows: plan (every random choice), then run the plan's generation steps (step k of
 * every row can go in one batched call per target modality), then assemble the row. */
typedef struct lt_transitive_plan {
    int n_steps;
    int from[LT_MAX_MODALITIES], to[LT_MAX_MODALITIES]; /* generation steps, in order */
    int n_order;
    int order[LT_MAX_MODALITIES];                       /* modalities of the row */
    /* the sample's tokens and the generated ones, per model modality */
    int32_t *buf[LT_MAX_MODALITIES];
    int len[LT_MAX_MODALITIES];
    int have[LT_MAX_MODALITIES];                        /* 0 none, 1 real, 2 generated */
} lt_transitive_plan;

lt_status lt_transitive_plan_make(lt_transitive_plan *p, const lt_model_config *cfg,
                                  const lt_modality_graph *g, const lt_ds_sample *sample,
                                  const int map[LT_DS_MAX_MODALITIES],
                                  const lt_transitive_opts *o, lt_obj_rng *r);
/* The prompt of generation step k: [BOS_from tokens EOS_from] of the plan's buffers. */
lt_status lt_transitive_plan_prompt(const lt_transitive_plan *p, const lt_model_config *cfg,
                                    int k, lt_seq *prompt);
/* Stores the tokens generated by step k (copied). */
lt_status lt_transitive_plan_store(lt_transitive_plan *p, const lt_model_config *cfg, int k,
                                   const int32_t *tokens, int n);
/* Builds the row: loss on real tokens (case 4: on the second modality). */
lt_status lt_transitive_plan_assemble(const lt_transitive_plan *p, const lt_model_config *cfg,
                                      lt_seq *s);
void lt_transitive_plan_free(lt_transitive_plan *p);

#ifdef __cplusplus
}
#endif
#endif
