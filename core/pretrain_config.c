/* core/pretrain_config.c - the baselines' switches (paper section 5.2), the model config
 * built from any dataset's modality table, and the modality graph of the data files. */
#include <stdio.h>
#include <string.h>

#include "loretta/dataset.h"
#include "loretta/pretrain.h"

static const char *const method_names[LT_PT_COUNT] = {"gpt",   "bert",   "cm3",     "c2m3",
                                                      "t-gpt", "t-bert", "loretta", "clip"};

const char *lt_pretrain_method_name(lt_pretrain_method m) {
    return (unsigned)m < LT_PT_COUNT ? method_names[m] : "?";
}

lt_status lt_pretrain_method_parse(const char *name, lt_pretrain_method *out) {
    for (int i = 0; i < LT_PT_COUNT; i++)
        if (name && !strcmp(name, method_names[i])) {
            *out = (lt_pretrain_method)i;
            return LT_OK;
        }
    return lt_error(LT_ERR_INVALID_ARG,
                    "pretrain: unknown method '%s' (gpt, bert, cm3, c2m3, t-gpt, t-bert, loretta, clip)",
                    name ? name : "(null)");
}

lt_pretrain_switches lt_pretrain_method_switches(lt_pretrain_method m) {
    lt_pretrain_switches s = {LT_OBJ_CAUSAL, 1, 0, 0};
    switch (m) {
    case LT_PT_GPT: break; /* "C2M3 without causal masking and commutative switching" */
    case LT_PT_BERT: s.objective = LT_OBJ_BERT; s.causal = 0; break;
    case LT_PT_CM3: s.objective = LT_OBJ_CM3; break;
    case LT_PT_C2M3: s.objective = LT_OBJ_C2M3; break;
    case LT_PT_TGPT: s.transitive = 1; break;
    case LT_PT_TBERT: s.objective = LT_OBJ_BERT; s.causal = 0; s.transitive = 1; break;
    case LT_PT_LORETTA: s.objective = LT_OBJ_C2M3; s.transitive = 1; break;
    case LT_PT_CLIP: s.causal = 0; s.clip = 1; break;
    default: break;
    }
    return s;
}

lt_pretrain_opts lt_pretrain_defaults(void) {
    lt_pretrain_opts o;
    memset(&o, 0, sizeof o);
    o.method = LT_PT_C2M3;
    o.model = "tiny";
    o.steps = 100;
    o.warmup = -1;
    o.batch = 8;
    o.transitive_share = 0.5;
    o.p_cm3 = 0.5;
    o.max_spans = 3;
    o.out_dir = "pretrain-run";
    o.save_every = 100;
    o.seed = 1234;
    return o;
}

lt_status lt_pretrain_model_config(const char *dataset_path, const char *preset, int causal,
                                   int max_spans, lt_model_config *mc, lt_vocab_extra *ex) {
    if (!dataset_path || !mc || !ex || max_spans < 0)
        return lt_error(LT_ERR_INVALID_ARG, "pretrain config: NULL argument or negative max_spans");
    lt_model_config dims;
    LT_TRY(lt_model_config_resolve(preset ? preset : "tiny", &dims));
    lt_dataset *ds;
    LT_TRY(lt_dataset_open(dataset_path, &ds));
    int n = lt_dataset_modality_count(ds);
    if (n < 1 || n > LT_MAX_MODALITIES) {
        lt_dataset_close(ds);
        return lt_error(LT_ERR_RANGE, "pretrain config: %s has %d modalities, the model holds 1..%d",
                        dataset_path, n, LT_MAX_MODALITIES);
    }
    memset(mc, 0, sizeof *mc);
    snprintf(mc->name, sizeof mc->name, "pretrain-%.30s", dims.name);
    mc->n_layer = dims.n_layer;
    mc->n_head = dims.n_head;
    mc->d_model = dims.d_model;
    mc->head_dim = dims.head_dim;
    mc->mlp_ratio = dims.mlp_ratio;
    mc->causal = causal ? 1 : 0;
    mc->norm_eps = dims.norm_eps;
    mc->init_std = dims.init_std;
    int32_t next = 0;
    for (int m = 0; m < n; m++) {
        const lt_ds_modality *dm = lt_dataset_modality(ds, m);
        lt_modality *md = &mc->modalities[m];
        snprintf(md->name, sizeof md->name, "%s", dm->name);
        md->tok_lo = next;
        md->tok_hi = next + (int32_t)dm->levels;
        md->max_len = (int32_t)dm->max_len + 2; /* BOS and EOS */
        next = md->tok_hi;
    }
    for (int m = 0; m < n; m++) {
        mc->modalities[m].begin = next++;
        mc->modalities[m].end = next++;
    }
    mc->n_modality = n;
    ex->sentinel_base = next;
    ex->n_sentinels = max_spans;
    next += max_spans;
    ex->end_of_span = next++;
    ex->mask = next++;
    mc->vocab_size = next;
    lt_dataset_close(ds);
    lt_status st = lt_model_config_validate(mc);
    return st == LT_OK ? LT_OK : lt_error_context(st, "pretrain config from %s: ", dataset_path);
}

lt_status lt_pretrain_graph(const char *const *files, int n_files, const lt_model_config *mc,
                            lt_modality_graph *g) {
    LT_TRY(lt_graph_init(g, mc->n_modality));
    for (int f = 0; f < n_files; f++) {
        lt_dataset *ds;
        LT_TRY(lt_dataset_open(files[f], &ds));
        int map[LT_DS_MAX_MODALITIES];
        lt_status st = lt_obj_modality_map(ds, mc, 0, map);
        /* Masks repeat: each distinct one is expanded into its pairs once. */
        uint32_t seen[64];
        int n_seen = 0;
        for (uint64_t i = 0; st == LT_OK && i < lt_dataset_size(ds); i++) {
            lt_ds_sample s;
            st = lt_dataset_get(ds, i, &s);
            if (st != LT_OK) break;
            int dup = 0;
            for (int k = 0; k < n_seen && !dup; k++) dup = seen[k] == s.mask;
            if (dup) continue;
            if (n_seen < 64) seen[n_seen++] = s.mask;
            for (int a = 0; a < LT_DS_MAX_MODALITIES; a++)
                for (int b = a + 1; b < LT_DS_MAX_MODALITIES; b++)
                    if ((s.mask >> a & 1) && (s.mask >> b & 1) && map[a] >= 0 && map[b] >= 0)
                        lt_graph_add_pair(g, map[a], map[b]);
        }
        lt_dataset_close(ds);
        if (st != LT_OK) return lt_error_context(st, "pretrain graph: %s: ", files[f]);
    }
    lt_graph_finish(g);
    return LT_OK;
}

lt_status lt_pretrain_fixed_mask(const char *dataset_path, const lt_model_config *mc,
                                 uint32_t *mask) {
    lt_dataset *ds;
    LT_TRY(lt_dataset_open(dataset_path, &ds));
    *mask = 0;
    for (int m = 0; m < lt_dataset_modality_count(ds); m++) {
        const lt_ds_modality *dm = lt_dataset_modality(ds, m);
        for (int k = 0; k < mc->n_modality; k++)
            if (dm->fixed_len && !strcmp(mc->modalities[k].name, dm->name)) *mask |= 1u << k;
    }
    lt_dataset_close(ds);
    return LT_OK;
}
