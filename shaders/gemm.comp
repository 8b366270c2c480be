#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// Batched matrix multiply with a fused epilogue:
//   C[m][n] = epilogue(alpha * sum_k A[m][k] * B[k][n])
// epilogue: + bias[n], then GELU (or QuickGELU), then C += (accumulate into the existing C, the
// residual add).
//
// Register-tiled with no shared memory and no barrier: each invocation owns TM rows x TN
// columns of C, as TN/4 groups of 4 adjacent columns, the groups WG*4 apart. B is read as
// vec4s and, in the K4 variant (K, lda and A's offsets multiples of 4), A as vec4s along K,
// with A's values uniform across the workgroup. On lavapipe every buffer access costs about as
// much as a gather, so fetching 16 bytes at a time is what makes it fast; every barrier is a
// coroutine switch, which is why shared-memory tiling loses there (see DESIGN.md).
//
// The TEXEL_BINDINGS variants (lavapipe's) read A and B as uniform texel buffers instead: a
// texel fetch there is one gather, where a storage-buffer load is a loop over the lanes with a
// bounds check and a branch each (measured: the large GEMMs 4-6 times faster).
//
// Reads are not bounds-checked: the host pads A to a multiple of TM rows and B to a multiple
// of WG*TN columns (B's row stride and offsets are multiples of 4). Stores are checked. The
// B_T variants take B transposed (B^T row-major, rows of it read up to the same padding).
//
// The LN variants (lavapipe's shuffle kernels) fold in the LayerNorm of A's rows: the host has
// scaled B's rows by the norm's gamma, put B.beta into the bias, and put B's column sums after
// the bias (bias[N + n]). Each lane sums its own rows as it loads them, shifted by the row's first
// value so that a large mean does not cancel away the variance, and the epilogue turns
// sum_k (a_k - s) B'_kn into the normalised row's product:
//   rstd * (acc - (mean - s) * colsum_n) + bias_n.
// That saves the LayerNorm's dispatch, its write and the GEMM's read of the normalised rows.
// With EPI_RMS the norm is RMSNorm (AIMv2's): no shift, no mean, rstd = 1 / sqrt(mean(a^2) + eps).
//
// The SOFTMAX_A variants (lavapipe's P.V) take A as raw attention scores and apply the row
// softmax as they read it: each lane first runs over its own rows for their maximum and sum of
// exponentials (in one pass, rescaling the sum as the maximum grows), then the main loop reads
// exp(a - max) / sum, with the columns from a_cols on (the keys' padding) as zeros. That saves
// the softmax's dispatch and its pass over the scores.
//
// The B_HALF variants read B (the weights, when a plan stores them in fp16) as IEEE halves,
// two to a word, and convert them on the read: the arithmetic stays float32. The texel variants
// need no variant of their own: a buffer of halves has an RGBA16F texel view, whose fetches
// return floats.
//
// The C_PAIRS variants (lavapipe's, where the device has shaderInt64) store C two floats at a
// time, as 64-bit words: a storage-buffer store there is a loop over the lanes, one element
// each, so pairs halve those loops (measured: the DeiT-Tiny forward pass 10% faster, its GEMMs
// and attention 13-17%; docs/benchmarks.md). They store whole groups of four columns, so the
// host gives them C's stride and offsets in multiples of 4 and N a multiple of 4, or columns N
// up to the next multiple of 4 that are zero padding (the attention scores'): they write zeros
// there. They read the residual as one texel per group of four.
//
// The TILED variant (GPUs) is the classic shared-memory tiling instead: a workgroup of 256
// invocations computes a 64 x 64 block of C, staging 64 x 16 of A and 16 x 64 of B in shared
// memory per step, and each invocation accumulates a 4 x 4 grid of it, 16 rows and 16 columns
// apart so that neighbouring invocations read neighbouring shared words and store neighbouring
// columns of C. Every read is bounds-checked (zero outside M, N, K), so it needs no padding and
// takes any K, lda and offsets. On a GPU a barrier is cheap and shared memory is on chip; on
// lavapipe it is neither, which is why the CPU kernels above avoid both.
//
// The A_HALF variants (a plan's fp16-matmul mode, on devices without cooperative matrices) round
// each A value to the nearest half as they read it: the operands tensor cores take, summed in
// float32, so that every device computes that mode's products alike.
//
// The COOPMAT variant (fp16-matmul where the device has VK_NV_cooperative_matrix: NVIDIA's
// tensor cores) is the TILED kernel's plan on matrix units: a workgroup of 128 invocations, four
// subgroups of 32, computes a 64 x 64 block of C, staging 64 x 32 of A (rounded to halves) and
// 32 x 64 of B (halves) in shared memory per step; each subgroup multiplies 32 x 32 of it as 2 x 2
// fragments of 16 x 16 x 16, accumulating in float32. The accumulators go through shared memory
// to the same epilogue as every other variant; reads are bounds-checked as TILED's are.
#extension GL_EXT_control_flow_attributes : require
#ifdef COOPMAT
#extension GL_NV_cooperative_matrix : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#endif
#ifdef SG
#extension GL_KHR_shader_subgroup_shuffle : require
#endif
#include "common.glsl"
#ifdef C_PAIRS
#extension GL_ARB_gpu_shader_int64 : require
#endif

