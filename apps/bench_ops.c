/* apps/bench_ops.c - placeholder until written. */
#include <stdio.h>

#include "commands.h"

int lt_bench_ops_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "loretta: not built yet\n");
    return 1;
}
