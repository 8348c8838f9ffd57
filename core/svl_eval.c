/* core/svl_eval.c - evaluating one trained SVL-MNIST model on the aligned test triplets:
 * perplexity per modality combination (table 1), conditional perplexities, ratios to the
 * context-free reference, and linear probes on frozen features (table 2). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loretta/eval.h"
#include "svl_internal_run.h"

const char *const lt_svl_comb_name[SVL_NCOMB] = {"I", "T", "A", "(I,T)", "(I,A)", "(T,A)", "(I,T,A)"};
const int lt_svl_comb_mods[SVL_NCOMB][4] = {{0, -1}, {1, -1}, {2, -1}, {0, 1, -1}, {0, 2, -1}, {1, 2, -1}, {0, 1, 2, -1}};

#define EVAL_B 8

typedef struct nll_acc {
    double sum[LT_MAX_MODALITIES], n[LT_MAX_MODALITIES];
} nll_acc;

typedef struct evaluator {
    svl_ctx *c;
    lt_model *m;
    lt_seq seqs[EVAL_B];
    int nseq;
    int32_t *tok, *tgt, *pos, *len, *mod;
    float *w;
    nll_acc *acc;
} evaluator;

/* [BOS x EOS] blocks in `order`; content tokens of modalities in `counted` count. */
static lt_status build_seq(evaluator *e, const lt_ds_sample *smp, const int *order, int n, unsigned counted) {
    lt_seq *s = &e->seqs[e->nseq];
    lt_seq_clear(s);
    for (int k = 0; k < n; k++) {
        int m = order[k];
        int before = s->len;
        LT_TRY(lt_seq_append_modality(s, &e->c->mc, m, smp->tokens[m], smp->len[m], (counted >> m) & 1));
        s->counted[before] = 0;      /* BOS and EOS are special tokens: not part of the */
        s->counted[s->len - 1] = 0;  /* perplexity (the paper's table 1) */
    }
    e->nseq++;
    return LT_OK;
}

static lt_status flush(evaluator *e) {
    if (e->nseq == 0) return LT_OK;
    int T = 1;
    for (int i = 0; i < e->nseq; i++)
        if (e->seqs[i].len - 1 > T) T = e->seqs[i].len - 1;
    memset(e->w, 0, sizeof(float) * (size_t)EVAL_B * e->c->max_T);
    memset(e->tok, 0, sizeof(int32_t) * (size_t)EVAL_B * e->c->max_T);
    memset(e->pos, 0, sizeof(int32_t) * (size_t)EVAL_B * e->c->max_T);
    memset(e->tgt, 0, sizeof(int32_t) * (size_t)EVAL_B * e->c->max_T);
    memset(e->mod, 0, sizeof(int32_t) * (size_t)EVAL_B * e->c->max_T);
    for (int i = 0; i < e->nseq; i++) {
        int rows;
        size_t at = (size_t)i * T;
        LT_TRY(lt_seq_to_rows(&e->seqs[i], T, e->tok + at, e->tgt + at, e->w + at, e->pos + at, e->mod + at, &rows));
        e->len[i] = rows;
    }
    lt_batch b = {e->nseq, T, e->tok, e->tgt, e->w, e->pos, e->len, e->mod};
    lt_loss_sums sums;
    LT_TRY(lt_model_forward(e->m, &b, 0.0f, &sums));
    if (sums.nonfinite) return lt_error(LT_ERR_NUMERIC, "svl-mnist eval: a non-finite loss");
    for (int m = 0; m < LT_MAX_MODALITIES; m++) {
        e->acc->sum[m] += sums.mod_sum[m];
        e->acc->n[m] += sums.mod_weight[m];
    }
    e->nseq = 0;
    return LT_OK;
}

static lt_status add(evaluator *e, nll_acc *acc, const lt_ds_sample *smp, const int *order, int n, unsigned counted) {
    if (e->acc != acc) {
        LT_TRY(flush(e));
        e->acc = acc;
    }
    LT_TRY(build_seq(e, smp, order, n, counted));
    return e->nseq == EVAL_B ? flush(e) : LT_OK;
}

