/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* heedkeyframe's engine side: each frame's compact embedding, computed on the device, and
 * temporal attention over the embeddings of earlier frames (shaders/keyframe.comp).
 *
 * Per frame: a 64 x 64 thumbnail (heed_frame_thumbnail: at most 4 x 4 samples a pixel, RGB in
 * 0..1) made on the host while the frame is read, written straight into the device's
 * host-visible buffer with its Y, Cb and Cr (96 KiB instead of the whole frame: on lavapipe,
 * resampling a 640x480 frame on the device cost more than the rest of heedkeyframe together);
 * then one dispatch on the device, which writes the frame's embedding into a ring of window +
 * persist + 1 slots (and its dot products with every slot into `dots`, kept between frames, so
 * the window's Gram matrix is not recomputed each frame) and asks, for the frame `persist` frames
 * back (the candidate) and each frame after it, how poorly the `window` frames before the candidate
 * explain it. The candidate's novelty is the smallest of those: a change must last persist + 1
 * frames, so a flash of a frame or two does not count, while a cut, or the end of a fade or
 * dissolve, does. Turning novelty into an importance and picking keyframes is
 * heed_keyframe_importance and the element's. */
#include "heed-private.h"
#include "heed-push.h"

#include <math.h>
#include <string.h>

#define THUMB 64
#define HIST_BINS 64
/* a pixel's share of the histogram in fixed point (shaders/keyframe.comp) */
#define HIST_ONE 1024

struct _HeedKeyframeScorer {
  HeedDevice *device;
  HeedKeyframeOptions opt;
  guint ring_slots;
  HeedFrameLayout layout;
  gboolean has_layout;
  HeedBuffer *thumb, *state, *ring, *errors;
  HeedBuffer *dots; /* [head][slot][slot]: the ring slots' dot products, kept by the kernel */
  HeedRecorder *rec;
  guint64 pushed;                          /* frames since the last reset */
  float head_novelty[HEED_KEYFRAME_HEADS]; /* of the last candidate scored */
  /* the ViT's CLS embeddings, one ring slot per frame like the compact ones, when given */
  HeedBuffer *cls_ring, *cls_errors;
  HeedRecorder *cls_rec;
  guint cls_dim;
  guint64 *cls_frame; /* [ring_slots]: the frame whose embedding a slot holds, or G_MAXUINT64 */
  gboolean have_cls_novelty;
  float cls_novelty;
  /* frames in device memory: copied into `frame`, resampled into the thumbnail's RGB planes by
   * the preprocessing shader, then the kernel's RGB variant, which makes the Y, Cb, Cr planes
   * itself; set up at the first such frame of a layout */
  HeedFrameLayout device_layout;
  HeedBuffer *frame, *frame_params, *frame_rows;
  VkCommandPool copy_pool;
  VkCommandBuffer copy_cmd;
  HeedRecorder *device_rec;
};

void
heed_keyframe_options_init (HeedKeyframeOptions *o)
{
  o->window = 8;
  o->persist = 3;
  o->temperature = 0.5f;
}

HeedKeyframeScorer *
heed_keyframe_scorer_new (HeedDevice *device, const HeedKeyframeOptions *options, GError **error)
{
  HeedKeyframeScorer *s = g_new0 (HeedKeyframeScorer, 1);
  heed_keyframe_options_init (&s->opt);
  if (options)
    s->opt = *options;
  if (s->opt.window < 1 || s->opt.window > HEED_KEYFRAME_MAX_WINDOW ||
      (s->opt.persist + 1) * HEED_KEYFRAME_HEADS > 64 || !(s->opt.temperature > 0.0f)) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "keyframe window must be 1 to %u frames, persist at most %u, temperature > 0",
                 HEED_KEYFRAME_MAX_WINDOW, 64 / HEED_KEYFRAME_HEADS - 1);
    g_free (s);
    return NULL;
  }
  s->device = heed_device_ref (device);
  s->ring_slots = s->opt.window + s->opt.persist + 1;
  /* R, G, B, Y, Cb, Cr planes, written by the host; host-visible */
  /* planes R, G, B, Y, Cb, Cr, then the (Cb, Cr) histogram of a host-made thumbnail */
  if (!(s->thumb = heed_buffer_new (device, (6 * THUMB * THUMB + HIST_BINS) * sizeof (float), TRUE,
                                    error)) ||
      !(s->state = heed_buffer_new (device, 8 * sizeof (guint32), TRUE, error)) ||
      /* host-visible: heed_keyframe_scorer_last_embedding reads a slot after each frame */
      !(s->ring =
            heed_buffer_new (device, (gsize) s->ring_slots * HEED_KEYFRAME_DIM * 4, TRUE, error)) ||
      !(s->errors = heed_buffer_new (device, 64 * sizeof (float), TRUE, error)) ||
      !(s->dots = heed_buffer_new (device,
                                   (gsize) HEED_KEYFRAME_HEADS * s->ring_slots * s->ring_slots * 4,
                                   FALSE, error))) {
    heed_keyframe_scorer_destroy (&s);
    return NULL;
  }
  s->cls_frame = g_new (guint64, s->ring_slots);
  heed_keyframe_scorer_reset (s);
  HeedKeyframeParams p = { s->ring_slots, s->opt.temperature, HEED_KEYFRAME_DIM };
  HeedKernel kernel = { HEED_SHADER_KEYFRAME, 64 };
  HeedBuffer *kb[5] = { s->thumb, s->state, s->ring, s->errors, s->dots };
  if (!(s->rec = heed_recorder_new (s->device, NULL, 1, FALSE, error)) ||
      !heed_recorder_dispatch (s->rec, kernel, 0, kb, &p, sizeof p, 1, 1, 1, "keyframe", "keyframe",
                               0, error) ||
      !heed_recorder_end (s->rec, error)) {
    heed_keyframe_scorer_destroy (&s);
    return NULL;
  }
  return s;
}

