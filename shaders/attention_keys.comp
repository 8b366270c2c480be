#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// Multi-head attention in one dispatch, for GPUs with subgroup arithmetic, where the
// probabilities are not an output:
//   O = softmax(Q K^T * scale) V
// with an online softmax, the scores never written out. A workgroup of 64 invocations takes
// TM = 16 query rows of one head (of one frame: workgroup z) and walks the keys 64 at a time,
// one key an invocation:
//   1. invocation t holds key kb + t in registers and scores it against the 16 queries (shared);
//   2. each row's block maximum: subgroupMax, then across the subgroups through shared memory;
//      the new running maximum, the factor by which the output so far shrinks, and the key's
//      probabilities exp(s - max), written to shared memory; each invocation also keeps its
//      own keys' share of every row's sum (added across the workgroup once, at the end);
//   3. the output: invocation c owns column c of every row, rescaled, then adds the block's
//      probabilities times the values' column c (read from the QKV rows: each value is read by
//      one invocation of each workgroup of the frame's head).
// Three barriers a block of 64 keys, where attention_tiled.comp (which needs no subgroup
// arithmetic) takes four a block of 16, with one invocation a row in its softmax step: on an
// H200 that kernel ran at 1.7 TFLOP/s, most of a 64-frame batch's time. Shared memory: 12 kB.
// Q, K and V are read in place from the QKV projection's rows as texels; keys past M get
// probability exactly 0 and rows past M are not stored. Heads up to 64 wide (dh a multiple of 4).
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

#define TM 16u
#define BK 64u // = the workgroup size
#define D4 16u // a head's width in vec4s, at most

layout(local_size_x_id = 0) in; // 64: the kernel table launches it so
layout(binding = 0) uniform samplerBuffer qkv_texels;
layout(std430, binding = 1) writeonly buffer BufOut { float o[]; };

layout(push_constant) uniform Params {
  uint M;       // tokens: the frame's queries and keys
  uint D;       // the model's width: a QKV row holds Q, K and V from columns 0, D and 2 D
  uint dh;      // a head's width: a multiple of 4, at most 64
  uint ld;      // QKV's row stride (3 D, a multiple of 4)
  uint qkv_off; // the first frame's first QKV element (a multiple of 4)
  uint out_off; // the first frame's first output element
  uint out_ld;  // the output's row stride (D): head h writes columns h dh ..
  float scale;  // 1 / sqrt(dh)
} p;

shared vec4 q_s[TM][D4];    // the rows' queries, times scale
shared float p_s[TM][BK];   // the block's probabilities: row r, key j
shared float part_s[TM][BK]; // per row, one value a subgroup (a maximum, or at the end a sum)

float qkv_at(uint i)
{
  return texelFetch(qkv_texels, int(i >> 2u))[i & 3u];
}

void main()
{
  const uint t = gl_LocalInvocationID.x;
  const uint m0 = gl_WorkGroupID.x * TM, h = gl_WorkGroupID.y;
  // a batch's frames lie M rows apart: workgroup z takes frame z
  const uint frame = gl_WorkGroupID.z;
  const uint q_col = p.qkv_off + frame * p.M * p.ld + h * p.dh; // a multiple of 4
  const uint k_col = q_col + p.D, v_col = q_col + 2u * p.D;
  const uint out_off = p.out_off + frame * p.M * p.out_ld;
  const uint d4s = p.dh / 4u;
  const float lowest = -3.4e38;

  // the queries, once (rows past M read as whatever the buffer holds: finite, never stored)
  for (uint e = t; e < TM * d4s; e += BK) {
    const uint r = e / d4s, d4 = e % d4s;
    q_s[r][d4] = texelFetch(qkv_texels, int((q_col + (m0 + r) * p.ld) / 4u + d4)) * p.scale;
  }
  float row_max[TM]; // running, the same in every invocation
  float row_sum[TM]; // running, this invocation's keys' share
  float acc[TM];     // invocation t: column t of every row, not yet divided by the sums
  [[unroll]] for (uint r = 0u; r < TM; r++) {
    row_max[r] = lowest;
    row_sum[r] = 0.0;
    acc[r] = 0.0;
  }
  barrier();

  for (uint kb = 0u; kb < p.M; kb += BK) {
    const uint key = kb + t;
    const bool valid = key < p.M;
    // 1. this invocation's key against every row
    vec4 k[D4];
    [[unroll]] for (uint d4 = 0u; d4 < D4; d4++)
      k[d4] = valid && d4 < d4s ? texelFetch(qkv_texels, int((k_col + key * p.ld) / 4u + d4))
                                : vec4(0.0);
    float s[TM];
    [[unroll]] for (uint r = 0u; r < TM; r++) {
      float dot_r = 0.0;
      [[unroll]] for (uint d4 = 0u; d4 < D4; d4++)
        if (d4 < d4s)
          dot_r += dot(q_s[r][d4], k[d4]);
      s[r] = valid ? dot_r : lowest;
    }
    // 2. each row's maximum over the block: within the subgroup, then across the subgroups
    [[unroll]] for (uint r = 0u; r < TM; r++) {
      const float m = subgroupMax(s[r]);
      if (subgroupElect())
        part_s[r][gl_SubgroupID] = m;
    }
    barrier();
    [[unroll]] for (uint r = 0u; r < TM; r++) {
      float m_new = row_max[r];
      for (uint g = 0u; g < gl_NumSubgroups; g++)
        m_new = max(m_new, part_s[r][g]);
      const float shrink = exp(row_max[r] - m_new);
      const float e = valid ? exp(s[r] - m_new) : 0.0;
      p_s[r][t] = e;
      row_sum[r] = row_sum[r] * shrink + e;
      acc[r] *= shrink;
      row_max[r] = m_new;
    }
    barrier();
    // 3. the output: invocation t owns column t
    if (t < p.dh) {
      const uint n = min(BK, p.M - kb);
      for (uint j = 0u; j < n; j++) {
        const float v = qkv_at(v_col + (kb + j) * p.ld + t);
        [[unroll]] for (uint r = 0u; r < TM; r++)
          acc[r] += p_s[r][j] * v;
      }
    }
    barrier(); // the next block overwrites the probabilities and the maxima
  }

  // every row's sum: within the subgroup, then across the subgroups
  [[unroll]] for (uint r = 0u; r < TM; r++) {
    const float sum = subgroupAdd(row_sum[r]);
    if (subgroupElect())
      part_s[r][gl_SubgroupID] = sum;
  }
  barrier();
  if (t < p.dh)
    [[unroll]] for (uint r = 0u; r < TM; r++) {
      float total = 0.0;
      for (uint g = 0u; g < gl_NumSubgroups; g++)
        total += part_s[r][g];
      if (m0 + r < p.M)
        o[out_off + (m0 + r) * p.out_ld + h * p.dh + t] = acc[r] / total;
    }
}
