/* core/loader.c - micro-batches from a dataset file under an objective, with transitive
 * rows generated in batches (one generator call per chain step and target modality). */
#include <stdlib.h>
#include <string.h>

#include "loretta/loader.h"

static const char *const lt_objective_names[LT_OBJ_COUNT] = {"causal", "commutative", "cm3",
                                                            "c2m3", "bert"};

const char *lt_objective_name(lt_objective o) {
    return (unsigned)o < LT_OBJ_COUNT ? lt_objective_names[o] : "?";
}

lt_status lt_objective_parse(const char *name, lt_objective *out) {
    for (int i = 0; i < LT_OBJ_COUNT; i++)
        if (name && !strcmp(name, lt_objective_names[i])) {
            *out = (lt_objective)i;
            return LT_OK;
        }
    return lt_error(LT_ERR_INVALID_ARG, "unknown objective '%s' (causal, commutative, cm3, c2m3, bert)",
                    name ? name : "(null)");
}

lt_loader_opts lt_loader_defaults(void) {
    lt_loader_opts o;
    memset(&o, 0, sizeof o);
    o.batch = 8;
    o.objective = LT_OBJ_C2M3;
    o.p_cm3 = 0.5;
    o.max_spans = 3;
    o.p_bert = 0.15;
    o.transitive.p_all = 0.1;
    o.transitive.shuffle = 1;
    o.seed = 1;
    return o;
}

struct lt_loader {
    lt_dataset *ds;
    const lt_model_config *cfg;
    lt_vocab_extra ex;
    lt_loader_opts o;
    int map[LT_DS_MAX_MODALITIES];
    int max_T;
    uint64_t epoch, cursor, rows_made;
    uint64_t trans_rows, trans_generated;
    uint32_t *perm;
    lt_seq *seqs;        /* per row of the batch */
    int32_t *labels;     /* BERT labels per row token */
    lt_transitive_plan *plans;
    int *is_trans;
    int32_t *tokens, *targets, *pos_ids, *lengths, *modality;
    float *weights;
    lt_batch batch;
};

int lt_loader_max_row(const lt_model_config *cfg, const lt_vocab_extra *ex, int max_spans) {
    int n = 0;
    for (int m = 0; m < cfg->n_modality; m++) n += cfg->modalities[m].max_len;
    int spans = ex && max_spans > 0 ? max_spans : 0;
    return n + 3 * spans - 1; /* each span adds a placeholder, a sentinel and an end-of-span */
}

static void make_perm(lt_loader *l) {
    uint64_t n = lt_dataset_size(l->ds);
    for (uint64_t i = 0; i < n; i++) l->perm[i] = (uint32_t)i;
    lt_obj_rng r = lt_obj_rng_make(l->o.seed, 0x5eed0000ull + l->epoch);
    for (uint64_t i = n - 1; i > 0; i--) {
        uint64_t j = lt_obj_rng_below(&r, (uint32_t)(i + 1));
        uint32_t t = l->perm[i];
        l->perm[i] = l->perm[j];
        l->perm[j] = t;
    }
}

