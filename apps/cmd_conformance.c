/* apps/cmd_conformance.c - `loretta conformance`: every op on every device against the
 * reference backend (op mode), or the gradient checks (--grad). The cases, tolerances and
 * verdicts live in the library (loretta/conformance.h); this prints the table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "loretta/conformance.h"
#include "loretta/train.h"

#define MAX_DEVS 64

static void usage(FILE *f) {
    fprintf(f, "usage: loretta conformance [--backend NAME] [--device INDEX] [--threads N]\n"
               "                           [--op NAME] [--grad] [--quick] [--verbose]\n"
               "                           [--train [--steps N] [--model tiny|laptop|FILE]\n"
               "                                    [--precision fp32|bf16]]\n"
               "  Runs every op (or --op NAME) on every device (or those of --backend) against\n"
               "  the reference backend. --grad: reference backward ops against finite\n"
               "  differences, and each device's forward+backward against the reference.\n"
               "  --quick: smaller shapes (also env LORETTA_QUICK=1). Exit status 1 on any\n"
               "  failure, including an unsupported op without a documented excuse.\n"
               "  --train: whole training steps (forward, backward, AdamW) on every device from the\n"
               "  cpu device's weights, printing both losses and the parameter drift per step; a\n"
               "  device fails when the loss differs by more than 1e-3 or the parameters drift by\n"
               "  more than 1e-3 of their largest magnitude. --precision bf16 trains both sides\n"
               "  in bf16 mixed precision (docs/trainer.md) and allows a loss difference of 1e-2\n"
               "  and a parameter drift of 1e-2 in relative L2 norm per tensor: one f32 sum in\n"
               "  another order can move a bf16 rounding by one unit (2^-8), and AdamW makes a\n"
               "  flipped near-zero gradient a whole lr step on that element.\n");
}

static void log_line(void *user, const char *line) {
    (void)user;
    fprintf(stderr, "  .. %s\n", line);
}

typedef struct tally {
    int checks, pass, fail, unsupported, unsupported_failing, skipped;
} tally;

static void print_header(void) {
    printf("%-18s %-10s %9s %12s %12s %9s  %s\n", "check", "device", "cases", "max abs err",
           "nmse/rel", "err/tol", "verdict");
}

static void print_row(const lt_conf_result *r, tally *t) {
    char dev[24], cases[24];
    snprintf(dev, sizeof dev, "%s:%d", r->dev->backend->name, r->dev->index);
    snprintf(cases, sizeof cases, "%d/%d", r->passed, r->cases);
    const char *v = lt_conf_verdict_name(r->verdict);
    char skipped[64] = "";
    if (r->skipped && r->verdict != LT_CONF_SKIPPED)
        snprintf(skipped, sizeof skipped, " (%d skipped: dtype the device lacks)", r->skipped);
    printf("%-18s %-10s %9s %12.3g %12.3g %9.2g  %s%s%s\n", r->test, dev, cases, r->max_abs,
           r->nmse, r->worst_ratio, v,
           r->verdict == LT_CONF_UNSUPPORTED && r->counts_as_failure ? " (counts as failure)" : "",
           skipped);
    if (r->message[0] && r->verdict != LT_CONF_PASS) printf("    %s\n", r->message);
    fflush(stdout);
    t->checks++;
    switch (r->verdict) {
    case LT_CONF_PASS: t->pass++; break;
    case LT_CONF_FAIL: t->fail++; break;
    case LT_CONF_UNSUPPORTED:
        t->unsupported++;
        if (r->counts_as_failure) t->unsupported_failing++;
        break;
    case LT_CONF_SKIPPED: t->skipped++; break;
    }
}

/* Whole training steps on every device against the cpu device (the trainer's
 * lt_train_conformance), so a backend developer sees where a backend diverges. */
