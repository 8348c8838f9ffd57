/* tests/support/abc_config.c - see abc_config.h. */
#include "abc_config.h"

#include <stdio.h>
#include <string.h>

const lt_vocab_extra lt_test_abc_extra = {36, 4, 40, 41};

void lt_test_abc_config(lt_model_config *cfg, const char *name) {
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->name, sizeof cfg->name, "%s", name);
    cfg->vocab_size = 42;
    cfg->n_modality = 3;
    const char *names[3] = {"a", "b", "c"};
    for (int m = 0; m < 3; m++) {
        lt_modality *md = &cfg->modalities[m];
        snprintf(md->name, sizeof md->name, "%s", names[m]);
        md->tok_lo = 10 * m;
        md->tok_hi = 10 * m + 10;
        md->begin = 30 + 2 * m;
        md->end = 31 + 2 * m;
        md->max_len = 8;
        md->pos_base = 8 * m;
    }
}
