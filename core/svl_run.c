/* core/svl_run.c - the SVL-MNIST experiment: C2M3 on the two pairs of the linking
 * modality plus the unimodal sets, LoReTTa from its weights, and a control that continues
 * C2M3 as many steps without transitive modeling. Each stage checkpoints as it goes and
 * a finished stage is reused on a rerun. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fnv1a.h"
#include "loretta/backend.h"
#include "loretta/fsutil.h"
#include "loretta/pretrain.h"
#include "svl_internal_run.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static lt_status mkdir_p(const char *p) {
    lt_status s = lt_mkdir_p(p);
    return s == LT_OK ? s : lt_error_context(s, "svl-mnist: ");
}

static void fmt_eta(double s, char *buf, size_t n) {
    if (s < 0 || !isfinite(s)) s = 0;
    if (s >= 3600) snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

/* A finished stage records its figures in done.json next to final.safetensors. */
static int read_done(const char *dir, svl_stage *st) {
    char p[1400];
    snprintf(p, sizeof p, "%s/done.json", dir);
    FILE *f = fopen(p, "r");
    if (!f) return 0;
    unsigned long long tr = 0, gen = 0;
    int ok = fscanf(f, "{\"steps\": %d, \"seconds\": %lf, \"final_loss\": %lf, \"transitive_rows\": %llu, "
                       "\"generated\": %llu}", &st->steps, &st->seconds, &st->final_loss, &tr, &gen) == 5;
    st->transitive_rows = tr;
    st->generated = gen;
    fclose(f);
    return ok;
}

