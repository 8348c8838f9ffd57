/* backends/vulkan/vk_instance.c - loader, instance, validation layer, device discovery.
 *
 * One VkInstance serves every lt_device of this backend; each physical device with a
 * compute queue becomes one lt_device with its own VkDevice and queue. Setting
 * LORETTA_VULKAN_VALIDATION=1 enables VK_LAYER_KHRONOS_validation (with synchronisation
 * validation when the layer offers it) and a debug messenger that counts every error
 * message; batches then fail with LT_ERR_INTERNAL as soon as one was seen, so a test run
 * under validation cannot pass with a validation error. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

lt_vk_funcs lt_vk_fn;

/* Under AddressSanitizer: Mesa's lavapipe loses a few bytes per pipeline it builds, and
 * LLVM keeps JIT state until exit, which LeakSanitizer reports in every program that opens
 * a Vulkan device. These suppressions name only those driver libraries, so the library's
 * own allocations stay checked. Weak: a program's own hook replaces this one. */
#if defined(__SANITIZE_ADDRESS__)
#define LT_VK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LT_VK_ASAN 1
#endif
#endif
#ifdef LT_VK_ASAN
__attribute__((weak)) const char *__lsan_default_suppressions(void);
__attribute__((weak)) const char *__lsan_default_suppressions(void) {
    return "leak:libvulkan_lvp.so\nleak:libLLVM\nleak:libVkLayer_khronos_validation.so\n";
}
#endif

static void *lt_vk_lib;
static VkInstance lt_vk_instance;
static uint32_t lt_vk_instance_api;
static VkDebugUtilsMessengerEXT lt_vk_messenger;
static int lt_vk_users;      /* devices holding the instance */
static int lt_vk_validating; /* the layer and messenger are active */
static int lt_vk_nerrors;
static char lt_vk_first_error[512];

const char *lt_vk_result_name(VkResult r) {
    switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED: return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    default: return "VkResult error";
    }
}

lt_status lt_vk_fail(VkResult r, const char *what) {
    lt_status s = LT_ERR_DEVICE;
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY ||
        r == VK_ERROR_OUT_OF_POOL_MEMORY)
        s = LT_ERR_OUT_OF_MEMORY;
    return lt_error(s, "vulkan: %s: %s (%d)", what, lt_vk_result_name(r), (int)r);
}

int lt_vk_validation_errors(const char **first_message) {
    if (first_message) *first_message = lt_vk_first_error;
    return lt_vk_nerrors;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL lt_vk_debug_cb(
    VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT types,
    const VkDebugUtilsMessengerCallbackDataEXT *data, void *user) {
    (void)types;
    (void)user;
    const char *msg = data && data->pMessage ? data->pMessage : "(no message)";
    if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
        if (lt_vk_nerrors++ == 0)
            snprintf(lt_vk_first_error, sizeof lt_vk_first_error, "%s", msg);
        fprintf(stderr, "vulkan validation error: %s\n", msg);
    } else if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
        fprintf(stderr, "vulkan validation warning: %s\n", msg);
    }
    return VK_FALSE;
}

/* ---- loader ---- */

static int lt_vk_load_loader(char *why, size_t n) {
    if (lt_vk_fn.fn_vkGetInstanceProcAddr) return 1;
    static const char *const names[] = {"libvulkan.so.1", "libvulkan.so", "libvulkan.1.dylib",
                                        "libMoltenVK.dylib"};
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !lt_vk_lib; i++)
        lt_vk_lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lt_vk_lib) {
        snprintf(why, n, "no Vulkan loader (libvulkan.so.1) could be opened");
        return 0;
    }
    void *sym = dlsym(lt_vk_lib, "vkGetInstanceProcAddr");
    if (!sym) {
        snprintf(why, n, "the Vulkan loader has no vkGetInstanceProcAddr");
        return 0;
    }
    memcpy(&lt_vk_fn.fn_vkGetInstanceProcAddr, &sym, sizeof sym);
#define LT_VK_LOAD_GLOBAL(name) \
    lt_vk_fn.fn_##name = (PFN_##name)vkGetInstanceProcAddr(NULL, #name);
    LT_VK_GLOBAL_FUNCS(LT_VK_LOAD_GLOBAL)
