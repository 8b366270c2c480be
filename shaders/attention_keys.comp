#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// Multi-head attention in one dispatch, for GPUs with subgroup arithmetic (subgroups of 8 lanes
// or more), where the probabilities are not an output:
//   O = softmax(Q K^T * scale [+ bias]) V
// with an online softmax, the scores never written out. A workgroup of 64 invocations takes
// TM = 16 query rows of one head (of one frame: workgroup z) and walks the keys 64 at a time,
// one key an invocation:
//   1. invocation t reads key kb + t's K into registers and its V row into shared memory, and
//      scores the key against the 16 queries (shared, read as broadcasts);
//   2. each row's block maximum: subgroupMax, then across the subgroups through shared memory;
//      the new running maximum, the factor by which the output so far shrinks, and the key's
//      probabilities exp(s - max), written to shared memory four rows a vec4; each invocation
//      also keeps its own keys' share of every row's sum (added across the workgroup at the end);
//   3. the output: invocation t owns a 4 x 4 block (rows 4 (t / 16) .., columns 4 (t % 16) ..),
//      rescaled, then adds, for each of the block's 64 keys, the key's four probabilities (one
//      vec4) times its V's four columns (one vec4): two shared-memory reads for 16 multiply-adds.
// Three barriers a block of 64 keys. Shared memory: 26.5 kB. The kernel table takes it where
// attention_flash.comp (32 kB, shuffles) does not fit and the device has this much, else
// attention_tiled.comp. On an H200, DeiT-Tiny: 0.47 ms at batch 1 and 9.5 ms at batch 64, where
// its first form (one column of all 16 rows an invocation, V read one float a key in a loop of
// dependent reads) took 1.03 and 10.0 ms (docs/benchmarks.md).
// Q, K and V are read in place from the QKV projection's rows as texels; keys past M get
// probability exactly 0 and a V of 0, and rows past M are not stored. Heads up to 64 wide (dh a
// multiple of 4).
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

#define TM 16u
#define BK 64u // = the workgroup size
#define D4 16u // a head's width in vec4s, at most
#define MAX_SUBGROUPS 8u // BK / the smallest subgroup the kernel table allows (8)

layout(local_size_x_id = 0) in; // 64: the kernel table launches it so
layout(binding = 0) uniform samplerBuffer qkv_texels;
layout(std430, binding = 1) writeonly buffer BufOut { vec4 o4[]; };
layout(std430, binding = 2) readonly buffer BufBias { float bias[]; }; // where windows > 0

layout(push_constant) uniform Params {
  uint M;       // tokens: the frame's queries and keys
  uint D;       // the model's width: a QKV row holds Q, K and V from columns 0, D and 2 D
  uint dh;      // a head's width: a multiple of 4, at most 64
  uint ld;      // QKV's row stride (3 D, a multiple of 4)
  uint qkv_off; // the first frame's first QKV element (a multiple of 4)
  uint out_off; // the first frame's first output element (a multiple of 4: D is)
  uint out_ld;  // the output's row stride (D): head h writes columns h dh ..
  float scale;  // 1 / sqrt(dh)
  // a bias added to the scaled scores where windows > 0 (BEiT's relative position bias; Swin's,
  // with a shifted window's mask): frame z's is window z % windows's [heads][bias_rows][bias_ld]
  // block of the bias binding (the scores' padded layout, one window after another)
  uint windows, bias_rows, bias_ld;
} p;

shared vec4 q_s[TM][D4];              // the rows' queries, times scale
shared vec4 v_s[BK][D4 + 1u];         // the block's values (a padded row: no bank conflicts)
shared vec4 p_s[BK][TM / 4u + 1u];    // the block's probabilities: key j, rows 4 i .. 4 i + 3
shared float part_s[TM][MAX_SUBGROUPS]; // per row, one value a subgroup (a maximum, or a sum)

