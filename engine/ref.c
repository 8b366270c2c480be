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

/* ---- preprocessing: the arithmetic of shaders/preprocess.comp ---- */

static guint
frame_byte (const guint8 *f, gsize off)
{
  return f[off];
}

static void
ref_fetch (const HeedFrameLayout *l, const guint8 *f, const float *params, guint x, guint y,
           float rgb[3])
{
  HeedPixelFormat fmt = l->format;
  float Y, U, V;
  if (fmt <= HEED_PIXEL_XBGR) {
    const guint8 *b = f + l->offset[0] + (gsize) y * l->stride[0] + (gsize) x * 4;
    static const int order[][3] = { { 0, 1, 2 }, { 2, 1, 0 }, { 0, 1, 2 },
                                    { 2, 1, 0 }, { 1, 2, 3 }, { 3, 2, 1 } };
    for (guint i = 0; i < 3; i++)
      rgb[i] = b[order[fmt][i]] / 255.0f;
    return;
  }
  if (fmt == HEED_PIXEL_RGB || fmt == HEED_PIXEL_BGR) {
    const guint8 *b = f + l->offset[0] + (gsize) y * l->stride[0] + (gsize) x * 3;
    for (guint i = 0; i < 3; i++)
      rgb[i] = b[fmt == HEED_PIXEL_RGB ? i : 2 - i] / 255.0f;
    return;
  }
  if (fmt == HEED_PIXEL_GRAY8) {
    rgb[0] = rgb[1] = rgb[2] = frame_byte (f, l->offset[0] + (gsize) y * l->stride[0] + x) / 255.0f;
    return;
  }
  if (fmt == HEED_PIXEL_YUY2) {
    const guint8 *b = f + l->offset[0] + (gsize) y * l->stride[0] + (gsize) (x / 2) * 4;
    Y = b[(x & 1) ? 2 : 0], U = b[1], V = b[3];
  } else {
    guint cx = x / 2, cy = y / 2;
    Y = frame_byte (f, l->offset[0] + (gsize) y * l->stride[0] + x);
    if (fmt == HEED_PIXEL_NV12) {
      gsize o = l->offset[1] + (gsize) cy * l->stride[1] + (gsize) cx * 2;
      U = f[o], V = f[o + 1];
    } else {
      U = frame_byte (f, l->offset[1] + (gsize) cy * l->stride[1] + cx);
      V = frame_byte (f, l->offset[2] + (gsize) cy * l->stride[2] + cx);
    }
  }
  float d[3] = { Y - params[15], U - params[16], V - params[17] };
  for (guint i = 0; i < 3; i++) {
    float v = params[6 + 3 * i] * d[0] + params[7 + 3 * i] * d[1] + params[8 + 3 * i] * d[2];
    rgb[i] = CLAMP (v, 0.0f, 1.0f);
  }
}

static guint
ref_taps (float pos, float step, guint limit, guint idx[8], float wt[8])
{
  if (step > 1.0f) {
    guint n = MIN ((guint) ceilf (step - 1e-4f), 8);
    float first = pos - 0.5f * step;
    for (guint i = 0; i < n; i++) {
      idx[i] = (guint) CLAMP (floorf (first + (i + 0.5f) * step / n), 0.0f, (float) (limit - 1));
      wt[i] = 1.0f / n;
    }
    return n;
  }
  float c = CLAMP (pos - 0.5f, 0.0f, (float) (limit - 1));
  float i0 = floorf (c);
  idx[0] = (guint) i0;
  idx[1] = MIN ((guint) i0 + 1, limit - 1);
  wt[0] = 1.0f - (c - i0);
  wt[1] = c - i0;
  return 2;
}

void
heed_ref_preprocess (const HeedFrameLayout *l, const guint8 *frame, const float mean[3],
                     const float std[3], guint size, float *out)
{
  float params[18], src[4], dst[4];
  gsize plane = (gsize) size * size;
  heed_frame_params (l, mean, std, params);
  heed_frame_geometry (l, size, src, dst);
  for (guint oy = 0; oy < size; oy++)
    for (guint ox = 0; ox < size; ox++) {
      float cx = ox + 0.5f, cy = oy + 0.5f, rgb[3] = { 0, 0, 0 };
      if (cx >= dst[0] && cx < dst[0] + dst[2] && cy >= dst[1] && cy < dst[1] + dst[3]) {
        float sx = src[2] / dst[2], sy = src[3] / dst[3], xw[8], yw[8];
        guint xi[8], yi[8];
        guint nx = ref_taps (src[0] + (cx - dst[0]) * sx, sx, l->width, xi, xw);
        guint ny = ref_taps (src[1] + (cy - dst[1]) * sy, sy, l->height, yi, yw);
        for (guint j = 0; j < ny; j++) {
          float row[3] = { 0, 0, 0 }, px[3];
          for (guint i = 0; i < nx; i++) {
            ref_fetch (l, frame, params, xi[i], yi[j], px);
            for (guint c = 0; c < 3; c++)
              row[c] += xw[i] * px[c];
          }
          for (guint c = 0; c < 3; c++)
            rgb[c] += yw[j] * row[c];
        }
      }
      gsize o = (gsize) oy * size + ox;
      for (guint c = 0; c < 3; c++)
        out[c * plane + o] = rgb[c] * params[c] + params[3 + c];
    }
}
