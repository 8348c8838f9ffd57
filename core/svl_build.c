/* core/svl_build.c - the SVL-MNIST split of the paper's appendix C, from loaded sources
 * to dataset files: test triplets, three disjoint bimodal sets, unimodal rest. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loretta/fsutil.h"
#include "svl_internal.h"

lt_svl_build_opts lt_svl_build_defaults(void) {
    lt_svl_build_opts o;
    memset(&o, 0, sizeof o);
    o.pairs_per_class = 1200;
    o.test_per_class = 100;
    o.image_pool = 1;
    o.audio_frames = 39;
    o.audio_coeffs = 13;
    o.text_max = 384;
    o.sample_rate = 8000;
    o.seed = 1234;
    return o;
}

lt_status lt_svl_source_push(lt_svl_source *s, int label, int prefer_test, uint32_t len,
                             uint16_t **tokens) {
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 4096;
        int *l = realloc(s->label, sizeof(int) * (size_t)cap);
        if (l) s->label = l;
        int *p = realloc(s->prefer_test, sizeof(int) * (size_t)cap);
        if (p) s->prefer_test = p;
        uint64_t *o = realloc(s->tok_off, sizeof(uint64_t) * (size_t)cap);
        if (o) s->tok_off = o;
        uint32_t *n = realloc(s->tok_len, sizeof(uint32_t) * (size_t)cap);
        if (n) s->tok_len = n;
        int *f = realloc(s->feat_index, sizeof(int) * (size_t)cap);
        if (f) s->feat_index = f;
        if (!l || !p || !o || !n || !f) return lt_error(LT_ERR_OUT_OF_MEMORY, "svl-mnist: sample table");
        s->cap = cap;
    }
    if (s->tok_used + len > s->tok_cap) {
        uint64_t cap = s->tok_cap ? s->tok_cap * 2 : (uint64_t)1 << 20;
        while (cap < s->tok_used + len) cap *= 2;
        uint16_t *t = realloc(s->tokens, sizeof(uint16_t) * cap);
        if (!t) return lt_error(LT_ERR_OUT_OF_MEMORY, "svl-mnist: token storage");
        s->tokens = t;
        s->tok_cap = cap;
    }
    s->label[s->n] = label;
    s->prefer_test[s->n] = prefer_test;
    s->tok_off[s->n] = s->tok_used;
    s->tok_len[s->n] = len;
    s->feat_index[s->n] = -1;
    *tokens = s->tokens ? s->tokens + s->tok_used : NULL;
    s->tok_used += len;
    s->n++;
    return LT_OK;
}

void lt_svl_source_free(lt_svl_source *s) {
    free(s->label);
    free(s->prefer_test);
    free(s->tok_off);
    free(s->tok_len);
    free(s->feat_index);
    free(s->tokens);
    memset(s, 0, sizeof *s);
}

/* One second of audio in audio_frames frames of 50 ms: the hop in whole samples is
 * rounded up so the frame count comes out exactly (39 frames = the paper's 25 ms). */
lt_mfcc_params lt_svl_mfcc_params(const lt_svl_build_opts *o) {
    lt_mfcc_params p = lt_mfcc_default();
    p.sample_rate = o->sample_rate;
    p.n_coeffs = o->audio_coeffs;
    long win = lrint(p.win_s * p.sample_rate), total = lrint(p.duration_s * p.sample_rate);
    if (o->audio_frames > 1) {
        long hop = (total - win + o->audio_frames - 2) / (o->audio_frames - 1);
        p.hop_s = (float)hop / (float)p.sample_rate;
    }
    return p;
}

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void shuffle(int *a, int n, uint64_t *rng) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(splitmix(rng) % (uint64_t)(i + 1));
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* Where each sample of a modality goes. */
enum { GO_UNUSED = 0, GO_TEST, GO_PAIR1, GO_PAIR2, GO_UNI, GO_HELD };

typedef struct split {
    int *go;                          /* per sample of the source */
    int *order[LT_SVL_CLASSES][4];    /* per class: test, pair1, pair2, uni sample lists */
    int count[LT_SVL_CLASSES][4];
} split;

