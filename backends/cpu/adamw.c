/* backends/cpu/adamw.c - placeholder: returns UNSUPPORTED until written. */
#include "cpu_common.h"

lt_status lt_cpu_adamw(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "adamw is not implemented by backend cpu");
}

lt_status lt_cpu_sumsq(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "sumsq is not implemented by backend cpu");
}

