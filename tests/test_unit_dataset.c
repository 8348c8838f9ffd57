/* tests/test_unit_dataset.c - the multimodal dataset file: round trip, random access,
 * and every kind of damage a reader must refuse with a message naming file and field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loretta/dataset.h"

static char path[256];

static const lt_ds_modality mods[3] = {
    {"image", 256, 4, 1},
    {"text", 256, 6, 0},
    {"audio", 1000, 3, 1},
};

static void write_sample_file(void) {
    lt_dataset_writer *w = NULL;
    assert_int_equal(lt_dataset_writer_open(path, mods, 3, &w), LT_OK);
    uint16_t img[4] = {0, 255, 7, 8}, txt[6] = {'h', 'i', '!', 0, 0, 0}, aud[3] = {999, 1, 2};
    const uint16_t *t[3] = {img, txt, aud};
    uint32_t len[3] = {4, 3, 3};
    assert_int_equal(lt_dataset_writer_add(w, 5, 0x3, t, len), LT_OK);  /* (image, text) */
    assert_int_equal(lt_dataset_writer_add(w, 7, 0x4, t, len), LT_OK);  /* audio alone */
    len[1] = 6;
    assert_int_equal(lt_dataset_writer_add(w, 1, 0x7, t, len), LT_OK);  /* all three */
    assert_int_equal(lt_dataset_writer_close(w), LT_OK);
}

static void test_roundtrip(void **state) {
    (void)state;
    write_sample_file();
    lt_dataset *ds = NULL;
    assert_int_equal(lt_dataset_open(path, &ds), LT_OK);
    assert_int_equal(lt_dataset_size(ds), 3);
    assert_int_equal(lt_dataset_modality_count(ds), 3);
    assert_string_equal(lt_dataset_modality(ds, 2)->name, "audio");
    assert_int_equal(lt_dataset_find_modality(ds, "text"), 1);
    assert_int_equal(lt_dataset_find_modality(ds, "video"), -1);
    lt_ds_sample s;
    assert_int_equal(lt_dataset_get(ds, 0, &s), LT_OK);
    assert_int_equal(s.label, 5);
    assert_int_equal(s.mask, 3);
    assert_int_equal(s.len[0], 4);
    assert_int_equal(s.tokens[0][1], 255);
    assert_int_equal(s.len[1], 3);
    assert_int_equal(s.tokens[1][0], 'h');
    assert_null(s.tokens[2]);
    assert_int_equal(lt_dataset_get(ds, 1, &s), LT_OK);
    assert_int_equal(s.mask, 4);
    assert_int_equal(s.tokens[2][0], 999);
    assert_int_equal(lt_dataset_get(ds, 2, &s), LT_OK);
    assert_int_equal(s.len[1], 6);
    assert_int_equal(lt_dataset_get(ds, 3, &s), LT_ERR_RANGE);
    lt_dataset_close(ds);
}

static void test_writer_rejects(void **state) {
    (void)state;
    lt_dataset_writer *w = NULL;
    assert_int_equal(lt_dataset_writer_open(path, mods, 3, &w), LT_OK);
    uint16_t img[4] = {0, 256, 0, 0}, txt[1] = {1}, aud[3] = {0, 0, 0};
    const uint16_t *t[3] = {img, txt, aud};
    uint32_t len[3] = {4, 1, 3};
    assert_int_equal(lt_dataset_writer_add(w, 0, 0x1, t, len), LT_ERR_RANGE);
    assert_non_null(strstr(lt_last_error(), "image"));
    len[0] = 3; /* fixed-length modality with the wrong length */
    img[1] = 1;
    assert_int_equal(lt_dataset_writer_add(w, 0, 0x1, t, len), LT_ERR_INVALID_ARG);
    assert_int_equal(lt_dataset_writer_add(w, 0, 0x8, t, len), LT_ERR_INVALID_ARG);
    lt_dataset_writer_abort(w);
    lt_ds_modality dup[2] = {{"a", 2, 1, 0}, {"a", 2, 1, 0}};
    assert_int_equal(lt_dataset_writer_open(path, dup, 2, &w), LT_ERR_INVALID_ARG);
}

static long file_size(void) {
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void poke(long off, unsigned char v) {
    FILE *f = fopen(path, "r+b");
    fseek(f, off, SEEK_SET);
    fputc(v, f);
    fclose(f);
}

static void test_damage(void **state) {
    (void)state;
    lt_dataset *ds = NULL;
    write_sample_file();
    poke(70, 0x55); /* a data byte: checksum must catch it */
    assert_int_equal(lt_dataset_open(path, &ds), LT_ERR_FORMAT);
    assert_non_null(strstr(lt_last_error(), "checksum"));
    assert_non_null(strstr(lt_last_error(), path));

    write_sample_file();
    poke(0, 'X');
    assert_int_equal(lt_dataset_open(path, &ds), LT_ERR_FORMAT);
    assert_non_null(strstr(lt_last_error(), "magic"));

    write_sample_file();
    assert_int_equal(truncate(path, file_size() - 5), 0);
    assert_int_equal(lt_dataset_open(path, &ds), LT_ERR_FORMAT);
    assert_non_null(strstr(lt_last_error(), "offset"));

    write_sample_file();
    poke(8, 9); /* version */
    assert_int_equal(lt_dataset_open(path, &ds), LT_ERR_FORMAT);
    assert_non_null(strstr(lt_last_error(), "version"));

    assert_int_equal(truncate(path, 10), 0);
    assert_int_equal(lt_dataset_open(path, &ds), LT_ERR_FORMAT);
    assert_int_equal(lt_dataset_open("/nonexistent/x.ltds", &ds), LT_ERR_IO);
    assert_null(ds);
}

int main(void) {
    snprintf(path, sizeof path, "/tmp/lt_test_dataset_%ld.ltds", (long)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_writer_rejects),
        cmocka_unit_test(test_damage),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    remove(path);
    return r;
}
