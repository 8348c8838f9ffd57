/* tests/support/svl_fixture.h - small SVL-MNIST-shaped raw sources written by the tests
 * themselves: IDX images (gzip), WAV recordings in the FSDD naming, a text,label CSV. */
#ifndef LT_TEST_SVL_FIXTURE_H
#define LT_TEST_SVL_FIXTURE_H

/* Writes dir/mnist (n_train + n_test images of side x side, labels cycling 0-9, pixel 0
 * and 1 encoding a unique id, a class pattern elsewhere), dir/audio (per_class recordings
 * per digit, in two speaker folders), dir/text.csv (n_text rows, header `header`). A class
 * equal to `missing_text_class` never appears in the text. Returns 0 on success. */
int lt_fixture_svl_sources(const char *dir, int n_train, int n_test, int side, int per_class,
                           int n_text, int missing_text_class, const char *header);

#endif
