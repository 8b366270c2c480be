/* The ViT runner: weights on the device, the forward pass recorded once into one command
 * buffer (the graph is static for a model), then one submit per image. */
#include "heed-private.h"

#include <string.h>

typedef struct {
  HeedBuffer *norm1_w, *norm1_b, *qkv_w, *qkv_b, *proj_w, *proj_b;
  HeedBuffer *norm2_w, *norm2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} BlockBuffers;

struct _HeedVit {
  HeedDevice *device;
  HeedModelConfig config;
  HeedVitOptions options;

  HeedBuffer *cls, *pos, *patch_w, *patch_b, *norm_w, *norm_b, *head_w, *head_b;
  BlockBuffers *blocks;

  HeedBuffer *input, *patches, *x, *h, *qkv, *attn, *mlp;
  HeedBuffer *emb, *logits, *cls_heads, *cls_mean, *layer_attn; /* host-visible outputs */
  HeedAttentionScratch scratch;
  HeedRecorder *rec;       /* forward pass from a tensor in input */
  HeedRecorder *rec_frame; /* preprocessing from frame, then the forward pass */
  HeedRecorder *last_run;
  HeedBuffer *frame, *frame_params;
  HeedFrameLayout layout;
  VkCommandBuffer copy_cmd; /* device-resident frames: copies into frame, re-recorded per frame */

  float *out_logits, *out_emb, *out_cls, *out_cls_heads, *out_layer;
  HeedVitOutput output;
};

/* A Linear weight [out][in_dim] becomes the GEMM's B operand [in_dim][out_padded]. */
static HeedBuffer *
upload_linear (HeedDevice *d, const float *w, guint out, guint in_dim, GError **error)
{
  guint ld = heed_round_up (out, heed_device_col_align (d));
  gsize n = (gsize) ld * in_dim;
  float *t = g_new0 (float, n);
  for (guint o = 0; o < out; o++)
    for (guint i = 0; i < in_dim; i++)
      t[(gsize) i * ld + o] = w[(gsize) o * in_dim + i];
  HeedBuffer *b = heed_buffer_new (d, (VkDeviceSize) in_dim * ld * 4, FALSE, error);
  if (b && !heed_buffer_upload (b, 0, t, (VkDeviceSize) in_dim * ld * 4, error))
    heed_buffer_destroy (&b);
  g_free (t);
  return b;
}

static HeedBuffer *
upload_array (HeedDevice *d, const float *v, gsize n, GError **error)
{
  HeedBuffer *b = heed_buffer_new (d, n * 4, FALSE, error);
  if (b && !heed_buffer_upload (b, 0, v, n * 4, error))
    heed_buffer_destroy (&b);
  return b;
}

static gboolean
upload_weights (HeedVit *v, const HeedModel *m, GError **error)
{
  HeedDevice *d = v->device;
  const HeedModelConfig *c = &v->config;
  guint D = c->dim, Hd = c->mlp_hidden, kp = c->in_chans * c->patch_size * c->patch_size;

  if (!(v->cls = upload_array (d, m->cls_token, D, error)) ||
      !(v->pos = upload_array (d, m->pos_embed, (gsize) c->tokens * D, error)) ||
      !(v->patch_w = upload_linear (d, m->patch_w, D, kp, error)) ||
      !(v->patch_b = upload_array (d, m->patch_b, D, error)) ||
      !(v->norm_w = upload_array (d, m->norm_w, D, error)) ||
      !(v->norm_b = upload_array (d, m->norm_b, D, error)))
    return FALSE;
  if (m->head_w && (!(v->head_w = upload_linear (d, m->head_w, c->num_classes, D, error)) ||
                    !(v->head_b = upload_array (d, m->head_b, c->num_classes, error))))
    return FALSE;
  v->blocks = g_new0 (BlockBuffers, c->depth);
  for (guint l = 0; l < c->depth; l++) {
    const HeedBlockWeights *w = &m->blocks[l];
    BlockBuffers *b = &v->blocks[l];
    if (!(b->norm1_w = upload_array (d, w->norm1_w, D, error)) ||
        !(b->norm1_b = upload_array (d, w->norm1_b, D, error)) ||
        !(b->qkv_w = upload_linear (d, w->qkv_w, 3 * D, D, error)) ||
        !(b->qkv_b = upload_array (d, w->qkv_b, 3 * D, error)) ||
        !(b->proj_w = upload_linear (d, w->proj_w, D, D, error)) ||
        !(b->proj_b = upload_array (d, w->proj_b, D, error)) ||
        !(b->norm2_w = upload_array (d, w->norm2_w, D, error)) ||
        !(b->norm2_b = upload_array (d, w->norm2_b, D, error)) ||
        !(b->fc1_w = upload_linear (d, w->fc1_w, Hd, D, error)) ||
        !(b->fc1_b = upload_array (d, w->fc1_b, Hd, error)) ||
        !(b->fc2_w = upload_linear (d, w->fc2_w, D, Hd, error)) ||
        !(b->fc2_b = upload_array (d, w->fc2_b, D, error)))
      return FALSE;
  }
  return TRUE;
}