static void
device_path_clear (HeedKeyframeScorer *s)
{
  heed_recorder_destroy (&s->device_rec);
  heed_buffer_destroy (&s->frame);
  heed_buffer_destroy (&s->frame_params);
  heed_buffer_destroy (&s->frame_rows);
  if (s->copy_pool)
    vkDestroyCommandPool (s->device->device, s->copy_pool, NULL); /* frees copy_cmd */
  s->copy_pool = VK_NULL_HANDLE;
  s->copy_cmd = VK_NULL_HANDLE;
}

void
heed_keyframe_scorer_destroy (HeedKeyframeScorer **scorer)
{
  HeedKeyframeScorer *s = *scorer;
  if (!s)
    return;
  heed_recorder_destroy (&s->rec);
  heed_recorder_destroy (&s->cls_rec);
  device_path_clear (s);
  g_free (s->cls_frame);
  HeedBuffer **bufs[] = { &s->thumb, &s->state,    &s->ring,      &s->errors,
                          &s->dots,  &s->cls_ring, &s->cls_errors };
  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    heed_buffer_destroy (bufs[i]);
  heed_device_destroy (&s->device);
  g_free (s);
  *scorer = NULL;
}

void
heed_keyframe_scorer_reset (HeedKeyframeScorer *s)
{
  s->pushed = 0;
  for (guint i = 0; i < s->ring_slots; i++)
    s->cls_frame[i] = G_MAXUINT64;
}

gboolean
heed_keyframe_scorer_set_layout (HeedKeyframeScorer *s, const HeedFrameLayout *layout,
                                 GError **error)
{
  (void) error; /* every layout heed_frame_layout_init makes can be read */
  s->layout = *layout;
  s->has_layout = TRUE;
  device_path_clear (s); /* made again for the new layout by its first device frame */
  return TRUE;
}

/* Runs the kernel on the thumbnail (after `copies`, the device frame's, when not NULL) and
 * reads the novelty of the frame persist back. */