#ifndef TM
#define TM 16
#endif
#ifndef TN
#define TN 8
#endif
#define NG (TN / 4)

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint EPILOGUE = 0;
const uint EPI_BIAS = 1u;
const uint EPI_GELU = 2u;
const uint EPI_ACCUMULATE = 4u;
const uint EPI_QUICK_GELU = 8u;
const uint EPI_GELU_TANH = 16u;
const uint EPI_RMS = 32u; // the LN variants: the folded norm is RMSNorm

#ifdef B_HALF
// The two IEEE halves of a word (low first) as floats, by integer operations: lavapipe (Mesa
// 22.3) crashes compiling unpackHalf2x16 on a CPU without F16C (an illegal instruction inside
// LLVM). Exact for every half: subnormals (not flushed, as a float subnormal would be on lavapipe),
// infinities and NaNs.
vec2 halves_to_floats(uint w)
{
  const uvec2 h = uvec2(w & 0xffffu, w >> 16u);
  const uvec2 e = (h >> 10u) & 0x1fu, m = h & 0x3ffu;
  const vec2 normal = uintBitsToFloat(((e + 112u) << 23u) | (m << 13u));
  const vec2 subnormal = vec2(m) * 5.9604644775390625e-8; // m x 2^-24
  const vec2 special = uintBitsToFloat(0x7f800000u | (m << 13u));
  const vec2 v = mix(mix(normal, subnormal, equal(e, uvec2(0u))), special, equal(e, uvec2(31u)));
  return uintBitsToFloat(floatBitsToUint(v) | ((h & 0x8000u) << 16u));
}
#endif

#if defined(A_HALF) || defined(COOPMAT)
// A value rounded to the nearest half (ties to even) and kept as a float, by integer operations
// (see halves_to_floats): subnormal halves on their 2^-24 grid, beyond half's range infinity.
// Converting the result to float16_t is then exact whatever the device's rounding mode.
float round_to_half(float x)
{
  const uint u = floatBitsToUint(x);
  const uint mag = u & 0x7fffffffu;
  if (mag >= 0x7f800000u)
    return x; // infinities and NaNs
  float r;
  if (mag < 0x38800000u) { // under 2^-14
    r = roundEven(uintBitsToFloat(mag) * 16777216.0) * 5.9604644775390625e-8;
  } else {
    const uint rounded = (mag + 0xfffu + ((mag >> 13u) & 1u)) & 0xffffe000u;
    r = uintBitsToFloat(rounded > 0x477fe000u ? 0x7f800000u : rounded); // 65504, half's largest
  }
  return uintBitsToFloat(floatBitsToUint(r) | (u & 0x80000000u));
}
#endif
#ifdef A_HALF
#define A_VALUE(x) round_to_half(x)
#else
#define A_VALUE(x) (x)
#endif

