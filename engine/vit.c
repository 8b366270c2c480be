/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ViT on the device, in two parts:
 * - a plan (per model and device): the weights uploaded once, the kernel table copied once from
 *   the device; immutable, so any number of runs, threads and elements share it;
 * - runs: everything one batch of frames needs (command pool and command buffers, frame staging,
 *   activations, outputs, fence). The forward pass for a batch of n frames is recorded once per
 *   n (the graph is static for a model) and submitted without waiting; wait hands back owned
 *   results.
 * A batch stacks its frames' tokens: LayerNorm and the qkv, proj, fc1 and fc2 GEMMs run once
 * over n x tokens rows; patch embedding and attention run per frame. */
#include "heed-private.h"

#include <math.h>
#include <string.h>

typedef struct {
  HeedBuffer *norm1_w, *norm1_b, *qkv_w, *qkv_b, *proj_w, *proj_b;
  HeedBuffer *norm2_w, *norm2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
  HeedBuffer *attn_bias;               /* the scores' bias in their padded layout (BEiT), or NULL */
  HeedBuffer *mlp_norm_w, *mlp_norm_b; /* EVA-02's LayerNorm inside the MLP, or NULL */
  HeedBuffer *attn_norm_w, *attn_norm_b; /* EVA-02 CLIP's over the attention's output, or NULL */
  HeedBuffer *qk_scale; /* Swin V2's queries' lengths, each head's scale x sqrt (head_dim) */
} BlockBuffers;

struct _HeedVitPlan {
  gint ref_count;
  HeedDevice *device; /* a reference */
  HeedModelConfig config;
  HeedVitOptions options;
  VkDeviceSize weight_bytes; /* every weight buffer's size */
  HeedKernels kernels;
  /* the blocks' LayerNorms folded into the qkv and fc1 GEMMs (heed_op_gemm_layernorm): their
   * weights and biases are stored folded, and norm1/norm2 are not uploaded */
  gboolean fold_layernorm;

  HeedBuffer *tokens_start, *patch_w, *patch_b, *norm_w, *norm_b, *head_w, *head_b;
  HeedBuffer *head_dist_w, *head_dist_b;   /* DeiT distilled */
  HeedBuffer *head_mean_w;                 /* Dinov2ForImageClassification's mean-token columns */
  HeedBuffer *norm_pre_w, *norm_pre_b;     /* CLIP towers */
  HeedBuffer *patch_norm_w, *patch_norm_b; /* AIMv2's norm of the patch embedding */
  HeedBuffer *rope;                        /* the rotation tables (heed_rope_table) */
  BlockBuffers *blocks;
  /* Swin: each stage's patch merging (stage 0's NULL) and the gather of its input rows from
   * the stage before's last order; per block the gather from the block before's window order
   * into its own, NULL where they agree (a block's bias is the table's, then with a shift one
   * per window with its mask: attn_bias, windows of them); the last block's order back to the
   * grid's, NULL where they agree */
  HeedBuffer *merge_norm_w[HEED_SWIN_MAX_STAGES], *merge_norm_b[HEED_SWIN_MAX_STAGES];
  HeedBuffer *merge_w[HEED_SWIN_MAX_STAGES], *merge_gather[HEED_SWIN_MAX_STAGES];
  HeedBuffer **block_gather;
  HeedBuffer *final_gather;
  /* Swin V1 over a padded grid: per block the gather of its normed rows that zeroes the
   * padding's (the rows as they are, HEED_SWIN_PAD where padding is), NULL without padding */
  HeedBuffer **pad_zero;
  /* a last stage of several windows: the grid position of each of its map's values (the last
   * block's window order, HEED_SWIN_PAD for padding), which are each window's own mean over its
   * queries, map_windows of them; NULL for one unshifted window */
  guint *map_order;
  guint map_windows;
  guint map_tokens; /* the values a frame's map is recorded as: the tokens, or Swin's last
                     * stage's padded grid's places */
};

typedef enum {
  SLOT_EMPTY,
  SLOT_TENSOR, /* the slot's input tensor written from the host */
  SLOT_FRAME,  /* the slot's part of the frame staging written from the host */
  SLOT_DEVICE, /* copies into the frame staging recorded in copy_cmds[slot] */
} SlotKind;

struct _HeedVitRun {
  HeedVitPlan *plan; /* a reference */
  HeedDevice *device;
  guint max_batch;

  HeedBuffer *input; /* every slot's input tensor, input_stride floats apart */
  guint input_stride;
  HeedBuffer *patches; /* every slot's, one after another: one patch-embedding GEMM a batch */
  HeedBuffer *x, *h, *qkv, *attn, *mlp;
  HeedBuffer *x_other; /* Swin: the rows gathered into the next block's order, then x's */
  HeedBuffer *emb, *logits, *cls_heads, *cls_mean, *layer_attn; /* host-visible outputs */
  /* every query row's probabilities in the last block, for a map that is the attention each token
   * receives (average-pooled ViTs', Swin's), every frame's at once: see last_probs_floats */
  HeedBuffer *last_probs;
  HeedBuffer *logits_dist; /* DeiT distilled */
  HeedBuffer *pooled;      /* average pooling: each frame's mean patch token */
  HeedAttentionScratch scratch;
  /* attention pooling's, where its heads are not the blocks' (the Perception Encoder's) */
  HeedAttentionScratch pool_scratch;
  HeedAttentionScratch swin_scratch[HEED_SWIN_MAX_STAGES]; /* a window of each stage's */
  /* the forward pass for a batch of n frames, recorded on first use: its `slices` submissions
   * at index (n - 1) * HEED_VIT_MAX_SLICES + slice */
  HeedRecorder **rec_tensor, **rec_frame;
  gboolean profile; /* the recordings time their dispatches (the plan's option, or set_profile) */
  guint slices;
  gboolean keep_input; /* frames preprocessed into input, then patchified: for get_input */

  /* frame staging: max_batch slots of frame_slot bytes; host-visible for frames in host
   * memory, device-local for frames already on the device (copied in by the device: on a
   * discrete GPU the preprocessing then reads its own memory, not the host's over the bus) */
  HeedBuffer *frame, *frame_params;
  HeedBuffer *frame_rows; /* between the two preprocessing passes, shared by slots */
  VkDeviceSize frame_slot;
  HeedFrameLayout layout;
  gboolean has_layout;
  VkCommandPool copy_pool;
  VkCommandBuffer *copy_cmds; /* per slot: device-resident frames copied into the staging */

  SlotKind *slots;
  HeedRecorder *submitted; /* the batch's submission in flight, or NULL */
  HeedRecorder **submitted_slices;
  guint submitted_n, next_slice, n_slices;
  gboolean submitted_from_frame;
};

/* ---- the plan ------------------------------------------------------------------------------ */

/* A Linear weight [out][in_dim] as the GEMM's B operand [in_dim][ld]: out columns padded to
 * the kernels' column alignment. */
static float *
transposed (const HeedVitPlan *p, const float *w, guint out, guint in_dim, guint *ld)
{
  guint stride = heed_round_up (out, p->kernels.col_align);
  gsize n = (gsize) stride * in_dim;
  float *t = g_new0 (float, n);
  for (guint o = 0; o < out; o++)
    for (guint i = 0; i < in_dim; i++)
      t[(gsize) i * stride + o] = w[(gsize) o * in_dim + i];
  *ld = stride;
  return t;
}

/* n weights of a GEMM's B, in the plan's weight format */
static HeedBuffer *
upload_b (HeedVitPlan *p, const float *t, gsize n, GError **error)
{
  HeedBuffer *b;
  if (p->options.weights != HEED_WEIGHTS_F32) {
    b = heed_buffer_new_half (p->device, t, n, error);
    if (b)
      b->half_operands = p->options.weights == HEED_WEIGHTS_F16_MATMUL;
  } else {
    b = heed_buffer_new (p->device, (VkDeviceSize) n * 4, FALSE, error);
    if (b && !heed_buffer_upload (b, 0, t, (VkDeviceSize) n * 4, error))
      heed_buffer_destroy (&b);
  }
  p->weight_bytes += b ? b->size : 0;
  return b;
}

static HeedBuffer *
upload_linear (HeedVitPlan *p, const float *w, guint out, guint in_dim, GError **error)
{
  guint ld;
  float *t = transposed (p, w, out, in_dim, &ld);
  HeedBuffer *b = upload_b (p, t, (gsize) ld * in_dim, error);
  g_free (t);
  return b;
}

/* n 32-bit words: floats, or a gather's uint32 index */
static HeedBuffer *
upload_array (HeedVitPlan *p, const void *v, gsize n, GError **error)
{
  HeedBuffer *b = heed_buffer_new (p->device, n * 4, FALSE, error);
  if (b && !heed_buffer_upload (b, 0, v, n * 4, error))
    heed_buffer_destroy (&b);
  p->weight_bytes += b ? b->size : 0;
  return b;
}

/* A Linear after a LayerNorm, with the norm folded in (heed_fold_layernorm): its weights, and
 * its bias followed by the weights' column sums. */
static gboolean
upload_linear_after_norm (HeedVitPlan *p, const float *w, const float *bias, const float *gamma,
                          const float *beta, guint out, guint in_dim, HeedBuffer **w_buf,
                          HeedBuffer **bias_buf, GError **error)
{
  guint ld;
  float *t = transposed (p, w, out, in_dim, &ld);
  float *bias_colsum = g_new (float, 2 * (gsize) out);
  heed_fold_layernorm (t, in_dim, out, ld, gamma, beta, bias, bias_colsum);
  *w_buf = upload_b (p, t, (gsize) ld * in_dim, error);
  *bias_buf = *w_buf ? upload_array (p, bias_colsum, 2 * (gsize) out, error) : NULL;
  g_free (t);
  g_free (bias_colsum);
  return *bias_buf != NULL;
}

/* The blocks' weights the plan holds: attention pooling's are one more block's */
static guint
plan_blocks (const HeedModelConfig *c)
{
  return c->depth + (c->map_pool ? 1 : 0);
}

/* The gather from n_from rows in order `from` into n_to rows in order `to` (each the grid
 * position of each row, of `positions`, or HEED_SWIN_PAD: a zero row): NULL where they agree,
 * or on error */
static gboolean
upload_reorder (HeedVitPlan *p, const guint *from, guint n_from, const guint *to, guint n_to,
                guint positions, HeedBuffer **out, GError **error)
{
  guint *row_of = g_new (guint, positions), *index = g_new (guint, n_to);
  gboolean same = n_from == n_to;
  for (guint i = 0; i < n_from; i++)
    if (from[i] != HEED_SWIN_PAD)
      row_of[from[i]] = i;
  for (guint i = 0; i < n_to; i++)
    same &= (index[i] = to[i] == HEED_SWIN_PAD ? HEED_SWIN_PAD : row_of[to[i]]) == i;
  *out = same ? NULL : upload_array (p, index, n_to, error);
  g_free (row_of), g_free (index);
  return same || *out;
}

/* Swin's weights: the patch embedding and its norm, per stage the merging and its gather, per
 * block the norms, projections, MLP, gather and biases (a shifted block's one per window:
 * the table's plus the window's mask), the final norm and the head. The rows of a stage's
 * first block come from the grid (the patch embedding's, or the merging's); each block's are
 * gathered from the order of the block before. */