static gboolean
score (HeedKeyframeScorer *s, HeedRecorder *rec, VkCommandBuffer copies, float *novelty,
       gboolean *have, GError **error)
{
  guint64 t = s->pushed, W = s->opt.window, P = s->opt.persist;
  guint32 *state = s->state->mapped;
  state[0] = (guint32) (t % s->ring_slots);
  /* the candidate, persist frames back, needs a few earlier frames to be explained by */
  *have = t >= P + HEED_KEYFRAME_MIN_HISTORY;
  guint64 c = t >= P ? t - P : 0;
  guint64 n_window = MIN (W, c);
  state[1] = (guint32) (c % s->ring_slots);
  state[2] = *have ? (guint32) (P + 1) : 0;
  state[3] = (guint32) ((c - n_window) % s->ring_slots);
  state[4] = (guint32) n_window;
  if (!heed_recorder_submit_async (rec, copies ? &copies : NULL, copies ? 1 : 0, VK_NULL_HANDLE,
                                   error) ||
      !heed_recorder_wait (rec, error))
    return FALSE;
  s->pushed++;
  *novelty = 0.0f;
  memset (s->head_novelty, 0, sizeof s->head_novelty);
  if (*have) {
    const float *e = s->errors->mapped;
    float least = G_MAXFLOAT;
    for (guint h = 0; h < HEED_KEYFRAME_HEADS; h++)
      s->head_novelty[h] = G_MAXFLOAT;
    for (guint q = 0; q <= P; q++) {
      float mean = 0.0f;
      for (guint h = 0; h < HEED_KEYFRAME_HEADS; h++) {
        mean += e[q * HEED_KEYFRAME_HEADS + h];
        s->head_novelty[h] = MIN (s->head_novelty[h], e[q * HEED_KEYFRAME_HEADS + h]);
      }
      least = MIN (least, mean / HEED_KEYFRAME_HEADS);
    }
    *novelty = least;
  }
  /* the CLS head, when every frame of the window and the queries gave its embedding */
  s->have_cls_novelty = FALSE;
  if (*have && s->cls_rec) {
    gboolean all = TRUE;
    for (guint64 f = c - n_window; f <= t && all; f++)
      all = s->cls_frame[f % s->ring_slots] == f;
    if (all) {
      if (!heed_recorder_submit (s->cls_rec, error))
        return FALSE;
      const float *e = s->cls_errors->mapped;
      s->cls_novelty = G_MAXFLOAT;
      for (guint q = 0; q <= P; q++)
        s->cls_novelty = MIN (s->cls_novelty, e[q]);
      s->have_cls_novelty = TRUE;
    }
  }
  return TRUE;
}

/* The colour head's (Cb, Cr) histogram, in 8 x 8 bins whose centres are at (k + 0.5) / 8 - 0.5,
 * each pixel shared between the 4 bins around it in fixed point (HIST_ONE a pixel), as
 * shaders/keyframe.comp's device path sums it with atomics: on lavapipe each shared-memory
 * atomic is a loop over the lanes, and the 4 x 4096 of them were most of heedkeyframe's time. */
static void
chroma_histogram (const float *cb, const float *cr, guint n, float *out)
{
  guint32 hist[HIST_BINS] = { 0 };
  for (guint i = 0; i < n; i++) {
    float u = CLAMP ((cb[i] + 0.5f) * 8.0f - 0.5f, 0.0f, 7.0f);
    float v = CLAMP ((cr[i] + 0.5f) * 8.0f - 0.5f, 0.0f, 7.0f);
    guint u0 = MIN ((guint) u, 6), v0 = MIN ((guint) v, 6), bin = u0 * 8 + v0;
    float fu = u - u0, fv = v - v0;
    /* the shares are >= 0, where truncating is floorf: one instruction where floorf without
     * SSE4.1 is a dozen */
    hist[bin] += (guint32) ((1 - fu) * (1 - fv) * HIST_ONE + 0.5f);
    hist[bin + 1] += (guint32) ((1 - fu) * fv * HIST_ONE + 0.5f);
    hist[bin + 8] += (guint32) (fu * (1 - fv) * HIST_ONE + 0.5f);
    hist[bin + 9] += (guint32) (fu * fv * HIST_ONE + 0.5f);
  }
  for (guint k = 0; k < HIST_BINS; k++)
    out[k] = (float) hist[k]; /* at most 4096 x 1024: exact in a float */
}

