/* core/npy_header.h - the NumPy .npy header, parsed once for every reader of .npy files
 * (flat token streams in train_data_npy.c, VQ codes in tokenize_npy.c). */
#ifndef LT_NPY_HEADER_H
#define LT_NPY_HEADER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "loretta/status.h"

#define LT_NPY_MAX_DIMS 8

typedef struct lt_npy_header {
    size_t esz;      /* 1, 2, 4 or 8 bytes: uint8, uint16, int32, int64 little endian */
    int is_signed;
    int ndim;        /* 0 for a scalar */
    int64_t dims[LT_NPY_MAX_DIMS];
    size_t data_off; /* where the data starts */
    long file_size;
} lt_npy_header;

/* Reads magic, version (1.0/2.0/3.0), header length and the dict ('descr',
 * 'fortran_order', 'shape') of `f`, checking lengths against the file size. Only integer
 * token dtypes and C order are accepted. Messages start with `what` ("npy", "npy codes")
 * and name the file, offset and field. */
lt_status lt_npy_read_header(const char *what, const char *path, FILE *f, lt_npy_header *h);

#endif
