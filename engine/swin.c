/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Swin's windows, shared by the loader, the device's forward pass (engine/vit.c) and the C
 * reference (engine/ref.c). A shifted block's attention runs over the grid rolled back by half
 * a window on both axes (torch.roll by -shift), cut into windows; tokens that the roll brought
 * together from opposite edges are kept apart by a mask. */
#include "heed-private.h"

#include <math.h>

/* The grid index a position (r, c) of the padded, rolled grid holds, or HEED_SWIN_PAD:
 * transformers' pad-then-roll takes it from the padded grid's (r + shift, c + shift); timm's
 * roll-then-pad has padding past the grid and the grid rolled before it */
static guint
rolled_source (guint grid, guint padded, guint shift, gboolean pad_first, guint r, guint c)
{
  if (pad_first) {
    r = (r + shift) % padded, c = (c + shift) % padded;
    return r < grid && c < grid ? r * grid + c : HEED_SWIN_PAD;
  }
  return r < grid && c < grid ? ((r + shift) % grid) * grid + (c + shift) % grid : HEED_SWIN_PAD;
}

void
heed_swin_window_order (guint grid, guint padded, guint window, guint shift, gboolean pad_first,
                        guint *order)
{
  guint per_side = padded / window, i = 0;
  for (guint wr = 0; wr < per_side; wr++)
    for (guint wc = 0; wc < per_side; wc++)
      for (guint r = 0; r < window; r++)
        for (guint c = 0; c < window; c++)
          order[i++] =
              rolled_source (grid, padded, shift, pad_first, wr * window + r, wc * window + c);
}

/* Which of the rolled grid's three bands along an axis position i is in: the part that did
 * not wrap and whose windows it never shares, the last window's unwrapped part, and what
 * wrapped round from the start */
static guint
band (guint grid, guint window, guint shift, guint i)
{
  return i < grid - window ? 0 : i < grid - shift ? 1 : 2;
}

void
heed_swin_shift_mask (guint grid, guint window, guint shift, float *mask)
{
  guint n = window * window, windows = (grid / window) * (grid / window);
  guint *order = g_new (guint, grid * grid);
  heed_swin_window_order (grid, grid, window, 0, FALSE, order); /* positions in the rolled grid */
  for (guint w = 0; w < windows; w++)
    for (guint i = 0; i < n; i++) {
      guint a = order[w * n + i];
      guint ra = band (grid, window, shift, a / grid) * 3 + band (grid, window, shift, a % grid);
      for (guint j = 0; j < n; j++) {
        guint b = order[w * n + j];
        guint rb = band (grid, window, shift, b / grid) * 3 + band (grid, window, shift, b % grid);
        mask[((gsize) w * n + i) * n + j] = ra == rb ? 0.0f : -100.0f;
      }
    }
  g_free (order);
}

void
heed_swin_relative_index (guint window, guint *index)
{
  guint n = window * window, side = 2 * window - 1;
  for (guint i = 0; i < n; i++)
    for (guint j = 0; j < n; j++)
      index[(gsize) i * n + j] =
          (i / window + window - 1 - j / window) * side + (i % window + window - 1 - j % window);
}

void
heed_relative_bias_lookup (const float *table, const guint *index, gsize pairs, guint heads,
                           float *bias)
{
  for (gsize ij = 0; ij < pairs; ij++)
    for (guint h = 0; h < heads; h++)
      bias[(gsize) h * pairs + ij] = table[(gsize) index[ij] * heads + h];
}

void
heed_swin_relative_bias (const float *table, guint window, guint heads, float *bias)
{
  guint n = window * window, *index = g_new (guint, (gsize) n * n);
  heed_swin_relative_index (window, index);
  heed_relative_bias_lookup (table, index, (gsize) n * n, heads, bias);
  g_free (index);
}

void
heed_swinv2_coords (guint window, guint pretrained_window, float *coords)
{
  guint side = 2 * window - 1;
  /* in float, as timm and transformers make them */
  float over = (float) ((pretrained_window ? pretrained_window : window) - 1);
  for (guint r = 0; r < side; r++)
    for (guint c = 0; c < side; c++)
      for (guint a = 0; a < 2; a++) {
        float t = (float) (a ? c : r) - (float) (window - 1);
        if (over > 0) /* a window of 1 has only the offset 0 */
          t /= over;
        t *= 8.0f;
        float sign = t > 0 ? 1.0f : t < 0 ? -1.0f : 0.0f;
        coords[((gsize) r * side + c) * 2 + a] = sign * log2f (fabsf (t) + 1.0f) / 3.0f;
      }
}

