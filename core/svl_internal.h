/* core/svl_internal.h - shared by the SVL-MNIST source loaders and the split builder. */
#ifndef LT_SVL_INTERNAL_H
#define LT_SVL_INTERNAL_H

#include <stdint.h>

#include "loretta/dataset.h"
#include "loretta/sources.h"
#include "loretta/svl.h"

/* One modality's samples in memory: tokens (or, for audio, an index into the feature
 * matrix until normalisation turns features into tokens), label, test preference. */
typedef struct lt_svl_source {
    int n, cap;
    int *label;
    int *prefer_test;    /* official test-split samples go to the test triplets first */
    uint64_t *tok_off;   /* into tokens */
    uint32_t *tok_len;
    int *feat_index;     /* audio: row of the feature matrix */
    uint16_t *tokens;
    uint64_t tok_used, tok_cap;
    uint32_t len;        /* max tokens per sample */
    char desc[512];
} lt_svl_source;

/* Appends a sample with room for `len` tokens (written through *tokens). */
lt_status lt_svl_source_push(lt_svl_source *s, int label, int prefer_test, uint32_t len,
                             uint16_t **tokens);
void lt_svl_source_free(lt_svl_source *s);

lt_mfcc_params lt_svl_mfcc_params(const lt_svl_build_opts *o);

lt_status lt_svl_load_images(const lt_svl_build_opts *o, lt_svl_source *s);
lt_status lt_svl_load_text(const lt_svl_build_opts *o, lt_svl_source *s, int *n_warn);
/* *features: one row of frames*coeffs floats per file found (rows of skipped files unused). */
lt_status lt_svl_load_audio(const lt_svl_build_opts *o, lt_svl_source *s, float **features,
                            int *n_warn);

#endif
