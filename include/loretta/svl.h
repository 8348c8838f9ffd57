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

#ifdef __cplusplus
}
#endif
#endif
