/* backends/ref/embed.c - token / position embedding lookups and their gradient. */
#include <stdlib.h>

#include "ref_common.h"

/* Checks every id before anything is written, so a failed call leaves `out` untouched. */
static lt_status ids_in_range(const char *op, const char *arg, const lt_tensor *ids,
                              int64_t rows) {
    const int64_t n = lt_tensor_numel(ids);
    for (int64_t i = 0; i < n; i++) {
        const int32_t id = lt_ref_i32(ids, lt_ref_lin(ids, i));
        if (id < 0 || id >= rows)
            return lt_error(LT_ERR_RANGE, "%s: %s[%lld] = %d is outside the table of %lld rows",
                            op, arg, (long long)i, (int)id, (long long)rows);
    }
    return LT_OK;
}

/* out[n, :] = (accumulate ? out[n, :] : 0) + table[ids[n], :] */
static lt_status gather_rows(const char *op, const char *arg, const lt_op_call *call,
                             int accumulate) {
    const lt_tensor *ids = call->src[0], *table = call->src[1];
    lt_tensor *out = call->dst[0];
    const int64_t V = table->shape[0], D = table->shape[1];
    LT_TRY(ids_in_range(op, arg, ids, V));
    const int64_t n_rows = lt_tensor_numel(ids);
    for (int64_t n = 0; n < n_rows; n++) {
        const int32_t id = lt_ref_i32(ids, lt_ref_lin(ids, n));
        for (int64_t d = 0; d < D; d++) {
            const int64_t o = lt_ref_lin(out, n * D + d);
            double v = lt_ref_ld(table, lt_ref_at(table, id, d, 0, 0));
            if (accumulate) v += lt_ref_ld(out, o);
            lt_ref_st(out, o, v);
        }
    }
    return LT_OK;
}

lt_status lt_ref_embed_fwd(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    return gather_rows("embed_fwd", "tokens", call, call->p.embed.accumulate);
}

lt_status lt_ref_pos_embed_fwd(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    return gather_rows("pos_embed_fwd", "pos", call, 1);
}

typedef struct id_row {
    int32_t id;
    int64_t row;
} id_row;

static int by_id_then_row(const void *pa, const void *pb) {
    const id_row *a = pa, *b = pb;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

/* Rows are grouped by token (sorted, ties kept in row order) so each table row is
 * summed once in double, starting from its old value, then rounded once. */
lt_status lt_ref_embed_bwd(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    const lt_tensor *ids = call->src[0], *dout = call->src[1];
    lt_tensor *dtable = call->dst[0];
    const int64_t V = dtable->shape[0], D = dtable->shape[1];
    LT_TRY(ids_in_range("embed_bwd", "tokens", ids, V));
    const int64_t n_rows = lt_tensor_numel(ids);
    if (n_rows == 0) return LT_OK;
    id_row *order = malloc((size_t)n_rows * sizeof *order);
    if (!order)
        return lt_error(LT_ERR_OUT_OF_MEMORY, "embed_bwd: no host memory for %lld row ids",
                        (long long)n_rows);
    for (int64_t n = 0; n < n_rows; n++) order[n] = (id_row){lt_ref_i32(ids, lt_ref_lin(ids, n)), n};
    qsort(order, (size_t)n_rows, sizeof *order, by_id_then_row);
    for (int64_t g = 0; g < n_rows;) {
        int64_t end = g;
        while (end < n_rows && order[end].id == order[g].id) end++;
        for (int64_t d = 0; d < D; d++) {
            const int64_t o = lt_ref_at(dtable, order[g].id, d, 0, 0);
            double s = lt_ref_ld(dtable, o);
            for (int64_t k = g; k < end; k++) s += lt_ref_ld(dout, lt_ref_lin(dout, order[k].row * D + d));
            lt_ref_st(dtable, o, s);
        }
        g = end;
    }
    free(order);
    return LT_OK;
}
