/* apps/cmd_bench.c - placeholder until benchmarks land. */
#include <stdio.h>

#include "commands.h"

int lt_cmd_bench(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "loretta: bench is not built yet\n");
    return 1;
}
