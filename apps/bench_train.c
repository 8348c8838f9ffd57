/* apps/bench_train.c - `loretta bench train`: tokens/s, model FLOPs utilisation (MFU) and
 * where the time goes in a whole training step (forward, backward, clipping, AdamW).
 *
 * Model FLOPs per token (PaLM appendix B, as nanoGPT/llm.c estimate MFU, and the formula
 * of bench/torch_gpt_baseline.py):
 *   6 * N + 12 * L * T * d,  N = 12 L d^2 + V d  (every weight that goes through a matmul,
 *   the untied head included; embedding lookups do no FLOPs), the attention term counting
 *   QK^T and AV over the full T x T, forward + backward, whether causal or not.
 * MFU = tokens/s * FLOPs per token / the device's dense peak for the precision (fp32: the
 * f32 cores; bf16: the matrix units), n/a when the peak is unknown (the cpu backends).
 *
 * Where the time goes: the op profiler (loretta/profile.h) times every op with the device
 * synced around it, over a few extra steps; those steps are slower than the timed ones
 * (one sync per op), so both step times are printed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "loretta/model.h"
#include "loretta/profile.h"
#include "loretta/rng.h"
#include "loretta/train.h"

typedef struct train_opts {
    const char *config, *precision;
    int T, B, steps, warmup, profile_steps;
    double peak; /* FLOP/s, 0 = the device's */
} train_opts;

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
            "usage: loretta bench train [--config paper|laptop|tiny|FILE.json] [--seq T] [--batch B]\n"
            "                           [--steps N] [--warmup N] [--precision fp32|bf16]\n"
            "                           [--profile-steps N] [--peak TFLOPS]\n"
            "                           [--backend NAME] [--threads N]\n"
            "  Times whole training steps of the model on random byte tokens (median of --steps\n"
            "  after --warmup); prints tokens/s, model FLOPs per token (6*N + 12*L*T*d, N = the\n"
            "  matmul weights incl. the head: PaLM/nanoGPT/llm.c and the PyTorch baseline's\n"
            "  formula), MFU against the device's dense peak for the precision (n/a when\n"
            "  unknown; --peak sets it), the rate of one GEMM of the model's shape, and an\n"
            "  op-level profile of --profile-steps more steps (default 2, 0 = none): time per\n"
            "  op kind as %% of the profiled step (device synced after every op).\n"
            "  --model is a synonym of --config.\n");
}

/* GFLOP/s of one representative GEMM: the MLP up-projection [B*T, d] x [4d, d]^T, with
 * operands of `dt` (f32 result, as the trainer's bf16 matmuls). */
static lt_status gemm_rate(lt_device *dev, lt_dtype dt, int64_t M, int64_t N, int64_t K,
                           double *gflops) {
    lt_tensor a, b, c;
    int64_t sa[2] = {M, K}, sb[2] = {N, K}, sc[2] = {M, N};
    *gflops = 0.0;
    LT_TRY(lt_tensor_alloc(dev, dt, 2, sa, &a));
    lt_status s = lt_tensor_alloc(dev, dt, 2, sb, &b);
    if (s != LT_OK) {
        lt_tensor_free(&a);
        return s;
    }
    s = lt_tensor_alloc(dev, LT_F32, 2, sc, &c);
    if (s != LT_OK) {
        lt_tensor_free(&a);
        lt_tensor_free(&b);
        return s;
    }
    s = lt_fill(&a, 0.01);
    if (s == LT_OK) s = lt_fill(&b, 0.02);
    double best = 0.0;
    for (int rep = 0; rep < 6 && s == LT_OK; rep++) {
        double t0 = now_s();
        s = lt_matmul(&c, &a, &b, 0, 1, 1.0f, 0);
        if (s == LT_OK) s = lt_device_sync(dev);
        double dt_s = now_s() - t0;
        double g = 2.0 * (double)M * (double)N * (double)K / dt_s / 1e9;
        if (rep > 0 && g > best) best = g; /* the first call warms up */
    }
    lt_tensor_free(&a);
    lt_tensor_free(&b);
    lt_tensor_free(&c);
    *gflops = best;
    return s;
}

/* The trainer's precision (lt_model_set_precision); *half = 1 when MFU is against the
 * matrix-unit peak. */
static int set_precision(lt_trainer *tr, const char *name, int *half) {
    lt_precision p;
    *half = 0;
    if (lt_precision_parse(name, &p) != LT_OK) return lt_fail("--precision"), 2;
    if (lt_model_set_precision(tr->model, p) != LT_OK) return lt_fail("--precision");
    *half = p == LT_PRECISION_BF16;
    return 0;
}

