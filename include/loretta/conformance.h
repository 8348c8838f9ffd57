/* loretta/conformance.h - the cross-backend op conformance suite, as a library module.
 *
 * Op mode: every op of lt_op has a list of cases built from fixed seeds (odd sizes, sizes
 * that are no multiple of any tile, strided views, broadcast, both attention masks,
 * ragged lengths, in-place and accumulate forms). Each case runs on the reference device
 * ("ref", plain loops in double) and on every device under test from the same host bytes.
 * Then:
 *  - every compared output must be within the op's tolerance for its dtype: NMSE
 *    (sum (a-b)^2 / sum b^2) and max abs error (see lt_conf_tolerance);
 *  - any NaN/Inf in an output fails (outputs written with "=" start as NaN, so an element
 *    an op forgets to write fails too); integer outputs must match exactly;
 *  - every byte the case does not name as an output must be unchanged: guard bytes before
 *    and after each buffer, the gaps between rows of strided views, and all inputs.
 * An op a device answers with LT_ERR_UNSUPPORTED is reported as unsupported, which fails
 * unless lt_conf_unsupported_excused says why it may (never for cpu and ref).
 *
 * Gradient mode: (a) the reference backward ops against central finite differences of
 * the reference forward in f64 ("fd"); (b) each device's forward + backward chain against
 * the reference chain in f32 on the op-mode shapes.
 *
 * Devices are taken from the registry at run time, so a new backend is tested with no
 * change here. Used by `loretta conformance` and tests/test_conformance_*.c. */
#ifndef LORETTA_CONFORMANCE_H
#define LORETTA_CONFORMANCE_H

#include <stddef.h>
#include <stdint.h>

#include "loretta/ops.h"
#include "loretta/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lt_conf_verdict {
    LT_CONF_PASS = 0,
    LT_CONF_FAIL,
    LT_CONF_UNSUPPORTED, /* every case was answered UNSUPPORTED (fails unless excused) */
    LT_CONF_SKIPPED      /* no case applies (a dtype the device does not claim) */
} lt_conf_verdict;

const char *lt_conf_verdict_name(lt_conf_verdict v); /* "pass", "FAIL", ... */

typedef struct lt_conf_options {
    int quick;   /* smaller shapes, no T = 2048 attention (sanitizer runs) */
    /* Called once per case with a one-line description when set (progress, --verbose). */
    void (*log)(void *user, const char *line);
    void *user;
} lt_conf_options;

/* Defaults: quick when the environment sets LORETTA_QUICK=1, no log. */
void lt_conf_options_default(lt_conf_options *o);

/* What one check (one op or gradient family) found on one device. */
typedef struct lt_conf_result {
    char test[32];        /* "matmul", "grad:attention", "fd:rmsnorm" */
    const lt_device *dev; /* the device under test (the reference for fd checks) */
    int cases, passed, failed, unsupported, skipped;
    double max_abs;       /* largest max abs error of any compared output */
    double nmse;          /* largest NMSE (fd: largest norm-wise relative error) */
    double worst_ratio;   /* largest error / tolerance over all outputs (<= 1 passes) */
    lt_conf_verdict verdict;
    int counts_as_failure; /* FAIL, or UNSUPPORTED that is not excused */
    char message[384];     /* the first failure, or why unsupported / skipped */
} lt_conf_result;

/* The reference device (the first with info.is_reference). */
lt_status lt_conf_reference(lt_device **out);

/* Whether `dev` answering UNSUPPORTED for `op` is acceptable; *why says why (or NULL). */
int lt_conf_unsupported_excused(const lt_device *dev, lt_op op, const char **why);

/* Op mode: runs every case of `op` once on the reference and on each of `devs`, filling
 * results[i] for devs[i]. Returns LT_OK when the check ran (its findings are in the
 * results); an error only when it could not run at all (no reference device). */
lt_status lt_conf_run_op(lt_device *const *devs, int ndev, lt_op op, const lt_conf_options *o,
                         lt_conf_result *results);

/* Gradient mode, by family: matmul, embed, rmsnorm, gelu, cross_entropy, attention. */
int lt_conf_grad_count(void);
const char *lt_conf_grad_name(int family);
/* Accepts a family name or the name of an op in the family ("attn_bwd" -> attention). */
lt_status lt_conf_grad_parse(const char *name, int *family);
/* (a) backward ops against finite differences of the forward, both run on `dev` in f64
 * (NULL = the reference device; another device needs info.supports_f64). */
lt_status lt_conf_grad_fd(lt_device *dev, int family, const lt_conf_options *o,
                          lt_conf_result *result);
/* (b) each device's forward + backward against the reference's (f32). */
lt_status lt_conf_grad_run(lt_device *const *devs, int ndev, int family,
                           const lt_conf_options *o, lt_conf_result *results);

/* Runs a call through the public wrapper of its op (lt_matmul, lt_attention_forward, ...),
 * so it is validated like any user call; `loretta bench ops` times ops this way too. */
lt_status lt_conf_invoke(const lt_op_call *call);

/* ---- building blocks, public so tests can prove the suite catches errors ---- */

typedef struct lt_conf_tol {
    double nmse;    /* largest NMSE allowed */
    double max_abs; /* largest |a - b| allowed, times max(1, max |b|); 0 = exact */
} lt_conf_tol;

/* The tolerance of outputs of dtype `dtype` written by `op` (table in conformance_tol.c). */
lt_conf_tol lt_conf_tolerance(lt_op op, lt_dtype dtype);

typedef struct lt_conf_stats {
    double max_abs, nmse, ref_max; /* ref_max = max |want| */
    double ratio;                  /* error / tolerance, the larger of the two measures */
    int64_t worst;                 /* index of the largest |a - b| */
    int64_t nonfinite_got, nonfinite_want, mismatches;
} lt_conf_stats;

/* Compares n values (got = device under test, want = reference). `exact` = integer
 * outputs, which must match value for value. Returns 1 on pass, 0 on failure with the
 * reason in msg. Any NaN/Inf in either array fails. */
int lt_conf_compare(const double *got, const double *want, int64_t n, int exact,
                    lt_conf_tol tol, lt_conf_stats *st, char *msg, size_t msg_len);

/* Checks that every byte of `after` whose `writable` flag is 0 equals `before`.
 * Returns 1 when untouched, else 0 with *first_bad = the first changed offset. */
int lt_conf_untouched(const uint8_t *before, const uint8_t *after, const uint8_t *writable,
                      size_t n, size_t *first_bad);

#ifdef __cplusplus
}
#endif
#endif