static lt_status split_modality(const lt_svl_source *s, int P, int Q, uint64_t seed, split *sp) {
    sp->go = calloc((size_t)s->n, sizeof(int));
    if (!sp->go) return lt_error(LT_ERR_OUT_OF_MEMORY, "svl-mnist: split");
    for (int c = 0; c < LT_SVL_CLASSES; c++) {
        int n = 0;
        for (int i = 0; i < s->n; i++) n += s->label[i] == c;
        int *test_pool = malloc(sizeof(int) * (size_t)(n + 1)), *train_pool = malloc(sizeof(int) * (size_t)(n + 1));
        for (int k = 0; k < 4; k++) sp->order[c][k] = malloc(sizeof(int) * (size_t)(n + 1));
        if (!test_pool || !train_pool || !sp->order[c][0] || !sp->order[c][1] || !sp->order[c][2] ||
            !sp->order[c][3]) {
            free(test_pool);
            free(train_pool);
            return lt_error(LT_ERR_OUT_OF_MEMORY, "svl-mnist: split");
        }
        int nt = 0, nr = 0;
        for (int i = 0; i < s->n; i++)
            if (s->label[i] == c) {
                if (s->prefer_test[i]) test_pool[nt++] = i;
                else train_pool[nr++] = i;
            }
        uint64_t rng = seed ^ (0x1000003ull * (uint64_t)(c + 1));
        shuffle(test_pool, nt, &rng);
        shuffle(train_pool, nr, &rng);
        /* Test triplets take official test samples first; pairs and the unimodal set take
         * training samples; leftover official test samples are held out of training. */
        int ti = 0, ri = 0;
        for (int k = 0; k < Q; k++) {
            int i = ti < nt ? test_pool[ti++] : train_pool[ri++];
            sp->order[c][0][sp->count[c][0]++] = i;
            sp->go[i] = GO_TEST;
        }
        for (int pair = 1; pair <= 2; pair++)
            for (int k = 0; k < P; k++) {
                int i = ri < nr ? train_pool[ri++] : test_pool[ti++];
                sp->order[c][pair][sp->count[c][pair]++] = i;
                sp->go[i] = pair == 1 ? GO_PAIR1 : GO_PAIR2;
            }
        while (ri < nr) {
            int i = train_pool[ri++];
            sp->order[c][3][sp->count[c][3]++] = i;
            sp->go[i] = GO_UNI;
        }
        while (ti < nt) sp->go[test_pool[ti++]] = GO_HELD;
        free(test_pool);
        free(train_pool);
    }
    return LT_OK;
}

static void split_free(split *sp) {
    free(sp->go);
    for (int c = 0; c < LT_SVL_CLASSES; c++)
        for (int k = 0; k < 4; k++) free(sp->order[c][k]);
}

/* Audio normalisation (training side only): per coefficient standardise, then min-max
 * to [0, 1], then 256 bins. Test values outside the training range are clipped. */
typedef struct audio_norm {
    int coeffs;
    double mean[64], std[64], zmin[64], zmax[64];
} audio_norm;

static void audio_stats(const lt_svl_source *a, const split *sp, const float *feat, int dim,
                        audio_norm *nm) {
    int C = nm->coeffs;
    double sum[64] = {0}, sq[64] = {0};
    long cnt = 0;
    for (int i = 0; i < a->n; i++) {
        if (sp->go[i] == GO_TEST || sp->go[i] == GO_HELD || sp->go[i] == GO_UNUSED) continue;
        const float *f = feat + (size_t)a->feat_index[i] * dim;
        for (int k = 0; k < dim; k++) {
            sum[k % C] += f[k];
            sq[k % C] += (double)f[k] * f[k];
        }
        cnt += dim / C;
    }
    for (int k = 0; k < C; k++) {
        nm->mean[k] = cnt ? sum[k] / cnt : 0;
        double var = cnt ? sq[k] / cnt - nm->mean[k] * nm->mean[k] : 1;
        nm->std[k] = var > 1e-12 ? sqrt(var) : 1.0;
        nm->zmin[k] = INFINITY;
        nm->zmax[k] = -INFINITY;
    }
    for (int i = 0; i < a->n; i++) {
        if (sp->go[i] == GO_TEST || sp->go[i] == GO_HELD || sp->go[i] == GO_UNUSED) continue;
        const float *f = feat + (size_t)a->feat_index[i] * dim;
        for (int k = 0; k < dim; k++) {
            double z = (f[k] - nm->mean[k % C]) / nm->std[k % C];
            if (z < nm->zmin[k % C]) nm->zmin[k % C] = z;
            if (z > nm->zmax[k % C]) nm->zmax[k % C] = z;
        }
    }
}