static gboolean
upload_swin (HeedVitPlan *p, const HeedModel *m, GError **error)
{
  const HeedModelConfig *c = &p->config;
  guint kp = c->in_chans * c->patch_size * c->patch_size, D0 = c->swin[0].dim;
  if (!(p->patch_w = upload_linear (p, m->patch_w, D0, kp, error)) ||
      !(p->patch_b = upload_array (p, m->patch_b, D0, error)) ||
      !(p->patch_norm_w = upload_array (p, m->patch_norm_w, D0, error)) ||
      !(p->patch_norm_b = upload_array (p, m->patch_norm_b, D0, error)) ||
      !(p->norm_w = upload_array (p, m->norm_w, c->dim, error)) ||
      !(p->norm_b = upload_array (p, m->norm_b, c->dim, error)))
    return FALSE;
  if (m->head_w && (!(p->head_w = upload_linear (p, m->head_w, c->num_classes, c->dim, error)) ||
                    !(p->head_b = upload_array (p, m->head_b, c->num_classes, error))))
    return FALSE;
  p->blocks = g_new0 (BlockBuffers, c->depth);
  p->block_gather = g_new0 (HeedBuffer *, c->depth);
  p->pad_zero = g_new0 (HeedBuffer *, c->depth);
  /* the grid position of each row (or HEED_SWIN_PAD), as the last block left them, n_current */
  guint *current = NULL, n_current = 0;
  gboolean ok = TRUE;
  for (guint s = 0, l = 0; s < c->swin_stages && ok; s++) {
    const HeedSwinStage *st = &c->swin[s];
    guint D = st->dim, T = st->grid * st->grid, N = st->window * st->window;
    guint Tp = st->padded * st->padded; /* the rows of the stage's blocks: the padded grid's */
    guint *grid = g_new (guint, T), *order = g_new (guint, Tp);
    for (guint i = 0; i < T; i++)
      grid[i] = i;
    if (s) { /* merged row t's 2 x 2: the stage before's grid positions, found in its order */
      const HeedSwinStage *before = &c->swin[s - 1];
      guint Tb = before->grid * before->grid, *row_of = g_new (guint, Tb);
      guint *index = g_new (guint, 4 * T);
      for (guint i = 0; i < n_current; i++)
        if (current[i] != HEED_SWIN_PAD)
          row_of[current[i]] = i;
      for (guint t = 0; t < T; t++)
        for (guint q = 0; q < 4; q++)
          index[4 * t + q] =
              row_of[(2 * (t / st->grid) + q % 2) * before->grid + 2 * (t % st->grid) + q / 2];
      guint norm_width = c->swin_v2 ? D : 2 * D; /* after the Linear, or before it */
      ok = (p->merge_gather[s] = upload_array (p, index, 4 * T, error)) &&
           (p->merge_norm_w[s] = upload_array (p, m->merge_norm_w[s], norm_width, error)) &&
           (p->merge_norm_b[s] = upload_array (p, m->merge_norm_b[s], norm_width, error)) &&
           (p->merge_w[s] = upload_linear (p, m->merge_w[s], D, 2 * D, error));
      g_free (row_of), g_free (index);
    }
    g_free (current);
    current = grid, n_current = T;
    /* a shifted block's windows' masks (over the padded grid): the same for each of the
     * stage's shifted blocks */
    float *mask = st->shift ? g_new (float, (gsize) Tp / N * N * N) : NULL;
    if (mask)
      heed_swin_shift_mask (st->padded, st->window, st->shift, mask);
    for (guint b = 0; b < st->depth && ok; b++, l++) {
      const HeedBlockWeights *w = &m->blocks[l];
      BlockBuffers *bb = &p->blocks[l];
      guint shift = b % 2 ? st->shift : 0, windows = shift ? Tp / N : 1;
      heed_swin_window_order (st->grid, st->padded, st->window, shift, c->swin_pad_first, order);
      ok = upload_reorder (p, current, n_current, order, Tp, T, &p->block_gather[l], error);
      if (ok && Tp > T && !c->swin_v2) { /* V1: the normed rows' padding back to zeros */
        guint *keep = g_new (guint, Tp);
        for (guint i = 0; i < Tp; i++)
          keep[i] = order[i] == HEED_SWIN_PAD ? HEED_SWIN_PAD : i;
        ok = (p->pad_zero[l] = upload_array (p, keep, Tp, error)) != NULL;
        g_free (keep);
      }
      if (n_current != Tp)
        current = g_renew (guint, current, Tp), n_current = Tp;
      memcpy (current, order, Tp * sizeof (guint));
      ok = ok && (bb->norm1_w = upload_array (p, w->norm1_w, D, error)) &&
           (bb->norm1_b = upload_array (p, w->norm1_b, D, error)) &&
           (bb->qkv_w = upload_linear (p, w->qkv_w, 3 * D, D, error)) &&
           (bb->qkv_b = upload_array (p, w->qkv_b, 3 * D, error)) &&
           (bb->proj_w = upload_linear (p, w->proj_w, D, D, error)) &&
           (bb->proj_b = upload_array (p, w->proj_b, D, error)) &&
           (bb->norm2_w = upload_array (p, w->norm2_w, D, error)) &&
           (bb->norm2_b = upload_array (p, w->norm2_b, D, error)) &&
           (bb->fc1_w = upload_linear (p, w->fc1_w, st->mlp_hidden, D, error)) &&
           (bb->fc1_b = upload_array (p, w->fc1_b, st->mlp_hidden, error)) &&
           (bb->fc2_w = upload_linear (p, w->fc2_w, D, st->mlp_hidden, error)) &&
           (bb->fc2_b = upload_array (p, w->fc2_b, D, error));
      if (ok && w->qk_scale) { /* the attention's 1 / sqrt (head_dim) undone on the queries */
        float *scale = g_new (float, st->heads);
        for (guint h = 0; h < st->heads; h++)
          scale[h] = w->qk_scale[h] * sqrtf ((float) (D / st->heads));
        ok = (bb->qk_scale = upload_array (p, scale, st->heads, error)) != NULL;
        g_free (scale);
      }
      if (!ok)
        break;
      /* the windows' biases, one after another in the scores' padded layout */
      gsize per = (gsize) st->heads * N * N, n_padded;
      float *bias = g_new (float, per);
      GArray *all = g_array_new (FALSE, FALSE, sizeof (float));
      for (guint win = 0; win < windows; win++) {
        for (gsize k = 0; k < per; k++)
          bias[k] = w->attn_bias[k] + (shift ? mask[(gsize) win * N * N + k % ((gsize) N * N)] : 0);
        float *padded = heed_attention_bias_padded (&p->kernels, bias, N, st->heads, &n_padded);
        g_array_append_vals (all, padded, n_padded);
        g_free (padded);
      }
      ok = (bb->attn_bias = upload_array (p, all->data, all->len, error)) != NULL;
      g_array_unref (all);
      g_free (bias);
    }
    g_free (order), g_free (mask);
  }
  /* the map's values come in the last block's window order, each window's summing to 1 */
  const HeedSwinStage *last = &c->swin[c->swin_stages - 1];
  p->map_tokens = last->padded * last->padded;
  p->map_windows = p->map_tokens / (last->window * last->window);
  if (ok && p->map_windows > 1)
    p->map_order = g_memdup2 (current, p->map_tokens * sizeof (guint));
  /* the rows back in the grid's order */
  if (ok) {
    guint T = c->tokens, *grid = g_new (guint, T);
    for (guint i = 0; i < T; i++)
      grid[i] = i;
    ok = upload_reorder (p, current, n_current, grid, T, T, &p->final_gather, error);
    g_free (grid);
  }
  g_free (current);
  return ok;
}

static gboolean
upload_weights (HeedVitPlan *p, const HeedModel *m, GError **error)
{
  const HeedModelConfig *c = &p->config;
  p->map_tokens = c->tokens; /* Swin's: its last stage's padded grid */
  if (c->swin_stages)
    return upload_swin (p, m, error);
  guint D = c->dim, Hd = c->mlp_hidden, kp = c->in_chans * c->patch_size * c->patch_size;
  guint W1 = heed_fc1_width (c);

  float *start = g_new (float, (gsize) c->tokens *D);
  heed_tokens_start (m->cls_token, m->pos_embed, c->tokens, D, c->num_prefix, start);
  p->tokens_start = upload_array (p, start, (gsize) c->tokens * D, error);
  g_free (start);
  if (!p->tokens_start || !(p->patch_w = upload_linear (p, m->patch_w, D, kp, error)) ||
      !(p->patch_b = upload_array (p, m->patch_b, D, error)))
    return FALSE;
  if (m->norm_w && (!(p->norm_w = upload_array (p, m->norm_w, D, error)) ||
                    !(p->norm_b = upload_array (p, m->norm_b, D, error))))
    return FALSE;
  if (m->head_w && (!(p->head_w = upload_linear (p, m->head_w, c->num_classes, D, error)) ||
                    !(p->head_b = upload_array (p, m->head_b, c->num_classes, error))))
    return FALSE;
  if (m->head_mean_w &&
      !(p->head_mean_w = upload_linear (p, m->head_mean_w, c->num_classes, D, error)))
    return FALSE;
  if (m->norm_pre_w && (!(p->norm_pre_w = upload_array (p, m->norm_pre_w, D, error)) ||
                        !(p->norm_pre_b = upload_array (p, m->norm_pre_b, D, error))))
    return FALSE;
  if (m->patch_norm_w && (!(p->patch_norm_w = upload_array (p, m->patch_norm_w, D, error)) ||
                          !(p->patch_norm_b = upload_array (p, m->patch_norm_b, D, error))))
    return FALSE;
  if (m->head_dist_w &&
      (!(p->head_dist_w = upload_linear (p, m->head_dist_w, c->num_classes, D, error)) ||
       !(p->head_dist_b = upload_array (p, m->head_dist_b, c->num_classes, error))))
    return FALSE;
  if (c->rope) {
    float *table = heed_rope_table (c, m->rope_freqs);
    p->rope = upload_array (p, table, heed_rope_table_floats (c), error);
    g_free (table);
    if (!p->rope)
      return FALSE;
  }
  /* the blocks, then attention pooling's as one more */
  p->blocks = g_new0 (BlockBuffers, plan_blocks (c));
  for (guint l = 0; l < plan_blocks (c); l++) {
    const HeedBlockWeights *w = l < c->depth ? &m->blocks[l] : m->map_head;
    BlockBuffers *b = &p->blocks[l];
    guint fc1_out = l < c->depth ? W1 : Hd; /* attention pooling's MLP is never gated */
    if (p->fold_layernorm) {
      if (!upload_linear_after_norm (p, w->qkv_w, w->qkv_b, w->norm1_w, w->norm1_b, 3 * D, D,
                                     &b->qkv_w, &b->qkv_b, error) ||
          !upload_linear_after_norm (p, w->fc1_w, w->fc1_b, w->norm2_w, w->norm2_b, fc1_out, D,
                                     &b->fc1_w, &b->fc1_b, error))
        return FALSE;
    } else if (!(b->norm1_w = upload_array (p, w->norm1_w, D, error)) ||
               !(b->norm1_b = upload_array (p, w->norm1_b, D, error)) ||
               !(b->qkv_w = upload_linear (p, w->qkv_w, 3 * D, D, error)) ||
               !(b->qkv_b = upload_array (p, w->qkv_b, 3 * D, error)) ||
               !(b->norm2_w = upload_array (p, w->norm2_w, D, error)) ||
               !(b->norm2_b = upload_array (p, w->norm2_b, D, error)) ||
               !(b->fc1_w = upload_linear (p, w->fc1_w, fc1_out, D, error)) ||
               !(b->fc1_b = upload_array (p, w->fc1_b, fc1_out, error))) {
      return FALSE;
    }
    if (!(b->proj_w = upload_linear (p, w->proj_w, D, D, error)) ||
        !(b->proj_b = upload_array (p, w->proj_b, D, error)) ||
        !(b->fc2_w = upload_linear (p, w->fc2_w, D, Hd, error)) ||
        !(b->fc2_b = upload_array (p, w->fc2_b, D, error)))
      return FALSE;
    if (w->mlp_norm_w && (!(b->mlp_norm_w = upload_array (p, w->mlp_norm_w, Hd, error)) ||
                          !(b->mlp_norm_b = upload_array (p, w->mlp_norm_b, Hd, error))))
      return FALSE;
    if (w->attn_norm_w && (!(b->attn_norm_w = upload_array (p, w->attn_norm_w, D, error)) ||
                           !(b->attn_norm_b = upload_array (p, w->attn_norm_b, D, error))))
      return FALSE;
    if (w->attn_bias) {
      gsize n;
      float *padded =
          heed_attention_bias_padded (&p->kernels, w->attn_bias, c->tokens, c->num_heads, &n);
      b->attn_bias = upload_array (p, padded, n, error);
      g_free (padded);
      if (!b->attn_bias)
        return FALSE;
    }
  }
  return TRUE;
}

