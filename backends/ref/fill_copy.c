/* backends/ref/fill_copy.c - placeholder: returns UNSUPPORTED until written. */
#include "cpu_common.h"

lt_status lt_ref_fill(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "fill is not implemented by backend ref");
}

lt_status lt_ref_copy(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "copy is not implemented by backend ref");
}

lt_status lt_ref_cast(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "cast is not implemented by backend ref");
}