static int train_conformance(const lt_common_opts *co, int device_given, const char *model, int steps,
                             lt_precision prec) {
    const double tol = prec == LT_PRECISION_BF16 ? 1e-2 : 1e-3;
    if (steps < 1 || steps > 10000) {
        fprintf(stderr, "loretta conformance: --steps %d must be in [1, 10000]\n", steps);
        return 2;
    }
    lt_model_config cfg;
    if (lt_model_config_resolve(model, &cfg) != LT_OK) return lt_fail("--model");
    lt_device *base = NULL;
    if (lt_device_find("cpu", 0, &base) != LT_OK) return lt_fail("conformance --train");
    if (co->threads > 0) lt_device_set_threads(base, co->threads);
    int failing = 0, tested = 0;
    for (int i = 0; i < lt_device_count(); i++) {
        lt_device *d = lt_device_get(i);
        if (d == base) continue;
        if (co->backend && strcmp(d->backend->name, co->backend) != 0) continue;
        if (device_given && d->index != co->device) continue;
        printf("== %s:%d %s against cpu:0, model %s, %d steps, %s\n", d->backend->name, d->index,
               d->info.name, cfg.name, steps, lt_precision_name(prec));
        lt_train_conf_result r;
        lt_status s = lt_train_conformance(d, base, &cfg, prec, 2, 32, steps, stdout, &r);
        tested++;
        if (s != LT_OK) {
            printf("   %s:%d FAIL: %s\n", d->backend->name, d->index, lt_last_error());
            failing++;
            continue;
        }
        /* fp32 by the element-wise drift, bf16 by the L2 one (loretta/train.h says why). */
        const double drift = prec == LT_PRECISION_BF16 ? r.drift_l2 : r.drift_max;
        int ok = r.loss_diff <= tol && drift <= tol;
        printf("   %s:%d %s: worst loss difference %.3g, worst parameter drift %.3g (%s; max %.3g, "
               "L2 %.3g)\n",
               d->backend->name, d->index, ok ? "pass" : "FAIL", r.loss_diff, drift,
               prec == LT_PRECISION_BF16 ? "L2" : "max", r.drift_max, r.drift_l2);
        failing += !ok;
    }
    if (tested == 0) {
        fprintf(stderr, "loretta conformance --train: no device other than cpu:0 to compare\n");
        return 1;
    }
    printf("\nsummary: %d devices, %d FAIL -> %s\n", tested, failing, failing ? "FAILED" : "ok");
    return failing ? 1 : 0;
}

