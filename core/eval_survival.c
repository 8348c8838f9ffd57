/* core/eval_survival.c - Harrell's c-index and elastic-net Cox regression by cyclic
 * coordinate descent (Simon, Friedman, Hastie, Tibshirani 2011, "Regularization paths for
 * Cox's proportional hazards model via coordinate descent"), as scikit-survival's
 * CoxnetSurvivalAnalysis and glmnet fit it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/eval.h"

lt_status lt_cindex(const double *risk, const double *time, const int *event, int n, double *out) {
    if (!risk || !time || !event || !out || n < 2)
        return lt_error(LT_ERR_INVALID_ARG, "cindex: needs at least 2 samples");
    double conc = 0;
    long comparable = 0;
    for (int i = 0; i < n; i++) {
        if (!event[i]) continue;
        for (int j = 0; j < n; j++) {
            if (time[i] >= time[j]) continue; /* i must fail strictly before j */
            comparable++;
            if (risk[i] > risk[j]) conc += 1.0;
            else if (risk[i] == risk[j]) conc += 0.5;
        }
    }
    if (comparable == 0) return lt_error(LT_ERR_INVALID_ARG, "cindex: no comparable pair (no event before another time)");
    *out = conc / (double)comparable;
    return LT_OK;
}

lt_cox_opts lt_cox_defaults(void) {
    lt_cox_opts o = {0.01, 0.5, 1e-7, 100000};
    return o;
}

static const double *sort_time;
static int cmp_time(const void *a, const void *b) {
    double x = sort_time[*(const int *)a], y = sort_time[*(const int *)b];
    return x < y ? -1 : x > y;
}

/* Gradient (of the log partial likelihood w.r.t. eta) and the diagonal of its negative
 * Hessian, Breslow ties, in O(n) over the time-sorted order. */
static void cox_grad(const double *eta, const double *time, const int *event, const int *ord,
                     int n, double *grad, double *w, double *S, double *eeta) {
    double mx = -INFINITY;
    for (int i = 0; i < n; i++) mx = fmax(mx, eta[i]);
    for (int i = 0; i < n; i++) eeta[i] = exp(eta[i] - mx); /* shift cancels in ratios */
    /* S at sorted position k: sum of exp(eta) over times >= time of k (ties share). */
    double acc = 0;
    for (int k = n - 1; k >= 0;) {
        int k0 = k;
        while (k0 > 0 && time[ord[k0 - 1]] == time[ord[k]]) k0--;
        for (int q = k0; q <= k; q++) acc += eeta[ord[q]];
        for (int q = k0; q <= k; q++) S[q] = acc;
        k = k0 - 1;
    }
    /* For each sample, the events at times <= its time contribute d/S and d/S^2. */
    double a1 = 0, a2 = 0;
    for (int k = 0; k < n;) {
        int k1 = k;
        while (k1 + 1 < n && time[ord[k1 + 1]] == time[ord[k]]) k1++;
        for (int q = k; q <= k1; q++)
            if (event[ord[q]]) {
                a1 += 1.0 / S[q];
                a2 += 1.0 / (S[q] * S[q]);
            }
        for (int q = k; q <= k1; q++) {
            int i = ord[q];
            double e = eeta[i];
            grad[i] = (event[i] ? 1.0 : 0.0) - e * a1;
            w[i] = e * a1 - e * e * a2;
        }
        k = k1 + 1;
    }
}

