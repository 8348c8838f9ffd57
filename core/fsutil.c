/* core/fsutil.c - mkdir -p. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "loretta/fsutil.h"

static lt_status make_one(const char *p) {
    if (mkdir(p, 0755) == 0) return LT_OK;
    int err = errno;
    struct stat st;
    if (err == EEXIST && stat(p, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return LT_OK;
        return lt_error(LT_ERR_IO, "cannot create directory %s: a file of that name exists", p);
    }
    return lt_error(LT_ERR_IO, "cannot create directory %s: %s", p, strerror(err));
}

lt_status lt_mkdir_p(const char *path) {
    char p[4096];
    if (!path || !path[0]) return lt_error(LT_ERR_INVALID_ARG, "mkdir: empty directory name");
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
        return lt_error(LT_ERR_INVALID_ARG, "mkdir: directory name of %zu bytes is too long", strlen(path));
    /* Each parent in turn; "a//b" and a trailing '/' give empty components, skipped. */
    for (char *c = p + 1; *c; c++) {
        if (*c != '/' || c[-1] == '/') continue;
        *c = 0;
        lt_status s = make_one(p);
        *c = '/';
        if (s != LT_OK) return s;
    }
    return make_one(p);
}