#if defined(TILED) || defined(COOPMAT)
layout(std430, binding = 0) readonly buffer BufA { float a[]; };
#ifdef B_HALF
layout(std430, binding = 1) readonly buffer BufB { uint b_halves[]; };
float b_at(uint i) { return halves_to_floats(b_halves[i >> 1])[i & 1u]; }
#else
layout(std430, binding = 1) readonly buffer BufB { float b[]; };
#define b_at(i) b[i]
#endif
#elif defined(TEXEL_BINDINGS)
// A and B through uniform texel buffers (vec4 texels): a texel fetch is a gather, where a
// storage-buffer load is, on lavapipe, a loop over the lanes with a bounds check each
layout(binding = 0) uniform samplerBuffer a_texels;
layout(binding = 1) uniform samplerBuffer b_texels;
#define A4(i) texelFetch(a_texels, int(i))
#define B4(i) texelFetch(b_texels, int(i))
#else
#ifdef K4
layout(std430, binding = 0) readonly buffer BufA { vec4 a4[]; };
#ifdef A_HALF
vec4 A4(uint i)
{
  const vec4 v = a4[i];
  return vec4(round_to_half(v.x), round_to_half(v.y), round_to_half(v.z), round_to_half(v.w));
}
#else
#define A4(i) a4[i]
#endif
#else
layout(std430, binding = 0) readonly buffer BufA { float a[]; };
#endif
#ifdef B_HALF
layout(std430, binding = 1) readonly buffer BufB { uvec2 b_halves[]; };
vec4 B4(uint i)
{
  const uvec2 w = b_halves[i];
  return vec4(halves_to_floats(w.x), halves_to_floats(w.y));
}
#else
layout(std430, binding = 1) readonly buffer BufB { vec4 b4[]; };
#define B4(i) b4[i]
#endif
#endif
#ifdef C_PAIRS
// C as pairs of floats (a 64-bit store is one element of lavapipe's loop over the lanes)
layout(std430, binding = 2) writeonly buffer BufC { uint64_t c_pairs[]; };
#else
layout(std430, binding = 2) buffer BufC { float c[]; };
#endif
layout(std430, binding = 3) readonly buffer BufBias { float bias[]; };
#ifdef TEXEL_BINDINGS
// C again, read as texels for the residual add (a storage-buffer load on lavapipe is a loop
// over the lanes; each element is read before its own invocation writes it)
layout(binding = 4) uniform samplerBuffer c_texels;
#define C_IN(i) texelFetch(c_texels, int((i) >> 2))[(i) & 3u]
#else
#define C_IN(i) c[i]
#endif

layout(push_constant) uniform Params {
  uint M, N, K;
  uint lda, ldb, ldc;
  uint a_off, b_off, c_off;
  uint a_batch, b_batch, c_batch;
  float alpha;
  float ln_eps; // the LN variants' epsilon
  uint a_cols;  // the SOFTMAX_A variants: A's columns that are scores (the rest are padding)
} push;
// The push constants, copied once at the top of main, where no branch or loop surrounds the
// reads: lavapipe loads a push constant inside one (the main loop's bound, the epilogue's
// per-row stores) as a gather, one lane at a time, each time it is read
struct GemmParams {
  uint M, N, K;
  uint lda, ldb, ldc;
  uint a_off, b_off, c_off;
  uint a_batch, b_batch, c_batch;
  float alpha;
  float ln_eps;
  uint a_cols;
};
GemmParams p;
void read_params()
{
  p = GemmParams(push.M, push.N, push.K, push.lda, push.ldb, push.ldc, push.a_off, push.b_off,
                 push.c_off, push.a_batch, push.b_batch, push.c_batch, push.alpha, push.ln_eps,
                 push.a_cols);
}

#ifdef SOFTMAX_A
// which of A's four columns 4 k4 .. 4 k4 + 3 are scores, not the keys' padding
bvec4 keys_at(uint k4)
{
  return lessThan(uvec4(4u * k4) + uvec4(0u, 1u, 2u, 3u), uvec4(p.a_cols));
}
#endif

