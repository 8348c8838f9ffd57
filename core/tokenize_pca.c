/* core/tokenize_pca.c - PCA down-projection of high-dimensional vectors (the paper's
 * omics data) followed by binning of each component to 1,000 levels.
 *
 * Fit: centre each feature on the training mean, SVD of the centred matrix
 * Xc = U S V^T (LAPACKE dgesdd, 'S': thin U and V^T). The rows of V^T are the principal
 * axes; the variance along axis c is s_c^2 / (n-1) and its ratio is against the total
 * variance sum_j var(x_j), exactly what numpy / sklearn report. The SVD of Xc is used
 * rather than an eigen-decomposition of Xc^T Xc because forming the covariance squares
 * the condition number and costs d^2 memory (d is ~20,000 genes, n a few hundred). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/tokenize.h"

#ifdef LT_HAVE_LAPACKE
#include <lapacke.h>
#endif

struct lt_pca {
    int64_t d, k, n_train;
    double *mean;  /* [d] */
    double *axes;  /* [k, d] */
    double *var;   /* [k] */
    double *ratio; /* [k] */
    lt_bin_params bins;
};

static const unsigned char PCA_MAGIC[8] = {'L', 'T', 'P', 'C', 'A', 0, 0, 0};
#define PCA_VERSION 1u
#define PCA_HEADER 48u

void lt_pca_free(lt_pca *p) {
    if (!p) return;
    free(p->mean);
    free(p->axes);
    free(p->var);
    free(p->ratio);
    lt_bin_params_free(&p->bins);
    free(p);
}

static lt_status pca_alloc(int64_t d, int64_t k, uint32_t levels, lt_pca **out) {
    lt_pca *p = calloc(1, sizeof *p);
    if (!p) return lt_error(LT_ERR_OUT_OF_MEMORY, "pca: struct");
    p->d = d;
    p->k = k;
    p->mean = malloc((size_t)d * sizeof(double));
    p->axes = malloc((size_t)(k * d) * sizeof(double));
    p->var = malloc((size_t)k * sizeof(double));
    p->ratio = malloc((size_t)k * sizeof(double));
    if (!p->mean || !p->axes || !p->var || !p->ratio) {
        lt_pca_free(p);
        return lt_error(LT_ERR_OUT_OF_MEMORY, "pca: %lld x %lld axes", (long long)k, (long long)d);
    }
    lt_status s = lt_bin_range(k, levels, 0.0, 0.0, &p->bins);
    if (s != LT_OK) {
        lt_pca_free(p);
        return lt_error_context(s, "pca: ");
    }
    *out = p;
    return LT_OK;
}

static lt_status check_dims(int64_t d, int64_t k) {
    if (d < 1 || d > ((int64_t)1 << 31) || k < 1 || k > d || k > 65536)
        return lt_error(LT_ERR_INVALID_ARG, "pca: need 1 <= k (%lld) <= d (%lld) <= 2^31 and k <= 65536",
                        (long long)k, (long long)d);
    return LT_OK;
}

lt_status lt_pca_transform(const lt_pca *p, const double *x, int64_t n, double *out) {
    if (!p || !out || (!x && n > 0)) return lt_error(LT_ERR_INVALID_ARG, "pca transform: NULL model, x or out");
    if (n < 0) return lt_error(LT_ERR_INVALID_ARG, "pca transform: negative row count %lld", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        const double *row = x + i * p->d;
        for (int64_t j = 0; j < p->d; j++)
            if (isnan(row[j]))
                return lt_error(LT_ERR_NUMERIC, "pca transform: sample %lld, feature %lld is NaN",
                                (long long)i, (long long)j);
        for (int64_t c = 0; c < p->k; c++) {
            const double *a = p->axes + c * p->d;
            double acc = 0.0;
            for (int64_t j = 0; j < p->d; j++) acc += (row[j] - p->mean[j]) * a[j];
            out[i * p->k + c] = acc;
        }
    }
    return LT_OK;
}

