/* loretta/profile.h - an op-level profiler: where the time of a training step goes.
 *
 * While enabled, lt_op_dispatch waits for the device before and after every op
 * (lt_device_sync) and adds the op's wall time, launch to completion, to a per-op table;
 * the wait before it is counted apart (work queued outside the ops: copies, uploads,
 * asynchronous frees). The syncs serialise host and device, so a profiled step is slower
 * than an unprofiled one: report both. Disabled, it costs one branch per op.
 *
 * One process-wide table, not thread-safe: enable it around single-threaded code (the
 * ops themselves may use threads). An op that a backend implements by dispatching
 * other ops is counted once, as itself. */
#ifndef LORETTA_PROFILE_H
#define LORETTA_PROFILE_H

#include <stdint.h>

#include "loretta/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lt_profile_entry {
    int64_t calls;
    double seconds; /* launch to completion, device synced */
    double flops;   /* matmul 2*M*N*K per batch; attention by the FlashAttention count
                       (forward 4*B*H*T^2*Dh, halved when causal, backward 2.5x); 0 else */
} lt_profile_entry;

typedef struct lt_profile {
    lt_profile_entry op[LT_OP_COUNT];
    double wait_seconds; /* syncs before ops: work queued outside lt_op_dispatch */
    int64_t failed;      /* ops that returned an error (their time is still counted) */
} lt_profile;

/* Starts (on != 0) or stops adding to the table; the table is kept until lt_profile_reset. */
void lt_profile_enable(int on);
int lt_profile_enabled(void);
void lt_profile_reset(void);
void lt_profile_get(lt_profile *out);

/* FLOPs of one op call by the counts above (0 for ops not counted). */
double lt_op_flops(const lt_op_call *call);

#ifdef __cplusplus
}
#endif
#endif
