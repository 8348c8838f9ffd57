/* backends/vulkan/vk_funcs.h - the Vulkan entry points the backend uses, loaded at run time.
 *
 * The loader (libvulkan.so.1) is opened with dlopen rather than linked, so a binary built
 * here still starts on a machine without Vulkan: discovery then reports "no loader" and
 * zero devices. Every call site keeps the ordinary vkXxx spelling through the macros at
 * the end, which route to one table (device functions go through the loader's
 * trampolines, which is fine for the few hundred calls a batch makes). */
#ifndef LT_VK_FUNCS_H
#define LT_VK_FUNCS_H

#ifndef VK_NO_PROTOTYPES
#define VK_NO_PROTOTYPES
#endif
#include <vulkan/vulkan.h>

#define LT_VK_GLOBAL_FUNCS(X) \
    X(vkCreateInstance) X(vkEnumerateInstanceExtensionProperties) \
    X(vkEnumerateInstanceLayerProperties)

#define LT_VK_INSTANCE_FUNCS(X) \
    X(vkDestroyInstance) X(vkEnumeratePhysicalDevices) X(vkGetPhysicalDeviceProperties) \
    X(vkGetPhysicalDeviceFeatures) X(vkGetPhysicalDeviceQueueFamilyProperties) \
    X(vkGetPhysicalDeviceMemoryProperties) X(vkCreateDevice) \
    X(vkEnumerateDeviceExtensionProperties) \
    X(vkDestroyDevice) X(vkGetDeviceQueue) X(vkDeviceWaitIdle) X(vkQueueSubmit) \
    X(vkCreateBuffer) X(vkDestroyBuffer) X(vkGetBufferMemoryRequirements) \
    X(vkAllocateMemory) X(vkFreeMemory) X(vkBindBufferMemory) X(vkMapMemory) \
    X(vkUnmapMemory) X(vkFlushMappedMemoryRanges) X(vkInvalidateMappedMemoryRanges) \
    X(vkCreateShaderModule) X(vkDestroyShaderModule) X(vkCreatePipelineCache) \
    X(vkDestroyPipelineCache) X(vkCreateComputePipelines) X(vkDestroyPipeline) \
    X(vkCreateDescriptorSetLayout) X(vkDestroyDescriptorSetLayout) \
    X(vkCreatePipelineLayout) X(vkDestroyPipelineLayout) X(vkCreateDescriptorPool) \
    X(vkDestroyDescriptorPool) X(vkResetDescriptorPool) X(vkAllocateDescriptorSets) \
    X(vkUpdateDescriptorSets) X(vkCreateCommandPool) X(vkDestroyCommandPool) \
    X(vkResetCommandPool) X(vkAllocateCommandBuffers) X(vkBeginCommandBuffer) \
    X(vkEndCommandBuffer) X(vkCmdBindPipeline) X(vkCmdBindDescriptorSets) \
    X(vkCmdPushConstants) X(vkCmdDispatch) X(vkCmdPipelineBarrier) X(vkCmdCopyBuffer) \
    X(vkCreateFence) X(vkDestroyFence) X(vkResetFences) X(vkWaitForFences)

/* Optional: NULL when the loader or instance does not offer them. */
#define LT_VK_OPTIONAL_FUNCS(X) \
    X(vkEnumerateInstanceVersion) X(vkGetPhysicalDeviceProperties2) \
    X(vkGetPhysicalDeviceFeatures2) X(vkCreateDebugUtilsMessengerEXT) \
    X(vkDestroyDebugUtilsMessengerEXT)

typedef struct lt_vk_funcs {
    PFN_vkGetInstanceProcAddr fn_vkGetInstanceProcAddr;
#define LT_VK_MEMBER(name) PFN_##name fn_##name;
    LT_VK_GLOBAL_FUNCS(LT_VK_MEMBER)
    LT_VK_INSTANCE_FUNCS(LT_VK_MEMBER)
    LT_VK_OPTIONAL_FUNCS(LT_VK_MEMBER)
#undef LT_VK_MEMBER
} lt_vk_funcs;

extern lt_vk_funcs lt_vk_fn;

/* `vkCreateBuffer(...)` becomes `lt_vk_fn.fn_vkCreateBuffer(...)`. The members carry a
 * prefix so that code pasting names (fn_##name) never meets these macros. */
