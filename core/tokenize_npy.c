/* core/tokenize_npy.c - pre-computed discrete codes (e.g. VQ-VAE codebook ids) from
 * .npy files, kept as [rows, cols] u16 tokens.
 *
 * The header is parsed by core/npy_header.c (shared with the flat token reader); codes
 * must be 1-D or 2-D and the data size must match the file size exactly. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/tokenize.h"
#include "npy_header.h"

lt_status lt_npy_codes_load(const char *path, uint16_t **codes, int64_t *rows, int64_t *cols,
                            int32_t *max_code) {
    if (!path || !codes || !rows || !cols || !max_code)
        return lt_error(LT_ERR_INVALID_ARG, "npy codes: NULL argument");
    *codes = NULL;
    *rows = *cols = 0;
    *max_code = -1;
    FILE *f = fopen(path, "rb");
    if (!f) return lt_error(LT_ERR_IO, "npy codes: cannot open %s: %s", path, strerror(errno));
    lt_npy_header ni;
    unsigned char *raw = NULL;
    uint16_t *out = NULL;
    lt_status s = lt_npy_read_header("npy codes", path, f, &ni);
    if (s != LT_OK) goto done;
    const long fsize = ni.file_size;
    if (ni.ndim == 0 || ni.ndim > 2) {
        s = lt_error(LT_ERR_SHAPE, "npy codes: %s: field shape: %d dimensions, expected 1-D or 2-D codes", path,
                     ni.ndim);
        goto done;
    }
    const int64_t r = ni.ndim == 1 ? 1 : ni.dims[0], c = ni.ndim == 1 ? ni.dims[0] : ni.dims[1];
    const uint64_t count = (uint64_t)r * (uint64_t)c; /* each <= 2^40 and their product checked below */
    const uint64_t data_bytes = (uint64_t)fsize - ni.data_off;
    if ((c > 0 && (uint64_t)r > ((uint64_t)1 << 40) / (uint64_t)c) || count * ni.esz != data_bytes) {
        s = lt_error(LT_ERR_FORMAT, "npy codes: %s: offset %zu: shape (%lld, %lld) of %zu-byte codes needs %llu data bytes, the file holds %llu",
                     path, ni.data_off, (long long)r, (long long)c, ni.esz,
                     (unsigned long long)(count * ni.esz), (unsigned long long)data_bytes);
        goto done;
    }
    raw = malloc((size_t)data_bytes + 1);
    out = malloc((size_t)count * sizeof(uint16_t) + 1);
    if (!raw || !out) {
        s = lt_error(LT_ERR_OUT_OF_MEMORY, "npy codes: %s: %llu codes", path, (unsigned long long)count);
        goto done;
    }
    if (fread(raw, 1, (size_t)data_bytes, f) != (size_t)data_bytes) {
        s = lt_error(LT_ERR_IO, "npy codes: %s: short read", path);
        goto done;
    }
    int64_t mx = -1;
    for (uint64_t i = 0; i < count; i++) {
        const unsigned char *e = raw + i * ni.esz;
        uint64_t u = 0;
        for (size_t b = 0; b < ni.esz; b++) u |= (uint64_t)e[b] << (8 * b);
        /* Sign-extend int32; int64 values >= 2^63 are negative after the cast (two's
         * complement, as every supported compiler defines it). */
        const int64_t v = ni.is_signed && ni.esz == 4 ? (int64_t)(int32_t)(uint32_t)u : (int64_t)u;
        if (v < 0 || v > 65535) {
            s = lt_error(LT_ERR_RANGE, "npy codes: %s: row %lld, column %lld: code %lld is outside 0..65535",
                         path, (long long)(i / (uint64_t)c), (long long)(i % (uint64_t)c), (long long)v);
            goto done;
        }
        if (v > mx) mx = v;
        out[i] = (uint16_t)v;
    }
    *codes = out;
    out = NULL;
    *rows = r;
    *cols = c;
    *max_code = (int32_t)mx;
done:
    fclose(f);
    free(raw);
    free(out);
    return s;
}