#include "attention_bias_read.glsl"

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
  // step 3's block: rows 4 rg .. 4 rg + 3, columns 4 c4 .. 4 c4 + 3
  const uint rg = t / 16u, c4 = t % 16u;
  const float lowest = -3.4e38;
  const bool biased = p.windows > 0u;
  const uint bias0 = bias_block(frame, h);

  // the queries, once (rows past M read as whatever the buffer holds: finite, never stored)
  for (uint e = t; e < TM * d4s; e += BK) {
    const uint r = e / d4s, d4 = e % d4s;
    q_s[r][d4] = texelFetch(qkv_texels, int((q_col + (m0 + r) * p.ld) / 4u + d4)) * p.scale;
  }
  float row_max[TM]; // running, the same in every invocation
  float row_sum[TM]; // running, this invocation's keys' share
  vec4 acc[4];       // the block's rows, not yet divided by the sums
  [[unroll]] for (uint r = 0u; r < TM; r++) {
    row_max[r] = lowest;
    row_sum[r] = 0.0;
  }
  [[unroll]] for (uint i = 0u; i < 4u; i++)
    acc[i] = vec4(0.0);
  barrier();

  for (uint kb = 0u; kb < p.M; kb += BK) {
    const uint key = kb + t;
    const bool valid = key < p.M;
    // 1. this invocation's value row into shared memory, its key into registers, and the key
    //    against every row
    const int k_texel = int((k_col + key * p.ld) / 4u), v_texel = int((v_col + key * p.ld) / 4u);
    [[unroll]] for (uint d4 = 0u; d4 < D4; d4++)
      v_s[t][d4] = valid && d4 < d4s ? texelFetch(qkv_texels, v_texel + int(d4)) : vec4(0.0);
    vec4 k[D4];
    [[unroll]] for (uint d4 = 0u; d4 < D4; d4++)
      k[d4] = valid && d4 < d4s ? texelFetch(qkv_texels, k_texel + int(d4)) : vec4(0.0);
    float s[TM];
    [[unroll]] for (uint r = 0u; r < TM; r++) {
      float dot_r = 0.0;
      [[unroll]] for (uint d4 = 0u; d4 < D4; d4++)
        if (d4 < d4s)
          dot_r += dot(q_s[r][d4], k[d4]);
      s[r] = !valid ? lowest : biased ? dot_r + bias_at(bias0, m0 + r, key) : dot_r;
    }
    // 2. each row's maximum over the block: within the subgroup, then across the subgroups
    [[unroll]] for (uint r = 0u; r < TM; r++) {
      const float m = subgroupMax(s[r]);
      if (subgroupElect())
        part_s[r][gl_SubgroupID] = m;
    }
    barrier();
    vec4 shrink_mine = vec4(1.0); // the shrink factors of step 3's four rows
    [[unroll]] for (uint r4 = 0u; r4 < TM / 4u; r4++) {
      vec4 e4;
      [[unroll]] for (uint i = 0u; i < 4u; i++) {
        const uint r = 4u * r4 + i;
        float m_new = row_max[r];
        for (uint g = 0u; g < gl_NumSubgroups; g++)
          m_new = max(m_new, part_s[r][g]);
        const float shrink = exp(row_max[r] - m_new);
        e4[i] = valid ? exp(s[r] - m_new) : 0.0;
        row_sum[r] = row_sum[r] * shrink + e4[i];
        row_max[r] = m_new;
        if (r4 == rg)
          shrink_mine[i] = shrink;
      }
      p_s[t][r4] = e4;
    }
    [[unroll]] for (uint i = 0u; i < 4u; i++)
      acc[i] *= shrink_mine[i];
    barrier();
    // 3. the output block: keys past M have probability 0 and a V of 0, so every block is 64
    if (c4 < d4s)
      [[unroll]] for (uint j = 0u; j < BK; j++) {
        const vec4 v = v_s[j][c4], pr = p_s[j][rg];
        acc[0] += pr.x * v;
        acc[1] += pr.y * v;
        acc[2] += pr.z * v;
        acc[3] += pr.w * v;
      }
    barrier(); // the next block overwrites the values, probabilities and maxima
  }

  // every row's sum: within the subgroup, then across the subgroups
  [[unroll]] for (uint r = 0u; r < TM; r++) {
    const float sum = subgroupAdd(row_sum[r]);
    if (subgroupElect())
      part_s[r][gl_SubgroupID] = sum;
  }
  barrier();
  if (c4 < d4s)
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
      const uint r = 4u * rg + i;
      float total = 0.0;
      for (uint g = 0u; g < gl_NumSubgroups; g++)
        total += part_s[r][g];
      if (m0 + r < p.M)
        o4[(out_off + (m0 + r) * p.out_ld + h * p.dh) / 4u + c4] = acc[i] / total;
    }
}
