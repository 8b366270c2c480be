/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The GPU ops: each records one or a few dispatches with the kernels of the recorder's table.
 * Push-constant blocks are the structs of heed-push.h. */
#include "heed-private.h"
#include "heed-push.h"

#include <math.h>
#include <string.h>

static guint
groups_for (const HeedRecorder *rec, guint64 items)
{
  return (guint) ((items + rec->kernels.small_lanes - 1) / rec->kernels.small_lanes);
}

static HeedKernel
elementwise (const HeedRecorder *rec, HeedShaderId shader)
{
  return (HeedKernel){ shader, rec->kernels.small_lanes };
}

/* The block of C one workgroup of a GEMM variant computes: TM rows and local_size x TN columns
 * for the register-tiled kernels (gemm.comp, from their registry lines: the shuffle variants,
 * the ones reading texels, have TN 4, the others 8; TM is 16, 32 for the 16-lane shuffle
 * variants, 40 for their twins and 8 for the few-row twins), 64 x 64 for the shared-memory TILED
 * ones and the cooperative-matrix one. */
static gboolean
gemm_is_tiled (HeedKernel kernel)
{
  return kernel.shader == HEED_SHADER_GEMM_TILED || kernel.shader == HEED_SHADER_GEMM_TILED_BH ||
         kernel.shader == HEED_SHADER_GEMM_TILED_BH_AH || kernel.shader == HEED_SHADER_GEMM_COOPMAT;
}

static void
gemm_block (HeedKernel kernel, guint *rows, guint *cols)
{
  if (gemm_is_tiled (kernel)) {
    *rows = *cols = 64;
    return;
  }
  gboolean narrow = heed_shaders[kernel.shader].texel_bindings != 0;
  *rows = heed_shaders[kernel.shader].tile_rows;
  *cols = kernel.local_size * (narrow ? 4 : 8);
}

/* lavapipe's shuffle GEMMs, each beside its twin storing C in 64-bit pairs (gemm.comp's C_PAIRS) */
static const HeedShaderId gemm_pairs[][2] = {
  { HEED_SHADER_GEMM_K4_SG8_TEXELS, HEED_SHADER_GEMM_K4_SG8_TEXELS_PAIRS },
  { HEED_SHADER_GEMM_K4_SG16_TEXELS, HEED_SHADER_GEMM_K4_SG16_TEXELS_PAIRS },
  { HEED_SHADER_GEMM_K4_SG8_TEXELS_LN, HEED_SHADER_GEMM_K4_SG8_TEXELS_LN_PAIRS },
  { HEED_SHADER_GEMM_K4_SG16_TEXELS_LN, HEED_SHADER_GEMM_K4_SG16_TEXELS_LN_PAIRS },
  { HEED_SHADER_GEMM_K4_SG8_TEXELS_SM, HEED_SHADER_GEMM_K4_SG8_TEXELS_SM_PAIRS },
  { HEED_SHADER_GEMM_K4_SG16_TEXELS_SM, HEED_SHADER_GEMM_K4_SG16_TEXELS_SM_PAIRS },
  { HEED_SHADER_GEMM_K4_SG8_TEXELS_BT, HEED_SHADER_GEMM_K4_SG8_TEXELS_BT_PAIRS },
  { HEED_SHADER_GEMM_K4_SG16_TEXELS_BT, HEED_SHADER_GEMM_K4_SG16_TEXELS_BT_PAIRS },
  { HEED_SHADER_GEMM_K4_SG4_TEXELS, HEED_SHADER_GEMM_K4_SG4_TEXELS_PAIRS },
  { HEED_SHADER_GEMM_K4_SG4_TEXELS_LN, HEED_SHADER_GEMM_K4_SG4_TEXELS_LN_PAIRS },
  { HEED_SHADER_GEMM_K4_SG4_TEXELS_SM, HEED_SHADER_GEMM_K4_SG4_TEXELS_SM_PAIRS },
  { HEED_SHADER_GEMM_K4_SG4_TEXELS_BT, HEED_SHADER_GEMM_K4_SG4_TEXELS_BT_PAIRS },
  { HEED_SHADER_GEMM_K4_SG16R40_TEXELS, HEED_SHADER_GEMM_K4_SG16R40_TEXELS_PAIRS },
  { HEED_SHADER_GEMM_K4_SG16R40_TEXELS_LN, HEED_SHADER_GEMM_K4_SG16R40_TEXELS_LN_PAIRS },
  { HEED_SHADER_GEMM_K4_SG16R40_TEXELS_SM, HEED_SHADER_GEMM_K4_SG16R40_TEXELS_SM_PAIRS },
  { HEED_SHADER_GEMM_K4_SG16R40_TEXELS_BT, HEED_SHADER_GEMM_K4_SG16R40_TEXELS_BT_PAIRS },
  { HEED_SHADER_GEMM_K4_SG16R8_TEXELS, HEED_SHADER_GEMM_K4_SG16R8_TEXELS_PAIRS },
  { HEED_SHADER_GEMM_K4_SG16R8_TEXELS_LN, HEED_SHADER_GEMM_K4_SG16R8_TEXELS_LN_PAIRS },
  { HEED_SHADER_GEMM_K4_SG8R8_TEXELS, HEED_SHADER_GEMM_K4_SG8R8_TEXELS_PAIRS },
  { HEED_SHADER_GEMM_K4_SG8R8_TEXELS_LN, HEED_SHADER_GEMM_K4_SG8R8_TEXELS_LN_PAIRS },
};

