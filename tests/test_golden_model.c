/* tests/test_golden_model.c - the model and trainer against PyTorch.
 *
 * tests/golden/tiny_golden.bin comes from tools/golden/make_golden.py: a PyTorch model
 * mirroring ours, initialised by the same Philox generator, on ragged two-modality
 * batches with zero and half loss weights. Checked on every device that implements the
 * ops (cpu and ref at least; others are skipped only when they report UNSUPPORTED):
 *  - the initial weights (sum of squares per tensor),
 *  - logits, loss, per-modality loss and every parameter gradient of batch 0,
 *  - 10 AdamW steps with 2 accumulated micro-batches, clipping and the warm-up/cosine
 *    schedule: loss, gradient norm and lr per step, and the final weights.
 * Errors are max |ours - torch| / max |torch| per tensor; every tensor is printed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loretta/loretta.h"
#include "loretta/model.h"
#include "loretta/train.h"

/* ---- golden file ---- */

typedef struct record {
    char name[96];
    int dtype; /* 0 f32, 1 i32, 2 f64 */
    int ndim;
    int64_t shape[4];
    int64_t numel;
    const void *data;
} record;

typedef struct golden {
    unsigned char *bytes;
    int n;
    record rec[256];
} golden;

static int load_golden(const char *path, golden *g) {
    memset(g, 0, sizeof *g);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "golden: cannot open %s\n", path);
        return 0;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    g->bytes = malloc((size_t)size);
    size_t got = fread(g->bytes, 1, (size_t)size, f);
    fclose(f);
    if ((long)got != size || size < 16 || memcmp(g->bytes, "LTGOLDEN", 8)) {
        fprintf(stderr, "golden: %s: bad magic or short read\n", path);
        return 0;
    }
    uint32_t version, count;
    memcpy(&version, g->bytes + 8, 4);
    memcpy(&count, g->bytes + 12, 4);
    if (version != 1 || count > 256) {
        fprintf(stderr, "golden: %s: version %u, %u records\n", path, version, count);
        return 0;
    }
    size_t off = 16;
    for (uint32_t i = 0; i < count; i++) {
        record *r = &g->rec[g->n++];
        uint16_t len;
        if (off + 2 > (size_t)size) return 0;
        memcpy(&len, g->bytes + off, 2);
        off += 2;
        if (len >= sizeof r->name || off + len + 2 > (size_t)size) return 0;
        memcpy(r->name, g->bytes + off, len);
        off += len;
        r->dtype = g->bytes[off];
        r->ndim = g->bytes[off + 1];
        off += 2;
        if (r->ndim > 4 || off + 8 * (size_t)r->ndim > (size_t)size) return 0;
        r->numel = 1;
        for (int d = 0; d < r->ndim; d++) {
            memcpy(&r->shape[d], g->bytes + off, 8);
            off += 8;
            r->numel *= r->shape[d];
        }
        size_t esz = r->dtype == 2 ? 8 : 4;
        if (off + esz * (size_t)r->numel > (size_t)size) {
            fprintf(stderr, "golden: record %s runs past the end of the file\n", r->name);
            return 0;
        }
        /* Records follow names of any length: copy each to aligned memory. */
        void *copy = malloc(esz * (size_t)r->numel + 1);
        memcpy(copy, g->bytes + off, esz * (size_t)r->numel);
        r->data = copy;
        off += esz * (size_t)r->numel;
    }
    return off == (size_t)size;
}

static const record *rec(const golden *g, const char *name) {
    for (int i = 0; i < g->n; i++)
        if (!strcmp(g->rec[i].name, name)) return &g->rec[i];
    fail_msg("golden file has no record '%s'", name);
    return NULL;
}

static const int32_t *rec_i32(const golden *g, const char *name) {
    const record *r = rec(g, name);
    assert_int_equal(r->dtype, 1);
    return r->data;
}
static const float *rec_f32(const golden *g, const char *name) {
    const record *r = rec(g, name);
    assert_int_equal(r->dtype, 0);
    return r->data;
}
static const double *rec_f64(const golden *g, const char *name) {
    const record *r = rec(g, name);
    assert_int_equal(r->dtype, 2);
    return r->data;
}

static golden G;
static lt_model_config CFG;
static lt_train_config TC;
static int NB, B, T, NSTEPS;
static uint64_t SEED;

