/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Plain C references for every GPU op, and the whole forward pass built from them. Written for
 * clarity, accumulating in double: they are what the shaders are tested against. */
#include "heed-private.h"

#include <math.h>
#include <string.h>

float
heed_ref_gelu (float x)
{
  return (float) (0.5 * x * erfc (-x / sqrt (2.0)));
}

float
heed_ref_gelu_tanh (float x)
{
  return (float) (0.5 * x * (1.0 + tanh (sqrt (2.0 / G_PI) * (x + 0.044715 * (double) x * x * x))));
}

void
heed_ref_gemm (const float *a, guint lda, const float *b, guint ldb, float *c, guint ldc, guint M,
               guint N, guint K, float alpha, const float *bias, guint epilogue)
{
  for (guint m = 0; m < M; m++)
    for (guint n = 0; n < N; n++) {
      double acc = 0;
      for (guint k = 0; k < K; k++)
        acc += (double) a[(gsize) m * lda + k] * b[(gsize) k * ldb + n];
      float v = (float) (acc * alpha) + (bias ? bias[n] : 0.0f);
      if (epilogue & HEED_EPI_GELU)
        v = heed_ref_gelu (v);
      else if (epilogue & HEED_EPI_QUICK_GELU)
        v = v / (1.0f + expf (-1.702f * v));
      else if (epilogue & HEED_EPI_GELU_TANH)
        v = heed_ref_gelu_tanh (v);
      if (epilogue & HEED_EPI_ACCUMULATE)
        v += c[(gsize) m * ldc + n];
      c[(gsize) m * ldc + n] = v;
    }
}

void
heed_ref_layernorm (const float *x, guint ldx, float *y, guint ldy, const float *gamma,
                    const float *beta, guint M, guint D, float eps)
{
  for (guint m = 0; m < M; m++) {
    const float *xr = x + (gsize) m * ldx;
    double mean = 0, var = 0;
    for (guint i = 0; i < D; i++)
      mean += xr[i];
    mean /= D;
    for (guint i = 0; i < D; i++)
      var += (xr[i] - mean) * (xr[i] - mean);
    var /= D;
    double rstd = 1.0 / sqrt (var + eps);
    for (guint i = 0; i < D; i++)
      y[(gsize) m * ldy + i] = (float) ((xr[i] - mean) * rstd * gamma[i] + beta[i]);
  }
}

void
heed_ref_rmsnorm (const float *x, guint ldx, float *y, guint ldy, const float *gamma,
                  const float *beta, guint M, guint D, float eps)
{
  for (guint m = 0; m < M; m++) {
    const float *xr = x + (gsize) m * ldx;
    double sq = 0;
    for (guint i = 0; i < D; i++)
      sq += (double) xr[i] * xr[i];
    double rstd = 1.0 / sqrt (sq / D + eps);
    for (guint i = 0; i < D; i++)
      y[(gsize) m * ldy + i] = (float) (xr[i] * rstd * gamma[i] + (beta ? beta[i] : 0.0));
  }
}

void
heed_ref_softmax (float *s, guint rows, guint N, guint ld)
{
  for (guint r = 0; r < rows; r++) {
    float *row = s + (gsize) r * ld;
    float mx = row[0];
    double sum = 0;
    for (guint j = 1; j < N; j++)
      mx = MAX (mx, row[j]);
    for (guint j = 0; j < N; j++)
      sum += exp ((double) row[j] - mx);
    for (guint j = 0; j < N; j++)
      row[j] = (float) (exp ((double) row[j] - mx) / sum);
  }
}

void
heed_ref_patchify (const float *image, guint channels, guint height, guint width, guint patch,
                   float *patches)
{
  guint gw = width / patch, gh = height / patch, k = channels * patch * patch;
  for (guint py = 0; py < gh; py++)
    for (guint px = 0; px < gw; px++)
      for (guint c = 0; c < channels; c++)
        for (guint ky = 0; ky < patch; ky++)
          for (guint kx = 0; kx < patch; kx++)
            patches[(gsize) (py * gw + px) * k + (c * patch + ky) * patch + kx] =
                image[((gsize) c * height + py * patch + ky) * width + px * patch + kx];
}

void
heed_ref_attention (const float *qkv, const float *bias, float *out, float *probs, guint M, guint D,
                    guint heads)
{
  guint dh = D / heads, w = 3 * D;
  double scale = 1.0 / sqrt ((double) dh);
  float *p = g_new (float, M);
  for (guint h = 0; h < heads; h++)
    for (guint i = 0; i < M; i++) {
      const float *q = qkv + (gsize) i * w + h * dh;
      for (guint j = 0; j < M; j++) {
        const float *k = qkv + (gsize) j * w + D + h * dh;
        double dot = 0;
        for (guint d = 0; d < dh; d++)
          dot += (double) q[d] * k[d];
        p[j] = (float) (dot * scale) + (bias ? bias[((gsize) h * M + i) * M + j] : 0.0f);
      }
      heed_ref_softmax (p, 1, M, M);
      if (probs)
        memcpy (probs + ((gsize) h * M + i) * M, p, M * sizeof (float));
      for (guint d = 0; d < dh; d++) {
        double acc = 0;
        for (guint j = 0; j < M; j++)
          acc += (double) p[j] * qkv[(gsize) j * w + 2 * D + h * dh + d];
        out[(gsize) i * D + h * dh + d] = (float) acc;
      }
    }
  g_free (p);
}

void
heed_ref_head_mean (const float *probs, float *out, guint rows, guint N, guint heads)
{
  for (guint i = 0; i < rows; i++)
    for (guint j = 0; j < N; j++) {
      double sum = 0;
      for (guint h = 0; h < heads; h++)
        sum += probs[((gsize) h * N + i) * N + j];
      out[(gsize) i * N + j] = (float) (sum / heads);
    }
}

/* Transposes a PyTorch Linear weight [out][in_dim] into the [in_dim][out] operand the GEMM takes.
 */
static float *
transposed (const float *w, guint out, guint in_dim)
{
  gsize n = (gsize) in_dim * out;
  float *t = g_new (float, n);
  for (guint o = 0; o < out; o++)
    for (guint i = 0; i < in_dim; i++)
      t[(gsize) i * out + o] = w[(gsize) o * in_dim + i];
  return t;
}

/* y = x W^T + b, x's rows `ld` floats apart */
static void
linear_ld (const float *x, guint ld, guint M, guint in_dim, const float *w, const float *b,
           guint out, float *y, guint epilogue)
{
  float *wt = transposed (w, out, in_dim);
  heed_ref_gemm (x, ld, wt, out, y, out, M, out, in_dim, 1.0f, b, epilogue);
  g_free (wt);
}

