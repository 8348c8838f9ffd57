/* apps/svl_offline.c - `loretta svl-mnist offline-sources --out DIR`: SVL-MNIST-shaped
 * sources from Debian packages, for machines with no data folder and no network:
 *   images  Fashion-MNIST IDX files (package dataset-fashion-mnist), linked as DIR/mnist
 *   speech  the digit words spoken by espeak-ng with varied voices, speeds and pitches,
 *           as DIR/audio/<digit>_<voice>_<take>.wav (the FSDD naming)
 *   text    the ten largest categories of the fortunes package (alphabetical = labels
 *           0-9) as DIR/text.csv with columns text,label
 * They go through the same loaders as the real sources. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "loretta/fsutil.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define FORTUNE_DIR "/usr/share/games/fortunes"

static const char *const digit_words[10] = {"zero", "one", "two", "three", "four",
                                            "five", "six", "seven", "eight", "nine"};
static const char *const voices[] = {"en", "en-us", "en-gb-scotland", "en-029", "en-gb-x-rp",
                                     "en-gb-x-gbclan", "en-gb-x-gbcwmd"};
static const char *const variants[] = {"", "+m1", "+m2", "+m3", "+m4", "+m5", "+m6", "+m7",
                                       "+f1", "+f2", "+f3", "+f4", "+f5"};

static uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static int run_espeak(const char *voice, int speed, int pitch, const char *path, const char *word) {
    char s[16], p[16];
    snprintf(s, sizeof s, "%d", speed);
    snprintf(p, sizeof p, "%d", pitch);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        execlp("espeak-ng", "espeak-ng", "-v", voice, "-s", s, "-p", p, "-w", path, word, (char *)NULL);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int make_audio(const char *out, int per_class, uint64_t seed) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/audio", out);
    if (lt_mkdir_p(dir) != LT_OK) {
        fprintf(stderr, "loretta svl-mnist offline-sources: %s\n", lt_last_error());
        return 1;
    }
    int nv = (int)(sizeof voices / sizeof voices[0]), nvar = (int)(sizeof variants / sizeof variants[0]);
    int made = 0;
    for (int d = 0; d < 10; d++)
        for (int k = 0; k < per_class; k++) {
            uint64_t r = mix(seed * 1000003u + (uint64_t)(d * 100000 + k));
            int v = (int)(r % (uint64_t)nv), var = (int)((r >> 8) % (uint64_t)nvar);
            int speed = 110 + (int)((r >> 16) % 90), pitch = 20 + (int)((r >> 24) % 60);
            char voice[64], path[1200];
            snprintf(voice, sizeof voice, "%s%s", voices[v], variants[var]);
            /* <digit>_<speaker>_<take>.wav; takes 0-4 act as the official test takes */
            snprintf(path, sizeof path, "%s/%d_espeak%d_%d.wav", dir, d, v * nvar + var, k);
            struct stat st;
            if (stat(path, &st) == 0 && st.st_size > 44) {
                made++;
                continue; /* reuse earlier renders */
            }
            if (run_espeak(voice, speed, pitch, path, digit_words[d]) != 0 || stat(path, &st) != 0 ||
                st.st_size <= 44) {
                fprintf(stderr, "loretta: espeak-ng failed for %s (is the espeak-ng package installed?)\n", path);
                return 1;
            }
            made++;
        }
    fprintf(stderr, "offline sources: %d spoken digits in %s\n", made, dir);
    return 0;
}

typedef struct category {
    char name[64];
    int count;
} category;

static int count_fortunes(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[4096];
    int n = 0, body = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strcmp(line, "%\n")) {
            n += body;
            body = 0;
        } else if (line[0] != '\n') {
            body = 1;
        }
    }
    n += body;
    fclose(f);
    return n;
}

static int cmp_count(const void *a, const void *b) {
    const category *x = a, *y = b;
    return y->count != x->count ? y->count - x->count : strcmp(x->name, y->name);
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const category *)a)->name, ((const category *)b)->name);
}

