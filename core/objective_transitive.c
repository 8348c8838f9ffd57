/* core/objective_transitive.c - transitive modeling (the paper's appendix D) over any
 * spanning tree of aligned modality pairs (its figure 2d). */
#include <stdlib.h>
#include <string.h>

#include "loretta/objectives.h"

lt_status lt_graph_init(lt_modality_graph *g, int n) {
    if (n < 1 || n > LT_MAX_MODALITIES)
        return lt_error(LT_ERR_INVALID_ARG, "modality graph: %d modalities (1..%d)", n, LT_MAX_MODALITIES);
    memset(g, 0, sizeof *g);
    g->n = n;
    lt_graph_finish(g);
    return LT_OK;
}

void lt_graph_add_pair(lt_modality_graph *g, int i, int j) {
    if (i < 0 || j < 0 || i >= g->n || j >= g->n || i == j) return;
    g->edge[i][j] = g->edge[j][i] = 1;
}

void lt_graph_finish(lt_modality_graph *g) {
    int seen[LT_MAX_MODALITIES] = {0}, queue[LT_MAX_MODALITIES];
    int comp = 0;
    for (int root = 0; root < g->n; root++) {
        if (seen[root]) continue;
        int head = 0, tail = 0;
        queue[tail++] = root;
        seen[root] = 1;
        g->parent[root] = -1;
        while (head < tail) {
            int u = queue[head++];
            g->component[u] = comp;
            for (int v = 0; v < g->n; v++)
                if (g->edge[u][v] && !seen[v]) {
                    seen[v] = 1;
                    g->parent[v] = u;
                    queue[tail++] = v;
                }
        }
        comp++;
    }
}

lt_status lt_graph_path(const lt_modality_graph *g, const lt_model_config *cfg, int a, int b,
                        int *path, int *n) {
    if (a < 0 || b < 0 || a >= g->n || b >= g->n)
        return lt_error(LT_ERR_INVALID_ARG, "modality graph: modality %d or %d of %d", a, b, g->n);
    if (g->component[a] != g->component[b])
        return lt_error(LT_ERR_INVALID_ARG, "modality graph: no chain of aligned pairs links %s and %s",
                        cfg ? cfg->modalities[a].name : "?", cfg ? cfg->modalities[b].name : "?");
    /* Climb both to their lowest common ancestor in the BFS tree. */
    int up_a[LT_MAX_MODALITIES], na = 0, up_b[LT_MAX_MODALITIES], nb = 0;
    for (int x = a; x >= 0; x = g->parent[x]) up_a[na++] = x;
    for (int x = b; x >= 0; x = g->parent[x]) up_b[nb++] = x;
    while (na > 1 && nb > 1 && up_a[na - 2] == up_b[nb - 2]) {
        na--;
        nb--;
    }
    int k = 0;
    for (int i = 0; i < na; i++) path[k++] = up_a[i];     /* a .. lca */
    for (int i = nb - 2; i >= 0; i--) path[k++] = up_b[i]; /* below lca .. b */
    *n = k;
    return LT_OK;
}

/* Plans the generation of `to` along the tree path from `from` (already held). */
static lt_status plan_chain(lt_transitive_plan *p, const lt_modality_graph *g,
                            const lt_model_config *cfg, int from, int to) {
    int path[LT_MAX_MODALITIES], n;
    LT_TRY(lt_graph_path(g, cfg, from, to, path, &n));
    for (int i = 1; i < n; i++) {
        if (p->have[path[i]]) continue;
        if (p->n_steps >= LT_MAX_MODALITIES)
            return lt_error(LT_ERR_INTERNAL, "transitive: more than %d generation steps", LT_MAX_MODALITIES);
        p->from[p->n_steps] = path[i - 1];
        p->to[p->n_steps] = path[i];
        p->n_steps++;
        p->have[path[i]] = 2;
    }
    return LT_OK;
}

static int path_len(const lt_modality_graph *g, int a, int b) {
    int path[LT_MAX_MODALITIES], n;
    if (lt_graph_path(g, NULL, a, b, path, &n) != LT_OK) return 1 << 20;
    return n;
}

static void shuffle_ints(int *v, int n, lt_obj_rng *r) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)lt_obj_rng_below(r, (uint32_t)i + 1);
        int t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

void lt_transitive_plan_free(lt_transitive_plan *p) {
    for (int m = 0; m < LT_MAX_MODALITIES; m++) free(p->buf[m]);
    memset(p, 0, sizeof *p);
}

