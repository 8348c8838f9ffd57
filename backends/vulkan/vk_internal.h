/* backends/vulkan/vk_internal.h - state shared by the files of the vulkan backend.
 *
 * Layers, bottom up:
 *   vk_instance.c  instance (+ validation layer), physical devices, logical device
 *   vk_memory.c    sub-allocator: big VkDeviceMemory blocks, each with one VkBuffer,
 *                  carved into lt_vk_mem ranges; deferred release of ranges still in use
 *   vk_pipeline.c  one descriptor-set layout and pipeline layout for every shader, a
 *                  compute pipeline per shader created on first use through a VkPipelineCache
 *   vk_batch.c     command-buffer batches ("frames"), hazard barriers, dispatch, error
 *                  records, upload / download / copy / sync
 *   <family>.c     one op family per file, each filling an lt_vk_pass and running it
 */
#ifndef LT_VK_INTERNAL_H
#define LT_VK_INTERNAL_H

#include <stdint.h>

#include "vk_funcs.h"

#include "loretta/backend.h"
#include "vk_shader_ids.h"

/* Every pipeline uses one layout: LT_VK_BINDINGS storage buffers in set 0 (tensor
 * slots 0..LT_VK_ERR_BINDING-1, then the batch's error records) and 128 bytes of push
 * constants, the minimum every device guarantees. */
#define LT_VK_BINDINGS 12
#define LT_VK_ERR_BINDING (LT_VK_BINDINGS - 1)
#define LT_VK_MAX_ARGS LT_VK_ERR_BINDING
#define LT_VK_PUSH_WORDS 32

#define LT_VK_FRAMES 3            /* batches in flight + the one being recorded */
#define LT_VK_BATCH_COMMANDS 256  /* dispatches/copies per batch before it is submitted */
#define LT_VK_ERR_RECORDS 64      /* data-error records per batch */
#define LT_VK_MAX_HAZARDS 64      /* ranges tracked since the last barrier */
#define LT_VK_ALIGN 256           /* sub-allocation alignment (>= any storage offset alignment) */

/* ---- memory ---- */

typedef struct lt_vk_range {
    VkDeviceSize offset, size;
} lt_vk_range;

typedef struct lt_vk_block {
    struct lt_vk_block *next;
    VkDeviceMemory memory;
    VkBuffer buffer;       /* spans the whole block: ranges bind it at their offset */
    VkDeviceSize size;
    void *map;             /* persistent mapping, NULL if not host-visible */
    lt_vk_range *used;     /* allocated ranges sorted by offset */
    int nused, capused;
    int dedicated;         /* holds one large allocation; freed with it */
} lt_vk_block;

typedef struct lt_vk_heap {
    const char *what;      /* "device-local" / "staging" for messages */
    uint32_t type_index;
    int host_visible;      /* mapped, host_ptr usable by the backend */
    int coherent;
    VkDeviceSize block_size;
    lt_vk_block *blocks;
} lt_vk_heap;

/* One allocation: an lt_buffer's impl, or an internal transient / staging range. */
typedef struct lt_vk_mem {
    lt_vk_heap *heap;
    lt_vk_block *block;
    VkDeviceSize offset, size;
    uint64_t last_use;     /* serial of the last batch that recorded a command on it */
    struct lt_vk_mem *next_deferred;
} lt_vk_mem;

/* ---- batches ---- */

typedef struct lt_vk_err_info {
    char what[96];   /* "embed_fwd: token" */
    char where[24];  /* "position" */
    char why[96];    /* "is outside [0, 100)" */
} lt_vk_err_info;

typedef struct lt_vk_hazard {
    VkBuffer buffer;
    VkDeviceSize begin, end;
    int write;
} lt_vk_hazard;

enum { LT_VK_FRAME_IDLE = 0, LT_VK_FRAME_RECORDING, LT_VK_FRAME_SUBMITTED };

