#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// Swin V2's cosine attention, in place on the queries and keys of qkv's rows (each row q|k|v,
// dim floats apart, ld apart, from float off): each head's query is scaled to length
// scale[head] and each head's key to length 1 (x / max (|x|, 1e-12), PyTorch's F.normalize),
// so that the attention's Q.K^T times 1 / sqrt (head_dim) is the heads' cosines times their
// learnt scales (the host folds sqrt (head_dim) into scale). count is rows x 2 x heads: one
// head's query or key an invocation.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer BufX { float x[]; };
layout(std430, binding = 1) readonly buffer BufScale { float scale[]; };

layout(push_constant) uniform Params {
  uint rows, dim, head_dim, ld, off, count;
} p;

void main()
{
  // a stride over the dispatch, which may be smaller than count (its width is capped by the
  // device's largest workgroup count)
  const uint heads = p.dim / p.head_dim;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint gid = gl_GlobalInvocationID.x; gid < p.count; gid += stride) {
    const uint row = gid / (2u * heads), part = (gid / heads) % 2u, head = gid % heads;
    const uint at = p.off + row * p.ld + part * p.dim + head * p.head_dim;
    float sum = 0.0;
    for (uint i = 0u; i < p.head_dim; i++)
      sum += x[at + i] * x[at + i];
    // each invocation reads and writes its own head's channels: no other touches them
    const float f = (part == 0u ? scale[head] : 1.0) / max(sqrt(sum), 1e-12);
    for (uint i = 0u; i < p.head_dim; i++)
      x[at + i] *= f;
  }
}
