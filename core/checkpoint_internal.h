/* core/checkpoint_internal.h - what checkpoint_save.c and checkpoint_load.c share: the
 * three parts of a checkpoint (weights, AdamW m, AdamW v) and their tensor names. */
#ifndef LT_CHECKPOINT_INTERNAL_H
#define LT_CHECKPOINT_INTERNAL_H

#include <stdio.h>

#include "loretta/checkpoint.h"

enum { LT_CKPT_WEIGHTS = 0, LT_CKPT_M, LT_CKPT_V, LT_CKPT_PARTS };

/* "wte.weight", "optim.m.wte.weight", "optim.v.wte.weight". */
static inline void lt_ckpt_tensor_name(int part, const lt_param_info *p, char *out, size_t cap) {
    static const char *const prefix[LT_CKPT_PARTS] = {"", "optim.m.", "optim.v."};
    snprintf(out, cap, "%s%s", prefix[part], p->name);
}

static inline const lt_tensor *lt_ckpt_part_tensor(const lt_trainer *t, int part) {
    return part == LT_CKPT_WEIGHTS ? &t->model->params : part == LT_CKPT_M ? &t->m : &t->v;
}

static inline int lt_ckpt_host_is_little_endian(void) {
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

#endif
