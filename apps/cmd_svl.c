/* apps/cmd_svl.c - `loretta svl-mnist build|run`: the paper's SVL-MNIST experiment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "loretta/svl.h"

static int int_arg(const char *flag, const char *v, int lo, int hi, int *out) {
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < lo || n > hi) {
        fprintf(stderr, "loretta svl-mnist: %s wants an integer in [%d, %d], got '%s'\n", flag, lo, hi, v);
        return 0;
    }
    *out = (int)n;
    return 1;
}

/* The text CSV inside a data root: the WineReviews table (whole or part) or text.csv. */
static const char *default_text(const char *root, char *buf, size_t n) {
    const char *names[3] = {"wine/winemag-data-130k-v2.csv", "wine/winemag-data-130k-v2.part.csv",
                            "text.csv"};
    struct stat st;
    for (int i = 0; i < 3; i++) {
        snprintf(buf, n, "%s/%s", root, names[i]);
        if (stat(buf, &st) == 0) return buf;
    }
    return NULL;
}

static void build_usage(void) {
    fprintf(stderr,
            "usage: loretta svl-mnist build [--data-root DIR] [--mnist DIR] [--audio DIR] [--text CSV]\n"
            "                               --out DIR [--per-class N] [--test-per-class N]\n"
            "                               [--image-pool K] [--audio-frames N] [--text-max BYTES] [--seed S]\n"
            "  --data-root DIR  a folder with mnist/, fsdd/ (or audio/) and wine/ (default: $LORETTA_DATA)\n"
            "  --per-class N    pairs per class in each of (I,T), (T,A), (A,I) (default 1200, as the paper)\n"
            "  Sizes are scaled down uniformly when a source holds fewer samples (a note says so).\n");
}

static int cmd_build(int argc, char **argv) {
    lt_svl_build_opts o = lt_svl_build_defaults();
    const char *root = getenv("LORETTA_DATA");
    char mnist[1024], audio[1024], text[1024];
    const char *m = NULL, *a = NULL, *t = NULL;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            build_usage();
            return 0;
        }
        if (!v) {
            fprintf(stderr, "loretta svl-mnist build: %s needs a value\n", f);
            return 2;
        }
        i++;
        int ok = 1;
        if (!strcmp(f, "--data-root")) root = v;
        else if (!strcmp(f, "--mnist")) m = v;
        else if (!strcmp(f, "--audio")) a = v;
        else if (!strcmp(f, "--text")) t = v;
        else if (!strcmp(f, "--out")) o.out_dir = v;
        else if (!strcmp(f, "--per-class")) ok = int_arg(f, v, 1, 1000000, &o.pairs_per_class);
        else if (!strcmp(f, "--test-per-class")) ok = int_arg(f, v, 1, 1000000, &o.test_per_class);
        else if (!strcmp(f, "--image-pool")) ok = int_arg(f, v, 1, 28, &o.image_pool);
        else if (!strcmp(f, "--audio-frames")) ok = int_arg(f, v, 1, 400, &o.audio_frames);
        else if (!strcmp(f, "--text-max")) ok = int_arg(f, v, 1, 65535, &o.text_max);
        else if (!strcmp(f, "--seed")) o.seed = strtoull(v, NULL, 10);
        else {
            fprintf(stderr, "loretta svl-mnist build: unknown option %s\n", f);
            build_usage();
            return 2;
        }
        if (!ok) return 2;
    }
    if (root) {
        struct stat st;
        snprintf(mnist, sizeof mnist, "%s/mnist", root);
        if (!m) m = mnist;
        snprintf(audio, sizeof audio, "%s/fsdd", root);
        if (stat(audio, &st) != 0) snprintf(audio, sizeof audio, "%s/audio", root);
        if (!a) a = audio;
        if (!t) t = default_text(root, text, sizeof text);
    }
    o.mnist_dir = m;
    o.audio_dir = a;
    o.text_csv = t;
    if (!o.out_dir || !m || !a || !t) {
        fprintf(stderr, "loretta svl-mnist build: needs --out and the three sources (--mnist, --audio, "
                "--text, or --data-root / $LORETTA_DATA)\n");
        build_usage();
        return 2;
    }
    if (lt_svl_build(&o) != LT_OK) return lt_fail("svl-mnist build");
    return 0;
}

int lt_cmd_svl(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: loretta svl-mnist build|run [options] (--help for each)\n");
        return 2;
    }
    if (!strcmp(argv[1], "build")) return cmd_build(argc - 1, argv + 1);
    if (!strcmp(argv[1], "offline-sources")) return lt_svl_offline_sources(argc - 1, argv + 1);
    fprintf(stderr, "loretta svl-mnist: unknown subcommand '%s' (build, run, offline-sources)\n", argv[1]);
    return 2;
}
