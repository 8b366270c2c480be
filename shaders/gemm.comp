#version 450
// Batched matrix multiply with a fused epilogue:
//   C[m][n] = epilogue(alpha * sum_k A[m][k] * B[k][n])
// epilogue: + bias[n], then GELU, then C += (accumulate into the existing C, the residual add).
//
// Register-tiled with no shared memory and no barrier: each invocation owns a TM x TN block of
// C whose columns are WG apart, so the B loads of neighbouring invocations are contiguous (one
// vector load on lavapipe, coalesced on a GPU) and A is read as values uniform across the
// workgroup. On lavapipe every barrier is a coroutine switch, which is why shared-memory tiling
// loses there (see DESIGN.md).
//
// Reads are not bounds-checked: the host pads A to a multiple of TM rows and B to a multiple of
// WG*TN columns. Stores are checked against M and N.
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

#ifndef TM
#define TM 8
#endif
#ifndef TN
#define TN 4
#endif

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint EPILOGUE = 0;
const uint EPI_BIAS = 1u;
const uint EPI_GELU = 2u;
const uint EPI_ACCUMULATE = 4u;

layout(std430, binding = 0) readonly buffer BufA { float a[]; };
layout(std430, binding = 1) readonly buffer BufB { float b[]; };
layout(std430, binding = 2) buffer BufC { float c[]; };
layout(std430, binding = 3) readonly buffer BufBias { float bias[]; };

layout(push_constant) uniform Params {
  uint M, N, K;
  uint lda, ldb, ldc;
  uint a_off, b_off, c_off;
  uint a_batch, b_batch, c_batch;
  float alpha;
} p;

void main()
{
  const uint wg = gl_WorkGroupSize.x;
  const uint lane = gl_LocalInvocationID.x;
  const uint n0 = gl_WorkGroupID.x * wg * TN + lane;
  const uint m0 = gl_WorkGroupID.y * TM;
  const uint batch = gl_WorkGroupID.z;
  const uint a_base = p.a_off + batch * p.a_batch + m0 * p.lda;
  const uint b_base = p.b_off + batch * p.b_batch + n0;

  float acc[TM][TN];
  [[unroll]] for (uint i = 0; i < TM; i++)
    [[unroll]] for (uint j = 0; j < TN; j++)
      acc[i][j] = 0.0;

  for (uint k = 0; k < p.K; k++) {
    float bv[TN];
    const uint b_row = b_base + k * p.ldb;
    [[unroll]] for (uint j = 0; j < TN; j++)
      bv[j] = b[b_row + j * wg];
    [[unroll]] for (uint i = 0; i < TM; i++) {
      const float av = a[a_base + i * p.lda + k];
      [[unroll]] for (uint j = 0; j < TN; j++)
        acc[i][j] = fma(av, bv[j], acc[i][j]);
    }
  }

  [[unroll]] for (uint j = 0; j < TN; j++) {
    const uint n = n0 + j * wg;
    if (n >= p.N)
      continue;
    const float bn = (EPILOGUE & EPI_BIAS) != 0u ? bias[n] : 0.0;
    [[unroll]] for (uint i = 0; i < TM; i++) {
      const uint m = m0 + i;
      if (m >= p.M)
        continue;
      float v = acc[i][j] * p.alpha + bn;
      if ((EPILOGUE & EPI_GELU) != 0u)
        v = heed_gelu(v);
      const uint ci = p.c_off + batch * p.c_batch + m * p.ldc + n;
      if ((EPILOGUE & EPI_ACCUMULATE) != 0u)
        v += c[ci];
      c[ci] = v;
    }
  }
}