#define vkGetInstanceProcAddr lt_vk_fn.fn_vkGetInstanceProcAddr
#define vkCreateInstance lt_vk_fn.fn_vkCreateInstance
#define vkEnumerateInstanceExtensionProperties lt_vk_fn.fn_vkEnumerateInstanceExtensionProperties
#define vkEnumerateInstanceLayerProperties lt_vk_fn.fn_vkEnumerateInstanceLayerProperties
#define vkEnumerateInstanceVersion lt_vk_fn.fn_vkEnumerateInstanceVersion
#define vkDestroyInstance lt_vk_fn.fn_vkDestroyInstance
#define vkEnumeratePhysicalDevices lt_vk_fn.fn_vkEnumeratePhysicalDevices
#define vkGetPhysicalDeviceProperties lt_vk_fn.fn_vkGetPhysicalDeviceProperties
#define vkGetPhysicalDeviceProperties2 lt_vk_fn.fn_vkGetPhysicalDeviceProperties2
#define vkGetPhysicalDeviceFeatures lt_vk_fn.fn_vkGetPhysicalDeviceFeatures
#define vkGetPhysicalDeviceFeatures2 lt_vk_fn.fn_vkGetPhysicalDeviceFeatures2
#define vkGetPhysicalDeviceQueueFamilyProperties lt_vk_fn.fn_vkGetPhysicalDeviceQueueFamilyProperties
#define vkGetPhysicalDeviceMemoryProperties lt_vk_fn.fn_vkGetPhysicalDeviceMemoryProperties
#define vkCreateDevice lt_vk_fn.fn_vkCreateDevice
#define vkEnumerateDeviceExtensionProperties lt_vk_fn.fn_vkEnumerateDeviceExtensionProperties
#define vkCreateDebugUtilsMessengerEXT lt_vk_fn.fn_vkCreateDebugUtilsMessengerEXT
#define vkDestroyDebugUtilsMessengerEXT lt_vk_fn.fn_vkDestroyDebugUtilsMessengerEXT
#define vkDestroyDevice lt_vk_fn.fn_vkDestroyDevice
#define vkGetDeviceQueue lt_vk_fn.fn_vkGetDeviceQueue
#define vkDeviceWaitIdle lt_vk_fn.fn_vkDeviceWaitIdle
#define vkQueueSubmit lt_vk_fn.fn_vkQueueSubmit
#define vkCreateBuffer lt_vk_fn.fn_vkCreateBuffer
#define vkDestroyBuffer lt_vk_fn.fn_vkDestroyBuffer
#define vkGetBufferMemoryRequirements lt_vk_fn.fn_vkGetBufferMemoryRequirements
#define vkAllocateMemory lt_vk_fn.fn_vkAllocateMemory
#define vkFreeMemory lt_vk_fn.fn_vkFreeMemory
#define vkBindBufferMemory lt_vk_fn.fn_vkBindBufferMemory
#define vkMapMemory lt_vk_fn.fn_vkMapMemory
#define vkUnmapMemory lt_vk_fn.fn_vkUnmapMemory
#define vkFlushMappedMemoryRanges lt_vk_fn.fn_vkFlushMappedMemoryRanges
#define vkInvalidateMappedMemoryRanges lt_vk_fn.fn_vkInvalidateMappedMemoryRanges
#define vkCreateShaderModule lt_vk_fn.fn_vkCreateShaderModule
#define vkDestroyShaderModule lt_vk_fn.fn_vkDestroyShaderModule
#define vkCreatePipelineCache lt_vk_fn.fn_vkCreatePipelineCache
#define vkDestroyPipelineCache lt_vk_fn.fn_vkDestroyPipelineCache
#define vkCreateComputePipelines lt_vk_fn.fn_vkCreateComputePipelines
#define vkDestroyPipeline lt_vk_fn.fn_vkDestroyPipeline
#define vkCreateDescriptorSetLayout lt_vk_fn.fn_vkCreateDescriptorSetLayout
#define vkDestroyDescriptorSetLayout lt_vk_fn.fn_vkDestroyDescriptorSetLayout
#define vkCreatePipelineLayout lt_vk_fn.fn_vkCreatePipelineLayout
#define vkDestroyPipelineLayout lt_vk_fn.fn_vkDestroyPipelineLayout
#define vkCreateDescriptorPool lt_vk_fn.fn_vkCreateDescriptorPool
#define vkDestroyDescriptorPool lt_vk_fn.fn_vkDestroyDescriptorPool
#define vkResetDescriptorPool lt_vk_fn.fn_vkResetDescriptorPool
#define vkAllocateDescriptorSets lt_vk_fn.fn_vkAllocateDescriptorSets
#define vkUpdateDescriptorSets lt_vk_fn.fn_vkUpdateDescriptorSets
#define vkCreateCommandPool lt_vk_fn.fn_vkCreateCommandPool
#define vkDestroyCommandPool lt_vk_fn.fn_vkDestroyCommandPool
#define vkResetCommandPool lt_vk_fn.fn_vkResetCommandPool
#define vkAllocateCommandBuffers lt_vk_fn.fn_vkAllocateCommandBuffers
#define vkBeginCommandBuffer lt_vk_fn.fn_vkBeginCommandBuffer
#define vkEndCommandBuffer lt_vk_fn.fn_vkEndCommandBuffer
#define vkCmdBindPipeline lt_vk_fn.fn_vkCmdBindPipeline
#define vkCmdBindDescriptorSets lt_vk_fn.fn_vkCmdBindDescriptorSets
#define vkCmdPushConstants lt_vk_fn.fn_vkCmdPushConstants
#define vkCmdDispatch lt_vk_fn.fn_vkCmdDispatch
#define vkCmdPipelineBarrier lt_vk_fn.fn_vkCmdPipelineBarrier
#define vkCmdCopyBuffer lt_vk_fn.fn_vkCmdCopyBuffer
#define vkCreateFence lt_vk_fn.fn_vkCreateFence
#define vkDestroyFence lt_vk_fn.fn_vkDestroyFence
#define vkResetFences lt_vk_fn.fn_vkResetFences
#define vkWaitForFences lt_vk_fn.fn_vkWaitForFences

#endif