gboolean
heed_keyframe_scorer_push (HeedKeyframeScorer *s, const guint8 *const planes[3],
                           const guint stride[3], float *novelty, gboolean *have, GError **error)
{
  const HeedFrameLayout *l = &s->layout;
  if (!s->has_layout) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "no frame layout set");
    return FALSE;
  }
  float *thumb = s->thumb->mapped;
  if (!heed_frame_thumbnail (l, planes, stride, THUMB, thumb, error))
    return FALSE;
  /* and its Y, Cb, Cr (BT.601) planes, which the kernel reads */
  for (guint i = 0; i < THUMB * THUMB; i++) {
    float r = thumb[i], g = thumb[THUMB * THUMB + i], b = thumb[2 * THUMB * THUMB + i];
    thumb[3 * THUMB * THUMB + i] = 0.299f * r + 0.587f * g + 0.114f * b;
    thumb[4 * THUMB * THUMB + i] = -0.168736f * r - 0.331264f * g + 0.5f * b;
    thumb[5 * THUMB * THUMB + i] = 0.5f * r - 0.418688f * g - 0.081312f * b;
  }
  chroma_histogram (thumb + 4 * THUMB * THUMB, thumb + 5 * THUMB * THUMB, THUMB * THUMB,
                    thumb + 6 * THUMB * THUMB);
  return score (s, s->rec, VK_NULL_HANDLE, novelty, have, error);
}

/* The device path for the current layout: the whole frame (whatever resize the layout was
 * given for a model) to 64 x 64 by heed-box8's area average, RGB in 0..1. */
static gboolean
device_path_init (HeedKeyframeScorer *s, GError **error)
{
  HeedFrameLayout *l = &s->device_layout;
  *l = s->layout;
  l->resize = HEED_RESIZE_STRETCH;
  l->crop_fraction = 1.0f;
  l->interpolation = HEED_INTERPOLATION_HEED_BOX8;
  const float zero[3] = { 0, 0, 0 }, one[3] = { 1, 1, 1 };
  float params[18];
  heed_frame_params (l, zero, one, params);
  HeedKeyframeParams p = { s->ring_slots, s->opt.temperature, HEED_KEYFRAME_DIM };
  HeedKernel kernel = { HEED_SHADER_KEYFRAME_RGB, 64 };
  HeedBuffer *kb[5] = { s->thumb, s->state, s->ring, s->errors, s->dots };
  if (!(s->frame = heed_buffer_new (s->device, heed_frame_staging_bytes (l), FALSE, error)) ||
      !(s->frame_rows =
            heed_buffer_new (s->device, heed_frame_rows_bytes (l, THUMB), FALSE, error)) ||
      !(s->frame_params = heed_buffer_new (s->device, sizeof params, TRUE, error)) ||
      !(s->copy_pool = heed_command_pool_new (s->device, error)) ||
      !(s->copy_cmd = heed_command_buffer_new (s->device, s->copy_pool, error)) ||
      !(s->device_rec = heed_recorder_new (s->device, NULL, 3, FALSE, error)) ||
      !heed_op_preprocess (s->device_rec, l, s->frame, s->frame_params, s->frame_rows, s->thumb,
                           THUMB, error) ||
      !heed_recorder_dispatch (s->device_rec, kernel, 0, kb, &p, sizeof p, 1, 1, 1, "keyframe_rgb",
                               "keyframe", 0, error) ||
      !heed_recorder_end (s->device_rec, error)) {
    device_path_clear (s);
    return FALSE;
  }
  memcpy (s->frame_params->mapped, params, sizeof params);
  return TRUE;
}

