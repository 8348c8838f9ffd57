/* core/svl_model.c - SVL-MNIST presets and the model config built from a dataset's
 * modality table. */
#include <stdio.h>
#include <string.h>

#include "loretta/dataset.h"
#include "loretta/model.h"
#include "loretta/objectives.h"
#include "loretta/svl.h"

lt_status lt_svl_preset_get(const char *name, lt_svl_preset *out) {
    memset(out, 0, sizeof *out);
    lt_svl_build_opts b = lt_svl_build_defaults();
    if (!name) name = "laptop";
    snprintf(out->name, sizeof out->name, "%s", name);
    out->max_spans = 3;
    out->p_cm3 = 0.5;
    out->transitive_share = 0.5; /* half of each batch transitive rows (SPEC section 2) */
    out->p_all = 0.1;
    out->probe_trials = 3;
    out->lr_max = 6e-4;
    out->lr_min = 6e-5;
    if (!strcmp(name, "tiny")) {
        /* Seconds, for tests: a 2-layer model on 7x7 images, 5 MFCC frames, 32 text bytes. */
        snprintf(out->model, sizeof out->model, "tiny");
        b.pairs_per_class = 8;
        b.test_per_class = 3;
        b.image_pool = 4;
        b.audio_frames = 5;
        b.audio_coeffs = 8;
        b.text_max = 32;
        out->batch = 4;
        out->c2m3_steps = 30;
        out->c2m3_warmup = 5;
        out->loretta_steps = 8;
        out->loretta_warmup = 2;
        out->lr_max = 2e-3;
        out->lr_min = 2e-4;
        out->probe_epochs_uni = out->probe_epochs_multi = 10;
        out->probe_per_class = 4;
        out->eval_max = 20;
    } else if (!strcmp(name, "laptop")) {
        /* 2 CPU cores, 40 minutes: the trainer's laptop model (4 layers, d 256) on 14x14
         * pooled images, 13 MFCC frames and 128 text bytes (SPEC: presets may shrink). */
        snprintf(out->model, sizeof out->model, "laptop");
        b.pairs_per_class = 50;
        b.test_per_class = 10;
        b.image_pool = 2;
        b.audio_frames = 13;
        b.audio_coeffs = 13;
        b.text_max = 128;
        out->batch = 4;
        out->c2m3_steps = 300;
        out->c2m3_warmup = 30;
        out->loretta_steps = 100;
        out->loretta_warmup = 10;
        out->lr_max = 1e-3;
        out->lr_min = 1e-4;
        out->probe_epochs_uni = out->probe_epochs_multi = 50;
        out->probe_per_class = 20;
        out->eval_max = 0;
    } else if (!strcmp(name, "paper")) {
        /* The paper: 8 layers, d 512, full-size features, tables A1 and A3. */
        snprintf(out->model, sizeof out->model, "paper");
        out->batch = 16;
        out->c2m3_steps = 37500;
        out->c2m3_warmup = 400;
        out->loretta_steps = 9400;
        out->loretta_warmup = 400;
        out->probe_epochs_uni = 100;
        out->probe_epochs_multi = 500;
        out->probe_per_class = 100;
        out->eval_max = 0;
    } else {
        return lt_error(LT_ERR_INVALID_ARG, "svl-mnist: unknown preset '%s' (tiny, laptop, paper)", name);
    }
    out->build = b;
    return LT_OK;
}

lt_status lt_svl_model_config(const char *data_dir, const lt_svl_preset *p, lt_model_config *mc,
                              lt_vocab_extra *ex) {
    char path[2048];
    snprintf(path, sizeof path, "%s/test_ITA.ltds", data_dir);
    lt_dataset *ds;
    LT_TRY(lt_dataset_open(path, &ds));
    lt_model_config dims;
    lt_status st = lt_model_config_preset(p->model, &dims);
    if (st != LT_OK) {
        lt_dataset_close(ds);
        return st;
    }
    memset(mc, 0, sizeof *mc);
    snprintf(mc->name, sizeof mc->name, "svl-%s", p->name);
    mc->n_layer = dims.n_layer;
    mc->n_head = dims.n_head;
    mc->d_model = dims.d_model;
    mc->head_dim = dims.head_dim;
    mc->mlp_ratio = dims.mlp_ratio;
    mc->causal = 1;
    mc->norm_eps = dims.norm_eps;
    mc->init_std = dims.init_std;
    int n = lt_dataset_modality_count(ds);
    int32_t next = 0;
    for (int m = 0; m < n; m++) {
        const lt_ds_modality *dm = lt_dataset_modality(ds, m);
        lt_modality *md = &mc->modalities[m];
        snprintf(md->name, sizeof md->name, "%s", dm->name);
        md->tok_lo = next;
        md->tok_hi = next + (int32_t)dm->levels;
        md->max_len = (int32_t)dm->max_len + 2;
        next = md->tok_hi;
    }
    for (int m = 0; m < n; m++) {
        mc->modalities[m].begin = next++;
        mc->modalities[m].end = next++;
    }
    mc->n_modality = n;
    ex->sentinel_base = next;
    ex->n_sentinels = p->max_spans;
    next += p->max_spans;
    ex->end_of_span = next++;
    ex->mask = next++;
    mc->vocab_size = next;
    lt_dataset_close(ds);
    return lt_model_config_validate(mc);
}