lt_status lt_loader_open(const char *path, const lt_model_config *cfg, const lt_vocab_extra *ex,
                         const lt_loader_opts *o, int max_T, lt_loader **out) {
    *out = NULL;
    if (!o || o->batch < 1 || (unsigned)o->objective >= LT_OBJ_COUNT || max_T < 2)
        return lt_error(LT_ERR_INVALID_ARG, "loader %s: batch %d >= 1, a known objective and max_T %d >= 2 needed",
                        path, o ? o->batch : 0, max_T);
    if (o->transitive_share > 0 && o->objective == LT_OBJ_BERT)
        return lt_error(LT_ERR_INVALID_ARG, "loader %s: transitive rows are next-token rows; a BERT loader "
                        "cannot mix them (T-BERT builds its own rows: loretta pretrain --method t-bert)", path);
    if (o->transitive_share > 0 && (!o->graph || !o->generate))
        return lt_error(LT_ERR_INVALID_ARG, "loader %s: transitive rows need a modality graph and a generator", path);
    if ((o->objective == LT_OBJ_CM3 || o->objective == LT_OBJ_C2M3) &&
        (!ex || o->max_spans < 1 || o->max_spans > ex->n_sentinels))
        return lt_error(LT_ERR_INVALID_ARG, "loader %s: CM3 needs 1..%d spans (the sentinels), got %d", path,
                        ex ? ex->n_sentinels : 0, o->max_spans);
    lt_loader *l = calloc(1, sizeof *l);
    if (!l) return lt_error(LT_ERR_OUT_OF_MEMORY, "loader %s", path);
    l->cfg = cfg;
    if (ex) l->ex = *ex;
    l->o = *o;
    l->max_T = max_T;
    lt_status st = lt_dataset_open(path, &l->ds);
    if (st == LT_OK) st = lt_obj_modality_map(l->ds, cfg, 1, l->map);
    if (st == LT_OK && lt_dataset_size(l->ds) == 0)
        st = lt_error(LT_ERR_FORMAT, "loader %s: the dataset holds no sample", path);
    size_t B = (size_t)o->batch, BT = B * (size_t)max_T;
    if (st == LT_OK) {
        l->perm = malloc(sizeof(uint32_t) * lt_dataset_size(l->ds));
        l->seqs = calloc(B, sizeof(lt_seq));
        l->labels = malloc(sizeof(int32_t) * BT + sizeof(int32_t));
        l->plans = calloc(B, sizeof(lt_transitive_plan));
        l->is_trans = calloc(B, sizeof(int));
        l->tokens = calloc(BT, sizeof(int32_t));
        l->targets = calloc(BT, sizeof(int32_t));
        l->pos_ids = calloc(BT, sizeof(int32_t));
        l->modality = calloc(BT, sizeof(int32_t));
        l->weights = calloc(BT, sizeof(float));
        l->lengths = calloc(B, sizeof(int32_t));
        if (!l->perm || !l->seqs || !l->labels || !l->plans || !l->is_trans || !l->tokens || !l->targets ||
            !l->pos_ids || !l->modality || !l->weights || !l->lengths)
            st = lt_error(LT_ERR_OUT_OF_MEMORY, "loader %s: batch buffers", path);
    }
    for (size_t b = 0; st == LT_OK && b < B; b++) st = lt_seq_init(&l->seqs[b], max_T + 1);
    if (st != LT_OK) {
        lt_loader_close(l);
        return st;
    }
    make_perm(l);
    *out = l;
    return LT_OK;
}

void lt_loader_close(lt_loader *l) {
    if (!l) return;
    if (l->seqs)
        for (int b = 0; b < l->o.batch; b++) lt_seq_free(&l->seqs[b]);
    if (l->plans)
        for (int b = 0; b < l->o.batch; b++) lt_transitive_plan_free(&l->plans[b]);
    lt_dataset_close(l->ds);
    free(l->perm); free(l->seqs); free(l->labels); free(l->plans); free(l->is_trans);
    free(l->tokens); free(l->targets); free(l->pos_ids); free(l->modality); free(l->weights);
    free(l->lengths);
    free(l);
}

const lt_dataset *lt_loader_dataset(const lt_loader *l) { return l->ds; }

void lt_loader_position(const lt_loader *l, uint64_t *epoch, uint64_t *cursor) {
    *epoch = l->epoch;
    *cursor = l->cursor;
}

lt_status lt_loader_seek(lt_loader *l, uint64_t epoch, uint64_t cursor) {
    if (cursor > lt_dataset_size(l->ds))
        return lt_error(LT_ERR_RANGE, "loader %s: position %llu beyond its %llu samples",
                        lt_dataset_path(l->ds), (unsigned long long)cursor,
                        (unsigned long long)lt_dataset_size(l->ds));
    l->epoch = epoch;
    l->cursor = cursor;
    l->rows_made = epoch * lt_dataset_size(l->ds) + cursor;
    make_perm(l);
    return LT_OK;
}

