#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// The attention of the query rows that reach an output, every frame of a batch in one dispatch,
// with the probabilities of the rows the map needs written out:
//   O[r] = softmax(Q[r] K^T * scale [+ bias[r]]) V    for the first rows r of each frame
// The last block of a class-token model needs only its class row's output (and DeiT's
// distillation row's), and the class row's probabilities are the attention map; attention
// pooling (SigLIP's) has one query a frame. Done as Q.K^T, a softmax and P.V for one frame at a
// time, that was five or six dispatches a frame, each tiny: at a GPU's batch of 64 about 400,
// each with a barrier. Here a workgroup of 64 invocations takes one row of one head of one frame
// (workgroup x the row, y the head, z the frame):
//   1. the row's query, times scale, into shared memory;
//   2. each invocation scores every 64th key (a dot product over the head's width), kept in
//      shared memory, and the row's maximum and sum of exponentials are gathered across the
//      invocations through shared memory (no subgroup operations: any device runs it);
//   3. the first probs_rows rows' probabilities are written: with one row, frame f's head h's M
//      keys at probs_off + (f H + h) M, the layout of the plan's cls_heads; with every row (an
//      average-pooled model's map, Swin's: the attention each token receives), a head's rows
//      together, for one head-mean dispatch over them (see the layout below);
//   4. the output: the head's width in groups of four columns, the keys shared out among the
//      invocations each group leaves over, their sums added in shared memory.
// Keys up to MAX_KEYS (the scores in shared memory, 14.5 kB in all: under the 16 kB every device
// has), heads up to 256 wide (dh a multiple of 4). Q, K and V are read in place from the QKV
// projection's rows as texels; other rows of the output are not written.
#extension GL_EXT_control_flow_attributes : require

#define LANES 64u
#define MAX_KEYS 3072u
#define DMAX4 64u

layout(local_size_x_id = 0) in; // LANES: the kernel table launches it so
layout(binding = 0) uniform samplerBuffer qkv_texels;
layout(std430, binding = 1) writeonly buffer BufOut { float o[]; };
layout(std430, binding = 2) readonly buffer BufBias { float bias[]; }; // where windows > 0
layout(std430, binding = 3) writeonly buffer BufProbs { float probs[]; };

layout(push_constant) uniform Params {
  uint M;       // tokens: the frame's keys; frames lie M rows apart
  uint D;       // the model's width: a QKV row holds Q, K and V from columns 0, D and 2 D
  uint dh;      // a head's width: a multiple of 4, at most 256
  uint ld;      // QKV's row stride (3 D, a multiple of 4)
  uint qkv_off; // the first frame's first QKV element (a multiple of 4)
  uint out_off; // the first frame's first output element
  uint out_ld;  // the output's row stride (D): head h writes columns h dh ..
  float scale;  // 1 / sqrt(dh)
  // a bias added to the scaled scores where windows > 0 (BEiT's relative position bias; Swin's,
  // with a shifted window's mask): frame z's is window z % windows's [heads][bias_rows][bias_ld]
  // block of the bias binding
  uint windows, bias_rows, bias_ld;
  uint probs_off;    // where the probabilities go
  uint probs_rows;   // each frame's first probs_rows rows' (1: the class row's)
  uint frame_windows; // frames that are the windows of one picture (Swin's): see main
} p;

shared vec4 q_s[DMAX4];      // the row's query, times scale
shared float p_s[MAX_KEYS];  // its scores, then exp(score - maximum)
shared float max_s[LANES];   // each invocation's maximum
shared float sum_s[LANES];   // and sum of exponentials
shared vec4 part_s[LANES];   // each invocation's share of the output

#include "attention_bias_read.glsl"

void main()
{
  const uint M = p.M, dh4 = p.dh / 4u, ld4 = p.ld / 4u;
  const uint lane = gl_LocalInvocationID.x;
  const uint row = gl_WorkGroupID.x, h = gl_WorkGroupID.y, frame = gl_WorkGroupID.z;
  const uint first4 = (p.qkv_off + frame * M * p.ld) / 4u;
  const uint k4 = first4 + (p.D + h * p.dh) / 4u;
  const uint v4 = first4 + (2u * p.D + h * p.dh) / 4u;
  const float lowest = -3.4e38;

  for (uint d = lane; d < dh4; d += LANES)
    q_s[d] = texelFetch(qkv_texels, int(first4 + row * ld4 + h * dh4 + d)) * p.scale;
  barrier();

  const uint bias_base = bias_block(frame, h);
  float row_max = lowest;
  for (uint j = lane; j < M; j += LANES) {
    vec4 acc = vec4(0.0);
    for (uint d = 0; d < dh4; d++)
      acc = fma(q_s[d], texelFetch(qkv_texels, int(k4 + j * ld4 + d)), acc);
    float s = (acc.x + acc.y) + (acc.z + acc.w);
    if (p.windows > 0u)
      s += bias_at(bias_base, row, j);
    p_s[j] = s;
    row_max = max(row_max, s);
  }
  max_s[lane] = row_max;
  barrier();
  [[unroll]] for (uint i = 0; i < LANES; i++)
    row_max = max(row_max, max_s[i]);
  float row_sum = 0.0;
  for (uint j = lane; j < M; j += LANES) {
    const float e = exp(p_s[j] - row_max);
    p_s[j] = e;
    row_sum += e;
  }
  sum_s[lane] = row_sum;
  barrier();
  row_sum = 0.0;
  [[unroll]] for (uint i = 0; i < LANES; i++)
    row_sum += sum_s[i];
  const float inv = 1.0 / row_sum;

  // [picture][head][window][row][key]: a picture's frame_windows frames (Swin's windows) side by
  // side in each head's rows, so that a head's mean over the rows gives the map's window order
  if (row < p.probs_rows) {
    const uint fw = p.frame_windows;
    const uint slot = ((frame / fw) * gl_NumWorkGroups.y + h) * fw + frame % fw;
    const uint at = p.probs_off + (slot * p.probs_rows + row) * M;
    for (uint j = lane; j < M; j += LANES)
      probs[at + j] = p_s[j] * inv;
  }

  // P.V: invocation `lane` adds group `c` of four columns over every `groups`th key from `g` on
  const uint groups = LANES / dh4, c = lane % dh4, g = lane / dh4;
  vec4 acc = vec4(0.0);
  if (g < groups)
    for (uint j = g; j < M; j += groups)
      acc = fma(vec4(p_s[j]), texelFetch(qkv_texels, int(v4 + j * ld4 + c)), acc);
  part_s[lane] = acc;
  barrier();
  if (lane < dh4) {
    vec4 sum = vec4(0.0);
    for (uint i = 0; i < groups; i++)
      sum += part_s[lane + i * dh4];
    const uint at = p.out_off + (frame * M + row) * p.out_ld + h * p.dh + 4u * lane;
    [[unroll]] for (uint e = 0; e < 4u; e++)
      o[at + e] = sum[e] * inv;
  }
}