static void write_csv_field(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"') fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* The ten text classes, for ORIGIN.txt. */
static char text_classes[10][64];

static int make_text(const char *out) {
    DIR *d = opendir(FORTUNE_DIR);
    if (!d) {
        fprintf(stderr, "loretta: %s not found (install the fortunes package)\n", FORTUNE_DIR);
        return 1;
    }
    category cats[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        const char *nm = e->d_name;
        size_t len = strlen(nm);
        if (nm[0] == '.' || len >= sizeof cats[0].name || (len > 4 && !strcmp(nm + len - 4, ".dat")) ||
            (len > 3 && !strcmp(nm + len - 3, ".u8")))
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", FORTUNE_DIR, nm);
        struct stat st;
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        snprintf(cats[n].name, sizeof cats[n].name, "%s", nm);
        cats[n].count = count_fortunes(p);
        n++;
    }
    closedir(d);
    if (n < 10) {
        fprintf(stderr, "loretta: only %d fortune categories in %s, need 10\n", n, FORTUNE_DIR);
        return 1;
    }
    qsort(cats, (size_t)n, sizeof cats[0], cmp_count);
    qsort(cats, 10, sizeof cats[0], cmp_name); /* the ten largest, alphabetical = labels */
    char path[1024];
    snprintf(path, sizeof path, "%s/text.csv", out);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "loretta: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    fprintf(f, "text,label\n");
    static char buf[1 << 16];
    int total = 0;
    for (int c = 0; c < 10; c++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%.63s", FORTUNE_DIR, cats[c].name);
        FILE *in = fopen(p, "r");
        if (!in) continue;
        char line[4096];
        size_t len = 0;
        for (;;) {
            char *got = fgets(line, sizeof line, in);
            if (!got || !strcmp(line, "%\n")) {
                /* one fortune: whitespace runs folded to one space */
                while (len && buf[len - 1] == ' ') len--;
                buf[len] = 0;
                if (len) {
                    write_csv_field(f, buf);
                    fprintf(f, ",%d\n", c);
                    total++;
                }
                len = 0;
                if (!got) break;
                continue;
            }
            for (char *s = line; *s && len + 2 < sizeof buf; s++) {
                char ch = (*s == '\n' || *s == '\t' || *s == '\r') ? ' ' : *s;
                if (ch == ' ' && (len == 0 || buf[len - 1] == ' ')) continue;
                buf[len++] = ch;
            }
        }
        fclose(in);
        fprintf(stderr, "offline sources: text class %d = fortunes/%s (%d)\n", c, cats[c].name, cats[c].count);
        snprintf(text_classes[c], sizeof text_classes[c], "%.63s", cats[c].name);
    }
    fclose(f);
    fprintf(stderr, "offline sources: %d texts in %s\n", total, path);
    return 0;
}

/* ORIGIN.txt: one line saying where these sources came from. `svl-mnist build` copies it
 * into build.json and the report prints it, so a table made from them says so. */
static int write_origin(const char *out, int per_class) {
    char path[1024], tmp[1100];
    snprintf(path, sizeof path, "%s/ORIGIN.txt", out);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "loretta: cannot write %s: %s\n", tmp, strerror(errno));
        return 1;
    }
    fprintf(f, "offline sources from Debian packages (loretta svl-mnist offline-sources): images = "
               "Fashion-MNIST (dataset-fashion-mnist), speech = the ten digit words spoken by espeak-ng "
               "(%d per class, varied voices, speeds and pitches), text = the ten largest fortunes "
               "categories as classes 0-9 (",
            per_class);
    for (int c = 0; c < 10; c++) fprintf(f, "%s%s", c ? ", " : "", text_classes[c]);
    fprintf(f, ")\n");
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "loretta: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

int lt_svl_offline_sources(int argc, char **argv) {
    const char *out = NULL;
    int per_class = 60;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--out")) out = argv[i + 1];
        else if (!strcmp(argv[i], "--per-class")) per_class = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "loretta svl-mnist offline-sources: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!out || per_class < 1 || per_class > 100000) {
        fprintf(stderr, "usage: loretta svl-mnist offline-sources --out DIR [--per-class N]\n");
        return 2;
    }
    if (lt_mkdir_p(out) != LT_OK) {
        fprintf(stderr, "loretta svl-mnist offline-sources: %s\n", lt_last_error());
        return 1;
    }
    struct stat st;
    if (stat(FASHION_DIR, &st) != 0) {
        fprintf(stderr, "loretta: %s not found (install the dataset-fashion-mnist package)\n", FASHION_DIR);
        return 1;
    }
    char link[1024];
    snprintf(link, sizeof link, "%s/mnist", out);
    if (lstat(link, &st) != 0 && symlink(FASHION_DIR, link) != 0) {
        fprintf(stderr, "loretta: cannot link %s: %s\n", link, strerror(errno));
        return 1;
    }
    fprintf(stderr, "offline sources: images = Fashion-MNIST (%s)\n", FASHION_DIR);
    if (make_text(out)) return 1;
    if (make_audio(out, per_class, 7)) return 1;
    return write_origin(out, per_class);
}
