/* apps/bench_train.c - `loretta bench train`: tokens/s and GFLOP/s of a whole training
 * step (forward, backward, clipping, AdamW), against the GEMM rate of the same device
 * measured in the same run.
 *
 * FLOPs per token follow bench/torch_gpt_baseline.py so the numbers compare directly:
 *   6 * N_mm + 12 * L * T * d,  N_mm = 12 L d^2 + V d  (matmul weights incl. the head;
 *   attention QK^T and AV over the full T x T, forward + backward). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "loretta/model.h"
#include "loretta/rng.h"
#include "loretta/train.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void usage(void) {
    fprintf(stderr,
            "usage: loretta bench train [--model paper|laptop|tiny|FILE.json] [--seq T] [--batch B]\n"
            "                           [--steps N] [--warmup N] [--backend NAME] [--threads N]\n"
            "  Times whole training steps of the model on random byte tokens; prints tokens/s,\n"
            "  GFLOP/s (6*N_mm + 12*L*T*d per token, the PyTorch baseline's formula) and the\n"
            "  fraction of the device's GEMM rate measured in the same run.\n");
}

/* GFLOP/s of one representative GEMM: the MLP up-projection [B*T, d] x [4d, d]^T. */
static lt_status gemm_rate(lt_device *dev, int64_t M, int64_t N, int64_t K, double *gflops) {
    lt_tensor a, b, c;
    int64_t sa[2] = {M, K}, sb[2] = {N, K}, sc[2] = {M, N};
    LT_TRY(lt_tensor_alloc(dev, LT_F32, 2, sa, &a));
    LT_TRY(lt_tensor_alloc(dev, LT_F32, 2, sb, &b));
    LT_TRY(lt_tensor_alloc(dev, LT_F32, 2, sc, &c));
    lt_status s = lt_fill(&a, 0.01);
    if (s == LT_OK) s = lt_fill(&b, 0.02);
    double best = 0.0;
    for (int rep = 0; rep < 6 && s == LT_OK; rep++) {
        double t0 = now_s();
        s = lt_matmul(&c, &a, &b, 0, 1, 1.0f, 0);
        if (s == LT_OK) s = lt_device_sync(dev);
        double dt = now_s() - t0;
        double g = 2.0 * (double)M * (double)N * (double)K / dt / 1e9;
        if (rep > 0 && g > best) best = g; /* the first call warms up */
    }
    lt_tensor_free(&a);
    lt_tensor_free(&b);
    lt_tensor_free(&c);
    *gflops = best;
    return s;
}

int lt_bench_train_main(int argc, char **argv) {
    lt_common_opts co;
    if (lt_parse_common(&argc, argv, &co)) return 2;
    const char *model = "paper";
    int T = 256, B = 4, steps = 6, warmup = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            return 0;
        }
        if (!v) {
            fprintf(stderr, "loretta bench train: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--seq")) T = atoi(v);
        else if (!strcmp(a, "--batch")) B = atoi(v);
        else if (!strcmp(a, "--steps")) steps = atoi(v);
        else if (!strcmp(a, "--warmup")) warmup = atoi(v);
        else {
            fprintf(stderr, "loretta bench train: unknown option %s\n", a);
            usage();
            return 2;
        }
    }
    if (T < 2 || B < 1 || steps < 1 || warmup < 0) {
        fprintf(stderr, "loretta bench train: --seq >= 2, --batch >= 1, --steps >= 1 please\n");
        return 2;
    }
    if (lt_init() != LT_OK) return lt_fail("init");
    lt_device *dev = lt_pick_device(&co);
    if (!dev) return 1;
    lt_model_config mc;
    if (lt_model_config_resolve(model, &mc) != LT_OK) return lt_fail("model config");
    lt_train_config tc;
    lt_train_config_default(&tc);
    tc.warmup_steps = 2;
    tc.total_steps = warmup + steps;
    lt_trainer *tr = NULL;
    if (lt_trainer_create(dev, &mc, &tc, B, T, &tr) != LT_OK) return lt_fail("creating the trainer");

    /* Random bytes of the first modality, windows as `loretta train` draws them. */
    const int64_t n = (int64_t)B * (T + 1) * 4 + 1;
    int32_t *stream = malloc((size_t)n * sizeof *stream);
    const lt_modality *m0 = &mc.modalities[0];
    for (int64_t i = 0; i < n; i++)
        stream[i] = m0->tok_lo + (int32_t)(lt_rng_uniform(7, (uint64_t)i, 0) * (float)(m0->tok_hi - m0->tok_lo));
    lt_window_batch wb;
    if (lt_window_batch_alloc(B, T, &wb) != LT_OK) return lt_fail("batch");

    printf("# loretta bench train: model %s (L %d, H %d, d %d, V %d, %lld parameters) B %d T %d on %s [%s], threads %d\n",
           mc.name, mc.n_layer, mc.n_head, mc.d_model, mc.vocab_size, (long long)tr->model->n_weights, B, T,
           dev->info.name, dev->backend->name, co.threads);
    double *times = malloc(sizeof(double) * (size_t)steps);
    double *tfwd = malloc(sizeof(double) * (size_t)steps);
    int rc = 0;
    for (int s = 0; s < warmup + steps; s++) {
        if (lt_window_batch_fill(&wb, &mc, stream, n, 1, (uint64_t)s) != LT_OK) {
            rc = lt_fail("batch");
            break;
        }
        lt_step_result r;
        double t0 = now_s();
        if (lt_trainer_step(tr, &wb.batch, 1, &r) != LT_OK || lt_device_sync(dev) != LT_OK) {
            rc = lt_fail("training step");
            break;
        }
        double dt = now_s() - t0;
        /* A forward alone (no dlogits), to split the step. */
        double t1 = now_s();
        if (lt_model_forward(tr->model, &wb.batch, 0.0f, NULL) != LT_OK || lt_device_sync(dev) != LT_OK) {
            rc = lt_fail("forward");
            break;
        }
        double df = now_s() - t1;
        fprintf(stderr, "  step %d loss %.4f %.3fs (forward alone %.3fs)\n", s, r.loss, dt, df);
        if (s >= warmup) {
            times[s - warmup] = dt;
            tfwd[s - warmup] = df;
        }
    }
    if (rc == 0) {
        double med = median(times, steps), fwd = median(tfwd, steps);
        double tps = (double)B * T / med;
        double f_tok = lt_model_train_flops_per_token(&mc, T);
        double achieved = tps * f_tok / 1e9;
        double gemm = 0.0;
        if (gemm_rate(dev, (int64_t)B * T, 4LL * mc.d_model, mc.d_model, &gemm) != LT_OK)
            return lt_fail("GEMM rate");
        printf("RESULT train model=%s B=%d T=%d backend=%s step_median=%.3fs (n=%d) fwd~%.3fs "
               "bwd+opt~%.3fs tok/s=%.0f flop/tok=%.1fM GFLOP/s=%.1f gemm_GFLOP/s=%.1f "
               "(M=%d N=%d K=%d) fraction_of_gemm=%.2f\n",
               mc.name, B, T, dev->backend->name, med, steps, fwd, med - fwd, tps, f_tok / 1e6, achieved,
               gemm, B * T, 4 * mc.d_model, mc.d_model, gemm > 0 ? achieved / gemm : 0.0);
    }
    free(times);
    free(tfwd);
    free(stream);
    lt_window_batch_free(&wb);
    lt_trainer_free(tr);
    return rc;
}
