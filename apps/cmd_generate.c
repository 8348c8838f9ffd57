/* apps/cmd_generate.c - `loretta generate`: cross-modal generation from a dataset file.
 *
 * Every sample of --data holding the source modality becomes a prompt
 * [BOS_from tokens EOS_from]; the generator draws the target modality with the KV cache
 * (sample id = the sample's index in the file, so the tokens do not depend on --batch or
 * --n). The output directory gets generated.ltds (the source modality copied, the
 * generated one added, labels kept) and views/: a PNG (PGM without libpng) for
 * image-like modalities, UTF-8 text for byte modalities, numbers otherwise. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "generate_cli.h"
#include "loretta/checkpoint.h"
#include "loretta/dataset.h"
#include "loretta/fsutil.h"
#include "loretta/model.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: loretta generate (--ckpt FILE | --config PRESET|FILE.json) --data FILE.ltds\n"
            "                        --from MOD --to MOD --out DIR [--n N] [--batch B]\n"
            "                        [--temperature T] [--top-k K] [--seed S] [--max-new N]\n"
            "                        [--fixed-len auto|0|1] [--backend NAME] [--threads N]\n"
            "       loretta generate --bench [--config PRESET] [--ckpt FILE] [--batch 16]\n"
            "                        [--prompt 784] [--gen 256] [--nocache-samples 3]\n"
            "  --ckpt      a trainer checkpoint; without one, --config builds a model with\n"
            "              random weights (--init-seed S), useful only to test the pipeline\n"
            "  --from/--to model modality names; the dataset must hold --from\n"
            "  --n         samples to generate for (default: every sample with --from)\n"
            "  --temperature 0 = greedy (default 1); --top-k 0 = all tokens (default 0)\n"
            "  --fixed-len auto: the target is fixed-length when the dataset says so\n"
            "  --bench     time generation with and without the KV cache (random prompts)\n");
}

double lt_gen_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int lt_gen_load_model(lt_device *dev, const char *ckpt, const char *config, uint64_t init_seed,
                      int max_B, int max_T, gen_model *out) {
    memset(out, 0, sizeof *out);
    if (ckpt) {
        if (lt_checkpoint_load(ckpt, dev, max_B, max_T, &out->trainer) != LT_OK)
            return !lt_fail("loading the checkpoint");
        out->model = out->trainer->model;
        return 1;
    }
    lt_model_config mc;
    if (lt_model_config_resolve(config ? config : "tiny", &mc) != LT_OK) return !lt_fail("model config");
    if (lt_model_create(dev, &mc, max_B, max_T, &out->model) != LT_OK) return !lt_fail("creating the model");
    if (lt_model_init_weights(out->model, init_seed) != LT_OK) {
        lt_model_free(out->model);
        return !lt_fail("initialising the weights");
    }
    out->random_init = 1;
    return 1;
}

void lt_gen_free_model(gen_model *g) {
    if (g->trainer) lt_trainer_free(g->trainer);
    else lt_model_free(g->model);
    memset(g, 0, sizeof *g);
}

typedef struct gen_opts {
    const char *ckpt, *config, *data, *from, *to, *out, *fixed;
    long n, batch, top_k, max_new, prompt, gen, nocache_samples;
    double temperature;
    unsigned long long seed, init_seed;
    int bench;
} gen_opts;

static int parse_num(const char *opt, const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (*end || errno || !(x >= lo && x <= hi)) {
        fprintf(stderr, "loretta generate: %s wants a number in [%g, %g], got '%s'\n", opt, lo, hi, v);
        return 0;
    }
    *out = x;
    return 1;
}

static int parse_args(int argc, char **argv, gen_opts *o) {
    memset(o, 0, sizeof *o);
    o->batch = 16;
    o->temperature = 1.0;
    o->fixed = "auto";
    o->prompt = 784;
    o->gen = 256;
    o->nocache_samples = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(a, "--bench")) {
            o->bench = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "loretta generate: %s needs a value\n", a);
            return 0;
        }
        const char *v = argv[++i];
        double x = 0.0;
        const char **str[] = {&o->ckpt, &o->config, &o->data, &o->from, &o->to, &o->out, &o->fixed};
        const char *sname[] = {"--ckpt", "--config", "--data", "--from", "--to", "--out", "--fixed-len"};
        int done = 0;
        for (size_t k = 0; k < sizeof str / sizeof str[0]; k++)
            if (!strcmp(a, sname[k])) {
                *str[k] = v;
                done = 1;
            }
        if (done) continue;
        long *lng[] = {&o->n, &o->batch, &o->top_k, &o->max_new, &o->prompt, &o->gen, &o->nocache_samples};
        const char *lname[] = {"--n", "--batch", "--top-k", "--max-new", "--prompt", "--gen", "--nocache-samples"};
        for (size_t k = 0; k < sizeof lng / sizeof lng[0]; k++)
            if (!strcmp(a, lname[k])) {
                if (!parse_num(a, v, 0, 1 << 24, &x) || x != floor(x)) return 0;
                *lng[k] = (long)x;
                done = 1;
            }
        if (done) continue;
        if (!strcmp(a, "--temperature")) {
            if (!parse_num(a, v, 0, 1e6, &o->temperature)) return 0;
        } else if (!strcmp(a, "--seed") || !strcmp(a, "--init-seed")) {
            if (!parse_num(a, v, 0, 9007199254740992.0, &x) || x != floor(x)) return 0;
            *(!strcmp(a, "--seed") ? &o->seed : &o->init_seed) = (unsigned long long)x;
        } else {
            fprintf(stderr, "loretta generate: unknown option %s\n\n", a);
            usage(stderr);
            return 0;
        }
    }
    if (o->batch < 1) {
        fprintf(stderr, "loretta generate: --batch must be >= 1\n");
        return 0;
    }
    if (strcmp(o->fixed, "auto") && strcmp(o->fixed, "0") && strcmp(o->fixed, "1")) {
        fprintf(stderr, "loretta generate: --fixed-len wants auto, 0 or 1, got '%s'\n", o->fixed);
        return 0;
    }
    if (!o->bench && (!o->data || !o->from || !o->to || !o->out)) {
        fprintf(stderr, "loretta generate: --data, --from, --to and --out are required\n\n");
        usage(stderr);
        return 0;
    }
    return 1;
}

static int model_modality(const lt_model_config *c, const char *name) {
    for (int m = 0; m < c->n_modality; m++)
        if (!strcmp(c->modalities[m].name, name)) return m;
    return -1;
}

static int contains(const char *s, const char *w) { return strstr(s, w) != NULL; }

/* Image-like: a square length and an image-ish name (MNIST pixels, spectrogram tiles). */
static int square_side(const char *name, int len) {
    if (!(contains(name, "image") || contains(name, "img") || contains(name, "pixel") ||
          contains(name, "mnist")))
        return 0;
    int s = (int)lround(sqrt((double)len));
    return s > 0 && s * s == len ? s : 0;
}

