/* core/dataset.c - reading (memory-mapped, verified) and writing (temp + rename) the
 * multimodal dataset file described in loretta/dataset.h and docs/dataset-format.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fnv1a.h"
#include "loretta/dataset.h"

#define DS_MAGIC "LTDSET\r\n" /* the CR LF catches text-mode transfers, as PNG's does */
#define DS_VERSION 1u
#define DS_HEADER_BYTES 64u
#define DS_TABLE_ENTRY 32u /* name[16], levels u32, max_len u32, fixed u32, reserved u32 */

struct lt_dataset {
    char *path;
    const unsigned char *map;
    size_t size;
    uint32_t n_mod;
    uint64_t n_samples;
    uint64_t data_off, data_bytes, index_off;
    uint32_t record_bytes;
    lt_ds_modality mods[LT_DS_MAX_MODALITIES];
};


static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void wr64(unsigned char *p, uint64_t v) {
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

/* ------------------------------------------------------------------ reader ---- */

static lt_status bad(const lt_dataset *ds, uint64_t off, const char *fmt, const char *what,
                     unsigned long long a, unsigned long long b) {
    char msg[256];
    snprintf(msg, sizeof msg, fmt, a, b);
    return lt_error(LT_ERR_FORMAT, "dataset %s: offset %llu: %s: %s", ds->path,
                    (unsigned long long)off, what, msg);
}

static lt_status parse_header(lt_dataset *ds) {
    const unsigned char *h = ds->map;
    if (ds->size < DS_HEADER_BYTES)
        return bad(ds, 0, "file has %llu bytes, the header alone needs %llu", "header",
                   ds->size, DS_HEADER_BYTES);
    if (memcmp(h, DS_MAGIC, 8) != 0)
        return lt_error(LT_ERR_FORMAT, "dataset %s: offset 0: magic: not a loretta dataset file",
                        ds->path);
    uint32_t version = rd32(h + 8);
    if (version != DS_VERSION)
        return bad(ds, 8, "version %llu, this build reads %llu", "version", version, DS_VERSION);
    ds->n_mod = rd32(h + 12);
    if (ds->n_mod < 1 || ds->n_mod > LT_DS_MAX_MODALITIES)
        return bad(ds, 12, "%llu modalities (1..%llu allowed)", "modality count", ds->n_mod,
                   LT_DS_MAX_MODALITIES);
    ds->n_samples = rd64(h + 16);
    ds->data_off = rd64(h + 24);
    ds->data_bytes = rd64(h + 32);
    uint64_t table_off = rd64(h + 40);
    ds->index_off = rd64(h + 48);
    uint64_t checksum = rd64(h + 56);
    ds->record_bytes = 8u + 12u * ds->n_mod;
    uint64_t size = ds->size;
    if (ds->data_off != DS_HEADER_BYTES || ds->data_bytes > size - DS_HEADER_BYTES ||
        ds->data_bytes % 2)
        return bad(ds, 24, "data section (%llu bytes) does not fit a file of %llu bytes",
                   "data offset/size", ds->data_bytes, size);
    uint64_t table_bytes = (uint64_t)ds->n_mod * DS_TABLE_ENTRY;
    if (table_off != ds->data_off + ds->data_bytes || table_bytes > size - table_off)
        return bad(ds, 40, "modality table at %llu does not fit a file of %llu bytes",
                   "table offset", table_off, size);
    if (ds->index_off != table_off + table_bytes)
        return bad(ds, 48, "index at %llu, expected right after the table at %llu",
                   "index offset", ds->index_off, table_off + table_bytes);
    if (ds->n_samples > (size - ds->index_off) / ds->record_bytes ||
        ds->index_off + ds->n_samples * ds->record_bytes != size)
        return bad(ds, 16, "header says %llu samples, the file holds %llu bytes of index",
                   "sample count", ds->n_samples, size - ds->index_off);
    uint64_t h2 = lt_fnv1a(LT_FNV1A_SEED, ds->map + ds->data_off, size - ds->data_off);
    if (h2 != checksum)
        return lt_error(LT_ERR_FORMAT,
                        "dataset %s: offset 56: checksum: stored %016llx, contents hash to %016llx "
                        "(the file is corrupted or was modified)",
                        ds->path, (unsigned long long)checksum, (unsigned long long)h2);
    for (uint32_t m = 0; m < ds->n_mod; m++) {
        const unsigned char *e = ds->map + table_off + (uint64_t)m * DS_TABLE_ENTRY;
        lt_ds_modality *md = &ds->mods[m];
        memcpy(md->name, e, LT_DS_NAME_LEN);
        md->name[LT_DS_NAME_LEN - 1] = '\0';
        md->levels = rd32(e + 16);
        md->max_len = rd32(e + 20);
        md->fixed_len = rd32(e + 24);
        if (md->levels < 1 || md->levels > 65536)
            return bad(ds, table_off + (uint64_t)m * DS_TABLE_ENTRY + 16,
                       "modality %llu has %llu levels (1..65536)", "levels", m, md->levels);
    }
    return LT_OK;
}

/* Every record and every token is checked once at open so later reads can trust them. */
static lt_status check_records(lt_dataset *ds) {
    for (uint64_t i = 0; i < ds->n_samples; i++) {
        const unsigned char *r = ds->map + ds->index_off + i * ds->record_bytes;
        uint32_t mask = rd32(r + 4);
        if (mask == 0 || (mask >> ds->n_mod) != 0)
            return lt_error(LT_ERR_FORMAT, "dataset %s: sample %llu: presence mask %#x is empty or "
                            "names modalities beyond the %u in the table",
                            ds->path, (unsigned long long)i, mask, ds->n_mod);
        for (uint32_t m = 0; m < ds->n_mod; m++) {
            if (!(mask >> m & 1)) continue;
            uint64_t off = rd64(r + 8 + 12 * m);
            uint32_t len = rd32(r + 16 + 12 * m);
            const lt_ds_modality *md = &ds->mods[m];
            if (len > md->max_len || (md->fixed_len && len != md->max_len) || len == 0)
                return lt_error(LT_ERR_FORMAT, "dataset %s: sample %llu, modality %s: length %u "
                                "(max %u%s)", ds->path, (unsigned long long)i, md->name, len,
                                md->max_len, md->fixed_len ? ", fixed" : "");
            if (off % 2 || off > ds->data_bytes || (uint64_t)len * 2 > ds->data_bytes - off)
                return lt_error(LT_ERR_FORMAT, "dataset %s: sample %llu, modality %s: tokens at "
                                "data offset %llu (+%u) outside the data section of %llu bytes",
                                ds->path, (unsigned long long)i, md->name,
                                (unsigned long long)off, len * 2,
                                (unsigned long long)ds->data_bytes);
            const unsigned char *t = ds->map + ds->data_off + off;
            for (uint32_t k = 0; k < len; k++) {
                uint32_t v = (uint32_t)t[2 * k] | (uint32_t)t[2 * k + 1] << 8;
                if (v >= md->levels)
                    return lt_error(LT_ERR_RANGE, "dataset %s: sample %llu, modality %s: token %u "
                                    "= %u is outside its %u levels", ds->path,
                                    (unsigned long long)i, md->name, k, v, md->levels);
            }
        }
    }
    return LT_OK;
}

lt_status lt_dataset_open(const char *path, lt_dataset **out) {
    if (!path || !out) return lt_error(LT_ERR_INVALID_ARG, "dataset_open: NULL argument");
    *out = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return lt_error(LT_ERR_IO, "dataset %s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return lt_error(LT_ERR_IO, "dataset %s: cannot stat: %s", path, strerror(errno));
    }
    lt_dataset *ds = calloc(1, sizeof *ds);
    if (!ds || !(ds->path = strdup(path))) {
        free(ds);
        close(fd);
        return lt_error(LT_ERR_OUT_OF_MEMORY, "dataset %s: out of host memory", path);
    }
    ds->size = (size_t)st.st_size;
    if (ds->size > 0) {
        void *m = mmap(NULL, ds->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            close(fd);
            lt_status s = lt_error(LT_ERR_IO, "dataset %s: mmap failed: %s", path, strerror(errno));
            free(ds->path);
            free(ds);
            return s;
        }
        ds->map = m;
    }
    close(fd);
    lt_status s = parse_header(ds);
    if (s == LT_OK) s = check_records(ds);
    if (s != LT_OK) {
        lt_dataset_close(ds);
        return s;
    }
    *out = ds;
    return LT_OK;
}

void lt_dataset_close(lt_dataset *ds) {
    if (!ds) return;
    if (ds->map) munmap((void *)ds->map, ds->size);
    free(ds->path);
    free(ds);
}

uint64_t lt_dataset_size(const lt_dataset *ds) { return ds->n_samples; }
int lt_dataset_modality_count(const lt_dataset *ds) { return (int)ds->n_mod; }
const char *lt_dataset_path(const lt_dataset *ds) { return ds->path; }

const lt_ds_modality *lt_dataset_modality(const lt_dataset *ds, int m) {
    return m >= 0 && (uint32_t)m < ds->n_mod ? &ds->mods[m] : NULL;
}

int lt_dataset_find_modality(const lt_dataset *ds, const char *name) {
    for (uint32_t m = 0; m < ds->n_mod; m++)
        if (strcmp(ds->mods[m].name, name) == 0) return (int)m;
    return -1;
}

lt_status lt_dataset_get(const lt_dataset *ds, uint64_t index, lt_ds_sample *out) {
    if (!ds || !out) return lt_error(LT_ERR_INVALID_ARG, "dataset_get: NULL argument");
    if (index >= ds->n_samples)
        return lt_error(LT_ERR_RANGE, "dataset %s: sample %llu of %llu", ds->path,
                        (unsigned long long)index, (unsigned long long)ds->n_samples);
    const unsigned char *r = ds->map + ds->index_off + index * ds->record_bytes;
    memset(out, 0, sizeof *out);
    out->label = (int32_t)rd32(r);
    out->mask = rd32(r + 4);
    for (uint32_t m = 0; m < ds->n_mod; m++) {
        if (!(out->mask >> m & 1)) continue;
        /* Offsets are even and the map is page aligned, so u16 access is aligned. */
        out->tokens[m] = (const uint16_t *)(const void *)(ds->map + ds->data_off + rd64(r + 8 + 12 * m));
        out->len[m] = rd32(r + 16 + 12 * m);
    }
    return LT_OK;
}

/* ------------------------------------------------------------------ writer ---- */

struct lt_dataset_writer {
    char *path, *tmp;
    FILE *f;
    uint32_t n_mod;
    lt_ds_modality mods[LT_DS_MAX_MODALITIES];
    unsigned char *index;
    uint64_t n_samples, cap, data_bytes;
    uint64_t hash; /* FNV over the data written so far */
};

lt_status lt_dataset_writer_open(const char *path, const lt_ds_modality *mods, int n_mod,
                                 lt_dataset_writer **out) {
    if (!path || !mods || !out) return lt_error(LT_ERR_INVALID_ARG, "dataset_writer_open: NULL argument");
    *out = NULL;
    if (n_mod < 1 || n_mod > LT_DS_MAX_MODALITIES)
        return lt_error(LT_ERR_INVALID_ARG, "dataset %s: %d modalities (1..%d)", path, n_mod,
                        LT_DS_MAX_MODALITIES);
    for (int m = 0; m < n_mod; m++) {
        if (mods[m].levels < 1 || mods[m].levels > 65536 || mods[m].max_len < 1 ||
            !memchr(mods[m].name, 0, LT_DS_NAME_LEN) || !mods[m].name[0])
            return lt_error(LT_ERR_INVALID_ARG, "dataset %s: modality %d: needs a name (< %d "
                            "chars), 1..65536 levels and max_len >= 1", path, m, LT_DS_NAME_LEN);
        for (int k = 0; k < m; k++)
            if (!strcmp(mods[k].name, mods[m].name))
                return lt_error(LT_ERR_INVALID_ARG, "dataset %s: modality name '%s' used twice",
                                path, mods[m].name);
    }
    lt_dataset_writer *w = calloc(1, sizeof *w);
    size_t n = strlen(path);
    if (!w || !(w->path = strdup(path)) || !(w->tmp = malloc(n + 16))) {
        if (w) free(w->path);
        free(w);
        return lt_error(LT_ERR_OUT_OF_MEMORY, "dataset %s: out of host memory", path);
    }
    snprintf(w->tmp, n + 16, "%s.tmp%ld", path, (long)getpid());
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        lt_status s = lt_error(LT_ERR_IO, "dataset %s: cannot create %s: %s", path, w->tmp,
                               strerror(errno));
        free(w->tmp);
        free(w->path);
        free(w);
        return s;
    }
    w->n_mod = (uint32_t)n_mod;
    memcpy(w->mods, mods, sizeof(lt_ds_modality) * (size_t)n_mod);
    unsigned char zero[DS_HEADER_BYTES] = {0};
    fwrite(zero, 1, sizeof zero, w->f); /* the real header is written at close */
    w->hash = LT_FNV1A_SEED;
    *out = w;
    return LT_OK;
}

