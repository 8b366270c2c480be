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
heed_ref_attention (const float *qkv, float *out, float *probs, guint M, guint D, guint heads)
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
        p[j] = (float) (dot * scale);
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

static void
linear (const float *x, guint M, guint in_dim, const float *w, const float *b, guint out, float *y,
        guint epilogue)
{
  float *wt = transposed (w, out, in_dim);
  heed_ref_gemm (x, in_dim, wt, out, y, out, M, out, in_dim, 1.0f, b, epilogue);
  g_free (wt);
}

void
heed_ref_vit_forward (const HeedModel *model, const float *input, float *logits, float *embedding,
                      float *cls_attention_heads, float *layer_attention)
{
  const HeedModelConfig *c = &model->config;
  guint T = c->tokens, D = c->dim, Np = c->num_patches, H = c->num_heads;
  guint kp = c->in_chans * c->patch_size * c->patch_size;
  float *patches = g_new (float, (gsize) Np *kp);
  float *x = g_new (float, (gsize) T *D);
  float *h = g_new (float, (gsize) T *D);
  float *qkv = g_new (float, (gsize) T * 3 * D);
  float *att = g_new (float, (gsize) T *D);
  float *mlp = g_new (float, (gsize) T * c->mlp_hidden);
  float *probs = g_new (float, (gsize) H *T *T);

  heed_ref_patchify (input, c->in_chans, c->img_size, c->img_size, c->patch_size, patches);
  memcpy (x, model->pos_embed, (gsize) T * D * sizeof (float));
  for (guint i = 0; i < D; i++)
    x[i] += model->cls_token[i];
  linear (patches, Np, kp, model->patch_w, model->patch_b, D, x + D, HEED_EPI_ACCUMULATE);

  for (guint l = 0; l < c->depth; l++) {
    const HeedBlockWeights *b = &model->blocks[l];
    heed_ref_layernorm (x, D, h, D, b->norm1_w, b->norm1_b, T, D, c->ln_eps);
    linear (h, T, D, b->qkv_w, b->qkv_b, 3 * D, qkv, 0);
    heed_ref_attention (qkv, att, probs, T, D, H);
    if (layer_attention)
      heed_ref_head_mean (probs, layer_attention + (gsize) l * T * T, T, T, H);
    linear (att, T, D, b->proj_w, b->proj_b, D, x, HEED_EPI_ACCUMULATE);
    heed_ref_layernorm (x, D, h, D, b->norm2_w, b->norm2_b, T, D, c->ln_eps);
    linear (h, T, D, b->fc1_w, b->fc1_b, c->mlp_hidden, mlp, HEED_EPI_GELU);
    linear (mlp, T, c->mlp_hidden, b->fc2_w, b->fc2_b, D, x, HEED_EPI_ACCUMULATE);
  }
  if (cls_attention_heads)
    for (guint hh = 0; hh < H; hh++)
      memcpy (cls_attention_heads + (gsize) hh * T, probs + (gsize) hh * T * T, T * sizeof (float));

  heed_ref_layernorm (x, D, h, D, model->norm_w, model->norm_b, 1, D, c->ln_eps);
  if (embedding)
    memcpy (embedding, h, D * sizeof (float));
  if (logits && model->head_w)
    linear (h, 1, D, model->head_w, model->head_b, c->num_classes, logits, 0);

  g_free (patches);
  g_free (x);
  g_free (h);
  g_free (qkv);
  g_free (att);
  g_free (mlp);
  g_free (probs);
}