static lt_status write_done(const char *dir, const svl_stage *st) {
    char p[1400], tmp[1500];
    snprintf(p, sizeof p, "%s/done.json", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    FILE *f = fopen(tmp, "w");
    if (!f) return lt_error(LT_ERR_IO, "svl-mnist: cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "{\"steps\": %d, \"seconds\": %.3f, \"final_loss\": %.6f, \"transitive_rows\": %llu, "
               "\"generated\": %llu}\n", st->steps, st->seconds, st->final_loss,
            (unsigned long long)st->transitive_rows, (unsigned long long)st->generated);
    if (fclose(f) != 0 || rename(tmp, p) != 0)
        return lt_error(LT_ERR_IO, "svl-mnist: cannot write %s: %s", p, strerror(errno));
    return LT_OK;
}

/* Transitive rows generate with the model being trained: temperature 1, no top-k (the
 * paper samples), a fresh RNG counter per call so every row draws its own tokens. */
typedef struct gen_ctx {
    svl_ctx *c;
    lt_generator *gen;
    uint64_t calls;
} gen_ctx;

static lt_status stage_generate(void *ctx, const lt_seq *prompts, int n, int target, int32_t *out,
                                int stride, int *lens) {
    gen_ctx *g = ctx;
    lt_gen_opts go;
    memset(&go, 0, sizeof go);
    go.temperature = 1.0f;
    go.seed = g->c->o->seed * 1000003ull + g->calls++;
    go.fixed_len_mask = g->c->fixed_mask;
    go.min_new = 1;
    return lt_generate(g->gen, prompts, n, target, &go, out, stride, lens);
}

lt_status lt_svl_train_stage(svl_ctx *c, const char *name, const char *init_ckpt, int steps, int warmup,
                             int transitive, svl_stage *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    char dir[1100], final[1200], last[1200], log[1200];
    snprintf(dir, sizeof dir, "%s/%s", c->out, name);
    snprintf(final, sizeof final, "%s/final.safetensors", dir);
    snprintf(last, sizeof last, "%s/last.safetensors", dir);
    snprintf(log, sizeof log, "%s/metrics.jsonl", dir);
    if (exists(final) && read_done(dir, out)) {
        if (!c->o->quiet) fprintf(stderr, "svl-mnist [%s]: reusing %s\n", name, final);
        return LT_OK;
    }
    LT_TRY(mkdir_p(dir));
    lt_train_config tc;
    lt_train_config_default(&tc);
    tc.lr_max = c->p.lr_max;
    tc.lr_min = c->p.lr_min;
    tc.warmup_steps = warmup;
    tc.total_steps = steps;
    tc.seed = c->o->seed;
    int n_files = c->n_files;
    lt_trainer *t = NULL;
    lt_status st;
    int resumed = 0;
    if (exists(last)) {
        st = lt_checkpoint_load(last, c->dev, c->p.batch, c->max_T, &t);
        resumed = st == LT_OK;
        if (st != LT_OK) return lt_error_context(st, "svl-mnist [%s]: resuming: ", name);
    } else if (init_ckpt) {
        /* LoReTTa and the control start from C2M3's weights with a fresh optimiser. */
        st = lt_checkpoint_load(init_ckpt, c->dev, c->p.batch, c->max_T, &t);
        if (st == LT_OK) st = lt_fill(&t->m, 0.0);
        if (st == LT_OK) st = lt_fill(&t->v, 0.0);
        if (st != LT_OK) {
            lt_trainer_free(t);
            return lt_error_context(st, "svl-mnist [%s]: starting from %s: ", name, init_ckpt);
        }
        t->step = t->adam_step = t->nan_steps = 0;
        t->tc = tc;
    } else {
        st = lt_trainer_create(c->dev, &c->mc, &tc, c->p.batch, c->max_T, &t);
        if (st != LT_OK) return st;
    }
    /* Precision is a run option: checkpoints hold f32 masters, so set it on every start. */
    st = lt_model_set_precision(t->model, (lt_precision)c->o->precision);
    if (st != LT_OK) {
        lt_trainer_free(t);
        return lt_error_context(st, "svl-mnist [%s]: ", name);
    }
    gen_ctx g = {c, NULL, (uint64_t)t->step * 1000};
    if (transitive) st = lt_generator_create(t->model, c->p.batch, c->max_T, &g.gen);
    lt_loader *ld[8] = {0};
    lt_loader_opts lo = lt_loader_defaults();
    lo.batch = c->p.batch;
    lo.objective = LT_OBJ_C2M3;
    lo.p_cm3 = c->p.p_cm3;
    lo.max_spans = c->p.max_spans;
    lo.transitive.p_all = c->p.p_all;
    if (transitive) {
        lo.transitive_share = c->p.transitive_share;
        lo.graph = &c->graph;
        lo.generate = stage_generate;
        lo.generate_ctx = &g;
    }
    for (int i = 0; i < n_files && st == LT_OK; i++) {
        lo.seed = c->o->seed * 7919 + (uint64_t)(i + 1) * 104729 + (uint64_t)name[0];
        st = lt_loader_open(c->files[i], &c->mc, &c->ex, &lo, c->max_T, &ld[i]);
        /* Each step takes `batch` rows of every loader: the position follows the step. */
        if (st == LT_OK) {
            uint64_t pos = (uint64_t)t->step * (uint64_t)c->p.batch, n = lt_dataset_size(lt_loader_dataset(ld[i]));
            st = lt_loader_seek(ld[i], pos / n, pos % n);
        }
    }
    FILE *mf = st == LT_OK ? fopen(log, resumed ? "a" : "w") : NULL;
    if (st == LT_OK && !mf) st = lt_error(LT_ERR_IO, "svl-mnist: cannot write %s: %s", log, strerror(errno));
    double t0 = now_s(), prev_seconds = 0;
    if (resumed) { /* keep the seconds of the part before the interruption */
        svl_stage prev;
        char p[1300];
        snprintf(p, sizeof p, "%s/partial", dir);
        if (read_done(p, &prev)) prev_seconds = prev.seconds;
    }
    int64_t start = t ? t->step : 0;
    double tokens = 0, loss = NAN;
    if (!c->o->quiet && st == LT_OK)
        fprintf(stderr, "svl-mnist [%s]: %s at step %lld of %d (%d loaders x %d rows%s, %s)\n", name,
                resumed ? "resuming" : "training", (long long)start, steps, n_files, c->p.batch,
                transitive ? ", half transitive" : "", lt_precision_name(lt_model_precision(t->model)));
    while (st == LT_OK && t->step < steps) {
        const lt_batch *mb[8];
        lt_batch micro[8];
        for (int i = 0; i < n_files && st == LT_OK; i++) {
            st = lt_loader_next(ld[i], &mb[i]);
            if (st == LT_OK) micro[i] = *mb[i];
        }
        if (st != LT_OK) break;
        lt_step_result r;
        st = lt_trainer_step(t, micro, n_files, &r);
        if (st != LT_OK) break;
        for (int i = 0; i < n_files; i++)
            for (int b = 0; b < micro[i].B; b++) tokens += micro[i].lengths ? micro[i].lengths[b] : micro[i].T;
        loss = r.loss;
        double el = now_s() - t0;
        fprintf(mf, "{\"stage\": \"%s\", \"step\": %lld, \"loss\": %.6f, \"lr\": %.6g, \"grad_norm\": %.5g, "
                    "\"skipped\": %d, \"seconds\": %.3f, \"precision\": \"%s\"",
                name, (long long)r.step, r.loss, r.lr, r.grad_norm, r.skipped, prev_seconds + el,
                lt_precision_name(lt_model_precision(t->model)));
        for (int m = 0; m < r.n_modality; m++)
            if (isfinite(r.mod_loss[m])) fprintf(mf, ", \"loss_%s\": %.6f", c->mc.modalities[m].name, r.mod_loss[m]);
        fprintf(mf, "}\n");
        int64_t done = t->step - start;
        if (!c->o->quiet && (t->step % 10 == 0 || t->step == steps)) {
            char eta[32];
            fmt_eta(el / (double)done * (double)(steps - t->step), eta, sizeof eta);
            fprintf(stderr, "svl-mnist [%s] step %lld/%d loss %.4f", name, (long long)t->step, steps, r.loss);
            for (int m = 0; m < r.n_modality; m++)
                if (isfinite(r.mod_loss[m])) fprintf(stderr, " %s %.3f", c->mc.modalities[m].name, r.mod_loss[m]);
            fprintf(stderr, " lr %.2e %.0f tok/s ETA %s\n", r.lr, tokens / el, eta);
        }
        if (t->step % 50 == 0 && t->step < steps) {
            fflush(mf);
            st = lt_checkpoint_save(t, last);
            if (st == LT_OK) {
                svl_stage part = {{0}, (int)t->step, prev_seconds + el, loss, 0, 0};
                char p[1300];
                snprintf(p, sizeof p, "%s/partial", dir);
                mkdir_p(p);
                write_done(p, &part);
            }
        }
    }
    if (mf) fclose(mf);
    if (st == LT_OK) {
        out->steps = steps;
        out->seconds = prev_seconds + now_s() - t0;
        out->final_loss = loss;
        for (int i = 0; i < n_files; i++) {
            uint64_t rows, gen;
            lt_loader_transitive_stats(ld[i], &rows, &gen);
            out->transitive_rows += rows;
            out->generated += gen;
        }
        st = lt_checkpoint_save(t, final);
        if (st == LT_OK) st = write_done(dir, out);
        if (st == LT_OK) remove(last);
    }
    for (int i = 0; i < n_files; i++) lt_loader_close(ld[i]);
    if (g.gen) lt_generator_free(g.gen);
    lt_trainer_free(t);
    if (st == LT_OK && !c->o->quiet)
        fprintf(stderr, "svl-mnist [%s]: done in %.1f s, final loss %.4f\n", name, out->seconds, out->final_loss);
    return st;
}

/* FNV-1a of a whole file (the data's build.json: sources, sizes, checksums), 0 if unreadable. */
static uint64_t file_hash(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    uint64_t h = LT_FNV1A_SEED;
    unsigned char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) h = lt_fnv1a(h, buf, n);
    fclose(f);
    return h;
}

/* OUT/link_X/run.json names what the finished stages in that folder were made with: the
 * preset, seed, training precision and the data (a hash of its build.json). A rerun
 * reuses finished stages only for the same four; anything else is refused before any
 * work, so results are never labelled with options that did not produce them. */
static lt_status check_run_manifest(const svl_ctx *c) {
    char p[1200], tmp[1300], bj[1200];
    snprintf(p, sizeof p, "%s/run.json", c->out);
    snprintf(bj, sizeof bj, "%s/build.json", c->o->data_dir);
    const char *prec = lt_precision_name((lt_precision)c->o->precision);
    const unsigned long long seed = (unsigned long long)c->o->seed, data = file_hash(bj);
    FILE *f = fopen(p, "r");
    if (f) {
        char preset[32] = "", precision[16] = "";
        unsigned long long s0 = 0, d0 = 0;
        int n = fscanf(f, "{\"preset\": \"%31[^\"]\", \"seed\": %llu, \"precision\": \"%15[^\"]\", "
                          "\"data\": \"%llx\"}", preset, &s0, precision, &d0);
        fclose(f);
        if (n != 4)
            return lt_error(LT_ERR_FORMAT, "svl-mnist: %s is not a run manifest this version wrote; "
                            "remove %s or use another --out", p, c->out);
        if (strcmp(preset, c->p.name) || s0 != seed || strcmp(precision, prec) || d0 != data)
            return lt_error(LT_ERR_INVALID_ARG,
                            "svl-mnist: %s holds a run with preset %s, seed %llu, precision %s and data "
                            "%016llx; this command asks for preset %s, seed %llu, precision %s and data "
                            "%016llx (%s). Its finished stages would be reused under the wrong label: "
                            "use another --out, or remove %s to start over",
                            c->out, preset, s0, precision, d0, c->p.name, seed, prec, data, bj, c->out);
        return LT_OK;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    f = fopen(tmp, "w");
    if (!f) return lt_error(LT_ERR_IO, "svl-mnist: cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "{\"preset\": \"%s\", \"seed\": %llu, \"precision\": \"%s\", \"data\": \"%016llx\"}\n",
            c->p.name, seed, prec, data);
    if (fclose(f) != 0 || rename(tmp, p) != 0)
        return lt_error(LT_ERR_IO, "svl-mnist: cannot write %s: %s", p, strerror(errno));
    return LT_OK;
}

static lt_status run_link(const lt_svl_run_opts *o, char link) {
    svl_ctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.link = link;
    LT_TRY(lt_svl_preset_get(o->preset, &c.p));
    LT_TRY(lt_svl_model_config(o->data_dir, &c.p, &c.mc, &c.ex));
    LT_TRY(lt_device_find(o->backend, o->device, &c.dev));
    if (o->threads > 0) lt_device_set_threads(c.dev, o->threads);
    c.max_T = lt_loader_max_row(&c.mc, &c.ex, c.p.max_spans);
    {
        char tp[1200];
        snprintf(tp, sizeof tp, "%s/test_ITA.ltds", o->data_dir);
        LT_TRY(lt_pretrain_fixed_mask(tp, &c.mc, &c.fixed_mask));
    }
    LT_TRY(mkdir_p(o->out_dir));
    snprintf(c.out, sizeof c.out, "%s/link_%c", o->out_dir, link);
    LT_TRY(mkdir_p(c.out));
    LT_TRY(check_run_manifest(&c));
    /* The two pair files holding the linking modality, then the three unimodal ones. */
    static const char *const pairs[3] = {"IT", "TA", "AI"};
    const char *letters = "ITA";
    lt_graph_init(&c.graph, 3);
    for (int p = 0; p < 3; p++) {
        if (!strchr(pairs[p], link)) continue;
        snprintf(c.files[c.n_files++], sizeof c.files[0], "%s/train_%s.ltds", o->data_dir, pairs[p]);
        int a = (int)(strchr(letters, pairs[p][0]) - letters), b = (int)(strchr(letters, pairs[p][1]) - letters);
        lt_graph_add_pair(&c.graph, a, b);
        c.seen[a][b] = c.seen[b][a] = 1;
    }
    lt_graph_finish(&c.graph);
    for (int m = 0; m < 3; m++) {
        /* A source used up by the pairs and the test set leaves no unimodal samples. */
        snprintf(c.files[c.n_files], sizeof c.files[0], "%s/train_%c.ltds", o->data_dir, letters[m]);
        lt_dataset *ds;
        LT_TRY(lt_dataset_open(c.files[c.n_files], &ds));
        uint64_t n = lt_dataset_size(ds);
        lt_dataset_close(ds);
        if (n > 0) c.n_files++;
        else if (!o->quiet) fprintf(stderr, "svl-mnist: note: %s is empty, trained without it\n", c.files[c.n_files]);
    }
    if (!o->quiet)
        fprintf(stderr, "svl-mnist: link %c, preset %s, model %d layers d %d vocab %d, device %s %d (%s)\n",
                link, c.p.name, c.mc.n_layer, c.mc.d_model, c.mc.vocab_size, c.dev->backend->name,
                c.dev->index, c.dev->info.name);
    svl_stage stages[SVL_NMODEL];
    svl_eval evals[SVL_NMODEL];
    memset(evals, 0, sizeof evals);
    char c2m3_final[1200];
    snprintf(c2m3_final, sizeof c2m3_final, "%s/c2m3/final.safetensors", c.out);
    LT_TRY(lt_svl_train_stage(&c, "c2m3", NULL, c.p.c2m3_steps, c.p.c2m3_warmup, 0, &stages[0]));
    LT_TRY(lt_svl_train_stage(&c, "loretta", c2m3_final, c.p.loretta_steps, c.p.loretta_warmup, 1, &stages[1]));
    LT_TRY(lt_svl_train_stage(&c, "control", c2m3_final, c.p.loretta_steps, c.p.loretta_warmup, 0, &stages[2]));
    const char *names[SVL_NMODEL] = {"c2m3", "loretta", "control"};
    for (int i = 0; i < SVL_NMODEL; i++) LT_TRY(lt_svl_evaluate(&c, names[i], &evals[i]));
    return lt_svl_write_report(&c, stages, evals);
}

lt_status lt_svl_run(const lt_svl_run_opts *o) {
    if (!o || !o->data_dir || !o->out_dir)
        return lt_error(LT_ERR_INVALID_ARG, "svl-mnist run: --data and --out are needed");
    char p[1200];
    snprintf(p, sizeof p, "%s/build.json", o->data_dir);
    if (!exists(p))
        return lt_error(LT_ERR_IO, "svl-mnist run: %s has no build.json: build it first with "
                        "`loretta svl-mnist build --out %s ...`", o->data_dir, o->data_dir);
    if (o->all_links) {
        LT_TRY(run_link(o, 'T'));
        LT_TRY(run_link(o, 'I'));
        return run_link(o, 'A');
    }
    if (o->link != 'T' && o->link != 'I' && o->link != 'A')
        return lt_error(LT_ERR_INVALID_ARG, "svl-mnist run: --link must be T, I or A");
    return run_link(o, o->link);
}