lt_status lt_pca_tokenize(const lt_pca *p, const double *x, int64_t n, uint16_t *out) {
    if (!p || !out || (!x && n > 0)) return lt_error(LT_ERR_INVALID_ARG, "pca tokenize: NULL model, x or out");
    if (n < 0) return lt_error(LT_ERR_INVALID_ARG, "pca tokenize: negative row count %lld", (long long)n);
    double *proj = malloc((size_t)(n * p->k) * sizeof(double) + 1);
    if (!proj) return lt_error(LT_ERR_OUT_OF_MEMORY, "pca tokenize: %lld x %lld", (long long)n, (long long)p->k);
    lt_status s = lt_pca_transform(p, x, n, proj);
    if (s == LT_OK) s = lt_bin_apply(&p->bins, proj, n, out);
    free(proj);
    return s;
}

lt_status lt_pca_set_levels(lt_pca *p, uint32_t levels) {
    if (!p) return lt_error(LT_ERR_INVALID_ARG, "pca set levels: NULL model");
    if (levels < 2 || levels > 65536u)
        return lt_error(LT_ERR_INVALID_ARG, "pca set levels: %u must be in 2..65536", levels);
    p->bins.levels = levels;
    return LT_OK;
}

int64_t lt_pca_input_dim(const lt_pca *p) { return p ? p->d : 0; }
int64_t lt_pca_components(const lt_pca *p) { return p ? p->k : 0; }
uint32_t lt_pca_levels(const lt_pca *p) { return p ? p->bins.levels : 0; }
const double *lt_pca_axes(const lt_pca *p) { return p ? p->axes : NULL; }
const double *lt_pca_mean(const lt_pca *p) { return p ? p->mean : NULL; }
const double *lt_pca_explained_variance(const lt_pca *p) { return p ? p->var : NULL; }
const double *lt_pca_explained_variance_ratio(const lt_pca *p) { return p ? p->ratio : NULL; }
const lt_bin_params *lt_pca_bins(const lt_pca *p) { return p ? &p->bins : NULL; }

#ifdef LT_HAVE_LAPACKE
/* SVD signs are arbitrary (LAPACK builds differ); flipping an axis so its largest
 * |loading| is positive (first index on ties) gives one canonical answer. */
static void fix_sign(double *a, int64_t d) {
    int64_t best = 0;
    for (int64_t j = 1; j < d; j++)
        if (fabs(a[j]) > fabs(a[best])) best = j;
    if (a[best] < 0)
        for (int64_t j = 0; j < d; j++) a[j] = -a[j];
}
#endif