static void
plan_free (HeedVitPlan *p)
{
  if (p->blocks)
    for (guint l = 0; l < plan_blocks (&p->config); l++) {
      BlockBuffers *b = &p->blocks[l];
      HeedBuffer **all[] = { &b->norm1_w,     &b->norm1_b,    &b->qkv_w,      &b->qkv_b,
                             &b->proj_w,      &b->proj_b,     &b->norm2_w,    &b->norm2_b,
                             &b->fc1_w,       &b->fc1_b,      &b->fc2_w,      &b->fc2_b,
                             &b->attn_bias,   &b->mlp_norm_w, &b->mlp_norm_b, &b->attn_norm_w,
                             &b->attn_norm_b, &b->qk_scale };
      for (guint i = 0; i < G_N_ELEMENTS (all); i++)
        heed_buffer_destroy (all[i]);
    }
  g_free (p->blocks);
  for (guint l = 0; p->block_gather && l < p->config.depth; l++)
    heed_buffer_destroy (&p->block_gather[l]);
  for (guint l = 0; p->pad_zero && l < p->config.depth; l++)
    heed_buffer_destroy (&p->pad_zero[l]);
  g_free (p->block_gather), g_free (p->pad_zero);
  for (guint i = 0; i < HEED_SWIN_MAX_STAGES; i++) {
    heed_buffer_destroy (&p->merge_norm_w[i]), heed_buffer_destroy (&p->merge_norm_b[i]);
    heed_buffer_destroy (&p->merge_w[i]), heed_buffer_destroy (&p->merge_gather[i]);
  }
  heed_buffer_destroy (&p->final_gather);
  g_free (p->map_order);
  HeedBuffer **bufs[] = { &p->tokens_start, &p->patch_w,      &p->patch_b,     &p->norm_w,
                          &p->norm_b,       &p->head_w,       &p->head_b,      &p->head_dist_w,
                          &p->head_dist_b,  &p->norm_pre_w,   &p->norm_pre_b,  &p->head_mean_w,
                          &p->rope,         &p->patch_norm_w, &p->patch_norm_b };
  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    heed_buffer_destroy (bufs[i]);
  heed_device_destroy (&p->device);
  g_free (p);
}

HeedVitPlan *
heed_vit_plan_new (HeedDevice *device, const HeedModel *model, const HeedVitOptions *options,
                   GError **error)
{
  HeedVitPlan *p = g_new0 (HeedVitPlan, 1);
  p->ref_count = 1;
  p->device = heed_device_ref (device);
  p->config = model->config;
  p->config.labels = NULL; /* the model owns them */
  p->kernels = device->kernels;
  /* the blocks' GEMMs take a frame's tokens as rows (Swin's stages and windows keep the
   * device's tiles) */
  if (!p->config.swin_stages)
    heed_kernels_fit_rows (&p->kernels, p->config.tokens);
  if (options)
    p->options = *options;
  if (p->options.weights != HEED_WEIGHTS_F32 && p->options.weights != HEED_WEIGHTS_F16 &&
      p->options.weights != HEED_WEIGHTS_F16_MATMUL) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "unknown weight format %d",
                 (int) p->options.weights);
    plan_free (p);
    return NULL;
  }
  /* not with fp16 weights: gamma W would be rounded, where W alone is exact for an F16
   * checkpoint */
  p->fold_layernorm = p->kernels.gemm_k4_ln.shader != HEED_SHADER_COUNT && p->config.dim % 4 == 0 &&
                      p->options.weights == HEED_WEIGHTS_F32 && !p->config.swin_stages;
  if (p->config.swin_stages && p->options.layer_attention) {
    /* rollout multiplies every block's attention over one sequence of tokens; Swin's blocks
     * attend within windows of grids that change size */
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "attention rollout runs on plain ViTs, not on Swin's windowed stages");
    plan_free (p);
    return NULL;
  }
  if (!upload_weights (p, model, error)) {
    plan_free (p);
    return NULL;
  }
  return p;
}

gboolean
heed_weight_format_parse (const char *name, HeedWeightFormat *format, GError **error)
{
  static const char *const f32[] = { "fp32", "f32", "float32" };
  static const char *const f16[] = { "fp16", "f16", "float16", "half" };
  for (guint i = 0; i < G_N_ELEMENTS (f32); i++)
    if (g_ascii_strcasecmp (name, f32[i]) == 0) {
      *format = HEED_WEIGHTS_F32;
      return TRUE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (f16); i++)
    if (g_ascii_strcasecmp (name, f16[i]) == 0) {
      *format = HEED_WEIGHTS_F16;
      return TRUE;
    }
  if (g_ascii_strcasecmp (name, "fp16-matmul") == 0) {
    *format = HEED_WEIGHTS_F16_MATMUL;
    return TRUE;
  }
  g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
               "unknown weight format '%s': use fp32, fp16 or fp16-matmul", name);
  return FALSE;
}

const char *
heed_weight_format_name (HeedWeightFormat format)
{
  return format == HEED_WEIGHTS_F16          ? "fp16"
         : format == HEED_WEIGHTS_F16_MATMUL ? "fp16-matmul"
                                             : "fp32";
}

HeedVitPlan *
heed_vit_plan_ref (HeedVitPlan *plan)
{
  g_atomic_int_inc (&plan->ref_count);
  return plan;
}

void
heed_vit_plan_destroy (HeedVitPlan **plan)
{
  HeedVitPlan *p = plan ? *plan : NULL;
  if (!p)
    return;
  *plan = NULL;
  if (g_atomic_int_dec_and_test (&p->ref_count))
    plan_free (p);
}

const HeedModelConfig *
heed_vit_plan_get_config (const HeedVitPlan *plan)
{
  return &plan->config;
}

guint64
heed_vit_plan_get_weight_bytes (const HeedVitPlan *plan)
{
  return plan->weight_bytes;
}

HeedDevice *
heed_vit_plan_get_device (const HeedVitPlan *plan)
{
  return plan->device;
}

/* ---- a run's buffers and recordings -----------------------------------------------------------
 */

/* The patches a frame is cut into: the grid's (Swin's first stage's) */
static guint
input_patches (const HeedModelConfig *c)
{
  return c->swin_stages ? c->swin[0].grid * c->swin[0].grid : c->num_patches;
}

/* The floats of a batch's last-block probabilities (every query row's, [frame][head][row][key]),
 * where the table runs that block's rows for every frame at once and the map is the attention
 * each token receives (an average-pooled ViT's, Swin's: per window); 0 where the map is a class
 * row's, or the table runs it a frame at a time, or the batch's would pass 256 MB (a frame at a
 * time then too) */
static gsize
last_probs_floats (const HeedVitRun *r)
{
  const HeedModelConfig *c = &r->plan->config;
  gsize per_frame = 0;
  if (!r->plan->kernels.attention_rows_all || r->plan->options.layer_attention || c->map_pool)
    return 0;
  if (c->swin_stages) {
    const HeedSwinStage *st = &c->swin[c->swin_stages - 1];
    per_frame = (gsize) st->heads * st->padded * st->padded * st->window * st->window;
  } else if (c->avg_pool)
    per_frame = (gsize) c->num_heads * c->tokens * c->tokens;
  gsize floats = per_frame * r->max_batch;
  return floats * sizeof (float) <= 256u << 20 ? floats : 0;
}

/* Swin's activations, each the largest any stage needs for a batch of B (rows of GEMM A
 * operands in whole tiles), and a window's attention scratch for each stage */
static gboolean
alloc_swin_activations (HeedVitRun *r, GError **error)
{
  HeedDevice *d = r->device;
  const HeedKernels *k = &r->plan->kernels;
  const HeedModelConfig *c = &r->plan->config;
  gsize x = 0, h = 0, qkv = 0, mlp = 0;
  for (guint s = 0; s < c->swin_stages; s++) {
    const HeedSwinStage *st = &c->swin[s];
    guint rows = r->max_batch * st->padded * st->padded; /* its blocks' rows */
    gsize pad = heed_round_up (rows, k->row_align);
    x = MAX (x, pad * st->dim);                     /* Swin V2's qkv and fc1 GEMMs read x */
    h = MAX (h, pad * (s ? 2 * st->dim : st->dim)); /* the merged rows, 4 x the width before */
    qkv = MAX (qkv, heed_attention_qkv_floats (k, rows, st->dim));
    mlp = MAX (mlp, pad * st->mlp_hidden);
    if (!heed_attention_scratch_init (d, k, &r->swin_scratch[s], st->window * st->window, st->dim,
                                      st->heads, error))
      return FALSE;
  }
  h = MAX (h, x);
  return (r->x = heed_buffer_new (d, 4 * x, FALSE, error)) &&
         (r->x_other = heed_buffer_new (d, 4 * x, FALSE, error)) &&
         (r->h = heed_buffer_new (d, 4 * h, FALSE, error)) &&
         (r->qkv = heed_buffer_new (d, 4 * qkv, FALSE, error)) &&
         (r->attn = heed_buffer_new (d, 4 * h, FALSE, error)) &&
         (r->mlp = heed_buffer_new (d, 4 * mlp, FALSE, error));
}

