/* core/model_config_json.c - model configs as JSON: reading (cJSON) and writing (no
 * library needed).
 *
 * Format (configs/tiny.json):
 *   {"name": "tiny", "n_layer": 2, "n_head": 2, "d_model": 64, "head_dim": 32,
 *    "mlp_ratio": 4, "vocab_size": 300, "attention": "causal", "norm_eps": 1e-5,
 *    "init_std": 0.02,
 *    "modalities": [{"name": "a", "tokens": [0, 256], "begin": 256, "end": 257,
 *                    "max_len": 48}, ...]}
 * Unknown keys are errors, so a typo ("n_layers") is reported instead of ignored. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_write.h"
#include "loretta/model.h"

#ifdef LT_HAVE_CJSON
#include <cjson/cJSON.h>

static lt_status get_int(const cJSON *obj, const char *key, const char *where, int required,
                         int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        if (required) return lt_error(LT_ERR_FORMAT, "config: %s: missing \"%s\"", where, key);
        return LT_OK;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d == floor(d)) || d < -2147483648.0 || d > 2147483647.0)
        return lt_error(LT_ERR_FORMAT, "config: %s: \"%s\" must be an integer", where, key);
    *out = (int)d;
    return LT_OK;
}

static lt_status get_float(const cJSON *obj, const char *key, const char *where, float *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return LT_OK;
    if (!cJSON_IsNumber(v))
        return lt_error(LT_ERR_FORMAT, "config: %s: \"%s\" must be a number", where, key);
    *out = (float)v->valuedouble;
    return LT_OK;
}

static lt_status get_name(const cJSON *obj, const char *key, const char *where, char *out,
                          size_t cap, int required) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        if (required) return lt_error(LT_ERR_FORMAT, "config: %s: missing \"%s\"", where, key);
        return LT_OK;
    }
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap)
        return lt_error(LT_ERR_FORMAT, "config: %s: \"%s\" must be a string of under %zu bytes",
                        where, key, cap);
    snprintf(out, cap, "%s", v->valuestring);
    return LT_OK;
}

static lt_status only_keys(const cJSON *obj, const char *where, const char *const *keys) {
    for (const cJSON *it = obj->child; it; it = it->next) {
        int known = 0;
        for (int i = 0; keys[i]; i++) known |= it->string && !strcmp(it->string, keys[i]);
        if (!known)
            return lt_error(LT_ERR_FORMAT, "config: %s: unknown key \"%s\"", where,
                            it->string ? it->string : "?");
    }
    return LT_OK;
}

static lt_status parse_modality(const cJSON *o, int i, lt_modality *m) {
    char where[64];
    snprintf(where, sizeof where, "modalities[%d]", i);
    if (!cJSON_IsObject(o)) return lt_error(LT_ERR_FORMAT, "config: %s must be an object", where);
    static const char *const keys[] = {"name", "tokens", "begin", "end", "max_len", NULL};
    LT_TRY(only_keys(o, where, keys));
    memset(m, 0, sizeof *m);
    LT_TRY(get_name(o, "name", where, m->name, sizeof m->name, 1));
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "tokens");
    if (!cJSON_IsArray(r) || cJSON_GetArraySize(r) != 2 ||
        !cJSON_IsNumber(cJSON_GetArrayItem(r, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(r, 1)))
        return lt_error(LT_ERR_FORMAT, "config: %s: \"tokens\" must be [lo, hi]", where);
    double lo = cJSON_GetArrayItem(r, 0)->valuedouble, hi = cJSON_GetArrayItem(r, 1)->valuedouble;
    if (lo != floor(lo) || hi != floor(hi) || lo < 0 || hi > 2147483647.0)
        return lt_error(LT_ERR_FORMAT, "config: %s: \"tokens\" must hold two integers >= 0", where);
    m->tok_lo = (int32_t)lo;
    m->tok_hi = (int32_t)hi;
    int v = 0;
    LT_TRY(get_int(o, "begin", where, 1, &v));
    m->begin = v;
    LT_TRY(get_int(o, "end", where, 1, &v));
    m->end = v;
    LT_TRY(get_int(o, "max_len", where, 1, &v));
    m->max_len = v;
    return LT_OK;
}

static lt_status parse_root(const cJSON *root, lt_model_config *c) {
    if (!cJSON_IsObject(root)) return lt_error(LT_ERR_FORMAT, "config: the top level must be an object");
    static const char *const keys[] = {"name", "n_layer", "n_head", "d_model", "head_dim",
                                       "mlp_ratio", "vocab_size", "attention", "norm_eps",
                                       "init_std", "modalities", NULL};
    LT_TRY(only_keys(root, "top level", keys));
    memset(c, 0, sizeof *c);
    c->mlp_ratio = 4;
    c->causal = 1;
    c->norm_eps = 1e-5f;
    c->init_std = 0.02f;
    LT_TRY(get_name(root, "name", "top level", c->name, sizeof c->name, 0));
    LT_TRY(get_int(root, "n_layer", "top level", 1, &c->n_layer));
    LT_TRY(get_int(root, "n_head", "top level", 1, &c->n_head));
    LT_TRY(get_int(root, "d_model", "top level", 1, &c->d_model));
    LT_TRY(get_int(root, "head_dim", "top level", 0, &c->head_dim));
    LT_TRY(get_int(root, "mlp_ratio", "top level", 0, &c->mlp_ratio));
    LT_TRY(get_int(root, "vocab_size", "top level", 1, &c->vocab_size));
    LT_TRY(get_float(root, "norm_eps", "top level", &c->norm_eps));
    LT_TRY(get_float(root, "init_std", "top level", &c->init_std));
    char mode[32] = "causal";
    LT_TRY(get_name(root, "attention", "top level", mode, sizeof mode, 0));
    if (!strcmp(mode, "causal")) c->causal = 1;
    else if (!strcmp(mode, "bidirectional")) c->causal = 0;
    else return lt_error(LT_ERR_FORMAT, "config: \"attention\" is \"%s\", expected \"causal\" or \"bidirectional\"", mode);
    const cJSON *mods = cJSON_GetObjectItemCaseSensitive(root, "modalities");
    if (!cJSON_IsArray(mods)) return lt_error(LT_ERR_FORMAT, "config: \"modalities\" must be an array");
    int n = cJSON_GetArraySize(mods);
    if (n < 1 || n > LT_MAX_MODALITIES)
        return lt_error(LT_ERR_FORMAT, "config: %d modalities, expected 1 to %d", n, LT_MAX_MODALITIES);
    c->n_modality = n;
    for (int i = 0; i < n; i++) LT_TRY(parse_modality(cJSON_GetArrayItem(mods, i), i, &c->modalities[i]));
    return lt_model_config_validate(c);
}

lt_status lt_model_config_from_json(const char *json, lt_model_config *out) {
    if (!json || !out) return lt_error(LT_ERR_INVALID_ARG, "config: NULL JSON or output");
    cJSON *root = cJSON_Parse(json);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        return lt_error(LT_ERR_FORMAT, "config: JSON syntax error at byte %ld",
                        at ? (long)(at - json) : -1L);
    }
    lt_model_config c;
    lt_status s = parse_root(root, &c);
    cJSON_Delete(root);
    if (s == LT_OK) *out = c;
    return s;
}

#else

lt_status lt_model_config_from_json(const char *json, lt_model_config *out) {
    (void)json;
    (void)out;
    return lt_error(LT_ERR_UNSUPPORTED,
                    "config: JSON configs need cJSON (libcjson-dev), which this build lacks; "
                    "use a preset (tiny, laptop, paper)");
}

#endif

lt_status lt_model_config_load(const char *path, lt_model_config *out) {
    if (!path || !out) return lt_error(LT_ERR_INVALID_ARG, "config: NULL path or output");
    FILE *f = fopen(path, "rb");
    if (!f) return lt_error(LT_ERR_IO, "config: cannot open %s", path);
    char *text = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > (64u << 20)) {
                free(text);
                fclose(f);
                return lt_error(LT_ERR_FORMAT, "config: %s is larger than 64 MiB", path);
            }
            char *p = realloc(text, cap);
            if (!p) {
                free(text);
                fclose(f);
                return lt_error(LT_ERR_OUT_OF_MEMORY, "config: reading %s", path);
            }
            text = p;
        }
        size_t got = fread(text + n, 1, 4096, f);
        n += got;
        if (got < 4096) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(text);
        return lt_error(LT_ERR_IO, "config: read error on %s", path);
    }
    text[n] = '\0';
    lt_status s = lt_model_config_from_json(text, out);
    free(text);
    if (s != LT_OK) return lt_error_context(s, "%s: ", path);
    return LT_OK;
}

lt_status lt_model_config_to_json(const lt_model_config *c, char **out) {
    if (!c || !out) return lt_error(LT_ERR_INVALID_ARG, "config: NULL argument");
    lt_sbuf s = {0};
    lt_sbuf_printf(&s, "{\"name\": ");
    lt_sbuf_json_string(&s, c->name);
    lt_sbuf_printf(&s, ", \"n_layer\": %d, \"n_head\": %d, \"d_model\": %d, \"head_dim\": %d, "
                       "\"mlp_ratio\": %d, \"vocab_size\": %d, \"attention\": \"%s\", \"norm_eps\": ",
                   c->n_layer, c->n_head, c->d_model, c->head_dim, c->mlp_ratio, c->vocab_size,
                   c->causal ? "causal" : "bidirectional");
    lt_sbuf_json_float(&s, c->norm_eps);
    lt_sbuf_printf(&s, ", \"init_std\": ");
    lt_sbuf_json_float(&s, c->init_std);
    lt_sbuf_printf(&s, ", \"modalities\": [");
    for (int i = 0; i < c->n_modality; i++) {
        const lt_modality *m = &c->modalities[i];
        lt_sbuf_printf(&s, "%s{\"name\": ", i ? ", " : "");
        lt_sbuf_json_string(&s, m->name);
        lt_sbuf_printf(&s, ", \"tokens\": [%d, %d], \"begin\": %d, \"end\": %d, \"max_len\": %d}",
                       m->tok_lo, m->tok_hi, m->begin, m->end, m->max_len);
    }
    lt_sbuf_printf(&s, "]}");
    lt_status st = lt_sbuf_check(&s, "config to JSON");
    if (st != LT_OK) {
        lt_sbuf_free(&s);
        return st;
    }
    *out = s.p;
    return LT_OK;
}
