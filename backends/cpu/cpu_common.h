/* backends/cpu/cpu_common.h - shared by the cpu ("OpenMP") and ref (plain loops) backends. */
#ifndef LT_CPU_COMMON_H
#define LT_CPU_COMMON_H

#include <stdint.h>

#include "loretta/backend.h"

/* Host pointer to the first element of a tensor on a host-addressable buffer. */
static inline void *lt_cpu_ptr(const lt_tensor *t) {
    return t ? (char *)t->buf->host_ptr + t->offset : NULL;
}

/* Thread count for OpenMP regions of this device (>= 1). */
int lt_cpu_threads(const lt_device *dev);

/* Host memory shared by both CPU backends. */
lt_status lt_cpu_host_alloc(lt_device *dev, size_t bytes, lt_buffer *buf);
void lt_cpu_host_free(lt_device *dev, lt_buffer *buf);
lt_status lt_cpu_host_upload(lt_buffer *dst, size_t offset, const void *src, size_t bytes);
lt_status lt_cpu_host_download(void *dst, const lt_buffer *src, size_t offset, size_t bytes);
lt_status lt_cpu_host_copy(lt_buffer *dst, size_t dst_offset, const lt_buffer *src,
                           size_t src_offset, size_t bytes);
void lt_cpu_host_describe(lt_device_info *info);

/* The op functions of each backend, one family per file (backends/cpu/<family>.c and
 * backends/ref/<family>.c). */
#define LT_CPU_OP_LIST(X) \
    X(fill) X(copy) X(cast) X(matmul) X(embed_fwd) X(embed_bwd) X(pos_embed_fwd) \
    X(rmsnorm_fwd) X(rmsnorm_bwd) X(gelu_fwd) X(gelu_bwd) X(add) X(scale) X(axpy) \
    X(cross_entropy) X(attn_fwd) X(attn_bwd) X(attn_decode) X(kv_write) X(adamw) \
    X(sumsq) X(sample)

#define LT_DECLARE_CPU_OP(name) lt_status lt_cpu_##name(lt_device *dev, const lt_op_call *call);
#define LT_DECLARE_REF_OP(name) lt_status lt_ref_##name(lt_device *dev, const lt_op_call *call);
LT_CPU_OP_LIST(LT_DECLARE_CPU_OP)
LT_CPU_OP_LIST(LT_DECLARE_REF_OP)
#undef LT_DECLARE_CPU_OP
#undef LT_DECLARE_REF_OP

#endif