static gboolean
alloc_activations (HeedVitRun *r, GError **error)
{
  HeedDevice *d = r->device;
  const HeedKernels *k = &r->plan->kernels;
  const HeedModelConfig *c = &r->plan->config;
  const VkDeviceSize f = 4;
  guint B = r->max_batch, rows = B * c->tokens;
  guint rows_pad = heed_round_up (rows, k->row_align); /* GEMM A operands read whole tiles */
  guint p_pad = heed_round_up (input_patches (c), k->row_align);
  guint kp = c->in_chans * c->patch_size * c->patch_size;

  /* every slot's input tensor in one buffer, whole texels apart: one patchify a batch */
  r->input_stride = heed_round_up (c->in_chans * c->img_size * c->img_size, 4);
  if (!(r->input = heed_buffer_new (d, f * B * r->input_stride, TRUE, error)))
    return FALSE;
  /* the GEMM reads the last frame's whole tiles: p_pad rows from its first */
  if (!(r->patches =
            heed_buffer_new (d, f * ((B - 1) * input_patches (c) + p_pad) * kp, FALSE, error)))
    return FALSE;
  if (c->swin_stages
          ? !alloc_swin_activations (r, error)
          : !(r->x = heed_buffer_new (d, f * rows * c->dim, FALSE, error)) ||
                !(r->h = heed_buffer_new (d, f * rows_pad * c->dim, FALSE, error)) ||
                !(r->qkv = heed_buffer_new (d, f * heed_attention_qkv_floats (k, rows, c->dim),
                                            FALSE, error)) ||
                !(r->attn = heed_buffer_new (d, f * rows_pad * c->dim, FALSE, error)) ||
                !(r->mlp = heed_buffer_new (d, f * rows_pad * heed_fc1_width (c), FALSE, error)))
    return FALSE;
  return
      /* the class rows, then (distilled) the distillation rows, each read as a GEMM A */
      (r->emb =
           heed_buffer_new (d, f * (B + heed_round_up (B, k->row_align)) * c->dim, TRUE, error)) &&
      /* the mean patch tokens, read as a GEMM A by the mean-token head: whole tiles */
      (!(c->avg_pool || c->patch_mean_head) ||
       (r->pooled =
            heed_buffer_new (d, f * heed_round_up (B, k->row_align) * c->dim, FALSE, error))) &&
      (!c->distilled ||
       (r->logits_dist = heed_buffer_new (d, f * B * MAX (c->num_classes, 1), TRUE, error))) &&
      (r->logits = heed_buffer_new (d, f * B * MAX (c->num_classes, 1), TRUE, error)) &&
      (r->cls_heads = heed_buffer_new (
           d, f * B * heed_attention_map_heads (c) * r->plan->map_tokens, TRUE, error)) &&
      (r->cls_mean = heed_buffer_new (d, f * B * r->plan->map_tokens, TRUE, error)) &&
      (!last_probs_floats (r) ||
       (r->last_probs = heed_buffer_new (d, f * last_probs_floats (r), FALSE, error))) &&
      (!r->plan->options.layer_attention ||
       (r->layer_attn =
            heed_buffer_new (d, f * B * c->depth * c->tokens * c->tokens, TRUE, error))) &&
      (c->swin_stages ||
       heed_attention_scratch_init (d, k, &r->scratch, c->tokens, c->dim, c->num_heads, error)) &&
      (heed_attention_map_heads (c) == c->num_heads ||
       heed_attention_scratch_init (d, k, &r->pool_scratch, c->tokens, c->dim,
                                    heed_attention_map_heads (c), error));
}

/* The attention each of the N tokens in the scores receives, each head's mean over the N query
 * rows (their stride is n_pad), into frame i's rows of cls_heads from token `first` on (a Swin
 * window's tokens, or all of a frame's) */
static gboolean
record_received (HeedVitRun *r, HeedRecorder *rec, const HeedAttentionScratch *s, guint H, guint i,
                 guint first, guint N, GError **error)
{
  guint T = r->plan->map_tokens;
  /* every head in one dispatch: head h's means are the output's row h, T apart (a window's N
   * from `first` on) */
  return heed_op_head_mean_strided (rec, (HeedMat){ s->scores, 0, s->m_pad * s->n_pad, s->n_pad },
                                    r->cls_heads, i * H * T + first, T, H, N, N, "query_mean",
                                    error);
}

/* The attention each token receives, for n frames of N-token windows whose every query row's
 * probabilities are in last_probs ([frame][head][window][row][key], heed_op_attention_rows'
 * layout): each head's mean over a window's rows, into cls_heads in window order, in one
 * dispatch */
static gboolean
record_received_frames (HeedVitRun *r, HeedRecorder *rec, guint H, guint n, guint N, GError **error)
{
  guint windows = r->plan->map_tokens / N;
  return heed_op_head_mean (rec, (HeedMat){ r->last_probs, 0, N * N, N }, r->cls_heads, 0,
                            n * H * windows, N, N, "query_mean", error);
}

/* The maps of frames first .. first + n - 1, each the mean of its heads' rows in cls_heads, in
 * one dispatch */
static gboolean
record_maps_mean (HeedVitRun *r, HeedRecorder *rec, guint H, guint first, guint n, GError **error)
{
  guint T = r->plan->map_tokens;
  return heed_op_head_mean (rec, (HeedMat){ r->cls_heads, first * H * T, H * T, T }, r->cls_mean,
                            first * T, n, T, H, "cls_attention", error);
}

/* The last layer's probabilities of frame i are in the scores: take its CLS rows out. An
 * average-pooled model has no token whose row explains the prediction, which pools all
 * tokens: there each head's row is the mean over every query row (the attention each token
 * receives), and the map their mean. */
static gboolean
record_cls_rows (HeedVitRun *r, HeedRecorder *rec, const HeedAttentionScratch *s, guint H, guint i,
                 GError **error)
{
  const HeedModelConfig *c = &r->plan->config;
  guint T = c->tokens;
  if (c->avg_pool)
    return record_received (r, rec, s, H, i, 0, T, error) &&
           record_maps_mean (r, rec, H, i, 1, error);
  /* every head's CLS row (row 0 of each head's scores, m_pad x n_pad apart) in one dispatch:
   * the heads are the rows of a "mean" over one head (a dispatch costs lavapipe ~0.1 ms) */
  if (!heed_op_head_mean (rec, (HeedMat){ s->scores, 0, s->m_pad * s->n_pad, 0 }, r->cls_heads,
                          i * H * T, H, T, 1, "cls_attention", error))
    return FALSE;
  return heed_op_head_mean (rec, (HeedMat){ s->scores, 0, s->n_pad, s->m_pad * s->n_pad },
                            r->cls_mean, i * T, 1, T, H, "cls_attention", error);
}

/* The forward pass in units a slice boundary may fall between: the preprocessing, the patch
 * embedding, then each block's attention half (LayerNorm, QKV, attention, projection) and its
 * MLP half (LayerNorm, fc1, fc2), of about the same cost at ViT shapes. */
static guint
slice_units (const HeedVitRun *r)
{
  return 2 + 2 * r->plan->config.depth;
}

/* How many submissions the forward pass is cut into: at most one per unit. */
static guint
slice_count (const HeedVitRun *r)
{
  return MAX (1, MIN (r->slices, slice_units (r)));
}

/* The slice unit u falls in: the units shared out evenly, a slice with one more than the rest
 * towards the end (the first, with the frame's copy before it, stays the lightest). */
static guint
slice_of_unit (const HeedVitRun *r, guint u)
{
  guint n = slice_count (r);
  return (u * n + n - 1) / slice_units (r);
}

/* A matrix of a buffer at a float offset with a leading dimension, no batch stride */
#define MAT(buf, off, ld) ((HeedMat){ (buf), (off), (ld), 0 })

/* Attention pooling (HeedModel's map_head, the plan's last block) for a batch of n frames whose
 * blocks have run: the final norm and the keys and values of every token in one GEMM (its zero
 * query weights and query bias make every row's query the pool's), each frame's attention for
 * query row 0 alone, whose probabilities are the attention map, then that row's projection
 * (written: no residual around the pool) and the pool's MLP, added, into emb. */
static gboolean
record_map_head (HeedVitRun *r, HeedRecorder *rec, guint n, GError **error)
{
  const HeedVitPlan *p = r->plan;
  const HeedModelConfig *c = &p->config;
  const HeedKernels *k = &p->kernels;
  const BlockBuffers *b = &p->blocks[c->depth];
  guint T = c->tokens, D = c->dim, Hd = c->mlp_hidden, H = heed_attention_map_heads (c);
  guint rows = n * T;
  HeedAttentionScratch *s = H == c->num_heads ? &r->scratch : &r->pool_scratch;
  guint ld_d = heed_round_up (D, k->col_align), ld_3d = heed_round_up (3 * D, k->col_align);
  guint ld_hd = heed_round_up (Hd, k->col_align);
  guint act = heed_mlp_activation (c);
  HeedMat emb = MAT (r->emb, 0, D), mlp = MAT (r->mlp, 0, Hd);
  if (p->fold_layernorm
          ? !heed_op_gemm_layernorm (rec, MAT (r->x, 0, D), MAT (b->qkv_w, 0, ld_3d),
                                     MAT (r->qkv, 0, 3 * D), b->qkv_b, rows, 3 * D, D, 1, c->ln_eps,
                                     heed_norm_epilogue (c), "attn_pool.kv", "qkv", error)
          : !heed_op_layernorm (rec, MAT (r->x, 0, D), MAT (r->h, 0, D), b->norm1_w, b->norm1_b,
                                rows, D, c->ln_eps, heed_norm_mode (c), "norm", error) ||
                !heed_op_gemm (rec, MAT (r->h, 0, D), MAT (b->qkv_w, 0, ld_3d),
                               MAT (r->qkv, 0, 3 * D), b->qkv_b, rows, 3 * D, D, 1, 1.0f, 0,
                               "attn_pool.kv", "qkv", error))
    return FALSE;
  /* the pool's one query a frame: every frame in one dispatch where the table takes it */
  if (heed_attention_takes_rows (k, r->qkv, T, D, H)) {
    if (!heed_op_attention_rows (rec, r->qkv, NULL, 0, r->attn,
                                 &(HeedProbsOut){ r->cls_heads, 0, 1, 1 }, 0, T, 1, n, D, H,
                                 "attn_pool.attn", error) ||
        !record_maps_mean (r, rec, H, 0, n, error))
      return FALSE;
  } else
    for (guint i = 0; i < n; i++)
      if (!heed_op_attention (rec, s, r->qkv, NULL, r->attn, i * T, T, 1, D, H, TRUE,
                              "attn_pool.attn", error) ||
          !record_cls_rows (r, rec, s, H, i, error))
        return FALSE;
  /* each frame's row 0 (T rows apart) into emb's row i */
  if (!heed_op_gemm (rec, (HeedMat){ r->attn, 0, D, T * D }, MAT (b->proj_w, 0, ld_d),
                     (HeedMat){ r->emb, 0, D, D }, b->proj_b, 1, D, D, n, 1.0f, 0, "attn_pool.proj",
                     "proj", error))
    return FALSE;
  if (!p->fold_layernorm &&
      !heed_op_layernorm (rec, emb, MAT (r->h, 0, D), b->norm2_w, b->norm2_b, n, D, c->ln_eps,
                          heed_norm_mode (c), "attn_pool.norm", error))
    return FALSE;
  return (p->fold_layernorm
              ? heed_op_gemm_layernorm (rec, emb, MAT (b->fc1_w, 0, ld_hd), mlp, b->fc1_b, n, Hd, D,
                                        1, c->ln_eps, act | heed_norm_epilogue (c), "attn_pool.fc1",
                                        "fc1", error)
              : heed_op_gemm (rec, MAT (r->h, 0, D), MAT (b->fc1_w, 0, ld_hd), mlp, b->fc1_b, n, Hd,
                              D, 1, 1.0f, act, "attn_pool.fc1", "fc1", error)) &&
         heed_op_gemm (rec, mlp, MAT (b->fc2_w, 0, ld_d), emb, b->fc2_b, n, D, Hd, 1, 1.0f,
                       HEED_EPI_ACCUMULATE, "attn_pool.fc2", "fc2", error);
}

/* Swin's patch embedding and stages for a batch of n frames whose patches are in r->patches:
 * the patch GEMM into h and its norm into x, in the grid's order; each block's rows gathered
 * from the block before's order into its own (x and x_other taking turns), its attention over
 * every frame's every window in one dispatch (a shifted block's each with its window's bias),
 * or a window at a time where the table has no such kernel and in the last block, whose
 * probabilities are taken for the map; each merging's 2 x 2 tokens gathered from
 * the order the stage before left. The last stage's tokens end in x, in the grid's order. */
