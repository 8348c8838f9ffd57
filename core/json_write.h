/* core/json_write.h - a growable string and the few JSON writers the trainer needs
 * (configs, checkpoint headers, metrics lines). Writing needs no JSON library, so
 * checkpoints can be saved on a machine without cJSON. */
#ifndef LT_JSON_WRITE_H
#define LT_JSON_WRITE_H

#include <stddef.h>

#include "loretta/status.h"

typedef struct lt_sbuf {
    char *p;     /* NUL-terminated */
    size_t n;    /* length without the NUL */
    size_t cap;
    int oom;     /* an allocation failed; the content is truncated */
} lt_sbuf;

void lt_sbuf_printf(lt_sbuf *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Appends `str` as a JSON string literal (quotes and escapes included). */
void lt_sbuf_json_string(lt_sbuf *s, const char *str);
/* Numbers that read back to the same f32 / f64, shortest form (non-finite: null). */
void lt_sbuf_json_float(lt_sbuf *s, float v);
void lt_sbuf_json_double(lt_sbuf *s, double v);
/* OUT_OF_MEMORY if any append failed (message names `what`), else OK. */
lt_status lt_sbuf_check(const lt_sbuf *s, const char *what);
void lt_sbuf_free(lt_sbuf *s);

#endif
