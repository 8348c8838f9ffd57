/* backends/vulkan/vk_batch.c - recording, batching and synchronisation.
 *
 * Ops do not submit. Each dispatch (and each buffer copy) is recorded into the command
 * buffer of the current batch; the batch is submitted when the host needs a result
 * (download, sync), or when it holds LT_VK_BATCH_COMMANDS commands. Up to LT_VK_FRAMES
 * batches exist at once, each with its own command buffer, fence, descriptor pool and
 * error records, so the host records batch n+1 while the device runs batch n.
 *
 * Barriers: every command's bound windows are compared with the ranges touched since
 * the last barrier; a read-after-write, write-after-read or write-after-write overlap
 * gets one global memory barrier first. Independent dispatches (the q/k/v projections,
 * the many small ops of an optimizer step) therefore run without barriers between them.
 * Each batch starts with a barrier (its commands may depend on earlier batches) and ends
 * with one towards the host (downloads and error records are read through mappings).
 *
 * Every fence wait has a timeout (LORETTA_VULKAN_TIMEOUT_MS, default 300 s); a timeout or
 * a lost device becomes LT_ERR_DEVICE and the device accepts no more work. */
#include <stdio.h>
#include <string.h>

#include "vk_internal.h"

#define LT_VK_CHUNK ((VkDeviceSize)16 << 20) /* staging piece for uploads/downloads */

lt_status lt_vk_frames_init(lt_vk_dev *v) {
    VkDeviceSize align = v->props.limits.minStorageBufferOffsetAlignment;
    v->err_stride = align > 16 ? align : 16;
    for (int i = 0; i < LT_VK_FRAMES; i++) {
        lt_vk_frame *f = &v->frames[i];
        VkCommandPoolCreateInfo pi = {
            .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
            .flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
            .queueFamilyIndex = v->queue_family,
        };
        VkResult r = vkCreateCommandPool(v->device, &pi, NULL, &f->cmd_pool);
        if (r != VK_SUCCESS) return lt_vk_fail(r, "vkCreateCommandPool");
        VkCommandBufferAllocateInfo ai = {
            .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
            .commandPool = f->cmd_pool,
            .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
            .commandBufferCount = 1,
        };
        r = vkAllocateCommandBuffers(v->device, &ai, &f->cmd);
        if (r != VK_SUCCESS) return lt_vk_fail(r, "vkAllocateCommandBuffers");
        VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        r = vkCreateFence(v->device, &fi, NULL, &f->fence);
        if (r != VK_SUCCESS) return lt_vk_fail(r, "vkCreateFence");
        VkDescriptorPoolSize ps = {
            .type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = LT_VK_BATCH_COMMANDS * LT_VK_BINDINGS,
        };
        VkDescriptorPoolCreateInfo di = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
            .maxSets = LT_VK_BATCH_COMMANDS,
            .poolSizeCount = 1,
            .pPoolSizes = &ps,
        };
        r = vkCreateDescriptorPool(v->device, &di, NULL, &f->desc_pool);
        if (r != VK_SUCCESS) return lt_vk_fail(r, "vkCreateDescriptorPool");
        LT_TRY(lt_vk_mem_alloc(v, &v->staging, LT_VK_ERR_RECORDS * v->err_stride, &f->errors));
    }
    return LT_OK;
}

void lt_vk_frames_destroy(lt_vk_dev *v) {
    for (int i = 0; i < LT_VK_FRAMES; i++) {
        lt_vk_frame *f = &v->frames[i];
        if (f->desc_pool) vkDestroyDescriptorPool(v->device, f->desc_pool, NULL);
        if (f->fence) vkDestroyFence(v->device, f->fence, NULL);
        if (f->cmd_pool) vkDestroyCommandPool(v->device, f->cmd_pool, NULL);
        if (f->errors) lt_vk_mem_free_now(v, f->errors);
        memset(f, 0, sizeof *f);
    }
    v->recording = -1;
}

/* ---- barriers and hazards ---- */

static void lt_vk_barrier(lt_vk_frame *f, VkPipelineStageFlags dst_stage, VkAccessFlags dst_access) {
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = dst_access,
    };
    vkCmdPipelineBarrier(f->cmd,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         dst_stage, 0, 1, &mb, 0, NULL, 0, NULL);
    f->nhazards = 0;
}

