/* The GPU ops: each records one or a few dispatches. Push-constant blocks mirror the shaders'
 * `Params` blocks field for field. */
#include "heed-private.h"

#include <math.h>

typedef struct {
  uint32_t M, N, K, lda, ldb, ldc, a_off, b_off, c_off, a_batch, b_batch, c_batch;
  float alpha;
} GemmParams;
typedef struct {
  uint32_t M, D, ldx, ldy, x_off, y_off;
  float eps;
  uint32_t rows_per_group;
} LayerNormParams;
typedef struct {
  uint32_t rows, M, N, ld, batch, rows_per_group;
} SoftmaxParams;
typedef struct {
  uint32_t M, D, ld_kt;
} KTransposeParams;
typedef struct {
  uint32_t format, width, height, offset[3], stride[3], size;
  float src[4], dst[4];
} PreprocessParams;
_Static_assert(sizeof (PreprocessParams) <= 128, "push constants are limited to 128 bytes");
typedef struct {
  uint32_t channels, height, width, patch_size, grid_w, num_patches;
} PatchifyParams;
typedef struct {
  uint32_t tokens, D;
} TokensInitParams;
typedef struct {
  uint32_t M, D, dh, m_pad, ld_kt, ld_v;
  float scale;
} QkvSplitParams;
typedef struct {
  uint32_t rows, N, heads, ld, batch, p_off, out_off;
} HeadMeanParams;

_Static_assert(sizeof (GemmParams) <= 128, "push constants are limited to 128 bytes");
_Static_assert(sizeof (LayerNormParams) <= 128, "push constants are limited to 128 bytes");
_Static_assert(sizeof (QkvSplitParams) <= 128, "push constants are limited to 128 bytes");

static guint
groups_for (const HeedRecorder *rec, guint64 items)
{
  return (guint) ((items + rec->device->small_lanes - 1) / rec->device->small_lanes);
}

gboolean
heed_op_gemm (HeedRecorder *rec, HeedMat a, HeedMat b, HeedMat c, HeedBuffer *bias, guint M,
              guint N, guint K, guint batches, float alpha, guint epilogue, const char *name,
              const char *kind, GError **error)
{
  const HeedDevice *d = rec->device;
  GemmParams p = {
    M, N, K, a.ld, b.ld, c.ld, a.off, b.off, c.off, a.batch, b.batch, c.batch, alpha
  };
  HeedBuffer *bindings[4] = { a.buf, b.buf, c.buf, bias ? bias : c.buf };
  /* B is read as vec4s: its padding makes that always possible. */
  g_return_val_if_fail (b.off % 4 == 0 && b.ld % 4 == 0 && b.batch % 4 == 0, FALSE);
  gboolean k4 = K % 4 == 0 && a.ld % 4 == 0 && a.off % 4 == 0 && a.batch % 4 == 0;
  if (bias)
    epilogue |= HEED_EPI_BIAS;
  else
    epilogue &= ~(guint) HEED_EPI_BIAS;
  HeedShaderId shader = !k4               ? HEED_SHADER_GEMM
                        : d->gemm_shuffle ? HEED_SHADER_GEMM_K4_SG8
                                          : HEED_SHADER_GEMM_K4;
  return heed_recorder_dispatch (rec, shader, epilogue, bindings, &p, sizeof p,
                                 heed_round_up (N, heed_device_col_align (d)) /
                                     heed_device_col_align (d),
                                 heed_round_up (M, d->gemm_tm) / d->gemm_tm, batches, name, kind,
                                 2.0 * M * N * K * batches, error);
}

/* Row kernels give each row a subgroup, reading vec4s, where the device has subgroup
 * arithmetic and the rows are 16-byte aligned; a workgroup then owns as many rows as it has
 * subgroups by the reported size. Otherwise one invocation per row. */
static guint
rows_per_group (const HeedRecorder *rec)
{
  const HeedDevice *d = rec->device;
  return MAX (d->small_lanes / d->subgroup_size, 1);
}