static void
linear (const float *x, guint M, guint in_dim, const float *w, const float *b, guint out, float *y,
        guint epilogue)
{
  linear_ld (x, in_dim, M, in_dim, w, b, out, y, epilogue);
}

void
heed_ref_gather_rows (const float *in, const guint *index, float *out, guint rows_out,
                      guint rows_in, guint width, guint group, guint frames)
{
  for (guint f = 0; f < frames; f++)
    for (guint r = 0; r < rows_out; r++)
      for (guint g = 0; g < group; g++) {
        float *to = out + (((gsize) f * rows_out + r) * group + g) * width;
        guint from = index[r * group + g];
        if (from == HEED_SWIN_PAD) /* Swin's padding: a zero row */
          memset (to, 0, width * sizeof (float));
        else
          memcpy (to, in + ((gsize) f * rows_in + from) * width, width * sizeof (float));
      }
}

void
heed_ref_swiglu (float *x, guint rows, guint hidden, guint ld)
{
  for (guint r = 0; r < rows; r++)
    for (guint j = 0; j < hidden; j++) {
      double gate = x[(gsize) r * ld + j], value = x[(gsize) r * ld + hidden + j];
      x[(gsize) r * ld + j] = (float) (gate / (1.0 + exp (-gate)) * value);
    }
}

void
heed_ref_rope (float *qkv, const float *table, guint tokens, guint prefix, guint D, guint heads)
{
  guint pairs = D / heads / 2, patches = tokens - prefix;
  for (guint t = prefix; t < tokens; t++)
    for (guint part = 0; part < 2; part++) /* the query, then the key */
      for (guint j = 0; j < D / 2; j++) {
        float *x = qkv + (gsize) t * 3 * D + part * D + 2 * j;
        /* head j / pairs's table, its row for the patch, its pair */
        const float *cs =
            table + 2 * (((gsize) (j / pairs) * patches + t - prefix) * pairs + j % pairs);
        double a = x[0], b = x[1];
        x[0] = (float) (a * cs[0] - b * cs[1]);
        x[1] = (float) (b * cs[0] + a * cs[1]);
      }
}

void
heed_ref_qk_normalize (float *qkv, const float *scale, guint rows, guint D, guint heads)
{
  guint dh = D / heads;
  for (guint r = 0; r < rows; r++)
    for (guint part = 0; part < 2; part++) /* the query, then the key */
      for (guint h = 0; h < heads; h++) {
        float *x = qkv + (gsize) r * 3 * D + part * D + h * dh;
        double sum = 0;
        for (guint i = 0; i < dh; i++)
          sum += (double) x[i] * x[i];
        double f = (part ? 1.0 : scale[h]) / MAX (sqrt (sum), 1e-12);
        for (guint i = 0; i < dh; i++)
          x[i] = (float) (x[i] * f);
      }
}

/* A norm of the model's kind: LayerNorm, or RMSNorm (rms_norm) */
static void
ref_norm (const HeedModelConfig *c, const float *x, guint ldx, float *y, guint ldy,
          const float *gamma, const float *beta, guint M, guint D, float eps)
{
  (c->rms_norm ? heed_ref_rmsnorm : heed_ref_layernorm) (x, ldx, y, ldy, gamma, beta, M, D, eps);
}

/* The attention each of T tokens receives in each of `heads` heads' probabilities [T][T]: the
 * mean over every query (an average-pooled model's map, [heads][T]) */
static void
attention_received (const float *probs, guint T, guint heads, float *out)
{
  for (guint h = 0; h < heads; h++)
    for (guint j = 0; j < T; j++) {
      double sum = 0;
      for (guint q = 0; q < T; q++)
        sum += probs[((gsize) h * T + q) * T + j];
      out[(gsize) h * T + j] = (float) (sum / T);
    }
}

/* Swin, token by token: each block's rows gathered into window order, its attention a window
 * at a time with the window's bias (the table's, and a shifted window's mask), its output
 * scattered back to the grid; patch merging by the 2 x 2 of grid positions */
