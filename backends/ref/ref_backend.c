/* backends/ref/ref_backend.c - the "ref" backend: plain loops in double precision.
 *
 * The oracle of the conformance suite: every op written the most obvious way, reading
 * each element through the tensor's strides and accumulating in double, so it accepts
 * f64 tensors (finite-difference gradient checks) as well as f32/bf16/f16. It is never
 * chosen as a default device. */
#include <stdio.h>

#include "cpu_common.h"

static lt_status ref_discover(lt_device *devs, int max, int *count) {
    *count = 0;
    if (max < 1) return LT_OK;
    lt_cpu_host_describe(&devs[0].info);
    char name[128];
    snprintf(name, sizeof name, "%.100s (reference loops)", devs[0].info.name);
    snprintf(devs[0].info.name, sizeof devs[0].info.name, "%s", name);
    devs[0].info.is_reference = 1;
    devs[0].info.supports_f64 = 1;
    *count = 1;
    return LT_OK;
}

static const lt_backend lt_ref_backend = {
    .name = "ref",
    .discover = ref_discover,
    .alloc = lt_cpu_host_alloc,
    .free = lt_cpu_host_free,
    .upload = lt_cpu_host_upload,
    .download = lt_cpu_host_download,
    .copy = lt_cpu_host_copy,
    .ops = {
#define LT_REF_ENTRY(name) lt_ref_##name,
        LT_CPU_OP_LIST(LT_REF_ENTRY)
#undef LT_REF_ENTRY
    },
};

const lt_backend *lt_backend_ref_get(void) { return &lt_ref_backend; }