static void lt_vk_device_barrier(lt_vk_frame *f) {
    lt_vk_barrier(f, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                  VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                      VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
}

typedef struct lt_vk_access {
    VkBuffer buffer;
    VkDeviceSize begin, end;
    int write;
} lt_vk_access;

/* Inserts a barrier if any access conflicts with what ran since the last one, then
 * remembers the accesses. */
static void lt_vk_order(lt_vk_frame *f, const lt_vk_access *a, int n) {
    int conflict = 0;
    for (int i = 0; i < n && !conflict; i++)
        for (int j = 0; j < f->nhazards && !conflict; j++) {
            const lt_vk_hazard *h = &f->hazards[j];
            conflict = h->buffer == a[i].buffer && a[i].begin < h->end && h->begin < a[i].end &&
                       (a[i].write || h->write);
        }
    if (conflict || f->nhazards + n > LT_VK_MAX_HAZARDS) lt_vk_device_barrier(f);
    for (int i = 0; i < n; i++)
        f->hazards[f->nhazards++] = (lt_vk_hazard){a[i].buffer, a[i].begin, a[i].end, a[i].write};
}

/* ---- frames ---- */

static lt_status lt_vk_lost(lt_vk_dev *v) {
    return lt_error(LT_ERR_DEVICE, "vulkan: %s is unusable after an earlier device failure",
                    v->props.deviceName);
}

static void lt_vk_collect_errors(lt_vk_dev *v, lt_vk_frame *f) {
    const char *base = (const char *)lt_vk_mem_map(f->errors);
    for (int i = 0; i < f->nerrors && v->pending == LT_OK; i++) {
        const uint32_t *rec = (const uint32_t *)(base + (size_t)i * v->err_stride);
        if (rec[0] == 0) continue;
        const lt_vk_err_info *e = &f->err_info[i];
        v->pending = LT_ERR_RANGE;
        int len = snprintf(v->pending_msg, sizeof v->pending_msg, "%s %d at %s %u %s", e->what,
                           (int32_t)rec[2], e->where, rec[1], e->why);
        if (rec[0] > 1 && len > 0 && (size_t)len < sizeof v->pending_msg)
            snprintf(v->pending_msg + len, sizeof v->pending_msg - (size_t)len,
                     " (%u failing entries)", rec[0]);
    }
}

/* Waits for a submitted batch and retires it. Batches finish in submission order, so
 * this is only ever called for the oldest unfinished one. */
static lt_status lt_vk_retire(lt_vk_dev *v, lt_vk_frame *f) {
    VkResult r = vkWaitForFences(v->device, 1, &f->fence, VK_TRUE, v->timeout_ns);
    if (r == VK_TIMEOUT) {
        v->lost = 1;
        return lt_error(LT_ERR_DEVICE,
                        "vulkan: %s: a batch of %d commands did not finish within %llu ms; the "
                        "device is treated as hung (LORETTA_VULKAN_TIMEOUT_MS sets the limit)",
                        v->props.deviceName, f->ncommands,
                        (unsigned long long)(v->timeout_ns / 1000000u));
    }
    if (r != VK_SUCCESS) {
        v->lost = 1;
        return lt_vk_fail(r, "waiting for a batch");
    }
    r = vkResetFences(v->device, 1, &f->fence);
    if (r != VK_SUCCESS) {
        v->lost = 1;
        return lt_vk_fail(r, "vkResetFences");
    }
    lt_vk_collect_errors(v, f);
    f->state = LT_VK_FRAME_IDLE;
    v->completed = f->serial;
    lt_vk_sweep_deferred(v);
    return LT_OK;
}

static lt_status lt_vk_submit(lt_vk_dev *v) {
    if (v->recording < 0) return LT_OK;
    lt_vk_frame *f = &v->frames[v->recording];
    lt_vk_barrier(f, VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
    VkResult r = vkEndCommandBuffer(f->cmd);
    if (r == VK_SUCCESS) {
        VkSubmitInfo si = {
            .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
            .commandBufferCount = 1,
            .pCommandBuffers = &f->cmd,
        };
        r = vkQueueSubmit(v->queue, 1, &si, f->fence);
    }
    v->recording = -1;
    if (r != VK_SUCCESS) {
        v->lost = 1;
        f->state = LT_VK_FRAME_IDLE;
        return lt_vk_fail(r, "submitting a batch");
    }
    f->state = LT_VK_FRAME_SUBMITTED;
    return LT_OK;
}

/* Retires every batch up to `serial` (which must have been submitted). */
static lt_status lt_vk_retire_through(lt_vk_dev *v, uint64_t serial) {
    while (v->completed < serial) {
        uint64_t s = v->completed + 1;
        lt_vk_frame *f = &v->frames[s % LT_VK_FRAMES];
        if (f->serial != s || f->state != LT_VK_FRAME_SUBMITTED)
            return lt_error(LT_ERR_INTERNAL, "vulkan: batch %llu is not in flight",
                            (unsigned long long)s);
        LT_TRY(lt_vk_retire(v, f));
    }
    return LT_OK;
}

/* The frame being recorded, starting a batch (and retiring the oldest) when needed;
 * a full batch is submitted first. */
static lt_status lt_vk_recording_frame(lt_vk_dev *v, lt_vk_frame **out) {
    if (v->lost) return lt_vk_lost(v);
    if (v->recording >= 0) {
        lt_vk_frame *f = &v->frames[v->recording];
        if (f->ncommands < LT_VK_BATCH_COMMANDS && f->nerrors < LT_VK_ERR_RECORDS) {
            *out = f;
            return LT_OK;
        }
        LT_TRY(lt_vk_submit(v));
    }
    uint64_t serial = v->next_serial;
    int idx = (int)(serial % LT_VK_FRAMES);
    lt_vk_frame *f = &v->frames[idx];
    if (f->state == LT_VK_FRAME_SUBMITTED) LT_TRY(lt_vk_retire_through(v, f->serial));
    VkResult r = vkResetCommandPool(v->device, f->cmd_pool, 0);
    if (r == VK_SUCCESS) r = vkResetDescriptorPool(v->device, f->desc_pool, 0);
    VkCommandBufferBeginInfo bi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    if (r == VK_SUCCESS) r = vkBeginCommandBuffer(f->cmd, &bi);
    if (r != VK_SUCCESS) {
        v->lost = 1;
        return lt_vk_fail(r, "starting a batch");
    }
    char *err = (char *)lt_vk_mem_map(f->errors);
    for (int i = 0; i < LT_VK_ERR_RECORDS; i++) {
        uint32_t init[4] = {0, 0xffffffffu, 0, 0};
        memcpy(err + (size_t)i * v->err_stride, init, sizeof init);
    }
    f->nerrors = 0;
    f->ncommands = 0;
    f->nhazards = 0;
    f->serial = serial;
    f->state = LT_VK_FRAME_RECORDING;
    v->next_serial++;
    v->recording = idx;
    /* Commands of this batch may read what earlier batches wrote. */
    lt_vk_device_barrier(f);
    *out = f;
    return LT_OK;
}

static lt_status lt_vk_report(lt_vk_dev *v) {
    const char *first = NULL;
    int n = lt_vk_validation_errors(&first);
    if (n > v->validation_reported) {
        v->validation_reported = n;
        return lt_error(LT_ERR_INTERNAL, "vulkan validation layer reported %d error(s); first: %.400s",
                        n, first);
    }
    if (v->pending != LT_OK) {
        lt_status s = v->pending;
        v->pending = LT_OK;
        return lt_error(s, "%s", v->pending_msg);
    }
    return LT_OK;
}

lt_status lt_vk_wait(lt_vk_dev *v, uint64_t serial) {
    if (v->lost) return lt_vk_lost(v);
    if (v->recording >= 0 && v->frames[v->recording].serial <= serial) LT_TRY(lt_vk_submit(v));
    if (serial >= v->next_serial) serial = v->next_serial - 1;
    LT_TRY(lt_vk_retire_through(v, serial));
    return lt_vk_report(v);
}

lt_status lt_vk_sync(lt_device *dev) {
    lt_vk_dev *v = lt_vk(dev);
    return lt_vk_wait(v, v->next_serial - 1);
}

/* ---- dispatch ---- */

void lt_vk_pass_begin(lt_vk_pass *p, lt_device *dev, lt_vk_shader shader) {
    memset(p, 0, sizeof *p);
    p->dev = dev;
    p->shader = shader;
    p->groups[0] = p->groups[1] = p->groups[2] = 1;
}

static int lt_vk_next_slot(lt_vk_pass *p) {
    if (p->nargs >= LT_VK_MAX_ARGS) {
        if (p->status == LT_OK)
            p->status = lt_error(LT_ERR_INTERNAL, "vulkan: more than %d buffers in one dispatch",
                                 LT_VK_MAX_ARGS);
        return -1;
    }
    return p->nargs++;
}

uint32_t lt_vk_arg(lt_vk_pass *p, const lt_tensor *t, int access) {
    lt_vk_dev *v = lt_vk(p->dev);
    int slot = lt_vk_next_slot(p);
    if (slot < 0) return 0;
    if (!t || !t->buf) {
        p->args[slot].mem = v->dummy;
        p->args[slot].offset = v->dummy->offset;
        p->args[slot].range = v->dummy->size;
        p->args[slot].write = 0;
        return 0;
    }
    lt_vk_mem *m = (lt_vk_mem *)t->buf->impl;
    VkDeviceSize align = v->props.limits.minStorageBufferOffsetAlignment;
    if (align < 16) align = 16;
    VkDeviceSize abs = m->offset + t->offset;
    VkDeviceSize start = abs / align * align;
    VkDeviceSize resid = abs - start;
    VkDeviceSize range = (resid + lt_tensor_span_bytes(t) + 3) / 4 * 4;
    if (range < 4) range = 4;
    if (start + range > m->block->size) range = m->block->size - start;
    if (range > v->props.limits.maxStorageBufferRange && p->status == LT_OK)
        p->status = lt_error(LT_ERR_UNSUPPORTED,
                             "vulkan: a tensor spanning %llu bytes exceeds the %u-byte storage "
                             "buffer range of %s; split the op",
                             (unsigned long long)lt_tensor_span_bytes(t),
                             v->props.limits.maxStorageBufferRange, v->props.deviceName);
    if (lt_dtype_size(t->dtype) >= 4 && t->offset % 4 != 0 && p->status == LT_OK)
        p->status = lt_error(LT_ERR_UNSUPPORTED,
                             "vulkan: a %s tensor at byte offset %zu is not 4-byte aligned",
                             lt_dtype_name(t->dtype), t->offset);
    p->args[slot].mem = m;
    p->args[slot].offset = start;
    p->args[slot].range = range;
    p->args[slot].write = access == LT_VK_WRITE;
    return (uint32_t)resid;
}

void lt_vk_arg_mem(lt_vk_pass *p, lt_vk_mem *m, int access) {
    int slot = lt_vk_next_slot(p);
    if (slot < 0) return;
    p->args[slot].mem = m;
    p->args[slot].offset = m->offset;
    p->args[slot].range = m->size;
    p->args[slot].write = access == LT_VK_WRITE;
}

void lt_vk_pass_errors(lt_vk_pass *p, const char *what, const char *where, const char *why) {
    p->wants_errors = 1;
    snprintf(p->err.what, sizeof p->err.what, "%s", what);
    snprintf(p->err.where, sizeof p->err.where, "%s", where);
    snprintf(p->err.why, sizeof p->err.why, "%s", why);
}

void lt_vk_grid(lt_vk_pass *p, uint64_t groups) {
    uint64_t maxx = lt_vk(p->dev)->props.limits.maxComputeWorkGroupCount[0];
    if (groups <= maxx) {
        p->groups[0] = (uint32_t)groups;
        p->groups[1] = 1;
    } else {
        p->groups[0] = (uint32_t)maxx;
        p->groups[1] = (uint32_t)lt_vk_div_up(groups, maxx);
    }
    p->groups[2] = 1;
}

lt_status lt_vk_pass_run(lt_vk_pass *p) {
    if (p->status != LT_OK) return p->status;
    lt_vk_dev *v = lt_vk(p->dev);
    if (p->groups[0] == 0 || p->groups[1] == 0 || p->groups[2] == 0) return LT_OK;
    for (int i = 0; i < 3; i++)
        if (p->groups[i] > v->props.limits.maxComputeWorkGroupCount[i])
            return lt_error(LT_ERR_UNSUPPORTED,
                            "vulkan: %s needs %u work groups in dimension %d, the device allows %u",
                            lt_vk_spirv_table[p->shader].name, p->groups[i], i,
                            v->props.limits.maxComputeWorkGroupCount[i]);
    VkPipeline pipe;
    LT_TRY(lt_vk_pipeline(v, p->shader, &pipe));
    lt_vk_frame *f;
    LT_TRY(lt_vk_recording_frame(v, &f));

    VkDescriptorSet set;
    VkDescriptorSetAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorPool = f->desc_pool,
        .descriptorSetCount = 1,
        .pSetLayouts = &v->set_layout,
    };
    VkResult r = vkAllocateDescriptorSets(v->device, &ai, &set);
    if (r != VK_SUCCESS) return lt_vk_fail(r, "vkAllocateDescriptorSets");

    VkDescriptorBufferInfo infos[LT_VK_BINDINGS];
    VkWriteDescriptorSet writes[LT_VK_BINDINGS];
    lt_vk_access acc[LT_VK_MAX_ARGS];
    for (int i = 0; i < LT_VK_BINDINGS; i++) {
        if (i < p->nargs) {
            infos[i] = (VkDescriptorBufferInfo){p->args[i].mem->block->buffer, p->args[i].offset,
                                                p->args[i].range};
            acc[i] = (lt_vk_access){p->args[i].mem->block->buffer, p->args[i].offset,
                                    p->args[i].offset + p->args[i].range, p->args[i].write};
        } else if (i == LT_VK_ERR_BINDING && p->wants_errors) {
            /* Each dispatch gets its own record window: no two dispatches write the same
             * bytes, so records need no barriers between them. */
            infos[i] = (VkDescriptorBufferInfo){f->errors->block->buffer,
                                                f->errors->offset + (VkDeviceSize)f->nerrors * v->err_stride,
                                                16};
        } else {
            infos[i] = (VkDescriptorBufferInfo){v->dummy->block->buffer, v->dummy->offset,
                                                v->dummy->size};
        }
        writes[i] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstSet = set,
            .dstBinding = (uint32_t)i,
            .descriptorCount = 1,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .pBufferInfo = &infos[i],
        };
    }
    vkUpdateDescriptorSets(v->device, LT_VK_BINDINGS, writes, 0, NULL);
    if (p->wants_errors) f->err_info[f->nerrors++] = p->err;

    lt_vk_order(f, acc, p->nargs);
    vkCmdBindPipeline(f->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipe);
    vkCmdBindDescriptorSets(f->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, v->pipe_layout, 0, 1, &set, 0,
                            NULL);
    vkCmdPushConstants(f->cmd, v->pipe_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                       LT_VK_PUSH_WORDS * 4, p->push);
    vkCmdDispatch(f->cmd, p->groups[0], p->groups[1], p->groups[2]);
    for (int i = 0; i < p->nargs; i++) p->args[i].mem->last_use = f->serial;
    f->ncommands++;
    return LT_OK;
}

