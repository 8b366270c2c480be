#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// Starts the residual stream: each frame's block of tokens x D is the model's start block (made
// once, on the host, by heed_tokens_start: the prefix rows, the class token then dist or
// register tokens, are token + pos_embed, the rest pos_embed alone); the patch-embedding GEMM
// then accumulates the patch projections into the rows after the prefix.
// A batch of frames stacks `frames` such blocks.
layout(local_size_x_id = 0) in;

#ifdef VEC4
// Four floats at a time (D a multiple of 4), the start block read as texels: on lavapipe each
// storage-buffer access is a loop over the lanes, and this op took 0.24 ms of DeiT-Tiny's
// forward pass with a load of cls and of pos_embed and a store for each float
layout(binding = 0) uniform samplerBuffer start4;
layout(std430, binding = 1) writeonly buffer BufX { vec4 x4[]; };
#else
layout(std430, binding = 0) readonly buffer BufStart { float start[]; };
layout(std430, binding = 1) writeonly buffer BufX { float x[]; };
#endif

layout(push_constant) uniform Params {
  uint tokens, D, frames;
} p;

void main()
{
  const uint gid = gl_GlobalInvocationID.x;
#ifdef VEC4
  const uint per_frame = p.tokens * p.D / 4u;
  if (gid >= per_frame * p.frames)
    return;
  x4[gid] = texelFetch(start4, int(gid % per_frame));
#else
  const uint per_frame = p.tokens * p.D;
  if (gid >= per_frame * p.frames)
    return;
  x[gid] = start[gid % per_frame];
#endif
}