static double total(const nll_acc *a, double *n_out) {
    double s = 0, n = 0;
    for (int m = 0; m < LT_MAX_MODALITIES; m++) {
        s += a->sum[m];
        n += a->n[m];
    }
    if (n_out) *n_out = n;
    return n > 0 ? s / n : NAN;
}

/* All orders of a modality list (1, 2 or 6 of them). */
static int permutations(const int *mods, int n, int out[6][3]) {
    if (n == 1) {
        out[0][0] = mods[0];
        return 1;
    }
    if (n == 2) {
        out[0][0] = mods[0], out[0][1] = mods[1];
        out[1][0] = mods[1], out[1][1] = mods[0];
        return 2;
    }
    static const int p[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < 3; k++) out[i][k] = mods[p[i][k]];
    return 6;
}

static lt_status perplexities(evaluator *e, lt_dataset *test, svl_eval *r) {
    uint64_t n = lt_dataset_size(test);
    if (e->c->p.eval_max > 0 && n > (uint64_t)e->c->p.eval_max) n = (uint64_t)e->c->p.eval_max;
    static nll_acc comb[SVL_NCOMB][6], cond[3][3];
    memset(comb, 0, sizeof comb);
    memset(cond, 0, sizeof cond);
    for (uint64_t i = 0; i < n; i++) {
        lt_ds_sample smp;
        LT_TRY(lt_dataset_get(test, i, &smp));
        for (int c = 0; c < SVL_NCOMB; c++) {
            int mods[3] = {0, 0, 0}, k = 0;
            for (; lt_svl_comb_mods[c][k] >= 0; k++) mods[k] = lt_svl_comb_mods[c][k];
            int perm[6][3], np = permutations(mods, k, perm);
            unsigned counted = 0;
            for (int j = 0; j < k; j++) counted |= 1u << mods[j];
            for (int q = 0; q < np; q++) LT_TRY(add(e, &comb[c][q], &smp, perm[q], k, counted));
        }
        for (int x = 0; x < 3; x++)
            for (int y = 0; y < 3; y++) {
                if (x == y) continue;
                int order[2] = {y, x}; /* x given y: y first, loss on x only */
                LT_TRY(add(e, &cond[x][y], &smp, order, 2, 1u << x));
            }
    }
    LT_TRY(flush(e));
    double uni_log[3], tokens = 0;
    for (int m = 0; m < 3; m++) uni_log[m] = total(&comb[m][0], NULL);
    for (int c = 0; c < SVL_NCOMB; c++) {
        int k = 0;
        while (lt_svl_comb_mods[c][k] >= 0) k++;
        int np = k == 1 ? 1 : k == 2 ? 2 : 6;
        /* Orders averaged in log space: the geometric mean of the orders' perplexities. */
        double mean_log = 0;
        for (int q = 0; q < np; q++) mean_log += total(&comb[c][q], NULL) / np;
        r->ppl[c] = exp(mean_log);
        /* Context-free reference: exp of the token-weighted mean of the unimodal log
         * perplexities of the modalities in the combination. */
        double num = 0, den = 0;
        for (int j = 0; j < k; j++) {
            int m = lt_svl_comb_mods[c][j];
            num += comb[c][0].n[m] * uni_log[m];
            den += comb[c][0].n[m];
        }
        r->ref[c] = den > 0 ? exp(num / den) : NAN;
        double t;
        total(&comb[c][0], &t);
        tokens += t * np;
    }
    for (int x = 0; x < 3; x++)
        for (int y = 0; y < 3; y++) r->cond[x][y] = x == y ? exp(uni_log[x]) : exp(total(&cond[x][y], NULL));
    r->tokens = (long)tokens;
    return LT_OK;
}

/* ---- probes ---- */

typedef struct feat_set {
    float *x;
    int32_t *y;
    int n, cap;
} feat_set;