lt_status lt_dataset_writer_add(lt_dataset_writer *w, int32_t label, uint32_t mask,
                                const uint16_t *const *tokens, const uint32_t *len) {
    if (!w || !tokens || !len) return lt_error(LT_ERR_INVALID_ARG, "dataset_writer_add: NULL argument");
    if (mask == 0 || (mask >> w->n_mod) != 0)
        return lt_error(LT_ERR_INVALID_ARG, "dataset %s: sample %llu: presence mask %#x is empty or "
                        "names modalities beyond %u", w->path, (unsigned long long)w->n_samples,
                        mask, w->n_mod);
    for (uint32_t m = 0; m < w->n_mod; m++) {
        if (!(mask >> m & 1)) continue;
        const lt_ds_modality *md = &w->mods[m];
        if (!tokens[m] || len[m] == 0 || len[m] > md->max_len || (md->fixed_len && len[m] != md->max_len))
            return lt_error(LT_ERR_INVALID_ARG, "dataset %s: sample %llu, modality %s: length %u "
                            "(1..%u%s)", w->path, (unsigned long long)w->n_samples, md->name,
                            len[m], md->max_len, md->fixed_len ? ", fixed" : "");
        for (uint32_t k = 0; k < len[m]; k++)
            if (tokens[m][k] >= md->levels)
                return lt_error(LT_ERR_RANGE, "dataset %s: sample %llu, modality %s: token %u = %u "
                                "is outside its %u levels", w->path,
                                (unsigned long long)w->n_samples, md->name, k, tokens[m][k],
                                md->levels);
    }
    if (w->n_samples == w->cap) {
        uint64_t cap = w->cap ? w->cap * 2 : 1024;
        unsigned char *p = realloc(w->index, cap * (8u + 12u * w->n_mod));
        if (!p) return lt_error(LT_ERR_OUT_OF_MEMORY, "dataset %s: index out of host memory", w->path);
        w->index = p;
        w->cap = cap;
    }
    unsigned char *r = w->index + w->n_samples * (8u + 12u * w->n_mod);
    memset(r, 0, 8u + 12u * w->n_mod);
    wr32(r, (uint32_t)label);
    wr32(r + 4, mask);
    for (uint32_t m = 0; m < w->n_mod; m++) {
        if (!(mask >> m & 1)) continue;
        wr64(r + 8 + 12 * m, w->data_bytes);
        wr32(r + 16 + 12 * m, len[m]);
        for (uint32_t k = 0; k < len[m]; k++) {
            unsigned char b[2] = {(unsigned char)tokens[m][k], (unsigned char)(tokens[m][k] >> 8)};
            if (fwrite(b, 1, 2, w->f) != 2)
                return lt_error(LT_ERR_IO, "dataset %s: write failed: %s", w->tmp, strerror(errno));
            w->hash = lt_fnv1a(w->hash, b, 2);
        }
        w->data_bytes += 2ull * len[m];
    }
    w->n_samples++;
    return LT_OK;
}