void
heed_swinv2_bias_table (const float *w1, const float *b1, const float *w2, guint window,
                        guint pretrained_window, guint heads, float *table)
{
  guint rows = (2 * window - 1) * (2 * window - 1), hidden = HEED_SWINV2_MLP_HIDDEN;
  float *coords = g_new (float, 2 * rows), *mid = g_new (float, hidden);
  heed_swinv2_coords (window, pretrained_window, coords);
  for (guint r = 0; r < rows; r++) {
    const float *t = coords + 2 * r;
    for (guint j = 0; j < hidden; j++) {
      double v = (double) w1[2 * j] * t[0] + (double) w1[2 * j + 1] * t[1] + b1[j];
      mid[j] = v > 0 ? (float) v : 0.0f;
    }
    for (guint h = 0; h < heads; h++) {
      double v = 0;
      for (guint j = 0; j < hidden; j++)
        v += (double) w2[(gsize) h * hidden + j] * mid[j];
      table[(gsize) r * heads + h] = (float) (16.0 / (1.0 + exp (-v)));
    }
  }
  g_free (coords), g_free (mid);
}

float *
heed_swinv2_block_bias (const HeedBlockWeights *w, const HeedSwinStage *st)
{
  guint N = st->window * st->window, side = 2 * st->window - 1;
  float *table = g_new (float, (gsize) side *side * st->heads);
  float *bias = g_new (float, (gsize) st->heads *N *N);
  heed_swinv2_bias_table (w->cpb_w1, w->cpb_b1, w->cpb_w2, st->window, st->pretrained_window,
                          st->heads, table);
  heed_swin_relative_bias (table, st->window, st->heads, bias);
  g_free (table);
  return bias;
}

char *
heed_swin_fit (HeedModelConfig *c, guint img_size)
{
  guint grids[HEED_SWIN_MAX_STAGES], windows[HEED_SWIN_MAX_STAGES], padded[HEED_SWIN_MAX_STAGES];
  guint grid = img_size / c->patch_size;
  double bias_bytes = 0;
  for (guint s = 0; s < c->swin_stages; s++) {
    const HeedSwinStage *st = &c->swin[s];
    if (s && grid % 2)
      return g_strdup_printf ("stage %u's grid of %u (at %u px) is odd: heed does not pad it to "
                              "merge",
                              s - 1, grid, img_size);
    grid = grids[s] = s ? grid / 2 : grid;
    /* Swin V2's window cut to a grid no larger than it (timm's and transformers' cut); V1's
     * table is its window's */
    guint window = windows[s] = st->model_window ? MIN (st->model_window, grid) : st->window;
    if (grid < window)
      return g_strdup_printf ("stage %u's grid of %u tokens a side (at %u px) is smaller than "
                              "its window of %u",
                              s, grid, img_size, window);
    /* the biases the plan holds: a block's table, and in a shifted block one per window of the
     * padded grid (the table's with the window's mask) */
    padded[s] = (grid + window - 1) / window * window;
    double tokens = (double) window * window, count = (double) padded[s] * padded[s] / tokens;
    bias_bytes += 4.0 * st->heads * tokens * tokens *
                  (st->depth + (grid > window ? st->depth / 2 * count : 0));
  }
  if (bias_bytes > HEED_MAX_BIAS_BYTES)
    return g_strdup_printf ("its windows' attention biases would take %.1f GB (at %u px): more "
                            "than heed holds",
                            bias_bytes / 1e9, img_size);
  for (guint s = 0; s < c->swin_stages; s++) {
    HeedSwinStage *st = &c->swin[s];
    /* a grid no larger than the window is one window, unshifted, as timm and transformers run
     * it */
    st->grid = grids[s], st->window = windows[s], st->padded = padded[s];
    st->shift = st->grid > st->window ? st->window / 2 : 0;
  }
  c->img_size = img_size;
  c->grid = grid, c->num_patches = c->tokens = grid * grid;
  return NULL;
}