static void
ref_swin_forward (const HeedModel *model, const float *input, float *logits, float *embedding,
                  float *cls_attention_heads)
{
  const HeedModelConfig *c = &model->config;
  const HeedSwinStage *first = &c->swin[0];
  guint kp = c->in_chans * c->patch_size * c->patch_size, most = first->grid * first->grid;
  gsize wide = 0; /* the most rows any stage has, padded, times the widest */
  for (guint s = 0; s < c->swin_stages; s++) {
    const HeedSwinStage *st = &c->swin[s];
    wide = MAX (wide, (gsize) st->padded * st->padded * MAX (4 * st->dim, st->mlp_hidden));
  }
  float *patches = g_new (float, (gsize) most *kp), *x = g_new (float, wide);
  float *h = g_new (float, wide), *hw = g_new (float, wide), *qkv = g_new (float, 3 * wide);
  float *att = g_new (float, wide), *mlp = g_new (float, wide), *probs = NULL, *received = NULL;
  heed_ref_patchify (input, c->in_chans, c->img_size, c->img_size, c->patch_size, patches);
  linear (patches, most, kp, model->patch_w, model->patch_b, first->dim, x, 0);
  ref_norm (c, x, first->dim, x, first->dim, model->patch_norm_w, model->patch_norm_b, most,
            first->dim, c->ln_eps);
  for (guint s = 0, l = 0; s < c->swin_stages; s++) {
    const HeedSwinStage *st = &c->swin[s];
    guint D = st->dim, T = st->grid * st->grid, N = st->window * st->window, H = st->heads;
    if (s) { /* the 2 x 2 tokens (row, column) (0, 0), (1, 0), (0, 1), (1, 1) as one */
      guint Dp = c->swin[s - 1].dim, Gp = c->swin[s - 1].grid;
      for (guint r = 0; r < st->grid; r++)
        for (guint col = 0; col < st->grid; col++)
          for (guint q = 0; q < 4; q++)
            memcpy (h + ((gsize) (r * st->grid + col) * 4 + q) * Dp,
                    x + ((gsize) (2 * r + q % 2) * Gp + 2 * col + q / 2) * Dp, Dp * sizeof (float));
      if (c->swin_v2) { /* down to this width, then normed */
        linear (h, T, 4 * Dp, model->merge_w[s], NULL, D, x, 0);
        ref_norm (c, x, D, x, D, model->merge_norm_w[s], model->merge_norm_b[s], T, D, c->ln_eps);
      } else {
        ref_norm (c, h, 4 * Dp, h, 4 * Dp, model->merge_norm_w[s], model->merge_norm_b[s], T,
                  4 * Dp, c->ln_eps);
        linear (h, T, 4 * Dp, model->merge_w[s], NULL, D, x, 0);
      }
    }
    /* the windows over the grid padded to whole windows: Tp places, padding's zero tokens */
    guint Tp = st->padded * st->padded, *order = g_new (guint, Tp), windows = Tp / N;
    float *mask = g_new (float, (gsize) windows *N *N), *bias = g_new (float, (gsize) H *N *N);
    for (guint b = 0; b < st->depth; b++, l++) {
      const HeedBlockWeights *w = &model->blocks[l];
      guint shift = b % 2 ? st->shift : 0;
      gboolean last = s == c->swin_stages - 1 && b == st->depth - 1;
      heed_swin_window_order (st->grid, st->padded, st->window, shift, c->swin_pad_first, order);
      if (shift)
        heed_swin_shift_mask (st->padded, st->window, shift, mask);
      /* Swin V2: no norm before (its norms come after the attention and the MLP), and the
       * queries and keys at the lengths of cosine attention (the scales times sqrt (head_dim),
       * which the attention's 1 / sqrt (head_dim) undoes) */
      if (!c->swin_v2)
        ref_norm (c, x, D, h, D, w->norm1_w, w->norm1_b, T, D, c->ln_eps);
      const float *in = c->swin_v2 ? x : h;
      for (guint i = 0; i < Tp; i++)
        if (order[i] == HEED_SWIN_PAD)
          memset (hw + (gsize) i * D, 0, D * sizeof (float));
        else
          memcpy (hw + (gsize) i * D, in + (gsize) order[i] * D, D * sizeof (float));
      linear (hw, Tp, D, w->qkv_w, w->qkv_b, 3 * D, qkv, 0);
      if (c->swin_v2) {
        float scale[256];
        for (guint i = 0; i < H; i++)
          scale[i] = w->qk_scale[i] * sqrtf ((float) (D / H));
        heed_ref_qk_normalize (qkv, scale, Tp, D, H);
      }
      if (last)
        probs = g_new (float, (gsize) H *N *N), received = g_new (float, (gsize) H *T);
      for (guint win = 0; win < windows; win++) {
        for (gsize k = 0; k < (gsize) H * N * N; k++)
          bias[k] = w->attn_bias[k] + (shift ? mask[(gsize) win * N * N + k % ((gsize) N * N)] : 0);
        heed_ref_attention (qkv + (gsize) win * N * 3 * D, bias, att + (gsize) win * N * D, probs,
                            N, D, H);
        /* the map: the attention each of the window's tokens receives, over every query of the
         * padded grid (those of other windows give it none), at the token's grid position */
        for (guint hh = 0; last && hh < H; hh++)
          for (guint j = 0; j < N; j++) {
            double sum = 0;
            for (guint q = 0; q < N; q++)
              sum += probs[((gsize) hh * N + q) * N + j];
            if (order[win * N + j] != HEED_SWIN_PAD)
              received[(gsize) hh * T + order[win * N + j]] = (float) (sum / Tp);
          }
      }
      linear (att, Tp, D, w->proj_w, w->proj_b, D, hw, 0);
      if (c->swin_v2) /* x + norm1 (the attention's output) */
        ref_norm (c, hw, D, hw, D, w->norm1_w, w->norm1_b, Tp, D, c->ln_eps);
      for (guint i = 0; i < Tp; i++) /* padding's outputs go nowhere */
        for (guint d = 0; d < D && order[i] != HEED_SWIN_PAD; d++)
          x[(gsize) order[i] * D + d] += hw[(gsize) i * D + d];
      if (c->swin_v2) { /* x + norm2 (mlp (x)) */
        linear (x, T, D, w->fc1_w, w->fc1_b, st->mlp_hidden, mlp, heed_mlp_activation (c));
        linear (mlp, T, st->mlp_hidden, w->fc2_w, w->fc2_b, D, h, 0);
        ref_norm (c, h, D, h, D, w->norm2_w, w->norm2_b, T, D, c->ln_eps);
        for (gsize i = 0; i < (gsize) T * D; i++)
          x[i] += h[i];
        continue;
      }
      ref_norm (c, x, D, h, D, w->norm2_w, w->norm2_b, T, D, c->ln_eps);
      linear (h, T, D, w->fc1_w, w->fc1_b, st->mlp_hidden, mlp, heed_mlp_activation (c));
      linear (mlp, T, st->mlp_hidden, w->fc2_w, w->fc2_b, D, x, HEED_EPI_ACCUMULATE);
    }
    g_free (order), g_free (mask), g_free (bias);
  }
  guint T = c->tokens, D = c->dim, H = c->num_heads; /* the last stage's */
  if (cls_attention_heads) /* the attention each token receives, over every query */
    memcpy (cls_attention_heads, received, (gsize) H * T * sizeof (float));
  ref_norm (c, x, D, x, D, model->norm_w, model->norm_b, T, D, c->ln_eps);
  for (guint d = 0; d < D; d++) {
    double sum = 0;
    for (guint t = 0; t < T; t++)
      sum += x[(gsize) t * D + d];
    h[d] = (float) (sum / T);
  }
  if (embedding)
    memcpy (embedding, h, D * sizeof (float));
  if (logits && model->head_w)
    linear (h, 1, D, model->head_w, model->head_b, c->num_classes, logits, 0);
  g_free (patches), g_free (x), g_free (h), g_free (hw), g_free (qkv), g_free (att);
  g_free (mlp), g_free (probs), g_free (received);
}