typedef struct lt_vk_frame {
    VkCommandPool cmd_pool;
    VkCommandBuffer cmd;
    VkFence fence;
    VkDescriptorPool desc_pool;
    int state;
    uint64_t serial;
    int ncommands;
    lt_vk_mem *errors;         /* host-visible: LT_VK_ERR_RECORDS x 4 uint32 */
    lt_vk_err_info err_info[LT_VK_ERR_RECORDS];
    int nerrors;
    lt_vk_hazard hazards[LT_VK_MAX_HAZARDS];
    int nhazards;
} lt_vk_frame;

/* ---- device ---- */

typedef struct lt_vk_dev {
    VkPhysicalDevice phys;
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties mem_props;
    /* optional features found at discovery (the shaders use none of them; see docs) */
    uint32_t subgroup_size, subgroup_ops;
    int storage16, float16, int64;

    lt_vk_heap local;   /* tensors; host-visible on unified-memory devices (lavapipe) */
    lt_vk_heap staging; /* host-visible, coherent: upload/download staging, error records */

    VkDescriptorSetLayout set_layout;
    VkPipelineLayout pipe_layout;
    VkPipelineCache pipe_cache;
    VkPipeline pipes[LT_VK_SHADER_COUNT];
    lt_vk_mem *dummy;   /* bound to the slots a shader does not use */

    lt_vk_frame frames[LT_VK_FRAMES];
    int recording;          /* index of the frame being recorded, -1 if none */
    uint64_t next_serial;   /* serial the next batch will get (starts at 1) */
    uint64_t completed;     /* every batch with serial <= completed has finished */
    lt_vk_mem *deferred;    /* released ranges waiting for their last batch */

    uint64_t timeout_ns;    /* fence waits: a hung device becomes LT_ERR_DEVICE */
    int lost;               /* after a timeout or device loss nothing more is submitted */
    lt_status pending;      /* first data error found in a finished batch */
    char pending_msg[256];
    int validation_reported; /* validation errors already turned into a status */
    VkDeviceSize err_stride; /* bytes between error records (storage offset alignment) */
} lt_vk_dev;

static inline lt_vk_dev *lt_vk(const lt_device *dev) { return (lt_vk_dev *)dev->impl; }

/* ---- vk_instance.c ---- */
lt_status lt_vk_discover(lt_device *devs, int max, int *count);
void lt_vk_release(lt_device *dev);
/* Turns a VkResult into a status with "vulkan: <what>: <result name>". */
lt_status lt_vk_fail(VkResult r, const char *what);
const char *lt_vk_result_name(VkResult r);
/* Validation: messages of severity error seen so far (0 without the layer). */
int lt_vk_validation_errors(const char **first_message);

/* ---- vk_memory.c ---- */
void lt_vk_heap_init(lt_vk_heap *h, const char *what, uint32_t type_index, int host_visible,
                     int coherent, VkDeviceSize block_size);
void lt_vk_heap_destroy(lt_vk_dev *v, lt_vk_heap *h);
lt_status lt_vk_mem_alloc(lt_vk_dev *v, lt_vk_heap *h, VkDeviceSize bytes, lt_vk_mem **out);
/* Frees now if no unfinished batch uses the range, else when that batch finishes. */
void lt_vk_mem_release(lt_vk_dev *v, lt_vk_mem *m);
void lt_vk_mem_free_now(lt_vk_dev *v, lt_vk_mem *m);
void lt_vk_sweep_deferred(lt_vk_dev *v);
static inline void *lt_vk_mem_map(const lt_vk_mem *m) {
    return m->block->map ? (char *)m->block->map + m->offset : NULL;
}
lt_status lt_vk_alloc(lt_device *dev, size_t bytes, lt_buffer *buf);
void lt_vk_free(lt_device *dev, lt_buffer *buf);

/* ---- vk_pipeline.c ---- */
lt_status lt_vk_pipelines_init(lt_vk_dev *v);
void lt_vk_pipelines_destroy(lt_vk_dev *v);
lt_status lt_vk_pipeline(lt_vk_dev *v, lt_vk_shader s, VkPipeline *out);

/* ---- vk_batch.c ---- */
lt_status lt_vk_frames_init(lt_vk_dev *v);
void lt_vk_frames_destroy(lt_vk_dev *v);
/* Waits until every batch up to `serial` has finished (submitting the one being
 * recorded if needed), then reports a pending data error, if any. */
