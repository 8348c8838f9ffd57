/* core/checkpoint_load.c - reading a trainer checkpoint (safetensors).
 *
 * Nothing in the file is trusted before it is checked against the file size: the header
 * length, then each tensor's dtype, shape and data_offsets. All data are read into host
 * memory first and uploaded only when every check passed, so a failed load leaves the
 * trainer as it was. Messages name the file, the byte offset and the field. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint_internal.h"

#ifdef LT_HAVE_CJSON
#include <cjson/cJSON.h>

#define LT_CKPT_MAX_HEADER (100u << 20) /* the safetensors limit */

typedef struct ckpt_file {
    const char *path;
    FILE *f;
    uint64_t fsize, hlen, data_off;
    cJSON *root;
    const cJSON *meta;
} ckpt_file;

static void ckpt_close(ckpt_file *c) {
    if (c->f) fclose(c->f);
    cJSON_Delete(c->root);
    memset(c, 0, sizeof *c);
}

static lt_status ckpt_open(const char *path, ckpt_file *c) {
    memset(c, 0, sizeof *c);
    c->path = path;
    c->f = fopen(path, "rb");
    if (!c->f) return lt_error(LT_ERR_IO, "checkpoint %s: cannot open: %s", path, strerror(errno));
    if (fseek(c->f, 0, SEEK_END) != 0)
        return lt_error(LT_ERR_IO, "checkpoint %s: cannot seek", path);
    long size = ftell(c->f);
    rewind(c->f);
    if (size < 0) return lt_error(LT_ERR_IO, "checkpoint %s: cannot tell its size", path);
    c->fsize = (uint64_t)size;
    unsigned char len[8];
    if (c->fsize < 8 || fread(len, 1, 8, c->f) != 8)
        return lt_error(LT_ERR_FORMAT, "checkpoint %s: offset 0: file of %llu bytes is too short for the 8-byte header length",
                        path, (unsigned long long)c->fsize);
    for (int i = 0; i < 8; i++) c->hlen |= (uint64_t)len[i] << (8 * i);
    if (c->hlen < 2 || c->hlen > LT_CKPT_MAX_HEADER || c->hlen > c->fsize - 8)
        return lt_error(LT_ERR_FORMAT, "checkpoint %s: offset 0: header length %llu does not fit the file of %llu bytes",
                        path, (unsigned long long)c->hlen, (unsigned long long)c->fsize);
    c->data_off = 8 + c->hlen;
    char *json = malloc((size_t)c->hlen + 1);
    if (!json) return lt_error(LT_ERR_OUT_OF_MEMORY, "checkpoint %s: header of %llu bytes", path,
                               (unsigned long long)c->hlen);
    if (fread(json, 1, (size_t)c->hlen, c->f) != (size_t)c->hlen) {
        free(json);
        return lt_error(LT_ERR_IO, "checkpoint %s: offset 8: short read of the header", path);
    }
    json[c->hlen] = '\0';
    c->root = cJSON_ParseWithLength(json, (size_t)c->hlen);
    if (!c->root) {
        const char *at = cJSON_GetErrorPtr();
        long where = at && at >= json && at <= json + c->hlen ? (long)(at - json) + 8 : 8;
        free(json);
        return lt_error(LT_ERR_FORMAT, "checkpoint %s: offset %ld: header is not valid JSON", path, where);
    }
    free(json);
    if (!cJSON_IsObject(c->root))
        return lt_error(LT_ERR_FORMAT, "checkpoint %s: offset 8: header is not a JSON object", path);
    c->meta = cJSON_GetObjectItemCaseSensitive(c->root, "__metadata__");
    if (!cJSON_IsObject(c->meta))
        return lt_error(LT_ERR_FORMAT, "checkpoint %s: header field __metadata__ is missing", path);
    return LT_OK;
}

