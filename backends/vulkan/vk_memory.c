/* backends/vulkan/vk_memory.c - the sub-allocator.
 *
 * Drivers cap the number of VkDeviceMemory objects (often 4096) and allocate them
 * slowly, so tensors are carved out of big blocks: one VkDeviceMemory plus one VkBuffer
 * covering it, and a tensor's buffer is (block, offset, size). Requests above half a
 * block get a dedicated block. Ranges are kept sorted per block and placed first-fit;
 * training allocates the same sizes again and again, so fragmentation stays low.
 *
 * A range freed while a submitted or recording batch still uses it is not reused until
 * that batch has finished ("deferred"), since the GPU may still read or write it. */
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

static VkDeviceSize lt_vk_align_up(VkDeviceSize x, VkDeviceSize a) { return (x + a - 1) / a * a; }

void lt_vk_heap_init(lt_vk_heap *h, const char *what, uint32_t type_index, int host_visible,
                     int coherent, VkDeviceSize block_size) {
    memset(h, 0, sizeof *h);
    h->what = what;
    h->type_index = type_index;
    h->host_visible = host_visible;
    h->coherent = coherent;
    h->block_size = block_size;
}

static void lt_vk_block_destroy(lt_vk_dev *v, lt_vk_block *b) {
    if (b->map) vkUnmapMemory(v->device, b->memory);
    if (b->buffer) vkDestroyBuffer(v->device, b->buffer, NULL);
    if (b->memory) vkFreeMemory(v->device, b->memory, NULL);
    free(b->used);
    free(b);
}

void lt_vk_heap_destroy(lt_vk_dev *v, lt_vk_heap *h) {
    while (h->blocks) {
        lt_vk_block *b = h->blocks;
        h->blocks = b->next;
        lt_vk_block_destroy(v, b);
    }
}

static lt_status lt_vk_block_create(lt_vk_dev *v, lt_vk_heap *h, VkDeviceSize size, int dedicated,
                                    lt_vk_block **out) {
    lt_vk_block *b = calloc(1, sizeof *b);
    if (!b) return lt_error(LT_ERR_OUT_OF_MEMORY, "vulkan: host out of memory");
    b->size = size;
    b->dedicated = dedicated;
    VkBufferCreateInfo bi = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                 VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VkResult r = vkCreateBuffer(v->device, &bi, NULL, &b->buffer);
    if (r != VK_SUCCESS) {
        free(b);
        return lt_vk_fail(r, "creating a buffer for a memory block");
    }
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(v->device, b->buffer, &req);
    if (!(req.memoryTypeBits & (1u << h->type_index))) {
        lt_vk_block_destroy(v, b);
        return lt_error(LT_ERR_DEVICE, "vulkan: %s memory type %u cannot back a storage buffer",
                        h->what, h->type_index);
    }
    VkMemoryAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = h->type_index,
    };
    r = vkAllocateMemory(v->device, &ai, NULL, &b->memory);
    if (r != VK_SUCCESS) {
        b->memory = VK_NULL_HANDLE;
        lt_vk_block_destroy(v, b);
        if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
            return lt_error(LT_ERR_OUT_OF_MEMORY,
                            "vulkan: %s: allocating %llu bytes of %s memory failed (%s)",
                            v->props.deviceName, (unsigned long long)req.size, h->what,
                            lt_vk_result_name(r));
        return lt_vk_fail(r, "vkAllocateMemory");
    }
    r = vkBindBufferMemory(v->device, b->buffer, b->memory, 0);
    if (r == VK_SUCCESS && h->host_visible)
        r = vkMapMemory(v->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->map);
    if (r != VK_SUCCESS) {
        b->map = NULL;
        lt_vk_block_destroy(v, b);
        return lt_vk_fail(r, "binding / mapping a memory block");
    }
    b->next = h->blocks;
    h->blocks = b;
    *out = b;
    return LT_OK;
}

/* First-fit gap in a block, or -1. */
static int lt_vk_block_fit(const lt_vk_block *b, VkDeviceSize size, VkDeviceSize *offset, int *at) {
    VkDeviceSize pos = 0;
    for (int i = 0; i <= b->nused; i++) {
        VkDeviceSize end = i < b->nused ? b->used[i].offset : b->size;
        if (end >= pos && end - pos >= size) {
            *offset = pos;
            *at = i;
            return 1;
        }
        if (i < b->nused) pos = lt_vk_align_up(b->used[i].offset + b->used[i].size, LT_VK_ALIGN);
    }
    return 0;
}

