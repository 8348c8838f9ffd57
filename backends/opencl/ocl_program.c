/* backends/opencl/ocl_program.c - kernel sources, program builds, the on-disk binary
 * cache and the kernel table of each device.
 *
 * A program is built per device on first use. Compiling OpenCL C is slow (PoCL runs
 * clang and LLVM: seconds per program), so the built binary is kept in
 *   $XDG_CACHE_HOME/loretta/opencl  (else ~/.cache/loretta/opencl)
 * under a 128-bit hash of source text + build options + device name, vendor, driver and
 * platform version: a new driver or an edited kernel simply misses. Files start with
 * a magic and a version, are checked against their size, and are written to a temporary
 * name then renamed, so a crash or a concurrent writer never leaves a torn file. Any
 * cache problem falls back to building from source. LORETTA_OPENCL_CACHE=0 turns the
 * cache off; LORETTA_OPENCL_KERNEL_DIR=<dir> reads <dir>/<name>.cl instead of the
 * embedded copy (for working on kernels without rebuilding the library). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocl_common.h"
#include "ocl_sources.h"

#define LT_OCL_CACHE_MAGIC "LTCLBIN"
#define LT_OCL_CACHE_VERSION 1u

typedef struct cache_header {
    char magic[8];
    uint32_t version;
    uint32_t header_bytes;
    uint64_t key[2];
    uint64_t binary_bytes;
} cache_header;

/* ---- sources ---- */

static lt_status read_text_file(const char *path, char **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return lt_error(LT_ERR_IO, "opencl: cannot open kernel source %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = (n + 4096 + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return lt_error(LT_ERR_OUT_OF_MEMORY, "opencl: reading %s: no memory", path);
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, 4096, f);
        n += got;
        if (got < 4096) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return lt_error(LT_ERR_IO, "opencl: reading kernel source %s failed", path);
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return LT_OK;
}

/* The text of shaders/opencl/<name>.cl: embedded, or from LORETTA_OPENCL_KERNEL_DIR.
 * *owned is set when the caller must free the text. */
static lt_status source_text(const char *name, const char **text, size_t *len, char **owned) {
    *owned = NULL;
    const char *dir = getenv("LORETTA_OPENCL_KERNEL_DIR");
    if (dir && *dir) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.cl", dir, name);
        LT_TRY(read_text_file(path, owned, len));
        *text = *owned;
        return LT_OK;
    }
    for (int i = 0; i < lt_ocl_source_count; i++)
        if (strcmp(lt_ocl_sources[i].name, name) == 0) {
            *text = lt_ocl_sources[i].text;
            *len = lt_ocl_sources[i].length;
            return LT_OK;
        }
    return lt_error(LT_ERR_INTERNAL, "opencl: no embedded kernel source '%s.cl'", name);
}

/* ---- cache ---- */

/* FNV-1a, run twice with different bases: 128 bits, plenty against accidental hits. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void cache_key(const lt_ocl_device *d, const char *text, size_t len, const char *options,
                      uint64_t key[2]) {
    const uint64_t bases[2] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull};
    for (int k = 0; k < 2; k++) {
        uint64_t h = fnv1a(bases[k], text, len);
        h = fnv1a(h, "\x01", 1);
        h = fnv1a(h, options, strlen(options));
        h = fnv1a(h, "\x01", 1);
        h = fnv1a(h, d->cache_id, strlen(d->cache_id));
        key[k] = k ? fnv1a(h, &key[0], sizeof key[0]) : h;
    }
}

static int cache_enabled(void) {
    const char *v = getenv("LORETTA_OPENCL_CACHE");
    return !(v && (strcmp(v, "0") == 0 || strcmp(v, "off") == 0));
}

/* mkdir -p; returns 0 when the directory exists afterwards. */
static int make_dirs(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        int r = mkdir(path, 0755);
        *p = '/';
        if (r != 0 && errno != EEXIST) return -1;
    }
    return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static int cache_dir(char *out, size_t n) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int w;
    if (xdg && *xdg) w = snprintf(out, n, "%s/loretta/opencl", xdg);
    else if (home && *home) w = snprintf(out, n, "%s/.cache/loretta/opencl", home);
    else return -1;
    return w > 0 && (size_t)w < n ? 0 : -1;
}

static int cache_path(const uint64_t key[2], char *out, size_t n) {
    char dir[900];
    if (cache_dir(dir, sizeof dir) != 0) return -1;
    int w = snprintf(out, n, "%s/%016llx%016llx.bin", dir, (unsigned long long)key[0],
                     (unsigned long long)key[1]);
    return w > 0 && (size_t)w < n ? 0 : -1;
}