static void audio_tokens(const float *f, int dim, const audio_norm *nm, uint16_t *out) {
    for (int k = 0; k < dim; k++) {
        int c = k % nm->coeffs;
        double z = (f[k] - nm->mean[c]) / nm->std[c];
        double range = nm->zmax[c] - nm->zmin[c];
        double v = range > 0 ? (z - nm->zmin[c]) / range : 0.5;
        long b = (long)floor(v * 256.0);
        out[k] = (uint16_t)(b < 0 ? 0 : b > 255 ? 255 : b);
    }
}

typedef struct build_ctx {
    const lt_svl_build_opts *o;
    lt_svl_source *src[3];
    split sp[3];
    const float *feat;
    int audio_dim;
    audio_norm nm;
    lt_ds_modality mods[3];
    uint16_t *scratch;
} build_ctx;

/* Tokens of sample i of modality m (audio converted on the fly). */
static const uint16_t *sample_tokens(build_ctx *b, int m, int i, uint32_t *len) {
    const lt_svl_source *s = b->src[m];
    if (m == LT_SVL_A) {
        audio_tokens(b->feat + (size_t)s->feat_index[i] * b->audio_dim, b->audio_dim, &b->nm, b->scratch);
        *len = (uint32_t)b->audio_dim;
        return b->scratch;
    }
    *len = s->tok_len[i];
    return s->tokens + s->tok_off[i];
}

/* A record of the file being written: per modality, a sample index or -1. */
typedef struct rec { int label; int idx[3]; } rec;

static lt_status write_file(build_ctx *b, const char *name, rec *recs, int n, uint64_t seed,
                            int *written) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s.ltds", b->o->out_dir, name);
    uint64_t rng = seed;
    for (int i = n - 1; i > 0; i--) { /* mix the classes */
        int j = (int)(splitmix(&rng) % (uint64_t)(i + 1));
        rec t = recs[i];
        recs[i] = recs[j];
        recs[j] = t;
    }
    lt_dataset_writer *w;
    LT_TRY(lt_dataset_writer_open(path, b->mods, 3, &w));
    /* Audio tokens are converted into scratch, so copy them aside per record. */
    uint16_t *audio_copy = malloc(sizeof(uint16_t) * (size_t)b->audio_dim);
    if (!audio_copy) {
        lt_dataset_writer_abort(w);
        return lt_error(LT_ERR_OUT_OF_MEMORY, "svl-mnist: writing %s", path);
    }
    lt_status st = LT_OK;
    for (int r = 0; r < n && st == LT_OK; r++) {
        const uint16_t *tok[3] = {NULL, NULL, NULL};
        uint32_t len[3] = {0, 0, 0}, mask = 0;
        for (int m = 0; m < 3; m++) {
            if (recs[r].idx[m] < 0) continue;
            tok[m] = sample_tokens(b, m, recs[r].idx[m], &len[m]);
            if (m == LT_SVL_A) {
                memcpy(audio_copy, tok[m], sizeof(uint16_t) * len[m]);
                tok[m] = audio_copy;
            }
            mask |= 1u << m;
        }
        st = lt_dataset_writer_add(w, recs[r].label, mask, tok, len);
    }
    free(audio_copy);
    if (st != LT_OK) {
        lt_dataset_writer_abort(w);
        return st;
    }
    *written = n;
    return lt_dataset_writer_close(w);
}

static int pair_slot(int m, int other) {
    /* I: pair1 = with T, pair2 = with A; T: pair1 = with I, pair2 = with A;
     * A: pair1 = with T, pair2 = with I. */
    static const int slot[3][3] = {{0, 1, 2}, {1, 0, 2}, {2, 1, 0}};
    return slot[m][other];
}

