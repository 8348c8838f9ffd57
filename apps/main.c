/* apps/main.c - `loretta <command> [options]`: the only place that prints and exits. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "loretta_build.h"

static const lt_command lt_commands[] = {
    {"devices", "list every device of every compiled-in backend", lt_cmd_devices},
    {"conformance", "check every op on every device against the CPU reference", lt_cmd_conformance},
    {"bench", "benchmarks: `bench ops|attention|train`", lt_cmd_bench},
    {"train", "train a model from a config", lt_cmd_train},
    {"generate", "cross-modal generation with the KV cache (and --bench)", lt_cmd_generate},
    {"svl-mnist", "the paper's SVL-MNIST experiment: `svl-mnist build|run`", lt_cmd_svl},
    {"pretrain", "pre-training baselines: gpt, bert, cm3, c2m3, t-gpt, t-bert, loretta, clip", lt_cmd_pretrain},
};

int lt_arg_long(const char *cmd, const char *opt, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (*end || errno || end == v || n < lo || n > hi) {
        fprintf(stderr, "loretta %s: %s wants an integer in [%ld, %ld], got '%s'\n", cmd, opt, lo, hi, v);
        return 0;
    }
    *out = n;
    return 1;
}

int lt_arg_double(const char *cmd, const char *opt, const char *v, double *out) {
    char *end;
    double x = strtod(v, &end);
    if (*end || end == v || !(x >= 0.0) || !isfinite(x)) {
        fprintf(stderr, "loretta %s: %s wants a number >= 0, got '%s'\n", cmd, opt, v);
        return 0;
    }
    *out = x;
    return 1;
}

int lt_fail(const char *what) {
    const char *msg = lt_last_error();
    /* "svl-mnist run" + "svl-mnist: unknown preset" would say svl-mnist twice: when the
     * library's message already starts with the command's first word, it stands alone. */
    size_t n = strcspn(what, " :");
    if (n > 0 && strncmp(msg, what, n) == 0 && (msg[n] == ':' || msg[n] == ' '))
        fprintf(stderr, "loretta: %s\n", msg);
    else
        fprintf(stderr, "loretta: %s: %s\n", what, msg);
    return 1;
}

int lt_parse_common(int *argc, char **argv, lt_common_opts *o) {
    o->backend = NULL;
    o->device = 0;
    o->threads = 0;
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < *argc;
        if ((!strcmp(a, "--backend") || !strcmp(a, "--device") || !strcmp(a, "--threads"))) {
            if (!has_val) {
                fprintf(stderr, "loretta: %s needs a value\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--backend")) {
                o->backend = v;
            } else {
                char *end;
                long n = strtol(v, &end, 10);
                if (*end || n < 0 || n > 4096) {
                    fprintf(stderr, "loretta: %s wants a number >= 0, got '%s'\n", a, v);
                    return 2;
                }
                if (!strcmp(a, "--device")) o->device = (int)n;
                else o->threads = (int)n;
            }
            continue;
        }
        argv[out++] = argv[i];
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}

lt_device *lt_pick_device(const lt_common_opts *o) {
    lt_device *dev = NULL;
    if (lt_device_find(o->backend, o->device, &dev) != LT_OK) {
        lt_fail("choosing a device");
        return NULL;
    }
    if (o->threads > 0) lt_device_set_threads(dev, o->threads);
    return dev;
}

static void usage(FILE *f) {
    fprintf(f, "loretta %s - multi-backend compute and the LoReTTa trainer\n\n", LT_VERSION);
    fprintf(f, "usage: loretta <command> [--backend NAME] [--device INDEX] [--threads N] ...\n\n");
    fprintf(f, "commands:\n");
    for (size_t i = 0; i < sizeof lt_commands / sizeof lt_commands[0]; i++)
        fprintf(f, "  %-13s %s\n", lt_commands[i].name, lt_commands[i].summary);
    fprintf(f, "\nbackends in this build: %s\n", LT_BUILD_BACKENDS);
    if (*LT_BUILD_SKIPPED) fprintf(f, "skipped at build time: %s\n", LT_BUILD_SKIPPED);
}

int main(int argc, char **argv) {
    /* Idle OpenMP workers spin by default; on a laptop where anything else runs (or with
     * OpenBLAS threads beside ours) the spinning steals the cores the work needs: measured
     * 4.6x slower training here. Sleep instead unless the user chose otherwise. This must
     * happen before the OpenMP runtime starts. */
    setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "help")) {
        usage(stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("loretta %s\n", LT_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof lt_commands / sizeof lt_commands[0]; i++)
        if (!strcmp(argv[1], lt_commands[i].name)) return lt_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "loretta: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