lt_status lt_transitive_plan_make(lt_transitive_plan *p, const lt_model_config *cfg,
                                  const lt_modality_graph *g, const lt_ds_sample *sample,
                                  const int map[LT_DS_MAX_MODALITIES],
                                  const lt_transitive_opts *o, lt_obj_rng *r) {
    memset(p, 0, sizeof *p);
    int real[LT_MAX_MODALITIES], nreal = 0;
    for (int i = 0; i < LT_DS_MAX_MODALITIES; i++) {
        if (!(sample->mask >> i & 1) || map[i] < 0) continue;
        int m = map[i];
        p->buf[m] = malloc(sizeof(int32_t) * (sample->len[i] + 1));
        if (!p->buf[m]) {
            lt_transitive_plan_free(p);
            return lt_error(LT_ERR_OUT_OF_MEMORY, "transitive: sample buffer");
        }
        for (uint32_t k = 0; k < sample->len[i]; k++) p->buf[m][k] = cfg->modalities[m].tok_lo + sample->tokens[i][k];
        p->len[m] = (int)sample->len[i];
        p->have[m] = 1;
        real[nreal++] = m;
    }
    if (nreal == 0) {
        lt_transitive_plan_free(p);
        return lt_error(LT_ERR_INVALID_ARG, "transitive: the sample (label %d) has no modality of the model",
                        sample->label);
    }
    /* Modalities reachable from the sample and missing from it. */
    int missing[LT_MAX_MODALITIES], nmiss = 0;
    for (int m = 0; m < cfg->n_modality; m++)
        if (!p->have[m] && g->component[m] == g->component[real[0]]) missing[nmiss++] = m;
    lt_status res = LT_OK;
    if (nmiss > 0 && lt_obj_rng_uniform(r) < o->p_all) {
        /* Every modality, generated where missing (from the nearest real one). */
        for (int k = 0; k < nmiss && res == LT_OK; k++) {
            int best = real[0];
            for (int j = 1; j < nreal; j++)
                if (path_len(g, real[j], missing[k]) < path_len(g, best, missing[k])) best = real[j];
            res = plan_chain(p, g, cfg, best, missing[k]);
        }
        for (int m = 0; m < cfg->n_modality; m++)
            if (p->have[m]) p->order[p->n_order++] = m;
        shuffle_ints(p->order, p->n_order, r);
    } else if (nmiss > 0 && nreal >= 2) {
        /* Cases 1 and 2: y is generated from the real modality nearest to it, and the
         * row pairs it with another real modality x: [y_hat, x]. */
        int y = missing[lt_obj_rng_below(r, (uint32_t)nmiss)];
        int src = real[0];
        for (int j = 1; j < nreal; j++)
            if (path_len(g, real[j], y) < path_len(g, src, y)) src = real[j];
        int others[LT_MAX_MODALITIES], no = 0;
        for (int j = 0; j < nreal; j++)
            if (real[j] != src) others[no++] = real[j];
        int x = others[lt_obj_rng_below(r, (uint32_t)no)];
        res = plan_chain(p, g, cfg, src, y);
        p->order[p->n_order++] = y;
        p->order[p->n_order++] = x;
    } else if (nmiss > 0) {
        /* One real modality a. Cases 3 and 5: a missing modality not aligned with a in
         * the data (an unseen pair) is reached through the chain: [y_hat, a]. */
        int a = real[0], far[LT_MAX_MODALITIES], nfar = 0;
        for (int k = 0; k < nmiss; k++)
            if (!g->edge[a][missing[k]]) far[nfar++] = missing[k];
        if (nfar > 0) {
            int y = far[lt_obj_rng_below(r, (uint32_t)nfar)];
            res = plan_chain(p, g, cfg, a, y);
            p->order[p->n_order++] = y;
            p->order[p->n_order++] = a;
        } else if (nmiss >= 2) {
            /* Case 4: a is the link; two of its neighbours are generated and paired,
             * [y1_hat, y2_hat] shuffled, as the pseudocode writes it. */
            int i1 = (int)lt_obj_rng_below(r, (uint32_t)nmiss);
            int i2 = (int)lt_obj_rng_below(r, (uint32_t)nmiss - 1);
            if (i2 >= i1) i2++;
            res = plan_chain(p, g, cfg, a, missing[i1]);
            if (res == LT_OK) res = plan_chain(p, g, cfg, a, missing[i2]);
            p->order[p->n_order++] = missing[i1];
            p->order[p->n_order++] = missing[i2];
            shuffle_ints(p->order, p->n_order, r);
        } else {
            p->order[p->n_order++] = a; /* nothing transitive to do: the plain sample */
        }
    } else {
        for (int j = 0; j < nreal; j++) p->order[p->n_order++] = real[j];
        shuffle_ints(p->order, p->n_order, r);
    }
    if (res != LT_OK) lt_transitive_plan_free(p);
    return res;
}

