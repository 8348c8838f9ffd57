/* tests/test_unit_svl_build.c - the SVL-MNIST split on sources the test makes: counts,
 * no sample used twice, determinism for a seed, scaling to small sources, and the
 * errors a researcher must see (a missing class, a CSV without its columns). With
 * LORETTA_DATA set, a small build from the real sources too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "loretta/dataset.h"
#include "loretta/svl.h"
#include "support/svl_fixture.h"

static char dir[128];

static void make_sources(int text_missing_class, const char *text_header) {
    assert_int_equal(lt_fixture_svl_sources(dir, 200, 50, 4, 12, 150, text_missing_class, text_header), 0);
}

static lt_svl_build_opts opts(const char *out) {
    static char a[3][512];
    lt_svl_build_opts o = lt_svl_build_defaults();
    snprintf(a[0], sizeof a[0], "%s/mnist", dir);
    snprintf(a[1], sizeof a[1], "%s/audio", dir);
    snprintf(a[2], sizeof a[2], "%s/text.csv", dir);
    o.mnist_dir = a[0];
    o.audio_dir = a[1];
    o.text_csv = a[2];
    o.out_dir = out;
    o.pairs_per_class = 3;
    o.test_per_class = 2;
    o.text_max = 40;
    o.quiet = 1;
    return o;
}

static int count_samples(const char *out, const char *name, int *image_ids, int *n_ids,
                         char texts[][48], int *n_texts) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s.ltds", out, name);
    lt_dataset *ds;
    assert_int_equal(lt_dataset_open(p, &ds), LT_OK);
    int n = (int)lt_dataset_size(ds);
    for (int i = 0; i < n; i++) {
        lt_ds_sample s;
        assert_int_equal(lt_dataset_get(ds, (uint64_t)i, &s), LT_OK);
        if (s.tokens[LT_SVL_I]) image_ids[(*n_ids)++] = s.tokens[LT_SVL_I][0] | s.tokens[LT_SVL_I][1] << 8;
        if (s.tokens[LT_SVL_T]) {
            int k = 0;
            for (; k < (int)s.len[LT_SVL_T] && k < 47; k++) texts[*n_texts][k] = (char)s.tokens[LT_SVL_T][k];
            texts[*n_texts][k] = 0;
            (*n_texts)++;
        }
        if (s.tokens[LT_SVL_A]) assert_int_equal(s.len[LT_SVL_A], 39 * 13);
    }
    lt_dataset_close(ds);
    return n;
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static void test_split(void **state) {
    (void)state;
    make_sources(-1, "text,label");
    char out[256];
    snprintf(out, sizeof out, "%s/out1", dir);
    lt_svl_build_opts o = opts(out);
    assert_int_equal(lt_svl_build(&o), LT_OK);
    static int ids[1000];
    static char texts[1000][48];
    int n_ids = 0, n_texts = 0;
    assert_int_equal(count_samples(out, "test_ITA", ids, &n_ids, texts, &n_texts), 20);
    assert_int_equal(count_samples(out, "train_IT", ids, &n_ids, texts, &n_texts), 30);
    assert_int_equal(count_samples(out, "train_TA", ids, &n_ids, texts, &n_texts), 30);
    assert_int_equal(count_samples(out, "train_AI", ids, &n_ids, texts, &n_texts), 30);
    assert_int_equal(count_samples(out, "train_I", ids, &n_ids, texts, &n_texts), 200 - 60);
    assert_int_equal(count_samples(out, "train_T", ids, &n_ids, texts, &n_texts), 150 - 80);
    /* audio: 12 per class, 2 test + 6 paired + 4 unimodal; takes 0-4 preferred for test, the
     * 3 leftover official-test takes per class are held out */
    assert_int_equal(count_samples(out, "train_A", ids, &n_ids, texts, &n_texts), 10);
    qsort(ids, (size_t)n_ids, sizeof(int), cmp_int);
    for (int i = 1; i < n_ids; i++) assert_int_not_equal(ids[i], ids[i - 1]); /* no image twice */
    for (int i = 0; i < n_texts; i++)
        for (int j = i + 1; j < n_texts; j++) assert_string_not_equal(texts[i], texts[j]);
    /* test images come from the t10k file (ids >= 1000) */
    int from_test = 0;
    for (int i = 0; i < n_ids; i++) from_test += ids[i] >= 1000;
    assert_int_equal(from_test, 20);

    /* the same seed gives the same bytes */
    char out2[256], cmd[1200];
    snprintf(out2, sizeof out2, "%s/out2", dir);
    o.out_dir = out2;
    assert_int_equal(lt_svl_build(&o), LT_OK);
    snprintf(cmd, sizeof cmd, "cmp -s %s/train_TA.ltds %s/train_TA.ltds && cmp -s %s/test_ITA.ltds %s/test_ITA.ltds",
             out, out2, out, out2);
    assert_int_equal(system(cmd), 0);
}