static gboolean
alloc_activations (HeedVit *v, GError **error)
{
  HeedDevice *d = v->device;
  const HeedModelConfig *c = &v->config;
  VkDeviceSize f = 4;
  guint tm = heed_device_row_align (d);
  guint m_pad = heed_round_up (c->tokens, tm), p_pad = heed_round_up (c->num_patches, tm);
  guint kp = c->in_chans * c->patch_size * c->patch_size;

  return (v->input =
              heed_buffer_new (d, f * c->in_chans * c->img_size * c->img_size, TRUE, error)) &&
         (v->patches = heed_buffer_new (d, f * p_pad * kp, FALSE, error)) &&
         (v->x = heed_buffer_new (d, f * c->tokens * c->dim, FALSE, error)) &&
         (v->h = heed_buffer_new (d, f * m_pad * c->dim, FALSE, error)) &&
         (v->qkv = heed_buffer_new (d, f * heed_attention_qkv_floats (d, c->tokens, c->dim), FALSE,
                                    error)) &&
         (v->attn = heed_buffer_new (d, f * m_pad * c->dim, FALSE, error)) &&
         (v->mlp = heed_buffer_new (d, f * m_pad * c->mlp_hidden, FALSE, error)) &&
         (v->emb = heed_buffer_new (d, f * tm * c->dim, TRUE, error)) &&
         (v->logits = heed_buffer_new (d, f * MAX (c->num_classes, 1), TRUE, error)) &&
         (v->cls_heads = heed_buffer_new (d, f * c->num_heads * c->tokens, TRUE, error)) &&
         (v->cls_mean = heed_buffer_new (d, f * c->tokens, TRUE, error)) &&
         (!v->options.layer_attention ||
          (v->layer_attn =
               heed_buffer_new (d, f * c->depth * c->tokens * c->tokens, TRUE, error))) &&
         heed_attention_scratch_init (d, &v->scratch, c->tokens, c->dim, c->num_heads, error);
}

