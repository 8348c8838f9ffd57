/* apps/generate_cli.h - what the two halves of `loretta generate` share:
 * apps/cmd_generate.c (cross-modal generation from a dataset) and apps/generate_bench.c
 * (the --bench timing mode). */
#ifndef LT_APP_GENERATE_CLI_H
#define LT_APP_GENERATE_CLI_H

#include "commands.h"
#include "loretta/generate.h"
#include "loretta/train.h"

/* The model of a run: from a checkpoint (then `trainer` owns it) or a config with
 * random weights. Sized max_B x max_T for lt_model_forward (features, no-cache). */
typedef struct gen_model {
    lt_trainer *trainer;
    lt_model *model;
    int random_init;
} gen_model;

/* Prints what went wrong and returns 0 on failure. */
int lt_gen_load_model(lt_device *dev, const char *ckpt, const char *config, uint64_t init_seed,
                      int max_B, int max_T, gen_model *out);
void lt_gen_free_model(gen_model *g);

typedef struct gen_bench_opts {
    const char *ckpt, *config;
    int batch, prompt, gen, nocache_samples;
    uint64_t seed;
} gen_bench_opts;

/* `loretta generate --bench`: prints a RESULT line per path; returns the exit code. */
int lt_gen_bench(lt_device *dev, const gen_bench_opts *o);

double lt_gen_now_s(void);

#endif
