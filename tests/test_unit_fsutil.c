/* tests/test_unit_fsutil.c - mkdir -p: output folders whose parents do not exist yet (a
 * fresh checkout has no out/), existing folders, and a file standing in the way. */
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

#include "loretta/fsutil.h"

static char root[256];

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_nested(void **state) {
    (void)state;
    char p[512];
    snprintf(p, sizeof p, "%s/a/b//c/", root);
    assert_int_equal(lt_mkdir_p(p), LT_OK);
    snprintf(p, sizeof p, "%s/a/b/c", root);
    assert_true(is_dir(p));
    /* Again: everything exists already. */
    assert_int_equal(lt_mkdir_p(p), LT_OK);
}

static void test_refusals(void **state) {
    (void)state;
    char file[512], p[600];
    snprintf(file, sizeof file, "%s/plain", root);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    /* The file itself, and a folder below it. */
    assert_int_equal(lt_mkdir_p(file), LT_ERR_IO);
    assert_non_null(strstr(lt_last_error(), "plain"));
    snprintf(p, sizeof p, "%s/below", file);
    assert_int_equal(lt_mkdir_p(p), LT_ERR_IO);
    assert_non_null(strstr(lt_last_error(), "plain"));
    assert_int_equal(lt_mkdir_p(""), LT_ERR_INVALID_ARG);
    assert_int_equal(lt_mkdir_p(NULL), LT_ERR_INVALID_ARG);
    remove(file);
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/lt_test_fsutil_%ld", (long)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_refusals),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) r = r ? r : 1;
    return r;
}