void
heed_ref_vit_forward (const HeedModel *model, const float *input, float *logits, float *embedding,
                      float *cls_attention_heads, float *layer_attention)
{
  const HeedModelConfig *c = &model->config;
  if (c->swin_stages) {
    ref_swin_forward (model, input, logits, embedding, cls_attention_heads);
    return;
  }
  guint T = c->tokens, D = c->dim, Np = c->num_patches, H = c->num_heads;
  guint kp = c->in_chans * c->patch_size * c->patch_size;
  float *patches = g_new (float, (gsize) Np *kp);
  float *x = g_new (float, (gsize) T *D);
  float *h = g_new (float, (gsize) T *D);
  float *qkv = g_new (float, (gsize) T * 3 * D);
  float *att = g_new (float, (gsize) T *D);
  guint W1 = heed_fc1_width (c);
  float *mlp = g_new (float, (gsize) T *W1);
  guint map_heads = heed_attention_map_heads (c);
  float *probs = g_new (float, (gsize) MAX (H, map_heads) * T * T);
  float *rope = c->rope ? heed_rope_table (c, model->rope_freqs) : NULL;

  heed_ref_patchify (input, c->in_chans, c->img_size, c->img_size, c->patch_size, patches);
  guint P = c->num_prefix;
  linear (patches, Np, kp, model->patch_w, model->patch_b, D, x + (gsize) P * D, 0);
  if (model->patch_norm_w) /* AIMv2: the patch embedding normed before the positions */
    ref_norm (c, x + (gsize) P * D, D, x + (gsize) P * D, D, model->patch_norm_w,
              model->patch_norm_b, Np, D, c->ln_eps);
  for (guint i = 0; i < P * D; i++) /* the class token, then dist or register tokens */
    x[i] = model->pos_embed[i] + model->cls_token[i];
  for (guint i = P * D; i < T * D; i++) /* the patches' positions */
    x[i] += model->pos_embed[i];
  if (model->norm_pre_w) /* CLIP towers: a LayerNorm before the blocks */
    ref_norm (c, x, D, x, D, model->norm_pre_w, model->norm_pre_b, T, D, c->ln_eps);

  for (guint l = 0; l < c->depth; l++) {
    const HeedBlockWeights *b = &model->blocks[l];
    ref_norm (c, x, D, h, D, b->norm1_w, b->norm1_b, T, D, c->ln_eps);
    linear (h, T, D, b->qkv_w, b->qkv_b, 3 * D, qkv, 0);
    if (rope) /* RoPE-Mixed's: a table a block */
      heed_ref_rope (qkv, rope + 2 * heed_rope_block_offset (c, l), T, P, D, H);
    heed_ref_attention (qkv, b->attn_bias, att, probs, T, D, H);
    if (layer_attention)
      heed_ref_head_mean (probs, layer_attention + (gsize) l * T * T, T, T, H);
    if (c->attn_norm) /* EVA-02 CLIP's LayerNorm over the attention's output, in place */
      ref_norm (c, att, D, att, D, b->attn_norm_w, b->attn_norm_b, T, D, c->ln_eps);
    linear (att, T, D, b->proj_w, b->proj_b, D, x, HEED_EPI_ACCUMULATE);
    ref_norm (c, x, D, h, D, b->norm2_w, b->norm2_b, T, D, c->ln_eps);
    linear (h, T, D, b->fc1_w, b->fc1_b, W1, mlp, heed_mlp_activation (c));
    if (c->swiglu) /* silu (gate) * value, packed into each row's first mlp_hidden */
      heed_ref_swiglu (mlp, T, c->mlp_hidden, W1);
    if (c->mlp_norm) /* EVA-02's LayerNorm over the hidden layer, in place */
      ref_norm (c, mlp, W1, mlp, W1, b->mlp_norm_w, b->mlp_norm_b, T, c->mlp_hidden, c->ln_eps);
    linear_ld (mlp, W1, T, c->mlp_hidden, b->fc2_w, b->fc2_b, D, x, HEED_EPI_ACCUMULATE);
  }
  if (c->map_pool) { /* attention pooling: one more block for query row 0, no residual */
    const HeedBlockWeights *b = model->map_head;
    float *y = g_new (float, D), *z = g_new (float, D);
    ref_norm (c, x, D, h, D, b->norm1_w, b->norm1_b, T, D, c->ln_eps);
    linear (h, T, D, b->qkv_w, b->qkv_b, 3 * D, qkv, 0);
    heed_ref_attention (qkv, NULL, att, probs, T, D, map_heads); /* row 0's are the pool's */
    linear (att, 1, D, b->proj_w, b->proj_b, D, y, 0);
    ref_norm (c, y, D, z, D, b->norm2_w, b->norm2_b, 1, D, c->ln_eps);
    linear (z, 1, D, b->fc1_w, b->fc1_b, c->mlp_hidden, mlp, heed_mlp_activation (c));
    linear (mlp, 1, c->mlp_hidden, b->fc2_w, b->fc2_b, D, y, HEED_EPI_ACCUMULATE);
    memcpy (x, y, D * sizeof (float)); /* the pooled token, in the class row's place */
    g_free (y), g_free (z);
  }
  if (cls_attention_heads && !c->avg_pool)
    for (guint hh = 0; hh < map_heads; hh++)
      memcpy (cls_attention_heads + (gsize) hh * T, probs + (gsize) hh * T * T, T * sizeof (float));
  if (cls_attention_heads && c->avg_pool) /* every query row's, averaged */
    attention_received (probs, T, H, cls_attention_heads);
  if (c->pool_after_norm) /* every token through the final norm first, fc_norm none */
    ref_norm (c, x, D, x, D, model->norm_w, model->norm_b, T, D, c->ln_eps);
  if (c->avg_pool) { /* the mean patch token replaces the class row, for fc_norm below */
    for (guint d = 0; d < D; d++) {
      double sum = 0;
      for (guint t = P; t < T; t++)
        sum += x[(gsize) t * D + d];
      x[d] = (float) (sum / Np);
    }
  }

  /* the class row, and DeiT's distillation row after it */
  if (c->pool_after_norm || c->map_pool || c->pool_without_norm) /* no norm after the pooling */
    memcpy (h, x, D * sizeof (float));
  else
    ref_norm (c, x, D, h, D, model->norm_w, model->norm_b, c->distilled ? 2 : 1, D, c->ln_eps);
  if (embedding)
    memcpy (embedding, h, D * sizeof (float));
  if (logits && model->head_w)
    linear (h, 1, D, model->head_w, model->head_b, c->num_classes, logits, 0);
  if (logits && model->head_mean_w) { /* and the mean of the normed patch tokens' */
    float *normed = g_new (float, (gsize) Np *D), *mean = g_new0 (float, D);
    ref_norm (c, x + (gsize) P * D, D, normed, D, model->norm_w, model->norm_b, Np, D, c->ln_eps);
    for (guint d = 0; d < D; d++) {
      double sum = 0;
      for (guint t = 0; t < Np; t++)
        sum += normed[(gsize) t * D + d];
      mean[d] = (float) (sum / Np);
    }
    linear (mean, 1, D, model->head_mean_w, NULL, c->num_classes, logits, HEED_EPI_ACCUMULATE);
    g_free (normed), g_free (mean);
  }
  if (logits && model->head_dist_w) { /* DeiT's prediction: the mean of both heads */
    float *dist = g_new (float, c->num_classes);
    linear (h + D, 1, D, model->head_dist_w, model->head_dist_b, c->num_classes, dist, 0);
    for (guint k = 0; k < c->num_classes; k++)
      logits[k] = (logits[k] + dist[k]) / 2;
    g_free (dist);
  }

  g_free (patches);
  g_free (x);
  g_free (h);
  g_free (qkv);
  g_free (att);
  g_free (mlp);
  g_free (probs);
  g_free (rope);
}

