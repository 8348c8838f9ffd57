/* backends/cpu/cpu_backend.c - the "cpu" backend: host memory, OpenMP threads, the op table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu_common.h"

#define LT_CPU_ALIGN 64

int lt_cpu_threads(const lt_device *dev) {
    if (dev && dev->threads > 0) return dev->threads;
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

lt_status lt_cpu_host_alloc(lt_device *dev, size_t bytes, lt_buffer *buf) {
    size_t rounded = (bytes + LT_CPU_ALIGN - 1) / LT_CPU_ALIGN * LT_CPU_ALIGN;
    if (rounded < bytes) return lt_error(LT_ERR_OUT_OF_MEMORY, "cpu: %zu bytes overflow", bytes);
    void *p = aligned_alloc(LT_CPU_ALIGN, rounded ? rounded : LT_CPU_ALIGN);
    if (!p)
        return lt_error(LT_ERR_OUT_OF_MEMORY, "%s: host allocation of %zu bytes failed",
                        dev->backend->name, bytes);
    buf->host_ptr = p;
    buf->impl = p;
    return LT_OK;
}

void lt_cpu_host_free(lt_device *dev, lt_buffer *buf) {
    (void)dev;
    free(buf->impl);
}

lt_status lt_cpu_host_upload(lt_buffer *dst, size_t offset, const void *src, size_t bytes) {
    memcpy((char *)dst->host_ptr + offset, src, bytes);
    return LT_OK;
}

lt_status lt_cpu_host_download(void *dst, const lt_buffer *src, size_t offset, size_t bytes) {
    memcpy(dst, (const char *)src->host_ptr + offset, bytes);
    return LT_OK;
}

lt_status lt_cpu_host_copy(lt_buffer *dst, size_t dst_offset, const lt_buffer *src,
                           size_t src_offset, size_t bytes) {
    memmove((char *)dst->host_ptr + dst_offset, (const char *)src->host_ptr + src_offset, bytes);
    return LT_OK;
}

/* CPU model name from /proc/cpuinfo (Linux); "cpu" elsewhere. */
void lt_cpu_host_describe(lt_device_info *info) {
    snprintf(info->name, sizeof info->name, "cpu");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *v = strchr(line, ':');
                if (v) {
                    v++;
                    while (*v == ' ') v++;
                    v[strcspn(v, "\n")] = 0;
                    snprintf(info->name, sizeof info->name, "%s", v);
                }
                break;
            }
        }
        fclose(f);
    }
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    info->memory_bytes = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : 0;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    info->compute_units = n > 0 ? (int)n : 1;
    info->supports_bf16 = 1;
    info->supports_f16 = 1;
}

static lt_status cpu_discover(lt_device *devs, int max, int *count) {
    *count = 0;
    if (max < 1) return LT_OK;
    lt_cpu_host_describe(&devs[0].info);
    devs[0].info.supports_f64 = 0;
    *count = 1;
    return LT_OK;
}

static void cpu_set_threads(lt_device *dev, int threads) {
    (void)dev;
#ifdef _OPENMP
    if (threads > 0) omp_set_num_threads(threads);
#else
    (void)threads;
#endif
}

static const lt_backend lt_cpu_backend = {
    .name = "cpu",
    .discover = cpu_discover,
    .alloc = lt_cpu_host_alloc,
    .free = lt_cpu_host_free,
    .upload = lt_cpu_host_upload,
    .download = lt_cpu_host_download,
    .copy = lt_cpu_host_copy,
    .set_threads = cpu_set_threads,
    .ops = {
#define LT_CPU_ENTRY(name) lt_cpu_##name,
        LT_CPU_OP_LIST(LT_CPU_ENTRY)
#undef LT_CPU_ENTRY
    },
};
_Static_assert(LT_OP_COUNT == 22, "LT_CPU_OP_LIST must list every op in lt_op order");

const lt_backend *lt_backend_cpu_get(void) { return &lt_cpu_backend; }
