/* core/tokenize_bin.c - value binning: continuous values to `levels` equal-width bins
 * between a training minimum and maximum (paper: omics and other continuous inputs
 * become tokens of 1,000 levels). Ranges come from training rows only so validation
 * and test rows never leak into the tokeniser; their out-of-range values clamp. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/tokenize.h"

static const unsigned char BIN_MAGIC[8] = {'L', 'T', 'B', 'I', 'N', 'S', 0, 0};
#define BIN_VERSION 1u
#define BIN_HEADER 32u

static lt_status bin_alloc(int64_t dim, uint32_t levels, lt_bin_mode mode, lt_bin_params *out) {
    if (!out) return lt_error(LT_ERR_INVALID_ARG, "bin: NULL out_params");
    memset(out, 0, sizeof *out);
    if (dim < 1 || dim > ((int64_t)1 << 31))
        return lt_error(LT_ERR_INVALID_ARG, "bin: dim %lld must be in 1..2^31", (long long)dim);
    if (levels < 2 || levels > 65536u)
        return lt_error(LT_ERR_INVALID_ARG, "bin: levels %u must be in 2..65536 (u16 tokens)", levels);
    out->lo = malloc((size_t)dim * sizeof(double));
    out->hi = malloc((size_t)dim * sizeof(double));
    if (!out->lo || !out->hi) {
        lt_bin_params_free(out);
        return lt_error(LT_ERR_OUT_OF_MEMORY, "bin: %lld ranges", (long long)dim);
    }
    out->dim = dim;
    out->levels = levels;
    out->mode = (uint32_t)mode;
    return LT_OK;
}

void lt_bin_params_free(lt_bin_params *p) {
    if (!p) return;
    free(p->lo);
    free(p->hi);
    memset(p, 0, sizeof *p);
}

lt_status lt_bin_fit(const double *values, int64_t n, int64_t dim, uint32_t levels,
                     lt_bin_mode mode, lt_bin_params *out) {
    if (out) memset(out, 0, sizeof *out);
    if (!values || !out) return lt_error(LT_ERR_INVALID_ARG, "bin fit: NULL values or out_params");
    if (n < 1) return lt_error(LT_ERR_INVALID_ARG, "bin fit: needs at least one training row, got %lld", (long long)n);
    if (mode != LT_BIN_PER_FEATURE && mode != LT_BIN_GLOBAL)
        return lt_error(LT_ERR_INVALID_ARG, "bin fit: mode %d is not per-feature or global (use lt_bin_range for a given range)", (int)mode);
    LT_TRY(bin_alloc(dim, levels, mode, out));
    for (int64_t j = 0; j < dim; j++) {
        out->lo[j] = INFINITY;
        out->hi[j] = -INFINITY;
    }
    for (int64_t i = 0; i < n; i++) {
        const double *row = values + i * dim;
        for (int64_t j = 0; j < dim; j++) {
            const double v = row[j];
            if (!isfinite(v)) {
                lt_bin_params_free(out);
                return lt_error(LT_ERR_NUMERIC, "bin fit: training sample %lld, feature %lld is %s",
                                (long long)i, (long long)j, isnan(v) ? "NaN" : "infinite");
            }
            if (v < out->lo[j]) out->lo[j] = v;
            if (v > out->hi[j]) out->hi[j] = v;
        }
    }
    if (mode == LT_BIN_GLOBAL) {
        double lo = INFINITY, hi = -INFINITY;
        for (int64_t j = 0; j < dim; j++) {
            if (out->lo[j] < lo) lo = out->lo[j];
            if (out->hi[j] > hi) hi = out->hi[j];
        }
        for (int64_t j = 0; j < dim; j++) {
            out->lo[j] = lo;
            out->hi[j] = hi;
        }
    }
    return LT_OK;
}

lt_status lt_bin_range(int64_t dim, uint32_t levels, double lo, double hi, lt_bin_params *out) {
    if (!isfinite(lo) || !isfinite(hi) || hi < lo) {
        if (out) memset(out, 0, sizeof *out);
        return lt_error(LT_ERR_INVALID_ARG, "bin range: [%g, %g] is not a finite range with lo <= hi", lo, hi);
    }
    LT_TRY(bin_alloc(dim, levels, LT_BIN_GIVEN, out));
    for (int64_t j = 0; j < dim; j++) {
        out->lo[j] = lo;
        out->hi[j] = hi;
    }
    return LT_OK;
}

/* The comparisons happen in double before any conversion, so +-Inf and values far out
 * of range clamp without an out-of-range float-to-int cast. The top edge (v == hi)
 * gives exactly `levels` and clamps to levels-1, so the training maximum is the top bin. */
static inline uint16_t bin_one(double v, double lo, double hi, uint32_t levels) {
    if (!(hi > lo)) return v > lo ? (uint16_t)(levels - 1) : 0;
    const double x = (v - lo) / (hi - lo) * (double)levels;
    if (x <= 0.0) return 0;
    if (x >= (double)(levels - 1)) return (uint16_t)(levels - 1);
    return (uint16_t)floor(x);
}