int lt_cmd_conformance(int argc, char **argv) {
    int device_given = 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--device")) device_given = 1;
    lt_common_opts co;
    if (lt_parse_common(&argc, argv, &co)) return 2;
    const char *op_name = NULL;
    int grad = 0, verbose = 0, train = 0, steps = 5;
    const char *model = "tiny";
    lt_precision prec = LT_PRECISION_FP32;
    lt_conf_options o;
    lt_conf_options_default(&o);
    int prec_given = 0;
    for (int i = 1; i < argc; i++) {
        /* VAL(name): argv[i] is that option and a value follows; a known option at the end
         * sets `missing`, so the chain's end says "needs a value", not "unknown". */
        const char *missing = NULL;
#define VAL(name) (!strcmp(argv[i], name) && (i + 1 < argc || (missing = name, 0)))
        if (VAL("--op")) op_name = argv[++i];
        else if (!strcmp(argv[i], "--grad")) grad = 1;
        else if (!strcmp(argv[i], "--train")) train = 1;
        else if (VAL("--steps")) steps = atoi(argv[++i]);
        else if (VAL("--model")) model = argv[++i];
        else if (VAL("--precision")) {
            prec_given = 1;
            if (lt_precision_parse(argv[++i], &prec) != LT_OK) {
                fprintf(stderr, "loretta conformance: --precision wants fp32 or bf16, got '%s'\n", argv[i]);
                return 2;
            }
        }
        else if (!strcmp(argv[i], "--quick")) o.quick = 1;
        else if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")) verbose = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            if (missing) fprintf(stderr, "loretta conformance: %s needs a value\n", missing);
            else {
                fprintf(stderr, "loretta conformance: unknown argument '%s'\n", argv[i]);
                usage(stderr);
            }
            return 2;
        }
#undef VAL
    }
    if (prec_given && !train) {
        fprintf(stderr, "loretta conformance: --precision applies to --train (the op cases cover every "
                        "dtype already)\n");
        return 2;
    }
    if (verbose) o.log = log_line;
    if (device_given && !co.backend) {
        fprintf(stderr, "loretta conformance: --device needs --backend (without it every device "
                        "is tested)\n");
        return 2;
    }
    lt_init();
    if (train) return train_conformance(&co, device_given, model, steps, prec);
    lt_op only_op = LT_OP_COUNT;
    int only_family = -1;
    if (op_name && !grad && lt_op_parse(op_name, &only_op) != LT_OK) {
        fprintf(stderr, "loretta conformance: --op: %s\n  ops:", lt_last_error());
        for (int k = 0; k < LT_OP_COUNT; k++) fprintf(stderr, " %s", lt_op_name((lt_op)k));
        fprintf(stderr, "\n");
        return 2;
    }
    if (op_name && grad && lt_conf_grad_parse(op_name, &only_family) != LT_OK) return lt_fail("--op");
    lt_device *ref = NULL;
    if (lt_conf_reference(&ref) != LT_OK) return lt_fail("conformance");

    /* Every device of every backend found at run time, unless narrowed. */
    lt_device *devs[MAX_DEVS];
    int ndev = 0;
    for (int i = 0; i < lt_device_count() && ndev < MAX_DEVS; i++) {
        lt_device *d = lt_device_get(i);
        if (co.backend ? strcmp(d->backend->name, co.backend) != 0 : d->info.is_reference) continue;
        if (device_given && d->index != co.device) continue;
        if (co.threads > 0) lt_device_set_threads(d, co.threads);
        devs[ndev++] = d;
    }
    int fd_on_ref = grad && (!co.backend || !strcmp(co.backend, "ref"));
    if (ndev == 0 && !fd_on_ref) {
        lt_device *d;
        if (co.backend && lt_device_find(co.backend, device_given ? co.device : 0, &d) != LT_OK)
            return lt_fail("conformance");
        fprintf(stderr, "loretta conformance: no device to test\n");
        return 1;
    }

    printf("reference: ref:%d %s\n", ref->index, ref->info.name);
    for (int d = 0; d < ndev; d++)
        printf("testing:   %s:%d %s\n", devs[d]->backend->name, devs[d]->index, devs[d]->info.name);
    printf("mode: %s%s\n\n", grad ? "gradients" : "ops", o.quick ? " (quick)" : "");
    print_header();

    lt_conf_result res[MAX_DEVS];
    tally t = {0};
    if (!grad) {
        for (int op = 0; op < LT_OP_COUNT; op++) {
            if (op_name && op != (int)only_op) continue;
            if (lt_conf_run_op(devs, ndev, (lt_op)op, &o, res) != LT_OK) return lt_fail("conformance");
            for (int d = 0; d < ndev; d++) print_row(&res[d], &t);
        }
    } else {
        for (int f = 0; f < lt_conf_grad_count(); f++) {
            if (only_family >= 0 && f != only_family) continue;
            if (fd_on_ref) {
                if (lt_conf_grad_fd(NULL, f, &o, &res[0]) != LT_OK) return lt_fail("conformance");
                print_row(&res[0], &t);
            }
            if (ndev == 0) continue;
            if (lt_conf_grad_run(devs, ndev, f, &o, res) != LT_OK) return lt_fail("conformance");
            for (int d = 0; d < ndev; d++) print_row(&res[d], &t);
        }
    }
    int failing = t.fail + t.unsupported_failing;
    printf("\nsummary: %d checks: %d pass, %d FAIL, %d unsupported (%d counted as failure), "
           "%d skipped -> %s\n",
           t.checks, t.pass, t.fail, t.unsupported, t.unsupported_failing, t.skipped,
           failing ? "FAILED" : "ok");
    return failing ? 1 : 0;
}