lt_status lt_vk_wait(lt_vk_dev *v, uint64_t serial);
lt_status lt_vk_sync(lt_device *dev);
lt_status lt_vk_buf_upload(lt_buffer *dst, size_t offset, const void *src, size_t bytes);
lt_status lt_vk_buf_download(void *dst, const lt_buffer *src, size_t offset, size_t bytes);
lt_status lt_vk_buf_copy(lt_buffer *dst, size_t dst_offset, const lt_buffer *src,
                     size_t src_offset, size_t bytes);
/* Device-local scratch for one op; release it with lt_vk_mem_release right after the op's
 * dispatches are recorded (it is reused only once their batch has finished). */
lt_status lt_vk_scratch(lt_device *dev, VkDeviceSize bytes, lt_vk_mem **out);

/* One dispatch being prepared by an op. */
typedef struct lt_vk_pass {
    lt_device *dev;
    lt_vk_shader shader;
    int nargs;
    struct {
        lt_vk_mem *mem;
        VkDeviceSize offset, range; /* the bound window within the block's buffer */
        int write;
    } args[LT_VK_MAX_ARGS];
    uint32_t push[LT_VK_PUSH_WORDS];
    uint32_t groups[3];
    int wants_errors;               /* bind an error record at LT_VK_ERR_BINDING */
    lt_vk_err_info err;
    lt_status status;               /* first failure while binding */
} lt_vk_pass;

enum { LT_VK_READ = 0, LT_VK_WRITE = 1 };

void lt_vk_pass_begin(lt_vk_pass *p, lt_device *dev, lt_vk_shader shader);
/* Binds the next slot to the window holding tensor t and returns t's first element as
 * an offset within that window, in BYTES (divide by the element size in the op). A NULL
 * tensor binds the dummy buffer. */
uint32_t lt_vk_arg(lt_vk_pass *p, const lt_tensor *t, int access);
/* Binds the next slot to a whole internal range (scratch); its offset is 0. */
void lt_vk_arg_mem(lt_vk_pass *p, lt_vk_mem *m, int access);
/* Gives the dispatch its own error record (4 uint32 at LT_VK_ERR_BINDING: count, lowest
 * failing position, its value). A failure is reported at the next sync/download as
 * LT_ERR_RANGE: "<what> <value> at <where> <position> <why>". */
void lt_vk_pass_errors(lt_vk_pass *p, const char *what, const char *where, const char *why);
/* Records the dispatch (groups in p->groups). */
lt_status lt_vk_pass_run(lt_vk_pass *p);

/* Splits n work groups over x and y so neither exceeds the device limit; shaders
 * recover the flat group index as gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x. */
void lt_vk_grid(lt_vk_pass *p, uint64_t groups);
static inline uint64_t lt_vk_div_up(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
/* Element count / index limits: everything addressed by a shader is a 32-bit index. */
lt_status lt_vk_check_u32(const char *op, const char *what, int64_t value);

/* ---- ops, one family per file ---- */
#define LT_VK_OP_LIST(X) \
    X(fill) X(copy) X(cast) X(matmul) X(embed_fwd) X(embed_bwd) X(pos_embed_fwd) \
    X(rmsnorm_fwd) X(rmsnorm_bwd) X(gelu_fwd) X(gelu_bwd) X(add) X(scale) X(axpy) \
    X(cross_entropy) X(attn_fwd) X(attn_bwd) X(attn_decode) X(kv_write) X(adamw) \
    X(sumsq) X(sample)
#define LT_VK_DECLARE_OP(name) lt_status lt_vk_##name(lt_device *dev, const lt_op_call *call);
LT_VK_OP_LIST(LT_VK_DECLARE_OP)
#undef LT_VK_DECLARE_OP

/* f32 is what every op but fill/copy/cast computes in; others are refused by name. */
lt_status lt_vk_need_f32(const lt_op_call *call, const lt_tensor *t, const char *arg);

#endif
