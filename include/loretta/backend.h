/* loretta/backend.h - what a backend provides: a table of function pointers.
 *
 * One table per backend, registered once at start-up (core/registry.c calls each
 * compiled-in backend's lt_backend_<name>_get()). Nothing else in the core names a
 * backend. Optional members may be NULL; an op entry left NULL means "unsupported"
 * and the dispatcher reports it as such.
 *
 * Contract for backends:
 *  - alloc/free/upload/download/copy work in bytes; the core tracks memory use and
 *    limits, so `alloc` only needs to fail honestly (OUT_OF_MEMORY with a message).
 *  - ops receive calls the core has already validated (ops.h documents each slot).
 *    Data-dependent errors (token id out of range, ...) are the backend's to report.
 *  - ops may run asynchronously; download and sync make results visible to the host.
 */
#ifndef LORETTA_BACKEND_H
#define LORETTA_BACKEND_H

#include "loretta/ops.h"
#include "loretta/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef lt_status (*lt_op_fn)(lt_device *dev, const lt_op_call *call);

struct lt_backend {
    const char *name; /* "cpu", "ref", "opencl", "vulkan", "cuda" */

    /* Discovery: called once by lt_init. Fills `devs` (up to `max`) and sets *count.
     * A backend with no usable device returns LT_OK with *count = 0 and may set a
     * message (shown by `loretta devices`) through lt_error. */
    lt_status (*discover)(lt_device *devs, int max, int *count);
    void (*release)(lt_device *dev); /* optional: tear down device state */

    lt_status (*alloc)(lt_device *dev, size_t bytes, lt_buffer *buf); /* fill host_ptr/impl */
    void (*free)(lt_device *dev, lt_buffer *buf);
    lt_status (*upload)(lt_buffer *dst, size_t offset, const void *src, size_t bytes);
    lt_status (*download)(void *dst, const lt_buffer *src, size_t offset, size_t bytes);
    /* Same-device copy; optional (the core falls back to download + upload). */
    lt_status (*copy)(lt_buffer *dst, size_t dst_offset, const lt_buffer *src,
                      size_t src_offset, size_t bytes);
    lt_status (*sync)(lt_device *dev); /* optional */
    void (*set_threads)(lt_device *dev, int threads); /* optional */

    lt_op_fn ops[LT_OP_COUNT]; /* indexed by lt_op; NULL = unsupported */
};

/* Each backend's entry point (defined only when that backend is compiled in). */
const lt_backend *lt_backend_ref_get(void);
const lt_backend *lt_backend_cpu_get(void);
const lt_backend *lt_backend_opencl_get(void);
const lt_backend *lt_backend_vulkan_get(void);
const lt_backend *lt_backend_cuda_get(void);

/* Names of the backends compiled into this build, and why the missing ones are missing
 * (filled at configure time, e.g. "vulkan: skipped (glslc not found)"). */
const char *lt_build_backends(void);
const char *lt_build_skipped(void);

/* A discovery note per backend ("opencl: no platform found"), empty if none. */
const char *lt_backend_note(const char *backend_name);

#ifdef __cplusplus
}
#endif
#endif