gboolean
heed_keyframe_scorer_push_device (HeedKeyframeScorer *s, HeedDevicePlane *planes, guint n_planes,
                                  float *novelty, gboolean *have, GError **error)
{
  if (!s->has_layout || n_planes != s->layout.n_planes) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "%s",
                 s->has_layout ? "the frame has the wrong number of planes"
                               : "no frame layout set");
    return FALSE;
  }
  if (!s->device_rec && !device_path_init (s, error))
    return FALSE;
  return heed_frame_record_copies (s->copy_cmd, TRUE, &s->device_layout, planes, n_planes,
                                   s->frame->buffer, 0, error) &&
         score (s, s->device_rec, s->copy_cmd, novelty, have, error);
}

gboolean
heed_keyframe_scorer_push_cls (HeedKeyframeScorer *s, const float *embedding, guint dim,
                               GError **error)
{
  if (dim == 0 || dim > HEED_KEYFRAME_MAX_CLS_DIM) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "a CLS embedding of %u floats (1 to %u)",
                 dim, HEED_KEYFRAME_MAX_CLS_DIM);
    return FALSE;
  }
  /* a NaN would stay in the ring, and every frame's CLS novelty after it would be NaN */
  for (guint i = 0; i < dim; i++)
    if (!isfinite (embedding[i])) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                   "a CLS embedding with a NaN or an infinity at %u", i);
      return FALSE;
    }
  if (dim != s->cls_dim) { /* another model: start the CLS ring again */
    heed_recorder_destroy (&s->cls_rec);
    heed_buffer_destroy (&s->cls_ring);
    s->cls_dim = 0;
    for (guint i = 0; i < s->ring_slots; i++)
      s->cls_frame[i] = G_MAXUINT64;
    if (!s->cls_errors &&
        !(s->cls_errors = heed_buffer_new (s->device, 64 * sizeof (float), TRUE, error)))
      return FALSE;
    HeedKeyframeParams p = { s->ring_slots, s->opt.temperature, dim };
    HeedKernel kernel = { HEED_SHADER_KEYFRAME_CLS, 64 };
    if (!(s->cls_ring = heed_buffer_new (s->device, (gsize) s->ring_slots * dim * sizeof (float),
                                         TRUE, error)))
      return FALSE;
    /* the CLS variant keeps no dot products: its ring is filled by the host (binding 4 unused) */
    HeedBuffer *kb[5] = { s->cls_ring, s->state, s->cls_ring, s->cls_errors, s->cls_errors };
    if (!(s->cls_rec = heed_recorder_new (s->device, NULL, 1, FALSE, error)) ||
        !heed_recorder_dispatch (s->cls_rec, kernel, 0, kb, &p, sizeof p, 1, 1, 1, "keyframe_cls",
                                 "keyframe", 0, error) ||
        !heed_recorder_end (s->cls_rec, error)) {
      heed_recorder_destroy (&s->cls_rec);
      heed_buffer_destroy (&s->cls_ring);
      return FALSE;
    }
    s->cls_dim = dim;
  }
  /* L2-normalised, as the compact heads are: the softmax's temperature is for cosines */
  double norm = 0.0;
  for (guint i = 0; i < dim; i++)
    norm += (double) embedding[i] * embedding[i];
  float scale = norm > 0.0 ? (float) (1.0 / sqrt (norm)) : 0.0f;
  float *slot = (float *) s->cls_ring->mapped + (s->pushed % s->ring_slots) * dim;
  for (guint i = 0; i < dim; i++)
    slot[i] = embedding[i] * scale;
  s->cls_frame[s->pushed % s->ring_slots] = s->pushed;
  return TRUE;
}

gboolean
heed_keyframe_scorer_cls_novelty (const HeedKeyframeScorer *s, float *novelty)
{
  *novelty = s->have_cls_novelty ? s->cls_novelty : 0.0f;
  return s->have_cls_novelty;
}

void
heed_keyframe_scorer_head_novelty (const HeedKeyframeScorer *s, float novelty[HEED_KEYFRAME_HEADS])
{
  memcpy (novelty, s->head_novelty, sizeof s->head_novelty);
}

