/* core/conformance.c - the conformance driver: runs each case on the reference once and
 * on every device under test, and turns the judgements into one result per device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance_case.h"
#include "loretta/backend.h"

const char *lt_conf_verdict_name(lt_conf_verdict v) {
    switch (v) {
    case LT_CONF_PASS: return "pass";
    case LT_CONF_FAIL: return "FAIL";
    case LT_CONF_UNSUPPORTED: return "unsupported";
    case LT_CONF_SKIPPED: return "skipped";
    default: return "?";
    }
}

void lt_conf_options_default(lt_conf_options *o) {
    memset(o, 0, sizeof *o);
    const char *q = getenv("LORETTA_QUICK");
    o->quick = q && *q && strcmp(q, "0") != 0;
}

lt_status lt_conf_reference(lt_device **out) {
    for (int i = 0; i < lt_device_count(); i++) {
        lt_device *d = lt_device_get(i);
        if (d && d->info.is_reference) {
            *out = d;
            return LT_OK;
        }
    }
    *out = NULL;
    return lt_error(LT_ERR_DEVICE, "conformance: no reference device (the ref backend is built "
                    "with the cpu backend; built with: %s)", lt_build_backends());
}

/* Ops a backend may leave unsupported, with the reason. The CPU backends implement every
 * op, so they never appear here; a GPU backend that cannot do an op says why here and the
 * suite prints the reason instead of failing. Empty so far. */
static const struct {
    const char *backend;
    lt_op op;
    const char *why;
} lt_conf_excused[] = {
    {NULL, LT_OP_COUNT, NULL},
};

int lt_conf_unsupported_excused(const lt_device *dev, lt_op op, const char **why) {
    if (why) *why = NULL;
    for (size_t i = 0; lt_conf_excused[i].backend; i++)
        if (lt_conf_excused[i].op == op && !strcmp(lt_conf_excused[i].backend, dev->backend->name)) {
            if (why) *why = lt_conf_excused[i].why;
            return 1;
        }
    return 0;
}

static const conf_gen_fn lt_conf_op_gens[LT_OP_COUNT] = {
    [LT_OP_FILL] = conf_gen_fill,
    [LT_OP_COPY] = conf_gen_copy,
    [LT_OP_CAST] = conf_gen_cast,
    [LT_OP_MATMUL] = conf_gen_matmul,
    [LT_OP_EMBED_FWD] = conf_gen_embed_fwd,
    [LT_OP_EMBED_BWD] = conf_gen_embed_bwd,
    [LT_OP_POS_EMBED_FWD] = conf_gen_pos_embed_fwd,
    [LT_OP_RMSNORM_FWD] = conf_gen_rmsnorm_fwd,
    [LT_OP_RMSNORM_BWD] = conf_gen_rmsnorm_bwd,
    [LT_OP_GELU_FWD] = conf_gen_gelu_fwd,
    [LT_OP_GELU_BWD] = conf_gen_gelu_bwd,
    [LT_OP_ADD] = conf_gen_add,
    [LT_OP_SCALE] = conf_gen_scale,
    [LT_OP_AXPY] = conf_gen_axpy,
    [LT_OP_CROSS_ENTROPY] = conf_gen_cross_entropy,
    [LT_OP_ATTN_FWD] = conf_gen_attn_fwd,
    [LT_OP_ATTN_BWD] = conf_gen_attn_bwd,
    [LT_OP_ATTN_DECODE] = conf_gen_attn_decode,
    [LT_OP_KV_WRITE] = conf_gen_kv_write,
    [LT_OP_ADAMW] = conf_gen_adamw,
    [LT_OP_SUMSQ] = conf_gen_sumsq,
    [LT_OP_SAMPLE] = conf_gen_sample,
};
_Static_assert(LT_OP_COUNT == 22, "a new op needs a case generator in lt_conf_op_gens");

conf_gen_fn conf_op_generator(lt_op op) {
    return (unsigned)op < LT_OP_COUNT ? lt_conf_op_gens[op] : NULL;
}

/* A device that does not claim a dtype the case uses skips it (documented capability,
 * not an unsupported op). */
static int capable(const lt_device *d, const conf_case *c) {
    for (int i = 0; i < c->ntensors; i++) {
        lt_dtype t = c->t[i].dtype;
        if ((t == LT_F64 && !d->info.supports_f64) || (t == LT_BF16 && !d->info.supports_bf16) ||
            (t == LT_F16 && !d->info.supports_f16))
            return 0;
    }
    return 1;
}

static void note(lt_conf_result *r, int case_index, const conf_case *c, const char *what) {
    if (r->message[0]) return;
    conf_fmt(r->message, sizeof r->message, "case %d (%s): %s", case_index, c->desc, what);
}

