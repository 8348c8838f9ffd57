/* apps/cmd_pretrain.c - `loretta pretrain`: the paper's baselines (gpt, bert, cm3, c2m3,
 * t-gpt, t-bert, loretta, clip) over dataset files, one trainer, method as a switch.
 * docs/baselines.md describes each method and its mapping to the paper. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "loretta/pretrain.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: loretta pretrain --data F1.ltds[,F2.ltds...] --method METHOD [--model PRESET]\n"
            "                        [--steps N] [--warmup W] [--batch B] [--lr MAX] [--min-lr MIN]\n"
            "                        [--init CKPT] [--generator CKPT] [--share S] [--save-every K]\n"
            "                        [--out DIR] [--seed S] [--backend NAME] [--threads N] [--quiet]\n"
            "  --method     gpt | bert | cm3 | c2m3 | t-gpt | t-bert | loretta | clip\n"
            "  --data       dataset files; the model's modalities come from the first one, and one\n"
            "               loader per file gives one micro-batch per step\n"
            "  --model      tiny | laptop | paper | a JSON config (dimensions; default tiny)\n"
            "  --steps      optimiser steps (default 100); --warmup (default steps/20)\n"
            "  --batch      rows per file per step (default 8)\n"
            "  --lr/--min-lr  peak / final learning rate (6e-4 / 6e-5; clip 5e-4 / 5e-5)\n"
            "  --init       start from this checkpoint's weights with a fresh optimiser (loretta:\n"
            "               the c2m3 checkpoint; t-gpt: a gpt one; t-bert: a bert one)\n"
            "  --generator  t-bert only: the causal checkpoint that generates the transitive rows\n"
            "  --share      share of transitive rows (default 0.5)\n"
            "  --out        run directory (default pretrain-run): metrics.jsonl, last/final\n"
            "               checkpoints; a directory with a checkpoint resumes\n"
            "  --save-every periodic checkpoint every K steps (default 100, 0 = final only)\n");
}

static int parse_long(const char *opt, const char *v, long lo, long hi, long *out) {
    return lt_arg_long("pretrain", opt, v, lo, hi, out);
}

static int parse_double(const char *opt, const char *v, double *out) { return lt_arg_double("pretrain", opt, v, out); }

/* Splits the comma list in place into o->files. */
static int split_files(char *list, lt_pretrain_opts *o) {
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        if (o->n_files == LT_PRETRAIN_MAX_FILES) {
            fprintf(stderr, "loretta pretrain: at most %d data files\n", LT_PRETRAIN_MAX_FILES);
            return 0;
        }
        o->files[o->n_files++] = tok;
    }
    return o->n_files > 0;
}

int lt_cmd_pretrain(int argc, char **argv) {
    lt_common_opts co;
    if (lt_parse_common(&argc, argv, &co)) return 2;
    lt_pretrain_opts o = lt_pretrain_defaults();
    char *data = NULL;
    const char *method = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--quiet")) {
            o.quiet = 1;
            continue;
        }
        char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "loretta pretrain: %s needs a value\n", a);
            return 2;
        }
        i++;
        long n = 0;
        int ok = 1;
        if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--method")) method = v;
        else if (!strcmp(a, "--model")) o.model = v;
        else if (!strcmp(a, "--init")) o.init = v;
        else if (!strcmp(a, "--generator")) o.generator = v;
        else if (!strcmp(a, "--out")) o.out_dir = v;
        else if (!strcmp(a, "--steps")) ok = parse_long(a, v, 1, 1L << 30, &n), o.steps = (int)n;
        else if (!strcmp(a, "--warmup")) ok = parse_long(a, v, 0, 1L << 30, &n), o.warmup = (int)n;
        else if (!strcmp(a, "--batch")) ok = parse_long(a, v, 1, 1 << 16, &n), o.batch = (int)n;
        else if (!strcmp(a, "--save-every")) ok = parse_long(a, v, 0, 1L << 30, &n), o.save_every = (int)n;
        else if (!strcmp(a, "--seed")) ok = parse_long(a, v, 0, 1L << 62, &n), o.seed = (uint64_t)n;
        else if (!strcmp(a, "--lr")) ok = parse_double(a, v, &o.lr_max);
        else if (!strcmp(a, "--min-lr")) ok = parse_double(a, v, &o.lr_min);
        else if (!strcmp(a, "--share")) ok = parse_double(a, v, &o.transitive_share);
        else {
            fprintf(stderr, "loretta pretrain: unknown option %s\n\n", a);
            usage(stderr);
            return 2;
        }
        if (!ok) return 2;
    }
    if (!data || !method) {
        fprintf(stderr, "loretta pretrain: --data and --method are required\n\n");
        usage(stderr);
        return 2;
    }
    if (lt_pretrain_method_parse(method, &o.method) != LT_OK) return lt_fail("--method");
    if (!split_files(data, &o)) {
        fprintf(stderr, "loretta pretrain: --data names no file\n");
        return 2;
    }
    if (o.method == LT_PT_LORETTA && !o.init)
        fprintf(stderr, "loretta pretrain: note: loretta normally starts from a c2m3 checkpoint (--init); "
                        "training from scratch\n");
    o.dev = lt_pick_device(&co);
    if (!o.dev) return 1;
    lt_pretrain_result r;
    if (lt_pretrain_run(&o, &r) != LT_OK) return lt_fail(lt_pretrain_method_name(o.method));
    printf("{\"method\": \"%s\", \"steps\": %lld, \"steps_run\": %d, \"first_loss\": %.6f, \"final_loss\": %.6f, "
           "\"seconds\": %.3f, \"transitive_rows\": %llu, \"generated\": %llu}\n",
           lt_pretrain_method_name(o.method), (long long)r.step, r.steps_run, r.first_loss, r.final_loss, r.seconds,
           (unsigned long long)r.transitive_rows, (unsigned long long)r.generated);
    return 0;
}
