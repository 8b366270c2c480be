#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// LayerNorm over the last dimension: y = (x - mean) / sqrt(var + eps) * gamma + beta, two
// passes (mean, then variance of the centred values: no E[x^2] - mean^2 cancellation).
// MODE (a specialization constant, ops.c's HeedNormMode): RMS makes it RMSNorm (AIMv2's):
// y = x / sqrt(mean(x^2) + eps) * gamma + beta, no mean taken; ADD adds the result to y
// instead of writing it (a patch embedding's norm before the positions already in y).
//
// SG_ROWS variant: one subgroup per row, lanes striding along it in vec4s and subgroup
// sums. Each workgroup owns rows_per_group rows and its subgroups take them in turn,
// so any subgroup size the driver picks covers them. Otherwise one invocation per row.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint MODE = 0;
const uint NORM_RMS = 1u;
const uint NORM_ADD = 2u;
#ifdef SG_ROWS
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

layout(push_constant) uniform Params {
  uint M, D; // M: every batch's rows
  uint ldx, ldy;
  uint x_off, y_off;
  float eps;
  uint rows_per_group;
  // the rows in batches of batch_rows, x_batch and y_batch floats apart (a batch's frames, of
  // which a last block reads only the first rows: one dispatch, not one a frame)
  uint batch_rows, x_batch, y_batch;
} p;

// the first float of row `row` of x, and of y
uint x_row(uint row)
{
  return p.x_off + row / p.batch_rows * p.x_batch + row % p.batch_rows * p.ldx;
}
uint y_row(uint row)
{
  return p.y_off + row / p.batch_rows * p.y_batch + row % p.batch_rows * p.ldy;
}

#ifdef SG_ROWS
// Rows as vec4s: the host uses this variant only when D, the strides and offsets are multiples
// of 4 (lavapipe pays about a gather per buffer access, whatever its width).
#ifdef TEXEL_BINDINGS
// x, gamma and beta as texel buffers: a gather each, where a storage-buffer load is a loop over
// the lanes on lavapipe (see gemm.comp)
layout(binding = 0) uniform samplerBuffer x_texels;
layout(binding = 2) uniform samplerBuffer gamma_texels;
layout(binding = 3) uniform samplerBuffer beta_texels;
#define X4(i) texelFetch(x_texels, int(i))
#define GAMMA4(i) texelFetch(gamma_texels, int(i))
#define BETA4(i) texelFetch(beta_texels, int(i))
#else
layout(std430, binding = 0) readonly buffer BufX4 { vec4 x4[]; };
layout(std430, binding = 2) readonly buffer BufGamma4 { vec4 gamma4[]; };
layout(std430, binding = 3) readonly buffer BufBeta4 { vec4 beta4[]; };
#define X4(i) x4[i]
#define GAMMA4(i) gamma4[i]
#define BETA4(i) beta4[i]
#endif
layout(std430, binding = 1) buffer BufY4 { vec4 y4[]; };

void main()
{
  const uint first = gl_WorkGroupID.x * p.rows_per_group;
  const uint last = min(first + p.rows_per_group, p.M);
  const uint lane = gl_SubgroupInvocationID, step = gl_SubgroupSize;
  const uint d4 = p.D / 4u;
  for (uint row = first + gl_SubgroupID; row < last; row += gl_NumSubgroups) {
    const uint xr = x_row(row) / 4u;
    const uint yr = y_row(row) / 4u;
    vec4 sum = vec4(0.0);
    for (uint i = lane; i < d4 && (MODE & NORM_RMS) == 0u; i += step)
      sum += X4(xr + i);
    const float mean = subgroupAdd(sum.x + sum.y + sum.z + sum.w) / float(p.D);
    vec4 sq = vec4(0.0);
    for (uint i = lane; i < d4; i += step) {
      const vec4 d = X4(xr + i) - mean;
      sq += d * d;
    }
    const float rstd = 1.0 / sqrt(subgroupAdd(sq.x + sq.y + sq.z + sq.w) / float(p.D) + p.eps);
    for (uint i = lane; i < d4; i += step) {
      const vec4 v = (X4(xr + i) - mean) * rstd * GAMMA4(i) + BETA4(i);
      y4[yr + i] = (MODE & NORM_ADD) != 0u ? y4[yr + i] + v : v;
    }
  }
}
#else
layout(std430, binding = 0) readonly buffer BufX { float x[]; };
layout(std430, binding = 1) buffer BufY { float y[]; };
layout(std430, binding = 2) readonly buffer BufGamma { float gamma[]; };
layout(std430, binding = 3) readonly buffer BufBeta { float beta[]; };

void main()
{
  const uint row = gl_GlobalInvocationID.x;
  if (row >= p.M)
    return;
  const uint xr = x_row(row);
  const uint yr = y_row(row);

  float sum = 0.0;
  for (uint i = 0; i < p.D && (MODE & NORM_RMS) == 0u; i++)
    sum += x[xr + i];
  const float mean = sum / float(p.D);
  float sq = 0.0;
  for (uint i = 0; i < p.D; i++) {
    const float d = x[xr + i] - mean;
    sq += d * d;
  }
  const float rstd = 1.0 / sqrt(sq / float(p.D) + p.eps);
  for (uint i = 0; i < p.D; i++) {
    const float v = (x[xr + i] - mean) * rstd * gamma[i] + beta[i];
    y[yr + i] = (MODE & NORM_ADD) != 0u ? y[yr + i] + v : v;
  }
}
#endif
