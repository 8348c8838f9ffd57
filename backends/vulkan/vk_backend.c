/* backends/vulkan/vk_backend.c - the vulkan backend's table and helpers shared by its ops. */
#include "vk_internal.h"

_Static_assert(LT_OP_COUNT == 22, "a new op needs an entry in the vulkan backend");

lt_status lt_vk_need_f32(const lt_op_call *call, const lt_tensor *t, const char *arg) {
    if (t && t->dtype != LT_F32)
        return lt_error(LT_ERR_UNSUPPORTED, "%s: %s is %s; the vulkan backend computes in f32 only",
                        lt_op_name(call->op), arg, lt_dtype_name(t->dtype));
    return LT_OK;
}

lt_status lt_vk_check_u32(const char *op, const char *what, int64_t value) {
    if (value < 0 || value > (int64_t)UINT32_MAX)
        return lt_error(LT_ERR_UNSUPPORTED, "%s: %s = %lld does not fit the vulkan backend's "
                        "32-bit indices", op, what, (long long)value);
    return LT_OK;
}

static const lt_backend lt_vk_backend = {
    .name = "vulkan",
    .discover = lt_vk_discover,
    .release = lt_vk_release,
    .alloc = lt_vk_alloc,
    .free = lt_vk_free,
    .upload = lt_vk_buf_upload,
    .download = lt_vk_buf_download,
    .copy = lt_vk_buf_copy,
    .sync = lt_vk_sync,
    .ops = {
#define LT_VK_ENTRY(name) lt_vk_##name,
        LT_VK_OP_LIST(LT_VK_ENTRY)
#undef LT_VK_ENTRY
    },
};

const lt_backend *lt_backend_vulkan_get(void) { return &lt_vk_backend; }
