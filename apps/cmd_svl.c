/* apps/cmd_svl.c - `loretta svl-mnist build|run`: the paper's SVL-MNIST experiment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "loretta/fsutil.h"
#include "loretta/model.h"
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

static void run_usage(void) {
    fprintf(stderr,
            "usage: loretta svl-mnist run (--data DIR | --sources DIR) [--out DIR] [--link T|I|A | --all-links]\n"
            "                             [--preset tiny|laptop|paper] [--seed S] [--precision fp32|bf16]\n"
            "                             [--backend NAME] [--threads N]\n"
            "  --data DIR     a built SVL-MNIST directory (loretta svl-mnist build)\n"
            "  --sources DIR  raw sources (mnist/, fsdd/ or audio/, wine/ or text.csv): built into OUT/data\n"
            "                 with the preset's feature sizes first (reused when present)\n"
            "  --precision    of the training stages: fp32 (default) or bf16 (docs/trainer.md)\n"
            "  Trains C2M3, LoReTTa from it and a control, evaluates all three and writes\n"
            "  OUT/link_X/report.md, results.json, metrics logs and plots. Finished stages are reused.\n");
}

static int cmd_run(int argc, char **argv) {
    lt_common_opts co;
    if (lt_parse_common(&argc, argv, &co)) return 2;
    lt_svl_run_opts o;
    memset(&o, 0, sizeof o);
    o.preset = "laptop";
    o.link = 'T';
    o.seed = 1234;
    o.out_dir = "svl-mnist-out";
    const char *sources = NULL;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            run_usage();
            return 0;
        }
        if (!strcmp(f, "--all-links")) {
            o.all_links = 1;
            continue;
        }
        if (!strcmp(f, "--quiet")) {
            o.quiet = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "loretta svl-mnist run: %s needs a value\n", f);
            return 2;
        }
        i++;
        if (!strcmp(f, "--data")) o.data_dir = v;
        else if (!strcmp(f, "--sources")) sources = v;
        else if (!strcmp(f, "--out")) o.out_dir = v;
        else if (!strcmp(f, "--preset")) o.preset = v;
        else if (!strcmp(f, "--seed")) o.seed = strtoull(v, NULL, 10);
        else if (!strcmp(f, "--precision")) {
            lt_precision p;
            if (lt_precision_parse(v, &p) != LT_OK) {
                fprintf(stderr, "loretta svl-mnist run: --precision wants fp32 or bf16, got '%s'\n", v);
                return 2;
            }
            o.precision = (int)p;
        } else if (!strcmp(f, "--link")) {
            if (strlen(v) != 1 || !strchr("TIA", v[0])) {
                fprintf(stderr, "loretta svl-mnist run: --link must be T, I or A\n");
                return 2;
            }
            o.link = v[0];
        } else {
            fprintf(stderr, "loretta svl-mnist run: unknown option %s\n", f);
            run_usage();
            return 2;
        }
    }
    o.backend = co.backend;
    o.device = co.device;
    o.threads = co.threads;
    static char built[1200];
    if (!o.data_dir && sources) {
        lt_svl_preset p;
        if (lt_svl_preset_get(o.preset, &p) != LT_OK) return lt_fail("svl-mnist run");
        if (lt_mkdir_p(o.out_dir) != LT_OK) return lt_fail("svl-mnist run");
        snprintf(built, sizeof built, "%s/data", o.out_dir);
        char marker[1300];
        snprintf(marker, sizeof marker, "%s/build.json", built);
        struct stat st;
        if (stat(marker, &st) != 0) {
            static char mnist[1100], audio[1100], text[1100];
            lt_svl_build_opts b = p.build;
            snprintf(mnist, sizeof mnist, "%s/mnist", sources);
            snprintf(audio, sizeof audio, "%s/fsdd", sources);
            if (stat(audio, &st) != 0) snprintf(audio, sizeof audio, "%s/audio", sources);
            b.mnist_dir = mnist;
            b.audio_dir = audio;
            b.text_csv = default_text(sources, text, sizeof text);
            b.out_dir = built;
            b.seed = o.seed;
            if (!b.text_csv) {
                fprintf(stderr, "loretta svl-mnist run: no wine/*.csv or text.csv under %s\n", sources);
                return 1;
            }
            if (lt_svl_build(&b) != LT_OK) return lt_fail("svl-mnist build");
        } else {
            fprintf(stderr, "svl-mnist: reusing the data built in %s\n", built);
        }
        o.data_dir = built;
    }
    if (!o.data_dir) {
        fprintf(stderr, "loretta svl-mnist run: --data or --sources is needed\n");
        run_usage();
        return 2;
    }
    if (lt_svl_run(&o) != LT_OK) return lt_fail("svl-mnist run");
    return 0;
}

int lt_cmd_svl(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: loretta svl-mnist build|run [options] (--help for each)\n");
        return 2;
    }
    if (!strcmp(argv[1], "build")) return cmd_build(argc - 1, argv + 1);
    if (!strcmp(argv[1], "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(argv[1], "offline-sources")) return lt_svl_offline_sources(argc - 1, argv + 1);
    fprintf(stderr, "loretta svl-mnist: unknown subcommand '%s' (build, run, offline-sources)\n", argv[1]);
    return 2;
}
