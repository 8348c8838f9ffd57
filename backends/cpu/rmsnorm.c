/* backends/cpu/rmsnorm.c - RMSNorm forward and backward on f32 rows.
 *
 * Row sums (mean of squares, mean of g*xhat) are accumulated in double: D is a few
 * hundred to a few thousand and the rows are memory-bound anyway, so the exact-ish sum
 * costs nothing and keeps the cpu backend close to the reference.
 *
 * Backward, with r = rstd, xhat = x*r and g = dout*w:
 *   dx = r * (g - xhat * mean(g * xhat)),   dw += sum_n dout * xhat.
 * dx is split over rows; dw is split over columns with every thread walking all rows in
 * order, so dw gets the same bits for any thread count (no per-thread partial sums). */
#include <math.h>

#include "cpu_common.h"

#define LT_RMS_COL_BLOCK 256

static lt_status need_f32(const char *op, const lt_tensor *t) {
    if (t->dtype != LT_F32)
        return lt_error(LT_ERR_UNSUPPORTED, "%s: backend cpu supports f32 only, got %s", op,
                        lt_dtype_name(t->dtype));
    return LT_OK;
}

static int row_threads(lt_device *dev, int64_t N, int64_t D) {
    return N > 1 && N * D >= 16384 ? lt_cpu_threads(dev) : 1;
}

lt_status lt_cpu_rmsnorm_fwd(lt_device *dev, const lt_op_call *call) {
    LT_TRY(need_f32("rmsnorm_fwd", call->src[0]));
    const float *x = lt_cpu_ptr(call->src[0]), *w = lt_cpu_ptr(call->src[1]);
    float *out = lt_cpu_ptr(call->dst[0]), *rstd = lt_cpu_ptr(call->dst[1]);
    const int64_t D = lt_tensor_numel(call->src[1]), N = lt_tensor_numel(call->dst[1]);
    const double eps = call->p.rmsnorm.eps;
#pragma omp parallel for schedule(static) num_threads(row_threads(dev, N, D))
    for (int64_t n = 0; n < N; n++) {
        const float *xr = x + n * D;
        float *orow = out + n * D; /* may be xr itself: the row is read in full first */
        double ss = 0.0;
        for (int64_t d = 0; d < D; d++) ss += (double)xr[d] * xr[d];
        const float r = (float)(1.0 / sqrt(ss / (double)D + eps));
        for (int64_t d = 0; d < D; d++) orow[d] = xr[d] * r * w[d];
        rstd[n] = r;
    }
    return LT_OK;
}

lt_status lt_cpu_rmsnorm_bwd(lt_device *dev, const lt_op_call *call) {
    LT_TRY(need_f32("rmsnorm_bwd", call->src[1]));
    const float *restrict dout = lt_cpu_ptr(call->src[0]), *restrict x = lt_cpu_ptr(call->src[1]);
    const float *restrict w = lt_cpu_ptr(call->src[2]), *restrict rstd = lt_cpu_ptr(call->src[3]);
    float *restrict dx = lt_cpu_ptr(call->dst[0]), *restrict dw = lt_cpu_ptr(call->dst[1]);
    const int64_t D = lt_tensor_numel(call->src[2]), N = lt_tensor_numel(call->src[3]);
    const int accumulate_dx = call->p.rmsnorm.accumulate_dx;
    const int64_t col_blocks = (D + LT_RMS_COL_BLOCK - 1) / LT_RMS_COL_BLOCK;

#pragma omp parallel num_threads(row_threads(dev, N, D))
    {
#pragma omp for schedule(static) nowait
        for (int64_t n = 0; n < N; n++) {
            const float *dr = dout + n * D, *xr = x + n * D;
            float *dxr = dx + n * D;
            const float r = rstd[n];
            double dot = 0.0;
            for (int64_t d = 0; d < D; d++) dot += (double)(dr[d] * w[d]) * (double)(xr[d] * r);
            const float mean = (float)(dot / (double)D);
            if (accumulate_dx)
                for (int64_t d = 0; d < D; d++) dxr[d] += r * (dr[d] * w[d] - xr[d] * r * mean);
            else
                for (int64_t d = 0; d < D; d++) dxr[d] = r * (dr[d] * w[d] - xr[d] * r * mean);
        }
#pragma omp for schedule(static)
        for (int64_t blk = 0; blk < col_blocks; blk++) {
            const int64_t d0 = blk * LT_RMS_COL_BLOCK;
            const int64_t len = D - d0 < LT_RMS_COL_BLOCK ? D - d0 : LT_RMS_COL_BLOCK;
            double acc[LT_RMS_COL_BLOCK];
            for (int64_t j = 0; j < len; j++) acc[j] = dw[d0 + j];
            for (int64_t n = 0; n < N; n++) {
                const float *dr = dout + n * D + d0, *xr = x + n * D + d0;
                const float r = rstd[n];
                for (int64_t j = 0; j < len; j++) acc[j] += (double)(dr[j] * (xr[j] * r));
            }
            for (int64_t j = 0; j < len; j++) dw[d0 + j] = (float)acc[j];
        }
    }
    return LT_OK;
}
