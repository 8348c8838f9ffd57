/* backends/opencl/matmul.c - batched matmul through CLBlast.
 *
 * Row-major GEMM with each operand's row stride as its leading dimension and its batch
 * stride (0 = broadcast a batch of 1) for CLBlastSgemmStridedBatched, so views into
 * larger buffers (row-strided, offset) need no copies. accumulate is beta = 1; with
 * beta = 0 CLBlast does not read C, so garbage (even NaN) in C is overwritten. */
#include <clblast_c.h>
#include <stdio.h>

#include "ocl_common.h"

static const char *clblast_name(CLBlastStatusCode s) {
    switch (s) {
    case CLBlastOpenCLBuildProgramFailure: return "kernel build failure";
    case CLBlastOpenCLOutOfResources: return "out of resources";
    case CLBlastInvalidLeadDimA: case CLBlastInvalidLeadDimB: case CLBlastInvalidLeadDimC:
        return "invalid leading dimension";
    case CLBlastInsufficientMemoryA: case CLBlastInsufficientMemoryB:
    case CLBlastInsufficientMemoryC: return "buffer too small for the view";
    case CLBlastInvalidLocalMemUsage: return "not enough local memory";
    case CLBlastDatabaseError: return "no tuning database entry";
    case CLBlastNotImplemented: return "not implemented";
    default: return "error";
    }
}

static lt_status clblast_fail(CLBlastStatusCode s, const char *what) {
    if (s == CLBlastTempBufferAllocFailure || s == CLBlastOpenCLOutOfHostMemory)
        return lt_error(LT_ERR_OUT_OF_MEMORY, "matmul: %s: CLBlast status %d (out of memory)", what, (int)s);
    return lt_error(LT_ERR_DEVICE, "matmul: %s failed: CLBlast status %d (%s)", what, (int)s,
                    clblast_name(s));
}

typedef struct operand {
    cl_mem mem;
    size_t offset; /* elements */
    size_t ld;     /* row stride */
    size_t batch_stride;
} operand;

static operand operand_of(const lt_tensor *t) {
    int r = t->ndim - 2;
    operand o = {lt_ocl_mem(t), (size_t)lt_ocl_off(t), (size_t)t->stride[r], 0};
    if (t->ndim == 3 && t->shape[0] > 1) o.batch_stride = (size_t)t->stride[0];
    /* A matrix of one row may carry any row stride; CLBlast wants ld >= row length. */
    if (t->shape[r] == 1 && o.ld < (size_t)t->shape[r + 1]) o.ld = (size_t)t->shape[r + 1];
    return o;
}

/* C = 0 over a strided view (K = 0 without accumulate: the empty sum). */
static lt_status zero_view(lt_device *dev, lt_tensor *c) {
    int pad = 4 - c->ndim;
    cl_long sh[4], st[4];
    for (int i = 0; i < 4; i++) {
        sh[i] = i < pad ? 1 : c->shape[i - pad];
        st[i] = i < pad ? 0 : c->stride[i - pad];
    }
    int64_t n = lt_tensor_numel(c);
    return lt_ocl_run_1d(dev, "fill_copy", "zero_f32_strided", (size_t)n,
                         LT_OCL_ARGS(LT_OCL_MEM(c), LT_OCL_OFF(c),
                                     LT_OCL_LONG4(sh[0], sh[1], sh[2], sh[3]),
                                     LT_OCL_LONG4(st[0], st[1], st[2], st[3]), LT_OCL_LONG(n)));
}

lt_status lt_ocl_matmul(lt_device *dev, const lt_op_call *call) {
    LT_TRY(lt_ocl_need_f32(call));
    const lt_tensor *a = call->src[0], *b = call->src[1];
    lt_tensor *c = call->dst[0];
    const lt_matmul_params *p = &call->p.matmul;
    int rc = c->ndim - 2;
    size_t batches = c->ndim == 3 ? (size_t)c->shape[0] : 1;
    size_t M = (size_t)c->shape[rc], N = (size_t)c->shape[rc + 1];
    size_t K = (size_t)(p->trans_a ? a->shape[a->ndim - 2] : a->shape[a->ndim - 1]);
    if (batches == 0 || M == 0 || N == 0) return LT_OK;
    if (K == 0) return p->accumulate ? LT_OK : zero_view(dev, c);

    operand oa = operand_of(a), ob = operand_of(b), oc = operand_of(c);
    CLBlastTranspose ta = p->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = p->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    float beta = p->accumulate ? 1.0f : 0.0f;
    cl_command_queue q = lt_ocl_dev(dev)->queue;
    CLBlastStatusCode s;
    if (batches == 1) {
        s = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, M, N, K, p->alpha, oa.mem, oa.offset, oa.ld,
                         ob.mem, ob.offset, ob.ld, beta, oc.mem, oc.offset, oc.ld, &q, NULL);
        return s == CLBlastSuccess ? LT_OK : clblast_fail(s, "CLBlastSgemm");
    }
    s = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, ta, tb, M, N, K, p->alpha, oa.mem,
                                   oa.offset, oa.ld, oa.batch_stride, ob.mem, ob.offset, ob.ld,
                                   ob.batch_stride, beta, oc.mem, oc.offset, oc.ld,
                                   oc.batch_stride, batches, &q, NULL);
    if (s == CLBlastSuccess) return LT_OK;
    /* Some CLBlast versions refuse a batch stride of 0; broadcasting is then a loop. */
    if (oa.batch_stride && ob.batch_stride) return clblast_fail(s, "CLBlastSgemmStridedBatched");
    for (size_t i = 0; i < batches; i++) {
        s = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, M, N, K, p->alpha, oa.mem,
                         oa.offset + i * oa.batch_stride, oa.ld, ob.mem,
                         ob.offset + i * ob.batch_stride, ob.ld, beta, oc.mem,
                         oc.offset + i * oc.batch_stride, oc.ld, &q, NULL);
        if (s != CLBlastSuccess) return clblast_fail(s, "CLBlastSgemm (batch loop)");
    }
    return LT_OK;
}