static const char *meta_str(const ckpt_file *c, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->meta, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static lt_status meta_u64(const ckpt_file *c, const char *key, uint64_t *out) {
    const char *s = meta_str(c, key);
    char *end = NULL;
    errno = 0;
    unsigned long long v = s ? strtoull(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || s[0] == '-')
        return lt_error(LT_ERR_FORMAT, "checkpoint %s: header field __metadata__.%s: %s", c->path, key,
                        s ? "not a non-negative integer" : "missing");
    *out = v;
    return LT_OK;
}

static lt_status parse_optimizer(const ckpt_file *c, lt_train_config *tc) {
    const char *s = meta_str(c, "optimizer");
    cJSON *o = s ? cJSON_Parse(s) : NULL;
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return lt_error(LT_ERR_FORMAT, "checkpoint %s: header field __metadata__.optimizer: %s",
                        c->path, s ? "not a JSON object" : "missing");
    }
    lt_train_config_default(tc);
    struct { const char *key; double *dst; } nums[] = {
        {"lr_max", &tc->lr_max}, {"lr_min", &tc->lr_min}, {"lr_init", &tc->lr_init},
        {"beta1", &tc->beta1}, {"beta2", &tc->beta2}, {"eps", &tc->eps},
        {"weight_decay", &tc->weight_decay}, {"grad_clip", &tc->grad_clip},
    };
    lt_status st = LT_OK;
    for (size_t i = 0; i < sizeof nums / sizeof nums[0] && st == LT_OK; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, nums[i].key);
        if (!cJSON_IsNumber(v))
            st = lt_error(LT_ERR_FORMAT, "checkpoint %s: header field __metadata__.optimizer.%s: missing or not a number",
                          c->path, nums[i].key);
        else
            *nums[i].dst = v->valuedouble;
    }
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "warmup_steps");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "total_steps");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "max_nan_steps");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(o, "seed");
    if (st == LT_OK && (!cJSON_IsNumber(w) || !cJSON_IsNumber(t) || !cJSON_IsNumber(n) ||
                        !cJSON_IsString(seed)))
        st = lt_error(LT_ERR_FORMAT, "checkpoint %s: header field __metadata__.optimizer: warmup_steps, total_steps, max_nan_steps or seed missing",
                      c->path);
    if (st == LT_OK) {
        tc->warmup_steps = (int64_t)w->valuedouble;
        tc->total_steps = (int64_t)t->valuedouble;
        tc->max_nan_steps = (int)n->valuedouble;
        tc->seed = strtoull(seed->valuestring, NULL, 10);
        st = lt_train_config_validate(tc);
        if (st != LT_OK) st = lt_error_context(st, "checkpoint %s: __metadata__.optimizer: ", c->path);
    }
    cJSON_Delete(o);
    return st;
}

static lt_status parse_config(const ckpt_file *c, lt_model_config *mc, lt_train_config *tc) {
    const char *fmt = meta_str(c, "format"), *ver = meta_str(c, "format_version");
    if (!fmt || strcmp(fmt, LT_CHECKPOINT_FORMAT) != 0)
        return lt_error(LT_ERR_FORMAT, "checkpoint %s: header field __metadata__.format is '%s', expected '%s'",
                        c->path, fmt ? fmt : "(missing)", LT_CHECKPOINT_FORMAT);
    if (!ver || atoi(ver) != LT_CHECKPOINT_VERSION)
        return lt_error(LT_ERR_FORMAT, "checkpoint %s: header field __metadata__.format_version is '%s', this build reads %d",
                        c->path, ver ? ver : "(missing)", LT_CHECKPOINT_VERSION);
    const char *cfg = meta_str(c, "config");
    if (!cfg) return lt_error(LT_ERR_FORMAT, "checkpoint %s: header field __metadata__.config is missing", c->path);
    lt_status s = lt_model_config_from_json(cfg, mc);
    if (s != LT_OK) return lt_error_context(s, "checkpoint %s: __metadata__.config: ", c->path);
    return parse_optimizer(c, tc);
}

