/* loretta/eval.h - evaluation on the host: linear probing of frozen features (paper
 * table 2), Cox proportional hazards with elastic net and Harrell's c-index (table 3),
 * and BLEU-4 / ROUGE-L / METEOR for generated text (table 4). */
#ifndef LORETTA_EVAL_H
#define LORETTA_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "loretta/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- linear probing ---- */

typedef struct lt_probe_opts {
    int epochs;          /* table A3 */
    int batch;           /* 16 */
    double lr;           /* 0.1, cosine-annealed to 0 over all steps */
    double momentum;     /* 0.9, Nesterov */
    int per_class;       /* labelled training samples per class (100) */
    int trials;          /* fresh random subsets (3) */
    uint64_t seed;
} lt_probe_opts;

lt_probe_opts lt_probe_defaults(void);

typedef struct lt_probe_result {
    double mean, std;    /* accuracy over trials, in [0, 1] (std: sample std, n-1) */
    double acc[16];      /* per trial */
    int trials;
    int per_class_used;  /* less than asked when a class has fewer training samples */
} lt_probe_result;

/* Trains a softmax-regression probe (weights + bias, no weight decay) on `per_class`
 * samples per class drawn from (train_x, train_y), features standardised with the
 * subset's mean and std, and reports accuracy on (test_x, test_y). x are row-major
 * [n, dim] floats; labels in [0, n_classes). */
lt_status lt_probe_run(const float *train_x, const int32_t *train_y, int n_train,
                       const float *test_x, const int32_t *test_y, int n_test, int dim,
                       int n_classes, const lt_probe_opts *o, lt_probe_result *out);

/* ---- survival ---- */

/* Harrell's concordance index of risk scores (higher = earlier event) for times and
 * event flags (1 = event observed, 0 = censored). Ties in risk count 1/2; pairs are
 * comparable when the earlier time has an event. */
lt_status lt_cindex(const double *risk, const double *time, const int *event, int n, double *out);

typedef struct lt_cox_opts {
    double lambda;      /* overall penalty strength */
    double l1_ratio;    /* 0.5: penalty lambda (l1_ratio |b|_1 + (1 - l1_ratio) |b|^2 / 2) */
    double tol;         /* 1e-7 on the largest coefficient change */
    int max_iter;       /* 100000 */
} lt_cox_opts;

lt_cox_opts lt_cox_defaults(void);

/* Elastic-net Cox regression by cyclic coordinate descent on the Breslow partial
 * log-likelihood (Simon et al. 2011), features standardised inside. beta [dim] receives
 * coefficients on the ORIGINAL feature scale. */
lt_status lt_cox_fit(const double *x, const double *time, const int *event, int n, int dim,
                     const lt_cox_opts *o, double *beta, int *iterations);

/* ---- text ---- */

/* Corpus BLEU-4 (Papineni et al. 2002): whitespace tokens, clipped n-gram precisions
 * n = 1..4, geometric mean, brevity penalty against the closest reference length; one
 * reference per hypothesis. In [0, 1]. */
double lt_bleu4(const char *const *hyp, const char *const *ref, int n);
/* Mean ROUGE-L F-measure (LCS based, beta 1) over sentence pairs. */
double lt_rouge_l(const char *const *hyp, const char *const *ref, int n);
/* Mean METEOR (Banerjee & Lavie 2005) with EXACT unigram matching only (no stemming or
 * synonyms: no WordNet here), alpha 0.9, beta 3, gamma 0.5 as NLTK's defaults. */
double lt_meteor_exact(const char *const *hyp, const char *const *ref, int n);

#ifdef __cplusplus
}
#endif
#endif
