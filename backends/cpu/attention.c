/* backends/cpu/attention.c - placeholder: returns UNSUPPORTED until written. */
#include "cpu_common.h"

lt_status lt_cpu_attn_fwd(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "attn_fwd is not implemented by backend cpu");
}

lt_status lt_cpu_attn_bwd(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "attn_bwd is not implemented by backend cpu");
}

lt_status lt_cpu_attn_decode(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "attn_decode is not implemented by backend cpu");
}

lt_status lt_cpu_kv_write(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "kv_write is not implemented by backend cpu");
}

