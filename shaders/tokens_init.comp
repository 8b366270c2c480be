#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// Starts the residual stream: the prefix rows (the class token, then dist or register tokens)
// are token + pos_embed, the rest hold pos_embed alone; the patch-embedding GEMM then
// accumulates the patch projections into the rows after the prefix.
// A batch of frames stacks `frames` such blocks of tokens x D.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer BufCls { float cls[]; };
layout(std430, binding = 1) readonly buffer BufPos { float pos[]; };
layout(std430, binding = 2) writeonly buffer BufX { float x[]; };

layout(push_constant) uniform Params {
  uint tokens, D, frames, prefix;
} p;

void main()
{
  const uint gid = gl_GlobalInvocationID.x;
  const uint per_frame = p.tokens * p.D;
  if (gid >= per_frame * p.frames)
    return;
  const uint i = gid % per_frame;
  x[gid] = pos[i] + (i < p.prefix * p.D ? cls[i] : 0.0);
}