gboolean
heed_op_layernorm (HeedRecorder *rec, HeedMat x, HeedMat y, HeedBuffer *gamma, HeedBuffer *beta,
                   guint M, guint D, float eps, const char *name, GError **error)
{
  gboolean sg = rec->device->subgroup_rows && D % 4 == 0 && x.ld % 4 == 0 && y.ld % 4 == 0 &&
                x.off % 4 == 0 && y.off % 4 == 0;
  LayerNormParams p = { M,     D,     x.ld, y.ld,
                        x.off, y.off, eps,  sg ? rows_per_group (rec) : rec->device->small_lanes };
  HeedBuffer *bindings[4] = { x.buf, y.buf, gamma, beta };
  return heed_recorder_dispatch (
      rec, sg ? HEED_SHADER_LAYERNORM_SG : HEED_SHADER_LAYERNORM, 0, bindings, &p, sizeof p,
      (M + p.rows_per_group - 1) / p.rows_per_group, 1, 1, name, "layernorm", 8.0 * M * D, error);
}

gboolean
heed_op_softmax (HeedRecorder *rec, HeedMat s, guint M, guint N, guint batches, const char *name,
                 GError **error)
{
  gboolean sg = rec->device->subgroup_rows && s.ld % 4 == 0 && s.batch % 4 == 0;
  SoftmaxParams p = { M * batches, M,       N,
                      s.ld,        s.batch, sg ? rows_per_group (rec) : rec->device->small_lanes };
  HeedBuffer *bindings[1] = { s.buf };
  g_return_val_if_fail (s.off == 0, FALSE);
  return heed_recorder_dispatch (rec, sg ? HEED_SHADER_SOFTMAX_SG : HEED_SHADER_SOFTMAX, 0,
                                 bindings, &p, sizeof p,
                                 (p.rows + p.rows_per_group - 1) / p.rows_per_group, 1, 1, name,
                                 "attention", 4.0 * M * N * batches, error);
}

gboolean
heed_op_patchify (HeedRecorder *rec, HeedBuffer *image, HeedBuffer *patches, guint channels,
                  guint height, guint width, guint patch, GError **error)
{
  guint grid_w = width / patch, grid_h = height / patch;
  PatchifyParams p = { channels, height, width, patch, grid_w, grid_w * grid_h };
  HeedBuffer *bindings[2] = { image, patches };
  return heed_recorder_dispatch (
      rec, HEED_SHADER_PATCHIFY, 0, bindings, &p, sizeof p,
      groups_for (rec, (guint64) p.num_patches * channels * patch * patch), 1, 1, "patchify",
      "patch_embed", 0, error);
}

gboolean
heed_op_tokens_init (HeedRecorder *rec, HeedBuffer *cls, HeedBuffer *pos, HeedBuffer *x,
                     guint tokens, guint D, GError **error)
{
  TokensInitParams p = { tokens, D };
  HeedBuffer *bindings[3] = { cls, pos, x };
  return heed_recorder_dispatch (rec, HEED_SHADER_TOKENS_INIT, 0, bindings, &p, sizeof p,
                                 groups_for (rec, (guint64) tokens * D), 1, 1, "tokens_init",
                                 "patch_embed", (double) tokens * D, error);
}

gboolean
heed_op_head_mean (HeedRecorder *rec, HeedMat prob, HeedBuffer *out, guint out_off, guint rows,
                   guint N, guint heads, const char *name, GError **error)
{
  HeadMeanParams p = { rows, N, heads, prob.ld, prob.batch, prob.off, out_off };
  HeedBuffer *bindings[2] = { prob.buf, out };
  return heed_recorder_dispatch (rec, HEED_SHADER_HEAD_MEAN, 0, bindings, &p, sizeof p,
                                 groups_for (rec, (guint64) rows * N), 1, 1, name, "attention",
                                 (double) rows * N * heads, error);
}

gsize
heed_attention_qkv_floats (const HeedDevice *d, guint M, guint D)
{
  return ((gsize) heed_round_up (M, heed_device_row_align (d)) + 1) * 3 * D +
         heed_device_col_align (d);
}

