/* core/svl_report.c - the experiment's report: report.md laid out like the paper's
 * tables 1 and 2 (its values beside ours, unseen combinations marked), the conditional
 * perplexities, results.json, and PNG plots of the loss curves and perplexities. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/backend.h"
#include "plot.h"
#include "svl_internal_run.h"

#ifndef LT_GIT_COMMIT
#define LT_GIT_COMMIT "unknown"
#endif

/* The paper's table 1 rows for each linking modality (I, T, A, (I,T), (I,A), (T,A)). */
static const double paper_c2m3[3][6] = {
    {1.64, 2.19, 21.37, 1.76, 4.39, 30.88},  /* link I: (I,T),(I,A) */
    {1.65, 2.18, 19.69, 1.76, 104.27, 11.26}, /* link T: (T,I),(T,A) */
    {1.64, 2.19, 23.45, 9.70, 4.66, 11.92},  /* link A: (A,I),(A,T) */
};
static const double paper_loretta[3][6] = {
    {1.56, 2.17, 18.77, 1.72, 3.14, 11.21},
    {1.59, 2.10, 18.95, 1.70, 5.04, 10.03},
    {1.60, 2.14, 20.35, 3.13, 4.36, 10.65},
};

static const char *model_title[SVL_NMODEL] = {"C2M3", "LoReTTa", "C2M3 control (continued, no transitive)"};
static const char *stage_name[SVL_NMODEL] = {"c2m3", "loretta", "control"};

static int unseen(const svl_ctx *c, int comb) {
    const int *m = lt_svl_comb_mods[comb];
    if (m[1] < 0) return 0;
    if (m[2] >= 0) return 1; /* the triplet is never trained on */
    return !c->seen[m[0]][m[1]];
}

static void pairs_label(const svl_ctx *c, char *buf, size_t n) {
    const char *L = "ITA";
    int li = (int)(strchr(L, c->link) - L), k = 0;
    size_t at = 0;
    for (int o = 0; o < 3; o++)
        if (o != li) at += (size_t)snprintf(buf + at, n - at, "%s(%c,%c)", k++ ? "," : "", c->link, L[o]);
}

/* Reads a stage's metrics.jsonl: step and loss per line. */
static int read_losses(const char *path, double *loss, int max) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[2048];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "\"loss\": ");
        if (p) loss[n++] = atof(p + 8);
    }
    fclose(f);
    return n;
}

static lt_status plot_losses(const svl_ctx *c, const svl_stage *stages) {
    enum { W = 900, H = 420, L = 70, R = 20, T = 40, B = 50, MAXN = 200000 };
    double *loss[SVL_NMODEL];
    int n[SVL_NMODEL];
    double lo = INFINITY, hi = -INFINITY;
    int total = 0;
    for (int i = 0; i < SVL_NMODEL; i++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/%s/metrics.jsonl", c->out, stage_name[i]);
        loss[i] = malloc(sizeof(double) * MAXN);
        n[i] = loss[i] ? read_losses(p, loss[i], MAXN) : 0;
        for (int k = 0; k < n[i]; k++)
            if (isfinite(loss[i][k])) {
                lo = fmin(lo, loss[i][k]);
                hi = fmax(hi, loss[i][k]);
            }
    }
    total = n[0] + (n[1] > n[2] ? n[1] : n[2]);
    lt_canvas cv;
    lt_status st = lt_canvas_init(&cv, W, H);
    if (st == LT_OK && total > 1 && hi > lo) {
        lt_canvas_line(&cv, L, T, L, H - B, 0x000000);
        lt_canvas_line(&cv, L, H - B, W - R, H - B, 0x000000);
        lt_canvas_text(&cv, L, 10, "TRAINING LOSS PER STEP: C2M3 (BLUE), LORETTA (RED), CONTROL (GREEN)", 2, 0x000000);
        char lab[32];
        snprintf(lab, sizeof lab, "%.2f", hi);
        lt_canvas_text(&cv, 5, T, lab, 1, 0x000000);
        snprintf(lab, sizeof lab, "%.2f", lo);
        lt_canvas_text(&cv, 5, H - B - 7, lab, 1, 0x000000);
        snprintf(lab, sizeof lab, "%d STEPS", total);
        lt_canvas_text(&cv, W - R - 60, H - B + 10, lab, 1, 0x000000);
        uint32_t col[SVL_NMODEL] = {0x1f4fd0, 0xd02020, 0x20a040};
        for (int i = 0; i < SVL_NMODEL; i++) {
            int off = i == 0 ? 0 : n[0];
            int px = -1, py = -1;
            for (int k = 0; k < n[i]; k++) {
                if (!isfinite(loss[i][k])) continue;
                int x = L + (int)((double)(off + k) / (total - 1) * (W - L - R));
                int y = H - B - (int)((loss[i][k] - lo) / (hi - lo) * (H - B - T));
                if (px >= 0) lt_canvas_line(&cv, px, py, x, y, col[i]);
                px = x;
                py = y;
            }
        }
        char p[1200];
        snprintf(p, sizeof p, "%s/loss_curves.png", c->out);
        st = lt_canvas_save(&cv, p);
    }
    lt_canvas_free(&cv);
    for (int i = 0; i < SVL_NMODEL; i++) free(loss[i]);
    (void)stages;
    return st;
}