static int setup(void **state) {
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/golden/tiny_golden.bin", LT_SOURCE_DIR);
    if (!load_golden(path, &G)) return -1;
    const int32_t *c = rec_i32(&G, "config");
    memset(&CFG, 0, sizeof CFG);
    snprintf(CFG.name, sizeof CFG.name, "golden");
    CFG.n_layer = c[0];
    CFG.n_head = c[1];
    CFG.d_model = c[2];
    CFG.mlp_ratio = c[3];
    CFG.vocab_size = c[4];
    CFG.causal = c[5];
    CFG.n_modality = c[6];
    for (int i = 0; i < CFG.n_modality; i++) {
        lt_modality *m = &CFG.modalities[i];
        snprintf(m->name, sizeof m->name, "%c", 'a' + i);
        m->tok_lo = c[7 + 5 * i];
        m->tok_hi = c[8 + 5 * i];
        m->begin = c[9 + 5 * i];
        m->end = c[10 + 5 * i];
        m->max_len = c[11 + 5 * i];
    }
    const double *cf = rec_f64(&G, "config.f");
    CFG.norm_eps = (float)cf[0];
    CFG.init_std = (float)cf[1];
    if (lt_model_config_validate(&CFG) != LT_OK) return -1;
    const int32_t *run = rec_i32(&G, "run");
    SEED = (uint64_t)run[0];
    B = run[1];
    T = run[2];
    NB = run[3];
    NSTEPS = run[4];
    const double *tr = rec_f64(&G, "train");
    lt_train_config_default(&TC);
    TC.lr_max = tr[0];
    TC.lr_min = tr[1];
    TC.lr_init = tr[2];
    TC.warmup_steps = (int64_t)tr[3];
    TC.total_steps = (int64_t)tr[4];
    TC.beta1 = tr[5];
    TC.beta2 = tr[6];
    TC.eps = tr[7];
    TC.weight_decay = tr[8];
    TC.grad_clip = tr[9];
    TC.seed = SEED;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    for (int i = 0; i < G.n; i++) free((void *)G.rec[i].data);
    free(G.bytes);
    return 0;
}

static lt_batch golden_batch(int i) {
    const int64_t bt = (int64_t)B * T;
    lt_batch b = {
        .B = B,
        .T = T,
        .tokens = rec_i32(&G, "batch.tokens") + i * bt,
        .targets = rec_i32(&G, "batch.targets") + i * bt,
        .weights = rec_f32(&G, "batch.weights") + i * bt,
        .pos_ids = rec_i32(&G, "batch.pos") + i * bt,
        .lengths = rec_i32(&G, "batch.lengths") + i * B,
        .modality = rec_i32(&G, "batch.modality") + i * bt,
    };
    return b;
}

/* max |a - b| / max |b|, with the worst index. */
static double rel_err(const float *a, const float *b, int64_t n, int64_t *worst) {
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (!(e <= num)) { /* NaN counts as worst */
            num = e;
            if (worst) *worst = i;
        }
        if (fabs((double)b[i]) > den) den = fabs((double)b[i]);
    }
    return den > 0 ? num / den : num;
}

static float *download_param(lt_model *m, const lt_tensor *flat, const lt_param_info *p) {
    lt_tensor v;
    assert_int_equal(lt_model_tensor(m, flat, p, &v), LT_OK);
    float *h = malloc((size_t)p->numel * sizeof(float));
    assert_int_equal(lt_tensor_download(h, &v, (size_t)p->numel * sizeof(float)), LT_OK);
    return h;
}