static void test_scaling(void **state) {
    (void)state;
    make_sources(-1, "text,label");
    char out[256];
    snprintf(out, sizeof out, "%s/out3", dir);
    lt_svl_build_opts o = opts(out);
    o.pairs_per_class = 100; /* audio has 12 per class: must scale down, not fail */
    o.test_per_class = 10;
    assert_int_equal(lt_svl_build(&o), LT_OK);
    char p[512];
    snprintf(p, sizeof p, "%s/build.json", out);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    assert_non_null(strstr(buf, "scaled to"));
}

static void test_bad_sources(void **state) {
    (void)state;
    char out[256];
    snprintf(out, sizeof out, "%s/out4", dir);
    make_sources(7, "text,label");
    lt_svl_build_opts o = opts(out);
    assert_int_equal(lt_svl_build(&o), LT_ERR_FORMAT);
    assert_non_null(strstr(lt_last_error(), "class 7"));
    make_sources(-1, "text,category");
    assert_int_equal(lt_svl_build(&o), LT_ERR_FORMAT);
    assert_non_null(strstr(lt_last_error(), "label column"));
    make_sources(-1, "text,label");
    char p[512];
    snprintf(p, sizeof p, "%s/mnist/t10k-images-idx3-ubyte.gz", dir);
    assert_int_equal(truncate(p, 30), 0); /* a truncated IDX file */
    assert_int_not_equal(lt_svl_build(&o), LT_OK);
    assert_non_null(strstr(lt_last_error(), "t10k-images"));
}

static void test_real_data(void **state) {
    (void)state;
    const char *root = getenv("LORETTA_DATA");
    if (!root || !*root) {
        skip();
        return;
    }
    char m[512], a[512], t[512], out[256];
    snprintf(m, sizeof m, "%s/mnist", root);
    snprintf(a, sizeof a, "%s/fsdd", root);
    snprintf(t, sizeof t, "%s/wine/winemag-data-130k-v2.part.csv", root);
    if (access(t, R_OK) != 0 || access(a, R_OK) != 0) {
        skip();
        return;
    }
    snprintf(out, sizeof out, "%s/real", dir);
    lt_svl_build_opts o = lt_svl_build_defaults();
    o.mnist_dir = m;
    o.audio_dir = a;
    o.text_csv = t;
    o.out_dir = out;
    o.pairs_per_class = 20;
    o.test_per_class = 5;
    o.image_pool = 2;
    o.audio_frames = 13;
    o.quiet = 1;
    assert_int_equal(lt_svl_build(&o), LT_OK);
    char p[512];
    snprintf(p, sizeof p, "%s/train_TA.ltds", out);
    lt_dataset *ds;
    assert_int_equal(lt_dataset_open(p, &ds), LT_OK);
    assert_int_equal(lt_dataset_size(ds), 200);
    assert_int_equal(lt_dataset_modality(ds, LT_SVL_I)->max_len, 196);
    assert_int_equal(lt_dataset_modality(ds, LT_SVL_A)->max_len, 13 * 13);
    lt_dataset_close(ds);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/lt_test_svl_%ld", (long)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", dir, dir);
    if (system(cmd) != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split), cmocka_unit_test(test_scaling),
        cmocka_unit_test(test_bad_sources), cmocka_unit_test(test_real_data),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return r;
}