static lt_status plot_ppl(const svl_ctx *c, const svl_eval *ev) {
    enum { W = 900, H = 420, L = 60, B = 60, T = 40 };
    lt_canvas cv;
    LT_TRY(lt_canvas_init(&cv, W, H));
    double hi = 0;
    for (int i = 0; i < SVL_NMODEL; i++)
        for (int k = 0; k < SVL_NCOMB; k++)
            if (isfinite(ev[i].ppl[k])) hi = fmax(hi, log10(ev[i].ppl[k]));
    if (hi <= 0) hi = 1;
    lt_canvas_text(&cv, L, 10, "LOG10 PERPLEXITY PER COMBINATION (* UNSEEN): C2M3, LORETTA, CONTROL", 2, 0);
    lt_canvas_line(&cv, L, H - B, W - 10, H - B, 0);
    uint32_t col[SVL_NMODEL] = {0x1f4fd0, 0xd02020, 0x20a040};
    int group = (W - L - 20) / SVL_NCOMB, bw = group / 4;
    for (int k = 0; k < SVL_NCOMB; k++) {
        int x0 = L + k * group;
        for (int i = 0; i < SVL_NMODEL; i++) {
            double v = isfinite(ev[i].ppl[k]) ? log10(ev[i].ppl[k]) : 0;
            int h = (int)(v / hi * (H - B - T));
            lt_canvas_rect(&cv, x0 + i * bw, H - B - h, x0 + (i + 1) * bw - 2, H - B, col[i]);
        }
        char lab[32];
        snprintf(lab, sizeof lab, "%s%s", lt_svl_comb_name[k], unseen(c, k) ? "*" : "");
        lt_canvas_text(&cv, x0, H - B + 10, lab, 2, 0);
    }
    char p[1200];
    snprintf(p, sizeof p, "%s/perplexity.png", c->out);
    lt_status st = lt_canvas_save(&cv, p);
    lt_canvas_free(&cv);
    return st;
}

static void fmt(char *buf, size_t n, double v) {
    if (!isfinite(v)) snprintf(buf, n, "-");
    else if (v >= 100) snprintf(buf, n, "%.1f", v);
    else snprintf(buf, n, "%.2f", v);
}


/* The string value of "key" in a JSON text, from `from` on (escapes \" and \\ undone);
 * 0 when absent. build.json is written by svl_build.c in a fixed layout. */
static int json_string(const char *from, const char *key, char *out, size_t n) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": \"", key);
    const char *p = from ? strstr(from, pat) : NULL;
    if (!p || n == 0) return 0;
    p += strlen(pat);
    size_t k = 0;
    for (; *p && *p != '"' && k + 1 < n; p++) {
        if (*p == '\\' && p[1]) p++;
        out[k++] = *p;
    }
    out[k] = 0;
    return 1;
}