static gboolean
record_swin (HeedVitRun *r, HeedRecorder **recs, guint n, GError **error)
{
  const HeedVitPlan *p = r->plan;
  const HeedModelConfig *c = &p->config;
  const HeedKernels *k = &p->kernels;
  guint kp = c->in_chans * c->patch_size * c->patch_size, P = input_patches (c);
  guint D0 = c->swin[0].dim, act = heed_mlp_activation (c);
  HeedNormMode mode = heed_norm_mode (c);
  HeedRecorder *rec = recs[slice_of_unit (r, 1)];
  HeedBuffer *x = r->x, *other = r->x_other, *t;
  char name[64];
  /* every frame's patches in one GEMM, the frames as its batches */
  if (!heed_op_gemm (rec, (HeedMat){ r->patches, 0, kp, P * kp },
                     MAT (p->patch_w, 0, heed_round_up (D0, k->col_align)),
                     (HeedMat){ r->h, 0, D0, P * D0 }, p->patch_b, P, D0, kp, n, 1.0f, 0,
                     "patch_embed", "patch_embed", error) ||
      !heed_op_layernorm (rec, MAT (r->h, 0, D0), MAT (x, 0, D0), p->patch_norm_w, p->patch_norm_b,
                          n * P, D0, c->ln_eps, mode, "patch_embed.norm", error))
    return FALSE;
  guint per_frame = P; /* a frame's rows in x: the grid's, or the last block's padded grid's */
  for (guint s = 0, l = 0; s < c->swin_stages; s++) {
    const HeedSwinStage *st = &c->swin[s];
    guint D = st->dim, Hd = st->mlp_hidden, H = st->heads, T = st->grid * st->grid;
    guint Tp = st->padded * st->padded; /* the blocks' rows: the grid padded to whole windows */
    guint N = st->window * st->window, rows = n * Tp;
    guint ld_d = heed_round_up (D, k->col_align), ld_3d = heed_round_up (3 * D, k->col_align);
    guint ld_hd = heed_round_up (Hd, k->col_align);
    HeedAttentionScratch *sc = &r->swin_scratch[s];
    gsize per_window = (gsize) H * sc->m_pad * sc->n_pad; /* a window's bias */
    if (s) { /* the 2 x 2 tokens as one row of 4 x the width, normed, down to this width (Swin
              * V2: down to this width, then normed) */
      guint Dp = c->swin[s - 1].dim, merged = n * T;
      rec = recs[slice_of_unit (r, 2 + 2 * l)];
      g_snprintf (name, sizeof name, "layers.%u.downsample", s);
      if (!heed_op_gather_rows (rec, x, p->merge_gather[s], r->h, T, per_frame, Dp, 4, n, name,
                                error) ||
          (!c->swin_v2 && !heed_op_layernorm (rec, MAT (r->h, 0, 4 * Dp), MAT (r->h, 0, 4 * Dp),
                                              p->merge_norm_w[s], p->merge_norm_b[s], merged,
                                              4 * Dp, c->ln_eps, mode, name, error)) ||
          !heed_op_gemm (rec, MAT (r->h, 0, 4 * Dp), MAT (p->merge_w[s], 0, ld_d), MAT (x, 0, D),
                         NULL, merged, D, 4 * Dp, 1, 1.0f, 0, name, "proj", error) ||
          (c->swin_v2 &&
           !heed_op_layernorm (rec, MAT (x, 0, D), MAT (x, 0, D), p->merge_norm_w[s],
                               p->merge_norm_b[s], merged, D, c->ln_eps, mode, name, error)))
        return FALSE;
      per_frame = T;
    }
    for (guint b = 0; b < st->depth; b++, l++) {
      const BlockBuffers *bb = &p->blocks[l];
      gboolean shifted = b % 2 && st->shift, last = l == c->depth - 1;
      rec = recs[slice_of_unit (r, 2 + 2 * l)];
#define NAME(what) (g_snprintf (name, sizeof name, "layers.%u.blocks.%u.%s", s, b, what), name)
      if (p->block_gather[l]) { /* padding's rows zero */
        if (!heed_op_gather_rows (rec, x, p->block_gather[l], other, Tp, per_frame, D, 1, n,
                                  NAME ("windows"), error))
          return FALSE;
        t = x, x = other, other = t;
        per_frame = Tp;
      }
      /* Swin V2: no norm before the attention or the MLP (theirs come after them), and cosine
       * attention: the queries and keys of each head scaled to their lengths first. V1 over a
       * padded grid: the normed rows' padding zero again, as transformers and timm pad them */
      HeedBuffer *in = c->swin_v2 ? x : p->pad_zero[l] ? r->attn : r->h;
      if ((!c->swin_v2 &&
           !heed_op_layernorm (rec, MAT (x, 0, D), MAT (r->h, 0, D), bb->norm1_w, bb->norm1_b, rows,
                               D, c->ln_eps, mode, NAME ("norm1"), error)) ||
          (p->pad_zero[l] && !heed_op_gather_rows (rec, r->h, p->pad_zero[l], r->attn, Tp, Tp, D, 1,
                                                   n, NAME ("padding"), error)) ||
          !heed_op_gemm (rec, MAT (in, 0, D), MAT (bb->qkv_w, 0, ld_3d), MAT (r->qkv, 0, 3 * D),
                         bb->qkv_b, rows, 3 * D, D, 1, 1.0f, 0, NAME ("qkv"), "qkv", error) ||
          (c->swin_v2 && !heed_op_qk_normalize (rec, r->qkv, 0, bb->qk_scale, rows, D, H,
                                                NAME ("cosine"), error)))
        return FALSE;
      /* every frame's every window in one dispatch where the table has the kernel (frame f's
       * window f % windows: a frame's windows are consecutive), but for the last block, whose
       * probabilities are the map */
      gboolean all_windows =
          !last && heed_attention_takes_frames_bias (k, r->qkv, bb->attn_bias, D, H);
      if (all_windows &&
          !heed_op_attention_frames_bias (rec, r->qkv, bb->attn_bias, shifted ? Tp / N : 1, r->attn,
                                          0, N, n * (Tp / N), D, H, NAME ("attn"), error))
        return FALSE;
      /* ... and the last too where the table says so, every window's probabilities kept in
       * last_probs for the map: three dispatches a batch */
      if (last && r->last_probs && heed_attention_takes_rows (k, r->qkv, N, D, H)) {
        HeedProbsOut probs = { r->last_probs, 0, N, Tp / N };
        if (!heed_op_attention_rows (rec, r->qkv, bb->attn_bias, shifted ? Tp / N : 1, r->attn,
                                     &probs, 0, N, N, n * (Tp / N), D, H, NAME ("attn"), error) ||
            !record_received_frames (r, rec, H, n, N, error) ||
            !record_maps_mean (r, rec, H, 0, n, error))
          return FALSE;
        all_windows = TRUE;
      }
      for (guint i = 0; i < n && !all_windows; i++) {
        for (guint w = 0; w < Tp / N; w++) {
          if (!heed_op_attention_at (rec, sc, r->qkv, bb->attn_bias, shifted ? w * per_window : 0,
                                     r->attn, i * Tp + w * N, N, N, D, H, last, NAME ("attn"),
                                     error))
            return FALSE;
          /* the map: the attention each of the window's tokens receives, the mean over its
           * queries, in window order; the host puts the windows' values on the grid (map_order) */
          if (last && !record_received (r, rec, sc, H, i, w * N, N, error))
            return FALSE;
        }
        if (last && !record_maps_mean (r, rec, H, i, 1, error))
          return FALSE;
      }
      if (c->swin_v2) { /* x + norm1 (proj (attention)), then + norm2 (mlp (x)) */
        if (!heed_op_gemm (rec, MAT (r->attn, 0, D), MAT (bb->proj_w, 0, ld_d), MAT (r->h, 0, D),
                           bb->proj_b, rows, D, D, 1, 1.0f, 0, NAME ("proj"), "proj", error) ||
            !heed_op_layernorm (rec, MAT (r->h, 0, D), MAT (x, 0, D), bb->norm1_w, bb->norm1_b,
                                rows, D, c->ln_eps, mode | HEED_NORM_ADD, NAME ("norm1"), error))
          return FALSE;
        rec = recs[slice_of_unit (r, 3 + 2 * l)];
        if (!heed_op_gemm (rec, MAT (x, 0, D), MAT (bb->fc1_w, 0, ld_hd), MAT (r->mlp, 0, Hd),
                           bb->fc1_b, rows, Hd, D, 1, 1.0f, act, NAME ("fc1"), "fc1", error) ||
            !heed_op_gemm (rec, MAT (r->mlp, 0, Hd), MAT (bb->fc2_w, 0, ld_d), MAT (r->h, 0, D),
                           bb->fc2_b, rows, D, Hd, 1, 1.0f, 0, NAME ("fc2"), "fc2", error) ||
            !heed_op_layernorm (rec, MAT (r->h, 0, D), MAT (x, 0, D), bb->norm2_w, bb->norm2_b,
                                rows, D, c->ln_eps, mode | HEED_NORM_ADD, NAME ("norm2"), error))
          return FALSE;
        continue;
      }
      if (!heed_op_gemm (rec, MAT (r->attn, 0, D), MAT (bb->proj_w, 0, ld_d), MAT (x, 0, D),
                         bb->proj_b, rows, D, D, 1, 1.0f, HEED_EPI_ACCUMULATE, NAME ("proj"),
                         "proj", error))
        return FALSE;
      rec = recs[slice_of_unit (r, 3 + 2 * l)];
      if (!heed_op_layernorm (rec, MAT (x, 0, D), MAT (r->h, 0, D), bb->norm2_w, bb->norm2_b, rows,
                              D, c->ln_eps, mode, NAME ("norm2"), error) ||
          !heed_op_gemm (rec, MAT (r->h, 0, D), MAT (bb->fc1_w, 0, ld_hd), MAT (r->mlp, 0, Hd),
                         bb->fc1_b, rows, Hd, D, 1, 1.0f, act, NAME ("fc1"), "fc1", error) ||
          !heed_op_gemm (rec, MAT (r->mlp, 0, Hd), MAT (bb->fc2_w, 0, ld_d), MAT (x, 0, D),
                         bb->fc2_b, rows, D, Hd, 1, 1.0f, HEED_EPI_ACCUMULATE, NAME ("fc2"), "fc2",
                         error))
        return FALSE;
#undef NAME
    }
  }
  /* the grid's order, in x, for the final norm and the mean */
  guint T = c->tokens, D = c->dim;
  if (p->final_gather) {
    if (!heed_op_gather_rows (rec, x, p->final_gather, other, T, per_frame, D, 1, n, "grid", error))
      return FALSE;
    t = x, x = other, other = t;
  }
  if (x != r->x)
    heed_recorder_copy (rec, x, 0, r->x, 0, (VkDeviceSize) n * T * D * sizeof (float));
  return TRUE;
}

/* Records the forward pass for a batch of n frames: from the frame staging through the
 * preprocessing shader (from_frame), or from the input tensors; cut into slice_count ()
 * recordings (slice_units ()). */