static HeedShaderId
gemm_pairs_twin (HeedShaderId shader, guint from, guint to)
{
  for (guint i = 0; i < G_N_ELEMENTS (gemm_pairs); i++)
    if (gemm_pairs[i][from] == shader)
      return gemm_pairs[i][to];
  return shader;
}

HeedShaderId
heed_gemm_with_pairs (HeedShaderId shader)
{
  return gemm_pairs_twin (shader, 0, 1);
}

HeedShaderId
heed_gemm_without_pairs (HeedShaderId shader)
{
  return gemm_pairs_twin (shader, 1, 0);
}

/* lavapipe's plain and LayerNorm shuffle GEMMs at 16 and 8 lanes (storing floats; each one's
 * pairs variant is found through gemm_pairs), each beside its twin taking 8 rows a workgroup */
static const HeedShaderId gemm_rows_8[][2] = {
  { HEED_SHADER_GEMM_K4_SG16_TEXELS, HEED_SHADER_GEMM_K4_SG16R8_TEXELS },
  { HEED_SHADER_GEMM_K4_SG16_TEXELS_LN, HEED_SHADER_GEMM_K4_SG16R8_TEXELS_LN },
  { HEED_SHADER_GEMM_K4_SG16R40_TEXELS, HEED_SHADER_GEMM_K4_SG16R8_TEXELS },
  { HEED_SHADER_GEMM_K4_SG16R40_TEXELS_LN, HEED_SHADER_GEMM_K4_SG16R8_TEXELS_LN },
  { HEED_SHADER_GEMM_K4_SG8_TEXELS, HEED_SHADER_GEMM_K4_SG8R8_TEXELS },
  { HEED_SHADER_GEMM_K4_SG8_TEXELS_LN, HEED_SHADER_GEMM_K4_SG8R8_TEXELS_LN },
};

HeedShaderId
heed_gemm_for_rows (HeedShaderId shader, guint M)
{
  if (M > 8)
    return shader;
  HeedShaderId floats = heed_gemm_without_pairs (shader);
  for (guint i = 0; i < G_N_ELEMENTS (gemm_rows_8); i++)
    if (gemm_rows_8[i][0] == floats)
      return floats == shader ? gemm_rows_8[i][1] : heed_gemm_with_pairs (gemm_rows_8[i][1]);
  return shader;
}

/* Whether a GEMM storing C in pairs may write C: it stores whole groups of four columns from
 * multiples of 4, so C's stride and offsets must be multiples of 4, and N too unless the
 * columns from N to the next multiple of 4 are zero padding (it writes zeros there). */
static gboolean
pairs_fit (HeedMat c, guint N, gboolean c_zero_padded)
{
  return c.ld % 4 == 0 && c.off % 4 == 0 && c.batch % 4 == 0 && (N % 4 == 0 || c_zero_padded);
}

/* c_zero_padded: C's columns from N up to its stride are zeros that must stay zeros (the
 * attention scores, which P.V reads in vec4s) */
static gboolean
record_gemm (HeedRecorder *rec, HeedKernel kernel, HeedMat a, HeedMat b, HeedMat c,
             HeedBuffer *bias, guint M, guint N, guint K, guint batches, float alpha, float ln_eps,
             guint a_cols, guint epilogue, gboolean c_zero_padded, const char *name,
             const char *kind, GError **error)
{
  kernel.shader = heed_gemm_for_rows (kernel.shader, M);
  if (!pairs_fit (c, N, c_zero_padded))
    kernel.shader = heed_gemm_without_pairs (kernel.shader);
  HeedGemmParams p = { M,     N,       K,       a.ld,    b.ld,  c.ld,   a.off, b.off,
                       c.off, a.batch, b.batch, c.batch, alpha, ln_eps, a_cols };
  /* binding 4: C again, which the texel variants read as texels for the residual add */
  HeedBuffer *bindings[5] = { a.buf, b.buf, c.buf, bias ? bias : c.buf, c.buf };
  if (bias)
    epilogue |= HEED_EPI_BIAS;
  else
    epilogue &= ~(guint) HEED_EPI_BIAS;
  guint rows, cols;
  gemm_block (kernel, &rows, &cols);
  /* the register-tiled kernels read whole blocks: the operands are padded to row_align rows and
   * col_align columns, whole blocks of either; the TILED kernel checks its reads. The TILED
   * kernel's workgroups go across C's columns first, the register-tiled ones' down its rows
   * (gemm.comp says why). */
  guint across = (N + cols - 1) / cols, down = (M + rows - 1) / rows;
  gboolean tiled = gemm_is_tiled (kernel);
  return heed_recorder_dispatch (rec, kernel, epilogue, bindings, &p, sizeof p,
                                 tiled ? across : down, tiled ? down : across, batches, name, kind,
                                 2.0 * M * N * K * batches, error);
}

/* A read as vec4s along K where K, its stride and offsets allow */
static gboolean
a_k4 (HeedMat a, guint K)
{
  return K % 4 == 0 && a.ld % 4 == 0 && a.off % 4 == 0 && a.batch % 4 == 0;
}

/* B read as vec4s: its stride and offsets multiples of 4 (the weights' padding makes that
 * always so) */
static gboolean
b_vec4 (HeedMat b)
{
  return b.off % 4 == 0 && b.ld % 4 == 0 && b.batch % 4 == 0;
}

/* The kernel reading B as IEEE halves (a plan's fp16 weights): the storage-buffer kernels have a
 * B_HALF twin; the texel kernels read halves as they are, through the buffer's RGBA16F view. */