static gboolean
record_forward (HeedVit *v, HeedRecorder *rec, GError **error)
{
  const HeedModelConfig *c = &v->config;
  guint T = c->tokens, D = c->dim, Hd = c->mlp_hidden, H = c->num_heads;
  guint kp = c->in_chans * c->patch_size * c->patch_size;
  guint ld_d = heed_round_up (D, heed_device_col_align (v->device));
  guint ld_3d = heed_round_up (3 * D, heed_device_col_align (v->device));
  guint ld_hd = heed_round_up (Hd, heed_device_col_align (v->device));
  HeedAttentionScratch *s = &v->scratch;
  char name[64];

#define MAT(buf, off, ld) ((HeedMat){ (buf), (off), (ld), 0 })
  if (!heed_op_patchify (rec, v->input, v->patches, c->in_chans, c->img_size, c->img_size,
                         c->patch_size, error) ||
      !heed_op_tokens_init (rec, v->cls, v->pos, v->x, T, D, error) ||
      !heed_op_gemm (rec, MAT (v->patches, 0, kp), MAT (v->patch_w, 0, ld_d), MAT (v->x, D, D),
                     v->patch_b, c->num_patches, D, kp, 1, 1.0f, HEED_EPI_ACCUMULATE, "patch_embed",
                     "patch_embed", error))
    return FALSE;

  for (guint l = 0; l < c->depth; l++) {
    BlockBuffers *b = &v->blocks[l];
#define NAME(what) (g_snprintf (name, sizeof name, "blocks.%u.%s", l, what), name)
    if (!heed_op_layernorm (rec, MAT (v->x, 0, D), MAT (v->h, 0, D), b->norm1_w, b->norm1_b, T, D,
                            c->ln_eps, NAME ("norm1"), error) ||
        !heed_op_gemm (rec, MAT (v->h, 0, D), MAT (b->qkv_w, 0, ld_3d), MAT (v->qkv, 0, 3 * D),
                       b->qkv_b, T, 3 * D, D, 1, 1.0f, 0, NAME ("qkv"), "qkv", error) ||
        !heed_op_attention (rec, s, v->qkv, v->attn, T, D, H, NAME ("attn"), error))
      return FALSE;
    if (v->options.layer_attention &&
        !heed_op_head_mean (rec, (HeedMat){ s->scores, 0, s->n_pad, s->m_pad * s->n_pad },
                            v->layer_attn, l * T * T, T, T, H, NAME ("attn.mean"), error))
      return FALSE;
    if (!heed_op_gemm (rec, MAT (v->attn, 0, D), MAT (b->proj_w, 0, ld_d), MAT (v->x, 0, D),
                       b->proj_b, T, D, D, 1, 1.0f, HEED_EPI_ACCUMULATE, NAME ("proj"), "proj",
                       error) ||
        !heed_op_layernorm (rec, MAT (v->x, 0, D), MAT (v->h, 0, D), b->norm2_w, b->norm2_b, T, D,
                            c->ln_eps, NAME ("norm2"), error) ||
        !heed_op_gemm (rec, MAT (v->h, 0, D), MAT (b->fc1_w, 0, ld_hd), MAT (v->mlp, 0, Hd),
                       b->fc1_b, T, Hd, D, 1, 1.0f, HEED_EPI_GELU, NAME ("fc1"), "fc1", error) ||
        !heed_op_gemm (rec, MAT (v->mlp, 0, Hd), MAT (b->fc2_w, 0, ld_d), MAT (v->x, 0, D),
                       b->fc2_b, T, D, Hd, 1, 1.0f, HEED_EPI_ACCUMULATE, NAME ("fc2"), "fc2",
                       error))
      return FALSE;
#undef NAME
  }

  /* The last layer's probabilities are still in the scores: take the CLS rows out. */
  for (guint h = 0; h < H; h++)
    if (!heed_op_head_mean (rec, (HeedMat){ s->scores, h * s->m_pad * s->n_pad, s->n_pad, 0 },
                            v->cls_heads, h * T, 1, T, 1, "cls_attention", error))
      return FALSE;
  if (!heed_op_head_mean (rec, (HeedMat){ s->scores, 0, s->n_pad, s->m_pad * s->n_pad },
                          v->cls_mean, 0, 1, T, H, "cls_attention", error) ||
      !heed_op_layernorm (rec, MAT (v->x, 0, D), MAT (v->emb, 0, D), v->norm_w, v->norm_b, 1, D,
                          c->ln_eps, "norm", error))
    return FALSE;
  if (v->head_w &&
      !heed_op_gemm (
          rec, MAT (v->emb, 0, D),
          MAT (v->head_w, 0, heed_round_up (c->num_classes, heed_device_col_align (v->device))),
          MAT (v->logits, 0, c->num_classes), v->head_b, 1, c->num_classes, D, 1, 1.0f, 0, "head",
          "head", error))
    return FALSE;
#undef MAT
  return heed_recorder_end (rec, error);
}

static guint
max_dispatches (const HeedModelConfig *c)
{
  return 17 + c->depth * 12 + c->num_heads;
}