static int parse_opts(int argc, char **argv, train_opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            return -1;
        }
        if (!v) {
            fprintf(stderr, "loretta bench train: %s needs a value\n", a);
            return 2;
        }
        i++;
        long n = 0;
        int ok = 1;
        if (!strcmp(a, "--config") || !strcmp(a, "--model")) o->config = v;
        else if (!strcmp(a, "--precision")) o->precision = v;
        else if (!strcmp(a, "--seq") && (ok = lt_arg_long("bench train", a, v, 2, 1 << 20, &n))) o->T = (int)n;
        else if (!strcmp(a, "--batch") && (ok = lt_arg_long("bench train", a, v, 1, 1 << 20, &n))) o->B = (int)n;
        else if (!strcmp(a, "--steps") && (ok = lt_arg_long("bench train", a, v, 1, 100000, &n))) o->steps = (int)n;
        else if (!strcmp(a, "--warmup") && (ok = lt_arg_long("bench train", a, v, 0, 100000, &n))) o->warmup = (int)n;
        else if (!strcmp(a, "--profile-steps") &&
                 (ok = lt_arg_long("bench train", a, v, 0, 100000, &n)))
            o->profile_steps = (int)n;
        else if (!strcmp(a, "--peak") && (ok = lt_arg_double("bench train", a, v, &o->peak))) {
            if (!(o->peak > 0)) {
                fprintf(stderr, "loretta bench train: --peak wants TFLOP/s > 0\n");
                return 2;
            }
            o->peak *= 1e12;
        } else if (ok) {
            fprintf(stderr, "loretta bench train: unknown option %s\n", a);
            usage();
            return 2;
        }
        if (!ok) return 2;
    }
    return 0;
}

/* Op kinds of the profile table, each a set of lt_op values. */
typedef struct op_kind {
    const char *name, *key; /* key: the RESULT profile field */
    lt_op ops[4];
    int n;
} op_kind;

static const op_kind kinds[] = {
    {"matmul", "matmul", {LT_OP_MATMUL}, 1},
    {"attention fwd", "attn_fwd", {LT_OP_ATTN_FWD}, 1},
    {"attention bwd", "attn_bwd", {LT_OP_ATTN_BWD}, 1},
    {"rmsnorm fwd+bwd", "rmsnorm", {LT_OP_RMSNORM_FWD, LT_OP_RMSNORM_BWD}, 2},
    {"gelu fwd+bwd", "gelu", {LT_OP_GELU_FWD, LT_OP_GELU_BWD}, 2},
    {"cross-entropy", "cross_entropy", {LT_OP_CROSS_ENTROPY}, 1},
    {"adamw", "adamw", {LT_OP_ADAMW}, 1},
    {"embed fwd+bwd", "embed", {LT_OP_EMBED_FWD, LT_OP_EMBED_BWD, LT_OP_POS_EMBED_FWD}, 3},
    {"cast", "cast", {LT_OP_CAST}, 1},
};
#define N_KINDS ((int)(sizeof kinds / sizeof kinds[0]))

static int op_in_kinds(lt_op op) {
    for (int k = 0; k < N_KINDS; k++)
        for (int j = 0; j < kinds[k].n; j++)
            if (kinds[k].ops[j] == op) return 1;
    return 0;
}

static void print_row(const char *name, double calls, double sec, double flops, double step,
                      double peak) {
    char rate[32] = "", of_peak[32] = "";
    if (flops > 0 && sec > 0) {
        snprintf(rate, sizeof rate, "%.3g", flops / sec / 1e12);
        if (peak > 0) snprintf(of_peak, sizeof of_peak, "%.1f", 100.0 * flops / sec / peak);
        else snprintf(of_peak, sizeof of_peak, "n/a");
    }
    printf("  %-28s %9.1f %10.3f %7.1f %9s %7s\n", name, calls, 1e3 * sec, 100.0 * sec / step,
           rate, of_peak);
}

