/* core/pretrain_util.c - small helpers of the pre-training drivers: clock, directories,
 * ETA text and the first/last loss summary the tests compare. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "loretta/fsutil.h"
#include "pretrain_internal.h"

double lt_pt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int lt_pt_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* mkdir -p: every missing parent too. */
lt_status lt_pt_mkdir(const char *path) { return lt_mkdir_p(path); }

void lt_pt_fmt_eta(double s, char *buf, size_t n) {
    if (s < 0 || !isfinite(s)) s = 0;
    if (s >= 3600) snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

void lt_pt_losses_add(lt_pt_losses *l, double loss) {
    if (l->n < 3) l->first[l->n] = loss;
    l->last[l->n % 3] = loss;
    l->n++;
}

void lt_pt_losses_result(const lt_pt_losses *l, lt_pretrain_result *r) {
    int k = l->n < 3 ? l->n : 3;
    double f = 0, e = 0;
    for (int i = 0; i < k; i++) {
        f += l->first[i];
        e += l->last[i];
    }
    r->first_loss = k ? f / k : NAN;
    r->final_loss = k ? e / k : NAN;
}