lt_status lt_pca_fit(const double *x, int64_t n, int64_t d, int64_t k, lt_pca **out) {
    if (out) *out = NULL;
    if (!x || !out) return lt_error(LT_ERR_INVALID_ARG, "pca fit: NULL x or out");
    LT_TRY(check_dims(d, k));
    if (n < 2 || k > n)
        return lt_error(LT_ERR_INVALID_ARG, "pca fit: %lld training rows; need n >= 2 and k (%lld) <= n",
                        (long long)n, (long long)k);
#ifndef LT_HAVE_LAPACKE
    return lt_error(LT_ERR_UNSUPPORTED, "pca fit: loretta was built without LAPACKE (install liblapacke-dev and reconfigure)");
#else
    if (n > INT32_MAX || d > INT32_MAX || (double)n * (double)d > 1e10)
        return lt_error(LT_ERR_INVALID_ARG, "pca fit: %lld x %lld is too large for one dense SVD", (long long)n, (long long)d);
    lt_pca *p = NULL;
    LT_TRY(pca_alloc(d, k, LT_PCA_DEFAULT_LEVELS, &p));
    p->n_train = n;
    const int64_t m = n < d ? n : d;
    double *xc = malloc((size_t)(n * d) * sizeof(double));
    double *sv = malloc((size_t)m * sizeof(double));
    double *u = malloc((size_t)(n * m) * sizeof(double));
    double *vt = malloc((size_t)(m * d) * sizeof(double));
    double *proj = malloc((size_t)(n * k) * sizeof(double));
    lt_status s = LT_OK;
    if (!xc || !sv || !u || !vt || !proj) {
        s = lt_error(LT_ERR_OUT_OF_MEMORY, "pca fit: SVD work space for %lld x %lld", (long long)n, (long long)d);
        goto done;
    }
    for (int64_t j = 0; j < d; j++) p->mean[j] = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) {
            const double v = x[i * d + j];
            if (!isfinite(v)) {
                s = lt_error(LT_ERR_NUMERIC, "pca fit: training sample %lld, feature %lld is %s",
                             (long long)i, (long long)j, isnan(v) ? "NaN" : "infinite");
                goto done;
            }
            p->mean[j] += v;
        }
    for (int64_t j = 0; j < d; j++) p->mean[j] /= (double)n;
    double total = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) {
            const double c = x[i * d + j] - p->mean[j];
            xc[i * d + j] = c;
            total += c * c;
        }
    lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', (lapack_int)n, (lapack_int)d, xc, (lapack_int)d,
                                     sv, u, (lapack_int)m, vt, (lapack_int)d);
    if (info != 0) {
        s = lt_error(info < 0 ? LT_ERR_INTERNAL : LT_ERR_NUMERIC, "pca fit: LAPACKE_dgesdd returned %d%s", (int)info,
                     info > 0 ? " (the SVD did not converge)" : "");
        goto done;
    }
    for (int64_t c = 0; c < k; c++) {
        memcpy(p->axes + c * d, vt + c * d, (size_t)d * sizeof(double));
        fix_sign(p->axes + c * d, d);
        p->var[c] = sv[c] * sv[c] / (double)(n - 1);
        p->ratio[c] = total > 0.0 ? sv[c] * sv[c] / total : 0.0;
    }
    /* Binning range of each component: its training projections' min and max. */
    s = lt_pca_transform(p, x, n, proj);
    if (s == LT_OK) {
        lt_bin_params fitted;
        s = lt_bin_fit(proj, n, k, LT_PCA_DEFAULT_LEVELS, LT_BIN_PER_FEATURE, &fitted);
        if (s == LT_OK) {
            lt_bin_params_free(&p->bins);
            p->bins = fitted;
        }
    }
done:
    free(xc);
    free(sv);
    free(u);
    free(vt);
    free(proj);
    if (s != LT_OK) {
        lt_pca_free(p);
        return s;
    }
    *out = p;
    return LT_OK;
#endif
}

static void put_u32(unsigned char *b, uint32_t v) {
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *b) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)b[i] << (8 * i);
    return v;
}
static uint64_t get_u64(const unsigned char *b) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
    return v;
}

/* The f64 arrays in file order, so save and load walk the same table. */
static int pca_arrays(lt_pca *p, double **arr, uint64_t *len) {
    arr[0] = p->mean, len[0] = (uint64_t)p->d;
    arr[1] = p->axes, len[1] = (uint64_t)(p->k * p->d);
    arr[2] = p->var, len[2] = (uint64_t)p->k;
    arr[3] = p->ratio, len[3] = (uint64_t)p->k;
    arr[4] = p->bins.lo, len[4] = (uint64_t)p->k;
    arr[5] = p->bins.hi, len[5] = (uint64_t)p->k;
    return 6;
}

static uint64_t pca_file_size(uint64_t d, uint64_t k) { return PCA_HEADER + 8 * (d + k * d + 4 * k); }

lt_status lt_pca_save(const lt_pca *p, const char *path) {
    if (!p || !path) return lt_error(LT_ERR_INVALID_ARG, "pca save: NULL model or path");
    unsigned char h[PCA_HEADER] = {0};
    memcpy(h, PCA_MAGIC, 8);
    put_u32(h + 8, PCA_VERSION);
    put_u32(h + 12, p->bins.levels);
    put_u64(h + 16, (uint64_t)p->d);
    put_u64(h + 24, (uint64_t)p->k);
    put_u64(h + 32, (uint64_t)p->n_train);
    FILE *f = fopen(path, "wb");
    if (!f) return lt_error(LT_ERR_IO, "pca save: cannot create %s: %s", path, strerror(errno));
    int ok = fwrite(h, 1, PCA_HEADER, f) == PCA_HEADER;
    double *arr[6];
    uint64_t len[6];
    const int na = pca_arrays((lt_pca *)p, arr, len);
    for (int a = 0; a < na && ok; a++)
        for (uint64_t i = 0; i < len[a] && ok; i++) {
            unsigned char b[8];
            uint64_t bits;
            memcpy(&bits, &arr[a][i], 8);
            put_u64(b, bits);
            ok = fwrite(b, 1, 8, f) == 8;
        }
    ok = (fclose(f) == 0) && ok;
    return ok ? LT_OK : lt_error(LT_ERR_IO, "pca save: writing %s failed", path);
}