static HeedKernel
with_half_b (HeedKernel kernel)
{
  switch (kernel.shader) {
  case HEED_SHADER_GEMM: kernel.shader = HEED_SHADER_GEMM_BH; break;
  case HEED_SHADER_GEMM_K4: kernel.shader = HEED_SHADER_GEMM_K4_BH; break;
  case HEED_SHADER_GEMM_TILED: kernel.shader = HEED_SHADER_GEMM_TILED_BH; break;
  default: g_assert (heed_shaders[kernel.shader].texel_bindings & 2u); break;
  }
  return kernel;
}

gboolean
heed_op_gemm (HeedRecorder *rec, HeedMat a, HeedMat b, HeedMat c, HeedBuffer *bias, guint M,
              guint N, guint K, guint batches, float alpha, guint epilogue, const char *name,
              const char *kind, GError **error)
{
  const HeedKernels *k = &rec->kernels;
  g_return_val_if_fail (b_vec4 (b), FALSE);
  HeedKernel kernel = a_k4 (a, K) ? k->gemm_k4 : k->gemm;
  if (b.buf->half_operands)
    kernel = a_k4 (a, K) ? k->gemm_half_k4 : k->gemm_half;
  else if (b.buf->half)
    kernel = with_half_b (kernel);
  return record_gemm (rec, kernel, a, b, c, bias, M, N, K, batches, alpha, 0.0f, 0, epilogue, FALSE,
                      name, kind, error);
}

void
heed_fold_layernorm (float *b, guint K, guint N, guint ldb, const float *gamma, const float *beta,
                     const float *bias, float *bias_colsum)
{
  for (guint n = 0; n < N; n++) {
    double shifted = bias ? bias[n] : 0.0, colsum = 0.0;
    for (guint k = 0; k < K; k++) {
      float *w = &b[(gsize) k * ldb + n];
      shifted += (double) *w * beta[k];
      *w *= gamma[k];
      colsum += *w;
    }
    bias_colsum[n] = (float) shifted;
    bias_colsum[N + n] = (float) colsum;
  }
}

gboolean
heed_op_gemm_layernorm (HeedRecorder *rec, HeedMat a, HeedMat b, HeedMat c, HeedBuffer *bias_colsum,
                        guint M, guint N, guint K, guint batches, float eps, guint epilogue,
                        const char *name, const char *kind, GError **error)
{
  const HeedKernels *k = &rec->kernels;
  g_return_val_if_fail (k->gemm_k4_ln.shader != HEED_SHADER_COUNT && a_k4 (a, K) && b_vec4 (b),
                        FALSE);
  return record_gemm (rec, k->gemm_k4_ln, a, b, c, bias_colsum, M, N, K, batches, 1.0f, eps, 0,
                      epilogue | HEED_EPI_BIAS, FALSE, name, kind, error);
}

/* Row kernels: the table's *_rows variant (a subgroup per row, reading vec4s) when the rows
 * are 16-byte aligned and it differs from the plain kernel; otherwise one invocation per row. */
static gboolean
use_rows_kernel (HeedKernel rows, HeedKernel plain, gboolean aligned)
{
  return aligned && rows.shader != plain.shader;
}

gboolean
heed_op_layernorm (HeedRecorder *rec, HeedMat x, HeedMat y, HeedBuffer *gamma, HeedBuffer *beta,
                   guint M, guint D, float eps, HeedNormMode mode, const char *name, GError **error)
{
  return heed_op_layernorm_batches (rec, x, y, gamma, beta, M, 1, D, eps, mode, name, error);
}

gboolean
heed_op_layernorm_batches (HeedRecorder *rec, HeedMat x, HeedMat y, HeedBuffer *gamma,
                           HeedBuffer *beta, guint rows, guint batches, guint D, float eps,
                           HeedNormMode mode, const char *name, GError **error)
{
  const HeedKernels *k = &rec->kernels;
  guint M = rows * batches;
  gboolean sg = use_rows_kernel (k->layernorm_rows, k->layernorm,
                                 D % 4 == 0 && x.ld % 4 == 0 && y.ld % 4 == 0 && x.off % 4 == 0 &&
                                     y.off % 4 == 0 && x.batch % 4 == 0 && y.batch % 4 == 0);
  HeedLayerNormParams p = {
    M,     D,       x.ld,    y.ld,
    x.off, y.off,   eps,     sg ? k->rows_per_group : k->layernorm.local_size,
    rows,  x.batch, y.batch,
  };
  HeedBuffer *bindings[4] = { x.buf, y.buf, gamma, beta };
  g_return_val_if_fail (rows > 0, FALSE);
  return heed_recorder_dispatch (rec, sg ? k->layernorm_rows : k->layernorm, mode, bindings, &p,
                                 sizeof p, (M + p.rows_per_group - 1) / p.rows_per_group, 1, 1,
                                 name, "layernorm", 8.0 * M * D, error);
}

gboolean
heed_op_softmax (HeedRecorder *rec, HeedMat s, guint M, guint N, guint batches, const char *name,
                 GError **error)
{
  const HeedKernels *k = &rec->kernels;
  gboolean sg = use_rows_kernel (k->softmax_rows, k->softmax, s.ld % 4 == 0 && s.batch % 4 == 0);
  HeedSoftmaxParams p = { M * batches, M,       N,
                          s.ld,        s.batch, sg ? k->rows_per_group : k->softmax.local_size };
  /* binding 1: the same scores, read as texels by the texel variant */
  HeedBuffer *bindings[2] = { s.buf, s.buf };
  g_return_val_if_fail (s.off == 0, FALSE);
  return heed_recorder_dispatch (rec, sg ? k->softmax_rows : k->softmax, 0, bindings, &p, sizeof p,
                                 (p.rows + p.rows_per_group - 1) / p.rows_per_group, 1, 1, name,
                                 "attention", 4.0 * M * N * batches, error);
}

