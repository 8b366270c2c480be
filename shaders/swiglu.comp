#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// SwiGLU's gate, in place: each row of x holds fc1's 2 x hidden outputs, the gate's then the
// value's, and its first hidden become silu (gate) * value, which fc2 reads (its K is hidden,
// its A stride the row's). `rows` rows of every batch, `batch` floats apart; count is
// rows x hidden x the batches.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer BufX { float x[]; };

layout(push_constant) uniform Params {
  uint rows, hidden, ld, batch, off, count;
} p;

void main()
{
  // a stride over the dispatch, which may be smaller than count (its width is capped by the
  // device's largest workgroup count)
  const uint per_batch = p.rows * p.hidden, stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint gid = gl_GlobalInvocationID.x; gid < p.count; gid += stride) {
    const uint b = gid / per_batch, r = (gid % per_batch) / p.hidden, j = gid % p.hidden;
    const uint at = p.off + b * p.batch + r * p.ld + j;
    const float gate = x[at];
    // each invocation reads its own gate and value and writes only its gate: no other reads it
    x[at] = gate / (1.0 + exp(-gate)) * x[at + p.hidden];
  }
}
