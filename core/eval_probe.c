/* core/eval_probe.c - linear probing of frozen features (the paper's table 2 protocol:
 * SGD with Nesterov momentum 0.9, learning rate 0.1 cosine-annealed to 0, no weight
 * decay, batch 16, k labelled samples per class, fresh subsets per trial). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/eval.h"
#include "loretta/rng.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

lt_probe_opts lt_probe_defaults(void) {
    lt_probe_opts o = {100, 16, 0.1, 0.9, 100, 3, 1};
    return o;
}

typedef struct prng { uint64_t seed, stream, ctr; } prng;

static uint32_t below(prng *r, uint32_t n) {
    uint32_t w[4];
    uint32_t limit = UINT32_MAX - UINT32_MAX % n;
    for (;;) {
        lt_rng_words(r->seed, r->stream, r->ctr++, w);
        if (w[0] < limit) return w[0] % n;
    }
}

static void shuffle(int *v, int n, prng *r) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)below(r, (uint32_t)i + 1);
        int t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

/* One trial: returns accuracy, or -1 with a status set on failure. */
static lt_status probe_trial(const float *tx, const int32_t *ty, int n_train, const float *ex,
                             const int32_t *ey, int n_test, int dim, int C, const lt_probe_opts *o,
                             int trial, double *acc, int *used) {
    prng r = {o->seed, (uint64_t)trial + 1, 0};
    int *idx = malloc(sizeof(int) * (size_t)n_train), *sub = malloc(sizeof(int) * (size_t)n_train);
    double *mean = calloc((size_t)dim, sizeof(double)), *sd = calloc((size_t)dim, sizeof(double));
    double *W = calloc((size_t)C * dim + C, sizeof(double)), *V = calloc((size_t)C * dim + C, sizeof(double));
    double *G = calloc((size_t)C * dim + C, sizeof(double)), *x = malloc(sizeof(double) * (size_t)dim);
    double *p = malloc(sizeof(double) * (size_t)C);
    lt_status st = LT_OK;
    if (!idx || !sub || !mean || !sd || !W || !V || !G || !x || !p) {
        st = lt_error(LT_ERR_OUT_OF_MEMORY, "probe: %d x %d features", n_train, dim);
        goto done;
    }
    int n = 0, min_used = o->per_class;
    for (int c = 0; c < C; c++) {
        int m = 0;
        for (int i = 0; i < n_train; i++)
            if (ty[i] == c) idx[m++] = i;
        shuffle(idx, m, &r);
        int take = m < o->per_class ? m : o->per_class;
        if (take < min_used) min_used = take;
        for (int k = 0; k < take; k++) sub[n++] = idx[k];
    }
    *used = min_used;
    if (n == 0) {
        st = lt_error(LT_ERR_INVALID_ARG, "probe: no labelled training samples");
        goto done;
    }
    /* Standardise with the labelled subset's statistics only. */
    for (int k = 0; k < n; k++)
        for (int j = 0; j < dim; j++) mean[j] += tx[(size_t)sub[k] * dim + j];
    for (int j = 0; j < dim; j++) mean[j] /= n;
    for (int k = 0; k < n; k++)
        for (int j = 0; j < dim; j++) {
            double d = tx[(size_t)sub[k] * dim + j] - mean[j];
            sd[j] += d * d;
        }
    for (int j = 0; j < dim; j++) sd[j] = sqrt(sd[j] / n) + 1e-6;
    double *b = W + (size_t)C * dim, *vb = V + (size_t)C * dim, *gb = G + (size_t)C * dim;
    (void)vb;
    long steps_per_epoch = (n + o->batch - 1) / o->batch, total = steps_per_epoch * o->epochs, t = 0;
    for (int ep = 0; ep < o->epochs; ep++) {
        shuffle(sub, n, &r);
        for (int s0 = 0; s0 < n; s0 += o->batch, t++) {
            int bs = n - s0 < o->batch ? n - s0 : o->batch;
            memset(G, 0, sizeof(double) * ((size_t)C * dim + C));
            for (int k = 0; k < bs; k++) {
                int i = sub[s0 + k];
                for (int j = 0; j < dim; j++) x[j] = (tx[(size_t)i * dim + j] - mean[j]) / sd[j];
                double mx = -INFINITY, z = 0;
                for (int c = 0; c < C; c++) {
                    double a = b[c];
                    for (int j = 0; j < dim; j++) a += W[(size_t)c * dim + j] * x[j];
                    p[c] = a;
                    if (a > mx) mx = a;
                }
                for (int c = 0; c < C; c++) z += (p[c] = exp(p[c] - mx));
                for (int c = 0; c < C; c++) {
                    double g = (p[c] / z - (c == ty[i])) / bs;
                    for (int j = 0; j < dim; j++) G[(size_t)c * dim + j] += g * x[j];
                    gb[c] += g;
                }
            }
            /* PyTorch's SGD with Nesterov: v = mu v + g; p -= lr (g + mu v). */
            double lr = 0.5 * o->lr * (1.0 + cos(M_PI * (double)t / (double)total));
            for (size_t q = 0; q < (size_t)C * dim + C; q++) {
                V[q] = o->momentum * V[q] + G[q];
                W[q] -= lr * (G[q] + o->momentum * V[q]);
            }
        }
    }
    int correct = 0;
    for (int i = 0; i < n_test; i++) {
        int best = 0;
        double bv = -INFINITY;
        for (int c = 0; c < C; c++) {
            double a = b[c];
            for (int j = 0; j < dim; j++) a += W[(size_t)c * dim + j] * ((ex[(size_t)i * dim + j] - mean[j]) / sd[j]);
            if (a > bv) {
                bv = a;
                best = c;
            }
        }
        correct += best == ey[i];
    }
    *acc = n_test ? (double)correct / n_test : 0.0;
done:
    free(idx); free(sub); free(mean); free(sd); free(W); free(V); free(G); free(x); free(p);
    return st;
}

lt_status lt_probe_run(const float *train_x, const int32_t *train_y, int n_train,
                       const float *test_x, const int32_t *test_y, int n_test, int dim,
                       int n_classes, const lt_probe_opts *o, lt_probe_result *out) {
    memset(out, 0, sizeof *out);
    if (!train_x || !train_y || !test_x || !test_y || !o || dim < 1 || n_classes < 2 || n_train < 1)
        return lt_error(LT_ERR_INVALID_ARG, "probe: needs features, labels, dim >= 1 and >= 2 classes");
    if (o->trials < 1 || o->trials > 16 || o->epochs < 1 || o->batch < 1 || o->per_class < 1)
        return lt_error(LT_ERR_INVALID_ARG, "probe: trials %d (1..16), epochs %d, batch %d, per_class %d",
                        o->trials, o->epochs, o->batch, o->per_class);
    for (int i = 0; i < n_train; i++)
        if (train_y[i] < 0 || train_y[i] >= n_classes)
            return lt_error(LT_ERR_RANGE, "probe: training label %d of sample %d outside [0, %d)",
                            train_y[i], i, n_classes);
    for (int t = 0; t < o->trials; t++) {
        int used = 0;
        LT_TRY(probe_trial(train_x, train_y, n_train, test_x, test_y, n_test, dim, n_classes, o, t,
                           &out->acc[t], &used));
        out->per_class_used = used;
        out->mean += out->acc[t] / o->trials;
    }
    double v = 0;
    for (int t = 0; t < o->trials; t++) v += (out->acc[t] - out->mean) * (out->acc[t] - out->mean);
    out->std = o->trials > 1 ? sqrt(v / (o->trials - 1)) : 0.0;
    out->trials = o->trials;
    return LT_OK;
}
