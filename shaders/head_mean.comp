#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// Averages attention probabilities over heads: out[i][j] = mean_h P[h][i][j] for the first
// `rows` query rows. rows = 1 gives the CLS row (the spatial attention map); rows = tokens gives
// the full per-layer matrix that attention rollout multiplies across layers.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer BufP { float prob[]; };
layout(std430, binding = 1) writeonly buffer BufOut { float outp[]; };

layout(push_constant) uniform Params {
  uint rows, N, heads;
  uint ld, batch, p_off, out_off;
  uint out_ld; // the output's row stride (N: rows one after another)
} p;

void main()
{
  const uint gid = gl_GlobalInvocationID.x;
  if (gid >= p.rows * p.N)
    return;
  const uint i = gid / p.N;
  const uint j = gid % p.N;
  float sum = 0.0;
  for (uint h = 0; h < p.heads; h++)
    sum += prob[p.p_off + h * p.batch + i * p.ld + j];
  outp[p.out_off + i * p.out_ld + j] = sum / float(p.heads);
}