static gboolean
record_forward (HeedVitRun *r, HeedRecorder **recs, guint n, gboolean from_frame, GError **error)
{
  guint n_slices = slice_count (r);
  HeedRecorder *rec = recs[0];
  const HeedVitPlan *p = r->plan;
  const HeedModelConfig *c = &p->config;
  const HeedKernels *k = &p->kernels;
  guint T = c->tokens, D = c->dim, Hd = c->mlp_hidden, H = c->num_heads, rows = n * T;
  guint W1 = heed_fc1_width (c); /* fc1's outputs: Hd, or SwiGLU's gate and value */
  guint kp = c->in_chans * c->patch_size * c->patch_size;
  guint ld_d = heed_round_up (D, k->col_align);
  guint ld_3d = heed_round_up (3 * D, k->col_align);
  guint ld_w1 = heed_round_up (W1, k->col_align);
  HeedAttentionScratch *s = &r->scratch;
  char name[64];

  guint P = input_patches (c);
  /* frames go straight to the patch rows, unless their NCHW input is wanted: one pass and one
   * dispatch a frame less (patchify's, 0.19 ms of the default model's 6.2 on lavapipe) */
  gboolean to_patches = from_frame && !r->keep_input;
  for (guint i = 0; i < n && from_frame; i++) {
    HeedFrameLayout slot = r->layout;
    for (guint j = 0; j < 3; j++)
      slot.offset[j] += i * r->frame_slot;
    if (!heed_op_preprocess_patches (rec, &slot, r->frame, r->frame_params, r->frame_rows,
                                     to_patches ? r->patches : r->input,
                                     to_patches ? i * P * kp : i * r->input_stride, c->img_size,
                                     to_patches ? c->patch_size : 0, error))
      return FALSE;
  }
  rec = recs[slice_of_unit (r, 1)];
  /* every frame's patches in one dispatch */
  if (!to_patches &&
      !heed_op_patchify (rec, r->input, r->input_stride, r->patches, 0, P * kp, n, c->in_chans,
                         c->img_size, c->img_size, c->patch_size, error))
    return FALSE;
  if (c->swin_stages) { /* stages of their own, then the same pooling and head */
    if (!record_swin (r, recs, n, error))
      return FALSE;
    goto pool;
  }
  if (!heed_op_tokens_init (rec, p->tokens_start, r->x, T, D, n, error))
    return FALSE;
  /* every frame's patches in one GEMM, the frames as its batches (P rows apart in, T out),
   * added to the positions; or, with a norm of its own (AIMv2's), into h, then normed and
   * added to them: a frame at a time past its prefix rows, all frames at once without any */
  HeedMat patch_rows = { p->patch_norm_w ? r->h : r->x, c->num_prefix * D, D, T * D };
  if (!heed_op_gemm (rec, (HeedMat){ r->patches, 0, kp, P * kp }, MAT (p->patch_w, 0, ld_d),
                     patch_rows, p->patch_b, P, D, kp, n, 1.0f,
                     p->patch_norm_w ? 0 : HEED_EPI_ACCUMULATE, "patch_embed", "patch_embed",
                     error))
    return FALSE;
  if (p->patch_norm_w &&
      !heed_op_layernorm_batches (
          rec, patch_rows, (HeedMat){ r->x, c->num_prefix * D, D, T * D }, p->patch_norm_w,
          p->patch_norm_b, c->num_prefix ? P : n * P, c->num_prefix ? n : 1, D, c->ln_eps,
          (HeedNormMode) (heed_norm_mode (c) | HEED_NORM_ADD), "patch_embed.norm", error))
    return FALSE;

  /* CLIP towers: a LayerNorm before the blocks, in place (each row is read before it is
   * written, by the same invocation) */
  if (p->norm_pre_w &&
      !heed_op_layernorm (rec, MAT (r->x, 0, D), MAT (r->x, 0, D), p->norm_pre_w, p->norm_pre_b,
                          rows, D, c->ln_eps, heed_norm_mode (c), "norm_pre", error))
    return FALSE;
  /* The last block of a class-token model: past its attention's keys and values only the class
   * row reaches an output (and DeiT's distillation row, the next one): the final norm and the
   * heads read them, the attention map reads the class row's probabilities. That block's
   * queries, projection and MLP run on those rows alone, each frame's at a stride of T rows
   * (a batch's frames as the GEMMs' batches). Rollout reads every row's probabilities, and
   * average pooling every token. */
  guint last_rows = c->avg_pool || c->map_pool || c->patch_mean_head ||
                            p->options.layer_attention || c->num_prefix == 0
                        ? T
                        : (c->distilled ? 2 : 1);
#define FRAMES(buf, ld) ((HeedMat){ (buf), 0, (ld), T * (ld) })
  for (guint l = 0; l < c->depth; l++) {
    BlockBuffers *b = &p->blocks[l];
    rec = recs[slice_of_unit (r, 2 + 2 * l)];
    /* rows per frame from the attention's output on, and whether that is fewer than all */
    guint m = l == c->depth - 1 ? last_rows : T;
    gboolean few = m < T;
#define NAME(what) (g_snprintf (name, sizeof name, "blocks.%u.%s", l, what), name)
    if (p->fold_layernorm
            ? !heed_op_gemm_layernorm (
                  rec, MAT (r->x, 0, D), MAT (b->qkv_w, 0, ld_3d), MAT (r->qkv, 0, 3 * D), b->qkv_b,
                  rows, 3 * D, D, 1, c->ln_eps, heed_norm_epilogue (c), NAME ("qkv"), "qkv", error)
            : !heed_op_layernorm (rec, MAT (r->x, 0, D), MAT (r->h, 0, D), b->norm1_w, b->norm1_b,
                                  rows, D, c->ln_eps, heed_norm_mode (c), NAME ("norm1"), error) ||
                  !heed_op_gemm (rec, MAT (r->h, 0, D), MAT (b->qkv_w, 0, ld_3d),
                                 MAT (r->qkv, 0, 3 * D), b->qkv_b, rows, 3 * D, D, 1, 1.0f, 0,
                                 NAME ("qkv"), "qkv", error))
      return FALSE;
    /* a rotary embedding: the patch rows' queries and keys turned by their positions, every
     * frame's (RoPE-Mixed's by this block's table) */
    if (p->rope && !heed_op_rope (rec, r->qkv, 0, p->rope, (guint) heed_rope_block_offset (c, l), T,
                                  c->num_prefix, n, D, H, NAME ("rope"), error))
      return FALSE;
    /* the probabilities are read after the last block, and after every block for rollout;
     * where they are not, the batch's frames go in one dispatch (with a bias, where the table
     * says that pays) */
    gboolean keep_probs = (l == c->depth - 1 && !c->map_pool) || p->options.layer_attention;
    gboolean all_frames =
        !keep_probs &&
        (b->attn_bias ? k->attention_bias_frames &&
                            heed_attention_takes_frames_bias (k, r->qkv, b->attn_bias, D, H)
                      : heed_attention_takes_frames (k, r->qkv, D, H));
    if (all_frames &&
        (b->attn_bias ? !heed_op_attention_frames_bias (rec, r->qkv, b->attn_bias, 1, r->attn, 0, T,
                                                        n, D, H, NAME ("attn"), error)
                      : !heed_op_attention_frames (rec, r->qkv, r->attn, 0, T, n, D, H,
                                                   NAME ("attn"), error)))
      return FALSE;
    /* the last block's class rows (and distillation rows): every frame's in one dispatch, the
     * class rows' probabilities straight into cls_heads, then every frame's map in one more.
     * Where the table says so, every row too: an average-pooled model's probabilities into
     * last_probs, then the attention each token receives in one dispatch */
    gboolean rows_at_once = l == c->depth - 1 && keep_probs && !p->options.layer_attention &&
                            (few || (k->attention_rows_all && (!c->avg_pool || r->last_probs))) &&
                            heed_attention_takes_rows (k, r->qkv, T, D, H);
    HeedProbsOut probs = c->avg_pool ? (HeedProbsOut){ r->last_probs, 0, T, 1 }
                                     : (HeedProbsOut){ r->cls_heads, 0, 1, 1 };
    if (rows_at_once && (!heed_op_attention_rows (rec, r->qkv, b->attn_bias, 1, r->attn, &probs, 0,
                                                  T, m, n, D, H, NAME ("attn"), error) ||
                         (c->avg_pool && !record_received_frames (r, rec, H, n, T, error)) ||
                         !record_maps_mean (r, rec, H, 0, n, error)))
      return FALSE;
    for (guint i = 0; i < n && !all_frames && !rows_at_once; i++) {
      if (!heed_op_attention (rec, s, r->qkv, b->attn_bias, r->attn, i * T, T, m, D, H, keep_probs,
                              NAME ("attn"), error))
        return FALSE;
      if (p->options.layer_attention &&
          !heed_op_head_mean (rec, (HeedMat){ s->scores, 0, s->n_pad, s->m_pad * s->n_pad },
                              r->layer_attn, (i * c->depth + l) * T * T, T, T, H,
                              NAME ("attn.mean"), error))
        return FALSE;
      /* the scores are scratch the next frame overwrites */
      if (l == c->depth - 1 && !c->map_pool &&
          !record_cls_rows (r, rec, &r->scratch, c->num_heads, i, error))
        return FALSE;
    }
    /* every row of the batch as one matrix, or m rows of each frame as a GEMM batch */
    guint gm = few ? m : rows, batches = few ? n : 1;
    HeedMat x = few ? FRAMES (r->x, D) : MAT (r->x, 0, D);
    HeedMat attn = few ? FRAMES (r->attn, D) : MAT (r->attn, 0, D);
    HeedMat h = few ? FRAMES (r->h, D) : MAT (r->h, 0, D);
    HeedMat mlp = few ? FRAMES (r->mlp, W1) : MAT (r->mlp, 0, W1);
    /* EVA-02 CLIP's LayerNorm over the attention's output, in place, before its projection */
    if (b->attn_norm_w &&
        !heed_op_layernorm_batches (rec, attn, attn, b->attn_norm_w, b->attn_norm_b, gm, batches, D,
                                    c->ln_eps, heed_norm_mode (c), NAME ("attn.norm"), error))
      return FALSE;
    if (!heed_op_gemm (rec, attn, MAT (b->proj_w, 0, ld_d), x, b->proj_b, gm, D, D, batches, 1.0f,
                       HEED_EPI_ACCUMULATE, NAME ("proj"), "proj", error))
      return FALSE;
    rec = recs[slice_of_unit (r, 3 + 2 * l)];
    guint act = heed_mlp_activation (c);
    if (!p->fold_layernorm &&
        !heed_op_layernorm_batches (rec, x, h, b->norm2_w, b->norm2_b, gm, batches, D, c->ln_eps,
                                    heed_norm_mode (c), NAME ("norm2"), error))
      return FALSE;
    if ((p->fold_layernorm
             ? !heed_op_gemm_layernorm (rec, x, MAT (b->fc1_w, 0, ld_w1), mlp, b->fc1_b, gm, W1, D,
                                        batches, c->ln_eps, act | heed_norm_epilogue (c),
                                        NAME ("fc1"), "fc1", error)
             : !heed_op_gemm (rec, h, MAT (b->fc1_w, 0, ld_w1), mlp, b->fc1_b, gm, W1, D, batches,
                              1.0f, act, NAME ("fc1"), "fc1", error)) ||
        (c->swiglu && !heed_op_swiglu (rec, mlp, gm, Hd, batches, NAME ("swiglu"), error)))
      return FALSE;
    /* EVA-02's LayerNorm over the hidden layer, in place (each row is read before it is
     * written, by the same invocation) */
    if (b->mlp_norm_w &&
        !heed_op_layernorm_batches (rec, mlp, mlp, b->mlp_norm_w, b->mlp_norm_b, gm, batches, Hd,
                                    c->ln_eps, heed_norm_mode (c), NAME ("mlp.norm"), error))
      return FALSE;
    if (!heed_op_gemm (rec, mlp, MAT (b->fc2_w, 0, ld_d), x, b->fc2_b, gm, D, Hd, batches, 1.0f,
                       HEED_EPI_ACCUMULATE, NAME ("fc2"), "fc2", error))
      return FALSE;
#undef NAME
  }
#undef FRAMES

pool:
  rec = recs[n_slices - 1];
  if (c->map_pool && !record_map_head (r, rec, n, error))
    return FALSE;
  /* average pooling: each frame's mean patch token (head_mean over the patch rows, whose
   * stride is D), then fc_norm; with pool_after_norm the final norm on every token first (into
   * h, free after the blocks) and none after, with pool_without_norm none at all; otherwise the
   * final norm of each frame's CLS row (every T-th row). Then the head over n rows. Attention
   * pooling has written emb already. */
  gboolean norm_last = !c->pool_after_norm && !c->pool_without_norm;
  HeedBuffer *tokens = c->pool_after_norm ? r->h : r->x;
  if (c->pool_after_norm &&
      !heed_op_layernorm (rec, MAT (r->x, 0, D), MAT (r->h, 0, D), p->norm_w, p->norm_b, n * T, D,
                          c->ln_eps, heed_norm_mode (c), "norm", error))
    return FALSE;
  /* (every frame in one dispatch: frame i's patch rows from row i T on are the mean's "heads") */
  if (c->avg_pool && !heed_op_head_mean (rec, (HeedMat){ tokens, c->num_prefix * D, T * D, D },
                                         norm_last ? r->pooled : r->emb, 0, n, D, c->num_patches,
                                         "avg_pool", error))
    return FALSE;
  /* the class token with no norm (timm's final_norm=False): each frame's row 0, as it is */
  if (c->pool_without_norm && !c->avg_pool &&
      !heed_op_head_mean (rec, (HeedMat){ r->x, 0, T * D, D }, r->emb, 0, n, D, 1, "cls_token",
                          error))
    return FALSE;
  if (norm_last && !c->map_pool &&
      !heed_op_layernorm (rec, c->avg_pool ? MAT (r->pooled, 0, D) : MAT (r->x, 0, T * D),
                          MAT (r->emb, 0, D), p->norm_w, p->norm_b, n, D, c->ln_eps,
                          heed_norm_mode (c), "norm", error))
    return FALSE;
  if (p->head_w && !heed_op_gemm (rec, MAT (r->emb, 0, D),
                                  MAT (p->head_w, 0, heed_round_up (c->num_classes, k->col_align)),
                                  MAT (r->logits, 0, c->num_classes), p->head_b, n, c->num_classes,
                                  D, 1, 1.0f, 0, "head", "head", error))
    return FALSE;
  /* transformers' Dinov2ForImageClassification: every patch token through the final norm (into
   * h, free after the blocks), each frame's mean of them, and their columns of the head added */
  if (p->head_mean_w) {
    if (!heed_op_layernorm (rec, MAT (r->x, 0, D), MAT (r->h, 0, D), p->norm_w, p->norm_b, n * T, D,
                            c->ln_eps, heed_norm_mode (c), "norm", error))
      return FALSE;
    if (!heed_op_head_mean (rec, (HeedMat){ r->h, c->num_prefix * D, T * D, D }, r->pooled, 0, n, D,
                            c->num_patches, "patch_mean", error))
      return FALSE;
    if (!heed_op_gemm (rec, MAT (r->pooled, 0, D),
                       MAT (p->head_mean_w, 0, heed_round_up (c->num_classes, k->col_align)),
                       MAT (r->logits, 0, c->num_classes), NULL, n, c->num_classes, D, 1, 1.0f,
                       HEED_EPI_ACCUMULATE, "head_mean", "head", error))
      return FALSE;
  }
  /* DeiT distilled: the distillation row (the next one) through its own head */
  if (p->head_dist_w &&
      (!heed_op_layernorm (rec, MAT (r->x, D, T * D), MAT (r->emb, n * D, D), p->norm_w, p->norm_b,
                           n, D, c->ln_eps, heed_norm_mode (c), "norm", error) ||
       !heed_op_gemm (rec, MAT (r->emb, n * D, D),
                      MAT (p->head_dist_w, 0, heed_round_up (c->num_classes, k->col_align)),
                      MAT (r->logits_dist, 0, c->num_classes), p->head_dist_b, n, c->num_classes, D,
                      1, 1.0f, 0, "head_dist", "head", error)))
    return FALSE;
#undef MAT
  for (guint i = 0; i < n_slices; i++)
    if (!heed_recorder_end (recs[i], error))
      return FALSE;
  return TRUE;
}