/* ---- preprocessing: the arithmetic of shaders/preprocess.comp ---- */

/* Pillow rounds each pass of an 8-bit image to the nearest code. */
static float
pil_code (float v)
{
  return CLAMP (floorf (v + 0.5f), 0.0f, 255.0f);
}

static guint
frame_byte (const guint8 *f, gsize off)
{
  return f[off];
}

/* The Y, U and V codes of pixel (x, y) of a YUV frame. */
static void
ref_yuv_codes (const HeedFrameLayout *l, const guint8 *f, guint x, guint y, float yuv[3])
{
  if (l->format == HEED_PIXEL_YUY2) {
    const guint8 *b = f + l->offset[0] + (gsize) y * l->stride[0] + (gsize) (x / 2) * 4;
    yuv[0] = b[(x & 1) ? 2 : 0], yuv[1] = b[1], yuv[2] = b[3];
    return;
  }
  guint cx = x / 2, cy = y / 2;
  yuv[0] = frame_byte (f, l->offset[0] + (gsize) y * l->stride[0] + x);
  if (l->format == HEED_PIXEL_NV12) {
    gsize o = l->offset[1] + (gsize) cy * l->stride[1] + (gsize) cx * 2;
    yuv[1] = f[o], yuv[2] = f[o + 1];
  } else {
    yuv[1] = frame_byte (f, l->offset[1] + (gsize) cy * l->stride[1] + cx);
    yuv[2] = frame_byte (f, l->offset[2] + (gsize) cy * l->stride[2] + cx);
  }
}

static gboolean
is_yuv (HeedPixelFormat f)
{
  return f == HEED_PIXEL_I420 || f == HEED_PIXEL_NV12 || f == HEED_PIXEL_YUY2;
}

/* RGB (0..255, unclamped) of Y, U, V codes, with heed_frame_params' matrix */
static void
ref_yuv_to_rgb (const float *params, const float yuv[3], float rgb[3])
{
  float d[3] = { yuv[0] - params[15], yuv[1] - params[16], yuv[2] - params[17] };
  for (guint i = 0; i < 3; i++)
    rgb[i] =
        (params[6 + 3 * i] * d[0] + params[7 + 3 * i] * d[1] + params[8 + 3 * i] * d[2]) * 255.0f;
}

/* 8-bit RGB codes of source pixel (x, y); YUV converted and rounded */
static void
ref_fetch (const HeedFrameLayout *l, const guint8 *f, const float *params, guint x, guint y,
           float rgb[3])
{
  HeedPixelFormat fmt = l->format;
  if (fmt <= HEED_PIXEL_XBGR) {
    const guint8 *b = f + l->offset[0] + (gsize) y * l->stride[0] + (gsize) x * 4;
    static const int order[][3] = { { 0, 1, 2 }, { 2, 1, 0 }, { 0, 1, 2 },
                                    { 2, 1, 0 }, { 1, 2, 3 }, { 3, 2, 1 } };
    for (guint i = 0; i < 3; i++)
      rgb[i] = b[order[fmt][i]];
    return;
  }
  if (fmt == HEED_PIXEL_RGB || fmt == HEED_PIXEL_BGR) {
    const guint8 *b = f + l->offset[0] + (gsize) y * l->stride[0] + (gsize) x * 3;
    for (guint i = 0; i < 3; i++)
      rgb[i] = b[fmt == HEED_PIXEL_RGB ? i : 2 - i];
    return;
  }
  if (fmt == HEED_PIXEL_GRAY8) {
    rgb[0] = rgb[1] = rgb[2] = frame_byte (f, l->offset[0] + (gsize) y * l->stride[0] + x);
    return;
  }
  float yuv[3];
  ref_yuv_codes (l, f, x, y, yuv);
  ref_yuv_to_rgb (params, yuv, rgb);
  for (guint i = 0; i < 3; i++) {
    rgb[i] = CLAMP (rgb[i], 0.0f, 255.0f);
    if (l->interpolation != HEED_INTERPOLATION_HEED_BOX8) /* Pillow sees decoded 8-bit RGB */
      rgb[i] = pil_code (rgb[i]);
  }
}

/* One pass of Pillow's resampling: the weighted sum of n values along an axis, rounded. */
static void
ref_resample (const HeedSpan *s, HeedInterpolation filter, const float *values, gsize stride,
              float out[3])
{
  float sum[3] = { 0, 0, 0 }, total = 0.0f;
  for (gint k = 0; k < s->n; k++) {
    float w =
        heed_resample_filter (filter, ((float) (s->first + k) - s->center + 0.5f) * s->inv_scale);
    total += w;
    for (guint c = 0; c < 3; c++)
      sum[c] += w * values[k * stride + c];
  }
  for (guint c = 0; c < 3; c++)
    out[c] = pil_code (total != 0.0f ? sum[c] / total : sum[c]);
}

/* heed-box8's pass: a weighted sum of n RGB values, not rounded. */
static void
ref_weighted (const float *values, const float *wt, guint n, float out[3])
{
  float sum[3] = { 0, 0, 0 };
  for (guint k = 0; k < n; k++)
    for (guint c = 0; c < 3; c++)
      sum[c] += wt[k] * values[3 * k + c];
  for (guint c = 0; c < 3; c++)
    out[c] = sum[c];
}