static const char *const mod_letter = "ITA";

static lt_status build_files(build_ctx *b, int P, int Q, int counts[7]) {
    int total = 0;
    for (int m = 0; m < 3; m++) total += b->src[m]->n;
    rec *recs = malloc(sizeof(rec) * (size_t)(total + 1));
    if (!recs) return lt_error(LT_ERR_OUT_OF_MEMORY, "svl-mnist: records");
    lt_status st = LT_OK;
    int n;
    /* test triplets */
    n = 0;
    for (int c = 0; c < LT_SVL_CLASSES; c++)
        for (int k = 0; k < Q; k++)
            recs[n++] = (rec){c, {b->sp[0].order[c][0][k], b->sp[1].order[c][0][k], b->sp[2].order[c][0][k]}};
    st = write_file(b, "test_ITA", recs, n, b->o->seed + 1, &counts[0]);
    /* the three bimodal sets */
    static const int pairs[3][2] = {{LT_SVL_I, LT_SVL_T}, {LT_SVL_T, LT_SVL_A}, {LT_SVL_A, LT_SVL_I}};
    for (int p = 0; p < 3 && st == LT_OK; p++) {
        int m0 = pairs[p][0], m1 = pairs[p][1];
        n = 0;
        for (int c = 0; c < LT_SVL_CLASSES; c++)
            for (int k = 0; k < P; k++) {
                rec r = {c, {-1, -1, -1}};
                r.idx[m0] = b->sp[m0].order[c][pair_slot(m0, m1)][k];
                r.idx[m1] = b->sp[m1].order[c][pair_slot(m1, m0)][k];
                recs[n++] = r;
            }
        char name[16];
        snprintf(name, sizeof name, "train_%c%c", mod_letter[m0], mod_letter[m1]);
        st = write_file(b, name, recs, n, b->o->seed + 2 + (uint64_t)p, &counts[1 + p]);
    }
    /* unimodal rest */
    for (int m = 0; m < 3 && st == LT_OK; m++) {
        n = 0;
        for (int c = 0; c < LT_SVL_CLASSES; c++)
            for (int k = 0; k < b->sp[m].count[c][3]; k++) {
                rec r = {c, {-1, -1, -1}};
                r.idx[m] = b->sp[m].order[c][3][k];
                recs[n++] = r;
            }
        char name[16];
        snprintf(name, sizeof name, "train_%c", mod_letter[m]);
        st = write_file(b, name, recs, n, b->o->seed + 5 + (uint64_t)m, &counts[4 + m]);
    }
    free(recs);
    return st;
}

/* The first line of ORIGIN.txt in the folder above the image source (what
 * `svl-mnist offline-sources` writes), or "" when there is none. */
static void read_origin(const char *mnist_dir, char *out, size_t n) {
    char dir[1024], p[1100];
    out[0] = 0;
    snprintf(dir, sizeof dir, "%s", mnist_dir);
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') dir[--len] = 0;
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    snprintf(p, sizeof p, "%s/ORIGIN.txt", dir);
    FILE *f = fopen(p, "r");
    if (!f) return;
    if (!fgets(out, (int)n, f)) out[0] = 0;
    fclose(f);
    out[strcspn(out, "\r\n")] = 0;
}

static void json_escaped(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if ((unsigned char)*s >= 0x20) fputc(*s, f);
    }
}

