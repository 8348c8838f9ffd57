/* core/checkpoint_save.c - writing a trainer checkpoint as safetensors.
 *
 * Crash safety: the bytes go to "<path>.tmp.<pid>" in the same directory, which is
 * flushed, fsync'ed and renamed over <path> (rename is atomic on POSIX file systems);
 * the directory is fsync'ed too so the rename itself survives a power cut. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint_internal.h"
#include "json_write.h"

/* The header JSON, padded with spaces to a multiple of 8 bytes (the safetensors
 * convention, so the data that follows stays aligned). */
static lt_status build_header(const lt_trainer *t, lt_sbuf *s) {
    const lt_model *m = t->model;
    char *cfg = NULL, *opt = NULL;
    LT_TRY(lt_model_config_to_json(&m->cfg, &cfg));
    lt_status st = lt_train_config_to_json(&t->tc, &opt);
    if (st != LT_OK) {
        free(cfg);
        return st;
    }
    lt_sbuf_printf(s, "{\"__metadata__\":{\"format\":\"%s\",\"format_version\":\"%d\",\"config\":",
                   LT_CHECKPOINT_FORMAT, LT_CHECKPOINT_VERSION);
    lt_sbuf_json_string(s, cfg);
    lt_sbuf_printf(s, ",\"optimizer\":");
    lt_sbuf_json_string(s, opt);
    lt_sbuf_printf(s, ",\"step\":\"%lld\",\"adam_step\":\"%lld\",\"nan_steps\":\"%lld\","
                      "\"data_position\":\"%llu\",\"rng_seed\":\"%llu\",\"rng_counter\":\"%llu\"}",
                   (long long)t->step, (long long)t->adam_step, (long long)t->nan_steps,
                   (unsigned long long)t->data_pos, (unsigned long long)t->tc.seed,
                   (unsigned long long)t->rng_counter);
    free(cfg);
    free(opt);
    uint64_t off = 0;
    for (int part = 0; part < LT_CKPT_PARTS; part++) {
        for (int i = 0; i < m->n_tensors; i++) {
            const lt_param_info *p = &m->info[i];
            char name[LT_NAME_LEN + 16];
            lt_ckpt_tensor_name(part, p, name, sizeof name);
            const uint64_t bytes = (uint64_t)p->numel * 4;
            lt_sbuf_printf(s, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld", name, (long long)p->shape[0]);
            if (p->ndim == 2) lt_sbuf_printf(s, ",%lld", (long long)p->shape[1]);
            lt_sbuf_printf(s, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                           (unsigned long long)(off + bytes));
            off += bytes;
        }
    }
    lt_sbuf_printf(s, "}");
    while (s->n % 8) lt_sbuf_printf(s, " ");
    return lt_sbuf_check(s, "checkpoint header");
}

static lt_status write_all(FILE *f, const void *p, size_t n, const char *path) {
    if (n && fwrite(p, 1, n, f) != n)
        return lt_error(LT_ERR_IO, "checkpoint: writing %s: %s", path, strerror(errno));
    return LT_OK;
}

static lt_status write_body(const lt_trainer *t, FILE *f, const char *tmp, const lt_sbuf *hdr) {
    const lt_model *m = t->model;
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)hdr->n >> (8 * i));
    LT_TRY(write_all(f, len, 8, tmp));
    LT_TRY(write_all(f, hdr->p, hdr->n, tmp));
    float *host = malloc(m->n_flat * sizeof(float) + 1);
    if (!host) return lt_error(LT_ERR_OUT_OF_MEMORY, "checkpoint: %zu floats", m->n_flat);
    lt_status s = LT_OK;
    for (int part = 0; part < LT_CKPT_PARTS && s == LT_OK; part++) {
        const lt_tensor *flat = lt_ckpt_part_tensor(t, part);
        s = lt_tensor_download(host, flat, m->n_flat * sizeof(float));
        /* The files are little endian; so is every host we build for (checked at load). */
        for (int i = 0; i < m->n_tensors && s == LT_OK; i++)
            s = write_all(f, host + m->info[i].offset, (size_t)m->info[i].numel * 4, tmp);
    }
    free(host);
    return s;
}

static void fsync_dir_of(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) dir[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: some file systems refuse directory fsync */
        close(fd);
    }
}

lt_status lt_checkpoint_save(const lt_trainer *t, const char *path) {
    if (!t || !path) return lt_error(LT_ERR_INVALID_ARG, "checkpoint: NULL trainer or path");
    if (!lt_ckpt_host_is_little_endian())
        return lt_error(LT_ERR_UNSUPPORTED, "checkpoint: big-endian hosts are not supported");
    lt_sbuf hdr = {0};
    lt_status s = build_header(t, &hdr);
    if (s != LT_OK) {
        lt_sbuf_free(&hdr);
        return s;
    }
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        lt_sbuf_free(&hdr);
        return lt_error(LT_ERR_INVALID_ARG, "checkpoint: path too long: %s", path);
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        lt_sbuf_free(&hdr);
        return lt_error(LT_ERR_IO, "checkpoint: cannot create %s: %s", tmp, strerror(errno));
    }
    s = write_body(t, f, tmp, &hdr);
    lt_sbuf_free(&hdr);
    if (s == LT_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        s = lt_error(LT_ERR_IO, "checkpoint: flushing %s: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && s == LT_OK)
        s = lt_error(LT_ERR_IO, "checkpoint: closing %s: %s", tmp, strerror(errno));
    if (s == LT_OK && rename(tmp, path) != 0)
        s = lt_error(LT_ERR_IO, "checkpoint: renaming %s to %s: %s", tmp, path, strerror(errno));
    if (s != LT_OK) {
        remove(tmp);
        return s;
    }
    fsync_dir_of(path);
    return LT_OK;
}
