/* apps/commands.h - the subcommands of `loretta` and the options every command shares. */
#ifndef LT_APP_COMMANDS_H
#define LT_APP_COMMANDS_H

#include "loretta/loretta.h"

/* Options every command takes: --backend NAME, --device INDEX, --threads N. */
typedef struct lt_common_opts {
    const char *backend; /* NULL = best non-reference device */
    int device;
    int threads;         /* 0 = default */
} lt_common_opts;

/* Removes the common options from argv (compacting it) and fills `o`. Returns 0, or
 * prints the problem and returns 2. */
int lt_parse_common(int *argc, char **argv, lt_common_opts *o);
/* Picks the device the options name, with threads applied; prints and returns NULL
 * on failure. */
lt_device *lt_pick_device(const lt_common_opts *o);
/* Option values: 1 when v is an integer in [lo, hi] (or a finite number >= 0), else a
 * message naming the command and option, and 0. */
int lt_arg_long(const char *cmd, const char *opt, const char *v, long lo, long hi, long *out);
int lt_arg_double(const char *cmd, const char *opt, const char *v, double *out);
/* Prints "loretta: <what>: <last error>" to stderr and returns 1. */
int lt_fail(const char *what);

typedef int (*lt_cmd_fn)(int argc, char **argv);
typedef struct lt_command {
    const char *name;
    const char *summary;
    lt_cmd_fn run;
} lt_command;

int lt_cmd_devices(int argc, char **argv);     /* apps/cmd_devices.c */
int lt_cmd_conformance(int argc, char **argv); /* apps/cmd_conformance.c */
int lt_cmd_bench(int argc, char **argv);       /* apps/cmd_bench.c: dispatches below */
int lt_cmd_train(int argc, char **argv);       /* apps/cmd_train.c */
int lt_cmd_generate(int argc, char **argv);    /* apps/cmd_generate.c */
int lt_cmd_svl(int argc, char **argv);         /* apps/cmd_svl.c: svl-mnist build|run */
int lt_cmd_pretrain(int argc, char **argv);    /* apps/cmd_pretrain.c: the baselines */
int lt_svl_offline_sources(int argc, char **argv); /* apps/svl_offline.c */

/* `loretta bench <what>`: argv[0] is <what>. */
int lt_bench_ops_main(int argc, char **argv);       /* apps/bench_ops.c */
int lt_bench_attention_main(int argc, char **argv); /* apps/bench_attention.c */
int lt_bench_train_main(int argc, char **argv);     /* apps/bench_train.c */

#endif