gboolean
heed_op_patchify (HeedRecorder *rec, HeedBuffer *image, guint in_stride, HeedBuffer *patches,
                  guint out_off, guint out_stride, guint frames, guint channels, guint height,
                  guint width, guint patch, GError **error)
{
  guint grid_w = width / patch, grid_h = height / patch;
  HeedPatchifyParams p = {
    channels, height, width, patch, grid_w, grid_w * grid_h, out_off, in_stride, out_stride,
  };
  HeedBuffer *bindings[2] = { image, patches };
  /* four pixels at a time where patch rows, image rows and the frames' strides are whole vec4s */
  gboolean vec4 = patch % 4 == 0 && width % 4 == 0 && in_stride % 4 == 0 && out_stride % 4 == 0 &&
                  heed_buffer_texels_cover (image);
  guint64 items = (guint64) p.num_patches * channels * patch * patch / (vec4 ? 4 : 1);
  g_return_val_if_fail (
      frames >= 1 && frames <= rec->device->props.limits.maxComputeWorkGroupCount[2], FALSE);
  return heed_recorder_dispatch (
      rec, elementwise (rec, vec4 ? HEED_SHADER_PATCHIFY_VEC4 : HEED_SHADER_PATCHIFY), 0, bindings,
      &p, sizeof p, groups_for (rec, items), 1, frames, "patchify", "patch_embed", 0, error);
}

void
heed_tokens_start (const float *cls, const float *pos, guint tokens, guint D, guint prefix,
                   float *out)
{
  for (gsize i = 0; i < (gsize) tokens * D; i++)
    out[i] = pos[i] + (i < (gsize) prefix * D ? cls[i] : 0.0f);
}

gboolean
heed_op_tokens_init (HeedRecorder *rec, HeedBuffer *start, HeedBuffer *x, guint tokens, guint D,
                     guint frames, GError **error)
{
  HeedTokensInitParams p = { tokens, D, frames };
  HeedBuffer *bindings[2] = { start, x };
  /* four floats at a time where rows are whole vec4s */
  gboolean vec4 = D % 4 == 0 && heed_buffer_texels_cover (start);
  guint64 items = (guint64) tokens * D * frames / (vec4 ? 4 : 1);
  return heed_recorder_dispatch (
      rec, elementwise (rec, vec4 ? HEED_SHADER_TOKENS_INIT_VEC4 : HEED_SHADER_TOKENS_INIT), 0,
      bindings, &p, sizeof p, groups_for (rec, items), 1, 1, "tokens_init", "patch_embed",
      (double) tokens * D * frames, error);
}

gboolean
heed_op_head_mean (HeedRecorder *rec, HeedMat prob, HeedBuffer *out, guint out_off, guint rows,
                   guint N, guint heads, const char *name, GError **error)
{
  return heed_op_head_mean_strided (rec, prob, out, out_off, N, rows, N, heads, name, error);
}

gboolean
heed_op_head_mean_strided (HeedRecorder *rec, HeedMat prob, HeedBuffer *out, guint out_off,
                           guint out_ld, guint rows, guint N, guint heads, const char *name,
                           GError **error)
{
  HeedHeadMeanParams p = { rows, N, heads, prob.ld, prob.batch, prob.off, out_off, out_ld };
  HeedBuffer *bindings[2] = { prob.buf, out };
  return heed_recorder_dispatch (rec, elementwise (rec, HEED_SHADER_HEAD_MEAN), 0, bindings, &p,
                                 sizeof p, groups_for (rec, (guint64) rows * N), 1, 1, name,
                                 "attention", (double) rows * N * heads, error);
}

gboolean
heed_op_swiglu (HeedRecorder *rec, HeedMat x, guint rows, guint hidden, guint batches,
                const char *name, GError **error)
{
  guint64 count = (guint64) rows * hidden * batches;
  HeedSwigluParams p = { rows, hidden, x.ld, x.batch, x.off, (guint32) count };
  HeedBuffer *bindings[1] = { x.buf };
  g_return_val_if_fail (count <= G_MAXUINT32 && x.ld >= 2 * hidden, FALSE);
  /* the shader strides over what one dispatch's width cannot cover */
  guint groups =
      MIN (groups_for (rec, count), rec->device->props.limits.maxComputeWorkGroupCount[0]);
  return heed_recorder_dispatch (rec, elementwise (rec, HEED_SHADER_SWIGLU), 0, bindings, &p,
                                 sizeof p, groups, 1, 1, name, "fc1", 5.0 * count, error);
}

gboolean
heed_op_gather_rows (HeedRecorder *rec, HeedBuffer *in, HeedBuffer *index, HeedBuffer *out,
                     guint rows_out, guint rows_in, guint width, guint group, guint frames,
                     const char *name, GError **error)
{
  guint64 count = (guint64) frames * rows_out * group * (width / 4);
  HeedGatherRowsParams p = { rows_out, rows_in, width / 4, group, (guint32) count };
  HeedBuffer *bindings[3] = { in, index, out };
  g_return_val_if_fail (width % 4 == 0 && count <= G_MAXUINT32, FALSE);
  /* the shader strides over what one dispatch's width cannot cover */
  guint groups =
      MIN (groups_for (rec, count), rec->device->props.limits.maxComputeWorkGroupCount[0]);
  return heed_recorder_dispatch (rec, elementwise (rec, HEED_SHADER_GATHER_ROWS), 0, bindings, &p,
                                 sizeof p, groups, 1, 1, name, "attention", 0.0, error);
}

