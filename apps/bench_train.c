/* apps/bench_train.c - placeholder until written. */
#include <stdio.h>

#include "commands.h"

int lt_bench_train_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "loretta: not built yet\n");
    return 1;
}
