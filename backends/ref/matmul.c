/* backends/ref/matmul.c - placeholder: returns UNSUPPORTED until written. */
#include "cpu_common.h"

lt_status lt_ref_matmul(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "matmul is not implemented by backend ref");
}

