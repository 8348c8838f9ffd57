/* core/clip_loss.c - CLIP's symmetric InfoNCE on the host (the batch is small: n x n
 * logits), with its gradient w.r.t. the raw pooled embeddings and the log temperature.
 *
 * z = e / |e|;  L = exp(s) za zb^T;  loss = (CE_rows(L) + CE_cols(L)) / 2, means over n.
 * dloss/dL_ij = (softmax_row_i(L)_j + softmax_col_j(L)_i - 2 [i = j]) / (2n) =: G_ij
 * dza = exp(s) G zb, dzb = exp(s) G^T za, ds = sum G_ij L_ij,
 * de = (dz - z (z . dz)) / |e| (the normalisation's Jacobian). Everything in double. */
#include <math.h>
#include <stdlib.h>

#include "loretta/pretrain.h"

static void normalise(const float *e, int n, int d, double *z, double *norm) {
    for (int i = 0; i < n; i++) {
        double ss = 0;
        for (int k = 0; k < d; k++) ss += (double)e[(size_t)i * d + k] * e[(size_t)i * d + k];
        norm[i] = sqrt(ss) > 1e-12 ? sqrt(ss) : 1e-12;
        for (int k = 0; k < d; k++) z[(size_t)i * d + k] = e[(size_t)i * d + k] / norm[i];
    }
}

static void back_normalise(const double *dz, const double *z, const double *norm, int n, int d, float *de) {
    for (int i = 0; i < n; i++) {
        double dot = 0;
        for (int k = 0; k < d; k++) dot += dz[(size_t)i * d + k] * z[(size_t)i * d + k];
        for (int k = 0; k < d; k++)
            de[(size_t)i * d + k] = (float)((dz[(size_t)i * d + k] - z[(size_t)i * d + k] * dot) / norm[i]);
    }
}

lt_status lt_clip_loss(const float *a, const float *b, int n, int d, double log_scale,
                       double *loss, float *da, float *db, double *dlog_scale) {
    if (!a || !b || n < 1 || d < 1 || !isfinite(log_scale))
        return lt_error(LT_ERR_INVALID_ARG, "clip loss: %d embeddings of %d dims, log scale %g", n, d, log_scale);
    const size_t nd = (size_t)n * d, nn = (size_t)n * n;
    double *za = malloc(nd * sizeof(double)), *zb = malloc(nd * sizeof(double));
    double *na = malloc((size_t)n * sizeof(double)), *nb = malloc((size_t)n * sizeof(double));
    double *L = malloc(nn * sizeof(double)), *G = calloc(nn, sizeof(double));
    double *dza = calloc(nd, sizeof(double)), *dzb = calloc(nd, sizeof(double));
    if (!za || !zb || !na || !nb || !L || !G || !dza || !dzb) {
        free(za); free(zb); free(na); free(nb); free(L); free(G); free(dza); free(dzb);
        return lt_error(LT_ERR_OUT_OF_MEMORY, "clip loss: %d x %d", n, d);
    }
    normalise(a, n, d, za, na);
    normalise(b, n, d, zb, nb);
    const double scale = exp(log_scale);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double dot = 0;
            for (int k = 0; k < d; k++) dot += za[(size_t)i * d + k] * zb[(size_t)j * d + k];
            L[(size_t)i * n + j] = scale * dot;
        }
    double total = 0;
    const double w = 0.5 / n;
    for (int dir = 0; dir < 2; dir++) /* rows (a -> b), then columns (b -> a) */
        for (int i = 0; i < n; i++) {
            double mx = -INFINITY, se = 0;
            for (int j = 0; j < n; j++) {
                double v = dir ? L[(size_t)j * n + i] : L[(size_t)i * n + j];
                mx = v > mx ? v : mx;
            }
            for (int j = 0; j < n; j++) se += exp((dir ? L[(size_t)j * n + i] : L[(size_t)i * n + j]) - mx);
            const double lse = mx + log(se);
            total += w * (lse - L[(size_t)i * n + i]);
            for (int j = 0; j < n; j++) {
                const size_t at = dir ? (size_t)j * n + i : (size_t)i * n + j;
                G[at] += w * (exp(L[at] - lse) - (i == j));
            }
        }
    double ds = 0;
    for (size_t k = 0; k < nn; k++) ds += G[k] * L[k];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            const double g = scale * G[(size_t)i * n + j];
            if (g == 0) continue;
            for (int k = 0; k < d; k++) {
                dza[(size_t)i * d + k] += g * zb[(size_t)j * d + k];
                dzb[(size_t)j * d + k] += g * za[(size_t)i * d + k];
            }
        }
    if (da) back_normalise(dza, za, na, n, d, da);
    if (db) back_normalise(dzb, zb, nb, n, d, db);
    if (loss) *loss = total;
    if (dlog_scale) *dlog_scale = ds;
    free(za); free(zb); free(na); free(nb); free(L); free(G); free(dza); free(dzb);
    return LT_OK;
}
