/* core/op_f32_staging.h - mixed-precision matmul / attention on a backend's f32 kernels.
 *
 * The mixed-precision contract (loretta/ops.h, "Conventions") lets matmul and attention
 * take bf16/f16 operands and write half or f32 results. A backend whose kernels compute
 * in f32 anyway can serve those calls by staging: every half tensor of the call is
 * converted exactly to an f32 scratch tensor on the same device, the backend runs the
 * all-f32 call, and every half output is rounded once from its f32 scratch. That is the
 * contract's arithmetic exactly (f32 accumulation, one rounding per output); it costs a
 * conversion pass and an f32 copy of each half tensor. Internal to the library. */
#ifndef LT_OP_F32_STAGING_H
#define LT_OP_F32_STAGING_H

#include "loretta/backend.h"

/* dst = src converted, same shape: one of them is f32 and contiguous, the other a half
 * dtype with any strides (contiguous last dim). */
typedef lt_status (*lt_stage_convert_fn)(lt_device *dev, lt_tensor *dst, const lt_tensor *src);

/* 1 when any tensor of the call is bf16 or f16. */
int lt_op_has_half(const lt_op_call *call);

/* Runs `call` (matmul, attn_fwd or attn_bwd; already validated) as the same call on f32
 * scratch copies of its half tensors, dispatched to dev's own backend, then writes the
 * half outputs back. `convert` NULL = through the public ops (lt_copy to gather a
 * strided view, lt_cast to convert), which every backend has. Scratch is allocated with
 * lt_tensor_alloc, so it counts against the device's memory limit, and freed before
 * returning. */
lt_status lt_op_run_staged_f32(lt_device *dev, const lt_op_call *call, lt_stage_convert_fn convert);

#endif