#undef LT_VK_LOAD_GLOBAL
    lt_vk_fn.fn_vkEnumerateInstanceVersion =
        (PFN_vkEnumerateInstanceVersion)vkGetInstanceProcAddr(NULL,
                                                                        "vkEnumerateInstanceVersion");
    if (!lt_vk_fn.fn_vkCreateInstance || !lt_vk_fn.fn_vkEnumerateInstanceExtensionProperties ||
        !lt_vk_fn.fn_vkEnumerateInstanceLayerProperties) {
        snprintf(why, n, "the Vulkan loader lacks its global entry points");
        lt_vk_fn.fn_vkGetInstanceProcAddr = NULL;
        return 0;
    }
    return 1;
}

static int lt_vk_has_layer(const char *name) {
    uint32_t n = 0;
    if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0) return 0;
    VkLayerProperties *p = calloc(n, sizeof *p);
    int found = 0;
    if (p && vkEnumerateInstanceLayerProperties(&n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++) found = strcmp(p[i].layerName, name) == 0;
    free(p);
    return found;
}

static int lt_vk_has_instance_ext(const char *layer, const char *name) {
    uint32_t n = 0;
    if (vkEnumerateInstanceExtensionProperties(layer, &n, NULL) != VK_SUCCESS || n == 0) return 0;
    VkExtensionProperties *p = calloc(n, sizeof *p);
    int found = 0;
    if (p && vkEnumerateInstanceExtensionProperties(layer, &n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++) found = strcmp(p[i].extensionName, name) == 0;
    free(p);
    return found;
}

static int lt_env_flag(const char *name) {
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

/* Creates the shared instance once; lt_vk_users counts the devices holding it. */
static lt_status lt_vk_instance_create(char *why, size_t n) {
    if (lt_vk_instance) return LT_OK;
    if (!lt_vk_load_loader(why, n)) return LT_ERR_DEVICE;

    uint32_t api = VK_API_VERSION_1_0;
    if (lt_vk_fn.fn_vkEnumerateInstanceVersion && vkEnumerateInstanceVersion(&api) != VK_SUCCESS)
        api = VK_API_VERSION_1_0;
    lt_vk_instance_api = api >= VK_API_VERSION_1_1 ? VK_API_VERSION_1_1 : VK_API_VERSION_1_0;

    const char *exts[4];
    uint32_t next = 0;
    VkInstanceCreateFlags flags = 0;
    if (lt_vk_has_instance_ext(NULL, "VK_KHR_portability_enumeration")) {
        exts[next++] = "VK_KHR_portability_enumeration";
        flags |= 0x00000001; /* VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR */
    }
    const char *layer = "VK_LAYER_KHRONOS_validation";
    int want_validation = lt_env_flag("LORETTA_VULKAN_VALIDATION");
    int validate = 0, sync_validation = 0;
    if (want_validation) {
        if (!lt_vk_has_layer(layer))
            fprintf(stderr, "loretta: LORETTA_VULKAN_VALIDATION is set but %s is not installed "
                            "(vulkan-validationlayers); running without it\n", layer);
        else if (!lt_vk_has_instance_ext(NULL, VK_EXT_DEBUG_UTILS_EXTENSION_NAME) &&
                 !lt_vk_has_instance_ext(layer, VK_EXT_DEBUG_UTILS_EXTENSION_NAME))
            fprintf(stderr, "loretta: %s lacks VK_EXT_debug_utils; running without it\n", layer);
        else {
            validate = 1;
            exts[next++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
            if (lt_vk_has_instance_ext(layer, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME)) {
                exts[next++] = VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME;
                sync_validation = 1;
            }
        }
    }

    VkDebugUtilsMessengerCreateInfoEXT dbg = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = lt_vk_debug_cb,
    };
    VkValidationFeatureEnableEXT enables[] = {
        VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
    VkValidationFeaturesEXT features = {
        .sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
        .pNext = &dbg,
        .enabledValidationFeatureCount = 1,
        .pEnabledValidationFeatures = enables,
    };
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "loretta",
        .pEngineName = "loretta",
        .apiVersion = lt_vk_instance_api,
    };
    VkInstanceCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = validate ? (sync_validation ? (const void *)&features : (const void *)&dbg) : NULL,
        .flags = flags,
        .pApplicationInfo = &app,
        .enabledLayerCount = validate ? 1u : 0u,
        .ppEnabledLayerNames = &layer,
        .enabledExtensionCount = next,
        .ppEnabledExtensionNames = exts,
    };
    VkResult r = vkCreateInstance(&ci, NULL, &lt_vk_instance);
    if (r != VK_SUCCESS) {
        lt_vk_instance = VK_NULL_HANDLE;
        snprintf(why, n, "vkCreateInstance failed: %s (no Vulkan driver installed?)",
                 lt_vk_result_name(r));
        return LT_ERR_DEVICE;
    }
#define LT_VK_LOAD_INSTANCE(name) \
    lt_vk_fn.fn_##name = (PFN_##name)vkGetInstanceProcAddr(lt_vk_instance, #name);
    LT_VK_INSTANCE_FUNCS(LT_VK_LOAD_INSTANCE)
    LT_VK_OPTIONAL_FUNCS(LT_VK_LOAD_INSTANCE)
#undef LT_VK_LOAD_INSTANCE
#define LT_VK_CHECK_LOADED(name) \
    if (!lt_vk_fn.fn_##name) missing = #name;
    const char *missing = NULL;
    LT_VK_INSTANCE_FUNCS(LT_VK_CHECK_LOADED)
#undef LT_VK_CHECK_LOADED
    if (missing) {
        snprintf(why, n, "the Vulkan instance does not provide %s", missing);
        lt_vk_fn.fn_vkDestroyInstance(lt_vk_instance, NULL);
        lt_vk_instance = VK_NULL_HANDLE;
        return LT_ERR_DEVICE;
    }
    if (validate && lt_vk_fn.fn_vkCreateDebugUtilsMessengerEXT &&
        vkCreateDebugUtilsMessengerEXT(lt_vk_instance, &dbg, NULL, &lt_vk_messenger) == VK_SUCCESS)
        lt_vk_validating = 1;
    return LT_OK;
}

static void lt_vk_instance_destroy_unused(void) {
    if (lt_vk_users > 0 || !lt_vk_instance) return;
    if (lt_vk_messenger && lt_vk_fn.fn_vkDestroyDebugUtilsMessengerEXT)
        vkDestroyDebugUtilsMessengerEXT(lt_vk_instance, lt_vk_messenger, NULL);
    lt_vk_messenger = VK_NULL_HANDLE;
    vkDestroyInstance(lt_vk_instance, NULL);
    lt_vk_instance = VK_NULL_HANDLE;
    lt_vk_validating = 0;
}

/* ---- one device ---- */

static int lt_vk_find_type(const VkPhysicalDeviceMemoryProperties *mp, uint32_t bits,
                           VkMemoryPropertyFlags need, VkMemoryPropertyFlags prefer) {
    int best = -1;
    VkDeviceSize best_heap = 0;
    int best_pref = -1;
    for (uint32_t i = 0; i < mp->memoryTypeCount; i++) {
        if (!(bits & (1u << i))) continue;
        VkMemoryPropertyFlags f = mp->memoryTypes[i].propertyFlags;
        if ((f & need) != need) continue;
        VkDeviceSize heap = mp->memoryHeaps[mp->memoryTypes[i].heapIndex].size;
        int pref = (f & prefer) == prefer;
        /* The largest heap first (a small host-visible window of VRAM must not become
         * the tensor heap), then the preferred flags. */
        if (heap > best_heap || (heap == best_heap && pref > best_pref)) {
            best = (int)i;
            best_heap = heap;
            best_pref = pref;
        }
    }
    return best;
}

static void lt_vk_probe_features(lt_vk_dev *v) {
    VkPhysicalDeviceFeatures f;
    vkGetPhysicalDeviceFeatures(v->phys, &f);
    v->int64 = f.shaderInt64 == VK_TRUE;
    if (lt_vk_instance_api < VK_API_VERSION_1_1 || v->props.apiVersion < VK_API_VERSION_1_1 ||
        !lt_vk_fn.fn_vkGetPhysicalDeviceProperties2 || !lt_vk_fn.fn_vkGetPhysicalDeviceFeatures2)
        return;
    VkPhysicalDeviceSubgroupProperties sub = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                      .pNext = &sub};
    vkGetPhysicalDeviceProperties2(v->phys, &p2);
    if (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) {
        v->subgroup_size = sub.subgroupSize;
        v->subgroup_ops = sub.supportedOperations;
    }
    VkPhysicalDevice16BitStorageFeatures s16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                                    .pNext = &s16};
    vkGetPhysicalDeviceFeatures2(v->phys, &f2);
    v->storage16 = s16.storageBuffer16BitAccess == VK_TRUE;
}

