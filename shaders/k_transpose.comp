#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// Copies the keys out of the fused QKV projection [M][3D] transposed, per head:
//   KT[h][d][m] = qkv[m][D + h*dh + d]
// so Q.K^T is a plain row-major GEMM. Q and V are read in place by the GEMMs. Each invocation
// moves four consecutive d of one key, read as one texel (D is a multiple of 4 on this path;
// on lavapipe a storage-buffer load is a loop over the lanes, a texel fetch one gather);
// consecutive invocations write consecutive keys (contiguous stores).
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x_id = 0) in;

layout(binding = 0) uniform samplerBuffer qkv4;
layout(std430, binding = 1) writeonly buffer BufKT { float kt[]; };

layout(push_constant) uniform Params {
  uint M, D;
  uint ld_kt;
  uint qkv_off; // floats: where this frame's rows start in a batch (a multiple of 4)
} p;

void main()
{
  const uint gid = gl_GlobalInvocationID.x;
  if (gid >= p.M * (p.D / 4u))
    return;
  const uint m = gid % p.M;
  const uint hd4 = gid / p.M; // (h * dh + d) / 4
  const vec4 k = texelFetch(qkv4, int((p.qkv_off + m * 3u * p.D + p.D) / 4u + hd4));
  [[unroll]] for (uint e = 0; e < 4; e++)
    kt[(4u * hd4 + e) * p.ld_kt + m] = k[e];
}
