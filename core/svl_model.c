/* core/svl_model.c - SVL-MNIST presets and the model config built from a dataset's
 * modality table (the vocabulary layout of lt_pretrain_model_config). */
#include <stdio.h>
#include <string.h>

#include "loretta/dataset.h"
#include "loretta/model.h"
#include "loretta/objectives.h"
#include "loretta/pretrain.h"
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
        out->c2m3_steps = 800;
        out->c2m3_warmup = 80;
        out->loretta_steps = 200;
        out->loretta_warmup = 20;
        out->lr_max = 1e-3;
        out->lr_min = 1e-4;
        out->probe_epochs_uni = out->probe_epochs_multi = 50;
        out->probe_per_class = 10;
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
    LT_TRY(lt_pretrain_model_config(path, p->model, 1, p->max_spans, mc, ex));
    snprintf(mc->name, sizeof mc->name, "svl-%s", p->name);
    return LT_OK;
}
