/* core/registry.c - the device registry, buffer bookkeeping and cross-device copies.
 *
 * lt_init asks every compiled-in backend for its devices once. The core, not the
 * backends, tracks bytes in use per device so memory limits and out-of-memory
 * messages behave the same everywhere. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/backend.h"
#include "loretta_build.h"

#define LT_MAX_DEVICES 64
#define LT_MAX_BACKENDS 8

static lt_device lt_devices[LT_MAX_DEVICES];
static int lt_ndevices;
static int lt_initialised;
static struct {
    char name[16];
    char note[256];
} lt_notes[LT_MAX_BACKENDS];
static int lt_nnotes;

typedef const lt_backend *(*backend_getter)(void);

static const backend_getter lt_getters[] = {
#ifdef LT_HAVE_CPU
    lt_backend_cpu_get,
    lt_backend_ref_get,
#endif
#ifdef LT_HAVE_CUDA
    lt_backend_cuda_get,
#endif
#ifdef LT_HAVE_OPENCL
    lt_backend_opencl_get,
#endif
#ifdef LT_HAVE_VULKAN
    lt_backend_vulkan_get,
#endif
    NULL,
};

const char *lt_build_backends(void) { return LT_BUILD_BACKENDS; }
const char *lt_build_skipped(void) { return LT_BUILD_SKIPPED; }

const char *lt_backend_note(const char *backend_name) {
    for (int i = 0; i < lt_nnotes; i++)
        if (strcmp(lt_notes[i].name, backend_name) == 0) return lt_notes[i].note;
    return "";
}

lt_status lt_init(void) {
    if (lt_initialised) return LT_OK;
    lt_initialised = 1;
    for (int g = 0; lt_getters[g]; g++) {
        const lt_backend *be = lt_getters[g]();
        if (!be || !be->discover) continue;
        int count = 0;
        int room = LT_MAX_DEVICES - lt_ndevices;
        lt_clear_error();
        lt_device *slot = &lt_devices[lt_ndevices];
        memset(slot, 0, sizeof(lt_device) * (size_t)room);
        lt_status s = be->discover(slot, room, &count);
        if (lt_nnotes < LT_MAX_BACKENDS) {
            snprintf(lt_notes[lt_nnotes].name, sizeof lt_notes[0].name, "%s", be->name);
            snprintf(lt_notes[lt_nnotes].note, sizeof lt_notes[0].note, "%s",
                     s != LT_OK || count == 0 ? lt_last_error() : "");
            lt_nnotes++;
        }
        if (s != LT_OK) continue; /* a broken backend must not hide the others */
        if (count > room) count = room;
        for (int i = 0; i < count; i++) {
            lt_device *d = &slot[i];
            d->backend = be;
            d->index = i;
            d->global_index = lt_ndevices + i;
            snprintf(d->info.backend_name, sizeof d->info.backend_name, "%s", be->name);
        }
        lt_ndevices += count;
    }
    lt_clear_error();
    return LT_OK;
}

int lt_device_count(void) {
    lt_init();
    return lt_ndevices;
}

lt_device *lt_device_get(int global_index) {
    lt_init();
    if (global_index < 0 || global_index >= lt_ndevices) return NULL;
    return &lt_devices[global_index];
}

lt_status lt_device_find(const char *backend_name, int index, lt_device **out) {
    lt_init();
    if (!out) return lt_error(LT_ERR_INVALID_ARG, "device_find: out is NULL");
    int seen = 0;
    for (int i = 0; i < lt_ndevices; i++) {
        lt_device *d = &lt_devices[i];
        int match = backend_name ? strcmp(d->backend->name, backend_name) == 0
                                 : !d->info.is_reference;
        if (!match) continue;
        if (!backend_name || seen == index) {
            *out = d;
            return LT_OK;
        }
        seen++;
    }
    if (!backend_name) return lt_error(LT_ERR_DEVICE, "no device found (built with: %s)",
                                       lt_build_backends());
    if (seen > 0)
        return lt_error(LT_ERR_DEVICE, "backend '%s' has %d device(s); index %d does not exist",
                        backend_name, seen, index);
    const char *note = lt_backend_note(backend_name);
    return lt_error(LT_ERR_DEVICE, "no device of backend '%s' (built with: %s%s%s%s%s)",
                    backend_name, lt_build_backends(), *note ? "; " : "", note,
                    *lt_build_skipped() ? "; skipped at build: " : "", lt_build_skipped());
}

void lt_device_set_memory_limit(lt_device *dev, size_t bytes) {
    if (dev) dev->memory_limit = bytes;
}

void lt_device_set_threads(lt_device *dev, int threads) {
    if (!dev) return;
    dev->threads = threads;
    if (dev->backend->set_threads) dev->backend->set_threads(dev, threads);
}