lt_status lt_cox_fit(const double *x, const double *time, const int *event, int n, int dim,
                     const lt_cox_opts *o, double *beta, int *iterations) {
    if (!x || !time || !event || !beta || !o || n < 2 || dim < 1)
        return lt_error(LT_ERR_INVALID_ARG, "cox: needs n >= 2 samples and dim >= 1");
    if (!(o->lambda >= 0) || !(o->l1_ratio >= 0 && o->l1_ratio <= 1) || !(o->tol > 0) || o->max_iter < 1)
        return lt_error(LT_ERR_INVALID_ARG, "cox: lambda %g >= 0, l1_ratio %g in [0,1], tol %g > 0",
                        o->lambda, o->l1_ratio, o->tol);
    int nev = 0;
    for (int i = 0; i < n; i++) nev += event[i] != 0;
    if (nev == 0) return lt_error(LT_ERR_INVALID_ARG, "cox: no event among %d samples", n);
    double *xs = malloc(sizeof(double) * (size_t)n * dim), *mean = calloc((size_t)dim, sizeof(double));
    double *sd = calloc((size_t)dim, sizeof(double)), *b = calloc((size_t)dim, sizeof(double));
    double *eta = calloc((size_t)n, sizeof(double)), *grad = malloc(sizeof(double) * (size_t)n);
    double *w = malloc(sizeof(double) * (size_t)n), *S = malloc(sizeof(double) * (size_t)n);
    double *ee = malloc(sizeof(double) * (size_t)n), *z = malloc(sizeof(double) * (size_t)n);
    int *ord = malloc(sizeof(int) * (size_t)n);
    lt_status st = LT_OK;
    if (!xs || !mean || !sd || !b || !eta || !grad || !w || !S || !ee || !z || !ord) {
        st = lt_error(LT_ERR_OUT_OF_MEMORY, "cox: %d x %d", n, dim);
        goto done;
    }
    for (int j = 0; j < dim; j++) {
        for (int i = 0; i < n; i++) mean[j] += x[(size_t)i * dim + j] / n;
        for (int i = 0; i < n; i++) sd[j] += pow(x[(size_t)i * dim + j] - mean[j], 2) / n;
        sd[j] = sqrt(sd[j]);
        if (sd[j] < 1e-12) sd[j] = 1.0; /* a constant feature stays at 0 */
        for (int i = 0; i < n; i++) xs[(size_t)i * dim + j] = (x[(size_t)i * dim + j] - mean[j]) / sd[j];
    }
    for (int i = 0; i < n; i++) ord[i] = i;
    sort_time = time;
    qsort(ord, (size_t)n, sizeof(int), cmp_time);
    int it = 0;
    double l1 = o->lambda * o->l1_ratio, l2 = o->lambda * (1.0 - o->l1_ratio);
    for (int outer = 0; it < o->max_iter; outer++) {
        cox_grad(eta, time, event, ord, n, grad, w, S, ee);
        for (int i = 0; i < n; i++) {
            if (w[i] < 1e-12) w[i] = 1e-12;
            z[i] = eta[i] + grad[i] / w[i];
        }
        double outer_change = 0;
        /* Inner coordinate descent on the weighted least-squares approximation (1/n scale). */
        for (; it < o->max_iter; it++) {
            double max_change = 0;
            for (int j = 0; j < dim; j++) {
                double num = 0, den = 0;
                for (int i = 0; i < n; i++) {
                    double xij = xs[(size_t)i * dim + j];
                    num += w[i] * xij * (z[i] - eta[i] + xij * b[j]);
                    den += w[i] * xij * xij;
                }
                num /= n;
                den /= n;
                double soft = num > l1 ? num - l1 : num < -l1 ? num + l1 : 0.0;
                double nb = soft / (den + l2);
                double d = nb - b[j];
                if (d != 0) {
                    for (int i = 0; i < n; i++) eta[i] += d * xs[(size_t)i * dim + j];
                    b[j] = nb;
                }
                if (fabs(d) > max_change) max_change = fabs(d);
            }
            if (max_change > outer_change) outer_change = max_change;
            if (max_change < o->tol) break;
        }
        if (outer_change < o->tol || outer > 10000) break;
    }
    for (int j = 0; j < dim; j++) beta[j] = b[j] / sd[j];
    if (iterations) *iterations = it;
    for (int j = 0; j < dim; j++)
        if (!isfinite(beta[j])) st = lt_error(LT_ERR_NUMERIC, "cox: coefficient %d diverged", j);
done:
    free(xs); free(mean); free(sd); free(b); free(eta); free(grad); free(w); free(S); free(ee); free(z); free(ord);
    return st;
}