/* Checks one tensor entry and reads its bytes into dst (numel floats). */
static lt_status read_tensor(const ckpt_file *c, const char *name, const lt_param_info *p, float *dst) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(c->root, name);
    if (!cJSON_IsObject(e))
        return lt_error(LT_ERR_FORMAT, "checkpoint %s: tensor '%s' is missing from the header", c->path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!cJSON_IsString(dt) || strcmp(dt->valuestring, "F32") != 0)
        return lt_error(LT_ERR_DTYPE, "checkpoint %s: tensor '%s' field dtype is %s, expected F32", c->path, name,
                        cJSON_IsString(dt) ? dt->valuestring : "missing");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    int ok = cJSON_IsArray(sh) && cJSON_GetArraySize(sh) == p->ndim;
    for (int i = 0; ok && i < p->ndim; i++) {
        const cJSON *d = cJSON_GetArrayItem(sh, i);
        ok = cJSON_IsNumber(d) && d->valuedouble == (double)p->shape[i];
    }
    if (!ok) {
        char want[64];
        if (p->ndim == 2)
            snprintf(want, sizeof want, "[%lld,%lld]", (long long)p->shape[0], (long long)p->shape[1]);
        else
            snprintf(want, sizeof want, "[%lld]", (long long)p->shape[0]);
        char *got = sh ? cJSON_PrintUnformatted(sh) : NULL;
        lt_status s = lt_error(LT_ERR_SHAPE, "checkpoint %s: tensor '%s' field shape is %s, the model needs %s",
                               c->path, name, got ? got : "missing", want);
        free(got);
        return s;
    }
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    const cJSON *b0 = cJSON_IsArray(off) ? cJSON_GetArrayItem(off, 0) : NULL;
    const cJSON *b1 = cJSON_IsArray(off) ? cJSON_GetArrayItem(off, 1) : NULL;
    if (!cJSON_IsNumber(b0) || !cJSON_IsNumber(b1) || cJSON_GetArraySize(off) != 2 ||
        b0->valuedouble < 0 || b1->valuedouble < b0->valuedouble || b1->valuedouble > 1.8e19)
        return lt_error(LT_ERR_FORMAT, "checkpoint %s: tensor '%s' field data_offsets is not [begin, end]", c->path, name);
    const uint64_t begin = (uint64_t)b0->valuedouble, end = (uint64_t)b1->valuedouble;
    const uint64_t want = (uint64_t)p->numel * 4;
    if (end - begin != want)
        return lt_error(LT_ERR_FORMAT, "checkpoint %s: tensor '%s' field data_offsets [%llu, %llu] spans %llu bytes, its shape needs %llu",
                        c->path, name, (unsigned long long)begin, (unsigned long long)end,
                        (unsigned long long)(end - begin), (unsigned long long)want);
    if (end > c->fsize - c->data_off)
        return lt_error(LT_ERR_FORMAT, "checkpoint %s: offset %llu: tensor '%s' ends past the end of the file (%llu bytes; truncated?)",
                        c->path, (unsigned long long)(c->data_off + end), name,
                        (unsigned long long)c->fsize);
    if (fseek(c->f, (long)(c->data_off + begin), SEEK_SET) != 0 ||
        fread(dst, 1, (size_t)want, c->f) != (size_t)want)
        return lt_error(LT_ERR_IO, "checkpoint %s: offset %llu: reading tensor '%s' failed", c->path,
                        (unsigned long long)(c->data_off + begin), name);
    return LT_OK;
}

/* Every header entry must be a tensor the model knows, and the data must end the file. */
static lt_status check_coverage(const ckpt_file *c, const lt_model *m) {
    uint64_t max_end = 0;
    int count = 0;
    for (const cJSON *it = c->root->child; it; it = it->next) {
        if (it->string && !strcmp(it->string, "__metadata__")) continue;
        count++;
        int known = 0;
        for (int part = 0; part < LT_CKPT_PARTS && !known; part++)
            for (int i = 0; i < m->n_tensors && !known; i++) {
                char name[LT_NAME_LEN + 16];
                lt_ckpt_tensor_name(part, &m->info[i], name, sizeof name);
                known = it->string && !strcmp(it->string, name);
            }
        if (!known)
            return lt_error(LT_ERR_FORMAT, "checkpoint %s: header names tensor '%s', which this model does not have",
                            c->path, it->string ? it->string : "?");
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        const cJSON *b1 = cJSON_IsArray(off) ? cJSON_GetArrayItem(off, 1) : NULL;
        if (cJSON_IsNumber(b1) && b1->valuedouble > (double)max_end) max_end = (uint64_t)b1->valuedouble;
    }
    if (count != LT_CKPT_PARTS * m->n_tensors)
        return lt_error(LT_ERR_FORMAT, "checkpoint %s: header has %d tensors, expected %d", c->path, count,
                        LT_CKPT_PARTS * m->n_tensors);
    if (c->data_off + max_end > c->fsize)
        return lt_error(LT_ERR_FORMAT, "checkpoint %s: offset %llu: the tensors end at byte %llu but the file has only %llu bytes (truncated?)",
                        c->path, (unsigned long long)c->fsize, (unsigned long long)(c->data_off + max_end),
                        (unsigned long long)c->fsize);
    if (c->data_off + max_end < c->fsize)
        return lt_error(LT_ERR_FORMAT, "checkpoint %s: offset %llu: %llu bytes follow the last tensor, the file has %llu",
                        c->path, (unsigned long long)(c->data_off + max_end),
                        (unsigned long long)(c->fsize - c->data_off - max_end), (unsigned long long)c->fsize);
    return LT_OK;
}

lt_status lt_checkpoint_read_config(const char *path, lt_model_config *mc, lt_train_config *tc) {
    if (!path || !mc || !tc) return lt_error(LT_ERR_INVALID_ARG, "checkpoint: NULL argument");
    ckpt_file c;
    lt_status s = ckpt_open(path, &c);
    if (s == LT_OK) s = parse_config(&c, mc, tc);
    ckpt_close(&c);
    return s;
}

