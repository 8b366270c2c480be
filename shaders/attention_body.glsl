// SPDX-License-Identifier: LGPL-2.1-or-later
// The body of attention.comp and attention_bias.comp (BIAS defined): their bindings and push
// constants are declared in each, where the shader registry reads them.
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
#ifdef BIAS
  // each row's first bias texel (the bias rows are whole texels: bias_ld and the blocks' starts
  // multiples of 4); a row past M reads row M - 1's (never stored)
  const uint bias4 = ((frame % p.windows) * gl_NumWorkGroups.y + h) * p.bias_rows * p.bias_ld / 4u;
  uint bias_row4[TM];
  [[unroll]] for (uint i = 0; i < TM; i++)
    bias_row4[i] = bias4 + min(m0 + i, M - 1u) * (p.bias_ld / 4u);
  const uint last4 = (M - 1u) / 4u; // the last key's texel
#endif

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
#ifdef BIAS
      // the row's bias for these keys, one texel (keys past M read the row's last: masked)
      const vec4 b = texelFetch(bias_texels, int(bias_row4[i] + min(key0 / 4u, last4)));
      const vec4 si = mix(vec4(lowest), s[i] * scale + b, valid);
#else
      const vec4 si = mix(vec4(lowest), s[i] * scale, valid);
#endif
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