static lt_status lt_vk_choose_memory(lt_vk_dev *v) {
    vkGetPhysicalDeviceMemoryProperties(v->phys, &v->mem_props);
    VkBufferCreateInfo bi = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = 4096,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                 VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VkBuffer probe;
    VkResult r = vkCreateBuffer(v->device, &bi, NULL, &probe);
    if (r != VK_SUCCESS) return lt_vk_fail(r, "creating a probe buffer");
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(v->device, probe, &req);
    vkDestroyBuffer(v->device, probe, NULL);

    int local = lt_vk_find_type(&v->mem_props, req.memoryTypeBits,
                                VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
                                VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                    VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    if (local < 0) local = lt_vk_find_type(&v->mem_props, req.memoryTypeBits, 0, 0);
    int staging = lt_vk_find_type(&v->mem_props, req.memoryTypeBits,
                                  VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                      VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                                  VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    if (local < 0 || staging < 0)
        return lt_error(LT_ERR_DEVICE, "vulkan: %s has no usable memory type for storage buffers",
                        v->props.deviceName);
    VkMemoryPropertyFlags lf = v->mem_props.memoryTypes[local].propertyFlags;
    int mapped = (lf & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) != 0;
    /* LORETTA_VULKAN_FORCE_STAGING=1 drives a unified-memory device (lavapipe) through
     * the staging path a discrete GPU takes, so that path is tested everywhere. */
    if (lt_env_flag("LORETTA_VULKAN_FORCE_STAGING")) mapped = 0;
    VkDeviceSize heap = v->mem_props.memoryHeaps[v->mem_props.memoryTypes[local].heapIndex].size;
    VkDeviceSize block = (VkDeviceSize)64 << 20;
    while (block > ((VkDeviceSize)1 << 20) && block > heap / 16) block /= 2;
    lt_vk_heap_init(&v->local, "device-local", (uint32_t)local, mapped,
                    (lf & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) != 0, block);
    lt_vk_heap_init(&v->staging, "staging", (uint32_t)staging, 1, 1, (VkDeviceSize)16 << 20);
    return LT_OK;
}

static uint64_t lt_vk_timeout_ns(void) {
    const char *e = getenv("LORETTA_VULKAN_TIMEOUT_MS");
    long long ms = e ? atoll(e) : 0;
    if (ms <= 0) ms = 300000; /* a batch on a CPU device can take minutes, never hours */
    return (uint64_t)ms * 1000000ull;
}

static void lt_vk_dev_destroy(lt_vk_dev *v) {
    if (!v) return;
    if (v->device) {
        /* Queued batches are waited for with the usual timeout first, so a hung device
         * cannot block the process here. */
        if (!v->lost && v->frames[0].fence) lt_vk_wait(v, v->next_serial - 1);
        if (!v->lost) vkDeviceWaitIdle(v->device);
        if (!v->lost) {
            lt_vk_frames_destroy(v);
            lt_vk_pipelines_destroy(v);
            v->completed = UINT64_MAX; /* everything has finished: free deferred ranges now */
            lt_vk_sweep_deferred(v);
            if (v->dummy) lt_vk_mem_free_now(v, v->dummy);
            lt_vk_heap_destroy(v, &v->local);
            lt_vk_heap_destroy(v, &v->staging);
            vkDestroyDevice(v->device, NULL);
        }
        /* A lost or hung device is leaked rather than destroyed under running work. */
    }
    free(v);
}

static lt_status lt_vk_dev_open(VkPhysicalDevice phys, lt_device *out, char *why, size_t n) {
    lt_vk_dev *v = calloc(1, sizeof *v);
    if (!v) return lt_error(LT_ERR_OUT_OF_MEMORY, "vulkan: host out of memory");
    v->phys = phys;
    v->recording = -1;
    v->next_serial = 1;
    v->timeout_ns = lt_vk_timeout_ns();
    vkGetPhysicalDeviceProperties(phys, &v->props);

    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(phys, &nq, NULL);
    VkQueueFamilyProperties *qf = calloc(nq ? nq : 1, sizeof *qf);
    if (!qf) {
        free(v);
        return lt_error(LT_ERR_OUT_OF_MEMORY, "vulkan: host out of memory");
    }
    vkGetPhysicalDeviceQueueFamilyProperties(phys, &nq, qf);
    int fam = -1;
    for (uint32_t i = 0; i < nq; i++) {
        if (!(qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) || qf[i].queueCount == 0) continue;
        /* A compute-only family runs beside graphics work; take it when there is one. */
        if (fam < 0 || !(qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) fam = (int)i;
    }
    free(qf);
    if (fam < 0) {
        snprintf(why, n, "%.100s has no compute queue; skipped", v->props.deviceName);
        free(v);
        return LT_ERR_UNSUPPORTED;
    }
    v->queue_family = (uint32_t)fam;
    if (v->props.limits.maxPerStageDescriptorStorageBuffers < LT_VK_BINDINGS ||
        v->props.limits.maxPushConstantsSize < LT_VK_PUSH_WORDS * 4 ||
        v->props.limits.maxComputeSharedMemorySize < 16384 ||
        v->props.limits.maxComputeWorkGroupInvocations < 256) {
        snprintf(why, n, "%.100s: compute limits below what the shaders need "
                         "(%d storage buffers, 128 B push constants, 16 KiB shared, 256 invocations)",
                 v->props.deviceName, LT_VK_BINDINGS);
        free(v);
        return LT_ERR_UNSUPPORTED;
    }

    /* MoltenVK-style drivers require VK_KHR_portability_subset to be enabled if offered. */
    const char *dev_exts[1];
    uint32_t ndev_ext = 0;
    uint32_t ne = 0;
    if (vkEnumerateDeviceExtensionProperties(phys, NULL, &ne, NULL) == VK_SUCCESS && ne) {
        VkExtensionProperties *ep = calloc(ne, sizeof *ep);
        if (ep && vkEnumerateDeviceExtensionProperties(phys, NULL, &ne, ep) == VK_SUCCESS)
            for (uint32_t i = 0; i < ne; i++)
                if (strcmp(ep[i].extensionName, "VK_KHR_portability_subset") == 0)
                    dev_exts[ndev_ext++] = "VK_KHR_portability_subset";
        free(ep);
    }
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qi = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = v->queue_family,
        .queueCount = 1,
        .pQueuePriorities = &prio,
    };
    VkDeviceCreateInfo di = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &qi,
        .enabledExtensionCount = ndev_ext,
        .ppEnabledExtensionNames = dev_exts,
    };
    VkResult r = vkCreateDevice(phys, &di, NULL, &v->device);
    if (r != VK_SUCCESS) {
        snprintf(why, n, "%.100s: vkCreateDevice failed: %s", v->props.deviceName,
                 lt_vk_result_name(r));
        v->device = VK_NULL_HANDLE;
        free(v);
        return LT_ERR_DEVICE;
    }
    vkGetDeviceQueue(v->device, v->queue_family, 0, &v->queue);
    lt_vk_probe_features(v);

    lt_status s = lt_vk_choose_memory(v);
    if (s == LT_OK) s = lt_vk_pipelines_init(v);
    if (s == LT_OK) s = lt_vk_frames_init(v);
    if (s == LT_OK) s = lt_vk_mem_alloc(v, &v->local, 256, &v->dummy);
    if (s != LT_OK) {
        snprintf(why, n, "%.100s: %.140s", v->props.deviceName, lt_last_error());
        lt_vk_dev_destroy(v);
        return s;
    }

    lt_device_info *info = &out->info;
    snprintf(info->name, sizeof info->name, "%.100s%s", v->props.deviceName,
             lt_vk_validating ? " [validation]" : "");
    uint32_t heap = v->mem_props.memoryTypes[v->local.type_index].heapIndex;
    info->memory_bytes = (size_t)v->mem_props.memoryHeaps[heap].size;
    info->max_alloc_bytes = info->memory_bytes;
    if (lt_vk_fn.fn_vkGetPhysicalDeviceProperties2 && lt_vk_instance_api >= VK_API_VERSION_1_1 &&
        v->props.apiVersion >= VK_API_VERSION_1_1) {
        VkPhysicalDeviceMaintenance3Properties m3 = {
            .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
        VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                          .pNext = &m3};
        vkGetPhysicalDeviceProperties2(phys, &p2);
        if (m3.maxMemoryAllocationSize && m3.maxMemoryAllocationSize < info->max_alloc_bytes)
            info->max_alloc_bytes = (size_t)m3.maxMemoryAllocationSize;
    }
    info->compute_units = 0; /* Vulkan does not say */
    if (lt_env_flag("LORETTA_VULKAN_VERBOSE"))
        fprintf(stderr,
                "loretta: vulkan %s: api %u.%u, queue family %u, tensor memory type %u%s, "
                "subgroup %u (ops 0x%x), 16-bit storage %d, int64 %d, storage range %u, "
                "shared %u B\n",
                v->props.deviceName, VK_API_VERSION_MAJOR(v->props.apiVersion),
                VK_API_VERSION_MINOR(v->props.apiVersion), v->queue_family, v->local.type_index,
                v->local.host_visible ? " (mapped)" : "", v->subgroup_size, v->subgroup_ops,
                v->storage16, v->int64, v->props.limits.maxStorageBufferRange,
                v->props.limits.maxComputeSharedMemorySize);
    /* bf16/f16 tensors are stored, filled, copied and cast (bit for bit like the host);
     * the math ops compute in f32. f64 is not claimed: fill/copy/cast handle it, but no
     * op computes in it. */
    info->supports_bf16 = 1;
    info->supports_f16 = 1;
    out->impl = v;
    return LT_OK;
}

/* ---- backend entry points ---- */

lt_status lt_vk_discover(lt_device *devs, int max, int *count) {
    *count = 0;
    char why[384] = "";
    if (lt_vk_instance_create(why, sizeof why) != LT_OK) {
        lt_error(LT_ERR_DEVICE, "%s", why);
        return LT_OK;
    }
    uint32_t n = 0;
    VkResult r = vkEnumeratePhysicalDevices(lt_vk_instance, &n, NULL);
    VkPhysicalDevice *phys = n ? calloc(n, sizeof *phys) : NULL;
    if (r == VK_SUCCESS && phys) r = vkEnumeratePhysicalDevices(lt_vk_instance, &n, phys);
    char notes[512] = "";
    if (r != VK_SUCCESS && r != VK_INCOMPLETE)
        snprintf(notes, sizeof notes, "vkEnumeratePhysicalDevices: %s", lt_vk_result_name(r));
    else if (n == 0)
        snprintf(notes, sizeof notes, "the Vulkan loader found no physical device (no ICD installed?)");
    for (uint32_t i = 0; phys && i < n && *count < max; i++) {
        lt_device *d = &devs[*count];
        char w[256] = "";
        lt_status s = lt_vk_dev_open(phys[i], d, w, sizeof w);
        if (s != LT_OK) {
            size_t len = strlen(notes);
            snprintf(notes + len, sizeof notes - len, "%s%s", len ? "; " : "", w);
            continue;
        }
        lt_vk_users++;
        (*count)++;
    }
    free(phys);
    if (*count == 0) {
        lt_vk_instance_destroy_unused();
        lt_error(LT_ERR_DEVICE, "%s", *notes ? notes : "no Vulkan device with a compute queue");
    } else if (*notes) {
        lt_error(LT_ERR_DEVICE, "%s", notes);
    }
    return LT_OK;
}

void lt_vk_release(lt_device *dev) {
    if (!dev || !dev->impl) return;
    lt_vk_dev_destroy(lt_vk(dev));
    dev->impl = NULL;
    lt_vk_users--;
    lt_vk_instance_destroy_unused();
}
