#version 450
// Starts the residual stream: row 0 is cls_token + pos_embed[0], rows 1.. hold pos_embed
// alone; the patch-embedding GEMM then accumulates the patch projections into rows 1..
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer BufCls { float cls[]; };
layout(std430, binding = 1) readonly buffer BufPos { float pos[]; };
layout(std430, binding = 2) writeonly buffer BufX { float x[]; };

layout(push_constant) uniform Params {
  uint tokens, D;
} p;

void main()
{
  const uint gid = gl_GlobalInvocationID.x;
  if (gid >= p.tokens * p.D)
    return;
  x[gid] = pos[gid] + (gid < p.D ? cls[gid] : 0.0);
}
