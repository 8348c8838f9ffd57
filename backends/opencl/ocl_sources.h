/* backends/opencl/ocl_sources.h - the OpenCL C sources embedded in the library.
 *
 * backends/opencl/CMakeLists.txt turns every shaders/opencl/<name>.cl into a byte array
 * at build time and lists them in lt_ocl_sources (generated ocl_sources.c), so the
 * library never reads kernel files at run time (except from LORETTA_OPENCL_KERNEL_DIR,
 * on purpose, while working on kernels). */
#ifndef LT_OCL_SOURCES_H
#define LT_OCL_SOURCES_H

#include <stddef.h>

typedef struct lt_ocl_source {
    const char *name;  /* file name without .cl: "attention" */
    const char *text;  /* NUL-terminated */
    size_t length;     /* bytes, without the NUL */
} lt_ocl_source;

extern const lt_ocl_source lt_ocl_sources[];
extern const int lt_ocl_source_count;

#endif