/* The cached binary, or NULL (missing, foreign, truncated: all just a miss). */
static unsigned char *cache_load(const char *path, const uint64_t key[2], size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    cache_header h;
    unsigned char *bin = NULL;
    long file_bytes = -1;
    if (fread(&h, sizeof h, 1, f) == 1 && memcmp(h.magic, LT_OCL_CACHE_MAGIC, 8) == 0 &&
        h.version == LT_OCL_CACHE_VERSION && h.header_bytes == sizeof h && h.key[0] == key[0] &&
        h.key[1] == key[1] && fseek(f, 0, SEEK_END) == 0 && (file_bytes = ftell(f)) >= 0 &&
        h.binary_bytes > 0 && (uint64_t)file_bytes == sizeof h + h.binary_bytes &&
        fseek(f, (long)sizeof h, SEEK_SET) == 0) {
        bin = malloc((size_t)h.binary_bytes);
        if (bin && fread(bin, 1, (size_t)h.binary_bytes, f) != h.binary_bytes) {
            free(bin);
            bin = NULL;
        }
        *size = (size_t)h.binary_bytes;
    }
    fclose(f);
    return bin;
}

/* Writes the program's binary next to its final name, then renames it into place. */
static void cache_store(cl_program prog, const char *path, const uint64_t key[2]) {
    size_t size = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) != CL_SUCCESS ||
        size == 0)
        return;
    unsigned char *bin = malloc(size);
    if (!bin) return;
    unsigned char *bins[1] = {bin};
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) != CL_SUCCESS) {
        free(bin);
        return;
    }
    char dir[900], tmp[1200];
    if (cache_dir(dir, sizeof dir) != 0 || make_dirs(dir) != 0) {
        free(bin);
        return;
    }
    static int counter;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%d", path, (long)getpid(), counter++);
    FILE *f = fopen(tmp, "wb");
    if (f) {
        cache_header h;
        memset(&h, 0, sizeof h);
        memcpy(h.magic, LT_OCL_CACHE_MAGIC, 8);
        h.version = LT_OCL_CACHE_VERSION;
        h.header_bytes = sizeof h;
        h.key[0] = key[0];
        h.key[1] = key[1];
        h.binary_bytes = size;
        int ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(bin, 1, size, f) == size;
        ok = fclose(f) == 0 && ok;
        if (!ok || rename(tmp, path) != 0) remove(tmp);
    }
    free(bin);
}

/* ---- builds ---- */

/* The build log from its first "error" on (or from the start), cut to fit a message. */
static void build_log(cl_program prog, cl_device_id id, char *out, size_t n) {
    out[0] = 0;
    size_t len = 0;
    if (clGetProgramBuildInfo(prog, id, CL_PROGRAM_BUILD_LOG, 0, NULL, &len) != CL_SUCCESS || !len)
        return;
    char *log = malloc(len + 1);
    if (!log) return;
    if (clGetProgramBuildInfo(prog, id, CL_PROGRAM_BUILD_LOG, len, log, NULL) == CL_SUCCESS) {
        log[len] = 0;
        const char *start = strstr(log, "error");
        if (!start) start = log;
        while (start > log && start[-1] != '\n') start--;
        snprintf(out, n, "%s", start);
    }
    free(log);
}

static lt_status build_from_source(lt_ocl_device *d, const char *name, const char *text,
                                   size_t len, const char *options, cl_program *out) {
    cl_int e;
    cl_program prog = clCreateProgramWithSource(d->context, 1, &text, &len, &e);
    if (e != CL_SUCCESS) return lt_ocl_fail(e, "clCreateProgramWithSource");
    e = clBuildProgram(prog, 1, &d->id, options, NULL, NULL);
    if (e != CL_SUCCESS) {
        char log[720];
        build_log(prog, d->id, log, sizeof log);
        clReleaseProgram(prog);
        return lt_error(LT_ERR_DEVICE, "opencl: building %s.cl for %s failed (%s), build log: %s",
                        name, d->name, lt_ocl_error_name(e), *log ? log : "(empty)");
    }
    *out = prog;
    return LT_OK;
}