void
heed_ref_preprocess (const HeedFrameLayout *l, const guint8 *frame, const float mean[3],
                     const float std[3], guint size, float *out)
{
  float params[18];
  HeedResampleAxis ax[2];
  guint row0, n_rows;
  gsize plane = (gsize) size * size;
  heed_frame_params (l, mean, std, params);
  heed_frame_axes (l, size, ax);
  heed_frame_resample_rows (l, ax, &row0, &n_rows);

  /* rows: [n_rows][count_x] RGB codes */
  float *rows = g_new (float, (gsize) n_rows *ax[0].count * 3);
  /* a span holds at most the frame's width of pixels, heed-box8's at most 8 (a frame may be
   * narrower) */
  float *px = g_new (float, (gsize) 3 * MAX (l->width, 8));
  for (guint r = 0; r < n_rows; r++)
    for (guint col = 0; col < ax[0].count; col++) {
      float *dst = rows + ((gsize) r * ax[0].count + col) * 3;
      if (l->interpolation == HEED_INTERPOLATION_HEED_BOX8) {
        guint idx[8];
        float wt[8];
        guint n = heed_resample_box8_taps (&ax[0], ax[0].first + col, idx, wt);
        for (guint k = 0; k < n; k++)
          ref_fetch (l, frame, params, idx[k], row0 + r, px + 3 * k);
        ref_weighted (px, wt, n, dst);
        continue;
      }
      HeedSpan s;
      heed_resample_span (&ax[0], l->interpolation, ax[0].first + col, &s);
      for (gint k = 0; k < s.n; k++)
        ref_fetch (l, frame, params, s.first + k, row0 + r, px + 3 * k);
      ref_resample (&s, l->interpolation, px, 3, dst);
    }
  /* columns, into the input; outside the kept window (letterbox bars) black */
  float *column = g_new (float, (gsize) 3 * MAX (l->height, 8));
  for (guint oy = 0; oy < size; oy++)
    for (guint ox = 0; ox < size; ox++) {
      float rgb[3] = { 0, 0, 0 };
      if (ox >= ax[0].offset && ox < ax[0].offset + ax[0].count && oy >= ax[1].offset &&
          oy < ax[1].offset + ax[1].count) {
        HeedSpan s;
        guint col = ox - ax[0].offset;
        if (l->interpolation == HEED_INTERPOLATION_HEED_BOX8) {
          guint idx[8];
          float wt[8];
          guint n = heed_resample_box8_taps (&ax[1], ax[1].first + oy - ax[1].offset, idx, wt);
          for (guint k = 0; k < n; k++) {
            gint r = CLAMP ((gint) idx[k] - (gint) row0, 0, (gint) n_rows - 1);
            memcpy (column + 3 * k, rows + ((gsize) r * ax[0].count + col) * 3, 3 * sizeof (float));
          }
          ref_weighted (column, wt, n, rgb);
        } else {
          heed_resample_span (&ax[1], l->interpolation, ax[1].first + oy - ax[1].offset, &s);
          for (gint k = 0; k < s.n; k++) {
            gint r = CLAMP (s.first + k - (gint) row0, 0, (gint) n_rows - 1);
            memcpy (column + 3 * k, rows + ((gsize) r * ax[0].count + col) * 3, 3 * sizeof (float));
          }
          ref_resample (&s, l->interpolation, column, 3, rgb);
        }
      }
      gsize o = (gsize) oy * size + ox;
      for (guint c = 0; c < 3; c++)
        out[c * plane + o] = rgb[c] / 255.0f * params[c] + params[3 + c];
    }
  g_free (rows);
  g_free (px);
  g_free (column);
}

void
heed_ref_thumbnail (const HeedFrameLayout *layout, const guint8 *frame, guint size, float *out)
{
  static const float zero[3] = { 0, 0, 0 }, one[3] = { 1, 1, 1 };
  HeedFrameLayout l = *layout;
  l.interpolation = HEED_INTERPOLATION_HEED_BOX8; /* colours unrounded */
  float params[18];
  heed_frame_params (&l, zero, one, params);
  gsize plane = (gsize) size * size;
  for (guint oy = 0; oy < size; oy++)
    for (guint ox = 0; ox < size; ox++) {
      guint xs[HEED_THUMBNAIL_TAPS], ys[HEED_THUMBNAIL_TAPS];
      guint nx = heed_thumbnail_taps (l.width, size, ox, xs);
      guint ny = heed_thumbnail_taps (l.height, size, oy, ys);
      double sum[3] = { 0, 0, 0 };
      float v[3];
      for (guint j = 0; j < ny; j++)
        for (guint i = 0; i < nx; i++) {
          /* YUV: the samples' codes are averaged, then converted */
          if (is_yuv (l.format))
            ref_yuv_codes (&l, frame, xs[i], ys[j], v);
          else
            ref_fetch (&l, frame, params, xs[i], ys[j], v);
          for (guint c = 0; c < 3; c++)
            sum[c] += v[c];
        }
      for (guint c = 0; c < 3; c++)
        v[c] = (float) (sum[c] / (nx * ny));
      if (is_yuv (l.format)) {
        float yuv[3] = { v[0], v[1], v[2] };
        ref_yuv_to_rgb (params, yuv, v);
        for (guint c = 0; c < 3; c++)
          v[c] = CLAMP (v[c], 0.0f, 255.0f);
      }
      for (guint c = 0; c < 3; c++)
        out[c * plane + (gsize) oy * size + ox] = v[c] / 255.0f;
    }
}

/* ---- keyframes: shaders/keyframe.comp ---- */

static float
ref_structure (float between, float inside)
{
  return between > 1e-10f ? sqrtf (MAX (0.0f, between - inside) / between) : 0.0f;
}

/* centres n floats, scales them to `length` and sets x[n] so that the head has length 1 */
static void
ref_normalise (float *x, guint n, float length)
{
  float mean = 0, norm = 0, kept = 0;
  for (guint i = 0; i < n; i++)
    mean += x[i];
  mean /= n;
  for (guint i = 0; i < n; i++)
    x[i] -= mean, norm += x[i] * x[i];
  for (guint i = 0; i < n; i++)
    x[i] *= length / (sqrtf (norm) + 1e-3f), kept += x[i] * x[i];
  x[n] = sqrtf (MAX (0.0f, 1.0f - kept));
}