lt_status lt_device_sync(lt_device *dev) {
    if (!dev) return lt_error(LT_ERR_INVALID_ARG, "device_sync: device is NULL");
    return dev->backend->sync ? dev->backend->sync(dev) : LT_OK;
}

/* ---- buffers ---- */

lt_status lt_buffer_alloc(lt_device *dev, size_t bytes, lt_buffer **out) {
    if (!dev || !out) return lt_error(LT_ERR_INVALID_ARG, "buffer_alloc: NULL argument");
    *out = NULL;
    size_t cap = dev->memory_limit ? dev->memory_limit : dev->info.memory_bytes;
    if (cap && (bytes > cap || dev->bytes_in_use > cap - bytes))
        return lt_error(LT_ERR_OUT_OF_MEMORY,
                        "%s device %d (%s): allocating %zu bytes with %zu in use exceeds its "
                        "%zu bytes",
                        dev->backend->name, dev->index, dev->info.name, bytes, dev->bytes_in_use,
                        cap);
    if (dev->info.max_alloc_bytes && bytes > dev->info.max_alloc_bytes)
        return lt_error(LT_ERR_OUT_OF_MEMORY,
                        "%s device %d (%s): one buffer of %zu bytes exceeds the device's largest "
                        "allocation of %zu bytes",
                        dev->backend->name, dev->index, dev->info.name, bytes,
                        dev->info.max_alloc_bytes);
    lt_buffer *b = calloc(1, sizeof *b);
    if (!b) return lt_error(LT_ERR_OUT_OF_MEMORY, "buffer_alloc: host out of memory");
    b->dev = dev;
    b->bytes = bytes;
    lt_status s = dev->backend->alloc(dev, bytes, b);
    if (s != LT_OK) {
        free(b);
        return s;
    }
    dev->bytes_in_use += bytes;
    *out = b;
    return LT_OK;
}

void lt_buffer_free(lt_buffer *buf) {
    if (!buf) return;
    lt_device *dev = buf->dev;
    dev->backend->free(dev, buf);
    dev->bytes_in_use -= buf->bytes;
    free(buf);
}

static lt_status check_range(const char *what, const lt_buffer *b, size_t offset, size_t bytes) {
    if (!b) return lt_error(LT_ERR_INVALID_ARG, "%s: buffer is NULL", what);
    if (offset > b->bytes || bytes > b->bytes - offset)
        return lt_error(LT_ERR_RANGE, "%s: %zu bytes at offset %zu exceed the buffer of %zu bytes",
                        what, bytes, offset, b->bytes);
    return LT_OK;
}

lt_status lt_buffer_upload(lt_buffer *dst, size_t offset, const void *src, size_t bytes) {
    LT_TRY(check_range("buffer_upload", dst, offset, bytes));
    if (!src && bytes) return lt_error(LT_ERR_INVALID_ARG, "buffer_upload: source is NULL");
    return bytes ? dst->dev->backend->upload(dst, offset, src, bytes) : LT_OK;
}

lt_status lt_buffer_download(void *dst, const lt_buffer *src, size_t offset, size_t bytes) {
    LT_TRY(check_range("buffer_download", src, offset, bytes));
    if (!dst && bytes) return lt_error(LT_ERR_INVALID_ARG, "buffer_download: destination is NULL");
    return bytes ? src->dev->backend->download(dst, src, offset, bytes) : LT_OK;
}

lt_status lt_buffer_copy(lt_buffer *dst, size_t dst_offset, const lt_buffer *src,
                         size_t src_offset, size_t bytes) {
    LT_TRY(check_range("buffer_copy (destination)", dst, dst_offset, bytes));
    LT_TRY(check_range("buffer_copy (source)", src, src_offset, bytes));
    if (!bytes) return LT_OK;
    if (dst->dev == src->dev && dst->dev->backend->copy)
        return dst->dev->backend->copy(dst, dst_offset, src, src_offset, bytes);
    if (dst->host_ptr && src->host_ptr && dst->dev->backend == src->dev->backend) {
        memmove((char *)dst->host_ptr + dst_offset, (const char *)src->host_ptr + src_offset,
                bytes);
        return LT_OK;
    }
    /* Across devices or backends: through the host, in chunks to bound memory. */
    const size_t chunk = (size_t)64 << 20;
    void *tmp = malloc(bytes < chunk ? bytes : chunk);
    if (!tmp) return lt_error(LT_ERR_OUT_OF_MEMORY, "buffer_copy: no host staging memory");
    lt_status s = LT_OK;
    for (size_t done = 0; done < bytes && s == LT_OK;) {
        size_t n = bytes - done < chunk ? bytes - done : chunk;
        s = lt_buffer_download(tmp, src, src_offset + done, n);
        if (s == LT_OK) s = lt_buffer_upload(dst, dst_offset + done, tmp, n);
        done += n;
    }
    free(tmp);
    return s;
}