static lt_status feat_push(evaluator *e, feat_set *fs, const lt_ds_sample *const *parts, const int *mods, int k,
                           int label) {
    if (fs->n == fs->cap) {
        int cap = fs->cap ? fs->cap * 2 : 256;
        float *x = realloc(fs->x, sizeof(float) * (size_t)cap * e->c->mc.d_model);
        int32_t *y = realloc(fs->y, sizeof(int32_t) * (size_t)cap);
        if (x) fs->x = x;
        if (y) fs->y = y;
        if (!x || !y) return lt_error(LT_ERR_OUT_OF_MEMORY, "svl-mnist probe: features");
        fs->cap = cap;
    }
    lt_seq *s = &e->seqs[0];
    lt_seq_clear(s);
    for (int j = 0; j < k; j++)
        LT_TRY(lt_seq_append_modality(s, &e->c->mc, mods[j], parts[j]->tokens[mods[j]], parts[j]->len[mods[j]], 1));
    LT_TRY(lt_model_features(e->m, s, 1, fs->x + (size_t)fs->n * e->c->mc.d_model));
    fs->y[fs->n++] = label;
    return LT_OK;
}

/* Up to `per_class` samples per class of a dataset, first come in file order (the files
 * are shuffled at build time). */
static lt_status pick(lt_dataset *ds, unsigned need_mask, int per_class, uint64_t *idx, int *n) {
    int count[LT_SVL_CLASSES] = {0};
    *n = 0;
    for (uint64_t i = 0; i < lt_dataset_size(ds); i++) {
        lt_ds_sample s;
        LT_TRY(lt_dataset_get(ds, i, &s));
        if ((s.mask & need_mask) != need_mask || s.label < 0 || s.label >= LT_SVL_CLASSES) continue;
        if (count[s.label] >= per_class) continue;
        count[s.label]++;
        idx[(*n)++] = i;
    }
    return LT_OK;
}

static lt_status open_train(svl_ctx *c, const char *what, lt_dataset **ds) {
    char p[1200];
    snprintf(p, sizeof p, "%s/train_%s.ltds", c->o->data_dir, what);
    return lt_dataset_open(p, ds);
}