/* One modality's view: views/<index>_<name>.(png|pgm|txt). Values are modality-local. */
static int write_view(const char *dir, uint64_t index, const char *name, const uint16_t *v,
                      int len, uint32_t levels) {
    char path[4096];
    snprintf(path, sizeof path, "%s/views/%06llu_%s", dir, (unsigned long long)index, name);
    uint8_t *b = malloc((size_t)len + 1);
    if (!b) return 0;
    int side = square_side(name, len);
    lt_status s;
    if (side) {
        for (int i = 0; i < len; i++)
            b[i] = (uint8_t)(levels > 1 ? (v[i] * 255u + (levels - 1) / 2) / (levels - 1) : 0);
        s = lt_write_grey_image(path, b, side, side);
    } else if (levels <= 256) {
        for (int i = 0; i < len; i++) b[i] = (uint8_t)v[i];
        strncat(path, ".txt", sizeof path - strlen(path) - 1);
        s = lt_write_utf8_text(path, b, (size_t)len);
    } else {
        strncat(path, ".txt", sizeof path - strlen(path) - 1);
        FILE *f = fopen(path, "w");
        s = f ? LT_OK : lt_error(LT_ERR_IO, "%s: %s", path, strerror(errno));
        for (int i = 0; f && i < len; i++) fprintf(f, "%u%c", v[i], i + 1 < len ? ' ' : '\n');
        if (f && fclose(f) != 0) s = lt_error(LT_ERR_IO, "%s: write failed", path);
    }
    free(b);
    if (s != LT_OK) return !lt_fail("writing a view");
    return 1;
}

static int make_dir(const char *path) {
    if (lt_mkdir_p(path) == LT_OK) return 1;
    fprintf(stderr, "loretta generate: %s\n", lt_last_error());
    return 0;
}

typedef struct run_ctx {
    const gen_opts *o;
    lt_dataset *ds;
    lt_model *model;
    int from, to, ds_from, ds_to;
    lt_gen_opts gopt;
    int max_new;
    uint64_t *index;  /* dataset indices of the samples used */
    int n;
} run_ctx;