static lt_status lt_vk_block_insert(lt_vk_block *b, int at, VkDeviceSize offset, VkDeviceSize size) {
    if (b->nused == b->capused) {
        int cap = b->capused ? 2 * b->capused : 16;
        lt_vk_range *u = realloc(b->used, (size_t)cap * sizeof *u);
        if (!u) return lt_error(LT_ERR_OUT_OF_MEMORY, "vulkan: host out of memory");
        b->used = u;
        b->capused = cap;
    }
    memmove(&b->used[at + 1], &b->used[at], (size_t)(b->nused - at) * sizeof *b->used);
    b->used[at] = (lt_vk_range){offset, size};
    b->nused++;
    return LT_OK;
}

lt_status lt_vk_mem_alloc(lt_vk_dev *v, lt_vk_heap *h, VkDeviceSize bytes, lt_vk_mem **out) {
    *out = NULL;
    VkDeviceSize size = lt_vk_align_up(bytes ? bytes : 1, LT_VK_ALIGN);
    lt_vk_mem *m = calloc(1, sizeof *m);
    if (!m) return lt_error(LT_ERR_OUT_OF_MEMORY, "vulkan: host out of memory");
    lt_vk_block *blk = NULL;
    VkDeviceSize offset = 0;
    int at = 0;
    if (size > h->block_size / 2) {
        lt_status s = lt_vk_block_create(v, h, size, 1, &blk);
        if (s != LT_OK) {
            free(m);
            return s;
        }
    } else {
        for (lt_vk_block *b = h->blocks; b && !blk; b = b->next)
            if (!b->dedicated && lt_vk_block_fit(b, size, &offset, &at)) blk = b;
        if (!blk) {
            lt_status s = lt_vk_block_create(v, h, h->block_size, 0, &blk);
            if (s != LT_OK) {
                free(m);
                return s;
            }
            offset = 0;
            at = 0;
        }
    }
    lt_status s = lt_vk_block_insert(blk, at, offset, size);
    if (s != LT_OK) {
        free(m);
        return s;
    }
    m->heap = h;
    m->block = blk;
    m->offset = offset;
    m->size = size;
    *out = m;
    return LT_OK;
}

void lt_vk_mem_free_now(lt_vk_dev *v, lt_vk_mem *m) {
    lt_vk_block *b = m->block;
    lt_vk_heap *h = m->heap;
    for (int i = 0; i < b->nused; i++)
        if (b->used[i].offset == m->offset) {
            memmove(&b->used[i], &b->used[i + 1], (size_t)(b->nused - i - 1) * sizeof *b->used);
            b->nused--;
            break;
        }
    free(m);
    /* Empty blocks go back to the driver, except the last shared one (kept to avoid
     * allocating a fresh block every training step). */
    if (b->nused > 0) return;
    int shared_blocks = 0;
    for (lt_vk_block *o = h->blocks; o; o = o->next) shared_blocks += !o->dedicated;
    if (!b->dedicated && shared_blocks <= 1) return;
    for (lt_vk_block **pp = &h->blocks; *pp; pp = &(*pp)->next)
        if (*pp == b) {
            *pp = b->next;
            break;
        }
    lt_vk_block_destroy(v, b);
}

void lt_vk_mem_release(lt_vk_dev *v, lt_vk_mem *m) {
    if (!m) return;
    if (m->last_use > v->completed && !v->lost) {
        m->next_deferred = v->deferred;
        v->deferred = m;
        return;
    }
    if (v->lost) return; /* the device may still touch it: leak rather than reuse */
    lt_vk_mem_free_now(v, m);
}

void lt_vk_sweep_deferred(lt_vk_dev *v) {
    lt_vk_mem **pp = &v->deferred;
    while (*pp) {
        lt_vk_mem *m = *pp;
        if (m->last_use <= v->completed) {
            *pp = m->next_deferred;
            lt_vk_mem_free_now(v, m);
        } else {
            pp = &m->next_deferred;
        }
    }
}

lt_status lt_vk_alloc(lt_device *dev, size_t bytes, lt_buffer *buf) {
    lt_vk_dev *v = lt_vk(dev);
    if (v->lost)
        return lt_error(LT_ERR_DEVICE, "vulkan: %s was lost after an earlier failure",
                        v->props.deviceName);
    lt_vk_mem *m;
    LT_TRY(lt_vk_mem_alloc(v, &v->local, bytes, &m));
    buf->impl = m;
    /* host_ptr stays NULL even on unified memory: the memory may be in use by queued
     * batches, so the host must go through upload/download, which order with them. */
    buf->host_ptr = NULL;
    return LT_OK;
}

void lt_vk_free(lt_device *dev, lt_buffer *buf) {
    if (!buf || !buf->impl) return;
    lt_vk_mem_release(lt_vk(dev), (lt_vk_mem *)buf->impl);
    buf->impl = NULL;
}