static guint
max_dispatches (const HeedModelConfig *c, guint n)
{
  if (c->swin_stages) {
    /* per frame: preprocess (2), patchify, the map's rows (heads + 1); per batch: the patch
     * GEMM and norm, each merging (3), the final gather, norm, pooling and head; per block: a
     * gather (and a padded grid's zeroing), 2 norms and 4 GEMMs, and each window's attention (a
     * bias copy and 4) */
    guint total = 16 + n * (4 + c->num_heads) + 3 * c->swin_stages;
    for (guint s = 0; s < c->swin_stages; s++) {
      const HeedSwinStage *st = &c->swin[s];
      total += st->depth * (9 + n * 5 * (st->padded * st->padded) / (st->window * st->window));
    }
    return total;
  }
  /* per frame: preprocess (2), patchify, patch GEMM, CLS rows (heads + mean), and per layer
   * the attention (4) and its mean; per batch: tokens, final norm, head, and per layer 6 (one
   * more for SwiGLU's gate, one for EVA-02's rotation, and n each for its MLP's norm and its
   * attention's) */
  /* + n: the last norm2s; + n + 2: a mean-token head's norm, means and GEMM; attention
   * pooling: its norm, kv, projection, norm and MLP (6) and each frame's attention (4; the CLS
   * rows are counted above); + n: a patch embedding's norm (AIMv2's); + n: the class rows
   * copied out without a norm (timm's final_norm=False) */
  return 11 + n * (8 + c->num_heads) +
         c->depth * (6 + 5 * n + (c->swiglu ? 1 : 0) + (c->rope ? 1 : 0) + (c->mlp_norm ? n : 0) +
                     (c->attn_norm ? n : 0)) +
         n + n + 2 + (c->map_pool ? 6 + 4 * n : 0);
}

/* The recordings (slice_count () of them) for a batch of n, made on first use. */
static HeedRecorder **
recording (HeedVitRun *r, guint n, gboolean from_frame, GError **error)
{
  HeedRecorder **recs = (from_frame ? r->rec_frame : r->rec_tensor) + (n - 1) * HEED_VIT_MAX_SLICES;
  guint n_slices = slice_count (r);
  if (recs[0])
    return recs;
  for (guint i = 0; i < n_slices; i++)
    if (!(recs[i] = heed_recorder_new (r->device, &r->plan->kernels,
                                       max_dispatches (&r->plan->config, n), r->profile, error)))
      break;
  if (!recs[n_slices - 1] || !record_forward (r, recs, n, from_frame, error)) {
    for (guint i = 0; i < n_slices; i++)
      heed_recorder_destroy (&recs[i]);
    return NULL;
  }
  return recs;
}

/* Drops the recordings of batches of every size: from frames, and (all) from tensors too. */
static void
drop_recordings (HeedVitRun *r, gboolean tensors)
{
  for (guint i = 0; i < r->max_batch * HEED_VIT_MAX_SLICES; i++) {
    heed_recorder_destroy (&r->rec_frame[i]);
    if (tensors)
      heed_recorder_destroy (&r->rec_tensor[i]);
  }
}

/* ---- runs ------------------------------------------------------------------------------------ */

HeedVitRun *
heed_vit_run_new (HeedVitPlan *plan, guint max_batch, GError **error)
{
  if (max_batch < 1 || max_batch > 64) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "a batch holds 1 to 64 frames, not %u",
                 max_batch);
    return NULL;
  }
  HeedVitRun *r = g_new0 (HeedVitRun, 1);
  r->plan = heed_vit_plan_ref (plan);
  r->device = plan->device;
  r->max_batch = max_batch;
  r->profile = plan->options.profile;
  r->rec_tensor = g_new0 (HeedRecorder *, max_batch * HEED_VIT_MAX_SLICES);
  r->rec_frame = g_new0 (HeedRecorder *, max_batch * HEED_VIT_MAX_SLICES);
  r->slices = 1;
  r->copy_cmds = g_new0 (VkCommandBuffer, max_batch);
  r->slots = g_new0 (SlotKind, max_batch);
  if (!alloc_activations (r, error) || !(r->copy_pool = heed_command_pool_new (r->device, error)))
    goto error;
  return r;
error:
  heed_vit_run_destroy (&r);
  return NULL;
}

guint
heed_vit_run_get_max_batch (const HeedVitRun *run)
{
  return run->max_batch;
}

static gboolean
check_idle (HeedVitRun *r, guint slot, GError **error)
{
  if (r->submitted) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "the run has a batch in flight: wait for it first");
    return FALSE;
  }
  if (slot >= r->max_batch) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "slot %u is outside the batch of %u", slot,
                 r->max_batch);
    return FALSE;
  }
  return TRUE;
}

gboolean
heed_vit_run_set_frame_layout (HeedVitRun *r, const HeedFrameLayout *layout, GError **error)
{
  const HeedModelConfig *c = &r->plan->config;
  float params[18];

  if (!check_idle (r, 0, error))
    return FALSE;
  drop_recordings (r, FALSE);
  for (guint i = 0; i < r->max_batch; i++)
    if (r->slots[i] != SLOT_TENSOR)
      r->slots[i] = SLOT_EMPTY;
  r->has_layout = FALSE;
  VkDeviceSize slot = heed_frame_staging_bytes (layout);
  if (!r->frame || r->frame->size < slot * r->max_batch) {
    gboolean on_device = r->frame && !r->frame->mapped; /* as the frames before */
    heed_buffer_destroy (&r->frame);
    if (!(r->frame = heed_buffer_new (r->device, slot * r->max_batch, !on_device, error)))
      return FALSE;
  }
  r->frame_slot = slot;
  /* the passes of one frame finish before the next frame's start (every dispatch ends in a
   * barrier), so one intermediate serves every slot */
  gsize rows = heed_frame_rows_bytes (layout, c->img_size);
  if (!r->frame_rows || r->frame_rows->size < rows) {
    heed_buffer_destroy (&r->frame_rows);
    if (!(r->frame_rows = heed_buffer_new (r->device, rows, FALSE, error)))
      return FALSE;
  }
  if (!r->frame_params &&
      !(r->frame_params = heed_buffer_new (r->device, sizeof params, TRUE, error)))
    return FALSE;
  heed_frame_params (layout, c->mean, c->std, params);
  memcpy (r->frame_params->mapped, params, sizeof params);
  r->layout = *layout;
  r->has_layout = TRUE;
  return TRUE;
}

gboolean
heed_vit_run_set_tensor (HeedVitRun *r, guint slot, const float *input, GError **error)
{
  const HeedModelConfig *c = &r->plan->config;
  if (!check_idle (r, slot, error))
    return FALSE;
  if (!input) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "no input image");
    return FALSE;
  }
  memcpy ((float *) r->input->mapped + (gsize) slot * r->input_stride, input,
          (gsize) c->in_chans * c->img_size * c->img_size * 4);
  r->slots[slot] = SLOT_TENSOR;
  return TRUE;
}

/* Makes the frame staging host-visible (frames from host memory) or device-local (frames
 * copied in on the device). It changes only while no other slot holds a frame, and a new
 * buffer means new recordings; a frame on the device still goes into host-visible staging
 * beside host frames of the same batch. */
static gboolean
frame_staging_for (HeedVitRun *r, guint slot, gboolean on_device, GError **error)
{
  gboolean mapped = r->frame->mapped != NULL;
  if (mapped != on_device)
    return TRUE;
  for (guint i = 0; i < r->max_batch; i++)
    if (i != slot && (r->slots[i] == SLOT_FRAME || r->slots[i] == SLOT_DEVICE)) {
      if (on_device)
        return TRUE;
      g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                   "a frame in host memory cannot join a batch of frames on the device");
      return FALSE;
    }
  if (!heed_buffer_renew (&r->frame, !on_device, error))
    return FALSE;
  drop_recordings (r, FALSE); /* they bind the old buffer */
  return TRUE;
}