void conf_finish(lt_conf_result *r, lt_op op) {
    const char *why = NULL;
    if (r->failed) r->verdict = LT_CONF_FAIL;
    else if (r->unsupported) r->verdict = LT_CONF_UNSUPPORTED;
    else if (r->passed == 0 && r->skipped) r->verdict = LT_CONF_SKIPPED;
    else r->verdict = LT_CONF_PASS;
    r->counts_as_failure = r->verdict == LT_CONF_FAIL;
    if (r->verdict == LT_CONF_UNSUPPORTED) {
        if (lt_conf_unsupported_excused(r->dev, op, &why)) {
            conf_fmt(r->message, sizeof r->message, "excused: %s", why);
        } else {
            r->counts_as_failure = 1;
            if (r->passed) {
                char m[sizeof r->message];
                conf_fmt(m, sizeof m, "%d of %d cases unsupported; %s", r->unsupported, r->cases,
                         r->message);
                memcpy(r->message, m, sizeof m);
            }
        }
    }
    if (r->verdict == LT_CONF_SKIPPED && !r->message[0])
        conf_fmt(r->message, sizeof r->message, "every case needs a dtype the device lacks");
}

static void logf_case(const lt_conf_options *o, const char *test, int i, const conf_case *c) {
    if (!o->log) return;
    char line[200];
    conf_fmt(line, sizeof line, "%s case %d: %s", test, i, c->desc);
    o->log(o->user, line);
}

/* Runs every case of `gen` on the reference once and on each device. `op` names the op
 * for excuses of unsupported answers. */
static lt_status run_cases(lt_device *const *devs, int ndev, conf_gen_fn gen, lt_op op,
                           const char *test, const lt_conf_options *opts,
                           lt_conf_result *res) {
    lt_conf_options dflt;
    if (!opts) {
        lt_conf_options_default(&dflt);
        opts = &dflt;
    }
    for (int d = 0; d < ndev; d++) {
        memset(&res[d], 0, sizeof res[d]);
        conf_fmt(res[d].test, sizeof res[d].test, "%s", test);
        res[d].dev = devs[d];
    }
    lt_device *ref = NULL;
    LT_TRY(lt_conf_reference(&ref));
    conf_gen_ctx ctx = {opts->quick, ref};
    char msg[384], why[320];
    for (int i = 0;; i++) {
        conf_case *c = malloc(sizeof *c);
        if (!c) return lt_error(LT_ERR_OUT_OF_MEMORY, "conformance: host memory for a case");
        lt_clear_error();
        int built = gen(c, i, &ctx);
        if (built == 0) {
            conf_case_free(c);
            free(c);
            break;
        }
        logf_case(opts, test, i, c);
        for (int d = 0; d < ndev; d++) res[d].cases++;
        conf_images refim;
        lt_status rs = LT_OK;
        if (built < 0 || c->oom) {
            conf_fmt(why, sizeof why, "could not build the inputs: %s", lt_last_error());
            rs = LT_ERR_INTERNAL;
        } else if (!capable(ref, c)) {
            for (int d = 0; d < ndev; d++) res[d].skipped++;
            conf_case_free(c);
            free(c);
            continue;
        } else {
            rs = conf_execute(ref, c, &refim, msg, sizeof msg);
            if (rs != LT_OK) {
                conf_fmt(why, sizeof why, "the reference failed (%s): %s", lt_status_name(rs), msg);
            } else if (!conf_check_untouched(c, &refim, msg, sizeof msg)) {
                conf_fmt(why, sizeof why, "the reference %s", msg);
                conf_images_free(c, &refim);
                rs = LT_ERR_INTERNAL;
            }
        }
        if (rs != LT_OK) {
            for (int d = 0; d < ndev; d++) {
                res[d].failed++;
                note(&res[d], i, c, why);
            }
            conf_case_free(c);
            free(c);
            continue;
        }
        for (int d = 0; d < ndev; d++) {
            lt_conf_result *r = &res[d];
            if (!capable(devs[d], c)) {
                r->skipped++;
                continue;
            }
            conf_images im;
            lt_status s = conf_execute(devs[d], c, &im, msg, sizeof msg);
            if (s == LT_ERR_UNSUPPORTED) {
                r->unsupported++;
                note(r, i, c, msg);
                continue;
            }
            if (s != LT_OK) {
                r->failed++;
                conf_fmt(why, sizeof why, "%s: %s", lt_status_name(s), msg);
                note(r, i, c, why);
                continue;
            }
            conf_judgement j;
            conf_judge(c, &refim, &im, &j);
            if (j.pass && c->deterministic) {
                conf_images again;
                s = conf_execute(devs[d], c, &again, msg, sizeof msg);
                if (s != LT_OK) {
                    j.pass = 0;
                    conf_fmt(j.msg, sizeof j.msg, "second run: %s", msg);
                } else {
                    if (!conf_same_bits(c, &im, &again, msg, sizeof msg)) {
                        j.pass = 0;
                        conf_fmt(j.msg, sizeof j.msg, "%s", msg);
                    }
                    conf_images_free(c, &again);
                }
            }
            conf_images_free(c, &im);
            if (j.max_abs > r->max_abs) r->max_abs = j.max_abs;
            if (j.nmse > r->nmse) r->nmse = j.nmse;
            if (j.ratio > r->worst_ratio) r->worst_ratio = j.ratio;
            if (j.pass) {
                r->passed++;
            } else {
                r->failed++;
                note(r, i, c, j.msg);
            }
        }
        conf_images_free(c, &refim);
        conf_case_free(c);
        free(c);
    }
    for (int d = 0; d < ndev; d++) conf_finish(&res[d], op);
    return LT_OK;
}