static int same_config(const lt_model_config *a, const lt_model_config *b) {
    char *ja = NULL, *jb = NULL;
    int same = lt_model_config_to_json(a, &ja) == LT_OK && lt_model_config_to_json(b, &jb) == LT_OK &&
               !strcmp(ja, jb);
    free(ja);
    free(jb);
    return same;
}

lt_status lt_checkpoint_restore(lt_trainer *t, const char *path) {
    if (!t || !path) return lt_error(LT_ERR_INVALID_ARG, "checkpoint: NULL trainer or path");
    if (!lt_ckpt_host_is_little_endian())
        return lt_error(LT_ERR_UNSUPPORTED, "checkpoint: big-endian hosts are not supported");
    const lt_model *m = t->model;
    ckpt_file c;
    lt_model_config mc;
    lt_train_config tc;
    uint64_t step = 0, adam_step = 0, nan_steps = 0, data_pos = 0, rng_counter = 0;
    float *host[LT_CKPT_PARTS] = {NULL, NULL, NULL};
    lt_status s = ckpt_open(path, &c);
    if (s == LT_OK) s = parse_config(&c, &mc, &tc);
    if (s == LT_OK && !same_config(&mc, &m->cfg))
        s = lt_error(LT_ERR_SHAPE, "checkpoint %s: its model config (%s) differs from the trainer's (%s)",
                     path, mc.name, m->cfg.name);
    if (s == LT_OK) s = meta_u64(&c, "step", &step);
    if (s == LT_OK) s = meta_u64(&c, "adam_step", &adam_step);
    if (s == LT_OK) s = meta_u64(&c, "nan_steps", &nan_steps);
    if (s == LT_OK) s = meta_u64(&c, "data_position", &data_pos);
    if (s == LT_OK) s = meta_u64(&c, "rng_counter", &rng_counter);
    if (s == LT_OK) s = check_coverage(&c, m);
    for (int part = 0; part < LT_CKPT_PARTS && s == LT_OK; part++) {
        host[part] = calloc(m->n_flat + 1, sizeof(float));
        if (!host[part]) s = lt_error(LT_ERR_OUT_OF_MEMORY, "checkpoint %s: %zu floats", path, m->n_flat);
        for (int i = 0; i < m->n_tensors && s == LT_OK; i++) {
            char name[LT_NAME_LEN + 16];
            lt_ckpt_tensor_name(part, &m->info[i], name, sizeof name);
            s = read_tensor(&c, name, &m->info[i], host[part] + m->info[i].offset);
        }
    }
    ckpt_close(&c);
    /* Everything checked: only now touch the trainer. */
    for (int part = 0; part < LT_CKPT_PARTS && s == LT_OK; part++)
        s = lt_tensor_upload((lt_tensor *)lt_ckpt_part_tensor(t, part), host[part],
                             m->n_flat * sizeof(float));
    for (int part = 0; part < LT_CKPT_PARTS; part++) free(host[part]);
    if (s != LT_OK) return s;
    t->tc = tc;
    t->step = (int64_t)step;
    t->adam_step = (int64_t)adam_step;
    t->nan_steps = (int64_t)nan_steps;
    t->data_pos = data_pos;
    t->rng_counter = rng_counter;
    return LT_OK;
}

lt_status lt_checkpoint_load(const char *path, lt_device *dev, int max_B, int max_T,
                             lt_trainer **out) {
    if (!path || !dev || !out) return lt_error(LT_ERR_INVALID_ARG, "checkpoint: NULL argument");
    *out = NULL;
    lt_model_config mc;
    lt_train_config tc;
    LT_TRY(lt_checkpoint_read_config(path, &mc, &tc));
    lt_trainer *t = NULL;
    LT_TRY(lt_trainer_create(dev, &mc, &tc, max_B, max_T, &t));
    lt_status s = lt_checkpoint_restore(t, path);
    if (s != LT_OK) {
        lt_trainer_free(t);
        return s;
    }
    *out = t;
    return LT_OK;
}

#else

static lt_status no_json(const char *path) {
    return lt_error(LT_ERR_UNSUPPORTED,
                    "checkpoint %s: reading checkpoints needs cJSON (libcjson-dev), which this build lacks",
                    path ? path : "");
}
lt_status lt_checkpoint_read_config(const char *path, lt_model_config *mc, lt_train_config *tc) {
    (void)mc;
    (void)tc;
    return no_json(path);
}
lt_status lt_checkpoint_restore(lt_trainer *t, const char *path) {
    (void)t;
    return no_json(path);
}
lt_status lt_checkpoint_load(const char *path, lt_device *dev, int max_B, int max_T,
                             lt_trainer **out) {
    (void)dev;
    (void)max_B;
    (void)max_T;
    if (out) *out = NULL;
    return no_json(path);
}

#endif
