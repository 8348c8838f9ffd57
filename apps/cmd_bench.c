/* apps/cmd_bench.c - `loretta bench ops|attention|train`. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

int lt_cmd_bench(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: loretta bench ops|attention|train [options]   (loretta bench NAME --help for each)\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "ops")) return lt_bench_ops_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "attention")) return lt_bench_attention_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "train")) return lt_bench_train_main(argc - 1, argv + 1);
    fprintf(stderr, "loretta bench: unknown benchmark '%s' (ops, attention, train)\n", argv[1]);
    return 2;
}
