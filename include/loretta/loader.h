/* loretta/loader.h - training batches from dataset files: one loader per dataset, each
 * applying an objective (causal, commutative, CM3, C2M3, BERT, transitive share), and a
 * mixture that takes one micro-batch from every loader per optimiser step, so each step
 * sees every modality combination (the paper's appendix A).
 *
 * Batches are [B, T] with T the longest row of that batch (rows are ragged; lengths go
 * to attention, so padding costs no attention work). Sample order is a seeded shuffle per
 * epoch; a loader's position (epoch, cursor) is two integers, saved in checkpoints. */
#ifndef LORETTA_LOADER_H
#define LORETTA_LOADER_H

#include <stdint.h>

#include "loretta/dataset.h"
#include "loretta/model.h"
#include "loretta/objectives.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lt_objective {
    LT_OBJ_CAUSAL = 0,   /* modalities in the dataset's table order */
    LT_OBJ_COMMUTATIVE,  /* modalities in a random order */
    LT_OBJ_CM3,          /* causal + CM3 on a share of samples */
    LT_OBJ_C2M3,         /* commutative + CM3 on a share of samples */
    LT_OBJ_BERT,         /* masked prediction (bidirectional models) */
    LT_OBJ_COUNT
} lt_objective;

const char *lt_objective_name(lt_objective o);
lt_status lt_objective_parse(const char *name, lt_objective *out);

/* Generates, for n prompts at once, modality `target` (the same for all n); row i's
 * tokens go to out + i * stride, their count to lens[i]. No gradients. */
typedef lt_status (*lt_generate_batch_fn)(void *ctx, const lt_seq *prompts, int n, int target,
                                          int32_t *out, int stride, int *lens);

typedef struct lt_loader_opts {
    int batch;                /* rows per micro-batch */
    lt_objective objective;
    double p_cm3;             /* share of samples CM3 transforms (0.5) */
    int max_spans;            /* CM3 spans at most (<= the sentinels) */
    double p_bert;            /* BERT's mask probability (0.15) */
    double transitive_share;  /* share of rows built by transitive modeling (0 = none) */
    lt_transitive_opts transitive;
    const lt_modality_graph *graph;   /* needed when transitive_share > 0 */
    lt_generate_batch_fn generate;    /* needed when transitive_share > 0 */
    void *generate_ctx;
    uint64_t seed;
} lt_loader_opts;

lt_loader_opts lt_loader_defaults(void);

typedef struct lt_loader lt_loader;

/* Opens `path` for a model config (its modalities matched by name; the dataset may hold
 * modalities the model lacks only if no sample uses them alone). max_T bounds a row. */
lt_status lt_loader_open(const char *path, const lt_model_config *cfg, const lt_vocab_extra *ex,
                         const lt_loader_opts *o, int max_T, lt_loader **out);
void lt_loader_close(lt_loader *l);
const lt_dataset *lt_loader_dataset(const lt_loader *l);
/* The next micro-batch; valid until the next call. */
lt_status lt_loader_next(lt_loader *l, const lt_batch **out);
/* Position for checkpoints and resume. */
void lt_loader_position(const lt_loader *l, uint64_t *epoch, uint64_t *cursor);
lt_status lt_loader_seek(lt_loader *l, uint64_t epoch, uint64_t cursor);
/* Rows built by transitive modeling so far, and generated modalities. */
void lt_loader_transitive_stats(const lt_loader *l, uint64_t *rows, uint64_t *generated);
/* Longest row any sample of this dataset can produce (for sizing activations). */
int lt_loader_max_row(const lt_model_config *cfg, const lt_vocab_extra *ex, int max_spans);

#ifdef __cplusplus
}
#endif
#endif
