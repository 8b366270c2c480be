#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// Multi-head attention in one dispatch, for lavapipe, where the probabilities are not an output:
//   O = softmax(Q K^T * scale) V
// for TM query rows of one head per workgroup, with the scores never written out. The keys are
// taken 4 x SGS at a time (four per lane) with an online softmax: each row keeps its running
// maximum and sum of exponentials, and the output is rescaled whenever the maximum grows. That
// saves Q.K^T's store of the scores, P.V's two passes over them (its maximum and sum, then the
// product) and a dispatch (on lavapipe about a quarter of a millisecond each).
//
// A workgroup is one subgroup of SGS lanes, as in gemm.comp's shuffle variants. Lane l fetches
// the query rows l, l + SGS, ... and the rows reach every lane by shuffles; each lane owns four
// keys of the block for the scores, and NG groups of four output columns (dh up to 4 x SGS x NG)
// for the product, the probabilities reaching every lane by shuffles too. Q, K and V are read in
// place from the QKV projection's rows as texels (a texel fetch is one gather on lavapipe, a
// storage-buffer load a loop over the lanes).
//
// Rows and keys past M are read as padding (the QKV buffer holds rows past a frame's M: zeros,
// or a batch's next frame): a key past M gets probability exactly 0, so whatever finite V row
// is there adds nothing, and rows past M are not stored.
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require

#define TM 16
#define NG (64 / (4 * SGS))

layout(local_size_x_id = 0) in; // SGS: the subgroup size
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

vec4 texel(uint i)
{
  return texelFetch(qkv_texels, int(i));
}

void main()
{
  // the push constants that loops and branches read, read once here, outside them: lavapipe
  // loads one inside a loop or a branch as a gather, one lane at a time, each time
  const uint M = p.M, dh = p.dh, out_ld = p.out_ld;
  const float scale = p.scale;
  const uint lane = gl_SubgroupInvocationID;
  const uint m0 = gl_WorkGroupID.x * TM;
  const uint h = gl_WorkGroupID.y;
  // a batch's frames lie M rows apart: workgroup z takes frame z
  const uint frame = gl_WorkGroupID.z;
  const uint ld4 = p.ld / 4u;
  const uint first4 = (p.qkv_off + frame * M * p.ld) / 4u;
  const uint out_off = p.out_off + frame * M * out_ld;
  const uint q4 = first4 + h * dh / 4u;
  const uint k4 = first4 + (p.D + h * dh) / 4u;
  const uint v4 = first4 + (2u * p.D + h * dh) / 4u;
  const float lowest = -3.4e38;

  vec4 acc[TM][NG];  // the output rows, not yet divided by their sums
  float row_max[TM]; // running, the same in every lane
  float row_sum[TM]; // running, of this lane's keys (added across lanes at the end)
  [[unroll]] for (uint i = 0; i < TM; i++) {
    [[unroll]] for (uint g = 0; g < NG; g++)
      acc[i][g] = vec4(0.0);
    row_max[i] = lowest;
    row_sum[i] = 0.0;
  }

  for (uint kb = 0; kb < M; kb += 4u * SGS) {
    // the scores of this lane's keys key0 .. key0 + 3, for every row
    const uint key0 = kb + 4u * lane;
    vec4 s[TM];
    [[unroll]] for (uint i = 0; i < TM; i++)
      s[i] = vec4(0.0);
    for (uint d4 = 0; d4 < dh / 4u; d4++) {
      vec4 mine[TM / SGS];
      [[unroll]] for (uint r = 0; r < TM / SGS; r++)
        mine[r] = texel(q4 + (m0 + r * SGS + lane) * ld4 + d4);
      // a texel holds four d of one key: one per key, transposed in registers
      vec4 kt[4], kv[4];
      [[unroll]] for (uint e = 0; e < 4u; e++)
        kt[e] = texel(k4 + (key0 + e) * ld4 + d4);
      [[unroll]] for (uint dd = 0; dd < 4u; dd++)
        kv[dd] = vec4(kt[0][dd], kt[1][dd], kt[2][dd], kt[3][dd]);
      [[unroll]] for (uint i = 0; i < TM; i++)
        [[unroll]] for (uint dd = 0; dd < 4u; dd++)
          s[i] = fma(vec4(subgroupShuffle(mine[i / SGS][dd], i % SGS)), kv[dd], s[i]);
    }

    // the online softmax: the block's probabilities against the new maximum, the sums and the
    // output so far rescaled to it
    const bvec4 valid = lessThan(uvec4(key0) + uvec4(0u, 1u, 2u, 3u), uvec4(M));
    [[unroll]] for (uint i = 0; i < TM; i++) {
      const vec4 si = mix(vec4(lowest), s[i] * scale, valid);
      const float m_new = max(row_max[i], subgroupMax(max(max(si.x, si.y), max(si.z, si.w))));
      const float rescale = exp(row_max[i] - m_new);
      s[i] = mix(vec4(0.0), exp(si - m_new), valid);
      row_sum[i] = row_sum[i] * rescale + dot(s[i], vec4(1.0));
      row_max[i] = m_new;
      [[unroll]] for (uint g = 0; g < NG; g++)
        acc[i][g] *= rescale;
    }

    // P.V: the keys four at a time, lane sl's at step sl
    [[unroll]] for (uint sl = 0; sl < SGS; sl++) {
      vec4 vv[4][NG];
      [[unroll]] for (uint kk = 0; kk < 4u; kk++)
        [[unroll]] for (uint g = 0; g < NG; g++)
          vv[kk][g] = texel(v4 + (kb + 4u * sl + kk) * ld4 + g * SGS + lane);
      [[unroll]] for (uint i = 0; i < TM; i++)
        [[unroll]] for (uint kk = 0; kk < 4u; kk++) {
          const float pk = subgroupShuffle(s[i][kk], sl);
          [[unroll]] for (uint g = 0; g < NG; g++)
            acc[i][g] = fma(vec4(pk), vv[kk][g], acc[i][g]);
        }
    }
  }

  [[unroll]] for (uint i = 0; i < TM; i++) {
    const float inv = 1.0 / subgroupAdd(row_sum[i]);
    if (m0 + i >= M)
      continue;
    [[unroll]] for (uint g = 0; g < NG; g++) {
      const uint d = 4u * (g * SGS + lane);
      if (d < dh)
        [[unroll]] for (uint e = 0; e < 4u; e++)
          o[out_off + (m0 + i) * out_ld + h * dh + d + e] = acc[i][g][e] * inv;
    }
  }
}