/* Which sources the data was built from, as its build.json records them. */
static void write_sources(FILE *f, const char *data_dir) {
    char p[1200];
    snprintf(p, sizeof p, "%s/build.json", data_dir);
    FILE *in = fopen(p, "r");
    if (!in) return;
    static char buf[1 << 16];
    size_t got = fread(buf, 1, sizeof buf - 1, in);
    buf[got] = 0;
    fclose(in);
    const char *src = strstr(buf, "\"sources\"");
    const char *names[3][2] = {{"I", "images"}, {"T", "text"}, {"A", "speech"}};
    char v[1024];
    for (int m = 0; m < 3; m++)
        if (json_string(src, names[m][0], v, sizeof v)) fprintf(f, "- %s: %s\n", names[m][1], v);
    if (json_string(buf, "origin", v, sizeof v) && v[0]) fprintf(f, "- origin: %s\n", v);
}

static void write_md(FILE *f, const svl_ctx *c, const svl_stage *stages, const svl_eval *ev) {
    const char *L = "ITA";
    int li = (int)(strchr(L, c->link) - L);
    int paper_row = li == 0 ? 0 : li == 1 ? 1 : 2; /* tables' rows by link I, T, A */
    char pl[64];
    pairs_label(c, pl, sizeof pl);
    fprintf(f, "# SVL-MNIST, linking modality %c: trained on %s\n\n", c->link, pl);
    fprintf(f, "Preset `%s`: %d layers, %d heads, d_model %d, vocabulary %d; %d rows per data set per step "
               "(%d data sets: the two pairs and the three unimodal sets). Unseen combinations are marked *.\n\n",
            c->p.name, c->mc.n_layer, c->mc.n_head, c->mc.d_model, c->mc.vocab_size, c->p.batch, c->n_files);
    fprintf(f, "## Table 1: perplexity on the aligned test triplets\n\n");
    fprintf(f, "Pooled over the tokens of every modality of the combination, special tokens excluded, orders "
               "averaged (geometric mean over both orders, all six for the triplet).\n\n");
    fprintf(f, "| model |");
    for (int k = 0; k < SVL_NCOMB; k++) fprintf(f, " %s%s |", lt_svl_comb_name[k], unseen(c, k) ? "*" : "");
    fprintf(f, "\n|---|");
    for (int k = 0; k < SVL_NCOMB; k++) fprintf(f, "---|");
    fprintf(f, "\n");
    char b[32];
    for (int i = 0; i < SVL_NMODEL; i++) {
        fprintf(f, "| %s (ours) |", model_title[i]);
        for (int k = 0; k < SVL_NCOMB; k++) {
            fmt(b, sizeof b, ev[i].ppl[k]);
            fprintf(f, " %s |", b);
        }
        fprintf(f, "\n");
        if (i < 2) {
            fprintf(f, "| %s (paper) |", model_title[i]);
            for (int k = 0; k < 6; k++) {
                fmt(b, sizeof b, i == 0 ? paper_c2m3[paper_row][k] : paper_loretta[paper_row][k]);
                fprintf(f, " %s |", b);
            }
            fprintf(f, " - |\n");
        }
    }
    fprintf(f, "\nRatio of each pooled perplexity to its context-free reference (exp of the token-weighted mean "
               "of the unimodal log-perplexities): below 1 the modalities help each other, above 1 the "
               "combination is handled worse than the modalities alone.\n\n| model |");
    for (int k = 3; k < SVL_NCOMB; k++) fprintf(f, " %s%s |", lt_svl_comb_name[k], unseen(c, k) ? "*" : "");
    fprintf(f, "\n|---|---|---|---|---|\n");
    for (int i = 0; i < SVL_NMODEL; i++) {
        fprintf(f, "| %s |", model_title[i]);
        for (int k = 3; k < SVL_NCOMB; k++) fprintf(f, " %.3f |", ev[i].ppl[k] / ev[i].ref[k]);
        fprintf(f, "\n");
    }
    fprintf(f, "\n## Conditional perplexity: X|Y = perplexity of X's tokens after Y\n\n");
    fprintf(f, "Column X alone is the unimodal value; compare A|I with A|T and A alone.\n\n| model |");
    for (int x = 0; x < 3; x++)
        for (int y = 0; y < 3; y++)
            if (x != y) fprintf(f, " %c\\|%c%s |", L[x], L[y], c->seen[x][y] ? "" : "*");
    for (int x = 0; x < 3; x++) fprintf(f, " %c |", L[x]);
    fprintf(f, "\n|---|");
    for (int k = 0; k < 9; k++) fprintf(f, "---|");
    fprintf(f, "\n");
    for (int i = 0; i < SVL_NMODEL; i++) {
        fprintf(f, "| %s |", model_title[i]);
        for (int x = 0; x < 3; x++)
            for (int y = 0; y < 3; y++)
                if (x != y) {
                    fmt(b, sizeof b, ev[i].cond[x][y]);
                    fprintf(f, " %s |", b);
                }
        for (int x = 0; x < 3; x++) {
            fmt(b, sizeof b, ev[i].cond[x][x]);
            fprintf(f, " %s |", b);
        }
        fprintf(f, "\n");
    }
    fprintf(f, "\n## Table 2: linear-probe accuracy (%%) on frozen features\n\n");
    fprintf(f, "Mean final hidden state as the feature; %d labelled training samples per class from the training "
               "side (pair files for seen pairs, label-joined unimodal samples otherwise), %d trials, mean ± std, "
               "tested on the aligned test triplets. The paper (100 per class) lists C2M3 (I,T) at 82.9 / 61.9 / - "
               "/ 89.7 and C2M3 (I,A) at 83.8 / - / 79.9 / - / 89.9; its two-pair rows are not legible in the "
               "text.\n\n| model |", ev[0].probe_per_class, c->p.probe_trials);
    for (int k = 0; k < SVL_NCOMB; k++) fprintf(f, " %s%s |", lt_svl_comb_name[k], unseen(c, k) ? "*" : "");
    fprintf(f, "\n|---|");
    for (int k = 0; k < SVL_NCOMB; k++) fprintf(f, "---|");
    fprintf(f, "\n");
    for (int i = 0; i < SVL_NMODEL; i++) {
        fprintf(f, "| %s |", model_title[i]);
        for (int k = 0; k < SVL_NCOMB; k++) fprintf(f, " %.1f ± %.1f |", 100 * ev[i].probe_mean[k], 100 * ev[i].probe_std[k]);
        fprintf(f, "\n");
    }
    fprintf(f, "\n## Training\n\n| stage | steps | seconds | final loss | transitive rows | generated modalities |\n"
               "|---|---|---|---|---|---|\n");
    for (int i = 0; i < SVL_NMODEL; i++)
        fprintf(f, "| %s | %d | %.0f | %.4f | %llu | %llu |\n", stage_name[i], stages[i].steps, stages[i].seconds,
                stages[i].final_loss, (unsigned long long)stages[i].transitive_rows,
                (unsigned long long)stages[i].generated);
    fprintf(f, "\nThe control continues C2M3 for as many steps as LoReTTa, from the same weights with the same "
               "fresh optimiser and schedule, without transitive rows: it separates the transitive effect from "
               "the effect of more training.\n\n![loss curves](loss_curves.png)\n\n![perplexity](perplexity.png)\n");
    fprintf(f, "\n## Provenance\n\n- seed %llu, preset %s, training precision %s, source commit %s\n"
               "- device: %s %d (%s), built with %s\n"
               "- data: %s (see its build.json for sources, sizes and checksums)\n",
            (unsigned long long)c->o->seed, c->p.name, lt_precision_name((lt_precision)c->o->precision),
            LT_GIT_COMMIT, c->dev->backend->name, c->dev->index, c->dev->info.name, lt_build_backends(),
            c->o->data_dir);
    write_sources(f, c->o->data_dir);
}