gboolean
heed_op_rope (HeedRecorder *rec, HeedBuffer *qkv, guint qkv_off, HeedBuffer *table, guint table_off,
              guint tokens, guint prefix, guint frames, guint D, guint heads, const char *name,
              GError **error)
{
  guint64 count = (guint64) frames * (tokens - prefix) * D;
  HeedRopeParams p = {
    tokens, prefix, D, D / heads / 2, 3 * D, qkv_off, (guint32) count, table_off
  };
  HeedBuffer *bindings[2] = { qkv, table };
  g_return_val_if_fail (count <= G_MAXUINT32 && prefix < tokens && (D / heads) % 2 == 0, FALSE);
  /* the shader strides over what one dispatch's width cannot cover */
  guint groups =
      MIN (groups_for (rec, count), rec->device->props.limits.maxComputeWorkGroupCount[0]);
  return heed_recorder_dispatch (rec, elementwise (rec, HEED_SHADER_ROPE), 0, bindings, &p,
                                 sizeof p, groups, 1, 1, name, "qkv", 6.0 * count, error);
}

gboolean
heed_op_qk_normalize (HeedRecorder *rec, HeedBuffer *qkv, guint qkv_off, HeedBuffer *scale,
                      guint rows, guint D, guint heads, const char *name, GError **error)
{
  guint64 count = (guint64) rows * 2 * heads;
  HeedQkNormalizeParams p = { rows, D, D / heads, 3 * D, qkv_off, (guint32) count };
  HeedBuffer *bindings[2] = { qkv, scale };
  g_return_val_if_fail (count <= G_MAXUINT32 && heads && D % heads == 0, FALSE);
  /* the shader strides over what one dispatch's width cannot cover */
  guint groups =
      MIN (groups_for (rec, count), rec->device->props.limits.maxComputeWorkGroupCount[0]);
  return heed_recorder_dispatch (rec, elementwise (rec, HEED_SHADER_QK_NORMALIZE), 0, bindings, &p,
                                 sizeof p, groups, 1, 1, name, "attention", 4.0 * rows * 2 * D,
                                 error);
}

gsize
heed_attention_qkv_floats (const HeedKernels *k, guint rows, guint D)
{
  /* the last frame's GEMMs read up to m_pad (< its M + row_align) rows from its first as A,
   * and as B^T (K in place) up to its M + col_align, plus a row and a column tile of B past the
   * end */
  return ((gsize) rows + MAX (k->row_align, k->col_align) + 1) * 3 * D + k->col_align;
}

/* The scores' layout, [heads][m_pad][n_pad]: whole GEMM tiles of rows and of columns */
static void
scores_layout (const HeedKernels *k, guint M, guint *m_pad, guint *n_pad)
{
  *m_pad = heed_round_up (M, k->row_align);
  *n_pad = heed_round_up (M, k->col_align);
}

gboolean
heed_attention_scratch_init (HeedDevice *d, const HeedKernels *k, HeedAttentionScratch *s, guint M,
                             guint D, guint heads, GError **error)
{
  guint dh = D / heads;
  scores_layout (k, M, &s->m_pad, &s->n_pad);
  s->v_ld = heed_round_up (dh, k->col_align);
  s->q = heed_buffer_new (d, (VkDeviceSize) heads * s->m_pad * dh * 4, FALSE, error);
  s->kt = s->q ? heed_buffer_new (d, (VkDeviceSize) heads * dh * s->n_pad * 4, FALSE, error) : NULL;
  s->v = s->kt ? heed_buffer_new (d, (VkDeviceSize) heads * s->m_pad * s->v_ld * 4, FALSE, error)
               : NULL;
  s->scores =
      s->v ? heed_buffer_new (d, (VkDeviceSize) heads * s->m_pad * s->n_pad * 4, FALSE, error)
           : NULL;
  if (!s->scores) {
    heed_attention_scratch_clear (s);
    return FALSE;
  }
  return TRUE;
}

float *
heed_attention_bias_padded (const HeedKernels *k, const float *bias, guint M, guint heads,
                            gsize *n_floats)
{
  guint m_pad, n_pad;
  scores_layout (k, M, &m_pad, &n_pad);
  *n_floats = (gsize) heads * m_pad * n_pad;
  float *out = g_new0 (float, *n_floats);
  for (gsize h = 0; h < heads; h++)
    for (gsize i = 0; i < M; i++)
      memcpy (out + (h * m_pad + i) * n_pad, bias + (h * M + i) * M, M * sizeof (float));
  return out;
}

void
heed_attention_scratch_clear (HeedAttentionScratch *s)
{
  heed_buffer_destroy (&s->q);
  heed_buffer_destroy (&s->kt);
  heed_buffer_destroy (&s->v);
  heed_buffer_destroy (&s->scores);
}

/* Q, K and V read in place where rows and heads are whole texels (the K transpose and the
 * one-dispatch attention read qkv as texels) */
static gboolean
attention_direct (HeedBuffer *qkv, guint D, guint heads)
{
  return D % 4 == 0 && (D / heads) % 4 == 0 && heed_buffer_texels_cover (qkv);
}

