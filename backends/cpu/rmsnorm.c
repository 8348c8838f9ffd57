/* backends/cpu/rmsnorm.c - placeholder: returns UNSUPPORTED until written. */
#include "cpu_common.h"

lt_status lt_cpu_rmsnorm_fwd(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "rmsnorm_fwd is not implemented by backend cpu");
}

lt_status lt_cpu_rmsnorm_bwd(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "rmsnorm_bwd is not implemented by backend cpu");
}

