// shaders/vulkan/common.glsl - helpers shared by the compute shaders (included, not compiled
// on its own). Every shader declares its local size before including this file.
//
// Bindings follow the host's lt_vk_pass: slot i of the dispatch is binding i, and binding
// 11 is this dispatch's own error record (see backends/vulkan/vk_batch.c). Push constants
// hold sizes, element offsets of the tensor views within their bound windows, strides and
// scalar arguments; everything is a 32-bit word.

// Flat work-group index: the host splits large grids over x and y (lt_vk_grid).
uint lt_group() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }
uint lt_flat_id() { return lt_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x; }

#ifdef LT_ERRORS
// The error record: [0] failures, [1] lowest failing position, [2] its value. The value
// write races only between two failures at once; the count and position are exact.
layout(std430, set = 0, binding = 11) buffer LtErrors { uint lt_err[4]; };
void lt_report(uint pos, int value) {
    uint prev = atomicMin(lt_err[1], pos);
    if (pos < prev) atomicExchange(lt_err[2], uint(value));
    atomicAdd(lt_err[0], 1u);
}
#endif

// tanh written through exp(-2|u|) so it is exact in sign, never overflows and does not
// depend on the precision of the driver's own tanh.
float lt_tanh(float u) {
    float e = exp(-2.0 * abs(u));
    float t = (1.0 - e) / (1.0 + e);
    return u < 0.0 ? -t : t;
}