HeedVit *
heed_vit_new (HeedDevice *device, const HeedModel *model, const HeedVitOptions *options,
              GError **error)
{
  HeedVit *v = g_new0 (HeedVit, 1);
  const HeedModelConfig *c = &model->config;

  v->device = device;
  v->config = *c;
  v->config.labels = NULL; /* the model owns them */
  if (options)
    v->options = *options;
  if (!upload_weights (v, model, error) || !alloc_activations (v, error))
    goto error;
  v->rec = heed_recorder_new (device, max_dispatches (c), v->options.profile, error);
  if (!v->rec || !record_forward (v, v->rec, error))
    goto error;
  v->last_run = v->rec;

  v->out_logits = g_new0 (float, MAX (c->num_classes, 1));
  v->out_emb = g_new0 (float, c->dim);
  v->out_cls = g_new0 (float, c->num_patches);
  v->out_cls_heads = g_new0 (float, (gsize) c->num_heads * c->tokens);
  if (v->options.layer_attention)
    v->out_layer = g_new0 (float, (gsize) c->depth * c->tokens * c->tokens);
  v->output.logits = c->num_classes ? v->out_logits : NULL;
  v->output.embedding = v->out_emb;
  v->output.cls_attention = v->out_cls;
  v->output.cls_attention_heads = v->out_cls_heads;
  v->output.layer_attention = v->out_layer;
  return v;

error:
  heed_vit_destroy (&v);
  return NULL;
}

/* Submits rec (NULL: the caller already ran the frame recorder) and copies the results out. */
static gboolean
submit_and_read (HeedVit *v, HeedRecorder *rec, GError **error)
{
  const HeedModelConfig *c = &v->config;
  if (rec && !heed_recorder_submit (rec, error))
    return FALSE;
  v->last_run = rec ? rec : v->rec_frame;
  memcpy (v->out_logits, v->logits->mapped, c->num_classes * 4);
  memcpy (v->out_emb, v->emb->mapped, c->dim * 4);
  memcpy (v->out_cls, (float *) v->cls_mean->mapped + 1, c->num_patches * 4);
  memcpy (v->out_cls_heads, v->cls_heads->mapped, (gsize) c->num_heads * c->tokens * 4);
  if (v->out_layer)
    memcpy (v->out_layer, v->layer_attn->mapped, (gsize) c->depth * c->tokens * c->tokens * 4);
  return TRUE;
}

gboolean
heed_vit_run (HeedVit *v, const float *input, GError **error)
{
  const HeedModelConfig *c = &v->config;
  if (!input) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "no input image");
    return FALSE;
  }
  memcpy (v->input->mapped, input, (gsize) c->in_chans * c->img_size * c->img_size * 4);
  return submit_and_read (v, v->rec, error);
}

gboolean
heed_vit_set_frame_layout (HeedVit *v, const HeedFrameLayout *layout, GError **error)
{
  const HeedModelConfig *c = &v->config;
  float params[18];

  heed_recorder_destroy (&v->rec_frame);
  if (!v->frame || v->frame->size < layout->size + 4) {
    heed_buffer_destroy (&v->frame);
    if (!(v->frame = heed_buffer_new (v->device, layout->size + 4, TRUE, error)))
      return FALSE;
  }
  if (!v->frame_params &&
      !(v->frame_params = heed_buffer_new (v->device, sizeof params, TRUE, error)))
    return FALSE;
  heed_frame_params (layout, c->mean, c->std, params);
  memcpy (v->frame_params->mapped, params, sizeof params);
  v->layout = *layout;
  v->rec_frame = heed_recorder_new (v->device, max_dispatches (c), v->options.profile, error);
  if (!v->rec_frame ||
      !heed_op_preprocess (v->rec_frame, layout, v->frame, v->frame_params, v->input, c->img_size,
                           error) ||
      !record_forward (v, v->rec_frame, error)) {
    heed_recorder_destroy (&v->rec_frame);
    return FALSE;
  }
  return TRUE;
}