void lt_loader_transitive_stats(const lt_loader *l, uint64_t *rows, uint64_t *generated) {
    *rows = l->trans_rows;
    *generated = l->trans_generated;
}

/* Builds row b from sample `idx` with this row's own RNG stream (reproducible from the
 * seed and the row's global number, whatever the batch size or thread count). */
static lt_status build_row(lt_loader *l, int b, uint64_t idx, lt_obj_rng *r) {
    lt_ds_sample smp;
    LT_TRY(lt_dataset_get(l->ds, idx, &smp));
    lt_seq *s = &l->seqs[b];
    const lt_loader_opts *o = &l->o;
    l->is_trans[b] = 0;
    if (o->transitive_share > 0 && lt_obj_rng_uniform(r) < o->transitive_share) {
        l->is_trans[b] = 1;
        return lt_transitive_plan_make(&l->plans[b], l->cfg, o->graph, &smp, l->map, &o->transitive, r);
    }
    switch (o->objective) {
    case LT_OBJ_CAUSAL:
    case LT_OBJ_CM3:
    case LT_OBJ_BERT: {
        int order[LT_MAX_MODALITIES], n = 0;
        for (int i = 0; i < LT_DS_MAX_MODALITIES; i++)
            if ((smp.mask >> i & 1) && l->map[i] >= 0) order[n++] = l->map[i];
        LT_TRY(lt_obj_causal(s, l->cfg, &smp, l->map, order, n));
        break;
    }
    default:
        LT_TRY(lt_obj_commutative(s, l->cfg, &smp, l->map, r));
    }
    if ((o->objective == LT_OBJ_CM3 || o->objective == LT_OBJ_C2M3) && lt_obj_rng_uniform(r) < o->p_cm3) {
        int spans;
        LT_TRY(lt_obj_cm3(s, &l->ex, o->max_spans, r, &spans));
    }
    if (o->objective == LT_OBJ_BERT)
        LT_TRY(lt_obj_bert(s, l->cfg, &l->ex, o->p_bert, r, l->labels + (size_t)b * l->max_T));
    return LT_OK;
}

/* Runs the generation steps of every transitive row of the batch: for step k, one call
 * per target modality with all rows whose step k generates it. */
static lt_status generate_batch(lt_loader *l) {
    int B = l->o.batch, max_steps = 0;
    for (int b = 0; b < B; b++)
        if (l->is_trans[b] && l->plans[b].n_steps > max_steps) max_steps = l->plans[b].n_steps;
    if (max_steps == 0) return LT_OK;
    lt_seq *prompts = calloc((size_t)B, sizeof(lt_seq));
    int *rows = malloc(sizeof(int) * (size_t)B), *lens = malloc(sizeof(int) * (size_t)B);
    int stride = 0;
    for (int m = 0; m < l->cfg->n_modality; m++)
        if (l->cfg->modalities[m].max_len > stride) stride = l->cfg->modalities[m].max_len;
    int32_t *out = malloc(sizeof(int32_t) * (size_t)B * (size_t)stride);
    lt_status st = prompts && rows && lens && out ? LT_OK : lt_error(LT_ERR_OUT_OF_MEMORY, "loader: generation");
    for (int b = 0; b < B && st == LT_OK; b++) st = lt_seq_init(&prompts[b], 64);
    for (int k = 0; k < max_steps && st == LT_OK; k++)
        for (int target = 0; target < l->cfg->n_modality && st == LT_OK; target++) {
            int n = 0;
            for (int b = 0; b < B && st == LT_OK; b++) {
                if (!l->is_trans[b] || l->plans[b].n_steps <= k || l->plans[b].to[k] != target) continue;
                st = lt_transitive_plan_prompt(&l->plans[b], l->cfg, k, &prompts[n]);
                rows[n++] = b;
            }
            if (st != LT_OK || n == 0) continue;
            st = l->o.generate(l->o.generate_ctx, prompts, n, target, out, stride, lens);
            for (int i = 0; i < n && st == LT_OK; i++) {
                st = lt_transitive_plan_store(&l->plans[rows[i]], l->cfg, k, out + (size_t)i * stride, lens[i]);
                l->trans_generated++;
            }
        }
    for (int b = 0; b < B && st == LT_OK; b++)
        if (l->is_trans[b]) {
            st = lt_transitive_plan_assemble(&l->plans[b], l->cfg, &l->seqs[b]);
            lt_transitive_plan_free(&l->plans[b]);
            l->trans_rows++;
        }
    if (prompts)
        for (int b = 0; b < B; b++) lt_seq_free(&prompts[b]);
    free(prompts);
    free(rows);
    free(lens);
    free(out);
    return st;
}

