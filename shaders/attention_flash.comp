#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// Multi-head attention in one dispatch for GPUs with 32 kB of shared memory and subgroup shuffles
// in subgroups of 8 lanes or more, where the probabilities are not an output:
//   O = softmax(Q K^T * scale [+ bias]) V
// with an online softmax, the scores never written out, in the manner of FlashAttention-2 with
// register tiles in place of matrix units. A workgroup of 128 invocations takes BM = 64 query
// rows of one head (of one frame: workgroup z), held in shared memory, and walks the keys
// BN = 32 at a time, each block's K and V staged in shared memory by coalesced reads (the next
// block's read into registers while this one is computed). Invocation L (its index counted
// through the subgroups, so that its role follows its lanes) owns rows 4 (L / 8) .. + 3, and:
//   1. scores them against keys L % 8 + 8 i (i < 4): 16 scores from 8 vec4 reads a step of
//      the head's width;
//   2. each row's block maximum across the row's 8 invocations, which are 8 lanes of one
//      subgroup: three shuffles, no barrier; the running maximum, the factor by which the output
//      so far shrinks, and the probabilities, written to shared memory four rows a vec4 (each
//      invocation keeps its keys' share of the row's sum, added across the 8 at the end);
//   3. adds, for each of the block's keys, the key's four probabilities times V's columns
//      4 (L % 8) .. + 3 and 32 + 4 (L % 8) .. + 3: three shared-memory reads for 32
//      multiply-adds.
// Four barriers a block of 32 keys, 2048 multiply-adds an invocation between them. On an H200,
// DeiT-Tiny at batch 64: 5.5 ms (3.8 TFLOP/s), where attention_keys.comp (one key an invocation,
// 16 rows a workgroup) took 9.5 ms; tried there and no faster: storage-buffer reads in place of
// texels, 32 rows a workgroup of 64 (6.7 ms), the queries' reads without bank conflicts, no
// prefetch, and the dot products as fma chains (docs/benchmarks.md).
// Q, K and V are read in place from the QKV projection's rows as texels; rows and keys past M
// read as 0, keys past M get probability exactly 0, and rows past M are not stored. Heads up to
// 64 wide (dh a multiple of 4).
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require

#define BM 64u  // query rows a workgroup
#define BN 32u  // keys a block
#define D4 16u  // a head's width in vec4s, at most
#define WG 128u // invocations: the kernel table launches it so

layout(local_size_x_id = 0) in;
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

// 32 kB, the most every desktop GPU and lavapipe have. The keys' rows and the probabilities'
// share one array: the keys are dead once scored. Both are read by eight invocations at eight
// different rows at once, so column x of row j is stored at x ^ (j % 8) (no bank conflicts).
shared vec4 q_s[BM][D4];      // the rows' queries, times scale
shared vec4 kp_s[BN][BM / 4u]; // the block's keys, then its probabilities: key j, rows 4 g ..
shared vec4 v_s[BN][D4];      // the block's values

uint swizzled(uint row, uint col)
{
  return col ^ (row & 7u);
}

// block kb's K and V, the part invocation t stages: four texels of each
void read_block(uint kb, uint k_col, uint t, out vec4 kr[4], out vec4 vr[4])
{
  const uint d4s = p.dh / 4u;
  [[unroll]] for (uint i = 0u; i < 4u; i++) {
    const uint e = t + i * WG, j = e / D4, d4 = e % D4;
    const bool live = kb + j < p.M && d4 < d4s;
    const int texel = int((k_col + (kb + j) * p.ld) / 4u + d4);
    kr[i] = live ? texelFetch(qkv_texels, texel) : vec4(0.0);
    vr[i] = live ? texelFetch(qkv_texels, texel + int(p.D / 4u)) : vec4(0.0);
  }
}

#include "attention_bias_read.glsl"

// the maximum and the sum over a row's 8 invocations (lanes that differ in their low 3 bits)
float max8(float x)
{
  x = max(x, subgroupShuffleXor(x, 1u));
  x = max(x, subgroupShuffleXor(x, 2u));
  return max(x, subgroupShuffleXor(x, 4u));
}

float sum8(float x)
{
  x += subgroupShuffleXor(x, 1u);
  x += subgroupShuffleXor(x, 2u);
  return x + subgroupShuffleXor(x, 4u);
}