void
heed_ref_keyframe_features (const float *thumb, float *f)
{
  const guint S = 64, P = S * S, ONE = 1024;
  guint hist[64] = { 0 };
  float within_y[64], within_e[64];
  const guint *off = heed_keyframe_head_offset;
#define LUMA(x, y)                                                                                 \
  (0.299f * thumb[(y) *S + (x)] + 0.587f * thumb[P + (y) *S + (x)] +                               \
   0.114f * thumb[2 * P + (y) *S + (x)])
  for (guint c = 0; c < 64; c++) {
    guint cx = c % 8, cy = c / 8;
    float sy = 0, syy = 0, scb = 0, scr = 0, se = 0, see = 0;
    for (guint j = 0; j < 8; j++)
      for (guint i = 0; i < 8; i++) {
        guint x = cx * 8 + i, y = cy * 8 + j, o = y * S + x;
        float r = thumb[o], g = thumb[P + o], b = thumb[2 * P + o];
        float Y = 0.299f * r + 0.587f * g + 0.114f * b;
        float cb = -0.168736f * r - 0.331264f * g + 0.5f * b;
        float cr = 0.5f * r - 0.418688f * g - 0.081312f * b;
        sy += Y, syy += Y * Y, scb += cb, scr += cr;
        guint xn = x + 1 < S ? x + 1 : x - 1, yn = y + 1 < S ? y + 1 : y - 1;
        float e = fabsf (LUMA (xn, y) - Y) + fabsf (LUMA (x, yn) - Y);
        se += e, see += e * e;
        float u = CLAMP ((cb + 0.5f) * 8.0f - 0.5f, 0.0f, 7.0f);
        float v = CLAMP ((cr + 0.5f) * 8.0f - 0.5f, 0.0f, 7.0f);
        guint u0 = MIN ((guint) u, 6), v0 = MIN ((guint) v, 6), bin = u0 * 8 + v0;
        float fu = u - u0, fv = v - v0;
        hist[bin] += (guint) floorf ((1 - fu) * (1 - fv) * ONE + 0.5f);
        hist[bin + 1] += (guint) floorf ((1 - fu) * fv * ONE + 0.5f);
        hist[bin + 8] += (guint) floorf (fu * (1 - fv) * ONE + 0.5f);
        hist[bin + 9] += (guint) floorf (fu * fv * ONE + 0.5f);
      }
    f[c] = sy / 64, f[64 + c] = 4 * scb / 64, f[128 + c] = 4 * scr / 64;
    f[off[2] + c] = se / 64;
    within_y[c] = MAX (0.0f, syy / 64 - (sy / 64) * (sy / 64));
    within_e[c] = MAX (0.0f, see / 64 - (se / 64) * (se / 64));
  }
#undef LUMA
  float m = 0, v = 0, me = 0, ve = 0, wy = 0, we = 0;
  for (guint i = 0; i < 64; i++)
    m += f[i], me += f[off[2] + i], wy += within_y[i], we += within_e[i];
  m /= 64, me /= 64;
  for (guint i = 0; i < 64; i++)
    v += (f[i] - m) * (f[i] - m), ve += (f[off[2] + i] - me) * (f[off[2] + i] - me);
  v /= 64, ve /= 64;
  float sd = sqrtf (v) + 0.02f;
  for (guint i = 0; i < 64; i++) {
    f[i] = (f[i] - m) / sd;
    f[off[1] + i] = (float) hist[i] / (P * ONE);
  }
  ref_normalise (f + off[0], off[1] - off[0] - 1, ref_structure (v, wy / 64 / 64));
  ref_normalise (f + off[1], off[2] - off[1] - 1, 1.0f);
  ref_normalise (f + off[2], off[3] - off[2] - 1, ref_structure (ve, we / 64 / 64));
}

/* 1 - cos (q, the softmax attention's reconstruction of q from the window), over len floats
 * from off of each vector */
static float
ref_attend (const float *q, const float *const *window, guint n_window, guint off, guint len,
            float temperature)
{
  double s[64], top = -1e30, total = 0, qr = 0, rr = 0, qq = 0;
  const float *qv = q + off;
  for (guint k = 0; k < n_window; k++) {
    double d = 0;
    for (guint e = 0; e < len; e++)
      d += qv[e] * window[k][off + e];
    s[k] = d / temperature;
    top = MAX (top, s[k]);
  }
  for (guint k = 0; k < n_window; k++)
    total += s[k] = exp (s[k] - top);
  for (guint e = 0; e < len; e++) {
    double r = 0;
    for (guint k = 0; k < n_window; k++)
      r += s[k] * window[k][off + e];
    r /= total;
    qr += qv[e] * r, rr += r * r, qq += qv[e] * qv[e];
  }
  return n_window ? (float) (1.0 - qr / (sqrt (qq) * sqrt (rr) + 1e-6)) : 0.0f;
}

void
heed_ref_keyframe_attention (const float *const *queries, guint n_queries,
                             const float *const *window, guint n_window, float temperature,
                             float *errors)
{
  for (guint q = 0; q < n_queries; q++)
    for (guint h = 0; h < 3; h++)
      errors[q * 3 + h] =
          ref_attend (queries[q], window, n_window, heed_keyframe_head_offset[h],
                      heed_keyframe_head_offset[h + 1] - heed_keyframe_head_offset[h], temperature);
}

void
heed_ref_cls_attention (const float *const *queries, guint n_queries, const float *const *window,
                        guint n_window, guint dim, float temperature, float *errors)
{
  for (guint q = 0; q < n_queries; q++)
    errors[q] = ref_attend (queries[q], window, n_window, 0, dim, temperature);
}

/* ---- sound: shaders/logmel.comp ---- */

void
heed_ref_logmel (const float *window, float *logmel)
{
  static float mel[HEED_AUDIO_MELS * HEED_AUDIO_BINS];
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    heed_audio_mel_matrix (mel);
    g_once_init_leave (&once, 1);
  }
  double mag[HEED_AUDIO_BINS];
  for (guint k = 0; k < HEED_AUDIO_BINS; k++) {
    double re = 0, im = 0;
    for (guint n = 0; n < HEED_AUDIO_WINDOW; n++) {
      double x = window[n] * (0.5 - 0.5 * cos (2 * G_PI * n / HEED_AUDIO_WINDOW));
      re += x * cos (2 * G_PI * k * n / HEED_AUDIO_FFT);
      im -= x * sin (2 * G_PI * k * n / HEED_AUDIO_FFT);
    }
    mag[k] = sqrt (re * re + im * im);
  }
  for (guint m = 0; m < HEED_AUDIO_MELS; m++) {
    double sum = 0;
    for (guint k = 0; k < HEED_AUDIO_BINS; k++)
      sum += mag[k] * mel[m * HEED_AUDIO_BINS + k];
    logmel[m] = (float) log (sum + 0.01);
  }
}

/* ---- compositing: shaders/composite.comp, pixel by pixel ---- */

static float
param_f (const HeedCompositeInputs *in, guint i)
{
  float f;
  memcpy (&f, &in->params[i], 4);
  return f;
}

static guint8
to_code (float v)
{
  return (guint8) CLAMP (floorf (v + 0.5f), 0.0f, 255.0f);
}

static float
mixf (float a, float b, float t)
{
  return a * (1.0f - t) + b * t;
}

