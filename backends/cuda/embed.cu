/* backends/cuda/embed.cu - token / position embedding lookups and their gradient.
 *
 * The ids are read back and checked on the host first (one small copy and a wait), so
 * an id out of range is refused before anything is written, with its position in the
 * message, as in backends/ref/embed.c.
 *
 * The backward is deterministic without atomics: the host groups the rows by token
 * (sorted by id, ties in row order, as the reference does), and one thread per (token,
 * column) sums its group in double starting from the old value and rounds once. */
#include <stdlib.h>

#include "cuda_kernels.cuh"

static lt_status ids_in_range(const char *op, const char *arg, const int32_t *ids, int64_t n,
                              int64_t rows) {
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= rows)
            return lt_error(LT_ERR_RANGE, "%s: %s[%lld] = %d is outside the table of %lld rows",
                            op, arg, (long long)i, (int)ids[i], (long long)rows);
    return LT_OK;
}

/* out[n, d] = (accumulate ? out[n, d] : 0) + table[ids[n], d] */
__global__ void lt_gather_rows(void *out, const void *table, const int32_t *ids, int dt,
                               int64_t rows, int64_t D, int accumulate) {
    LT_GRID_STRIDE(i, rows * D) {
        int64_t n = i / D, d = i % D;
        float v = lt_ld(table, dt, (int64_t)ids[n] * D + d);
        if (accumulate) v = lt_ld(out, dt, i) + v;
        lt_st(out, dt, i, v);
    }
}

static lt_status gather(lt_device *dev, const lt_op_call *call, const char *op, const char *arg,
                        int accumulate) {
    const lt_tensor *ids = call->src[0], *table = call->src[1];
    lt_tensor *out = call->dst[0];
    lt_cuda_device *cd;
    LT_TRY(lt_cuda_ready(dev, op, &cd));
    LT_TRY(lt_cuda_float_dtype(op, "table", table));
    LT_TRY(lt_cuda_aligned(op, "out", out));
    LT_TRY(lt_cuda_aligned(op, arg, ids));
    const int64_t V = table->shape[0], D = table->shape[1], rows = lt_tensor_numel(ids);
    if (rows == 0 || D == 0) return LT_OK;
    int32_t *host = NULL;
    LT_TRY(lt_cuda_fetch(cd, op, ids, (void **)&host));
    lt_status s = ids_in_range(op, arg, host, rows, V);
    free(host);
    if (s != LT_OK) return s;
    lt_gather_rows<<<lt_cuda_grid(rows * D, LT_CUDA_THREADS), LT_CUDA_THREADS, 0, cd->stream>>>(
        lt_cuda_ptr(out), lt_cuda_ptr(table), (const int32_t *)lt_cuda_ptr(ids), (int)out->dtype,
        rows, D, accumulate);
    return lt_cuda_launched(op);
}

extern "C" lt_status lt_cuda_embed_fwd(lt_device *dev, const lt_op_call *call) {
    return gather(dev, call, "embed_fwd", "tokens", call->p.embed.accumulate);
}

extern "C" lt_status lt_cuda_pos_embed_fwd(lt_device *dev, const lt_op_call *call) {
    return gather(dev, call, "pos_embed_fwd", "pos", 1);
}

/* rows[] lists the dout rows grouped by token; group g covers rows[start[g] .. start[g+1])
 * and adds into table row id[g]. */
__global__ void lt_scatter_groups(void *dtable, const void *dout, const int32_t *rows,
                                  const int32_t *start, const int32_t *id, int dt, int64_t groups,
                                  int64_t D) {
    LT_GRID_STRIDE(i, groups * D) {
        int64_t g = i / D, d = i % D;
        int64_t o = (int64_t)id[g] * D + d;
        double s = lt_ld(dtable, dt, o);
        for (int32_t k = start[g]; k < start[g + 1]; k++) s += lt_ld(dout, dt, (int64_t)rows[k] * D + d);
        lt_st(dtable, dt, o, (float)s);
    }
}

