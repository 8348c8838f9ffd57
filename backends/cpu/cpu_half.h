/* backends/cpu/cpu_half.h - bf16/f16 operands of the cpu matmul and attention
 * (half_stage.c): staged through f32 scratch around the f32 kernels. */
#ifndef LT_CPU_HALF_H
#define LT_CPU_HALF_H

#include "cpu_common.h"

/* dst = src, one f32 and contiguous, the other bf16/f16 with any strides (contiguous
 * last dim); host memory, converted with the device's threads. */
lt_status lt_cpu_half_convert(lt_device *dev, lt_tensor *dst, const lt_tensor *src);

/* Runs a validated matmul / attn_fwd / attn_bwd call with half tensors on the f32 path. */
lt_status lt_cpu_half_staged(lt_device *dev, const lt_op_call *call);

static inline int lt_cpu_is_half(const lt_tensor *t) {
    return t && (t->dtype == LT_BF16 || t->dtype == LT_F16);
}

#endif