static lt_status probes(evaluator *e, lt_dataset *test, svl_eval *r) {
    svl_ctx *c = e->c;
    const char *letters = "ITA";
    lt_dataset *uni[3] = {0};
    lt_status st = LT_OK;
    for (int m = 0; m < 3 && st == LT_OK; m++) {
        char w[2] = {letters[m], 0};
        st = open_train(c, w, &uni[m]);
        /* A modality with no unimodal leftovers takes its own tokens from a trained pair
         * file instead (only that modality is read, so no pairing is used). */
        for (int o = 0; o < 3 && st == LT_OK && lt_dataset_size(uni[m]) == 0; o++) {
            if (o == m || !c->seen[m][o]) continue;
            char pw[3] = {letters[m < o ? m : o], letters[m < o ? o : m], 0};
            if (!strcmp(pw, "IA")) strcpy(pw, "AI"); /* the files are IT, TA, AI */
            if (!strcmp(pw, "TA") || !strcmp(pw, "IT") || !strcmp(pw, "AI")) {
                lt_dataset_close(uni[m]);
                uni[m] = NULL;
                st = open_train(c, pw, &uni[m]);
            }
        }
    }
    int pool = c->p.probe_per_class * 2; /* fresh subsets per trial come out of this pool */
    uint64_t *idx[3] = {0};
    int nidx[3] = {0};
    for (int m = 0; m < 3 && st == LT_OK; m++) {
        idx[m] = malloc(sizeof(uint64_t) * (size_t)pool * LT_SVL_CLASSES + 8);
        if (!idx[m]) st = lt_error(LT_ERR_OUT_OF_MEMORY, "svl-mnist probe");
        else st = pick(uni[m], 1u << m, pool, idx[m], &nidx[m]);
    }
    for (int cb = 0; cb < SVL_NCOMB && st == LT_OK; cb++) {
        int mods[3] = {0, 0, 0}, k = 0;
        for (; lt_svl_comb_mods[cb][k] >= 0; k++) mods[k] = lt_svl_comb_mods[cb][k];
        feat_set tr = {0}, te = {0};
        /* Training side: for a pair seen in training, its pair file; otherwise samples of
         * the same class joined by label from the unimodal sets (the weak alignment the
         * data allows). Never the test triplets. */
        lt_dataset *pair = NULL;
        if (k == 2 && c->seen[mods[0]][mods[1]]) {
            char w[3] = {letters[mods[0]], letters[mods[1]], 0};
            if (open_train(c, w, &pair) != LT_OK) {
                char w2[3] = {letters[mods[1]], letters[mods[0]], 0};
                st = open_train(c, w2, &pair);
            }
        }
        if (st == LT_OK && pair) {
            uint64_t *pi = malloc(sizeof(uint64_t) * (size_t)pool * LT_SVL_CLASSES + 8);
            int np = 0;
            st = pi ? pick(pair, (1u << mods[0]) | (1u << mods[1]), pool, pi, &np)
                    : lt_error(LT_ERR_OUT_OF_MEMORY, "svl-mnist probe");
            for (int i = 0; i < np && st == LT_OK; i++) {
                lt_ds_sample s;
                st = lt_dataset_get(pair, pi[i], &s);
                const lt_ds_sample *parts[3] = {&s, &s, &s};
                if (st == LT_OK) st = feat_push(e, &tr, parts, mods, k, s.label);
            }
            free(pi);
            lt_dataset_close(pair);
        } else if (st == LT_OK) {
            /* k-th sample of class y in each modality's pool, joined by label */
            int used[3][LT_SVL_CLASSES] = {{0}};
            for (int i = 0; i < nidx[mods[0]] && st == LT_OK; i++) {
                lt_ds_sample s[3];
                const lt_ds_sample *parts[3];
                st = lt_dataset_get(uni[mods[0]], idx[mods[0]][i], &s[0]);
                int y = s[0].label, ok = 1;
                for (int j = 1; j < k && st == LT_OK && ok; j++) {
                    int m = mods[j], found = 0, seen = 0;
                    for (int q = 0; q < nidx[m] && st == LT_OK && !found; q++) {
                        lt_ds_sample t;
                        st = lt_dataset_get(uni[m], idx[m][q], &t);
                        if (st == LT_OK && t.label == y && seen++ == used[j][y]) {
                            s[j] = t;
                            found = 1;
                        }
                    }
                    used[j][y]++;
                    ok = found;
                }
                for (int j = 0; j < k; j++) parts[j] = &s[j];
                if (st == LT_OK && ok) st = feat_push(e, &tr, parts, mods, k, y);
            }
        }
        for (uint64_t i = 0; i < lt_dataset_size(test) && st == LT_OK; i++) {
            if (c->p.eval_max > 0 && i >= (uint64_t)c->p.eval_max) break;
            lt_ds_sample s;
            st = lt_dataset_get(test, i, &s);
            const lt_ds_sample *parts[3] = {&s, &s, &s};
            if (st == LT_OK) st = feat_push(e, &te, parts, mods, k, s.label);
        }
        if (st == LT_OK) {
            lt_probe_opts po = lt_probe_defaults();
            po.epochs = k == 1 ? c->p.probe_epochs_uni : c->p.probe_epochs_multi;
            po.per_class = c->p.probe_per_class;
            po.trials = c->p.probe_trials;
            po.seed = c->o->seed;
            lt_probe_result pr;
            st = lt_probe_run(tr.x, tr.y, tr.n, te.x, te.y, te.n, c->mc.d_model, LT_SVL_CLASSES, &po, &pr);
            if (st == LT_OK) {
                r->probe_mean[cb] = pr.mean;
                r->probe_std[cb] = pr.std;
                r->probe_per_class = pr.per_class_used;
            }
        }
        free(tr.x);
        free(tr.y);
        free(te.x);
        free(te.y);
    }
    for (int m = 0; m < 3; m++) {
        free(idx[m]);
        lt_dataset_close(uni[m]);
    }
    return st;
}

