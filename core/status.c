/* core/status.c - status names and the thread-local error message. */
#include "loretta/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define LT_MSG_CAP 1024

static _Thread_local char lt_msg[LT_MSG_CAP];

const char *lt_status_name(lt_status s) {
    switch (s) {
    case LT_OK: return "ok";
    case LT_ERR_INVALID_ARG: return "invalid argument";
    case LT_ERR_SHAPE: return "shape mismatch";
    case LT_ERR_DTYPE: return "wrong dtype";
    case LT_ERR_RANGE: return "out of range";
    case LT_ERR_OUT_OF_MEMORY: return "out of memory";
    case LT_ERR_UNSUPPORTED: return "unsupported";
    case LT_ERR_DEVICE: return "device error";
    case LT_ERR_IO: return "i/o error";
    case LT_ERR_FORMAT: return "bad format";
    case LT_ERR_NUMERIC: return "non-finite value";
    case LT_ERR_INTERNAL: return "internal error";
    default: return "unknown status";
    }
}

const char *lt_last_error(void) { return lt_msg; }

void lt_clear_error(void) { lt_msg[0] = '\0'; }

lt_status lt_error(lt_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lt_msg, sizeof lt_msg, fmt, ap);
    va_end(ap);
    return s;
}

lt_status lt_error_context(lt_status s, const char *fmt, ...) {
    char prefix[LT_MSG_CAP];
    char old[LT_MSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, lt_msg, sizeof old);
    size_t n = strlen(prefix);
    if (n >= sizeof lt_msg) n = sizeof lt_msg - 1;
    memcpy(lt_msg, prefix, n);
    size_t rest = strnlen(old, sizeof old - 1);
    if (rest > sizeof lt_msg - 1 - n) rest = sizeof lt_msg - 1 - n;
    memcpy(lt_msg + n, old, rest);
    lt_msg[n + rest] = '\0';
    return s;
}
