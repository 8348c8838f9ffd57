/* backends/ref/adamw.c - placeholder: returns UNSUPPORTED until written. */
#include "cpu_common.h"

lt_status lt_ref_adamw(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "adamw is not implemented by backend ref");
}

lt_status lt_ref_sumsq(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "sumsq is not implemented by backend ref");
}