// The epilogue of C's values (m < M, n < N): scale, bias, activation.
float epilogue_of(float acc, float bn)
{
  float v = acc * p.alpha + bn;
  if ((EPILOGUE & EPI_GELU) != 0u)
    v = heed_gelu(v);
  else if ((EPILOGUE & EPI_QUICK_GELU) != 0u)
    v = heed_quick_gelu(v);
  else if ((EPILOGUE & EPI_GELU_TANH) != 0u)
    v = heed_gelu_tanh(v);
  return v;
}

#ifdef C_PAIRS
// Four adjacent elements of C, from column n (a multiple of 4; C's stride and offsets are too):
// the epilogue, the residual add, zeros from column N on, then two 64-bit stores.
void store_c4(uint batch, uint m, uint n, vec4 acc, vec4 bn)
{
  vec4 v = vec4(epilogue_of(acc.x, bn.x), epilogue_of(acc.y, bn.y), epilogue_of(acc.z, bn.z),
                epilogue_of(acc.w, bn.w));
  const uint ci = p.c_off + batch * p.c_batch + m * p.ldc + n;
  if ((EPILOGUE & EPI_ACCUMULATE) != 0u)
    v += texelFetch(c_texels, int(ci >> 2));
  v = mix(v, vec4(0.0), greaterThanEqual(uvec4(n) + uvec4(0u, 1u, 2u, 3u), uvec4(p.N)));
  c_pairs[ci >> 1] = packUint2x32(floatBitsToUint(v.xy));
  c_pairs[(ci >> 1) + 1u] = packUint2x32(floatBitsToUint(v.zw));
}
#else
// The epilogue of one element of C (m < M, n < N): scale, bias, activation, residual add.
void store_c(uint batch, uint m, uint n, float acc, float bn)
{
  float v = epilogue_of(acc, bn);
  const uint ci = p.c_off + batch * p.c_batch + m * p.ldc + n;
  if ((EPILOGUE & EPI_ACCUMULATE) != 0u)
    v += C_IN(ci);
  c[ci] = v;
}
#endif

#ifdef TILED
// a block of C per workgroup, BK of K per step; 256 invocations as 16 x 16, each 4 x 4 of C
#define BM 64u
#define BN 64u
#define BK 16u
// A's tile transposed (k-major, so a step reads one row of it per k), padded against bank
// conflicts on its transposing stores
shared float a_tile[BK][BM + 1u];
shared float b_tile[BK][BN];

void main()
{
  read_params();
  const uint lid = gl_LocalInvocationID.x; // the kernel table launches 256
  const uint tx = lid % 16u, ty = lid / 16u;
  const uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;
  const uint batch = gl_WorkGroupID.z;
  const uint a_base = p.a_off + batch * p.a_batch;
  const uint b_base = p.b_off + batch * p.b_batch;

  float acc[4][4];
  [[unroll]] for (uint i = 0; i < 4u; i++)
    [[unroll]] for (uint j = 0; j < 4u; j++)
      acc[i][j] = 0.0;

  for (uint k0 = 0; k0 < p.K; k0 += BK) {
    // each invocation stages 4 of A's 64 x 16 and 4 of B's 16 x 64, consecutive invocations
    // reading consecutive addresses
    [[unroll]] for (uint r = 0; r < 4u; r++) {
      const uint e = lid + 256u * r;
      const uint am = e / BK, ak = e % BK;
      a_tile[ak][am] = m0 + am < p.M && k0 + ak < p.K
                           ? A_VALUE(a[a_base + (m0 + am) * p.lda + k0 + ak]) : 0.0;
      const uint bk = e / BN, bn = e % BN;
      b_tile[bk][bn] = k0 + bk < p.K && n0 + bn < p.N
                           ? b_at(b_base + (k0 + bk) * p.ldb + n0 + bn) : 0.0;
    }
    barrier();
    [[unroll]] for (uint k = 0; k < BK; k++) {
      float av[4], bv[4];
      [[unroll]] for (uint i = 0; i < 4u; i++)
        av[i] = a_tile[k][ty + 16u * i];
      [[unroll]] for (uint j = 0; j < 4u; j++)
        bv[j] = b_tile[k][tx + 16u * j];
      [[unroll]] for (uint i = 0; i < 4u; i++)
        [[unroll]] for (uint j = 0; j < 4u; j++)
          acc[i][j] = fma(av[i], bv[j], acc[i][j]);
    }
    barrier(); // the tiles are overwritten next step
  }

  [[unroll]] for (uint j = 0; j < 4u; j++) {
    const uint n = n0 + tx + 16u * j;
    if (n >= p.N)
      continue;
    const float bn = (EPILOGUE & EPI_BIAS) != 0u ? bias[n] : 0.0;
    [[unroll]] for (uint i = 0; i < 4u; i++) {
      const uint m = m0 + ty + 16u * i;
      if (m < p.M)
        store_c(batch, m, n, acc[i][j], bn);
    }
  }
}
#elif defined(COOPMAT)
#define BM 64u
#define BN 64u
#define BK 32u
// row strides of the shared tiles, padded so that a fragment's rows start on different banks
#define LDA_S (BK + 8u)
#define LDB_S (BN + 8u)
#define LDC_S (BN + 4u)
shared float16_t a_tile[BM * LDA_S];
shared float16_t b_tile[BK * LDB_S];
shared float c_tile[BM * LDC_S];
#define FRAG_H fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>
#define FRAG_F fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>