static int read_eval(const char *path, svl_eval *r) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int ok = 1;
    for (int i = 0; i < SVL_NCOMB && ok; i++)
        ok = fscanf(f, "%lf %lf %lf %lf", &r->ppl[i], &r->ref[i], &r->probe_mean[i], &r->probe_std[i]) == 4;
    for (int x = 0; x < 3 && ok; x++)
        for (int y = 0; y < 3 && ok; y++) ok = fscanf(f, "%lf", &r->cond[x][y]) == 1;
    ok = ok && fscanf(f, "%d %ld %lf", &r->probe_per_class, &r->tokens, &r->seconds) == 3;
    fclose(f);
    r->done = ok;
    return ok;
}

static lt_status write_eval(const char *path, const svl_eval *r) {
    char tmp[1300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return lt_error(LT_ERR_IO, "svl-mnist: cannot write %s: %s", tmp, strerror(errno));
    for (int i = 0; i < SVL_NCOMB; i++)
        fprintf(f, "%.17g %.17g %.17g %.17g\n", r->ppl[i], r->ref[i], r->probe_mean[i], r->probe_std[i]);
    for (int x = 0; x < 3; x++)
        for (int y = 0; y < 3; y++) fprintf(f, "%.17g\n", r->cond[x][y]);
    fprintf(f, "%d %ld %.3f\n", r->probe_per_class, r->tokens, r->seconds);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return lt_error(LT_ERR_IO, "svl-mnist: cannot write %s: %s", path, strerror(errno));
    return LT_OK;
}

lt_status lt_svl_evaluate(svl_ctx *c, const char *stage, svl_eval *out) {
    memset(out, 0, sizeof *out);
    char ckpt[1200], cache[1200], test_path[1200];
    snprintf(ckpt, sizeof ckpt, "%s/%s/final.safetensors", c->out, stage);
    snprintf(cache, sizeof cache, "%s/%s/eval.txt", c->out, stage);
    if (read_eval(cache, out)) {
        if (!c->o->quiet) fprintf(stderr, "svl-mnist [%s]: reusing its evaluation\n", stage);
        return LT_OK;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    snprintf(test_path, sizeof test_path, "%s/test_ITA.ltds", c->o->data_dir);
    lt_trainer *t = NULL;
    LT_TRY(lt_checkpoint_load(ckpt, c->dev, EVAL_B, c->max_T, &t));
    evaluator e;
    memset(&e, 0, sizeof e);
    e.c = c;
    e.m = t->model;
    size_t BT = (size_t)EVAL_B * c->max_T;
    e.tok = malloc(sizeof(int32_t) * BT);
    e.tgt = malloc(sizeof(int32_t) * BT);
    e.pos = malloc(sizeof(int32_t) * BT);
    e.mod = malloc(sizeof(int32_t) * BT);
    e.len = malloc(sizeof(int32_t) * EVAL_B);
    e.w = malloc(sizeof(float) * BT);
    lt_status st = e.tok && e.tgt && e.pos && e.mod && e.len && e.w ? LT_OK
                                                                   : lt_error(LT_ERR_OUT_OF_MEMORY, "svl-mnist eval");
    for (int i = 0; i < EVAL_B && st == LT_OK; i++) st = lt_seq_init(&e.seqs[i], c->max_T + 1);
    lt_dataset *test = NULL;
    if (st == LT_OK) st = lt_dataset_open(test_path, &test);
    if (st == LT_OK) {
        if (!c->o->quiet) fprintf(stderr, "svl-mnist [%s]: perplexities on %s\n", stage, test_path);
        st = perplexities(&e, test, out);
    }
    if (st == LT_OK) {
        if (!c->o->quiet) fprintf(stderr, "svl-mnist [%s]: linear probes\n", stage);
        st = probes(&e, test, out);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->seconds = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    if (st == LT_OK) st = write_eval(cache, out);
    out->done = st == LT_OK;
    lt_dataset_close(test);
    for (int i = 0; i < EVAL_B; i++) lt_seq_free(&e.seqs[i]);
    free(e.tok); free(e.tgt); free(e.pos); free(e.mod); free(e.len); free(e.w);
    lt_trainer_free(t);
    return st;
}