void lt_dataset_writer_abort(lt_dataset_writer *w) {
    if (!w) return;
    if (w->f) fclose(w->f);
    remove(w->tmp);
    free(w->index);
    free(w->tmp);
    free(w->path);
    free(w);
}

lt_status lt_dataset_writer_close(lt_dataset_writer *w) {
    if (!w) return lt_error(LT_ERR_INVALID_ARG, "dataset_writer_close: NULL writer");
    unsigned char table[LT_DS_MAX_MODALITIES * DS_TABLE_ENTRY];
    memset(table, 0, sizeof table);
    for (uint32_t m = 0; m < w->n_mod; m++) {
        unsigned char *e = table + m * DS_TABLE_ENTRY;
        memcpy(e, w->mods[m].name, LT_DS_NAME_LEN);
        wr32(e + 16, w->mods[m].levels);
        wr32(e + 20, w->mods[m].max_len);
        wr32(e + 24, w->mods[m].fixed_len ? 1u : 0u);
    }
    size_t table_bytes = w->n_mod * DS_TABLE_ENTRY;
    size_t index_bytes = (size_t)w->n_samples * (8u + 12u * w->n_mod);
    uint64_t h = lt_fnv1a(w->hash, table, table_bytes);
    h = lt_fnv1a(h, w->index, index_bytes);
    unsigned char hdr[DS_HEADER_BYTES] = {0};
    memcpy(hdr, DS_MAGIC, 8);
    wr32(hdr + 8, DS_VERSION);
    wr32(hdr + 12, w->n_mod);
    wr64(hdr + 16, w->n_samples);
    wr64(hdr + 24, DS_HEADER_BYTES);
    wr64(hdr + 32, w->data_bytes);
    wr64(hdr + 40, DS_HEADER_BYTES + w->data_bytes);
    wr64(hdr + 48, DS_HEADER_BYTES + w->data_bytes + table_bytes);
    wr64(hdr + 56, h);
    int ok = fwrite(table, 1, table_bytes, w->f) == table_bytes &&
             (index_bytes == 0 || fwrite(w->index, 1, index_bytes, w->f) == index_bytes) &&
             fseek(w->f, 0, SEEK_SET) == 0 && fwrite(hdr, 1, sizeof hdr, w->f) == sizeof hdr &&
             fflush(w->f) == 0 && fsync(fileno(w->f)) == 0;
    int closed = fclose(w->f) == 0;
    w->f = NULL;
    if (!ok || !closed || rename(w->tmp, w->path) != 0) {
        lt_status s = lt_error(LT_ERR_IO, "dataset %s: writing %s failed: %s", w->path, w->tmp,
                               strerror(errno));
        lt_dataset_writer_abort(w);
        return s;
    }
    free(w->index);
    free(w->tmp);
    free(w->path);
    free(w);
    return LT_OK;
}