void main()
{
  const uint t = gl_LocalInvocationID.x;
  const uint L = gl_SubgroupID * gl_SubgroupSize + gl_SubgroupInvocationID;
  const uint g = L / 8u, c = L % 8u; // rows 4 g .., keys c + 8 i, columns 4 c .. and 32 + 4 c ..
  const uint m0 = gl_WorkGroupID.x * BM, h = gl_WorkGroupID.y;
  // a batch's frames lie M rows apart: workgroup z takes frame z
  const uint frame = gl_WorkGroupID.z;
  const uint q_col = p.qkv_off + frame * p.M * p.ld + h * p.dh; // a multiple of 4
  const uint k_col = q_col + p.D;
  const uint out_off = p.out_off + frame * p.M * p.out_ld;
  const uint d4s = p.dh / 4u;
  const float lowest = -3.4e38;
  const bool biased = p.windows > 0u;
  const uint bias0 = bias_block(frame, h);

  for (uint e = t; e < BM * D4; e += WG) {
    const uint r = e / D4, d4 = e % D4;
    q_s[r][d4] = m0 + r < p.M && d4 < d4s
                     ? texelFetch(qkv_texels, int((q_col + (m0 + r) * p.ld) / 4u + d4)) * p.scale
                     : vec4(0.0);
  }
  float row_max[4], row_sum[4]; // running; the sum is this invocation's keys' share
  vec4 acc[4][2];               // rows 4 g + i, columns 4 c .. and 32 + 4 c ..: not yet divided
  [[unroll]] for (uint i = 0u; i < 4u; i++) {
    row_max[i] = lowest;
    row_sum[i] = 0.0;
    acc[i][0] = acc[i][1] = vec4(0.0);
  }
  vec4 kr[4], vr[4];
  read_block(0u, k_col, t, kr, vr);

  for (uint kb = 0u; kb < p.M; kb += BN) {
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
      const uint e = t + i * WG;
      kp_s[e / D4][swizzled(e / D4, e % D4)] = kr[i];
      v_s[e / D4][e % D4] = vr[i];
    }
    barrier();
    if (kb + BN < p.M)
      read_block(kb + BN, k_col, t, kr, vr); // in flight while this block is computed

    // 1. the scores: rows 4 g + i, keys c + 8 j
    float s[4][4];
    [[unroll]] for (uint i = 0u; i < 4u; i++)
      [[unroll]] for (uint j = 0u; j < 4u; j++)
        s[i][j] = 0.0;
    [[unroll]] for (uint d4 = 0u; d4 < D4; d4++) {
      if (d4 < d4s) {
        vec4 q[4], k[4];
        [[unroll]] for (uint i = 0u; i < 4u; i++) {
          q[i] = q_s[4u * g + i][d4];
          k[i] = kp_s[c + 8u * i][swizzled(c, d4)];
        }
        [[unroll]] for (uint i = 0u; i < 4u; i++)
          [[unroll]] for (uint j = 0u; j < 4u; j++)
            s[i][j] += dot(q[i], k[j]);
      }
    }
    // 2. the online softmax: each row's block maximum across its 8 invocations
    vec4 pr[4]; // key c + 8 j's probabilities for the four rows
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
      float m = lowest;
      [[unroll]] for (uint j = 0u; j < 4u; j++) {
        const uint key = kb + c + 8u * j;
        if (key >= p.M)
          s[i][j] = lowest;
        else if (biased)
          s[i][j] += bias_at(bias0, m0 + 4u * g + i, key);
        m = max(m, s[i][j]);
      }
      const float m_new = max(row_max[i], max8(m));
      const float shrink = exp(row_max[i] - m_new);
      row_max[i] = m_new;
      float sum = 0.0;
      [[unroll]] for (uint j = 0u; j < 4u; j++) {
        const float e = kb + c + 8u * j < p.M ? exp(s[i][j] - m_new) : 0.0;
        pr[j][i] = e;
        sum += e;
      }
      row_sum[i] = row_sum[i] * shrink + sum;
      acc[i][0] *= shrink;
      acc[i][1] *= shrink;
    }
    barrier(); // every invocation has scored its keys
    [[unroll]] for (uint j = 0u; j < 4u; j++)
      kp_s[c + 8u * j][swizzled(c, g)] = pr[j];
    barrier();
    // 3. the output: keys past M have probability 0 and a V of 0
    [[unroll]] for (uint j = 0u; j < BN; j++) {
      const vec4 pj = kp_s[j][swizzled(j, g)], v0 = v_s[j][c], v1 = v_s[j][c + 8u];
      [[unroll]] for (uint i = 0u; i < 4u; i++) {
        acc[i][0] += pj[i] * v0;
        acc[i][1] += pj[i] * v1;
      }
    }
    barrier(); // the next block overwrites the keys, values and probabilities
  }

  [[unroll]] for (uint i = 0u; i < 4u; i++) {
    const uint r = 4u * g + i;
    const float total = sum8(row_sum[i]);
    const uint at = (out_off + (m0 + r) * p.out_ld + h * p.dh) / 4u;
    if (m0 + r < p.M) {
      if (c < d4s)
        o4[at + c] = acc[i][0] / total;
      if (c + 8u < d4s)
        o4[at + c + 8u] = acc[i][1] / total;
    }
  }
}