lt_status lt_vk_scratch(lt_device *dev, VkDeviceSize bytes, lt_vk_mem **out) {
    lt_vk_dev *v = lt_vk(dev);
    LT_TRY(lt_vk_mem_alloc(v, &v->local, bytes, out));
    (*out)->last_use = v->next_serial; /* not reusable before the batch that will use it */
    return LT_OK;
}

/* ---- transfers ---- */

static lt_status lt_vk_record_copy(lt_vk_dev *v, lt_vk_mem *src, VkDeviceSize src_off,
                                   lt_vk_mem *dst, VkDeviceSize dst_off, VkDeviceSize bytes) {
    lt_vk_frame *f;
    LT_TRY(lt_vk_recording_frame(v, &f));
    VkDeviceSize s0 = src->offset + src_off, d0 = dst->offset + dst_off;
    lt_vk_access acc[2] = {
        {src->block->buffer, s0, s0 + bytes, 0},
        {dst->block->buffer, d0, d0 + bytes, 1},
    };
    lt_vk_order(f, acc, 2);
    VkBufferCopy region = {s0, d0, bytes};
    vkCmdCopyBuffer(f->cmd, src->block->buffer, dst->block->buffer, 1, &region);
    src->last_use = dst->last_use = f->serial;
    f->ncommands++;
    return LT_OK;
}

