/* backends/cpu/embed.c - token / position embedding lookups and their gradient (f32).
 *
 * The backward scatter-adds rows of dout into table rows that repeat tokens, so threads
 * split the embedding width D, never the rows: each thread owns a column range of every
 * table row and walks the tokens in order, which makes the sum order (old value, then
 * rows n = 0, 1, ... in turn) the same for every run and every thread count. */
#include <string.h>

#include "cpu_common.h"

/* Column blocks of this many floats (one or more cache lines) are the unit of work. */
#define LT_EMBED_COL_BLOCK 64

static lt_status need_f32(const char *op, const lt_tensor *t) {
    if (t->dtype != LT_F32)
        return lt_error(LT_ERR_UNSUPPORTED, "%s: backend cpu supports f32 only, got %s", op,
                        lt_dtype_name(t->dtype));
    return LT_OK;
}

/* Checks every id before anything is written, so a failed call leaves the output as it was. */
static lt_status ids_in_range(const char *op, const char *arg, const int32_t *ids, int64_t n,
                              int64_t rows) {
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= rows)
            return lt_error(LT_ERR_RANGE, "%s: %s[%lld] = %d is outside the table of %lld rows",
                            op, arg, (long long)i, (int)ids[i], (long long)rows);
    return LT_OK;
}

static lt_status gather_rows(lt_device *dev, const char *op, const char *arg,
                             const lt_op_call *call, int accumulate) {
    const lt_tensor *table_t = call->src[1];
    LT_TRY(need_f32(op, table_t));
    const int32_t *ids = lt_cpu_ptr(call->src[0]);
    const float *table = lt_cpu_ptr(table_t);
    float *out = lt_cpu_ptr(call->dst[0]);
    const int64_t V = table_t->shape[0], D = table_t->shape[1];
    const int64_t N = lt_tensor_numel(call->src[0]);
    LT_TRY(ids_in_range(op, arg, ids, N, V));
    const int threads = N * D >= 32768 ? lt_cpu_threads(dev) : 1;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t n = 0; n < N; n++) {
        const float *restrict src = table + (int64_t)ids[n] * D;
        float *restrict dst = out + n * D;
        if (accumulate)
            for (int64_t d = 0; d < D; d++) dst[d] += src[d];
        else
            memcpy(dst, src, (size_t)D * sizeof(float));
    }
    return LT_OK;
}

lt_status lt_cpu_embed_fwd(lt_device *dev, const lt_op_call *call) {
    return gather_rows(dev, "embed_fwd", "tokens", call, call->p.embed.accumulate);
}

lt_status lt_cpu_pos_embed_fwd(lt_device *dev, const lt_op_call *call) {
    return gather_rows(dev, "pos_embed_fwd", "pos", call, 1);
}

lt_status lt_cpu_embed_bwd(lt_device *dev, const lt_op_call *call) {
    lt_tensor *dtable_t = call->dst[0];
    LT_TRY(need_f32("embed_bwd", dtable_t));
    const int32_t *ids = lt_cpu_ptr(call->src[0]);
    const float *dout = lt_cpu_ptr(call->src[1]);
    float *dtable = lt_cpu_ptr(dtable_t);
    const int64_t V = dtable_t->shape[0], D = dtable_t->shape[1];
    const int64_t N = lt_tensor_numel(call->src[0]);
    LT_TRY(ids_in_range("embed_bwd", "tokens", ids, N, V));
    const int64_t blocks = (D + LT_EMBED_COL_BLOCK - 1) / LT_EMBED_COL_BLOCK;
    const int threads = N * D >= 32768 ? lt_cpu_threads(dev) : 1;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t blk = 0; blk < blocks; blk++) {
        const int64_t d0 = blk * LT_EMBED_COL_BLOCK;
        const int64_t d1 = d0 + LT_EMBED_COL_BLOCK < D ? d0 + LT_EMBED_COL_BLOCK : D;
        for (int64_t n = 0; n < N; n++) {
            float *restrict dst = dtable + (int64_t)ids[n] * D;
            const float *restrict src = dout + n * D;
            for (int64_t d = d0; d < d1; d++) dst[d] += src[d];
        }
    }
    return LT_OK;
}
