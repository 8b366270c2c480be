#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// Splits the fused QKV projection [M][3D] into per-head operands for the attention GEMMs:
//   Q  [H][m_pad][dh], pre-scaled by 1/sqrt(dh)
//   KT [H][dh][ld_kt]  (K transposed, so Q.K^T is a plain row-major GEMM)
//   V  [H][m_pad][ld_v]
// timm's qkv weight orders its outputs as (q|k|v) x head x dh.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer BufQkv { float qkv[]; };
layout(std430, binding = 1) writeonly buffer BufQ { float q[]; };
layout(std430, binding = 2) writeonly buffer BufKT { float kt[]; };
layout(std430, binding = 3) writeonly buffer BufV { float v[]; };

layout(push_constant) uniform Params {
  uint M, D, dh;
  uint m_pad, ld_kt, ld_v;
  uint qkv_off; // floats: where this frame's rows start in a batch
  float scale;
} p;

void main()
{
  const uint gid = gl_GlobalInvocationID.x;
  const uint w = 3u * p.D;
  if (gid >= p.M * w)
    return;
  const uint m = gid / w;
  const uint col = gid % w;
  const uint which = col / p.D;
  const uint h = (col % p.D) / p.dh;
  const uint d = col % p.dh;
  const float val = qkv[p.qkv_off + gid];
  if (which == 0u)
    q[(h * p.m_pad + m) * p.dh + d] = val * p.scale;
  else if (which == 1u)
    kt[(h * p.dh + d) * p.ld_kt + m] = val;
  else
    v[(h * p.m_pad + m) * p.ld_v + d] = val;
}
