/* core/profile_internal.h - the profiler's hook in lt_op_dispatch (core/ops.c). */
#ifndef LT_PROFILE_INTERNAL_H
#define LT_PROFILE_INTERNAL_H

#include "loretta/backend.h"

extern int lt_profile_on; /* read by lt_op_dispatch on every op */

/* Runs fn(dev, call) between two device syncs and records it. */
lt_status lt_profile_dispatch(lt_device *dev, const lt_op_call *call, lt_op_fn fn);

#endif
