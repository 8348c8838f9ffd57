/* backends/cpu/embed.c - placeholder: returns UNSUPPORTED until written. */
#include "cpu_common.h"

lt_status lt_cpu_embed_fwd(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "embed_fwd is not implemented by backend cpu");
}

lt_status lt_cpu_embed_bwd(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "embed_bwd is not implemented by backend cpu");
}

lt_status lt_cpu_pos_embed_fwd(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    (void)call;
    return lt_error(LT_ERR_UNSUPPORTED, "pos_embed_fwd is not implemented by backend cpu");
}