/* premultiplied colour (0..255) and coverage of the layers at (x, y) */
static void
ref_layers_at (const HeedCompositeInputs *in, guint x, guint y, float out[4])
{
  float c[3] = { 0, 0, 0 }, a = 0.0f;
  if (in->params[HEED_COMPOSITE_P_HEAT_ON]) {
    float fx = x + 0.5f, fy = y + 0.5f;
    float rx = param_f (in, 16), ry = param_f (in, 17), rw = param_f (in, 18),
          rh = param_f (in, 19);
    if (fx >= rx && fx < rx + rw && fy >= ry && fy < ry + rh) {
      guint gw = in->params[HEED_COMPOSITE_P_GRID_W], gh = in->params[HEED_COMPOSITE_P_GRID_H];
      float u = CLAMP ((fx - rx) / rw * gw - 0.5f, 0.0f, (float) (gw - 1));
      float v = CLAMP ((fy - ry) / rh * gh - 0.5f, 0.0f, (float) (gh - 1));
      guint x0 = (guint) u, y0 = (guint) v, x1 = MIN (x0 + 1, gw - 1), y1 = MIN (y0 + 1, gh - 1);
      float tx = u - x0, ty = v - y0;
      const float *h = in->heat; /* per cell (value, alpha), then its right neighbour's */
      float va[2];
      for (guint k = 0; k < 2; k++) {
        float top = mixf (h[4 * (y0 * gw + x0) + k], h[4 * (y0 * gw + x1) + k], tx);
        float bottom = mixf (h[4 * (y1 * gw + x0) + k], h[4 * (y1 * gw + x1) + k], tx);
        va[k] = mixf (top, bottom, ty);
      }
      float value = va[0], alpha = va[1];
      guint32 e = in->lut[to_code (CLAMP (value, 0.0f, 1.0f) * 255.0f)];
      a = alpha * param_f (in, HEED_COMPOSITE_P_OPACITY);
      for (guint ch = 0; ch < 3; ch++)
        c[ch] = (float) ((e >> (8 * ch)) & 0xff) * a;
    }
  }
  for (guint s = 0; s < in->params[HEED_COMPOSITE_P_N_IMAGES]; s++) {
    const guint32 *e = &in->params[HEED_COMPOSITE_P_IMAGES + 8 * s];
    gint dx = (gint) x - (gint) e[0], dy = (gint) y - (gint) e[1];
    if (dx < 0 || dy < 0 || dx >= (gint) e[2] || dy >= (gint) e[3])
      continue;
    guint32 w = in->pixels[e[4] + (guint) (dy * (gint) e[2] + dx)];
    float sa = (float) (w >> 24) / 255.0f;
    float sc[3] = { (float) ((w >> 16) & 0xff), (float) ((w >> 8) & 0xff), (float) (w & 0xff) };
    for (guint ch = 0; ch < 3; ch++)
      c[ch] = sc[ch] + (1.0f - sa) * c[ch];
    a = sa + (1.0f - sa) * a;
  }
  out[0] = c[0], out[1] = c[1], out[2] = c[2], out[3] = a;
}

static void
ref_yuv_of (const HeedCompositeInputs *in, const float l[4], float yuv[3])
{
  for (guint r = 0; r < 3; r++)
    yuv[r] = param_f (in, HEED_COMPOSITE_P_YUV + 3 * r) * l[0] +
             param_f (in, HEED_COMPOSITE_P_YUV + 3 * r + 1) * l[1] +
             param_f (in, HEED_COMPOSITE_P_YUV + 3 * r + 2) * l[2] +
             param_f (in, HEED_COMPOSITE_P_YUV_OFFSET + r) * l[3];
}

static void
ref_blend (guint8 *b, float a, float add)
{
  *b = to_code (*b * (1.0f - a) + add);
}

void
heed_ref_composite (const HeedFrameLayout *l, guint8 *frame, const HeedCompositeInputs *in)
{
  const HeedPixelFormat f = l->format;
  guint8 *p0 = frame + l->offset[0];
  float lay[4], yuv[3];
  if (f == HEED_PIXEL_I420 || f == HEED_PIXEL_NV12) {
    guint cw = (l->width + 1) / 2, ch = (l->height + 1) / 2;
    for (guint cy = 0; cy < ch; cy++)
      for (guint cx = 0; cx < cw; cx++) {
        float sum[3] = { 0, 0, 0 }, count = 0;
        for (guint dx = 0; dx < 2; dx++) /* the shader's order of summation */
          for (guint dy = 0; dy < 2; dy++) {
            guint x = 2 * cx + dx, y = 2 * cy + dy;
            if (x >= l->width || y >= l->height)
              continue;
            ref_layers_at (in, x, y, lay);
            ref_yuv_of (in, lay, yuv);
            if (lay[3] != 0.0f)
              ref_blend (&p0[(gsize) y * l->stride[0] + x], lay[3], yuv[0]);
            sum[0] += yuv[1], sum[1] += yuv[2], sum[2] += lay[3], count += 1;
          }
        if (sum[2] == 0.0f)
          continue;
        guint8 *u, *v;
        if (f == HEED_PIXEL_NV12) {
          u = frame + l->offset[1] + (gsize) cy * l->stride[1] + 2 * cx;
          v = u + 1;
        } else {
          u = frame + l->offset[1] + (gsize) cy * l->stride[1] + cx;
          v = frame + l->offset[2] + (gsize) cy * l->stride[2] + cx;
        }
        ref_blend (u, sum[2] / count, sum[0] / count);
        ref_blend (v, sum[2] / count, sum[1] / count);
      }
    return;
  }
  for (guint y = 0; y < l->height; y++) {
    guint8 *row = p0 + (gsize) y * l->stride[0];
    if (f == HEED_PIXEL_YUY2) {
      for (guint x = 0; x < l->width; x += 2) {
        float l0[4], l1[4] = { 0, 0, 0, 0 }, c0[3], c1[3];
        gboolean two = x + 1 < l->width;
        guint8 *w = row + 2 * x;
        ref_layers_at (in, x, y, l0);
        if (two)
          ref_layers_at (in, x + 1, y, l1);
        if (l0[3] == 0.0f && l1[3] == 0.0f)
          continue;
        float n = two ? 2.0f : 1.0f;
        ref_yuv_of (in, l0, c0);
        ref_yuv_of (in, l1, c1);
        if (l0[3] != 0.0f)
          ref_blend (&w[0], l0[3], c0[0]);
        if (l1[3] != 0.0f)
          ref_blend (&w[2], l1[3], c1[0]);
        float ca = (l0[3] + l1[3]) / n;
        ref_blend (&w[1], ca, (c0[1] + c1[1]) / n);
        ref_blend (&w[3], ca, (c0[2] + c1[2]) / n);
      }
      continue;
    }
    for (guint x = 0; x < l->width; x++) {
      ref_layers_at (in, x, y, lay);
      if (lay[3] == 0.0f)
        continue;
      if (f == HEED_PIXEL_GRAY8) {
        ref_blend (&row[x], lay[3], 0.299f * lay[0] + 0.587f * lay[1] + 0.114f * lay[2]);
        continue;
      }
      static const guint8 idx[8][3] = { { 0, 1, 2 }, { 2, 1, 0 }, { 0, 1, 2 }, { 2, 1, 0 },
                                        { 1, 2, 3 }, { 3, 2, 1 }, { 0, 1, 2 }, { 2, 1, 0 } };
      guint8 *px = f <= HEED_PIXEL_XBGR ? row + 4 * x : row + 3 * x;
      for (guint ch = 0; ch < 3; ch++)
        ref_blend (&px[idx[f][ch]], lay[3], lay[ch]);
    }
  }
}
