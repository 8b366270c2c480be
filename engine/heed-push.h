/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The push-constant blocks of every shader, mirrored field for field. The generated shader
 * registry (tools/gen_shader_registry.py) asserts at compile time that each struct has the size
 * of its shader's block; shaders/registry.txt names the struct of each shader. */
#ifndef HEED_PUSH_H
#define HEED_PUSH_H

#include <stdint.h>

typedef struct {
  uint32_t M, N, K, lda, ldb, ldc, a_off, b_off, c_off, a_batch, b_batch, c_batch;
  float alpha;
  float ln_eps;    /* the LayerNorm-folding variants' epsilon */
  uint32_t a_cols; /* the softmax-folding variants: A's columns that are scores */
} HeedGemmParams;

typedef struct {
  uint32_t M, D, ldx, ldy, x_off, y_off;
  float eps;
  uint32_t rows_per_group, batch_rows, x_batch, y_batch;
} HeedLayerNormParams;

typedef struct {
  uint32_t rows, M, N, ld, batch, rows_per_group;
} HeedSoftmaxParams;

typedef struct {
  uint32_t M, D, ld_kt, qkv_off;
} HeedKTransposeParams;

typedef struct {
  uint32_t format, width, height, offset[3], stride[3], size;
  uint32_t filter, row0, n_rows;
  uint32_t resized[2], first[2], count[2], offset_xy[2]; /* per axis: x, y */
  float scale[2], inv_scale[2]; /* in / resized, 1 / max (scale, 1): IEEE division, here */
  uint32_t patch_size;          /* 0: the output is planes R, G, B; else patch rows of this size */
  uint32_t out_off;             /* floats: where the output starts */
} HeedPreprocessParams;

typedef struct {
  uint32_t channels, height, width, patch_size, grid_w, num_patches;
  uint32_t out_off; /* floats: where the first frame's patches start (a batch's frames share
                     * one buffer, for one patch-embedding GEMM); a multiple of 4 */
  uint32_t in_stride, out_stride; /* floats from a frame's image, and patches, to the next's */
} HeedPatchifyParams;

typedef struct {
  uint32_t tokens, D, frames;
} HeedTokensInitParams;

typedef struct {
  uint32_t iterations;
  float x, y;
} HeedPeakParams;

typedef struct {
  uint32_t M, D, dh, m_pad, ld_kt, ld_v, qkv_off;
  float scale;
} HeedQkvSplitParams;

typedef struct {
  uint32_t rows, N, heads, ld, batch, p_off, out_off, out_ld;
} HeedHeadMeanParams;

typedef struct {
  uint32_t rows, hidden, ld, batch, off, count;
} HeedSwigluParams;

typedef struct {
  uint32_t rows_out, rows_in, width4, group, count;
} HeedGatherRowsParams;

typedef struct {
  uint32_t tokens, prefix, dim, head_pairs, ld, off, count, table_off;
} HeedRopeParams;

typedef struct {
  uint32_t rows, dim, head_dim, ld, off, count;
} HeedQkNormalizeParams;

typedef struct {
  uint32_t M, D, dh, ld, qkv_off, out_off, out_ld;
  float scale;
  uint32_t windows, bias_rows, bias_ld;
} HeedAttentionParams;

/* shaders/attention_rows.comp's: HeedAttentionParams, then where the probabilities go */
typedef struct {
  HeedAttentionParams attention;
  uint32_t probs_off, probs_rows, frame_windows;
} HeedAttentionRowsParams;

typedef struct {
  uint32_t format, width, height, offset[3], stride[3], blocks_x, blocks_y, strip;
} HeedCompositeParams;

typedef struct {
  uint32_t ring_slots;
  float temperature;
  uint32_t dim; /* the CLS variant: floats per ring slot */
} HeedKeyframeParams;

typedef struct {
  uint32_t n_windows;
} HeedLogMelParams;

#endif