lt_status lt_conf_run_op(lt_device *const *devs, int ndev, lt_op op, const lt_conf_options *o,
                         lt_conf_result *results) {
    conf_gen_fn gen = conf_op_generator(op);
    if (!gen) return lt_error(LT_ERR_INVALID_ARG, "conformance: op %d does not exist", (int)op);
    if (ndev < 0 || (ndev && (!devs || !results)))
        return lt_error(LT_ERR_INVALID_ARG, "conformance: bad device list");
    return run_cases(devs, ndev, gen, op, lt_op_name(op), o, results);
}

/* ---- gradient families ---- */

static const struct {
    const char *name;
    conf_gen_fn chain;
    lt_op ops[3]; /* the ops of the family (for --op and excuses); LT_OP_COUNT = none */
} lt_conf_families[] = {
    {"matmul", conf_chain_matmul, {LT_OP_MATMUL, LT_OP_COUNT, LT_OP_COUNT}},
    {"embed", conf_chain_embed, {LT_OP_EMBED_BWD, LT_OP_EMBED_FWD, LT_OP_POS_EMBED_FWD}},
    {"rmsnorm", conf_chain_rmsnorm, {LT_OP_RMSNORM_BWD, LT_OP_RMSNORM_FWD, LT_OP_COUNT}},
    {"gelu", conf_chain_gelu, {LT_OP_GELU_BWD, LT_OP_GELU_FWD, LT_OP_COUNT}},
    {"cross_entropy", conf_chain_cross_entropy, {LT_OP_CROSS_ENTROPY, LT_OP_COUNT, LT_OP_COUNT}},
    {"attention", conf_chain_attention, {LT_OP_ATTN_BWD, LT_OP_ATTN_FWD, LT_OP_COUNT}},
};
#define LT_CONF_NFAMILIES ((int)(sizeof lt_conf_families / sizeof lt_conf_families[0]))

int lt_conf_grad_count(void) { return LT_CONF_NFAMILIES; }

const char *lt_conf_grad_name(int family) {
    return family >= 0 && family < LT_CONF_NFAMILIES ? lt_conf_families[family].name : "?";
}

lt_status lt_conf_grad_parse(const char *name, int *family) {
    lt_op op = LT_OP_COUNT;
    int is_op = name && lt_op_parse(name, &op) == LT_OK;
    for (int f = 0; name && f < LT_CONF_NFAMILIES; f++) {
        if (!strcmp(name, lt_conf_families[f].name)) {
            *family = f;
            return LT_OK;
        }
        for (int k = 0; is_op && k < 3; k++)
            if (lt_conf_families[f].ops[k] == op) {
                *family = f;
                return LT_OK;
            }
    }
    lt_clear_error();
    return lt_error(LT_ERR_INVALID_ARG, "conformance: '%s' has no gradient check (matmul, embed, "
                    "rmsnorm, gelu, cross_entropy, attention)", name ? name : "(null)");
}

lt_status lt_conf_grad_run(lt_device *const *devs, int ndev, int family,
                           const lt_conf_options *o, lt_conf_result *results) {
    if (family < 0 || family >= LT_CONF_NFAMILIES)
        return lt_error(LT_ERR_INVALID_ARG, "conformance: gradient family %d does not exist", family);
    char test[32];
    conf_fmt(test, sizeof test, "grad:%s", lt_conf_families[family].name);
    return run_cases(devs, ndev, lt_conf_families[family].chain, lt_conf_families[family].ops[0],
                     test, o, results);
}