static lt_status write_summary(build_ctx *b, int P, int Q, const int counts[7], const char *note,
                               const int warn[3]) {
    char path[2048], tmp[2100];
    snprintf(path, sizeof path, "%s/build.json", b->o->out_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return lt_error(LT_ERR_IO, "svl-mnist: cannot write %s: %s", tmp, strerror(errno));
    const lt_svl_build_opts *o = b->o;
    fprintf(f, "{\n  \"format\": \"loretta svl-mnist build 1\",\n");
    fprintf(f, "  \"seed\": %llu,\n  \"pairs_per_class\": %d,\n  \"test_per_class\": %d,\n",
            (unsigned long long)o->seed, P, Q);
    fprintf(f, "  \"requested_pairs_per_class\": %d,\n  \"requested_test_per_class\": %d,\n",
            o->pairs_per_class, o->test_per_class);
    fprintf(f, "  \"image_pool\": %d,\n  \"image_tokens\": %u,\n  \"audio_frames\": %d,\n"
            "  \"audio_coeffs\": %d,\n  \"audio_tokens\": %d,\n  \"text_max\": %d,\n"
            "  \"sample_rate\": %d,\n", o->image_pool, b->src[0]->len, o->audio_frames,
            o->audio_coeffs, b->audio_dim, o->text_max, o->sample_rate);
    const char *names[7] = {"test_ITA", "train_IT", "train_TA", "train_AI", "train_I", "train_T", "train_A"};
    fprintf(f, "  \"files\": {");
    for (int i = 0; i < 7; i++) fprintf(f, "%s\"%s\": %d", i ? ", " : "", names[i], counts[i]);
    fprintf(f, "},\n  \"sources\": {");
    for (int m = 0; m < 3; m++) {
        fprintf(f, "%s\"%c\": \"", m ? ", " : "", mod_letter[m]);
        json_escaped(f, b->src[m]->desc);
        fprintf(f, "\"");
    }
    char origin[1024];
    read_origin(o->mnist_dir, origin, sizeof origin);
    fprintf(f, "},\n  \"origin\": \"");
    json_escaped(f, origin);
    fprintf(f, "\",\n  \"skipped_records\": {\"T\": %d, \"A\": %d},\n", warn[1], warn[2]);
    fprintf(f, "  \"scaling_note\": \"%s\",\n  \"audio_norm\": {\"mean\": [", note);
    for (int k = 0; k < b->nm.coeffs; k++) fprintf(f, "%s%.9g", k ? ", " : "", b->nm.mean[k]);
    fprintf(f, "], \"std\": [");
    for (int k = 0; k < b->nm.coeffs; k++) fprintf(f, "%s%.9g", k ? ", " : "", b->nm.std[k]);
    fprintf(f, "], \"zmin\": [");
    for (int k = 0; k < b->nm.coeffs; k++) fprintf(f, "%s%.9g", k ? ", " : "", b->nm.zmin[k]);
    fprintf(f, "], \"zmax\": [");
    for (int k = 0; k < b->nm.coeffs; k++) fprintf(f, "%s%.9g", k ? ", " : "", b->nm.zmax[k]);
    fprintf(f, "]}\n}\n");
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return lt_error(LT_ERR_IO, "svl-mnist: cannot write %s: %s", path, strerror(errno));
    return LT_OK;
}

lt_status lt_svl_build(const lt_svl_build_opts *o) {
    if (!o || !o->mnist_dir || !o->audio_dir || !o->text_csv || !o->out_dir)
        return lt_error(LT_ERR_INVALID_ARG, "svl-mnist build: --mnist, --audio, --text and --out are all needed");
    if (o->pairs_per_class < 1 || o->test_per_class < 1 || o->image_pool < 1 || o->image_pool > 28 ||
        o->audio_frames < 1 || o->audio_frames > 400 || o->audio_coeffs < 1 || o->audio_coeffs > 26 ||
        o->text_max < 1 || o->text_max > 65535)
        return lt_error(LT_ERR_INVALID_ARG, "svl-mnist build: sizes out of range (pairs %d, test %d, "
                        "pool %d, frames %d, coeffs %d, text_max %d)", o->pairs_per_class,
                        o->test_per_class, o->image_pool, o->audio_frames, o->audio_coeffs, o->text_max);
    lt_status made = lt_mkdir_p(o->out_dir);
    if (made != LT_OK) return lt_error_context(made, "svl-mnist build: ");
    lt_svl_source src[3];
    memset(src, 0, sizeof src);
    build_ctx b;
    memset(&b, 0, sizeof b);
    b.o = o;
    for (int m = 0; m < 3; m++) b.src[m] = &src[m];
    float *feat = NULL;
    int warn[3] = {0, 0, 0};
    lt_status st;
    if (!o->quiet) fprintf(stderr, "svl-mnist: loading images from %s\n", o->mnist_dir);
    st = lt_svl_load_images(o, &src[0]);
    if (st == LT_OK) {
        if (!o->quiet) fprintf(stderr, "svl-mnist: loading text from %s\n", o->text_csv);
        st = lt_svl_load_text(o, &src[1], &warn[1]);
    }
    if (st == LT_OK) {
        if (!o->quiet) fprintf(stderr, "svl-mnist: loading speech from %s\n", o->audio_dir);
        st = lt_svl_load_audio(o, &src[2], &feat, &warn[2]);
    }
    /* Every class must be present in every source. */
    int per_class[3][LT_SVL_CLASSES] = {{0}};
    for (int m = 0; m < 3 && st == LT_OK; m++) {
        for (int i = 0; i < src[m].n; i++) per_class[m][src[m].label[i]]++;
        for (int c = 0; c < LT_SVL_CLASSES; c++)
            if (per_class[m][c] == 0) {
                st = lt_error(LT_ERR_FORMAT, "svl-mnist: %s source %s has no sample of class %d",
                              m == 0 ? "image" : m == 1 ? "text" : "speech", src[m].desc, c);
                break;
            }
    }
    int P = o->pairs_per_class, Q = o->test_per_class;
    char note[512] = "";
    if (st == LT_OK) {
        /* Each modality feeds the test set and two pair sets: 2P + Q per class. */
        int need = 2 * P + Q, worst_m = 0, worst_c = 0, worst = per_class[0][0];
        for (int m = 0; m < 3; m++)
            for (int c = 0; c < LT_SVL_CLASSES; c++)
                if (per_class[m][c] < worst) {
                    worst = per_class[m][c];
                    worst_m = m;
                    worst_c = c;
                }
        if (worst < need) {
            double s = (double)worst / need;
            P = (int)floor(P * s);
            Q = (int)floor(Q * s);
            if (Q < 1) Q = 1;
            while (P > 0 && 2 * P + Q > worst) P--;
            snprintf(note, sizeof note, "%c class %d has %d samples but %d pairs and %d test triplets "
                     "per class need %d: scaled to %d pairs and %d test triplets per class",
                     mod_letter[worst_m], worst_c, worst, o->pairs_per_class, o->test_per_class,
                     need, P, Q);
            fprintf(stderr, "svl-mnist: note: %s\n", note);
            if (P < 1)
                st = lt_error(LT_ERR_FORMAT, "svl-mnist: %s: too few samples for even one pair per class", note);
        }
    }
    for (int m = 0; m < 3 && st == LT_OK; m++)
        st = split_modality(&src[m], P, Q, o->seed * 31 + (uint64_t)m, &b.sp[m]);
    int counts[7] = {0};
    if (st == LT_OK) {
        b.feat = feat;
        b.audio_dim = (int)src[2].len;
        b.nm.coeffs = o->audio_coeffs;
        audio_stats(&src[2], &b.sp[2], feat, b.audio_dim, &b.nm);
        b.scratch = malloc(sizeof(uint16_t) * (size_t)b.audio_dim);
        lt_ds_modality mods[3] = {{"image", 256, src[0].len, 1},
                                  {"text", 256, (uint32_t)o->text_max, 0},
                                  {"audio", 256, src[2].len, 1}};
        memcpy(b.mods, mods, sizeof mods);
        st = b.scratch ? build_files(&b, P, Q, counts)
                       : lt_error(LT_ERR_OUT_OF_MEMORY, "svl-mnist: scratch");
    }
    if (st == LT_OK) st = write_summary(&b, P, Q, counts, note, warn);
    if (st == LT_OK && !o->quiet) {
        fprintf(stderr, "svl-mnist: wrote %s: test_ITA %d triplets; train_IT %d, train_TA %d, "
                "train_AI %d pairs; train_I %d, train_T %d, train_A %d unimodal\n", o->out_dir,
                counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], counts[6]);
        fprintf(stderr, "svl-mnist: tokens per sample: image %u, text <= %d, audio %d\n",
                src[0].len, o->text_max, b.audio_dim);
    }
    free(b.scratch);
    for (int m = 0; m < 3; m++) {
        if (b.sp[m].go) split_free(&b.sp[m]);
        lt_svl_source_free(&src[m]);
    }
    free(feat);
    return st;
}
