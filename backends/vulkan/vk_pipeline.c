/* backends/vulkan/vk_pipeline.c - layouts and compute pipelines.
 *
 * All shaders share one pipeline layout (LT_VK_BINDINGS storage buffers, 128 bytes of
 * push constants), so descriptor sets and push constants are written the same way for
 * every op. A pipeline is built the first time its shader is dispatched: a program that
 * never runs attention never pays for compiling it (lavapipe compiles each pipeline to
 * machine code through LLVM, which takes noticeable time). The VkPipelineCache lets the
 * driver reuse work between pipelines; it lives in memory only. */
#include <string.h>

#include "vk_internal.h"

lt_status lt_vk_pipelines_init(lt_vk_dev *v) {
    VkDescriptorSetLayoutBinding b[LT_VK_BINDINGS];
    for (uint32_t i = 0; i < LT_VK_BINDINGS; i++)
        b[i] = (VkDescriptorSetLayoutBinding){
            .binding = i,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    VkDescriptorSetLayoutCreateInfo li = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = LT_VK_BINDINGS,
        .pBindings = b,
    };
    VkResult r = vkCreateDescriptorSetLayout(v->device, &li, NULL, &v->set_layout);
    if (r != VK_SUCCESS) return lt_vk_fail(r, "vkCreateDescriptorSetLayout");
    VkPushConstantRange pc = {
        .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        .offset = 0,
        .size = LT_VK_PUSH_WORDS * 4,
    };
    VkPipelineLayoutCreateInfo pi = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &v->set_layout,
        .pushConstantRangeCount = 1,
        .pPushConstantRanges = &pc,
    };
    r = vkCreatePipelineLayout(v->device, &pi, NULL, &v->pipe_layout);
    if (r != VK_SUCCESS) return lt_vk_fail(r, "vkCreatePipelineLayout");
    VkPipelineCacheCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    r = vkCreatePipelineCache(v->device, &ci, NULL, &v->pipe_cache);
    if (r != VK_SUCCESS) return lt_vk_fail(r, "vkCreatePipelineCache");
    return LT_OK;
}

void lt_vk_pipelines_destroy(lt_vk_dev *v) {
    for (int i = 0; i < LT_VK_SHADER_COUNT; i++)
        if (v->pipes[i]) vkDestroyPipeline(v->device, v->pipes[i], NULL);
    memset(v->pipes, 0, sizeof v->pipes);
    if (v->pipe_cache) vkDestroyPipelineCache(v->device, v->pipe_cache, NULL);
    if (v->pipe_layout) vkDestroyPipelineLayout(v->device, v->pipe_layout, NULL);
    if (v->set_layout) vkDestroyDescriptorSetLayout(v->device, v->set_layout, NULL);
    v->pipe_cache = VK_NULL_HANDLE;
    v->pipe_layout = VK_NULL_HANDLE;
    v->set_layout = VK_NULL_HANDLE;
}

lt_status lt_vk_pipeline(lt_vk_dev *v, lt_vk_shader s, VkPipeline *out) {
    if ((unsigned)s >= LT_VK_SHADER_COUNT)
        return lt_error(LT_ERR_INTERNAL, "vulkan: shader %d does not exist", (int)s);
    if (v->pipes[s]) {
        *out = v->pipes[s];
        return LT_OK;
    }
    const lt_vk_spirv *spv = &lt_vk_spirv_table[s];
    VkShaderModuleCreateInfo mi = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = spv->bytes,
        .pCode = spv->words,
    };
    VkShaderModule mod;
    VkResult r = vkCreateShaderModule(v->device, &mi, NULL, &mod);
    if (r != VK_SUCCESS) return lt_vk_fail(r, spv->name);
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
            .stage = VK_SHADER_STAGE_COMPUTE_BIT,
            .module = mod,
            .pName = "main",
        },
        .layout = v->pipe_layout,
    };
    r = vkCreateComputePipelines(v->device, v->pipe_cache, 1, &ci, NULL, &v->pipes[s]);
    vkDestroyShaderModule(v->device, mod, NULL);
    if (r != VK_SUCCESS) {
        v->pipes[s] = VK_NULL_HANDLE;
        return lt_error(LT_ERR_DEVICE, "vulkan: building the %s pipeline failed: %s", spv->name,
                        lt_vk_result_name(r));
    }
    *out = v->pipes[s];
    return LT_OK;
}