gboolean
heed_attention_scratch_init (HeedDevice *d, HeedAttentionScratch *s, guint M, guint D, guint heads,
                             GError **error)
{
  guint dh = D / heads;
  s->m_pad = heed_round_up (M, heed_device_row_align (d));
  s->n_pad = heed_round_up (M, heed_device_col_align (d));
  s->v_ld = heed_round_up (dh, heed_device_col_align (d));
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

void
heed_attention_scratch_clear (HeedAttentionScratch *s)
{
  heed_buffer_destroy (&s->q);
  heed_buffer_destroy (&s->kt);
  heed_buffer_destroy (&s->v);
  heed_buffer_destroy (&s->scores);
}

/* S = Q.K^T / sqrt(dh) -> row softmax -> O = P.V, written head-interleaved into out. The
 * scores keep the probabilities for the attention-map outputs. When D and dh are multiples of
 * 4 the GEMMs read Q and V straight out of qkv as vec4s and only K is copied (transposed);
 * otherwise a split kernel copies all three into aligned per-head buffers. */
gboolean
heed_op_attention (HeedRecorder *rec, HeedAttentionScratch *s, HeedBuffer *qkv, HeedBuffer *out,
                   guint M, guint D, guint heads, const char *name, GError **error)
{
  guint dh = D / heads;
  float scale = 1.0f / sqrtf ((float) dh);
  gboolean direct = D % 4 == 0 && dh % 4 == 0;
  char *n_copy = g_strdup_printf ("%s.%s", name, direct ? "k_transpose" : "split");
  char *n_qk = g_strdup_printf ("%s.qk", name);
  char *n_soft = g_strdup_printf ("%s.softmax", name);
  char *n_pv = g_strdup_printf ("%s.pv", name);
  HeedMat kt = { s->kt, 0, s->n_pad, dh * s->n_pad };
  HeedMat sc = { s->scores, 0, s->n_pad, s->m_pad * s->n_pad };
  HeedMat o = { out, 0, D, dh };
  HeedMat q, v;
  gboolean ok;
  /* P.V sums over the keys. Rounding that count up to a multiple of 4 lets the GEMM read P as
   * vec4s; the extra keys are zero columns of P (scores are zero-filled and only the M x M block
   * is written) meeting zero rows of V (rows >= M are never written). */
  guint k_pv = heed_round_up (M, 4) <= s->m_pad ? heed_round_up (M, 4) : M;

  if (direct) {
    KTransposeParams tp = { M, D, s->n_pad };
    HeedBuffer *bindings[2] = { qkv, s->kt };
    q = (HeedMat){ qkv, 0, 3 * D, dh };
    v = (HeedMat){ qkv, 2 * D, 3 * D, dh };
    ok = heed_recorder_dispatch (rec, HEED_SHADER_K_TRANSPOSE, 0, bindings, &tp, sizeof tp,
                                 groups_for (rec, (guint64) M * D), 1, 1, n_copy, "attention", 0,
                                 error);
  } else {
    QkvSplitParams sp = { M, D, dh, s->m_pad, s->n_pad, s->v_ld, scale };
    HeedBuffer *bindings[4] = { qkv, s->q, s->kt, s->v };
    q = (HeedMat){ s->q, 0, dh, s->m_pad * dh };
    v = (HeedMat){ s->v, 0, s->v_ld, s->m_pad * s->v_ld };
    scale = 1.0f; /* the split kernel scales Q */
    ok = heed_recorder_dispatch (rec, HEED_SHADER_QKV_SPLIT, 0, bindings, &sp, sizeof sp,
                                 groups_for (rec, (guint64) M * 3 * D), 1, 1, n_copy, "attention",
                                 0, error);
  }
  ok = ok &&
       heed_op_gemm (rec, q, kt, sc, NULL, M, M, dh, heads, scale, 0, n_qk, "attention", error) &&
       heed_op_softmax (rec, sc, M, M, heads, n_soft, error) &&
       heed_op_gemm (rec, sc, v, o, NULL, M, dh, k_pv, heads, 1.0f, 0, n_pv, "attention", error);
  g_free (n_copy);
  g_free (n_qk);
  g_free (n_soft);
  g_free (n_pv);
  return ok;
}

gboolean
heed_op_preprocess (HeedRecorder *rec, const HeedFrameLayout *l, HeedBuffer *frame,
                    HeedBuffer *params, HeedBuffer *out, guint size, GError **error)
{
  PreprocessParams p = { 0 };
  HeedBuffer *bindings[3] = { frame, params, out };
  if (l->size > G_MAXUINT32 - 8) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "frame of %" G_GSIZE_FORMAT " bytes is "
                 "too large",
                 l->size);
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
  heed_frame_geometry (l, size, p.src, p.dst);
  return heed_recorder_dispatch (rec, HEED_SHADER_PREPROCESS, 0, bindings, &p, sizeof p,
                                 groups_for (rec, (guint64) size * size), 1, 1, "preprocess",
                                 "preprocess", 0, error);
}
