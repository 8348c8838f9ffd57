/* loretta/svl.h - SVL-MNIST: building the paper's split from raw public sources.
 *
 * Three modalities linked only by their class label 0-9: I (digit images, IDX),
 * T (text: WineReviews descriptions by variety, or any `text,label` CSV) and A (spoken
 * digits, WAV). The split follows the paper's appendix C: three disjoint bimodal
 * training sets (I,T), (T,A), (A,I), the remaining samples as unimodal sets, and a test
 * set of aligned triplets; no sample is used twice. Sizes are parameters, scaled down
 * uniformly when a source holds fewer samples, with a printed note. */
#ifndef LORETTA_SVL_H
#define LORETTA_SVL_H

#include <stdint.h>

#include "loretta/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LT_SVL_CLASSES 10

/* Modality indices in every SVL-MNIST dataset file. */
enum { LT_SVL_I = 0, LT_SVL_T = 1, LT_SVL_A = 2 };

typedef struct lt_svl_build_opts {
    const char *mnist_dir;  /* train-images-idx3-ubyte[.gz] etc. */
    const char *audio_dir;  /* searched recursively for <digit>_<speaker>_<take>.wav */
    const char *text_csv;   /* WineReviews (description, variety) or (text, label) */
    const char *out_dir;
    int pairs_per_class;    /* per bimodal set; paper: 1200 (12,000 pairs) */
    int test_per_class;     /* aligned test triplets per class */
    int image_pool;         /* 1 = 28x28 (784 tokens), 2 = 14x14 average-pooled, ... */
    int audio_frames;       /* MFCC frames over one second; paper: 39 (hop 25 ms) */
    int audio_coeffs;       /* MFCC coefficients; paper: 13 */
    int text_max;           /* bytes of text kept (cut at a UTF-8 boundary) */
    int sample_rate;        /* audio is resampled to this rate; 8000 */
    uint64_t seed;
    int quiet;              /* 1 = no progress lines */
} lt_svl_build_opts;

lt_svl_build_opts lt_svl_build_defaults(void);

/* Builds train_IT, train_TA, train_AI, train_I, train_T, train_A and test_ITA (.ltds)
 * plus build.json (settings, counts, sources, scaling notes, audio normalisation) in
 * out_dir. Deterministic for a seed. */
lt_status lt_svl_build(const lt_svl_build_opts *o);

/* ---- the experiment ---- */

/* A preset: model size, the features the data is built with, training lengths, probe
 * settings. "tiny" (tests, <= 2 min), "laptop" (2 CPU cores, <= 40 min), "paper" (A100). */
typedef struct lt_svl_preset {
    char name[16];
    char model[16];          /* model preset for the dimensions: tiny, laptop, paper */
    lt_svl_build_opts build; /* feature sizes and split sizes (sources filled by the caller) */
    int batch;               /* rows per loader per step */
    int c2m3_steps, c2m3_warmup;
    int loretta_steps, loretta_warmup;
    double lr_max, lr_min;
    int max_spans;
    double p_cm3, transitive_share, p_all;
    int probe_epochs_uni, probe_epochs_multi, probe_per_class, probe_trials;
    int eval_max;            /* test triplets evaluated at most (0 = all) */
} lt_svl_preset;

lt_status lt_svl_preset_get(const char *name, lt_svl_preset *out);

/* Vocabulary layout of an SVL-MNIST model: each modality's 256 values, then BOS/EOS per
 * modality, then CM3's sentinels, end-of-span and BERT's mask. Positions per modality =
 * the dataset's max length + 2. Dimensions from the preset's model. */
struct lt_model_config;
struct lt_vocab_extra;
lt_status lt_svl_model_config(const char *data_dir, const lt_svl_preset *p,
                              struct lt_model_config *mc, struct lt_vocab_extra *ex);

typedef struct lt_svl_run_opts {
    const char *data_dir;  /* a built SVL-MNIST directory (build.json + .ltds files) */
    const char *out_dir;
    char link;             /* 'T', 'I' or 'A' */
    int all_links;
    const char *preset;
    const char *backend;   /* NULL = best device */
    int device, threads;
    uint64_t seed;
    int quiet;
    int precision;         /* lt_precision of the training stages (0 = fp32) */
} lt_svl_run_opts;

/* Trains C2M3 on the two pairs holding the linking modality plus the unimodal sets,
 * LoReTTa from its weights, and the control (C2M3 continued as many steps without
 * transitive modeling); evaluates each (perplexities pooled, conditional, ratios to the
 * context-free reference; linear probes) and writes report.md, results.json, metrics
 * logs and plots into out_dir/link_<X>. Finished stages are reused on a rerun. */
lt_status lt_svl_run(const lt_svl_run_opts *o);

#ifdef __cplusplus
}
#endif
#endif
