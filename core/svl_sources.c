/* core/svl_sources.c - loading the three SVL-MNIST sources into memory, per class:
 * images from IDX, speech from WAV (MFCC features), text from CSV. Bad individual files
 * are skipped with a warning (a researcher wants the build to go on past one broken
 * recording); a missing source, a missing column or a missing class is an error. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "svl_internal.h"

/* ------------------------------------------------------------------ images ---- */

static lt_status find_idx(const char *dir, const char *base, char *out, size_t n) {
    const char *suffix[2] = {"", ".gz"};
    for (int i = 0; i < 2; i++) {
        snprintf(out, n, "%s/%s%s", dir, base, suffix[i]);
        struct stat st;
        if (stat(out, &st) == 0) return LT_OK;
    }
    return lt_error(LT_ERR_IO, "svl-mnist: images: %s/%s[.gz] not found", dir, base);
}

/* Average-pools a rows x cols image by `pool` (edges averaged over what is there). */
static void pool_image(const uint8_t *src, int rows, int cols, int pool, uint16_t *dst) {
    int pr = (rows + pool - 1) / pool, pc = (cols + pool - 1) / pool;
    for (int r = 0; r < pr; r++)
        for (int c = 0; c < pc; c++) {
            int sum = 0, cnt = 0;
            for (int y = r * pool; y < rows && y < (r + 1) * pool; y++)
                for (int x = c * pool; x < cols && x < (c + 1) * pool; x++) {
                    sum += src[y * cols + x];
                    cnt++;
                }
            dst[r * pc + c] = (uint16_t)((sum + cnt / 2) / cnt);
        }
}

static lt_status load_image_file(const lt_svl_build_opts *o, const char *img_base,
                                 const char *lab_base, int is_test, lt_svl_source *s) {
    char ip[1024], lp[1024];
    LT_TRY(find_idx(o->mnist_dir, img_base, ip, sizeof ip));
    LT_TRY(find_idx(o->mnist_dir, lab_base, lp, sizeof lp));
    lt_idx_images im;
    LT_TRY(lt_idx_read_images(ip, &im));
    uint8_t *lab;
    uint32_t nl;
    lt_status st = lt_idx_read_labels(lp, &lab, &nl);
    if (st != LT_OK) {
        lt_idx_images_free(&im);
        return st;
    }
    if (nl != im.count) {
        st = lt_error(LT_ERR_FORMAT, "svl-mnist: %s holds %u images but %s holds %u labels", ip,
                      im.count, lp, nl);
    } else {
        int pr = ((int)im.rows + o->image_pool - 1) / o->image_pool;
        int pc = ((int)im.cols + o->image_pool - 1) / o->image_pool;
        uint32_t len = (uint32_t)(pr * pc);
        if (s->len && s->len != len)
            st = lt_error(LT_ERR_FORMAT, "svl-mnist: %s has %ux%u images, the other file a different size",
                          ip, im.rows, im.cols);
        s->len = len;
        for (uint32_t i = 0; st == LT_OK && i < im.count; i++) {
            if (lab[i] >= LT_SVL_CLASSES) {
                st = lt_error(LT_ERR_FORMAT, "svl-mnist: %s: label %u of image %u is not a class 0-9",
                              lp, lab[i], i);
                break;
            }
            uint16_t *tok;
            st = lt_svl_source_push(s, lab[i], is_test, len, &tok);
            if (st == LT_OK)
                pool_image(im.pixels + (size_t)i * im.rows * im.cols, (int)im.rows, (int)im.cols,
                           o->image_pool, tok);
        }
        snprintf(s->desc, sizeof s->desc, "%s (%s pooled %dx%d -> %d tokens)", o->mnist_dir,
                 img_base, o->image_pool, o->image_pool, (int)len);
    }
    free(lab);
    lt_idx_images_free(&im);
    return st;
}

