/* backends/cpu/fill_copy.c - placeholder: returns UNSUPPORTED until written. */
#include "cpu_common.h"

lt_status lt_cpu_fill(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "fill is not implemented by backend cpu");
}

lt_status lt_cpu_copy(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "copy is not implemented by backend cpu");
}

lt_status lt_cpu_cast(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "cast is not implemented by backend cpu");
}