static double sumsq_host(const float *x, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

#define TOL_LOGITS 2e-5
#define TOL_GRAD 2e-4
#define TOL_LOSS_STEP 2e-5 /* relative, per step */
#define TOL_FINAL 1e-4

/* Returns 1 if the device ran the check, 0 if it lacks an op (UNSUPPORTED). */
static int check_device(lt_device *dev, int nsteps) {
    const char *be = dev->backend->name;
    int failures = 0;
    lt_trainer *tr = NULL;
    lt_status s = lt_trainer_create(dev, &CFG, &TC, B, T, &tr);
    if (s == LT_ERR_UNSUPPORTED) {
        printf("# [%s] skipped: %s\n", be, lt_last_error());
        return 0;
    }
    if (s != LT_OK) fail_msg("[%s] creating the trainer: %s", be, lt_last_error());
    lt_model *m = tr->model;
    const double *init_ss = rec_f64(&G, "init.sumsq");
    assert_int_equal(rec(&G, "init.sumsq")->numel, m->n_tensors);
    for (int i = 0; i < m->n_tensors; i++) {
        float *h = download_param(m, &m->params, &m->info[i]);
        double e = fabs(sumsq_host(h, m->info[i].numel) - init_ss[i]) / init_ss[i];
        free(h);
        if (e > 1e-6) {
            printf("not ok [%s] init %s: sum of squares rel err %.3g\n", be, m->info[i].name, e);
            failures++;
        }
    }

    /* 1. One forward/backward on batch 0. */
    lt_batch b0 = golden_batch(0);
    double w = 0;
    for (int i = 0; i < B * T; i++) w += b0.weights[i];
    lt_loss_sums sums;
    assert_int_equal(lt_model_zero_grad(m), LT_OK);
    s = lt_model_forward(m, &b0, (float)(1.0 / w), &sums);
    if (s == LT_ERR_UNSUPPORTED) {
        printf("# [%s] skipped: %s\n", be, lt_last_error());
        lt_trainer_free(tr);
        return 0;
    }
    if (s != LT_OK) fail_msg("[%s] forward: %s", be, lt_last_error());
    s = lt_model_backward(m);
    if (s == LT_ERR_UNSUPPORTED) {
        printf("# [%s] skipped: %s\n", be, lt_last_error());
        lt_trainer_free(tr);
        return 0;
    }
    if (s != LT_OK) fail_msg("[%s] backward: %s", be, lt_last_error());

    const int64_t nlog = (int64_t)B * T * CFG.vocab_size;
    float *logits = malloc((size_t)nlog * sizeof(float));
    lt_tensor lv;
    assert_int_equal(lt_model_logits(m, &lv), LT_OK);
    assert_int_equal(lt_tensor_download(logits, &lv, (size_t)nlog * sizeof(float)), LT_OK);
    int64_t worst = 0;
    double e = rel_err(logits, rec_f32(&G, "logits"), nlog, &worst);
    printf("%s [%s] logits: max rel err %.3g (at %lld)\n", e <= TOL_LOGITS ? "ok" : "not ok", be, e,
           (long long)worst);
    failures += !(e <= TOL_LOGITS);
    free(logits);

    const double loss = sums.weighted_sum / sums.weight, ref_loss = rec_f64(&G, "loss")[0];
    e = fabs(loss - ref_loss) / ref_loss;
    printf("%s [%s] loss %.7f torch %.7f rel err %.3g\n", e <= 1e-6 ? "ok" : "not ok", be, loss,
           ref_loss, e);
    failures += !(e <= 1e-6);
    for (int i = 0; i < CFG.n_modality; i++) {
        double ml = sums.mod_sum[i] / sums.mod_weight[i], ref = rec_f64(&G, "mod_loss")[i];
        e = fabs(ml - ref) / ref;
        printf("%s [%s] loss of modality %d %.7f torch %.7f\n", e <= 1e-6 ? "ok" : "not ok", be, i,
               ml, ref);
        failures += !(e <= 1e-6);
    }
    for (int i = 0; i < m->n_tensors; i++) {
        const lt_param_info *p = &m->info[i];
        char name[96];
        snprintf(name, sizeof name, "grad.%s", p->name);
        const record *r = rec(&G, name);
        assert_int_equal(r->numel, p->numel);
        float *g = download_param(m, &m->grads, p);
        e = rel_err(g, r->data, p->numel, &worst);
        printf("%s [%s] %-28s max rel err %.3g (at %lld: %.6g vs %.6g)\n",
               e <= TOL_GRAD ? "ok" : "not ok", be, name, e, (long long)worst, g[worst],
               ((const float *)r->data)[worst]);
        failures += !(e <= TOL_GRAD);
        free(g);
    }
    lt_trainer_free(tr);

    /* 2. The training trajectory, from fresh weights and optimiser state. */
    assert_int_equal(lt_trainer_create(dev, &CFG, &TC, B, T, &tr), LT_OK);
    m = tr->model;
    for (int st = 0; st < nsteps; st++) {
        lt_batch micro[2] = {golden_batch((2 * st) % NB), golden_batch((2 * st + 1) % NB)};
        lt_step_result r;
        s = lt_trainer_step(tr, micro, 2, &r);
        if (s == LT_ERR_UNSUPPORTED) { /* an optimiser op the device lacks */
            printf("# [%s] trajectory skipped: %s\n", be, lt_last_error());
            lt_trainer_free(tr);
            if (failures) fail_msg("[%s] %d golden comparisons failed", be, failures);
            return 1;
        }
        if (s != LT_OK) fail_msg("[%s] step %d: %s", be, st, lt_last_error());
        const double rl = rec_f64(&G, "steps.loss")[st], rn = rec_f64(&G, "steps.grad_norm")[st];
        const double rlr = rec_f64(&G, "steps.lr")[st];
        double el = fabs(r.loss - rl) / rl, en = fabs(r.grad_norm - rn) / rn;
        double elr = fabs(r.lr - rlr) / rlr;
        int ok = el <= TOL_LOSS_STEP && en <= 1e-3 && elr <= 1e-12 && !r.skipped;
        printf("%s [%s] step %d loss %.7f torch %.7f (rel %.2g) grad norm %.5f torch %.5f lr %.4g\n",
               ok ? "ok" : "not ok", be, st, r.loss, rl, el, r.grad_norm, rn, r.lr);
        failures += !ok;
    }
    const double *final_ss = rec_f64(&G, "final.sumsq");
    for (int i = 0; i < m->n_tensors && nsteps == NSTEPS; i++) {
        const lt_param_info *p = &m->info[i];
        float *h = download_param(m, &m->params, p);
        e = fabs(sumsq_host(h, p->numel) - final_ss[i]) / final_ss[i];
        int ok = e <= TOL_FINAL;
        if (p->ndim == 1) {
            char name[96];
            snprintf(name, sizeof name, "final.%s", p->name);
            double e1 = rel_err(h, rec_f32(&G, name), p->numel, NULL);
            ok = ok && e1 <= TOL_FINAL;
            if (e1 > e) e = e1;
        }
        printf("%s [%s] final %-28s rel err %.3g\n", ok ? "ok" : "not ok", be, p->name, e);
        failures += !ok;
        free(h);
    }
    lt_trainer_free(tr);
    if (failures) fail_msg("[%s] %d golden comparisons failed (see 'not ok' lines)", be, failures);
    return 1;
}

static void test_preset_matches_golden(void **state) {
    (void)state;
    lt_model_config tiny;
    assert_int_equal(lt_model_config_preset("tiny", &tiny), LT_OK);
    assert_int_equal(tiny.n_layer, CFG.n_layer);
    assert_int_equal(tiny.n_head, CFG.n_head);
    assert_int_equal(tiny.d_model, CFG.d_model);
    assert_int_equal(tiny.vocab_size, CFG.vocab_size);
    assert_int_equal(tiny.n_modality, CFG.n_modality);
    for (int i = 0; i < tiny.n_modality; i++) {
        assert_int_equal(tiny.modalities[i].tok_lo, CFG.modalities[i].tok_lo);
        assert_int_equal(tiny.modalities[i].tok_hi, CFG.modalities[i].tok_hi);
        assert_int_equal(tiny.modalities[i].max_len, CFG.modalities[i].max_len);
        assert_int_equal(tiny.modalities[i].pos_base, CFG.modalities[i].pos_base);
    }
}

static void test_golden_cpu(void **state) {
    (void)state;
    lt_device *dev = NULL;
    assert_int_equal(lt_device_find("cpu", 0, &dev), LT_OK);
    assert_int_equal(check_device(dev, NSTEPS), 1);
}

static void test_golden_other_devices(void **state) {
    (void)state;
    int ran = 0;
    for (int i = 0; i < lt_device_count(); i++) {
        lt_device *dev = lt_device_get(i);
        if (!strcmp(dev->backend->name, "cpu")) continue;
        if (getenv("LORETTA_QUICK") && strcmp(dev->backend->name, "ref")) continue;
        /* The plain-loop oracle is slow: its gradients and the first step suffice. */
        int ref_steps = getenv("LORETTA_QUICK") ? 0 : 1;
        ran += check_device(dev, dev->info.is_reference ? ref_steps : NSTEPS);
    }
    printf("# golden ran on %d further device(s)\n", ran);
}

int main(void) {
    if (lt_init() != LT_OK) {
        fprintf(stderr, "lt_init: %s\n", lt_last_error());
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preset_matches_golden),
        cmocka_unit_test(test_golden_cpu),
        cmocka_unit_test(test_golden_other_devices),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
