/* backends/cpu/elementwise.c - placeholder: returns UNSUPPORTED until written. */
#include "cpu_common.h"

lt_status lt_cpu_gelu_fwd(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "gelu_fwd is not implemented by backend cpu");
}

lt_status lt_cpu_gelu_bwd(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "gelu_bwd is not implemented by backend cpu");
}

lt_status lt_cpu_add(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "add is not implemented by backend cpu");
}

lt_status lt_cpu_scale(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "scale is not implemented by backend cpu");
}

lt_status lt_cpu_axpy(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "axpy is not implemented by backend cpu");
}

