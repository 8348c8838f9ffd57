/* core/npy_header.c - see npy_header.h. */
#include "npy_header.h"

#include <stdlib.h>
#include <string.h>

/* Value of `key` in the header dict: the text after "'key':" (spaces skipped). */
static const char *dict_value(const char *h, const char *key) {
    char quoted[32];
    snprintf(quoted, sizeof quoted, "'%s'", key);
    const char *p = strstr(h, quoted);
    if (!p) return NULL;
    p += strlen(quoted);
    while (*p == ' ' || *p == ':') p++;
    return p;
}

lt_status lt_npy_read_header(const char *what, const char *path, FILE *f, lt_npy_header *ni) {
    memset(ni, 0, sizeof *ni);
    long fsize = -1;
    if (fseek(f, 0, SEEK_END) == 0) fsize = ftell(f);
    rewind(f);
    ni->file_size = fsize;
    unsigned char pre[12];
    if (fsize < 10 || fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0)
        return lt_error(LT_ERR_FORMAT, "%s: %s: offset 0: not a .npy file (magic \\x93NUMPY missing)", what, path);
    size_t hlen, hoff;
    if (pre[6] == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        hoff = 10;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) return lt_error(LT_ERR_FORMAT, "%s: %s: truncated header", what, path);
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        hoff = 12;
    } else {
        return lt_error(LT_ERR_FORMAT, "%s: %s: offset 6: unknown format version %d", what, path, pre[6]);
    }
    if (hlen > (size_t)fsize - hoff || hlen > (1u << 20))
        return lt_error(LT_ERR_FORMAT, "%s: %s: offset 8: header length %zu exceeds the file of %ld bytes", what,
                        path, hlen, fsize);
    char *h = calloc(hlen + 1, 1);
    if (!h) return lt_error(LT_ERR_OUT_OF_MEMORY, "%s: header", what);
    lt_status s = LT_OK;
    if (fread(h, 1, hlen, f) != hlen) {
        s = lt_error(LT_ERR_FORMAT, "%s: %s: truncated header", what, path);
        goto done;
    }
    const char *d = dict_value(h, "descr"), *fo = dict_value(h, "fortran_order"), *sh = dict_value(h, "shape");
    if (!d || !fo || !sh) {
        s = lt_error(LT_ERR_FORMAT, "%s: %s: header lacks descr, fortran_order or shape", what, path);
        goto done;
    }
    if (!strncmp(d, "'|u1'", 5) || !strncmp(d, "'<u1'", 5)) ni->esz = 1, ni->is_signed = 0;
    else if (!strncmp(d, "'<u2'", 5)) ni->esz = 2, ni->is_signed = 0;
    else if (!strncmp(d, "'<i4'", 5)) ni->esz = 4, ni->is_signed = 1;
    else if (!strncmp(d, "'<i8'", 5)) ni->esz = 8, ni->is_signed = 1;
    if (!ni->esz) {
        int dl = 0;
        while (dl < 12 && d[dl] && d[dl] != ',') dl++;
        s = lt_error(LT_ERR_DTYPE, "%s: %s: field descr: dtype %.*s is not uint8, uint16, int32 or int64 little endian",
                     what, path, dl, d);
        goto done;
    }
    if (strncmp(fo, "False", 5) != 0) {
        s = lt_error(LT_ERR_FORMAT, "%s: %s: field fortran_order: Fortran order is not supported (save with "
                     "np.ascontiguousarray)", what, path);
        goto done;
    }
    if (*sh != '(') {
        s = lt_error(LT_ERR_FORMAT, "%s: %s: field shape: expected a tuple", what, path);
        goto done;
    }
    for (const char *p = sh + 1; *p && *p != ')';) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')' || !*p) break;
        char *end;
        long long dim = strtoll(p, &end, 10);
        if (end == p || dim < 0 || dim > ((long long)1 << 40)) {
            s = lt_error(LT_ERR_FORMAT, "%s: %s: field shape: bad dimension", what, path);
            goto done;
        }
        if (ni->ndim == LT_NPY_MAX_DIMS) {
            s = lt_error(LT_ERR_SHAPE, "%s: %s: field shape: more than %d dimensions", what, path, LT_NPY_MAX_DIMS);
            goto done;
        }
        ni->dims[ni->ndim++] = dim;
        p = end;
    }
    ni->data_off = hoff + hlen;
done:
    free(h);
    return s;
}
