/* loretta/tokenize.h - turning continuous or pre-computed data into discrete tokens
 * (u16, values 0..levels-1) for a dataset modality (loretta/dataset.h).
 *
 *   value binning: v -> floor((v - lo) / (hi - lo) * levels), clamped to [0, levels-1],
 *                  lo/hi per feature or global, from TRAINING rows only (or given).
 *   PCA:           centre on the training mean, project on the top k principal axes
 *                  (LAPACKE dgesdd), then bin each component with its training range;
 *                  the paper's omics vectors become k tokens of 1,000 levels.
 *   npy codes:     pre-computed discrete ids (VQ-VAE codebook indices) from .npy files.
 *
 * docs/tokenizers.md shows how to feed the results to lt_dataset_writer_add. */
#ifndef LORETTA_TOKENIZE_H
#define LORETTA_TOKENIZE_H

#include <stdint.h>

#include "loretta/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- value binning ------------------------------------------------------------------ */

typedef enum lt_bin_mode {
    LT_BIN_PER_FEATURE = 0, /* lo/hi of each feature (column) separately */
    LT_BIN_GLOBAL = 1,      /* one lo/hi over all features */
    LT_BIN_GIVEN = 2        /* a range the caller chose (lt_bin_range) */
} lt_bin_mode;

/* Per-feature ranges; a global or given range is stored once per feature all the same,
 * so lt_bin_apply has one code path. A feature with hi == lo (constant in training)
 * maps values <= lo to 0 and values > lo to levels-1. */
typedef struct lt_bin_params {
    int64_t dim;     /* features per row */
    uint32_t levels; /* 2..65536 */
    uint32_t mode;   /* lt_bin_mode, informational */
    double *lo;      /* [dim] */
    double *hi;      /* [dim] */
} lt_bin_params;

/* Fits lo/hi on `values` [n, dim] row-major (the training rows). Every value must be
 * finite: NaN/Inf is LT_ERR_NUMERIC naming the row and feature. mode: PER_FEATURE or
 * GLOBAL. Free with lt_bin_params_free. */
lt_status lt_bin_fit(const double *values, int64_t n, int64_t dim, uint32_t levels,
                     lt_bin_mode mode, lt_bin_params *out);
/* A fixed range [lo, hi] for every feature (mode GIVEN). */
lt_status lt_bin_range(int64_t dim, uint32_t levels, double lo, double hi, lt_bin_params *out);
/* values [n, dim] -> out [n, dim]. Values outside the training range are clamped
 * (+-Inf too); NaN is LT_ERR_NUMERIC naming the row and feature. */
lt_status lt_bin_apply(const lt_bin_params *p, const double *values, int64_t n, uint16_t *out);
void lt_bin_params_free(lt_bin_params *p);
/* Binary file: magic "LTBINS\0\0", version, levels, mode, dim, then lo/hi pairs (f64 LE).
 * Load checks the size against the header and that every range is finite. */
lt_status lt_bin_save(const lt_bin_params *p, const char *path);
lt_status lt_bin_load(const char *path, lt_bin_params *out);

/* ---- PCA down-projection ------------------------------------------------------------ */

#define LT_PCA_DEFAULT_LEVELS 1000u

typedef struct lt_pca lt_pca;

/* Fits on x [n, d] row-major training rows: centres each feature, takes the SVD of the
 * centred matrix (LAPACKE dgesdd), keeps k <= min(n, d) components. Each component's
 * sign is fixed so its largest-magnitude loading (first one on ties) is positive, which
 * makes results reproducible across LAPACK builds and comparable with numpy. The
 * training projections give each component's binning range (levels 1000; see
 * lt_pca_set_levels). LT_ERR_UNSUPPORTED when built without LAPACKE. */
lt_status lt_pca_fit(const double *x, int64_t n, int64_t d, int64_t k, lt_pca **out);
/* x [n, d] -> out [n, k]: (x - mean) @ components^T. NaN input is LT_ERR_NUMERIC. */
lt_status lt_pca_transform(const lt_pca *p, const double *x, int64_t n, double *out);
/* Transform, then bin each component to `levels` with its training range: out [n, k]. */
lt_status lt_pca_tokenize(const lt_pca *p, const double *x, int64_t n, uint16_t *out);
lt_status lt_pca_set_levels(lt_pca *p, uint32_t levels);
int64_t lt_pca_input_dim(const lt_pca *p);
int64_t lt_pca_components(const lt_pca *p);
uint32_t lt_pca_levels(const lt_pca *p);
/* Row c of [k, d]: the c-th principal axis (unit length). */
const double *lt_pca_axes(const lt_pca *p);
const double *lt_pca_mean(const lt_pca *p);
/* Variance along each kept axis (s^2 / (n-1)) and its share of the total variance of
 * the training data (all d features), as numpy/sklearn report them. */
const double *lt_pca_explained_variance(const lt_pca *p);
const double *lt_pca_explained_variance_ratio(const lt_pca *p);
/* The binning of the components (lo/hi = training range of each component). */
const lt_bin_params *lt_pca_bins(const lt_pca *p);
/* Binary file: magic "LTPCA\0\0\0", version, levels, d, k, n_train, then f64 LE arrays
 * (mean, axes, variance, ratio, lo, hi). Load checks the size against the dims. */
lt_status lt_pca_save(const lt_pca *p, const char *path);
lt_status lt_pca_load(const char *path, lt_pca **out);
void lt_pca_free(lt_pca *p);

/* ---- pre-computed codes from .npy --------------------------------------------------- */

/* Loads a 1-D (one row) or 2-D [rows, cols] C-order array of uint8, uint16, int32 or
 * int64 (little endian) codes as u16. The header is checked against the file size (which
 * must match exactly); negative codes or codes > 65535 are LT_ERR_RANGE naming the row
 * and column. *max_code is the largest code (-1 for an empty array), so a dataset
 * modality of max_code+1 levels holds them. Free *codes with free(). */
lt_status lt_npy_codes_load(const char *path, uint16_t **codes, int64_t *rows, int64_t *cols,
                            int32_t *max_code);

#ifdef __cplusplus
}
#endif
#endif
