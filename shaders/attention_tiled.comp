#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// Multi-head attention in one dispatch, for GPUs, where the probabilities are not an output:
//   O = softmax(Q K^T * scale [+ bias]) V
// in tiles with an online softmax, the scores never written out (attention.comp is lavapipe's
// barrier-free version of the same). A workgroup of 64 invocations takes TM = 16 query rows of
// one head and walks the keys BK = 16 at a time:
//   1. the block's keys and values are staged in shared memory (zeros past M);
//   2. the 16 x 16 scores: four per invocation, each a dot product over the head's width;
//   3. each row's running maximum and sum (one invocation a row): the block's probabilities
//      exp(s - max), and the factor by which the row's output so far shrinks as its maximum
//      grows;
//   4. the output: invocation c owns column c of every row, rescaled, then adds the block's
//      probabilities times the values' column c.
// Each step reads what the one before wrote, hence the barriers; on a GPU they are cheap and
// shared memory is on chip. Shared memory: about 13.5 kB, under Vulkan's guaranteed 16 kB.
// Q, K and V are read in place from the QKV projection's rows as texels; keys past M get
// probability exactly 0 and rows past M are not stored. Heads up to 64 wide (dh a multiple of 4).
#extension GL_EXT_control_flow_attributes : require

#define TM 16u
#define BK 16u
#define DMAX 64u

layout(local_size_x_id = 0) in; // 64: the kernel table launches it so
layout(binding = 0) uniform samplerBuffer qkv_texels;
layout(std430, binding = 1) writeonly buffer BufOut { float o[]; };
layout(std430, binding = 2) readonly buffer BufBias { float bias[]; }; // where windows > 0

layout(push_constant) uniform Params {
  uint M;       // tokens: the frame's queries and keys
  uint D;       // the model's width: a QKV row holds Q, K and V from columns 0, D and 2 D
  uint dh;      // a head's width: a multiple of 4, at most 64
  uint ld;      // QKV's row stride (3 D, a multiple of 4)
  uint qkv_off; // the first frame's first QKV element (a multiple of 4)
  uint out_off; // the first frame's first output element
  uint out_ld;  // the output's row stride (D): head h writes columns h dh ..
  float scale;  // 1 / sqrt(dh)
  // a bias added to the scaled scores where windows > 0 (BEiT's relative position bias; Swin's,
  // with a shifted window's mask): frame z's is window z % windows's [heads][bias_rows][bias_ld]
  // block of the bias binding (the scores' padded layout, one window after another)
  uint windows, bias_rows, bias_ld;
} p;

shared float q_s[TM][DMAX];      // the rows' queries, times scale
shared float k_s[BK][DMAX + 1u]; // the block's keys (padded: the scores read down a key's row)
shared float v_s[BK][DMAX];      // and values
shared float p_s[TM][BK];        // the block's scores, then its probabilities
shared float shrink_s[TM];       // how much each row's output so far shrinks this block
shared float sum_s[TM];          // each row's sum of exponentials, at the end

#include "attention_bias_read.glsl"

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
  const uint q_col = p.qkv_off + frame * p.M * p.ld + h * p.dh;
  const uint out_off = p.out_off + frame * p.M * p.out_ld;
  const uint k_col = q_col + p.D, v_col = q_col + 2u * p.D;
  const float lowest = -3.4e38;
  const bool biased = p.windows > 0u;
  const uint bias0 = bias_block(frame, h);

  // the queries, once (rows past M read as whatever the buffer holds: finite, never stored)
  for (uint e = t; e < TM * p.dh; e += 64u) {
    const uint r = e / p.dh, d = e % p.dh;
    q_s[r][d] = qkv_at(q_col + (m0 + r) * p.ld + d) * p.scale;
  }
  float row_max = lowest, row_sum = 0.0; // invocation t < TM: row t's
  float acc[TM];                         // invocation t: column t of every row
  [[unroll]] for (uint r = 0u; r < TM; r++)
    acc[r] = 0.0;

  for (uint kb = 0u; kb < p.M; kb += BK) {
    for (uint e = t; e < BK * p.dh; e += 64u) {
      const uint j = e / p.dh, d = e % p.dh;
      const bool key = kb + j < p.M;
      k_s[j][d] = key ? qkv_at(k_col + (kb + j) * p.ld + d) : 0.0;
      v_s[j][d] = key ? qkv_at(v_col + (kb + j) * p.ld + d) : 0.0;
    }
    barrier();
    // the scores: invocation t takes row t / 4 and keys 4 (t % 4) .. + 3
    {
      const uint r = t / 4u, j0 = 4u * (t % 4u);
      vec4 s = vec4(0.0);
      for (uint d = 0u; d < p.dh; d++) {
        const float q = q_s[r][d];
        s += q * vec4(k_s[j0][d], k_s[j0 + 1u][d], k_s[j0 + 2u][d], k_s[j0 + 3u][d]);
      }
      for (uint jj = 0u; jj < 4u; jj++) {
        const uint key = kb + j0 + jj;
        p_s[r][j0 + jj] = key >= p.M ? lowest
                          : biased   ? s[jj] + bias_at(bias0, m0 + r, key)
                                     : s[jj];
      }
    }
    barrier();
    // the online softmax: one invocation a row
    if (t < TM) {
      float m_new = row_max;
      for (uint j = 0u; j < BK; j++)
        m_new = max(m_new, p_s[t][j]);
      const float shrink = exp(row_max - m_new);
      float block_sum = 0.0;
      for (uint j = 0u; j < BK; j++) {
        const float e = kb + j < p.M ? exp(p_s[t][j] - m_new) : 0.0;
        p_s[t][j] = e;
        block_sum += e;
      }
      row_sum = row_sum * shrink + block_sum;
      row_max = m_new;
      shrink_s[t] = shrink;
    }
    barrier();
    // the output: invocation t owns column t
    if (t < p.dh)
      [[unroll]] for (uint r = 0u; r < TM; r++) {
        float a = acc[r] * shrink_s[r];
        for (uint j = 0u; j < BK; j++)
          a += p_s[r][j] * v_s[j][t];
        acc[r] = a;
      }
    barrier(); // the next block overwrites the keys, values and probabilities
  }

  if (t < TM)
    sum_s[t] = row_sum;
  barrier();
  if (t < p.dh)
    [[unroll]] for (uint r = 0u; r < TM; r++)
      if (m0 + r < p.M)
        o[out_off + (m0 + r) * p.out_ld + h * p.dh + t] = acc[r] / sum_s[r];
}
