/* apps/generate_bench.c - `loretta generate --bench`: generation throughput with and
 * without the KV cache, sized like bench/torch_gpt_baseline.py gen (batch 16, 784-token
 * prompt, 256 decode steps, greedy) so bench/generate_vs_torch.sh can compare them.
 *
 * Cached: one lt_generate call. The prefill runs over the 783 prompt tokens + BOS (784
 * rows, as torch's prefill) and draws token 0; then 256 cached steps draw tokens 1..256
 * (torch: 256 decode forwards). Decode tok/s = B * steps / decode time, torch's measure.
 * No cache: the step drawing token i re-runs the full forward over 784 + i tokens. Its
 * cost grows with the context, so it is timed at a few contexts (lt_generate_nocache
 * with one token to draw) and the 256 steps are summed by linear interpolation between
 * the timed contexts: an extrapolation, printed as such. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate_cli.h"
#include "loretta/rng.h"

static int make_prompts(const lt_model_config *cfg, int B, int len, uint64_t seed, lt_seq *p) {
    const lt_modality *m = &cfg->modalities[0];
    for (int b = 0; b < B; b++) {
        if (lt_seq_init(&p[b], len) != LT_OK) return 0;
        for (int t = 0; t < len; t++) {
            uint32_t w[4];
            lt_rng_words(seed, (uint64_t)b, (uint64_t)t, w);
            int32_t tok = m->tok_lo + (int32_t)(w[0] % (uint32_t)(m->tok_hi - m->tok_lo));
            if (lt_seq_push(&p[b], tok, m->pos_base + t, 0, 0) != LT_OK) return 0;
        }
    }
    return 1;
}

static int bench_cache(lt_generator *g, const lt_model_config *cfg, lt_seq *prompts,
                       const gen_bench_opts *o, double *decode_s, double *total_s) {
    const int B = o->batch, G = o->gen;
    lt_gen_opts go = lt_gen_opts_default();
    go.fixed_len_mask = 1u; /* exactly G + 1 tokens: the prefill's draw and G cached steps */
    go.max_new = 4;
    int32_t *out = malloc((size_t)B * (G + 1) * sizeof *out);
    int *lens = malloc((size_t)B * sizeof *lens);
    if (!out || !lens) return 0;
    int ok = lt_generate(g, prompts, B, 0, &go, out, G + 1, lens) == LT_OK; /* warm-up */
    go.max_new = G + 1;
    ok = ok && lt_generate(g, prompts, B, 0, &go, out, G + 1, lens) == LT_OK;
    if (!ok) {
        free(out);
        free(lens);
        return !lt_fail("cached generation");
    }
    const lt_gen_stats *st = lt_generator_stats(g);
    const double steps = (double)st->decode_steps;
    printf("RESULT gen kv_cache=yes config=%s B=%d prompt=%d gen=%d greedy prefill=%.2fs (%.0f tok/s) "
           "decode=%.2fs (%.0f tok/s, %.1f ms/step) end-to-end=%.0f generated tok/s\n",
           cfg->name, B, prompts[0].len + 1, (int)steps, st->prefill_s,
           (double)st->prompt_tokens / st->prefill_s, st->decode_s, B * steps / st->decode_s,
           1e3 * st->decode_s / steps, (double)st->generated / (st->prefill_s + st->decode_s));
    *decode_s = st->decode_s;
    *total_s = st->prefill_s + st->decode_s;
    free(out);
    free(lens);
    return 1;
}

/* Seconds of one no-cache step over `ctx` tokens (prompt ctx - 1 + BOS, one draw). */
static int nocache_step(lt_model *m, lt_seq *prompts, int B, int ctx, double *secs) {
    lt_gen_opts go = lt_gen_opts_default();
    go.fixed_len_mask = 1u;
    go.max_new = 1;
    int32_t out[1024];
    int lens[1024];
    int saved[1024];
    for (int b = 0; b < B; b++) {
        saved[b] = prompts[b].len;
        prompts[b].len = ctx - 1;
    }
    double t0 = lt_gen_now_s();
    lt_status s = lt_generate_nocache(m, prompts, B, 0, &go, out, 1, lens);
    *secs = lt_gen_now_s() - t0;
    for (int b = 0; b < B; b++) prompts[b].len = saved[b];
    return s == LT_OK || !lt_fail("no-cache step");
}

int lt_gen_bench(lt_device *dev, const gen_bench_opts *o) {
    const int B = o->batch, P = o->prompt, G = o->gen, S = o->nocache_samples;
    if (B < 1 || B > 1024 || P < 2 || G < 2 || S < 0 || S > 64) {
        fprintf(stderr, "loretta generate --bench: batch 1..1024, prompt >= 2, gen >= 2, nocache-samples 0..64\n");
        return 2;
    }
    /* The model's own activations serve the no-cache forward: sized for the longest. */
    gen_model gm;
    if (!lt_gen_load_model(dev, o->ckpt, o->config, 1, S ? B : 1, S ? P + G : 1, &gm)) return 1;
    const lt_model_config *cfg = &gm.model->cfg;
    printf("bench: model %s (%d layers, d %d, %lld weights%s), batch %d, prompt %d (+BOS), %d decode steps\n",
           cfg->name, cfg->n_layer, cfg->d_model, (long long)gm.model->n_weights,
           gm.random_init ? ", random init" : "", B, P - 1, G);
    lt_seq *prompts = calloc((size_t)B, sizeof *prompts);
    lt_generator *g = NULL;
    int ok = prompts && make_prompts(cfg, B, P - 1 + G, o->seed + 1, prompts);
    for (int b = 0; ok && b < B; b++) prompts[b].len = P - 1;
    if (ok && lt_generator_create(gm.model, B, P + G, &g) != LT_OK) ok = !lt_fail("creating the generator");
    double dec = 0.0, total = 0.0;
    ok = ok && bench_cache(g, cfg, prompts, o, &dec, &total);
    lt_generator_free(g);
    if (ok && S > 0) {
        /* Draw i (1..G) re-runs the forward over P + i tokens; draw 0 is the prefill's. */
        double ctx[64], t[64];
        for (int j = 0; j < S && ok; j++) {
            ctx[j] = S == 1 ? P + (G + 1) / 2 : P + 1 + (double)(G - 1) * j / (S - 1);
            ok = nocache_step(gm.model, prompts, B, (int)ctx[j], &t[j]);
            if (ok) printf("  no-cache step over %d tokens: %.2f s\n", (int)ctx[j], t[j]);
            fflush(stdout);
        }
        if (ok) {
            double sum = 0.0;
            for (int i = 1; i <= G; i++) {
                double L = P + i, v = t[0];
                for (int j = 1; j < S; j++)
                    if (L <= ctx[j] || j == S - 1) {
                        double u = (L - ctx[j - 1]) / (ctx[j] - ctx[j - 1]);
                        v = t[j - 1] + u * (t[j] - t[j - 1]);
                        break;
                    }
                sum += v;
            }
            printf("RESULT gen kv_cache=no config=%s B=%d prompt=%d gen=%d decode=%.1fs (%.1f tok/s, "
                   "%.0f ms/step) extrapolated from %d timed steps\n",
                   cfg->name, B, P, G, sum, B * G / sum, 1e3 * sum / G, S);
            printf("RESULT gen cache_speedup=%.1fx (decode, cached vs no cache)\n", sum / dec);
        }
    }
    for (int b = 0; prompts && b < B; b++) lt_seq_free(&prompts[b]);
    free(prompts);
    lt_gen_free_model(&gm);
    return ok ? 0 : 1;
}
