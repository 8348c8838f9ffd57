/* apps/cmd_train.c - `loretta train`: next-token training on a flat token file.
 *
 * Windows of T+1 tokens are drawn deterministically (Philox keyed by the seed, counter =
 * the data position), so a run is reproducible and a resumed run continues the same
 * stream. Progress goes to stdout, one JSON object per step to OUT/metrics.jsonl, and
 * OUT/checkpoint.safetensors is written every --save-every steps, at the end, and when
 * SIGINT/SIGTERM arrives (the handler only sets a flag; the loop saves and exits). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "commands.h"
#include "loretta/checkpoint.h"
#include "loretta/fsutil.h"
#include "loretta/model.h"
#include "loretta/train.h"

static volatile sig_atomic_t lt_stop_requested;

static void on_signal(int sig) {
    (void)sig;
    lt_stop_requested = 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: loretta train --data TOKENS.npy [--config PRESET|FILE.json] [--steps N]\n"
            "                     [--batch B] [--seq T] [--accum K] [--lr MAX] [--min-lr MIN]\n"
            "                     [--warmup N] [--seed S] [--max-nan N] [--save-every K]\n"
            "                     [--out DIR] [--resume CKPT] [--precision fp32|bf16]\n"
            "                     [--backend NAME] [--threads N]\n"
            "  --data      flat token file (.npy of uint8, uint16, int32 or int64)\n"
            "  --config    tiny, laptop, paper or a JSON config (default tiny)\n"
            "  --steps     optimiser steps in total (default 100); --seq T (default 128),\n"
            "  --batch B   (default 4) and --accum K micro-batches per step (default 1)\n"
            "  --lr        peak learning rate (default 6e-4); --min-lr (default lr/10);\n"
            "              --warmup steps of linear warm-up from 1e-7 (default steps/20)\n"
            "  --out       run directory for metrics.jsonl and checkpoint.safetensors (default run)\n"
            "  --resume    continue from a checkpoint (model, optimiser, step, data position)\n"
            "  --precision fp32 (default) or bf16: bf16 matmul/attention operands with f32\n"
            "              masters, gradients and optimiser (docs/trainer.md, Precision)\n"
            "  --save-every  checkpoint every K steps (default 0: only at the end and on Ctrl-C)\n");
}

typedef struct train_opts {
    const char *config, *data, *out, *resume;
    lt_precision precision;
    long steps, batch, seq, accum, warmup, save_every, max_nan;
    double lr, min_lr;
    unsigned long long seed;
    int have_lr, have_min_lr, have_warmup, have_steps, have_seed, have_max_nan, have_config;
} train_opts;

static int parse_long(const char *opt, const char *v, long lo, long hi, long *out) {
    return lt_arg_long("train", opt, v, lo, hi, out);
}

static int parse_double(const char *opt, const char *v, double *out) { return lt_arg_double("train", opt, v, out); }

static int parse_opts(int argc, char **argv, train_opts *o) {
    memset(o, 0, sizeof *o);
    o->config = "tiny";
    o->out = "run";
    o->steps = 100;
    o->batch = 4;
    o->seq = 128;
    o->accum = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        /* OPT(name): `a` is that option and has a value. A known option without one sets
         * `missing`, so the chain's end can tell "needs a value" from "unknown option". */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL, *missing = NULL;
#define OPT(name) (!strcmp(a, name) && (v || (missing = name, 0)))
        int ok = 1;
        if (OPT("--config")) o->config = v, o->have_config = 1;
        else if (OPT("--data")) o->data = v;
        else if (OPT("--out")) o->out = v;
        else if (OPT("--resume")) o->resume = v;
        else if (OPT("--precision")) {
            ok = lt_precision_parse(v, &o->precision) == LT_OK;
            if (!ok) fprintf(stderr, "loretta train: --precision wants fp32 or bf16, got '%s'\n", v);
        }
        else if (OPT("--steps")) ok = parse_long(a, v, 1, 1L << 40, &o->steps), o->have_steps = 1;
        else if (OPT("--batch")) ok = parse_long(a, v, 1, 1 << 16, &o->batch);
        else if (OPT("--seq")) ok = parse_long(a, v, 1, 1 << 20, &o->seq);
        else if (OPT("--accum")) ok = parse_long(a, v, 1, 1 << 12, &o->accum);
        else if (OPT("--warmup")) ok = parse_long(a, v, 0, 1L << 40, &o->warmup), o->have_warmup = 1;
        else if (OPT("--save-every")) ok = parse_long(a, v, 0, 1L << 40, &o->save_every);
        else if (OPT("--max-nan")) ok = parse_long(a, v, 0, 1L << 30, &o->max_nan), o->have_max_nan = 1;
        else if (OPT("--lr")) ok = parse_double(a, v, &o->lr), o->have_lr = 1;
        else if (OPT("--min-lr")) ok = parse_double(a, v, &o->min_lr), o->have_min_lr = 1;
        else if (OPT("--seed")) {
            long s;
            ok = parse_long(a, v, 0, 1L << 62, &s);
            o->seed = (unsigned long long)s;
            o->have_seed = 1;
        } else {
            if (missing) fprintf(stderr, "loretta train: %s needs a value\n", a);
            else if (!strncmp(a, "--", 2) && strchr(a, '='))
                fprintf(stderr, "loretta train: write '%.*s %s', not '%s'\n\n", (int)(strchr(a, '=') - a), a,
                        strchr(a, '=') + 1, a);
            else fprintf(stderr, "loretta train: unknown option %s\n\n", a);
            if (!missing) usage(stderr);
            return 0;
        }