static void lt_vk_flush_mapped(lt_vk_dev *v, const lt_vk_mem *m) {
    if (m->heap->coherent) return;
    VkMappedMemoryRange mr = {
        .sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE,
        .memory = m->block->memory,
        .offset = 0,
        .size = VK_WHOLE_SIZE,
    };
    vkFlushMappedMemoryRanges(v->device, 1, &mr);
}

static void lt_vk_invalidate_mapped(lt_vk_dev *v, const lt_vk_mem *m) {
    if (m->heap->coherent) return;
    VkMappedMemoryRange mr = {
        .sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE,
        .memory = m->block->memory,
        .offset = 0,
        .size = VK_WHOLE_SIZE,
    };
    vkInvalidateMappedMemoryRanges(v->device, 1, &mr);
}

lt_status lt_vk_buf_upload(lt_buffer *dst, size_t offset, const void *src, size_t bytes) {
    lt_vk_dev *v = lt_vk(dst->dev);
    lt_vk_mem *m = (lt_vk_mem *)dst->impl;
    if (v->lost) return lt_vk_lost(v);
    /* Idle mapped memory is written directly; memory that queued work still uses (or
     * that the host cannot map) is written through staging by a recorded copy, which
     * keeps the upload in order with the ops around it without waiting. */
    if (m->block->map && m->last_use <= v->completed) {
        memcpy((char *)lt_vk_mem_map(m) + offset, src, bytes);
        lt_vk_flush_mapped(v, m);
        return LT_OK;
    }
    for (size_t done = 0; done < bytes;) {
        size_t n = bytes - done < LT_VK_CHUNK ? bytes - done : (size_t)LT_VK_CHUNK;
        lt_vk_mem *st;
        LT_TRY(lt_vk_mem_alloc(v, &v->staging, n, &st));
        memcpy(lt_vk_mem_map(st), (const char *)src + done, n);
        lt_status s = lt_vk_record_copy(v, st, 0, m, offset + done, n);
        if (s != LT_OK) st->last_use = 0;
        lt_vk_mem_release(v, st);
        LT_TRY(s);
        done += n;
    }
    return LT_OK;
}

