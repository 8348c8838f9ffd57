/* core/source_idx.c - MNIST IDX files, gzip-compressed or raw (zlib reads both). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/sources.h"

#ifdef LT_HAVE_ZLIB
#include <zlib.h>

/* Reads the whole (decompressed) file; the IDX header says how much must be there. */
static lt_status slurp(const char *path, unsigned char **data, size_t *size) {
    gzFile f = gzopen(path, "rb");
    if (!f) return lt_error(LT_ERR_IO, "idx %s: cannot open", path);
    size_t cap = 1 << 20, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            gzclose(f);
            return lt_error(LT_ERR_OUT_OF_MEMORY, "idx %s: out of host memory", path);
        }
        int r = gzread(f, buf + n, (unsigned)(cap - n));
        if (r < 0) {
            int err;
            const char *msg = gzerror(f, &err);
            lt_status s = lt_error(LT_ERR_FORMAT, "idx %s: decompression failed after %zu bytes: %s",
                                   path, n, msg);
            free(buf);
            gzclose(f);
            return s;
        }
        n += (size_t)r;
        if (r == 0) break;
        if (n == cap) {
            cap *= 2;
            unsigned char *p = realloc(buf, cap);
            if (!p) free(buf);
            buf = p;
        }
    }
    gzclose(f);
    *data = buf;
    *size = n;
    return LT_OK;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

lt_status lt_idx_read_images(const char *path, lt_idx_images *out) {
    memset(out, 0, sizeof *out);
    unsigned char *d;
    size_t n;
    LT_TRY(slurp(path, &d, &n));
    lt_status s = LT_OK;
    if (n < 16) {
        s = lt_error(LT_ERR_FORMAT, "idx %s: offset 0: header: file holds %zu bytes, an image "
                     "header needs 16", path, n);
    } else if (be32(d) != 2051) {
        s = lt_error(LT_ERR_FORMAT, "idx %s: offset 0: magic %u, expected 2051 (images)%s", path,
                     be32(d), be32(d) == 2049 ? " - this is a label file" : "");
    } else {
        uint64_t count = be32(d + 4), rows = be32(d + 8), cols = be32(d + 12);
        uint64_t need = count * rows * cols;
        if (rows == 0 || cols == 0 || rows > 4096 || cols > 4096)
            s = lt_error(LT_ERR_FORMAT, "idx %s: offset 8: image size %llux%llu is not plausible",
                         path, (unsigned long long)rows, (unsigned long long)cols);
        else if (n - 16 != need)
            s = lt_error(LT_ERR_FORMAT, "idx %s: header says %llu images of %llux%llu (%llu bytes), "
                         "file holds %zu bytes of pixels", path, (unsigned long long)count,
                         (unsigned long long)rows, (unsigned long long)cols,
                         (unsigned long long)need, n - 16);
        else {
            out->count = (uint32_t)count;
            out->rows = (uint32_t)rows;
            out->cols = (uint32_t)cols;
            memmove(d, d + 16, need);
            out->pixels = d;
            return LT_OK;
        }
    }
    free(d);
    return s;
}

lt_status lt_idx_read_labels(const char *path, uint8_t **labels, uint32_t *count) {
    *labels = NULL;
    *count = 0;
    unsigned char *d;
    size_t n;
    LT_TRY(slurp(path, &d, &n));
    lt_status s;
    if (n < 8)
        s = lt_error(LT_ERR_FORMAT, "idx %s: offset 0: header: file holds %zu bytes, a label "
                     "header needs 8", path, n);
    else if (be32(d) != 2049)
        s = lt_error(LT_ERR_FORMAT, "idx %s: offset 0: magic %u, expected 2049 (labels)", path, be32(d));
    else if (n - 8 != be32(d + 4))
        s = lt_error(LT_ERR_FORMAT, "idx %s: header says %u labels, file holds %zu", path,
                     be32(d + 4), n - 8);
    else {
        *count = be32(d + 4);
        memmove(d, d + 8, *count);
        *labels = d;
        return LT_OK;
    }
    free(d);
    return s;
}
#else
lt_status lt_idx_read_images(const char *path, lt_idx_images *out) {
    memset(out, 0, sizeof *out);
    return lt_error(LT_ERR_UNSUPPORTED, "idx %s: built without zlib (install zlib1g-dev)", path);
}
lt_status lt_idx_read_labels(const char *path, uint8_t **labels, uint32_t *count) {
    *labels = NULL;
    *count = 0;
    return lt_error(LT_ERR_UNSUPPORTED, "idx %s: built without zlib (install zlib1g-dev)", path);
}
#endif

void lt_idx_images_free(lt_idx_images *im) {
    if (!im) return;
    free(im->pixels);
    im->pixels = NULL;
}
