/* tests/support/abc_config.h - the three-modality test config of the objective and loader
 * tests: a, b, c with 10 tokens each (0-9, 10-19, 20-29), BOS/EOS 30-35, 8 positions per
 * modality (a 0-7, b 8-15, c 16-23); sentinels 36-39, end-of-span 40, mask 41. */
#ifndef LT_TEST_ABC_CONFIG_H
#define LT_TEST_ABC_CONFIG_H

#include "loretta/objectives.h"

void lt_test_abc_config(lt_model_config *cfg, const char *name);
extern const lt_vocab_extra lt_test_abc_extra;

#endif