gboolean
heed_attention_takes_frames (const HeedKernels *k, HeedBuffer *qkv, guint D, guint heads)
{
  /* the one-dispatch attention kernels: heads up to 64 wide */
  return k->attention.shader != HEED_SHADER_COUNT && D / heads <= 64 &&
         attention_direct (qkv, D, heads);
}

/* The attention kernels' push constants for frames of M rows of qkv from row `first` on, their
 * outputs in the same rows of a D-wide output, a bias of `windows` windows (0: none) */
static HeedAttentionParams
attention_params (guint M, guint D, guint heads, guint first, guint windows, guint m_pad,
                  guint n_pad)
{
  guint dh = D / heads;
  return (HeedAttentionParams){
    M, D, dh, 3 * D, first * 3 * D, first * D, D, 1.0f / sqrtf ((float) dh), windows, m_pad, n_pad,
  };
}

/* The one-dispatch attention over `frames` frames of M rows from `row` on, frame f's scores plus
 * window f % windows's bias where there is one; in as many dispatches as the device's workgroup
 * count takes (each a whole number of the bias's windows) */
static gboolean
record_attention_frames (HeedRecorder *rec, HeedKernel kernel, HeedBuffer *qkv, HeedBuffer *bias,
                         guint windows, HeedBuffer *out, guint row, guint M, guint frames, guint D,
                         guint heads, const char *name, GError **error)
{
  guint dh = D / heads, m_pad, n_pad;
  scores_layout (&rec->kernels, M, &m_pad, &n_pad);
  guint most = rec->device->props.limits.maxComputeWorkGroupCount[2];
  guint per = bias ? most / windows * windows : most;
  if (per == 0) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "%s: %u windows are more than a dispatch of the device takes", name, windows);
    return FALSE;
  }
  /* attention_flash.comp takes 64 rows a workgroup, the others 16 */
  guint rows = kernel.shader == HEED_SHADER_ATTENTION_FLASH ? 64 : 16;
  /* without a bias, the bias binding is qkv again: bound, never read */
  HeedBuffer *bindings[3] = { qkv, out, bias ? bias : qkv };
  for (guint f = 0; f < frames; f += per) {
    guint n = MIN (per, frames - f), first = row + f * M;
    HeedAttentionParams ap =
        attention_params (M, D, heads, first, bias ? windows : 0, m_pad, n_pad);
    if (!heed_recorder_dispatch (rec, kernel, 0, bindings, &ap, sizeof ap, (M + rows - 1) / rows,
                                 heads, n, name, "attention", 4.0 * M * M * dh * heads * n, error))
      return FALSE;
  }
  return TRUE;
}

gboolean
heed_op_attention_frames (HeedRecorder *rec, HeedBuffer *qkv, HeedBuffer *out, guint row, guint M,
                          guint frames, guint D, guint heads, const char *name, GError **error)
{
  g_return_val_if_fail (heed_attention_takes_frames (&rec->kernels, qkv, D, heads), FALSE);
  return record_attention_frames (rec, rec->kernels.attention, qkv, NULL, 0, out, row, M, frames, D,
                                  heads, name, error);
}

gboolean
heed_attention_takes_frames_bias (const HeedKernels *k, HeedBuffer *qkv, HeedBuffer *bias, guint D,
                                  guint heads)
{
  return k->attention_bias.shader != HEED_SHADER_COUNT && heed_buffer_texels_cover (bias) &&
         heed_attention_takes_frames (k, qkv, D, heads);
}

gboolean
heed_op_attention_frames_bias (HeedRecorder *rec, HeedBuffer *qkv, HeedBuffer *bias, guint windows,
                               HeedBuffer *out, guint row, guint M, guint frames, guint D,
                               guint heads, const char *name, GError **error)
{
  g_return_val_if_fail (
      heed_attention_takes_frames_bias (&rec->kernels, qkv, bias, D, heads) && windows > 0, FALSE);
  return record_attention_frames (rec, rec->kernels.attention_bias, qkv, bias, windows, out, row, M,
                                  frames, D, heads, name, error);
}

static guint
gcd (guint a, guint b)
{
  while (b) {
    guint t = a % b;
    a = b, b = t;
  }
  return a;
}

/* attention_rows.comp's limits: its scores in shared memory, a head's query in 64 vec4s */
#define ATTENTION_ROWS_MAX_KEYS 3072
#define ATTENTION_ROWS_MAX_HEAD 256

gboolean
heed_attention_takes_rows (const HeedKernels *k, HeedBuffer *qkv, guint M, guint D, guint heads)
{
  return k->attention_rows.shader != HEED_SHADER_COUNT && M <= ATTENTION_ROWS_MAX_KEYS &&
         D / heads <= ATTENTION_ROWS_MAX_HEAD && attention_direct (qkv, D, heads);
}

