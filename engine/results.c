/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a forward pass's raw outputs mean: top-k classes, the attention map (last-layer CLS row or
 * rollout), and where a patch lies in the frame. Shared by the elements and the heed tool. */
#include "heed-private.h"

#include <math.h>
#include <string.h>

guint
heed_vit_result_top_k (const HeedVitResult *o, guint k, double threshold, guint *ids, double *probs)
{
  const HeedModelConfig *c = &o->config;
  guint n = c->num_classes, got = 0;
  if (!o->logits || n == 0)
    return 0;
  k = MIN (k, n);
  double mx = o->logits[0], sum = 0;
  double *prob = g_new (double, n);
  gboolean *taken = g_new0 (gboolean, n);
  for (guint i = 1; i < n; i++)
    mx = MAX (mx, o->logits[i]);
  for (guint i = 0; i < n; i++)
    sum += prob[i] = exp ((double) o->logits[i] - mx);
  for (guint r = 0; r < k; r++) {
    guint best = G_MAXUINT;
    for (guint i = 0; i < n; i++)
      if (!taken[i] && (best == G_MAXUINT || prob[i] > prob[best]))
        best = i;
    if (prob[best] / sum < threshold)
      break;
    taken[best] = TRUE;
    ids[got] = best;
    probs[got++] = prob[best] / sum;
  }
  g_free (prob);
  g_free (taken);
  return got;
}

/* Attention rollout's CLS row: e0^T A'_L ... A'_1 with A' = (A + I) / 2, so every row stays a
 * distribution; propagated as a row vector, it costs depth x tokens^2. */
static void
rollout_cls_row (const HeedVitResult *o, const HeedModelConfig *c, float *out)
{
  guint T = c->tokens;
  double *r = g_new0 (double, T), *next = g_new (double, T);
  /* the class token's row; average-pooled models: every token's, averaged; attention-pooled
   * ones: the pool's query's row (its attention over every token, heads averaged) */
  for (guint j = 0; j < T; j++) {
    r[j] = c->avg_pool ? 1.0 / T : (j == 0);
    if (c->map_pool) {
      r[j] = 0;
      guint heads = heed_attention_map_heads (c);
      for (guint h = 0; h < heads; h++)
        r[j] += o->cls_attention_heads[(gsize) h * T + j] / heads;
    }
  }
  for (gint l = (gint) c->depth - 1; l >= 0; l--) {
    const float *A = o->layer_attention + (gsize) l * T * T;
    for (guint j = 0; j < T; j++)
      next[j] = 0.5 * r[j];
    for (guint i = 0; i < T; i++)
      for (guint j = 0; j < T; j++)
        next[j] += 0.5 * r[i] * A[(gsize) i * T + j];
    memcpy (r, next, T * sizeof (double));
  }
  for (guint j = 0; j < c->num_patches; j++)
    out[j] = (float) r[j + c->num_prefix]; /* past the class, dist and register tokens */
  g_free (r);
  g_free (next);
}

guint
heed_vit_result_attention_map (const HeedVitResult *o, HeedAttentionMode mode, float *map)
{
  const HeedModelConfig *c = &o->config;
  guint np = c->num_patches, best = 0;
  double sum = 0;
  if (mode == HEED_ATTENTION_ROLLOUT && o->layer_attention)
    rollout_cls_row (o, c, map);
  else
    memcpy (map, o->cls_attention, np * sizeof (float));
  for (guint i = 0; i < np; i++)
    sum += map[i];
  for (guint i = 0; i < np; i++) {
    map[i] = sum > 0 ? (float) (map[i] / sum) : 1.0f / np;
    if (map[i] > map[best])
      best = i;
  }
  return best;
}

void
heed_vit_result_patch_in_frame (const HeedVitResult *o, guint index, float *x, float *y)
{
  const HeedModelConfig *c = &o->config;
  const HeedFrameLayout *l = &o->layout;
  float u = ((index % c->grid) + 0.5f) * c->patch_size;
  float v = ((index / c->grid) + 0.5f) * c->patch_size;
  if (!o->has_layout) { /* a tensor input: the model's own coordinates */
    *x = u / c->img_size;
    *y = v / c->img_size;
    return;
  }
  heed_frame_point_from_model (l, c->img_size, u, v, x, y);
}