/* The profile as a table per step, and one RESULT profile line. */
static void print_profile(const lt_profile *p, int steps, double step_s, double peak,
                          const char *model, const char *prec) {
    double n = steps, ops_total = 0.0;
    printf("\nwhere the time goes (op profiler, %d step%s, device synced around every op; "
           "per step)\n",
           steps, steps == 1 ? "" : "s");
    printf("  %-28s %9s %10s %7s %9s %7s\n", "op kind", "calls", "ms", "% step", "TFLOP/s",
           "% peak");
    char line[1024];
    int len = snprintf(line, sizeof line, "RESULT profile model=%s precision=%s step_ms=%.3f", model,
                       prec, 1e3 * step_s);
    for (int k = 0; k < N_KINDS; k++) {
        double calls = 0, sec = 0, flops = 0;
        for (int j = 0; j < kinds[k].n; j++) {
            const lt_profile_entry *e = &p->op[kinds[k].ops[j]];
            calls += (double)e->calls;
            sec += e->seconds;
            flops += e->flops;
        }
        ops_total += sec;
        if (calls > 0) print_row(kinds[k].name, calls / n, sec / n, flops / n, step_s, peak);
        if (len < (int)sizeof line)
            len += snprintf(line + len, sizeof line - (size_t)len, " %s=%.1f%%", kinds[k].key,
                            100.0 * sec / n / step_s);
    }
    double calls = 0, sec = 0;
    char names[256] = "";
    for (int op = 0; op < LT_OP_COUNT; op++) {
        const lt_profile_entry *e = &p->op[op];
        if (op_in_kinds((lt_op)op) || !e->calls) continue;
        calls += (double)e->calls;
        sec += e->seconds;
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", used ? "," : "", lt_op_name((lt_op)op));
    }
    ops_total += sec;
    if (calls > 0) print_row("other ops (listed below)", calls / n, sec / n, 0.0, step_s, peak);
    double outside = step_s - ops_total / n;
    printf("  %-28s %9s %10.3f %7.1f\n", "outside ops (host, copies)", "", 1e3 * outside,
           100.0 * outside / step_s);
    printf("  %-28s %9s %10.3f %7.1f\n", "profiled step", "", 1e3 * step_s, 100.0);
    if (names[0]) printf("  other ops: %s\n", names);
    if (len < (int)sizeof line)
        snprintf(line + len, sizeof line - (size_t)len, " other=%.1f%% outside=%.1f%%",
                 100.0 * sec / n / step_s, 100.0 * outside / step_s);
    printf("%s\n", line);
}