gboolean
heed_vit_run_frame_staging_on_device (const HeedVitRun *r)
{
  return r->frame && !r->frame->mapped;
}

gboolean
heed_vit_run_set_frame (HeedVitRun *r, guint slot, const guint8 *const planes[3],
                        const guint stride[3], GError **error)
{
  const HeedFrameLayout *l = &r->layout;
  if (!check_idle (r, slot, error))
    return FALSE;
  if (!r->has_layout) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "no frame layout set");
    return FALSE;
  }
  if (!frame_staging_for (r, slot, FALSE, error))
    return FALSE;
  if (!heed_frame_pack (l, (guint8 *) r->frame->mapped + slot * r->frame_slot, planes, stride,
                        error))
    return FALSE;
  r->slots[slot] = SLOT_FRAME;
  return TRUE;
}

gboolean
heed_vit_run_set_frame_device (HeedVitRun *r, guint slot, HeedDevicePlane *planes, guint n_planes,
                               GError **error)
{
  if (!check_idle (r, slot, error))
    return FALSE;
  if (!r->has_layout || n_planes != r->layout.n_planes) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "%s",
                 r->has_layout ? "the frame has the wrong number of planes"
                               : "no frame layout set");
    return FALSE;
  }
  if (!frame_staging_for (r, slot, TRUE, error))
    return FALSE;
  if (!r->copy_cmds[slot] &&
      !(r->copy_cmds[slot] = heed_command_buffer_new (r->device, r->copy_pool, error)))
    return FALSE;
  if (!heed_frame_record_copies (r->copy_cmds[slot], TRUE, &r->layout, planes, n_planes,
                                 r->frame->buffer, slot * r->frame_slot, error))
    return FALSE;
  r->slots[slot] = SLOT_DEVICE;
  return TRUE;
}

gboolean
heed_vit_run_submit (HeedVitRun *r, guint n, GError **error)
{
  VkCommandBuffer copies[64];
  guint n_copies = 0;
  if (!check_idle (r, 0, error))
    return FALSE;
  if (n < 1 || n > r->max_batch) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "a batch of %u frames does not fit in %u",
                 n, r->max_batch);
    return FALSE;
  }
  gboolean from_frame = r->slots[0] != SLOT_TENSOR;
  for (guint i = 0; i < n; i++) {
    if (r->slots[i] == SLOT_EMPTY || (r->slots[i] == SLOT_TENSOR) == from_frame) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "%s",
                   r->slots[i] == SLOT_EMPTY ? "a slot of the batch has no input"
                                             : "a batch mixes tensors and frames");
      return FALSE;
    }
    if (r->slots[i] == SLOT_DEVICE)
      copies[n_copies++] = r->copy_cmds[i];
  }
  HeedRecorder **recs = recording (r, n, from_frame, error);
  if (!recs || !heed_recorder_submit_async (recs[0], copies, n_copies, VK_NULL_HANDLE, error))
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (r->slots[i] == SLOT_DEVICE)
      r->slots[i] = SLOT_EMPTY; /* the copies were recorded for that frame only */
  r->submitted = recs[0];
  r->submitted_slices = recs;
  r->submitted_n = n;
  r->submitted_from_frame = from_frame;
  r->next_slice = 1;
  r->n_slices = slice_count (r);
  return TRUE;
}

gboolean
heed_vit_run_set_slices (HeedVitRun *r, guint slices, GError **error)
{
  if (!check_idle (r, 0, error))
    return FALSE;
  slices = CLAMP (slices, 1, HEED_VIT_MAX_SLICES);
  if (slices != r->slices) {
    drop_recordings (r, TRUE);
    r->slices = slices;
  }
  return TRUE;
}

guint
heed_vit_run_get_slices (const HeedVitRun *r)
{
  return slice_count (r);
}

guint
heed_vit_run_max_slices (const HeedVitRun *r)
{
  return MIN (slice_units (r), HEED_VIT_MAX_SLICES);
}

guint
heed_vit_run_slices_left (const HeedVitRun *r)
{
  return r->submitted ? r->n_slices - r->next_slice : 0;
}

gboolean
heed_vit_run_step (HeedVitRun *r, GError **error)
{
  if (!r->submitted || r->next_slice >= r->n_slices)
    return TRUE;
  if (!heed_recorder_wait (r->submitted, error))
    return FALSE;
  HeedRecorder *next = r->submitted_slices[r->next_slice];
  if (!heed_recorder_submit_async (next, NULL, 0, VK_NULL_HANDLE, error)) {
    r->submitted = NULL;
    return FALSE;
  }
  r->submitted = next;
  r->next_slice++;
  return TRUE;
}

void
heed_vit_run_cancel (HeedVitRun *r)
{
  if (r->submitted)
    heed_recorder_wait (r->submitted, NULL); /* nothing may be reused under the device */
  r->submitted = NULL;
}

gboolean
heed_vit_run_wait_slice (HeedVitRun *r, GError **error)
{
  return !r->submitted || heed_recorder_wait (r->submitted, error);
}

gboolean
heed_vit_run_is_done (HeedVitRun *r)
{
  return !r->submitted || (r->next_slice >= r->n_slices && heed_recorder_is_done (r->submitted));
}

static HeedVitResult *
read_result (HeedVitRun *r, guint i, const HeedRecorder *rec)
{
  const HeedModelConfig *c = &r->plan->config;
  guint T = c->tokens;
  HeedVitResult *res = g_new0 (HeedVitResult, 1);
  res->config = *c;
  if (c->num_classes)
    res->logits = g_memdup2 ((float *) r->logits->mapped + (gsize) i * c->num_classes,
                             c->num_classes * sizeof (float));
  if (c->num_classes && r->logits_dist) { /* DeiT's prediction: the mean of both heads */
    const float *dist = (const float *) r->logits_dist->mapped + (gsize) i * c->num_classes;
    for (guint k = 0; k < c->num_classes; k++)
      res->logits[k] = (res->logits[k] + dist[k]) / 2;
  }
  res->embedding = g_memdup2 ((float *) r->emb->mapped + (gsize) i * c->dim, c->dim * 4);
  /* the mean CLS row over all tokens; the map is over the patches, past the prefix columns
   * (registers and the distillation token never appear in it) */
  guint map_heads = heed_attention_map_heads (c), Tm = r->plan->map_tokens;
  const float *mean = (const float *) r->cls_mean->mapped + (gsize) i * Tm;
  const float *heads = (const float *) r->cls_heads->mapped + (gsize) i * map_heads * Tm;
  if (r->plan->map_order) { /* Swin's windows' maps on the grid, the windows' means their share;
                             * padding's places dropped */
    res->cls_attention = g_new (float, T);
    res->cls_attention_heads = g_new (float, (gsize) map_heads *T);
    for (guint h = 0; h <= map_heads; h++) {
      float *map = h < map_heads ? res->cls_attention_heads + (gsize) h * T : res->cls_attention;
      const float *windowed = h < map_heads ? heads + (gsize) h * Tm : mean;
      for (guint k = 0; k < Tm; k++)
        if (r->plan->map_order[k] != HEED_SWIN_PAD)
          map[r->plan->map_order[k]] = windowed[k] / r->plan->map_windows;
    }
  } else {
    res->cls_attention = g_memdup2 (mean + c->num_prefix, c->num_patches * 4);
    res->cls_attention_heads = g_memdup2 (heads, (gsize) map_heads * T * 4);
  }
  if (r->layer_attn)
    res->layer_attention =
        g_memdup2 ((float *) r->layer_attn->mapped + (gsize) i * c->depth * T * T,
                   (gsize) c->depth * T * T * 4);
  res->has_layout = r->submitted_from_frame;
  if (res->has_layout)
    res->layout = r->layout;
  if (rec->profile && rec->timings->len) {
    res->n_timings = rec->timings->len;
    res->timings = g_memdup2 (rec->timings->data, res->n_timings * sizeof (HeedOpTiming));
  }
  return res;
}

gboolean
heed_vit_run_wait (HeedVitRun *r, HeedVitResult **results, GError **error)
{
  HeedRecorder *rec = r->submitted;
  if (!rec) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "nothing was submitted");
    return FALSE;
  }
  while (r->next_slice < r->n_slices) /* the slices not yet submitted, in turn */
    if (!heed_vit_run_step (r, error))
      return FALSE;
  rec = r->submitted;
  r->submitted = NULL;
  if (!heed_recorder_wait (rec, error))
    return FALSE;
  for (guint i = 0; i < r->submitted_n; i++)
    results[i] = read_result (r, i, rec);
  return TRUE;
}

HeedVitResult *
heed_vit_run_tensor (HeedVitRun *r, const float *input, GError **error)
{
  HeedVitResult *res = NULL;
  if (!heed_vit_run_set_tensor (r, 0, input, error) || !heed_vit_run_submit (r, 1, error) ||
      !heed_vit_run_wait (r, &res, error))
    return NULL;
  return res;
}

const float *
heed_vit_run_get_input (const HeedVitRun *r, guint slot)
{
  return slot < r->max_batch ? (const float *) r->input->mapped + (gsize) slot * r->input_stride
                             : NULL;
}

void
heed_vit_run_keep_input (HeedVitRun *r, gboolean keep)
{
  if (r->keep_input == !!keep)
    return;
  g_return_if_fail (!r->submitted); /* the recordings in flight stay as they are */
  r->keep_input = !!keep;
  drop_recordings (r, FALSE); /* the frames' recordings change; the tensors' do not */
}

void
heed_vit_run_set_profile (HeedVitRun *r, gboolean profile)
{
  if (r->profile == !!profile)
    return;
  g_return_if_fail (!r->submitted); /* the recordings in flight stay as they are */
  r->profile = !!profile;
  drop_recordings (r, TRUE);
}

void
heed_vit_run_destroy (HeedVitRun **run)
{
  HeedVitRun *r = run ? *run : NULL;
  if (!r)
    return;
  if (r->submitted)
    heed_recorder_wait (r->submitted, NULL); /* nothing may be freed under the device */
  drop_recordings (r, TRUE);
  if (r->copy_pool)
    vkDestroyCommandPool (r->device->device, r->copy_pool, NULL); /* frees copy_cmds */
  HeedBuffer **bufs[] = { &r->input,      &r->patches,     &r->x,      &r->h,
                          &r->qkv,        &r->attn,        &r->mlp,    &r->emb,
                          &r->logits,     &r->logits_dist, &r->pooled, &r->cls_heads,
                          &r->cls_mean,   &r->layer_attn,  &r->frame,  &r->frame_params,
                          &r->frame_rows, &r->last_probs };
  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    heed_buffer_destroy (bufs[i]);
  heed_attention_scratch_clear (&r->scratch);
  heed_attention_scratch_clear (&r->pool_scratch);
  for (guint i = 0; i < HEED_SWIN_MAX_STAGES; i++)
    heed_attention_scratch_clear (&r->swin_scratch[i]);
  heed_buffer_destroy (&r->x_other);
  g_free (r->rec_tensor);
  g_free (r->rec_frame);
  g_free (r->copy_cmds);
  g_free (r->slots);
  heed_vit_plan_destroy (&r->plan);
  g_free (r);
  *run = NULL;
}

void
heed_vit_result_destroy (HeedVitResult **result)
{
  HeedVitResult *res = result ? *result : NULL;
  if (!res)
    return;
  g_free (res->logits);
  g_free (res->embedding);
  g_free (res->cls_attention);
  g_free (res->cls_attention_heads);
  g_free (res->layer_attention);
  g_free (res->timings);
  g_free (res);
  *result = NULL;
}
