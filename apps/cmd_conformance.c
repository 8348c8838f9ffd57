/* apps/cmd_conformance.c - placeholder until the conformance suite lands. */
#include <stdio.h>

#include "commands.h"

int lt_cmd_conformance(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "loretta: conformance is not built yet\n");
    return 1;
}