int lt_bench_train_main(int argc, char **argv) {
    lt_common_opts co;
    if (lt_parse_common(&argc, argv, &co)) return 2;
    train_opts o = {"paper", "fp32", 256, 4, 6, 2, 2, 0.0};
    int prc = parse_opts(argc, argv, &o);
    if (prc) return prc < 0 ? 0 : prc;
    if (lt_init() != LT_OK) return lt_fail("init");
    lt_device *dev = lt_pick_device(&co);
    if (!dev) return 1;
    lt_model_config mc;
    if (lt_model_config_resolve(o.config, &mc) != LT_OK) return lt_fail("model config");
    lt_train_config tc;
    lt_train_config_default(&tc);
    tc.warmup_steps = 2;
    tc.total_steps = o.warmup + o.steps + o.profile_steps;
    lt_trainer *tr = NULL;
    if (lt_trainer_create(dev, &mc, &tc, o.B, o.T, &tr) != LT_OK)
        return lt_fail("creating the trainer");
    int half = 0, rc = set_precision(tr, o.precision, &half);
    if (rc) {
        lt_trainer_free(tr);
        return rc;
    }
    double peak = o.peak > 0 ? o.peak : half ? dev->info.peak_flops_half : dev->info.peak_flops_f32;

    /* Random bytes of the first modality, windows as `loretta train` draws them. */
    const int64_t n = (int64_t)o.B * (o.T + 1) * 4 + 1;
    int32_t *stream = malloc((size_t)n * sizeof *stream);
    double *times = malloc(sizeof(double) * (size_t)o.steps);
    double *tfwd = malloc(sizeof(double) * (size_t)o.steps);
    lt_window_batch wb;
    memset(&wb, 0, sizeof wb);
    if (!stream || !times || !tfwd || lt_window_batch_alloc(o.B, o.T, &wb) != LT_OK) {
        rc = lt_fail("batch");
        goto done;
    }
    const lt_modality *m0 = &mc.modalities[0];
    for (int64_t i = 0; i < n; i++)
        stream[i] = m0->tok_lo +
                    (int32_t)(lt_rng_uniform(7, (uint64_t)i, 0) * (float)(m0->tok_hi - m0->tok_lo));

    char threads_txt[48];
    if (co.threads > 0) snprintf(threads_txt, sizeof threads_txt, "%d", co.threads);
    else snprintf(threads_txt, sizeof threads_txt, "default (OMP_NUM_THREADS)");
    printf("# loretta bench train: model %s (L %d, H %d, d %d, V %d, %lld parameters), "
           "precision %s, B %d T %d on %s [%s], threads %s\n",
           mc.name, mc.n_layer, mc.n_head, mc.d_model, mc.vocab_size,
           (long long)tr->model->n_weights, o.precision, o.B, o.T, dev->info.name,
           dev->backend->name, threads_txt);
    fflush(stdout);
    int total = o.warmup + o.steps + o.profile_steps;
    double prof_time = 0.0;
    lt_profile_reset();
    for (int s = 0; s < total && rc == 0; s++) {
        int timed = s >= o.warmup && s < o.warmup + o.steps, profiled = s >= o.warmup + o.steps;
        if (lt_window_batch_fill(&wb, &mc, stream, n, 1, (uint64_t)s) != LT_OK) {
            rc = lt_fail("batch");
            break;
        }
        lt_step_result r;
        lt_profile_enable(profiled);
        double t0 = now_s();
        lt_status st = lt_trainer_step(tr, &wb.batch, 1, &r);
        if (st == LT_OK) st = lt_device_sync(dev);
        double dt = now_s() - t0;
        lt_profile_enable(0);
        if (st != LT_OK) {
            rc = lt_fail("training step");
            break;
        }
        fprintf(stderr, "  step %d loss %.4f %.3fs%s\n", s, r.loss, dt,
                profiled ? " (profiled)" : timed ? "" : " (warm-up)");
        if (timed) times[s - o.warmup] = dt;
        if (profiled) prof_time += dt;
    }
    /* Forwards alone (no dlogits, unprofiled), to split the step. */
    int n_fwd = o.steps < 3 ? o.steps : 3;
    for (int s = 0; s < n_fwd && rc == 0; s++) {
        double t1 = now_s();
        if (lt_model_forward(tr->model, &wb.batch, 0.0f, NULL) != LT_OK ||
            lt_device_sync(dev) != LT_OK) {
            rc = lt_fail("forward");
            break;
        }
        tfwd[s] = now_s() - t1;
    }
    if (rc == 0) {
        double med = median(times, o.steps), fwd = median(tfwd, n_fwd);
        double tps = (double)o.B * o.T / med;
        double f_tok = lt_model_train_flops_per_token(&mc, o.T);
        double achieved = tps * f_tok;
        double gemm = 0.0;
        if (gemm_rate(dev, half ? LT_BF16 : LT_F32, (int64_t)o.B * o.T, 4LL * mc.d_model,
                      mc.d_model, &gemm) != LT_OK) {
            rc = lt_fail("GEMM rate");
            goto done;
        }
        char mfu[32] = "n/a", pk[32] = "n/a";
        if (peak > 0) {
            snprintf(mfu, sizeof mfu, "%.1f%%", 100.0 * achieved / peak);
            snprintf(pk, sizeof pk, "%.1f", peak / 1e12);
        }
        printf("step %.3f s (median of %d), forward alone %.3f s, backward + optimizer ~%.3f s\n",
               med, o.steps, fwd, med - fwd);
        printf("%.0f tokens/s x %.1f MFLOP/token (6*N + 12*L*T*d, N = %.2fM matmul weights) = "
               "%.3g TFLOP/s\n",
               tps, f_tok / 1e6, (f_tok - 12.0 * mc.n_layer * (double)o.T * mc.d_model) / 6e6,
               achieved / 1e12);
        if (peak > 0)
            printf("MFU %s of %s TFLOP/s (%s dense peak%s)\n", mfu, pk, half ? "bf16" : "f32",
                   o.peak > 0 ? ", from --peak" : "");
        else
            printf("MFU n/a: no %s peak known for this device (--peak TFLOPS sets one)\n",
                   half ? "bf16" : "f32");
        printf("one [%d, %d] x [%d, %d]^T %s GEMM: %.1f GFLOP/s (the step reaches %.2f of it)\n",
               o.B * o.T, mc.d_model, 4 * mc.d_model, mc.d_model, half ? "bf16" : "f32", gemm,
               gemm > 0 ? achieved / 1e9 / gemm : 0.0);
        double prof_step = o.profile_steps > 0 ? prof_time / o.profile_steps : 0.0;
        printf("RESULT train model=%s precision=%s B=%d T=%d backend=%s step_median=%.3fs "
               "(n=%d) fwd~%.3fs bwd+opt~%.3fs tok/s=%.0f flop/tok=%.1fM GFLOP/s=%.1f "
               "gemm_GFLOP/s=%.1f (M=%d N=%d K=%d) fraction_of_gemm=%.2f peak_TFLOP/s=%s "
               "mfu=%s step_profiled=%.3fs\n",
               mc.name, o.precision, o.B, o.T, dev->backend->name, med, o.steps, fwd, med - fwd,
               tps, f_tok / 1e6, achieved / 1e9, gemm, o.B * o.T, 4 * mc.d_model, mc.d_model,
               gemm > 0 ? achieved / 1e9 / gemm : 0.0, pk, mfu, prof_step);
        if (o.profile_steps > 0) {
            lt_profile p;
            lt_profile_get(&p);
            print_profile(&p, o.profile_steps, prof_step, peak, mc.name, o.precision);
            printf("profiled step %.3f s, unprofiled %.3f s: the profiler's syncs (and run-to-run "
                   "noise) make the difference\n",
                   prof_step, med);
        }
    }
done:
    lt_profile_reset();
    free(times);
    free(tfwd);
    free(stream);
    lt_window_batch_free(&wb);
    lt_trainer_free(tr);
    return rc;
}