/* Prompts of the chosen samples, the generation in batches, the outputs. */
static int run(run_ctx *r) {
    const lt_model_config *cfg = &r->model->cfg;
    const int B = (int)r->o->batch, max_new = r->max_new, from_max = cfg->modalities[r->from].max_len;
    lt_generator *g = NULL;
    if (lt_generator_create(r->model, B, from_max + max_new, &g) != LT_OK)
        return !lt_fail("creating the generator");
    lt_seq *prompts = calloc((size_t)B, sizeof *prompts);
    int32_t *out = malloc((size_t)B * (max_new > 0 ? max_new : 1) * sizeof *out), *ids = malloc((size_t)B * 4);
    int *lens = malloc((size_t)B * sizeof *lens);
    uint16_t *vals = malloc(((size_t)max_new + 1) * sizeof *vals);
    int ok = prompts && out && ids && lens && vals;
    for (int b = 0; ok && b < B; b++) ok = lt_seq_init(&prompts[b], from_max) == LT_OK;
    const lt_ds_modality *src = lt_dataset_modality(r->ds, r->ds_from);
    lt_ds_modality mods[2];
    mods[0] = *src;
    memset(&mods[1], 0, sizeof mods[1]);
    snprintf(mods[1].name, sizeof mods[1].name, "%s", cfg->modalities[r->to].name);
    mods[1].levels = (uint32_t)(cfg->modalities[r->to].tok_hi - cfg->modalities[r->to].tok_lo);
    mods[1].max_len = (uint32_t)max_new;
    mods[1].fixed_len = (r->gopt.fixed_len_mask >> r->to) & 1u;
    char path[4096];
    snprintf(path, sizeof path, "%s/generated.ltds", r->o->out);
    lt_dataset_writer *w = NULL;
    if (ok && lt_dataset_writer_open(path, mods, 2, &w) != LT_OK) ok = !lt_fail("opening the output dataset");
    double t_pre = 0.0, t_dec = 0.0;
    int64_t n_tok = 0, n_steps = 0;
    for (int i0 = 0; ok && i0 < r->n; i0 += B) {
        const int nb = r->n - i0 < B ? r->n - i0 : B;
        lt_ds_sample smp[1];
        for (int b = 0; ok && b < nb; b++) {
            lt_seq_clear(&prompts[b]);
            ok = lt_dataset_get(r->ds, r->index[i0 + b], smp) == LT_OK &&
                 lt_seq_append_modality(&prompts[b], cfg, r->from, smp->tokens[r->ds_from],
                                        smp->len[r->ds_from], 0) == LT_OK;
            ids[b] = (int32_t)r->index[i0 + b];
            if (!ok) lt_fail("reading a prompt");
        }
        lt_gen_opts go = r->gopt;
        go.sample_ids = ids;
        if (ok && lt_generate(g, prompts, nb, r->to, &go, out, max_new, lens) != LT_OK)
            ok = !lt_fail("generating");
        const lt_gen_stats *st = lt_generator_stats(g);
        t_pre += st->prefill_s;
        t_dec += st->decode_s;
        n_tok += st->generated;
        n_steps += st->decode_steps;
        for (int b = 0; ok && b < nb; b++) {
            const int32_t tok_lo = cfg->modalities[r->to].tok_lo;
            for (int i = 0; i < lens[b]; i++) vals[i] = (uint16_t)(out[(size_t)b * max_new + i] - tok_lo);
            ok = lt_dataset_get(r->ds, r->index[i0 + b], smp) == LT_OK;
            const uint16_t *arrays[2] = {smp->tokens[r->ds_from], vals};
            uint32_t alen[2] = {smp->len[r->ds_from], (uint32_t)lens[b]};
            if (ok && lt_dataset_writer_add(w, smp->label, 3u, arrays, alen) != LT_OK)
                ok = !lt_fail("writing the output dataset");
            ok = ok && write_view(r->o->out, r->index[i0 + b], src->name, arrays[0], (int)alen[0], src->levels);
            ok = ok && write_view(r->o->out, r->index[i0 + b], mods[1].name, vals, lens[b], mods[1].levels);
        }
        printf("  %d / %d samples\n", i0 + nb, r->n);
        fflush(stdout);
    }
    if (w) {
        if (ok && lt_dataset_writer_close(w) != LT_OK) ok = !lt_fail("closing the output dataset");
        else if (!ok) lt_dataset_writer_abort(w);
    }
    if (ok)
        printf("generated %lld %s tokens for %d samples: prefill %.2f s, decode %.2f s "
               "(%.0f tok/s, %lld cached steps); wrote %s and %s/views/\n",
               (long long)n_tok, cfg->modalities[r->to].name, r->n, t_pre, t_dec,
               t_dec > 0 ? (double)n_tok / (t_pre + t_dec) : 0.0, (long long)n_steps, path, r->o->out);
    for (int b = 0; prompts && b < B; b++) lt_seq_free(&prompts[b]);
    free(prompts);
    free(out);
    free(ids);
    free(lens);
    free(vals);
    lt_generator_free(g);
    return ok;
}