lt_status lt_svl_load_images(const lt_svl_build_opts *o, lt_svl_source *s) {
    LT_TRY(load_image_file(o, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", 0, s));
    return load_image_file(o, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 1, s);
}

/* ------------------------------------------------------------------ audio ---- */

typedef struct wav_list {
    char **path;
    int *digit, *take;
    int n, cap;
} wav_list;

/* <digit>_<speaker>_<take>.wav, the naming of both FSDD and AudioMNIST. */
static int parse_wav_name(const char *name, int *digit, int *take) {
    size_t n = strlen(name);
    if (n < 9 || strcmp(name + n - 4, ".wav") != 0) return 0;
    if (name[0] < '0' || name[0] > '9' || name[1] != '_') return 0;
    const char *us = strrchr(name, '_');
    if (us == name + 1) return 0;
    char *end;
    long t = strtol(us + 1, &end, 10);
    if (end != name + n - 4 || t < 0) return 0;
    *digit = name[0] - '0';
    *take = (int)t;
    return 1;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Recursive directory walk, entries sorted so the build is deterministic. */
static lt_status walk(const char *dir, wav_list *l, int depth) {
    if (depth > 8) return LT_OK;
    DIR *d = opendir(dir);
    if (!d) return depth == 0 ? lt_error(LT_ERR_IO, "svl-mnist: audio: cannot open directory %s", dir)
                              : LT_OK;
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            char **p = realloc(names, sizeof(char *) * (size_t)cap);
            if (!p) break;
            names = p;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(names, (size_t)n, sizeof(char *), cmp_str);
    lt_status st = LT_OK;
    for (int i = 0; i < n; i++) {
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        struct stat sb;
        int digit, take;
        if (st == LT_OK && stat(p, &sb) == 0) {
            if (S_ISDIR(sb.st_mode)) {
                st = walk(p, l, depth + 1);
            } else if (parse_wav_name(names[i], &digit, &take)) {
                if (l->n == l->cap) {
                    l->cap = l->cap ? l->cap * 2 : 1024;
                    l->path = realloc(l->path, sizeof(char *) * (size_t)l->cap);
                    l->digit = realloc(l->digit, sizeof(int) * (size_t)l->cap);
                    l->take = realloc(l->take, sizeof(int) * (size_t)l->cap);
                    if (!l->path || !l->digit || !l->take)
                        st = lt_error(LT_ERR_OUT_OF_MEMORY, "svl-mnist: audio: file list");
                }
                if (st == LT_OK) {
                    l->path[l->n] = strdup(p);
                    l->digit[l->n] = digit;
                    l->take[l->n] = take;
                    l->n++;
                }
            }
        }
        free(names[i]);
    }
    free(names);
    return st;
}

lt_status lt_svl_load_audio(const lt_svl_build_opts *o, lt_svl_source *s, float **features,
                            int *n_warn) {
    wav_list l = {0};
    *features = NULL;
    *n_warn = 0;
    lt_status st = walk(o->audio_dir, &l, 0);
    if (st == LT_OK && l.n == 0)
        st = lt_error(LT_ERR_IO, "svl-mnist: audio: no <digit>_<speaker>_<take>.wav files under %s",
                      o->audio_dir);
    lt_mfcc_params mp = lt_svl_mfcc_params(o);
    int dim = lt_mfcc_frames(&mp) * mp.n_coeffs;
    float *feat = NULL;
    int *ok = NULL;
    if (st == LT_OK) {
        feat = malloc(sizeof(float) * (size_t)dim * (size_t)l.n);
        ok = calloc((size_t)l.n, sizeof(int));
        if (!feat || !ok) st = lt_error(LT_ERR_OUT_OF_MEMORY, "svl-mnist: audio features");
    }
    if (st == LT_OK) {
        char (*why)[256] = calloc((size_t)l.n, 256);
        int done = 0;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 8)
#endif
        for (int i = 0; i < l.n; i++) {
            float *x;
            size_t n;
            lt_status r = lt_wav_read_mono(l.path[i], o->sample_rate, &x, &n);
            if (r == LT_OK && n == 0) r = lt_error(LT_ERR_FORMAT, "wav %s: no samples", l.path[i]);
            if (r == LT_OK) {
                r = lt_mfcc_compute(x, n, &mp, feat + (size_t)i * dim);
                free(x);
            }
            if (r == LT_OK) ok[i] = 1;
            else if (why) snprintf(why[i], 256, "%s", lt_last_error());
            int now;
#ifdef _OPENMP
#pragma omp atomic capture
#endif
            now = ++done;
            if (!o->quiet && now % 500 == 0) {
                fprintf(stderr, "\r  audio: %d / %d recordings", now, l.n);
                fflush(stderr);
            }
        }
        if (!o->quiet && l.n >= 500) fprintf(stderr, "\n");
        for (int i = 0; i < l.n && st == LT_OK; i++) {
            if (!ok[i]) {
                (*n_warn)++;
                if (*n_warn <= 10)
                    fprintf(stderr, "warning: svl-mnist: skipping %s\n", why ? why[i] : l.path[i]);
                continue;
            }
            uint16_t *unused;
            /* Takes 0-4 are FSDD's own test split; prefer them for the test triplets. */
            st = lt_svl_source_push(s, l.digit[i], l.take[i] < 5, 0, &unused);
            if (st == LT_OK) s->feat_index[s->n - 1] = i;
        }
        if (*n_warn > 10) fprintf(stderr, "warning: svl-mnist: %d recordings skipped in all\n", *n_warn);
        free(why);
        if (st == LT_OK && *n_warn * 10 > l.n)
            st = lt_error(LT_ERR_FORMAT, "svl-mnist: audio: %d of %d recordings under %s are unreadable",
                          *n_warn, l.n, o->audio_dir);
    }
    s->len = (uint32_t)dim;
    snprintf(s->desc, sizeof s->desc, "%s (%d recordings, %d Hz, %d MFCC frames x %d)",
             o->audio_dir, l.n, o->sample_rate, lt_mfcc_frames(&mp), mp.n_coeffs);
    for (int i = 0; i < l.n; i++) free(l.path[i]);
    free(l.path);
    free(l.digit);
    free(l.take);
    free(ok);
    if (st != LT_OK) {
        free(feat);
        return st;
    }
    *features = feat;
    return LT_OK;
}

/* ------------------------------------------------------------------ text ---- */

/* The ten SVL-MNIST classes of WineReviews, alphabetical (spec section 3). */
static const char *const lt_wine_classes[LT_SVL_CLASSES] = {
    "Bordeaux-style Red Blend", "Cabernet Sauvignon", "Chardonnay", "Merlot", "Pinot Noir",
    "Red Blend", "Riesling", "Ros\xC3\xA9", "Sauvignon Blanc", "Syrah",
};

/* Longest prefix of at most max bytes that does not cut a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n, size_t max) {
    if (n <= max) return n;
    size_t k = max;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
    return k;
}

lt_status lt_svl_load_text(const lt_svl_build_opts *o, lt_svl_source *s, int *n_warn) {
    *n_warn = 0;
    lt_csv *c;
    LT_TRY(lt_csv_open(o->text_csv, &c));
    int col_text = lt_csv_column(c, "description"), col_label = lt_csv_column(c, "variety");
    int wine = col_text >= 0 && col_label >= 0;
    if (!wine) {
        col_text = lt_csv_column(c, "text");
        col_label = lt_csv_column(c, "label");
    }
    if (col_text < 0 || col_label < 0) {
        lt_csv_close(c);
        return lt_error(LT_ERR_FORMAT, "svl-mnist: text %s: line 1: needs columns (description, "
                        "variety) or (text, label); missing %s", o->text_csv,
                        col_text < 0 ? "the text column" : "the label column");
    }
    int ncol = lt_csv_column_count(c);
    lt_status st = LT_OK;
    long rows = 0, other = 0;
    s->len = (uint32_t)o->text_max;
    for (;;) {
        char **f;
        int nf;
        long line;
        st = lt_csv_next(c, &f, &nf, &line);
        if (st != LT_OK || nf == 0) break;
        rows++;
        if (nf != ncol) {
            (*n_warn)++;
            fprintf(stderr, "warning: svl-mnist: %s: line %ld: record has %d of %d fields "
                    "(truncated?), skipped\n", o->text_csv, line, nf, ncol);
            continue;
        }
        int label = -1;
        if (wine) {
            for (int k = 0; k < LT_SVL_CLASSES; k++)
                if (strcmp(f[col_label], lt_wine_classes[k]) == 0) label = k;
        } else {
            char *end;
            long v = strtol(f[col_label], &end, 10);
            if (*end == '\0' && end != f[col_label] && v >= 0 && v < LT_SVL_CLASSES) label = (int)v;
            else {
                (*n_warn)++;
                if (*n_warn <= 10)
                    fprintf(stderr, "warning: svl-mnist: %s: line %ld: label '%s' is not 0-9, skipped\n",
                            o->text_csv, line, f[col_label]);
                continue;
            }
        }
        if (label < 0) {
            other++;
            continue;
        }
        size_t n = utf8_cut(f[col_text], strlen(f[col_text]), (size_t)o->text_max);
        if (n == 0) continue;
        uint16_t *tok;
        st = lt_svl_source_push(s, label, 0, (uint32_t)n, &tok);
        if (st != LT_OK) break;
        for (size_t k = 0; k < n; k++) tok[k] = (unsigned char)f[col_text][k];
    }
    lt_csv_close(c);
    snprintf(s->desc, sizeof s->desc, "%s (%s; %ld records, %ld of other classes, up to %d bytes)",
             o->text_csv, wine ? "WineReviews description by variety" : "text,label", rows,
             other, o->text_max);
    return st;
}