typedef struct id_row {
    int32_t id, row;
} id_row;

static int by_id_then_row(const void *pa, const void *pb) {
    const id_row *a = (const id_row *)pa, *b = (const id_row *)pb;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

extern "C" lt_status lt_cuda_embed_bwd(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *ids = call->src[0], *dout = call->src[1];
    lt_tensor *dtable = call->dst[0];
    lt_cuda_device *cd;
    LT_TRY(lt_cuda_ready(dev, "embed_bwd", &cd));
    LT_TRY(lt_cuda_float_dtype("embed_bwd", "dout", dout));
    LT_TRY(lt_cuda_aligned("embed_bwd", "dtable", dtable));
    LT_TRY(lt_cuda_aligned("embed_bwd", "tokens", ids));
    const int64_t V = dtable->shape[0], D = dtable->shape[1], n = lt_tensor_numel(ids);
    if (n == 0 || D == 0) return LT_OK;
    if (n > INT32_MAX / 2)
        return lt_error(LT_ERR_UNSUPPORTED, "embed_bwd: %lld rows exceed the cuda backend's limit",
                        (long long)n);
    int32_t *host = NULL;
    LT_TRY(lt_cuda_fetch(cd, "embed_bwd", ids, (void **)&host));
    lt_status s = ids_in_range("embed_bwd", "tokens", host, n, V);
    id_row *order = NULL;
    int32_t *plan = NULL;
    if (s == LT_OK) {
        order = (id_row *)malloc((size_t)n * sizeof *order);
        plan = (int32_t *)malloc((size_t)(3 * n + 1) * sizeof *plan);
        if (!order || !plan)
            s = lt_error(LT_ERR_OUT_OF_MEMORY, "embed_bwd: no host memory to group %lld rows",
                         (long long)n);
    }
    int64_t groups = 0;
    if (s == LT_OK) {
        for (int64_t i = 0; i < n; i++) {
            order[i].id = host[i];
            order[i].row = (int32_t)i;
        }
        qsort(order, (size_t)n, sizeof *order, by_id_then_row);
        /* plan = rows[n] | start[groups + 1] | id[groups], packed without gaps. */
        int32_t *rows = plan, *start = plan + n;
        for (int64_t i = 0; i < n; i++) {
            rows[i] = order[i].row;
            if (i == 0 || order[i].id != order[i - 1].id) start[groups++] = (int32_t)i;
        }
        start[groups] = (int32_t)n;
        int32_t *gid = start + groups + 1;
        for (int64_t g = 0; g < groups; g++) gid[g] = order[start[g]].id;
    }
    void *dplan = NULL;
    size_t plan_bytes = (size_t)(n + 2 * groups + 1) * sizeof(int32_t);
    if (s == LT_OK) s = lt_cuda_scratch(cd, plan_bytes, &dplan);
    if (s == LT_OK)
        s = lt_cuda_check(cudaMemcpyAsync(dplan, plan, plan_bytes, cudaMemcpyHostToDevice, cd->stream),
                          "embed_bwd", "uploading the row groups");
    /* The host plan must outlive the copy. */
    if (s == LT_OK)
        s = lt_cuda_check(cudaStreamSynchronize(cd->stream), "embed_bwd", "uploading the row groups");
    free(host);
    free(order);
    free(plan);
    if (s != LT_OK) return s;
    const int32_t *drows = (const int32_t *)dplan, *dstart = drows + n, *did = dstart + groups + 1;
    lt_scatter_groups<<<lt_cuda_grid(groups * D, LT_CUDA_THREADS), LT_CUDA_THREADS, 0, cd->stream>>>(
        lt_cuda_ptr(dtable), lt_cuda_ptr(dout), drows, dstart, did, (int)dtable->dtype, groups, D);
    return lt_cuda_launched("embed_bwd");
}
