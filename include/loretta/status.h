/* loretta/status.h - status codes and the thread-local error message.
 *
 * Library code never exits or aborts on bad input: every fallible call returns an
 * lt_status and, on failure, leaves a message saying what was wrong and where
 * (op and argument, or file, offset and field). Only apps/ decides to print and exit. */
#ifndef LORETTA_STATUS_H
#define LORETTA_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lt_status {
    LT_OK = 0,
    LT_ERR_INVALID_ARG,   /* a NULL or nonsensical argument */
    LT_ERR_SHAPE,         /* shapes that do not fit together */
    LT_ERR_DTYPE,         /* a dtype the op does not accept */
    LT_ERR_RANGE,         /* a value out of its allowed range (token id, index) */
    LT_ERR_OUT_OF_MEMORY, /* host or device allocation failed or exceeds the limit */
    LT_ERR_UNSUPPORTED,   /* the backend does not implement this op / dtype */
    LT_ERR_DEVICE,        /* mixed devices, no such device, driver failure */
    LT_ERR_IO,            /* a file could not be read or written */
    LT_ERR_FORMAT,        /* a file or config is malformed (magic, size, field) */
    LT_ERR_NUMERIC,       /* NaN / Inf where a finite value was required */
    LT_ERR_INTERNAL,      /* a bug: an invariant of the library itself */
    LT_STATUS_COUNT
} lt_status;

/* Short name of a status code ("shape", "out of memory", ...). */
const char *lt_status_name(lt_status s);

/* The message of the last failure on this thread ("" if none). */
const char *lt_last_error(void);

/* Record a failure: formats the message (printf style) and returns `s`, so callers
 * write `return lt_error(LT_ERR_SHAPE, "matmul: a is %dx%d", ...)`. */
lt_status lt_error(lt_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prefix the current message with context ("loading ckpt.safetensors: ") and return s. */
lt_status lt_error_context(lt_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

void lt_clear_error(void);

#define LT_TRY(expr)                          \
    do {                                      \
        lt_status lt_try_s_ = (expr);         \
        if (lt_try_s_ != LT_OK) return lt_try_s_; \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