void main()
{
  read_params();
  const uint lid = gl_LocalInvocationID.x; // the kernel table launches 128: 4 subgroups of 32
  const uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;
  const uint batch = gl_WorkGroupID.z;
  const uint a_base = p.a_off + batch * p.a_batch;
  const uint b_base = p.b_off + batch * p.b_batch; // even: B's offsets are multiples of 4
  // this subgroup's 32 x 32 of the block
  const uint wm = (gl_SubgroupID / 2u) * 32u, wn = (gl_SubgroupID % 2u) * 32u;

  FRAG_F acc[2][2];
  [[unroll]] for (uint i = 0; i < 2u; i++)
    [[unroll]] for (uint j = 0; j < 2u; j++)
      acc[i][j] = FRAG_F(0.0);

  for (uint k0 = 0; k0 < p.K; k0 += BK) {
    // A: 64 x 32, 16 values an invocation, consecutive invocations along a row
    [[unroll]] for (uint r = 0; r < 16u; r++) {
      const uint e = lid + 128u * r;
      const uint am = e / BK, ak = e % BK;
      const float v = m0 + am < p.M && k0 + ak < p.K
                          ? round_to_half(a[a_base + (m0 + am) * p.lda + k0 + ak]) : 0.0;
      a_tile[am * LDA_S + ak] = float16_t(v);
    }
    // B: 32 x 64 halves, a word (two columns) at a time
    [[unroll]] for (uint r = 0; r < 8u; r++) {
      const uint e = lid + 128u * r;
      const uint bk = e / (BN / 2u), bn = 2u * (e % (BN / 2u));
      vec2 v = vec2(0.0);
      if (k0 + bk < p.K && n0 + bn < p.N) {
        v = halves_to_floats(b_halves[(b_base + (k0 + bk) * p.ldb + n0 + bn) >> 1]);
        if (n0 + bn + 1u >= p.N)
          v.y = 0.0;
      }
      b_tile[bk * LDB_S + bn] = float16_t(v.x);
      b_tile[bk * LDB_S + bn + 1u] = float16_t(v.y);
    }
    barrier();
    [[unroll]] for (uint kk = 0; kk < BK; kk += 16u) {
      FRAG_H fa[2], fb[2];
      [[unroll]] for (uint i = 0; i < 2u; i++)
        coopMatLoadNV(fa[i], a_tile, (wm + 16u * i) * LDA_S + kk, LDA_S, false);
      [[unroll]] for (uint j = 0; j < 2u; j++)
        coopMatLoadNV(fb[j], b_tile, kk * LDB_S + wn + 16u * j, LDB_S, false);
      [[unroll]] for (uint i = 0; i < 2u; i++)
        [[unroll]] for (uint j = 0; j < 2u; j++)
          acc[i][j] = coopMatMulAddNV(fa[i], fb[j], acc[i][j]);
    }
    barrier(); // the tiles are overwritten next step
  }

  [[unroll]] for (uint i = 0; i < 2u; i++)
    [[unroll]] for (uint j = 0; j < 2u; j++)
      coopMatStoreNV(acc[i][j], c_tile, (wm + 16u * i) * LDC_S + wn + 16u * j, LDC_S, false);
  barrier();
  // the epilogue, consecutive invocations along a row of C
  [[unroll]] for (uint r = 0; r < BM * BN / 128u; r++) {
    const uint e = lid + 128u * r;
    const uint m = m0 + e / BN, n = n0 + e % BN;
    if (m < p.M && n < p.N)
      store_c(batch, m, n, c_tile[(e / BN) * LDC_S + e % BN],
              (EPILOGUE & EPI_BIAS) != 0u ? bias[n] : 0.0);
  }
}
#else
void main()
{
  read_params();
  const uint wg = gl_WorkGroupSize.x;
  const uint lane = gl_LocalInvocationID.x;
  // workgroups x walks down the rows, so the ones that run one after another share their
  // columns of B (the weights) while it is in cache, and only A's rows (the smaller operand,
  // in a ViT) stream (measured on lavapipe: the GEMMs 3-13% faster than walking across)
  const uint n0 = gl_WorkGroupID.y * wg * TN + 4u * lane;
  const uint m0 = gl_WorkGroupID.x * TM;
  const uint batch = gl_WorkGroupID.z;
  const uint a_base = p.a_off + batch * p.a_batch + m0 * p.lda;
  const uint b_base = (p.b_off + batch * p.b_batch + n0) / 4u;
  const uint ldb4 = p.ldb / 4u;

  vec4 acc[TM][NG];
  [[unroll]] for (uint i = 0; i < TM; i++)
    [[unroll]] for (uint g = 0; g < NG; g++)
      acc[i][g] = vec4(0.0);

#if defined(K4) && defined(SG)
  // The SG variant (a workgroup of exactly one subgroup of SGS lanes): lane l loads rows
  // l, l + SGS, ... and the rows reach every lane by shuffles with constant indices, so one
  // access fetches SGS rows instead of each row being fetched by every lane.
  const uint lda4 = p.lda / 4u;
  const uint a_base4 = a_base / 4u;
  // C's lines, fetched into the cache before the main loop: the epilogue's stores (on lavapipe
  // a loop over the lanes, one scalar store each) otherwise wait on every line they miss. With
  // K = 192 the epilogue took 27-28% of the QKV GEMM's samples before and 14% after, 33% and
  // 23-24% of fc1's (tools/perf_jit.sh). Fetching them inside the main loop, halfway, was slower.
  // A row of the workgroup's columns is SGS / 4 lines of 64 bytes (16 floats); each fetch
  // touches four rows, one lane per line, so TM / 4 fetches touch them all.
  vec4 c_touched = vec4(0.0);
  {
    const uint lines = SGS / 4u;
    const uint c_first =
        p.c_off + batch * p.c_batch + gl_WorkGroupID.y * wg * TN + 16u * (lane % lines);
    const int last = textureSize(c_texels) - 1; // a row of the last column block runs past it
    [[unroll]] for (uint r = 0; r < TM / 4u; r++) {
      const uint m = min(m0 + 4u * r + lane / lines, p.M - 1u);
      c_touched += texelFetch(c_texels, min(int((c_first + m * p.ldc) >> 2), last));
    }
  }
#ifdef B_T
#if TN != 4
#error "B_T: one group of four columns per lane"
#endif
  const uint bt_base4 = (p.b_off + batch * p.b_batch + n0 * p.ldb) / 4u;
#endif
  // this lane's own rows of A: r * SGS + its index, each step's four k. Where SGS does not
  // divide TM, the lanes past TM in the last of them read the block's last row again (unused)
#define MINE_ROWS ((TM + SGS - 1u) / SGS)
#define MINE4(r, k4) \
  A4(a_base4 + min((r) * SGS + gl_SubgroupInvocationID, TM - 1u) * lda4 + (k4))
#ifdef LN
  float shift[MINE_ROWS], sum1[MINE_ROWS], sum2[MINE_ROWS];
  [[unroll]] for (uint r = 0; r < MINE_ROWS; r++) {
    shift[r] = (EPILOGUE & EPI_RMS) != 0u ? 0.0 : MINE4(r, 0u).x;
    sum1[r] = sum2[r] = 0.0;
  }
#endif
#ifdef SOFTMAX_A
  const float lowest = -3.4e38;
  float row_max[MINE_ROWS], row_inv[MINE_ROWS];
  [[unroll]] for (uint r = 0; r < MINE_ROWS; r++) {
    float m = lowest, sum = 0.0;
    for (uint k4 = 0; k4 < p.K / 4u; k4++) {
      const vec4 s = mix(vec4(lowest), MINE4(r, k4), keys_at(k4));
      const float m2 = max(m, max(max(s.x, s.y), max(s.z, s.w)));
      sum = sum * exp(m - m2) + dot(exp(s - m2), vec4(1.0));
      m = m2;
    }
    row_max[r] = m;
    row_inv[r] = 1.0 / sum;
  }
#endif
  for (uint k4 = 0; k4 < p.K / 4u; k4++) {
    vec4 mine[MINE_ROWS];
    [[unroll]] for (uint r = 0; r < MINE_ROWS; r++)
      mine[r] = MINE4(r, k4);
#ifdef SOFTMAX_A
    [[unroll]] for (uint r = 0; r < MINE_ROWS; r++)
      mine[r] = mix(vec4(0.0), exp(mine[r] - row_max[r]) * row_inv[r], keys_at(k4));
#endif
#ifdef LN
    [[unroll]] for (uint r = 0; r < MINE_ROWS; r++) {
      mine[r] -= shift[r];
      sum1[r] += dot(mine[r], vec4(1.0));
      sum2[r] += dot(mine[r], mine[r]);
    }
#endif
    // All of the step's B rows first, then each row of C takes its four updates at once: on
    // lavapipe every texel fetch is a call that spills the live vector registers, and the
    // accumulators (TM x 4 per lane) do not fit in them, so each is loaded and stored once a
    // step instead of once per k (measured: the large GEMMs 15-27% faster)
    vec4 bv[4][NG];
#ifdef B_T
    // B given as B^T, row-major (Q.K^T reading K's rows straight out of the QKV output, with
    // no transposed copy): a texel holds four k of one column, so the step fetches one texel
    // per column of the lane and transposes the 4 x 4 in registers
    vec4 bt[4];
    [[unroll]] for (uint e = 0; e < 4; e++)
      bt[e] = B4(bt_base4 + e * ldb4 + k4);
    [[unroll]] for (uint kk = 0; kk < 4; kk++)
      bv[kk][0] = vec4(bt[0][kk], bt[1][kk], bt[2][kk], bt[3][kk]);
#else
    [[unroll]] for (uint kk = 0; kk < 4; kk++)
      [[unroll]] for (uint g = 0; g < NG; g++)
        bv[kk][g] = B4(b_base + (4u * k4 + kk) * ldb4 + g * wg);
#endif
    [[unroll]] for (uint i = 0; i < TM; i++)
      [[unroll]] for (uint kk = 0; kk < 4; kk++) {
        const float av = subgroupShuffle(mine[i / SGS][kk], i % SGS);
        [[unroll]] for (uint g = 0; g < NG; g++)
          acc[i][g] = fma(vec4(av), bv[kk][g], acc[i][g]);
      }
  }
#ifdef LN
  // every row's shifted mean and 1 / standard deviation, in every lane (shuffles need all lanes)
  float ln_mean[TM], ln_rstd[TM];
  {
    float mean_mine[MINE_ROWS], rstd_mine[MINE_ROWS];
    [[unroll]] for (uint r = 0; r < MINE_ROWS; r++) {
      mean_mine[r] = (EPILOGUE & EPI_RMS) != 0u ? 0.0 : sum1[r] / float(p.K);
      const float var = max(sum2[r] / float(p.K) - mean_mine[r] * mean_mine[r], 0.0);
      rstd_mine[r] = inversesqrt(var + p.ln_eps);
    }
    [[unroll]] for (uint i = 0; i < TM; i++) {
      ln_mean[i] = subgroupShuffle(mean_mine[i / SGS], i % SGS);
      ln_rstd[i] = subgroupShuffle(rstd_mine[i / SGS], i % SGS);
    }
  }
#endif
#elif defined(K4)
  const uint lda4 = p.lda / 4u;
  const uint a_base4 = a_base / 4u;
  for (uint k4 = 0; k4 < p.K / 4u; k4++) {
    vec4 av[TM];
    [[unroll]] for (uint i = 0; i < TM; i++)
      av[i] = A4(a_base4 + i * lda4 + k4);
    [[unroll]] for (uint kk = 0; kk < 4; kk++) {
      const uint b_row = b_base + (4u * k4 + kk) * ldb4;
      vec4 bv[NG];
      [[unroll]] for (uint g = 0; g < NG; g++)
        bv[g] = B4(b_row + g * wg);
      [[unroll]] for (uint i = 0; i < TM; i++)
        [[unroll]] for (uint g = 0; g < NG; g++)
          acc[i][g] = fma(vec4(av[i][kk]), bv[g], acc[i][g]);
    }
  }
#else
  for (uint k = 0; k < p.K; k++) {
    const uint b_row = b_base + k * ldb4;
    vec4 bv[NG];
    [[unroll]] for (uint g = 0; g < NG; g++)
      bv[g] = B4(b_row + g * wg);
    [[unroll]] for (uint i = 0; i < TM; i++) {
      const float av = A_VALUE(a[a_base + i * p.lda + k]);
      [[unroll]] for (uint g = 0; g < NG; g++)
        acc[i][g] = fma(vec4(av), bv[g], acc[i][g]);
    }
  }
#endif

#if defined(K4) && defined(SG)
  // the touched values must reach a result or the compiler drops their fetches: M is never 0 in
  // a dispatch, so this adds nothing
  if (p.M == 0u)
    acc[0][0] += c_touched;
#endif
#ifdef C_PAIRS
  [[unroll]] for (uint g = 0; g < NG; g++) {
    const uint n = n0 + g * 4u * wg;
    if (n >= p.N)
      continue;
    vec4 bn = vec4(0.0), colsum = vec4(0.0);
    [[unroll]] for (uint e = 0; e < 4; e++)
      if (n + e < p.N) {
        if ((EPILOGUE & EPI_BIAS) != 0u)
          bn[e] = bias[n + e];
#ifdef LN
        colsum[e] = bias[p.N + n + e];
#endif
      }
    [[unroll]] for (uint i = 0; i < TM; i++)
      if (m0 + i < p.M)
#ifdef LN
        store_c4(batch, m0 + i, n, ln_rstd[i] * (acc[i][g] - ln_mean[i] * colsum), bn);
#else
        store_c4(batch, m0 + i, n, acc[i][g], bn);
#endif
  }
#else
  [[unroll]] for (uint g = 0; g < NG; g++)
    [[unroll]] for (uint e = 0; e < 4; e++) {
      const uint n = n0 + g * 4u * wg + e;
      if (n >= p.N)
        continue;
      const float bn = (EPILOGUE & EPI_BIAS) != 0u ? bias[n] : 0.0;
#ifdef LN
      const float colsum = bias[p.N + n];
      [[unroll]] for (uint i = 0; i < TM; i++)
        if (m0 + i < p.M)
          store_c(batch, m0 + i, n, ln_rstd[i] * (acc[i][g][e] - ln_mean[i] * colsum), bn);
#else
      [[unroll]] for (uint i = 0; i < TM; i++)
        if (m0 + i < p.M)
          store_c(batch, m0 + i, n, acc[i][g][e], bn);
#endif
    }
#endif
}
#endif