#undef OPT
        i++;
        if (!ok) return 0;
    }
    if (!o->data) {
        fprintf(stderr, "loretta train: --data TOKENS.npy is required\n\n");
        usage(stderr);
        return 0;
    }
    return 1;
}

static void fmt_eta(double s, char *buf, size_t n) {
    if (!isfinite(s) || s < 0) snprintf(buf, n, "?");
    else if (s < 60) snprintf(buf, n, "%.0fs", s);
    else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

static void log_metrics(FILE *f, const lt_model *m, const lt_step_result *r, double tps,
                        double elapsed) {
    if (!f) return;
    const lt_model_config *mc = &m->cfg;
    fprintf(f, "{\"step\": %lld, \"loss\": %.6f, \"tokens\": %.0f, \"precision\": \"%s\"",
            (long long)r->step + 1, r->loss, r->weight, lt_precision_name(lt_model_precision(m)));
    for (int i = 0; i < r->n_modality; i++)
        if (r->mod_weight[i] > 0) fprintf(f, ", \"loss_%s\": %.6f", mc->modalities[i].name, r->mod_loss[i]);
    fprintf(f, ", \"lr\": %.6g, \"grad_norm\": %.6g, \"clip_scale\": %.6g, \"skipped\": %d, "
               "\"tokens_per_s\": %.1f, \"time_s\": %.3f}\n",
            r->lr, r->grad_norm, r->clip_scale, r->skipped, tps, elapsed);
    fflush(f);
}

static int save(const lt_trainer *tr, const char *path) {
    if (lt_checkpoint_save(tr, path) != LT_OK) return lt_fail("saving the checkpoint");
    printf("saved %s (step %lld)\n", path, (long long)tr->step);
    return 0;
}

int lt_cmd_train(int argc, char **argv) {
    lt_common_opts co;
    if (lt_parse_common(&argc, argv, &co)) return 2;
    train_opts o;
    if (!parse_opts(argc, argv, &o)) return 2;
    if (lt_init() != LT_OK) return lt_fail("init");
    lt_device *dev = lt_pick_device(&co);
    if (!dev) return 1;

    int32_t *stream = NULL;
    int64_t n_tokens = 0;
    if (lt_npy_load_tokens(o.data, &stream, &n_tokens) != LT_OK) return lt_fail("reading the data");
    if (n_tokens < o.seq + 1) {
        fprintf(stderr, "loretta train: %s holds %lld tokens, --seq %ld needs at least %ld\n", o.data,
                (long long)n_tokens, o.seq, o.seq + 1);
        free(stream);
        return 1;
    }

    lt_trainer *tr = NULL;
    if (o.resume) {
        if (lt_checkpoint_load(o.resume, dev, (int)o.batch, (int)o.seq, &tr) != LT_OK) {
            free(stream);
            return lt_fail("resuming");
        }
        /* The model is the checkpoint's; a --config naming another one is a mistake. */
        if (o.have_config && strcmp(o.config, tr->model->cfg.name) != 0) {
            lt_model_config want;
            int same = lt_model_config_resolve(o.config, &want) == LT_OK &&
                       !strcmp(want.name, tr->model->cfg.name);
            if (!same) {
                fprintf(stderr, "loretta train: --config %s, but %s holds model '%s': a resumed run keeps "
                                "its checkpoint's model (drop --config, or start a new run without --resume)\n",
                        o.config, o.resume, tr->model->cfg.name);
                lt_trainer_free(tr);
                free(stream);
                return 2;
            }
        }
        /* Settings named on the command line win; the others come from the checkpoint. */
        if (o.have_steps) tr->tc.total_steps = o.steps;
        if (o.have_lr) tr->tc.lr_max = o.lr;
        if (o.have_min_lr) tr->tc.lr_min = o.min_lr;
        if (o.have_warmup) tr->tc.warmup_steps = o.warmup;
        if (o.have_max_nan) tr->tc.max_nan_steps = (int)o.max_nan;
        printf("resumed %s at step %lld\n", o.resume, (long long)tr->step);
    } else {
        lt_model_config mc;
        if (lt_model_config_resolve(o.config, &mc) != LT_OK) {
            free(stream);
            return lt_fail("model config");
        }
        lt_train_config tc;
        lt_train_config_default(&tc);
        tc.total_steps = o.steps;
        tc.warmup_steps = o.have_warmup ? o.warmup : o.steps / 20;
        if (o.have_lr) tc.lr_max = o.lr;
        tc.lr_min = o.have_min_lr ? o.min_lr : tc.lr_max / 10.0;
        if (o.have_seed) tc.seed = o.seed;
        if (o.have_max_nan) tc.max_nan_steps = (int)o.max_nan;
        if (lt_trainer_create(dev, &mc, &tc, (int)o.batch, (int)o.seq, &tr) != LT_OK) {
            free(stream);
            return lt_fail("creating the trainer");
        }
    }
    const lt_model_config *mc = &tr->model->cfg;
    if (lt_train_config_validate(&tr->tc) != LT_OK) return lt_fail("training settings");
    /* A run option, not part of the checkpoint: a resumed run uses what this line says. */
    if (lt_model_set_precision(tr->model, o.precision) != LT_OK) {
        lt_trainer_free(tr);
        free(stream);
        return lt_fail("--precision");
    }

    if (lt_mkdir_p(o.out) != LT_OK) return lt_fail("train");
    char ckpt[4096], metrics[4096];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", o.out);
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", o.out);
    FILE *mf = fopen(metrics, o.resume ? "a" : "w");
    if (!mf) fprintf(stderr, "loretta train: cannot write %s: %s (continuing)\n", metrics, strerror(errno));

    lt_window_batch *wb = calloc((size_t)o.accum, sizeof *wb);
    lt_batch *micro = calloc((size_t)o.accum, sizeof *micro);
    for (long k = 0; k < o.accum; k++)
        if (lt_window_batch_alloc((int)o.batch, (int)o.seq, &wb[k]) != LT_OK) return lt_fail("batch");

    printf("training %s (%lld parameters) on %s [%s]: %lld tokens from %s, B %ld x T %ld x accum %ld, "
           "steps %lld, lr %.3g -> %.3g, warm-up %lld, precision %s\n",
           mc->name, (long long)tr->model->n_weights, dev->info.name, dev->backend->name,
           (long long)n_tokens, o.data, o.batch, o.seq, o.accum, (long long)tr->tc.total_steps,
           tr->tc.lr_max, tr->tc.lr_min, (long long)tr->tc.warmup_steps,
           lt_precision_name(lt_model_precision(tr->model)));
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    int rc = 0;
    const double t_start = now_s();
    const int64_t first = tr->step;
    while (tr->step < tr->tc.total_steps) {
        if (lt_stop_requested) {
            printf("interrupted at step %lld: saving\n", (long long)tr->step);
            rc = save(tr, ckpt) ? 1 : 130;
            break;
        }
        int failed = 0;
        for (long k = 0; k < o.accum && !failed; k++) {
            failed = lt_window_batch_fill(&wb[k], mc, stream, n_tokens, tr->tc.seed, tr->data_pos) != LT_OK;
            tr->data_pos++;
            micro[k] = wb[k].batch;
        }
        if (failed) {
            rc = lt_fail("drawing a batch");
            break;
        }
        const double t0 = now_s();
        lt_step_result r;
        lt_status s = lt_trainer_step(tr, micro, (int)o.accum, &r);
        if (s != LT_OK) {
            rc = lt_fail("training step");
            if (s == LT_ERR_NUMERIC) save(tr, ckpt);
            break;
        }
        const double dt = now_s() - t0, elapsed = now_s() - t_start;
        const double tps = (double)o.batch * o.seq * o.accum / dt;
        const double per_step = elapsed / (double)(tr->step - first);
        char eta[32];
        fmt_eta(per_step * (double)(tr->tc.total_steps - tr->step), eta, sizeof eta);
        printf("step %lld/%lld loss %.4f", (long long)tr->step, (long long)tr->tc.total_steps, r.loss);
        if (r.n_modality > 1)
            for (int i = 0; i < r.n_modality; i++)
                if (r.mod_weight[i] > 0) printf(" %s %.4f", mc->modalities[i].name, r.mod_loss[i]);
        printf(" lr %.3g gnorm %.3f tok/s %.0f %s ETA %s%s\n", r.lr, r.grad_norm, tps,
               lt_precision_name(lt_model_precision(tr->model)), eta, r.skipped ? " [SKIPPED: non-finite loss or gradient]" : "");
        fflush(stdout);
        log_metrics(mf, tr->model, &r, tps, elapsed);
        if (o.save_every > 0 && tr->step % o.save_every == 0 && tr->step < tr->tc.total_steps &&
            save(tr, ckpt)) {
            rc = 1;
            break;
        }
    }
    if (rc == 0 && save(tr, ckpt)) rc = 1;
    if (mf) fclose(mf);
    for (long k = 0; k < o.accum; k++) lt_window_batch_free(&wb[k]);
    free(wb);
    free(micro);
    free(stream);
    lt_trainer_free(tr);
    return rc;
}
