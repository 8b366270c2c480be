#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// Copies the keys out of the fused QKV projection [M][3D] transposed, per head:
//   KT[h][d][m] = qkv[m][D + h*dh + d]
// so Q.K^T is a plain row-major GEMM. Q and V are read in place by the GEMMs. Consecutive
// invocations write consecutive keys (contiguous stores).
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer BufQkv { float qkv[]; };
layout(std430, binding = 1) writeonly buffer BufKT { float kt[]; };

layout(push_constant) uniform Params {
  uint M, D;
  uint ld_kt;
  uint qkv_off; // floats: where this frame's rows start in a batch
} p;

void main()
{
  const uint gid = gl_GlobalInvocationID.x;
  if (gid >= p.M * p.D)
    return;
  const uint m = gid % p.M;
  const uint hd = gid / p.M; // h * dh + d
  kt[hd * p.ld_kt + m] = qkv[p.qkv_off + m * 3u * p.D + p.D + hd];
}