gboolean
heed_keyframe_scorer_read_ring (HeedKeyframeScorer *s, float *ring, GError **error)
{
  return heed_buffer_download (
      s->ring, 0, ring, (VkDeviceSize) s->ring_slots * HEED_KEYFRAME_DIM * sizeof (float), error);
}

gboolean
heed_keyframe_scorer_last_embedding (HeedKeyframeScorer *s, float *embedding, float mean_rgb[3],
                                     GError **error)
{
  if (!s->pushed) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "no frame pushed yet");
    return FALSE;
  }
  const float *ring = s->ring->mapped, *thumb = s->thumb->mapped;
  memcpy (embedding, ring + ((s->pushed - 1) % s->ring_slots) * HEED_KEYFRAME_DIM,
          HEED_KEYFRAME_DIM * sizeof (float));
  for (guint c = 0; c < 3; c++) {
    double sum = 0.0;
    for (guint i = 0; i < THUMB * THUMB; i++)
      sum += thumb[c * THUMB * THUMB + i];
    mean_rgb[c] = (float) (sum / (THUMB * THUMB));
  }
  return TRUE;
}

float
heed_keyframe_embedding_distance (const float *a, const float *b)
{
  const guint *offset = heed_keyframe_head_offset;
  float total = 0.0f;
  /* each head has length 1, its last float making up what its structure lacks: two flat
   * frames are the same, and a flat frame is unlike a structured one */
  for (guint h = 0; h < HEED_KEYFRAME_HEADS; h++) {
    float cosine = 0.0f;
    for (guint i = offset[h]; i < offset[h + 1]; i++)
      cosine += a[i] * b[i];
    total += 1.0f - CLAMP (cosine, -1.0f, 1.0f);
  }
  return total / HEED_KEYFRAME_HEADS;
}

guint
heed_keyframe_scorer_ring_slots (const HeedKeyframeScorer *s)
{
  return s->ring_slots;
}

static int
compare_float (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return (x > y) - (x < y);
}

/* How many times what is usual for this video lately (the median of n recent values, `stride`
 * floats apart) the novelty is: a busy shot's motion raises the median, so only a change well
 * above it counts. */
static float
ratio_to_recent (float novelty, const float *recent, guint n, guint stride)
{
  float median = 0.05f;
  if (n >= 5) {
    float *sorted = g_new (float, n);
    for (guint i = 0; i < n; i++)
      sorted[i] = recent[i * stride];
    qsort (sorted, n, sizeof (float), compare_float);
    median = n % 2 ? sorted[n / 2] : 0.5f * (sorted[n / 2 - 1] + sorted[n / 2]);
    g_free (sorted);
  }
  return novelty / (median + 0.02f);
}

/* 0 for nothing new, 0.5 at four times the usual, towards 1 beyond */
static float
importance_of_ratio (float ratio)
{
  return 1.0f - exp2f (-ratio / 4.0f);
}

float
heed_keyframe_importance (float novelty, const float *recent, guint n)
{
  return importance_of_ratio (ratio_to_recent (novelty, recent, n, 1));
}

float
heed_keyframe_heads_importance (const float novelty[HEED_KEYFRAME_HEADS], const float *recent,
                                guint n, const float *cls_novelty, const float *recent_cls,
                                guint n_cls)
{
  /* each head against its own recent values: in a busy monochrome shot the layout and edges
   * change all the time while the colours do not, so a change of colours stands out there,
   * and the layout's and edges' restlessness does not raise the others' bar */
  float ratio = 0.0f;
  guint heads = HEED_KEYFRAME_HEADS;
  for (guint h = 0; h < HEED_KEYFRAME_HEADS; h++)
    ratio += ratio_to_recent (novelty[h], recent + h, n, HEED_KEYFRAME_HEADS);
  if (cls_novelty) {
    ratio += ratio_to_recent (*cls_novelty, recent_cls, n_cls, 1);
    heads++;
  }
  return importance_of_ratio (ratio / heads);
}