gboolean
heed_op_attention_rows (HeedRecorder *rec, HeedBuffer *qkv, HeedBuffer *bias, guint bias_windows,
                        HeedBuffer *out, const HeedProbsOut *probs, guint row, guint M,
                        guint queries, guint frames, guint D, guint heads, const char *name,
                        GError **error)
{
  g_return_val_if_fail (heed_attention_takes_rows (&rec->kernels, qkv, M, D, heads) &&
                            queries >= 1 && queries <= M && probs->rows <= queries &&
                            probs->windows >= 1 && frames % probs->windows == 0 &&
                            (!bias || bias_windows >= 1),
                        FALSE);
  guint dh = D / heads, m_pad, n_pad;
  scores_layout (&rec->kernels, M, &m_pad, &n_pad);
  /* dispatches cut at whole pictures, and whole periods of the bias's windows */
  guint period =
      bias ? bias_windows * probs->windows / gcd (bias_windows, probs->windows) : probs->windows;
  guint most = rec->device->props.limits.maxComputeWorkGroupCount[2] / period * period;
  if (most == 0) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "%s: %u windows are more than a dispatch of the device takes", name, period);
    return FALSE;
  }
  /* without a bias, the bias binding is qkv again: bound, never read */
  HeedBuffer *bindings[4] = { qkv, out, bias ? bias : qkv, probs->buf };
  for (guint f = 0; f < frames; f += most) {
    guint n = MIN (most, frames - f), first = row + f * M;
    HeedAttentionRowsParams ap = {
      attention_params (M, D, heads, first, bias ? bias_windows : 0, m_pad, n_pad),
      probs->off + f * heads * probs->rows * M,
      probs->rows,
      probs->windows,
    };
    if (!heed_recorder_dispatch (rec, rec->kernels.attention_rows, 0, bindings, &ap, sizeof ap,
                                 queries, heads, n, name, "attention",
                                 4.0 * queries * M * dh * heads * n, error))
      return FALSE;
  }
  return TRUE;
}

/* S = Q.K^T / sqrt(dh) -> row softmax -> O = P.V, written head-interleaved into out. With
 * keep_probs the scores keep the probabilities for the attention-map outputs; otherwise, where
 * the table has the one-dispatch attention, the scores are never written, or where it has a P.V
 * kernel that applies the softmax as it reads the scores, there is no softmax dispatch and the
 * scores stay raw. When D and dh are multiples of
 * 4 the GEMMs read Q and V straight out of qkv as vec4s and only K is copied (transposed);
 * otherwise a split kernel copies all three into aligned per-head buffers. */
gboolean
heed_op_attention (HeedRecorder *rec, HeedAttentionScratch *s, HeedBuffer *qkv,
                   HeedBuffer *score_bias, HeedBuffer *out, guint row, guint M, guint queries,
                   guint D, guint heads, gboolean keep_probs, const char *name, GError **error)
{
  return heed_op_attention_at (rec, s, qkv, score_bias, 0, out, row, M, queries, D, heads,
                               keep_probs, name, error);
}

gboolean
heed_op_attention_at (HeedRecorder *rec, HeedAttentionScratch *s, HeedBuffer *qkv,
                      HeedBuffer *score_bias, gsize bias_off, HeedBuffer *out, guint row, guint M,
                      guint queries, guint D, guint heads, gboolean keep_probs, const char *name,
                      GError **error)
{
  g_return_val_if_fail (queries >= 1 && queries <= M, FALSE);
  const HeedKernels *k = &rec->kernels;
  guint dh = D / heads;
  float scale = 1.0f / sqrtf ((float) dh);
  gboolean direct = attention_direct (qkv, D, heads);
  /* Where the probabilities are not an output, it all runs in one dispatch (Q, K and V read in
   * place) */
  if (!keep_probs && !score_bias && queries == M && heed_attention_takes_frames (k, qkv, D, heads))
    return heed_op_attention_frames (rec, qkv, out, row, M, 1, D, heads, name, error);
  /* ... and where the table has a GEMM that takes B transposed, Q.K^T reads K in place too */
  gboolean k_in_place = direct && k->gemm_k4_bt.shader != HEED_SHADER_COUNT;
  char *n_copy = g_strdup_printf ("%s.%s", name, direct ? "k_transpose" : "split");
  char *n_qk = g_strdup_printf ("%s.qk", name);
  char *n_soft = g_strdup_printf ("%s.softmax", name);
  char *n_pv = g_strdup_printf ("%s.pv", name);
  HeedMat kt = { s->kt, 0, s->n_pad, dh * s->n_pad };
  HeedMat sc = { s->scores, 0, s->n_pad, s->m_pad * s->n_pad };
  HeedMat o = { out, row * D, D, dh };
  guint qkv_off = row * 3 * D;
  HeedMat q, v;
  gboolean ok = TRUE;
  /* P.V sums over the keys. Rounding that count up to a multiple of 4 lets the GEMM read P as
   * vec4s; the extra keys are zero columns of P (scores are zero-filled and only the M x M block
   * is written) meeting zero rows of V (rows >= M are never written). */
  guint k_pv = heed_round_up (M, 4) <= s->m_pad ? heed_round_up (M, 4) : M;
  /* a bias goes into the scores first, and Q.K^T adds to it */
  guint qk_epilogue = score_bias ? HEED_EPI_ACCUMULATE : 0;
  if (score_bias)
    heed_recorder_copy (rec, score_bias, (VkDeviceSize) bias_off * sizeof (float), s->scores, 0,
                        (VkDeviceSize) heads * s->m_pad * s->n_pad * sizeof (float));

  if (direct) {
    q = (HeedMat){ qkv, qkv_off, 3 * D, dh };
    v = (HeedMat){ qkv, qkv_off + 2 * D, 3 * D, dh };
  } else {
    HeedQkvSplitParams sp = { M, D, dh, s->m_pad, s->n_pad, s->v_ld, qkv_off, scale };
    HeedBuffer *bindings[4] = { qkv, s->q, s->kt, s->v };
    q = (HeedMat){ s->q, 0, dh, s->m_pad * dh };
    v = (HeedMat){ s->v, 0, s->v_ld, s->m_pad * s->v_ld };
    scale = 1.0f; /* the split kernel scales Q */
    ok = heed_recorder_dispatch (rec, elementwise (rec, HEED_SHADER_QKV_SPLIT), 0, bindings, &sp,
                                 sizeof sp, groups_for (rec, (guint64) M * 3 * D), 1, 1, n_copy,
                                 "attention", 0, error);
  }
  if (k_in_place) {
    /* K's rows in the QKV output are the rows of B^T, head h's from column D + h dh */
    HeedMat k_rows = { qkv, qkv_off + D, 3 * D, dh };
    ok = record_gemm (rec, k->gemm_k4_bt, q, k_rows, sc, NULL, queries, M, dh, heads, scale, 0.0f,
                      0, qk_epilogue, TRUE, n_qk, "attention", error);
  } else {
    if (direct) {
      HeedKTransposeParams tp = { M, D, s->n_pad, qkv_off };
      HeedBuffer *bindings[2] = { qkv, s->kt };
      ok = heed_recorder_dispatch (rec, elementwise (rec, HEED_SHADER_K_TRANSPOSE), 0, bindings,
                                   &tp, sizeof tp, groups_for (rec, (guint64) M * D / 4), 1, 1,
                                   n_copy, "attention", 0, error);
    }
    ok = ok && heed_op_gemm (rec, q, kt, sc, NULL, queries, M, dh, heads, scale, qk_epilogue, n_qk,
                             "attention", error);
  }
  if (!keep_probs && k->gemm_k4_softmax.shader != HEED_SHADER_COUNT && a_k4 (sc, k_pv) &&
      b_vec4 (v))
    ok = ok && record_gemm (rec, k->gemm_k4_softmax, sc, v, o, NULL, queries, dh, k_pv, heads, 1.0f,
                            0.0f, M, 0, FALSE, n_pv, "attention", error);
  else
    ok = ok && heed_op_softmax (rec, sc, queries, M, heads, n_soft, error) &&
         heed_op_gemm (rec, sc, v, o, NULL, queries, dh, k_pv, heads, 1.0f, 0, n_pv, "attention",
                       error);
  g_free (n_copy);
  g_free (n_qk);
  g_free (n_soft);
  g_free (n_pv);
  return ok;
}