static lt_status build_from_binary(lt_ocl_device *d, const unsigned char *bin, size_t size,
                                   const char *options, cl_program *out) {
    cl_int e, bin_status;
    cl_program prog = clCreateProgramWithBinary(d->context, 1, &d->id, &size, &bin, &bin_status, &e);
    if (e != CL_SUCCESS || bin_status != CL_SUCCESS) {
        if (prog) clReleaseProgram(prog);
        return LT_ERR_DEVICE;
    }
    if (clBuildProgram(prog, 1, &d->id, options, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(prog);
        return LT_ERR_DEVICE;
    }
    *out = prog;
    return LT_OK;
}

/* Cache first, else source (then cache it). cache_file (may be NULL) gets the path. */
static lt_status build_program(lt_ocl_device *d, const char *name, const char *text, size_t len,
                               const char *options, int use_cache, char *cache_file,
                               size_t cache_file_size, cl_program *out) {
    uint64_t key[2];
    char path[1100];
    int cached = use_cache && cache_enabled();
    cache_key(d, text, len, options, key);
    if (cached && cache_path(key, path, sizeof path) != 0) cached = 0;
    if (cache_file && cache_file_size) snprintf(cache_file, cache_file_size, "%s", cached ? path : "");
    if (cached) {
        size_t size = 0;
        unsigned char *bin = cache_load(path, key, &size);
        if (bin) {
            lt_status s = build_from_binary(d, bin, size, options, out);
            free(bin);
            if (s == LT_OK) return LT_OK;
        }
    }
    LT_TRY(build_from_source(d, name, text, len, options, out));
    if (cached) cache_store(*out, path, key);
    return LT_OK;
}

/* Options every program gets: the OpenCL C 1.2 floor, the reduction work-group size,
 * doubles where the device has them, and the caller's extra ones. */
static lt_status program_options(const lt_ocl_device *d, const char *extra, char *out, size_t n) {
    int w = snprintf(out, n, "-cl-std=CL1.2 -DLT_WG=%d%s%s%s", d->wg,
                     d->has_fp64 ? " -DLT_HAVE_FP64=1" : "", extra && *extra ? " " : "",
                     extra ? extra : "");
    if (w < 0 || (size_t)w >= n)
        return lt_error(LT_ERR_INTERNAL, "opencl: build options too long: %s", extra ? extra : "");
    return LT_OK;
}

static lt_status program_get(lt_device *dev, const char *source, const char *extra,
                             cl_program *out) {
    lt_ocl_device *d = lt_ocl_dev(dev);
    char key[sizeof d->programs[0].key];
    int w = snprintf(key, sizeof key, "%s|%s", source, extra ? extra : "");
    if (w < 0 || (size_t)w >= sizeof key)
        return lt_error(LT_ERR_INTERNAL, "opencl: program key too long for %s", source);
    for (int i = 0; i < d->nprograms; i++)
        if (strcmp(d->programs[i].key, key) == 0) {
            *out = d->programs[i].program;
            return LT_OK;
        }
    if (d->nprograms == LT_OCL_MAX_PROGRAMS)
        return lt_error(LT_ERR_INTERNAL, "opencl: more than %d programs on one device", LT_OCL_MAX_PROGRAMS);
    char options[512];
    LT_TRY(program_options(d, extra, options, sizeof options));
    const char *text = NULL;
    size_t len = 0;
    char *owned = NULL;
    LT_TRY(source_text(source, &text, &len, &owned));
    cl_program prog;
    lt_status s = build_program(d, source, text, len, options, 1, NULL, 0, &prog);
    free(owned);
    LT_TRY(s);
    lt_ocl_program *p = &d->programs[d->nprograms++];
    snprintf(p->key, sizeof p->key, "%s", key);
    p->program = prog;
    *out = prog;
    return LT_OK;
}

lt_status lt_ocl_kernel_get(lt_device *dev, const char *source, const char *options,
                            const char *kernel, cl_kernel *out) {
    lt_ocl_device *d = lt_ocl_dev(dev);
    cl_program prog;
    LT_TRY(program_get(dev, source, options, &prog));
    for (int i = 0; i < d->nkernels; i++)
        if (d->kernels[i].program == prog && strcmp(d->kernels[i].name, kernel) == 0) {
            *out = d->kernels[i].kernel;
            return LT_OK;
        }
    if (d->nkernels == LT_OCL_MAX_KERNELS)
        return lt_error(LT_ERR_INTERNAL, "opencl: more than %d kernels on one device", LT_OCL_MAX_KERNELS);
    cl_int e;
    cl_kernel k = clCreateKernel(prog, kernel, &e);
    if (e != CL_SUCCESS)
        return lt_error(LT_ERR_INTERNAL, "opencl: kernel %s not found in %s.cl: %s", kernel, source,
                        lt_ocl_error_name(e));
    lt_ocl_kernel *slot = &d->kernels[d->nkernels++];
    slot->program = prog;
    snprintf(slot->name, sizeof slot->name, "%s", kernel);
    slot->kernel = k;
    *out = k;
    return LT_OK;
}

void lt_ocl_programs_release(lt_ocl_device *d) {
    for (int i = 0; i < d->nkernels; i++) clReleaseKernel(d->kernels[i].kernel);
    for (int i = 0; i < d->nprograms; i++) clReleaseProgram(d->programs[i].program);
    d->nkernels = d->nprograms = 0;
}

lt_status lt_opencl_test_build(lt_device *dev, const char *name, const char *text,
                               int use_cache, char *cache_file, size_t cache_file_size) {
    if (!dev || !dev->impl || strcmp(dev->backend->name, "opencl") != 0 || !name || !text)
        return lt_error(LT_ERR_INVALID_ARG, "opencl test build: not an opencl device or no source");
    lt_ocl_device *d = lt_ocl_dev(dev);
    char options[512];
    LT_TRY(program_options(d, NULL, options, sizeof options));
    pthread_mutex_lock(&d->lock);
    cl_program prog;
    lt_status s = build_program(d, name, text, strlen(text), options, use_cache, cache_file,
                                cache_file_size, &prog);
    pthread_mutex_unlock(&d->lock);
    if (s == LT_OK) clReleaseProgram(prog);
    return s;
}
