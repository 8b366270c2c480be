#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// Row softmax in place, over `rows` rows of N values. Row r is row (r % M) of batch (r / M),
// which is how the attention scores of all heads are laid out. The row maximum is subtracted
// before exp so large scores cannot overflow.
//
// SG_ROWS variant: one subgroup per row, vec4 reads, subgroup max/sum; rows handed out as in
// layernorm.comp. Otherwise one invocation per row.
layout(local_size_x_id = 0) in;
#ifdef SG_ROWS
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

layout(push_constant) uniform Params {
  uint rows, M, N;
  uint ld, batch;
  uint rows_per_group;
} p;

#ifdef SG_ROWS
// Rows as vec4s (the host checks ld and batch are multiples of 4). The columns past N up to the
// next multiple of 4 are the zero padding the attention GEMMs rely on: they are left out of the
// max and the sum and stay zero.
layout(std430, binding = 0) buffer BufS4 { vec4 s4[]; };
#ifdef TEXEL_BINDINGS
// The scores read as texels (a gather each, where a storage-buffer load is a loop over the lanes
// on lavapipe; see gemm.comp) through binding 1, a view of the same buffer. A texel read does
// not see this dispatch's stores, so each pass reads the scores as they came in and the last one
// writes: exp is computed twice instead of stored in between.
layout(binding = 1) uniform samplerBuffer s_texels;
#define S4(i) texelFetch(s_texels, int(i))
#else
#define S4(i) s4[i]
#endif

void main()
{
  const uint first = gl_WorkGroupID.x * p.rows_per_group;
  const uint last = min(first + p.rows_per_group, p.rows);
  const uint lane = gl_SubgroupInvocationID, step = gl_SubgroupSize;
  const uint n4 = (p.N + 3u) / 4u;
  const float lowest = -3.402823466e38;
  for (uint r = first + gl_SubgroupID; r < last; r += gl_NumSubgroups) {
    const uint base = ((r / p.M) * p.batch + (r % p.M) * p.ld) / 4u;
    vec4 mx4 = vec4(lowest);
    for (uint j = lane; j < n4; j += step) {
      const bvec4 valid = lessThan(uvec4(4u * j) + uvec4(0u, 1u, 2u, 3u), uvec4(p.N));
      mx4 = max(mx4, mix(vec4(lowest), S4(base + j), valid));
    }
    const float mx = subgroupMax(max(max(mx4.x, mx4.y), max(mx4.z, mx4.w)));
    vec4 sum4 = vec4(0.0);
    for (uint j = lane; j < n4; j += step) {
      const bvec4 valid = lessThan(uvec4(4u * j) + uvec4(0u, 1u, 2u, 3u), uvec4(p.N));
      const vec4 e = mix(vec4(0.0), exp(S4(base + j) - mx), valid);
#ifndef TEXEL_BINDINGS
      s4[base + j] = e;
#endif
      sum4 += e;
    }
    const float inv = 1.0 / subgroupAdd(sum4.x + sum4.y + sum4.z + sum4.w);
    for (uint j = lane; j < n4; j += step) {
#ifdef TEXEL_BINDINGS
      const bvec4 valid = lessThan(uvec4(4u * j) + uvec4(0u, 1u, 2u, 3u), uvec4(p.N));
      s4[base + j] = mix(vec4(0.0), exp(S4(base + j) - mx), valid) * inv;
#else
      s4[base + j] *= inv;
#endif
    }
  }
}
#else
layout(std430, binding = 0) buffer BufS { float s[]; };

void main()
{
  const uint r = gl_GlobalInvocationID.x;
  if (r >= p.rows)
    return;
  const uint base = (r / p.M) * p.batch + (r % p.M) * p.ld;

  float mx = s[base];
  for (uint j = 1; j < p.N; j++)
    mx = max(mx, s[base + j]);
  float sum = 0.0;
  for (uint j = 0; j < p.N; j++) {
    const float e = exp(s[base + j] - mx);
    s[base + j] = e;
    sum += e;
  }
  const float inv = 1.0 / sum;
  for (uint j = 0; j < p.N; j++)
    s[base + j] *= inv;
}
#endif