gboolean
heed_op_preprocess (HeedRecorder *rec, const HeedFrameLayout *l, HeedBuffer *frame,
                    HeedBuffer *params, HeedBuffer *rows, HeedBuffer *out, guint size,
                    GError **error)
{
  return heed_op_preprocess_patches (rec, l, frame, params, rows, out, 0, size, 0, error);
}

/* source rows an invocation of the preprocessing's row pass resamples: shaders/preprocess.comp's
 * ROWS_AT_ONCE (the taps and weights worked out once for them) */
#define PREPROCESS_ROWS_AT_ONCE 4

gboolean
heed_op_preprocess_patches (HeedRecorder *rec, const HeedFrameLayout *l, HeedBuffer *frame,
                            HeedBuffer *params, HeedBuffer *rows, HeedBuffer *out, guint out_off,
                            guint size, guint patch, GError **error)
{
  HeedPreprocessParams p = { 0 };
  g_return_val_if_fail (patch == 0 || size % patch == 0, FALSE);
  HeedResampleAxis ax[2];
  if (l->size > G_MAXUINT32 - 8) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "frame of %" G_GSIZE_FORMAT " bytes is too large", l->size);
    return FALSE;
  }
  for (guint i = 0; i < 3; i++) {
    p.offset[i] = (uint32_t) l->offset[i];
    p.stride[i] = l->stride[i];
  }
  p.format = l->format;
  p.width = l->width;
  p.height = l->height;
  p.size = size;
  p.filter = l->interpolation;
  p.patch_size = patch;
  p.out_off = out_off;
  heed_frame_axes (l, size, ax);
  heed_frame_resample_rows (l, ax, &p.row0, &p.n_rows);
  for (guint i = 0; i < 2; i++) {
    p.resized[i] = ax[i].resized;
    p.first[i] = ax[i].first;
    p.count[i] = ax[i].count;
    p.offset_xy[i] = ax[i].offset;
    p.scale[i] = heed_resample_scale (&ax[i], &p.inv_scale[i]); /* the shader only multiplies */
  }
  HeedBuffer *row_bindings[3] = { frame, params, rows }, *bindings[3] = { rows, params, out };
  /* one pipeline per format and filter (shaders/preprocess.comp's VARIANT) */
  guint variant = 1 + p.format + 16 * p.filter;
  g_assert (p.format < 16 && variant < 256);
  gboolean texels = rec->kernels.preprocess_texels && heed_buffer_texels_cover (frame) &&
                    heed_buffer_texels_cover (rows);
  HeedShaderId row_pass = texels ? HEED_SHADER_RESAMPLE_ROWS_TEXELS : HEED_SHADER_RESAMPLE_ROWS;
  HeedShaderId column_pass = texels ? HEED_SHADER_PREPROCESS_TEXELS : HEED_SHADER_PREPROCESS;
  return heed_recorder_dispatch (rec, elementwise (rec, row_pass), variant, row_bindings, &p,
                                 sizeof p, groups_for (rec, ax[0].count),
                                 (p.n_rows + PREPROCESS_ROWS_AT_ONCE - 1) / PREPROCESS_ROWS_AT_ONCE,
                                 1, "preprocess_rows", "preprocess", 0, error) &&
         heed_recorder_dispatch (rec, elementwise (rec, column_pass), variant, bindings, &p,
                                 sizeof p, groups_for (rec, (guint64) size * size), 1, 1,
                                 "preprocess", "preprocess", 0, error);
}