lt_status lt_transitive_plan_prompt(const lt_transitive_plan *p, const lt_model_config *cfg,
                                    int k, lt_seq *prompt) {
    if (k < 0 || k >= p->n_steps) return lt_error(LT_ERR_INVALID_ARG, "transitive: step %d of %d", k, p->n_steps);
    int from = p->from[k];
    if (!p->buf[from] || p->len[from] < 1)
        return lt_error(LT_ERR_INVALID_ARG, "transitive: step %d needs %s, which is not generated yet", k,
                        cfg->modalities[from].name);
    lt_seq_clear(prompt);
    return lt_seq_append_tokens(prompt, cfg, from, p->buf[from], (uint32_t)p->len[from], 0);
}

lt_status lt_transitive_plan_store(lt_transitive_plan *p, const lt_model_config *cfg, int k,
                                   const int32_t *tokens, int n) {
    if (k < 0 || k >= p->n_steps) return lt_error(LT_ERR_INVALID_ARG, "transitive: step %d of %d", k, p->n_steps);
    int to = p->to[k], max = cfg->modalities[to].max_len - 2;
    if (n < 1 || n > max)
        return lt_error(LT_ERR_RANGE, "transitive: %d generated tokens of %s (1..%d)", n, cfg->modalities[to].name, max);
    free(p->buf[to]);
    p->buf[to] = malloc(sizeof(int32_t) * (size_t)n);
    if (!p->buf[to]) return lt_error(LT_ERR_OUT_OF_MEMORY, "transitive: generated tokens");
    memcpy(p->buf[to], tokens, sizeof(int32_t) * (size_t)n);
    p->len[to] = n;
    return LT_OK;
}

lt_status lt_transitive_plan_assemble(const lt_transitive_plan *p, const lt_model_config *cfg,
                                      lt_seq *s) {
    lt_seq_clear(s);
    int any_real = 0;
    for (int k = 0; k < p->n_order; k++) any_real |= p->have[p->order[k]] == 1;
    for (int k = 0; k < p->n_order; k++) {
        int m = p->order[k];
        if (!p->buf[m]) return lt_error(LT_ERR_INVALID_ARG, "transitive: %s was planned but not generated",
                                        cfg->modalities[m].name);
        /* Loss on real tokens; in case 4 (no real tokens) on the second modality, the
         * direction the unseen pair is learned in. */
        int counted = any_real ? p->have[m] == 1 : k == p->n_order - 1;
        LT_TRY(lt_seq_append_tokens(s, cfg, m, p->buf[m], (uint32_t)p->len[m], counted));
    }
    return LT_OK;
}

lt_status lt_obj_transitive(lt_seq *s, const lt_model_config *cfg, const lt_modality_graph *g,
                            const lt_ds_sample *sample, const int map[LT_DS_MAX_MODALITIES],
                            const lt_transitive_opts *o, lt_obj_rng *r, lt_generate_fn gen,
                            void *gen_ctx, int *used_generated) {
    *used_generated = 0;
    lt_transitive_plan p;
    LT_TRY(lt_transitive_plan_make(&p, cfg, g, sample, map, o, r));
    lt_seq prompt;
    lt_status st = lt_seq_init(&prompt, 64);
    int32_t *out = NULL;
    for (int k = 0; k < p.n_steps && st == LT_OK; k++) {
        int to = p.to[k], max = cfg->modalities[to].max_len - 2, n = 0;
        free(out);
        out = malloc(sizeof(int32_t) * (size_t)(max > 0 ? max : 1));
        if (!out) {
            st = lt_error(LT_ERR_OUT_OF_MEMORY, "transitive: generation buffer");
            break;
        }
        st = lt_transitive_plan_prompt(&p, cfg, k, &prompt);
        if (st == LT_OK) st = gen(gen_ctx, &prompt, to, out, max, &n);
        if (st != LT_OK) {
            st = lt_error_context(st, "transitive: generating %s from %s: ", cfg->modalities[to].name,
                                  cfg->modalities[p.from[k]].name);
            break;
        }
        st = lt_transitive_plan_store(&p, cfg, k, out, n);
        if (st == LT_OK) (*used_generated)++;
    }
    if (st == LT_OK) st = lt_transitive_plan_assemble(&p, cfg, s);
    free(out);
    lt_seq_free(&prompt);
    lt_transitive_plan_free(&p);
    return st;
}