lt_status lt_pca_load(const char *path, lt_pca **out) {
    if (out) *out = NULL;
    if (!path || !out) return lt_error(LT_ERR_INVALID_ARG, "pca load: NULL path or out");
    FILE *f = fopen(path, "rb");
    if (!f) return lt_error(LT_ERR_IO, "pca load: cannot open %s: %s", path, strerror(errno));
    long fsize = -1;
    if (fseek(f, 0, SEEK_END) == 0) fsize = ftell(f);
    rewind(f);
    unsigned char h[PCA_HEADER];
    if (fsize < (long)PCA_HEADER || fread(h, 1, PCA_HEADER, f) != PCA_HEADER) {
        fclose(f);
        return lt_error(LT_ERR_FORMAT, "pca load: %s: %ld bytes is shorter than the %u-byte header", path, fsize, PCA_HEADER);
    }
    if (memcmp(h, PCA_MAGIC, 8) != 0 || get_u32(h + 8) != PCA_VERSION) {
        fclose(f);
        return lt_error(LT_ERR_FORMAT, "pca load: %s: offset 0: not an LTPCA version %u file", path, PCA_VERSION);
    }
    const uint32_t levels = get_u32(h + 12);
    const uint64_t d = get_u64(h + 16), k = get_u64(h + 24), n_train = get_u64(h + 32);
    lt_status s = check_dims(d > ((uint64_t)1 << 31) ? -1 : (int64_t)d, k > 65536 ? -1 : (int64_t)k);
    if (s != LT_OK) {
        fclose(f);
        return lt_error_context(LT_ERR_FORMAT, "pca load: %s: offset 16: ", path);
    }
    if ((uint64_t)fsize != pca_file_size(d, k)) {
        fclose(f);
        return lt_error(LT_ERR_FORMAT, "pca load: %s: d %llu, k %llu need %llu bytes, the file has %ld (truncated or corrupt)",
                        path, (unsigned long long)d, (unsigned long long)k,
                        (unsigned long long)pca_file_size(d, k), fsize);
    }
    lt_pca *p = NULL;
    s = pca_alloc((int64_t)d, (int64_t)k, levels, &p);
    if (s != LT_OK) {
        fclose(f);
        return lt_error_context(s == LT_ERR_INVALID_ARG ? LT_ERR_FORMAT : s, "pca load: %s: offset 12: ", path);
    }
    p->n_train = (int64_t)n_train;
    p->bins.mode = LT_BIN_PER_FEATURE;
    double *arr[6];
    uint64_t len[6];
    const int na = pca_arrays(p, arr, len);
    uint64_t off = PCA_HEADER;
    for (int a = 0; a < na && s == LT_OK; a++)
        for (uint64_t i = 0; i < len[a] && s == LT_OK; i++, off += 8) {
            unsigned char b[8];
            if (fread(b, 1, 8, f) != 8) {
                s = lt_error(LT_ERR_IO, "pca load: %s: short read at offset %llu", path, (unsigned long long)off);
                break;
            }
            const uint64_t bits = get_u64(b);
            memcpy(&arr[a][i], &bits, 8);
            if (!isfinite(arr[a][i]))
                s = lt_error(LT_ERR_FORMAT, "pca load: %s: offset %llu: value is not finite", path, (unsigned long long)off);
        }
    fclose(f);
    for (uint64_t c = 0; s == LT_OK && c < k; c++)
        if (p->bins.hi[c] < p->bins.lo[c])
            s = lt_error(LT_ERR_FORMAT, "pca load: %s: component %llu has range [%g, %g]", path,
                         (unsigned long long)c, p->bins.lo[c], p->bins.hi[c]);
    if (s != LT_OK) {
        lt_pca_free(p);
        return s;
    }
    *out = p;
    return LT_OK;
}