gboolean
heed_vit_run_frame (HeedVit *v, const guint8 *const planes[3], const guint stride[3],
                    GError **error)
{
  const HeedFrameLayout *l = &v->layout;
  if (!v->rec_frame) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "no frame layout set");
    return FALSE;
  }
  for (guint i = 0; i < l->n_planes; i++) {
    guint8 *dst = (guint8 *) v->frame->mapped + l->offset[i];
    if (!planes[i] || stride[i] < l->row_bytes[i]) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "plane %u is missing or too narrow", i);
      return FALSE;
    }
    if (stride[i] == l->stride[i])
      memcpy (dst, planes[i], (gsize) l->stride[i] * (l->rows[i] - 1) + l->row_bytes[i]);
    else
      for (guint r = 0; r < l->rows[i]; r++)
        memcpy (dst + (gsize) r * l->stride[i], planes[i] + (gsize) r * stride[i], l->row_bytes[i]);
  }
  return submit_and_read (v, v->rec_frame, error);
}

gboolean
heed_vit_run_frame_device (HeedVit *v, HeedDevicePlane *planes, guint n_planes, GError **error)
{
  if (!v->rec_frame || n_planes != v->layout.n_planes) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "%s",
                 v->rec_frame ? "the frame has the wrong number of planes" : "no frame layout set");
    return FALSE;
  }
  if (!v->copy_cmd && !(v->copy_cmd = heed_device_alloc_command_buffer (v->device, error)))
    return FALSE;
  if (!heed_frame_record_copies (v->copy_cmd, TRUE, &v->layout, planes, n_planes, v->frame->buffer,
                                 error) ||
      !heed_recorder_submit_after (v->rec_frame, v->copy_cmd, error))
    return FALSE;
  return submit_and_read (v, NULL, error);
}

const float *
heed_vit_get_input (const HeedVit *v)
{
  return v->input->mapped;
}

const HeedFrameLayout *
heed_vit_get_layout (const HeedVit *v)
{
  return v->rec_frame ? &v->layout : NULL;
}

const HeedModelConfig *
heed_vit_get_config (const HeedVit *v)
{
  return &v->config;
}

const HeedVitOutput *
heed_vit_get_output (const HeedVit *v)
{
  return &v->output;
}

const HeedOpTiming *
heed_vit_get_timings (const HeedVit *v, guint *n)
{
  *n = v->last_run->profile ? v->last_run->timings->len : 0;
  return (const HeedOpTiming *) v->last_run->timings->data;
}

void
heed_vit_destroy (HeedVit **vit)
{
  HeedVit *v = vit ? *vit : NULL;
  if (!v)
    return;
  heed_device_free_command_buffer (v->device, &v->copy_cmd);
  heed_recorder_destroy (&v->rec);
  heed_recorder_destroy (&v->rec_frame);
  heed_buffer_destroy (&v->frame);
  heed_buffer_destroy (&v->frame_params);
  if (v->blocks)
    for (guint l = 0; l < v->config.depth; l++) {
      BlockBuffers *b = &v->blocks[l];
      HeedBuffer **all[] = {
        &b->norm1_w, &b->norm1_b, &b->qkv_w, &b->qkv_b, &b->proj_w, &b->proj_b,
        &b->norm2_w, &b->norm2_b, &b->fc1_w, &b->fc1_b, &b->fc2_w,  &b->fc2_b
      };
      for (guint i = 0; i < G_N_ELEMENTS (all); i++)
        heed_buffer_destroy (all[i]);
    }
  g_free (v->blocks);
  HeedBuffer **bufs[] = { &v->cls,    &v->pos,    &v->patch_w,   &v->patch_b,  &v->norm_w,
                          &v->norm_b, &v->head_w, &v->head_b,    &v->input,    &v->patches,
                          &v->x,      &v->h,      &v->qkv,       &v->attn,     &v->mlp,
                          &v->emb,    &v->logits, &v->cls_heads, &v->cls_mean, &v->layer_attn };
  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    heed_buffer_destroy (bufs[i]);
  heed_attention_scratch_clear (&v->scratch);
  g_free (v->out_logits);
  g_free (v->out_emb);
  g_free (v->out_cls);
  g_free (v->out_cls_heads);
  g_free (v->out_layer);
  g_free (v);
  *vit = NULL;
}