lt_status lt_loader_next(lt_loader *l, const lt_batch **out) {
    int B = l->o.batch;
    uint64_t n = lt_dataset_size(l->ds);
    lt_status st = LT_OK;
    for (int b = 0; b < B && st == LT_OK; b++) {
        if (l->cursor >= n) {
            l->epoch++;
            l->cursor = 0;
            make_perm(l);
        }
        lt_obj_rng r = lt_obj_rng_make(l->o.seed, l->rows_made);
        st = build_row(l, b, l->perm[l->cursor], &r);
        l->cursor++;
        l->rows_made++;
    }
    if (st == LT_OK) st = generate_batch(l);
    if (st != LT_OK) return lt_error_context(st, "loader %s: ", lt_dataset_path(l->ds));
    int T = 1;
    for (int b = 0; b < B; b++) {
        int rows = l->seqs[b].len - (l->o.objective == LT_OBJ_BERT && !l->is_trans[b] ? 0 : 1);
        if (rows > l->max_T)
            return lt_error(LT_ERR_RANGE, "loader %s: a row of %d tokens exceeds the model's %d", lt_dataset_path(l->ds),
                            rows, l->max_T);
        if (rows > T) T = rows;
    }
    memset(l->weights, 0, sizeof(float) * (size_t)B * T);
    memset(l->tokens, 0, sizeof(int32_t) * (size_t)B * T);
    memset(l->targets, 0, sizeof(int32_t) * (size_t)B * T);
    memset(l->pos_ids, 0, sizeof(int32_t) * (size_t)B * T);
    memset(l->modality, 0, sizeof(int32_t) * (size_t)B * T);
    for (int b = 0; b < B; b++) {
        const lt_seq *s = &l->seqs[b];
        size_t at = (size_t)b * T;
        int rows;
        if (l->o.objective == LT_OBJ_BERT && !l->is_trans[b]) {
            /* Masked prediction: the target is the original token at the same position. */
            const int32_t *lab = l->labels + (size_t)b * l->max_T;
            for (int t = 0; t < s->len; t++) {
                l->tokens[at + t] = s->tok[t];
                l->pos_ids[at + t] = s->pos[t];
                l->modality[at + t] = s->mod[t] >= 0 ? s->mod[t] : 0;
                l->targets[at + t] = lab[t] >= 0 ? lab[t] : 0;
                l->weights[at + t] = lab[t] >= 0 ? 1.0f : 0.0f;
            }
            rows = s->len;
        } else {
            LT_TRY(lt_seq_to_rows(s, T, l->tokens + at, l->targets + at, l->weights + at, l->pos_ids + at,
                                  l->modality + at, &rows));
        }
        l->lengths[b] = rows;
    }
    l->batch.B = B;
    l->batch.T = T;
    l->batch.tokens = l->tokens;
    l->batch.targets = l->targets;
    l->batch.weights = l->weights;
    l->batch.pos_ids = l->pos_ids;
    l->batch.lengths = l->lengths;
    l->batch.modality = l->modality;
    *out = &l->batch;
    return LT_OK;
}