lt_status lt_vk_buf_download(void *dst, const lt_buffer *src, size_t offset, size_t bytes) {
    lt_vk_dev *v = lt_vk(src->dev);
    lt_vk_mem *m = (lt_vk_mem *)src->impl;
    if (v->lost) return lt_vk_lost(v);
    if (m->block->map) {
        LT_TRY(lt_vk_wait(v, m->last_use));
        lt_vk_invalidate_mapped(v, m);
        memcpy(dst, (const char *)lt_vk_mem_map(m) + offset, bytes);
        return LT_OK;
    }
    for (size_t done = 0; done < bytes;) {
        size_t n = bytes - done < LT_VK_CHUNK ? bytes - done : (size_t)LT_VK_CHUNK;
        lt_vk_mem *st;
        LT_TRY(lt_vk_mem_alloc(v, &v->staging, n, &st));
        lt_status s = lt_vk_record_copy(v, m, offset + done, st, 0, n);
        if (s == LT_OK) s = lt_vk_wait(v, st->last_use);
        if (s == LT_OK) memcpy((char *)dst + done, lt_vk_mem_map(st), n);
        lt_vk_mem_release(v, st);
        LT_TRY(s);
        done += n;
    }
    return LT_OK;
}

lt_status lt_vk_buf_copy(lt_buffer *dst, size_t dst_offset, const lt_buffer *src, size_t src_offset,
                     size_t bytes) {
    lt_vk_dev *v = lt_vk(dst->dev);
    lt_vk_mem *d = (lt_vk_mem *)dst->impl, *s = (lt_vk_mem *)src->impl;
    VkDeviceSize d0 = d->offset + dst_offset, s0 = s->offset + src_offset;
    int overlap = d->block == s->block && d0 < s0 + bytes && s0 < d0 + bytes;
    if (!overlap) return lt_vk_record_copy(v, s, src_offset, d, dst_offset, bytes);
    /* vkCmdCopyBuffer forbids overlapping regions: bounce through scratch (memmove). */
    lt_vk_mem *tmp;
    LT_TRY(lt_vk_mem_alloc(v, &v->local, bytes, &tmp));
    lt_status st = lt_vk_record_copy(v, s, src_offset, tmp, 0, bytes);
    if (st == LT_OK) st = lt_vk_record_copy(v, tmp, 0, d, dst_offset, bytes);
    lt_vk_mem_release(v, tmp);
    return st;
}
