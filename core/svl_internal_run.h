/* core/svl_internal_run.h - shared by the SVL-MNIST experiment's stages (svl_run.c),
 * evaluation (svl_eval.c) and report (svl_report.c). */
#ifndef LT_SVL_INTERNAL_RUN_H
#define LT_SVL_INTERNAL_RUN_H

#include <stdio.h>

#include "loretta/checkpoint.h"
#include "loretta/generate.h"
#include "loretta/loader.h"
#include "loretta/objectives.h"
#include "loretta/svl.h"
#include "loretta/train.h"

#define SVL_NCOMB 7   /* I, T, A, (I,T), (I,A), (T,A), (I,T,A) */
#define SVL_NMODEL 3  /* C2M3, LoReTTa, control */

typedef struct svl_ctx {
    const lt_svl_run_opts *o;
    lt_svl_preset p;
    lt_model_config mc;
    lt_vocab_extra ex;
    lt_device *dev;
    char link;
    char out[1024];       /* out_dir/link_X */
    int max_T;
    lt_modality_graph graph; /* the aligned pairs trained on */
    char files[5][1100];     /* the two pair files and three unimodal files */
    int n_files;
    int seen[3][3];          /* modality pair trained on */
    uint32_t fixed_mask;     /* modalities of fixed length (image, audio) */
} svl_ctx;

typedef struct svl_eval {
    int done;
    double ppl[SVL_NCOMB];       /* pooled, both orders (all 6 for the triplet) */
    double ref[SVL_NCOMB];       /* context-free reference */
    double cond[3][3];           /* cond[x][y] = perplexity of x given y */
    double probe_mean[SVL_NCOMB], probe_std[SVL_NCOMB];
    int probe_per_class;
    long tokens;
    double seconds;
} svl_eval;

typedef struct svl_stage {
    char name[16];
    int steps;
    double seconds;
    double final_loss;
    uint64_t transitive_rows, generated;
} svl_stage;

extern const char *const lt_svl_comb_name[SVL_NCOMB];
extern const int lt_svl_comb_mods[SVL_NCOMB][4]; /* modality list, -1 terminated */

/* Trains one stage into ctx->out/<name>; reuses a finished one. */
lt_status lt_svl_train_stage(svl_ctx *c, const char *name, const char *init_ckpt, int steps, int warmup,
                             int transitive, svl_stage *out);
/* Evaluates a checkpoint (perplexities and probes); cached in <stage>/eval.json. */
lt_status lt_svl_evaluate(svl_ctx *c, const char *stage, svl_eval *out);
/* Writes report.md, results.json and the plots. */
lt_status lt_svl_write_report(svl_ctx *c, const svl_stage *stages, const svl_eval *evals);


#endif