lt_status lt_bin_apply(const lt_bin_params *p, const double *values, int64_t n, uint16_t *out) {
    if (!p || !p->lo || !p->hi || !out || (!values && n > 0))
        return lt_error(LT_ERR_INVALID_ARG, "bin apply: NULL params, values or out");
    if (n < 0) return lt_error(LT_ERR_INVALID_ARG, "bin apply: negative row count %lld", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        const double *row = values + i * p->dim;
        uint16_t *o = out + i * p->dim;
        for (int64_t j = 0; j < p->dim; j++) {
            if (isnan(row[j]))
                return lt_error(LT_ERR_NUMERIC, "bin apply: sample %lld, feature %lld is NaN",
                                (long long)i, (long long)j);
            o[j] = bin_one(row[j], p->lo[j], p->hi[j], p->levels);
        }
    }
    return LT_OK;
}

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static void put_f64(unsigned char *p, double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    put_u64(p, u);
}
static double get_f64(const unsigned char *p) {
    uint64_t u = get_u64(p);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

lt_status lt_bin_save(const lt_bin_params *p, const char *path) {
    if (!p || !p->lo || !p->hi || !path) return lt_error(LT_ERR_INVALID_ARG, "bin save: NULL params or path");
    const size_t bytes = BIN_HEADER + (size_t)p->dim * 16;
    unsigned char *buf = calloc(bytes, 1);
    if (!buf) return lt_error(LT_ERR_OUT_OF_MEMORY, "bin save: %zu bytes", bytes);
    memcpy(buf, BIN_MAGIC, 8);
    put_u32(buf + 8, BIN_VERSION);
    put_u32(buf + 12, p->levels);
    put_u32(buf + 16, p->mode);
    put_u64(buf + 24, (uint64_t)p->dim);
    for (int64_t j = 0; j < p->dim; j++) {
        put_f64(buf + BIN_HEADER + (size_t)j * 16, p->lo[j]);
        put_f64(buf + BIN_HEADER + (size_t)j * 16 + 8, p->hi[j]);
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(buf);
        return lt_error(LT_ERR_IO, "bin save: cannot create %s: %s", path, strerror(errno));
    }
    int ok = fwrite(buf, 1, bytes, f) == bytes;
    ok = (fclose(f) == 0) && ok;
    free(buf);
    return ok ? LT_OK : lt_error(LT_ERR_IO, "bin save: writing %s failed", path);
}

lt_status lt_bin_load(const char *path, lt_bin_params *out) {
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) return lt_error(LT_ERR_INVALID_ARG, "bin load: NULL path or out");
    FILE *f = fopen(path, "rb");
    if (!f) return lt_error(LT_ERR_IO, "bin load: cannot open %s: %s", path, strerror(errno));
    unsigned char h[BIN_HEADER];
    long fsize = -1;
    if (fseek(f, 0, SEEK_END) == 0) fsize = ftell(f);
    rewind(f);
    if (fsize < (long)BIN_HEADER || fread(h, 1, BIN_HEADER, f) != BIN_HEADER) {
        fclose(f);
        return lt_error(LT_ERR_FORMAT, "bin load: %s: %ld bytes is shorter than the %u-byte header", path, fsize, BIN_HEADER);
    }
    if (memcmp(h, BIN_MAGIC, 8) != 0) {
        fclose(f);
        return lt_error(LT_ERR_FORMAT, "bin load: %s: offset 0: magic is not LTBINS", path);
    }
    if (get_u32(h + 8) != BIN_VERSION) {
        fclose(f);
        return lt_error(LT_ERR_FORMAT, "bin load: %s: offset 8: version %u, expected %u", path, get_u32(h + 8), BIN_VERSION);
    }
    const uint32_t levels = get_u32(h + 12), mode = get_u32(h + 16);
    const uint64_t dim = get_u64(h + 24);
    if (dim < 1 || dim > ((uint64_t)1 << 31) || (uint64_t)fsize != BIN_HEADER + dim * 16) {
        fclose(f);
        return lt_error(LT_ERR_FORMAT, "bin load: %s: offset 24: dim %llu needs %llu bytes, the file has %ld",
                        path, (unsigned long long)dim, (unsigned long long)(BIN_HEADER + dim * 16), fsize);
    }
    if (mode > LT_BIN_GIVEN) {
        fclose(f);
        return lt_error(LT_ERR_FORMAT, "bin load: %s: offset 16: unknown mode %u", path, mode);
    }
    lt_status s = bin_alloc((int64_t)dim, levels, (lt_bin_mode)mode, out);
    if (s != LT_OK) {
        fclose(f);
        return lt_error_context(s, "bin load: %s: ", path);
    }
    unsigned char *buf = malloc((size_t)dim * 16);
    if (!buf || fread(buf, 16, (size_t)dim, f) != (size_t)dim) {
        s = buf ? lt_error(LT_ERR_IO, "bin load: %s: short read", path)
                : lt_error(LT_ERR_OUT_OF_MEMORY, "bin load: %s", path);
    }
    fclose(f);
    for (uint64_t j = 0; s == LT_OK && j < dim; j++) {
        out->lo[j] = get_f64(buf + j * 16);
        out->hi[j] = get_f64(buf + j * 16 + 8);
        if (!isfinite(out->lo[j]) || !isfinite(out->hi[j]) || out->hi[j] < out->lo[j])
            s = lt_error(LT_ERR_FORMAT, "bin load: %s: offset %llu: feature %llu has range [%g, %g]", path,
                         (unsigned long long)(BIN_HEADER + j * 16), (unsigned long long)j, out->lo[j], out->hi[j]);
    }
    free(buf);
    if (s != LT_OK) lt_bin_params_free(out);
    return s;
}