static void write_json(FILE *f, const svl_ctx *c, const svl_stage *stages, const svl_eval *ev) {
    fprintf(f, "{\n  \"link\": \"%c\", \"preset\": \"%s\", \"seed\": %llu, \"precision\": \"%s\", \"commit\": \"%s\",\n",
            c->link, c->p.name, (unsigned long long)c->o->seed,
            lt_precision_name((lt_precision)c->o->precision), LT_GIT_COMMIT);
    fprintf(f, "  \"device\": {\"backend\": \"%s\", \"index\": %d},\n", c->dev->backend->name, c->dev->index);
    fprintf(f, "  \"data\": \"%s\",\n  \"models\": {\n", c->o->data_dir);
    for (int i = 0; i < SVL_NMODEL; i++) {
        fprintf(f, "    \"%s\": {\"steps\": %d, \"seconds\": %.1f, \"final_loss\": %.6f,\n", stage_name[i],
                stages[i].steps, stages[i].seconds, stages[i].final_loss);
        fprintf(f, "      \"perplexity\": {");
        for (int k = 0; k < SVL_NCOMB; k++)
            fprintf(f, "%s\"%s\": %.6g", k ? ", " : "", lt_svl_comb_name[k], ev[i].ppl[k]);
        fprintf(f, "},\n      \"ratio_to_reference\": {");
        for (int k = 3; k < SVL_NCOMB; k++)
            fprintf(f, "%s\"%s\": %.6g", k > 3 ? ", " : "", lt_svl_comb_name[k], ev[i].ppl[k] / ev[i].ref[k]);
        fprintf(f, "},\n      \"conditional\": {");
        const char *L = "ITA";
        int first = 1;
        for (int x = 0; x < 3; x++)
            for (int y = 0; y < 3; y++)
                if (x != y) {
                    fprintf(f, "%s\"%c|%c\": %.6g", first ? "" : ", ", L[x], L[y], ev[i].cond[x][y]);
                    first = 0;
                }
        fprintf(f, "},\n      \"probe\": {");
        for (int k = 0; k < SVL_NCOMB; k++)
            fprintf(f, "%s\"%s\": [%.4f, %.4f]", k ? ", " : "", lt_svl_comb_name[k], ev[i].probe_mean[k],
                    ev[i].probe_std[k]);
        fprintf(f, "}}%s\n", i + 1 < SVL_NMODEL ? "," : "");
    }
    fprintf(f, "  },\n  \"unseen\": [");
    int first = 1;
    for (int k = 0; k < SVL_NCOMB; k++)
        if (unseen(c, k)) {
            fprintf(f, "%s\"%s\"", first ? "" : ", ", lt_svl_comb_name[k]);
            first = 0;
        }
    fprintf(f, "]\n}\n");
}

lt_status lt_svl_write_report(svl_ctx *c, const svl_stage *stages, const svl_eval *evals) {
    char p[1200], tmp[1300];
    snprintf(p, sizeof p, "%s/report.md", c->out);
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    FILE *f = fopen(tmp, "w");
    if (!f) return lt_error(LT_ERR_IO, "svl-mnist: cannot write %s: %s", tmp, strerror(errno));
    write_md(f, c, stages, evals);
    if (fclose(f) != 0 || rename(tmp, p) != 0) return lt_error(LT_ERR_IO, "svl-mnist: cannot write %s", p);
    snprintf(p, sizeof p, "%s/results.json", c->out);
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    f = fopen(tmp, "w");
    if (!f) return lt_error(LT_ERR_IO, "svl-mnist: cannot write %s: %s", tmp, strerror(errno));
    write_json(f, c, stages, evals);
    if (fclose(f) != 0 || rename(tmp, p) != 0) return lt_error(LT_ERR_IO, "svl-mnist: cannot write %s", p);
    LT_TRY(plot_losses(c, stages));
    LT_TRY(plot_ppl(c, evals));
    if (!c->o->quiet) fprintf(stderr, "svl-mnist: report in %s/report.md\n", c->out);
    return LT_OK;
}