static int generate_main(lt_device *dev, const gen_opts *o) {
    run_ctx r;
    memset(&r, 0, sizeof r);
    r.o = o;
    if (lt_dataset_open(o->data, &r.ds) != LT_OK) return lt_fail("opening the dataset");
    gen_model gm;
    int rc = 1;
    if (!lt_gen_load_model(dev, o->ckpt, o->config, o->init_seed, 1, 1, &gm)) goto done_ds;
    r.model = gm.model;
    const lt_model_config *cfg = &gm.model->cfg;
    if (gm.random_init)
        printf("note: no --ckpt given: model %s with RANDOM weights (--init-seed %llu); the "
               "output only exercises the pipeline\n", cfg->name, o->init_seed);
    r.from = model_modality(cfg, o->from);
    r.to = model_modality(cfg, o->to);
    r.ds_from = lt_dataset_find_modality(r.ds, o->from);
    r.ds_to = lt_dataset_find_modality(r.ds, o->to);
    if (r.from < 0 || r.to < 0 || r.from == r.to) {
        fprintf(stderr, "loretta generate: --from %s / --to %s must be two different modalities of model %s\n",
                o->from, o->to, cfg->name);
        goto done;
    }
    if (r.ds_from < 0) {
        fprintf(stderr, "loretta generate: %s has no modality '%s'\n", o->data, o->from);
        goto done;
    }
    int map[LT_DS_MAX_MODALITIES];
    if (lt_obj_modality_map(r.ds, cfg, 0, map) != LT_OK) {
        lt_fail("matching the dataset to the model");
        goto done;
    }
    r.gopt = lt_gen_opts_default();
    r.gopt.temperature = (float)o->temperature;
    r.gopt.top_k = (int)o->top_k;
    r.gopt.seed = o->seed;
    r.gopt.max_new = (int)o->max_new;
    int fixed = !strcmp(o->fixed, "1") ||
                (!strcmp(o->fixed, "auto") && r.ds_to >= 0 && lt_dataset_modality(r.ds, r.ds_to)->fixed_len);
    if (fixed) r.gopt.fixed_len_mask = 1u << r.to;
    r.max_new = lt_gen_max_new(cfg, r.to, &r.gopt);
    if (fixed && r.ds_to >= 0 && !o->max_new) {
        /* A fixed-length modality of the dataset has exactly its max_len tokens. */
        int want = (int)lt_dataset_modality(r.ds, r.ds_to)->max_len;
        if (want < r.max_new) r.max_new = r.gopt.max_new = want;
    }
    printf("generating %s (%s, up to %d tokens) from %s, temperature %g, top-k %ld, seed %llu\n",
           o->to, fixed ? "fixed length" : "variable length, stops at its end token", r.max_new,
           o->from, o->temperature, o->top_k, o->seed);
    const uint64_t size = lt_dataset_size(r.ds);
    r.index = malloc((size_t)(size ? size : 1) * sizeof *r.index);
    if (!r.index) goto done;
    for (uint64_t i = 0; i < size && (o->n == 0 || r.n < o->n); i++) {
        lt_ds_sample s;
        if (lt_dataset_get(r.ds, i, &s) != LT_OK) {
            lt_fail("reading the dataset");
            goto done;
        }
        if (s.mask >> r.ds_from & 1) r.index[r.n++] = i;
    }
    if (r.n == 0) {
        fprintf(stderr, "loretta generate: no sample of %s holds '%s'\n", o->data, o->from);
        goto done;
    }
    char views[4096];
    snprintf(views, sizeof views, "%s/views", o->out);
    if (!make_dir(o->out) || !make_dir(views)) goto done;
    rc = run(&r) ? 0 : 1;
done:
    free(r.index);
    lt_gen_free_model(&gm);
done_ds:
    lt_dataset_close(r.ds);
    return rc;
}

int lt_cmd_generate(int argc, char **argv) {
    lt_common_opts common;
    if (lt_parse_common(&argc, argv, &common)) return 2;
    gen_opts o;
    if (!parse_args(argc, argv, &o)) return 2;
    lt_device *dev = lt_pick_device(&common);
    if (!dev) return 1;
    printf("device: %s (%s)\n", dev->info.name, dev->info.backend_name);
    if (o.bench) {
        gen_bench_opts b = {o.ckpt, o.config ? o.config : "paper", (int)o.batch, (int)o.prompt,
                            (int)o.gen, (int)o.nocache_samples, o.seed};
        return lt_gen_bench(dev, &b);
    }
    return generate_main(dev, &o);
}
