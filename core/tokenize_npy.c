/* core/tokenize_npy.c - pre-computed discrete codes (e.g. VQ-VAE codebook ids) from
 * .npy files, kept as [rows, cols] u16 tokens.
 *
 * core/train_data_npy.c reads flat token streams but flattens the shape and exposes no
 * header parser, so this file parses the NumPy header (format 1.0/2.0/3.0) itself:
 * magic, version, header length, then the dict with 'descr', 'fortran_order' and
 * 'shape'. The data size must match the file size exactly. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/tokenize.h"

/* Value of `key` in the header dict: the text after "'key':" (quotes and spaces skipped). */
static const char *dict_value(const char *h, const char *key) {
    char quoted[32];
    snprintf(quoted, sizeof quoted, "'%s'", key);
    const char *p = strstr(h, quoted);
    if (!p) return NULL;
    p += strlen(quoted);
    while (*p == ' ' || *p == ':') p++;
    return p;
}

typedef struct npy_info {
    size_t esz;
    int is_signed;
    int ndim;
    int64_t dims[2];
    size_t data_off;
} npy_info;

static lt_status parse_header(const char *path, FILE *f, long fsize, npy_info *ni) {
    unsigned char pre[12];
    if (fsize < 10 || fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0)
        return lt_error(LT_ERR_FORMAT, "npy codes: %s: offset 0: not a .npy file (magic \\x93NUMPY missing)", path);
    size_t hlen, hoff;
    if (pre[6] == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        hoff = 10;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) return lt_error(LT_ERR_FORMAT, "npy codes: %s: truncated header", path);
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        hoff = 12;
    } else {
        return lt_error(LT_ERR_FORMAT, "npy codes: %s: offset 6: unknown format version %d", path, pre[6]);
    }
    if (hlen > (size_t)fsize - hoff || hlen > (1u << 20))
        return lt_error(LT_ERR_FORMAT, "npy codes: %s: offset 8: header length %zu exceeds the file of %ld bytes",
                        path, hlen, fsize);
    char *h = calloc(hlen + 1, 1);
    if (!h) return lt_error(LT_ERR_OUT_OF_MEMORY, "npy codes: header");
    lt_status s = LT_OK;
    if (fread(h, 1, hlen, f) != hlen) {
        s = lt_error(LT_ERR_FORMAT, "npy codes: %s: truncated header", path);
        goto done;
    }
    const char *d = dict_value(h, "descr"), *fo = dict_value(h, "fortran_order"), *sh = dict_value(h, "shape");
    if (!d || !fo || !sh) {
        s = lt_error(LT_ERR_FORMAT, "npy codes: %s: header lacks descr, fortran_order or shape", path);
        goto done;
    }
    ni->esz = 0;
    if (!strncmp(d, "'|u1'", 5) || !strncmp(d, "'<u1'", 5)) ni->esz = 1, ni->is_signed = 0;
    else if (!strncmp(d, "'<u2'", 5)) ni->esz = 2, ni->is_signed = 0;
    else if (!strncmp(d, "'<i4'", 5)) ni->esz = 4, ni->is_signed = 1;
    else if (!strncmp(d, "'<i8'", 5)) ni->esz = 8, ni->is_signed = 1;
    if (!ni->esz) {
        int dl = 0;
        while (dl < 12 && d[dl] && d[dl] != ',') dl++;
        s = lt_error(LT_ERR_DTYPE, "npy codes: %s: field descr: dtype %.*s is not uint8, uint16, int32 or int64 little endian",
                     path, dl, d);
        goto done;
    }
    if (strncmp(fo, "False", 5) != 0) {
        s = lt_error(LT_ERR_FORMAT, "npy codes: %s: field fortran_order: Fortran order is not supported (save with np.ascontiguousarray)", path);
        goto done;
    }
    if (*sh != '(') {
        s = lt_error(LT_ERR_FORMAT, "npy codes: %s: field shape: expected a tuple", path);
        goto done;
    }
    ni->ndim = 0;
    for (const char *p = sh + 1; *p && *p != ')';) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')' || !*p) break;
        char *end;
        long long dim = strtoll(p, &end, 10);
        if (end == p || dim < 0 || dim > ((long long)1 << 40)) {
            s = lt_error(LT_ERR_FORMAT, "npy codes: %s: field shape: bad dimension", path);
            goto done;
        }
        if (ni->ndim == 2) {
            s = lt_error(LT_ERR_SHAPE, "npy codes: %s: field shape: more than 2 dimensions", path);
            goto done;
        }
        ni->dims[ni->ndim++] = dim;
        p = end;
    }
    if (ni->ndim == 0) {
        s = lt_error(LT_ERR_SHAPE, "npy codes: %s: field shape: a scalar, expected 1-D or 2-D codes", path);
        goto done;
    }
    ni->data_off = hoff + hlen;
done:
    free(h);
    return s;
}

lt_status lt_npy_codes_load(const char *path, uint16_t **codes, int64_t *rows, int64_t *cols,
                            int32_t *max_code) {
    if (!path || !codes || !rows || !cols || !max_code)
        return lt_error(LT_ERR_INVALID_ARG, "npy codes: NULL argument");
    *codes = NULL;
    *rows = *cols = 0;
    *max_code = -1;
    FILE *f = fopen(path, "rb");
    if (!f) return lt_error(LT_ERR_IO, "npy codes: cannot open %s: %s", path, strerror(errno));
    long fsize = -1;
    if (fseek(f, 0, SEEK_END) == 0) fsize = ftell(f);
    rewind(f);
    npy_info ni = {0};
    unsigned char *raw = NULL;
    uint16_t *out = NULL;
    lt_status s = parse_header(path, f, fsize, &ni);
    if (s != LT_OK) goto done;
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
