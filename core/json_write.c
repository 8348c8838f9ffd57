/* core/json_write.c - growable strings and JSON string/number writers. */
#include "json_write.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(lt_sbuf *s, size_t extra) {
    if (s->oom) return 0;
    if (s->n + extra + 1 <= s->cap) return 1;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < s->n + extra + 1) cap *= 2;
    char *p = realloc(s->p, cap);
    if (!p) {
        s->oom = 1;
        return 0;
    }
    s->p = p;
    s->cap = cap;
    return 1;
}

void lt_sbuf_printf(lt_sbuf *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len >= 0 && reserve(s, (size_t)len)) {
        vsnprintf(s->p + s->n, (size_t)len + 1, fmt, ap2);
        s->n += (size_t)len;
    } else if (len < 0) {
        s->oom = 1;
    }
    va_end(ap2);
}

void lt_sbuf_json_string(lt_sbuf *s, const char *str) {
    lt_sbuf_printf(s, "\"");
    for (const unsigned char *c = (const unsigned char *)str; *c; c++) {
        if (*c == '"' || *c == '\\') lt_sbuf_printf(s, "\\%c", *c);
        else if (*c == '\n') lt_sbuf_printf(s, "\\n");
        else if (*c == '\t') lt_sbuf_printf(s, "\\t");
        else if (*c == '\r') lt_sbuf_printf(s, "\\r");
        else if (*c < 0x20) lt_sbuf_printf(s, "\\u%04x", *c);
        else lt_sbuf_printf(s, "%c", *c);
    }
    lt_sbuf_printf(s, "\"");
}

/* The shortest "%.Ng" that reads back to the same value, so 0.02f prints as 0.02. */
static void shortest(lt_sbuf *s, double v, int is_f32) {
    if (!isfinite(v)) {
        lt_sbuf_printf(s, "null");
        return;
    }
    char buf[40];
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (is_f32 ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v) break;
    }
    lt_sbuf_printf(s, "%s", buf);
}

void lt_sbuf_json_float(lt_sbuf *s, float v) { shortest(s, v, 1); }
void lt_sbuf_json_double(lt_sbuf *s, double v) { shortest(s, v, 0); }

lt_status lt_sbuf_check(const lt_sbuf *s, const char *what) {
    if (s->oom) return lt_error(LT_ERR_OUT_OF_MEMORY, "%s: out of host memory", what);
    return LT_OK;
}

void lt_sbuf_free(lt_sbuf *s) {
    free(s->p);
    s->p = NULL;
    s->n = s->cap = 0;
}
