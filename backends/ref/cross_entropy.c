/* backends/ref/cross_entropy.c - placeholder: returns UNSUPPORTED until written. */
#include "cpu_common.h"

lt_status lt_ref_cross_entropy(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "cross_entropy is not implemented by backend ref");
}

