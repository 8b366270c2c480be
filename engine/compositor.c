/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* heedoverlay's drawing engine: layers (a heatmap, images such as text boxes) composited onto
 * frames in place by shaders/composite.comp, for frames in host memory or on the device. */
#include "heed-private.h"
#include "heed-push.h"

#include <math.h>
#include <string.h>

/* composite.comp's uniform block holds exactly this many words: (28 + 8 * 16) / 4 uvec4s */
G_STATIC_ASSERT (HEED_COMPOSITE_PARAM_WORDS == 28 + 8 * 16);

/* params indices (heed-private.h): keep in step with shaders/composite.comp */
enum {
  P_YUV = HEED_COMPOSITE_P_YUV,
  P_YUV_OFFSET = HEED_COMPOSITE_P_YUV_OFFSET,
  P_HEAT_ON = HEED_COMPOSITE_P_HEAT_ON,
  P_GRID_W = HEED_COMPOSITE_P_GRID_W,
  P_GRID_H = HEED_COMPOSITE_P_GRID_H,
  P_OPACITY = HEED_COMPOSITE_P_OPACITY,
  P_REGION = HEED_COMPOSITE_P_REGION,
  P_N_IMAGES = HEED_COMPOSITE_P_N_IMAGES,
  P_BOUNDS = HEED_COMPOSITE_P_BOUNDS,
  P_IMAGES = HEED_COMPOSITE_P_IMAGES,
};

#define PIXELS_PER_INVOCATION 256

struct _HeedCompositor {
  HeedDevice *device;
  HeedFrameLayout layout; /* the compositor's padded layout */
  gboolean have_layout;
  gboolean pairs_allowed; /* the device's table's composite_pairs, unless the tests say */
  gboolean pairs;         /* the layout is drawn two pixels a 64-bit word */
  guint blocks_x, blocks_y;
  guint strip; /* blocks per invocation */
  HeedCompositeInputs inputs;
  HeedBuffer *frame, *heat, *lut, *pixels, *params;
  HeedRecorder *rec;       /* re-recorded when the layout changes or a buffer grows */
  VkCommandPool copy_pool; /* this compositor's own: pools are not shared between threads */
  VkCommandBuffer copy_in, copy_out;
  gboolean lut_sent, pixels_sent; /* the device's copies hold inputs.lut and inputs.pixels */
  guint uploads_skipped;          /* for the tests */
};

static guint32
float_bits (float f)
{
  guint32 u;
  memcpy (&u, &f, 4);
  return u;
}

gboolean
heed_composite_layout (const HeedFrameLayout *f, gboolean pairs, HeedFrameLayout *out,
                       guint *block_w, guint *block_h, GError **error)
{
  guint w = f->width, cw = (w + 1) / 2, stride[3] = { 0, 0, 0 };
  *block_h = 1;
  switch (f->format) {
  case HEED_PIXEL_RGB:
  case HEED_PIXEL_BGR: *block_w = 4, stride[0] = heed_round_up (w, 4) * 3; break;
  case HEED_PIXEL_GRAY8: *block_w = 4, stride[0] = heed_round_up (w, 4); break;
  case HEED_PIXEL_YUY2: *block_w = 2, stride[0] = 4 * cw; break;
  case HEED_PIXEL_NV12:
    *block_w = 4, *block_h = 2;
    stride[0] = heed_round_up (w, 4), stride[1] = heed_round_up (2 * cw, 4);
    break;
  case HEED_PIXEL_I420: /* with pairs, 16 x 2: each row of Y, U and V in whole 64-bit words */
    *block_w = pairs ? 16 : 8, *block_h = 2;
    stride[0] = heed_round_up (w, *block_w);
    stride[1] = stride[2] = heed_round_up (cw, *block_w / 2);
    break;
  default:
    *block_w = pairs ? 2 : 1;
    stride[0] = 4 * heed_round_up (w, *block_w);
    break;
  }
  if (!heed_frame_layout_init (out, f->format, f->width, f->height, stride, error))
    return FALSE;
  out->matrix = f->matrix;
  out->full_range = f->full_range;
  out->resize = f->resize;
  return TRUE;
}

/* A colour map as the shader reads it (0x00BBGGRR), made once per map for the process rather
 * than per frame (768 polynomial evaluations). */
static const guint32 *
packed_lut (HeedColormap map)
{
  enum { N_MAPS = HEED_COLORMAP_GRAY + 1 };
  static guint32 luts[N_MAPS][256];
  static gsize made[N_MAPS];
  guint m = (guint) map < N_MAPS ? (guint) map : (guint) HEED_COLORMAP_INFERNO;
  if (g_once_init_enter (&made[m])) {
    guint8 lut[256][3];
    heed_colormap_lut ((HeedColormap) m, lut);
    for (guint i = 0; i < 256; i++)
      luts[m][i] = lut[i][0] | (guint32) lut[i][1] << 8 | (guint32) lut[i][2] << 16;
    g_once_init_leave (&made[m], 1);
  }
  return luts[m];
}

/* The layers' rows (first, end), clipped to the frame, as sorted, disjoint spans: only these rows
 * travel to the device and back. A label box at the top and the keyframe timeline at the bottom
 * are a fraction of the frame, though the box around them is all of it. (A 4:2:0 block's other
 * row, outside the spans, is written back on the device as it was there, and not copied out;
 * its chroma row is in the span.) */
static void
set_row_spans (HeedCompositeInputs *in, gint64 rows[][2], guint n, guint height)
{
  guint (*spans)[2] = in->row_spans;
  guint count = 0;
  for (guint i = 0; i < n; i++) {
    guint first = (guint) CLAMP (rows[i][0], 0, (gint64) height);
    guint end = (guint) CLAMP (rows[i][1], 0, (gint64) height);
    if (first >= end)
      continue;
    /* insert in order of first row */
    guint at = count++;
    for (; at > 0 && spans[at - 1][0] > first; at--)
      spans[at][0] = spans[at - 1][0], spans[at][1] = spans[at - 1][1];
    spans[at][0] = first, spans[at][1] = end;
  }
  /* then merge the spans that meet */
  guint merged = 0;
  for (guint i = 0; i < count; i++) {
    if (merged > 0 && spans[i][0] <= spans[merged - 1][1])
      spans[merged - 1][1] = MAX (spans[merged - 1][1], spans[i][1]);
    else
      spans[merged][0] = spans[i][0], spans[merged++][1] = spans[i][1];
  }
  in->n_row_spans = merged;
}

/* v in 0..1; NaN 0 */
static float
unit (float v)
{
  return isfinite (v) ? CLAMP (v, 0.0f, 1.0f) : 0.0f;
}

void
heed_composite_inputs_init (HeedCompositeInputs *in, const HeedFrameLayout *l,
                            const HeedHeatmapLayer *heat, const HeedImageLayer *images, guint n)
{
  float m[9], off[3];

  memset (in, 0, sizeof *in);
  heed_frame_rgb_to_yuv (l, m, off);
  for (guint i = 0; i < 9; i++)
    in->params[P_YUV + i] = float_bits (m[i]);
  for (guint i = 0; i < 3; i++)
    in->params[P_YUV_OFFSET + i] = float_bits (off[i]);

  /* a heatmap whose region is no real rectangle (NaN, infinite, or too far out to be counted in
   * whole pixels: an application's meta) is not drawn; its values and alphas are clamped to
   * 0..1 here, a NaN or an infinity taken as 0, as the shader would turn them into indices */
  gboolean region_ok = heat && isfinite (heat->x) && isfinite (heat->y) && isfinite (heat->width) &&
                       isfinite (heat->height) && heat->width > 0 && heat->height > 0 &&
                       fabsf (heat->x) < 1e7f && fabsf (heat->y) < 1e7f && heat->width < 1e7f &&
                       heat->height < 1e7f;
  if (heat && heat->values && heat->grid_width && heat->grid_height && region_ok) {
    gsize cells = (gsize) heat->grid_width * heat->grid_height;
    in->heat_floats = 4 * cells;
    in->heat = g_new (float, in->heat_floats);
    /* per cell: its (value, alpha), then the next cell's in the row (the last cell's own), so
     * that the shader reads a row's two cells in one texel */
    for (gsize i = 0; i < cells; i++) {
      gsize right = (i + 1) % heat->grid_width == 0 ? i : i + 1;
      in->heat[4 * i] = unit (heat->values[i]);
      in->heat[4 * i + 1] = heat->alpha ? unit (heat->alpha[i]) : 1.0f;
      in->heat[4 * i + 2] = unit (heat->values[right]);
      in->heat[4 * i + 3] = heat->alpha ? unit (heat->alpha[right]) : 1.0f;
    }
    in->params[P_HEAT_ON] = 1;
    in->params[P_GRID_W] = heat->grid_width;
    in->params[P_GRID_H] = heat->grid_height;
    in->params[P_OPACITY] = float_bits (CLAMP (heat->opacity, 0.0f, 1.0f));
    in->params[P_REGION] = float_bits (heat->x);
    in->params[P_REGION + 1] = float_bits (heat->y);
    in->params[P_REGION + 2] = float_bits (heat->width);
    in->params[P_REGION + 3] = float_bits (heat->height);
    memcpy (in->lut, packed_lut (heat->colormap), sizeof in->lut);
  }

  n = MIN (n, HEED_COMPOSITOR_MAX_IMAGES);
  for (guint i = 0; i < n; i++)
    if (images[i].pixels)
      in->n_pixels += (gsize) images[i].width * images[i].height;
  in->pixels = g_new (guint32, MAX (in->n_pixels, 1));
  gsize at = 0;
  guint used = 0;
  for (guint i = 0; i < n; i++) {
    const HeedImageLayer *im = &images[i];
    gsize count = (gsize) im->width * im->height;
    if (!im->pixels || !count)
      continue;
    memcpy (in->pixels + at, im->pixels, count * 4);
    guint32 *e = &in->params[P_IMAGES + 8 * used++];
    e[0] = (guint32) im->x, e[1] = (guint32) im->y, e[2] = im->width, e[3] = im->height;
    e[4] = (guint32) at;
    at += count;
  }
  in->params[P_N_IMAGES] = used;

  /* the pixels any layer may cover, so the shader can skip the rest of the frame, and the rows
   * each one may cover */
  gint64 b[4] = { G_MAXINT32, G_MAXINT32, 0, 0 }, rows[1 + HEED_COMPOSITOR_MAX_IMAGES][2];
  guint n_layers = 0;
  if (in->params[P_HEAT_ON]) {
    b[0] = (gint64) floorf (heat->x), b[1] = (gint64) floorf (heat->y);
    b[2] = (gint64) ceilf (heat->x + heat->width), b[3] = (gint64) ceilf (heat->y + heat->height);
    rows[n_layers][0] = b[1], rows[n_layers++][1] = b[3];
  }
  for (guint i = 0; i < used; i++) {
    const guint32 *e = &in->params[P_IMAGES + 8 * i];
    gint64 x = (gint32) e[0], y = (gint32) e[1];
    b[0] = MIN (b[0], x), b[1] = MIN (b[1], y);
    b[2] = MAX (b[2], x + e[2]), b[3] = MAX (b[3], y + e[3]);
    rows[n_layers][0] = y, rows[n_layers++][1] = y + e[3];
  }
  set_row_spans (in, rows, n_layers, l->height);
  in->params[P_BOUNDS] = (guint32) CLAMP (b[0], 0, (gint64) l->width);
  in->params[P_BOUNDS + 1] = (guint32) CLAMP (b[1], 0, (gint64) l->height);
  in->params[P_BOUNDS + 2] = (guint32) CLAMP (b[2], 0, (gint64) l->width);
  in->params[P_BOUNDS + 3] = (guint32) CLAMP (b[3], 0, (gint64) l->height);
}

void
heed_composite_inputs_clear (HeedCompositeInputs *in)
{
  g_free (in->heat);
  g_free (in->pixels);
  memset (in, 0, sizeof *in);
}

HeedCompositor *
heed_compositor_new (HeedDevice *device, GError **error)
{
  HeedCompositor *c = g_new0 (HeedCompositor, 1);
  c->device = heed_device_ref (device);
  c->pairs_allowed = device->kernels.composite_pairs;
  if (!(c->copy_pool = heed_command_pool_new (device, error)) ||
      !(c->lut = heed_buffer_new (device, sizeof c->inputs.lut, TRUE, error)) ||
      !(c->params = heed_buffer_new (device, sizeof c->inputs.params, TRUE, error))) {
    heed_compositor_destroy (&c);
    return NULL;
  }
  return c;
}

static gboolean ensure_recorded (HeedCompositor *c, GError **error);

gboolean
heed_compositor_set_frame_layout (HeedCompositor *c, const HeedFrameLayout *frame, GError **error)
{
  guint bw, bh;
  heed_recorder_destroy (&c->rec);
  c->have_layout = FALSE;
  /* composite.comp's PAIRS variant draws 4-byte formats and I420 */
  c->pairs =
      c->pairs_allowed && (frame->format <= HEED_PIXEL_XBGR || frame->format == HEED_PIXEL_I420);
  if (!heed_composite_layout (frame, c->pairs, &c->layout, &bw, &bh, error))
    return FALSE;
  c->blocks_x = (c->layout.width + bw - 1) / bw;
  /* about PIXELS_PER_INVOCATION pixels an invocation: workgroups cost a little each on CPUs */
  c->strip = MAX (1, PIXELS_PER_INVOCATION / (bw * bh));
  c->blocks_y = (c->layout.height + bh - 1) / bh;
  if (c->layout.size > G_MAXUINT32 - 8) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "frame of %" G_GSIZE_FORMAT " bytes is too large", c->layout.size);
    return FALSE;
  }
  if (!c->frame || c->frame->size < c->layout.size) {
    gboolean on_device = c->frame && !c->frame->mapped; /* as the frames before */
    heed_buffer_destroy (&c->frame);
    if (!(c->frame = heed_buffer_new (c->device, c->layout.size, !on_device, error)))
      return FALSE;
  }
  c->have_layout = TRUE;
  /* recorded now, so the shader is compiled with the caps and not on the first frame (a live
   * pipeline would get that frame late) */
  return heed_compositor_set_layers (c, NULL, NULL, 0, error) && ensure_recorded (c, error);
}

/* The frame's working copy: host-visible for frames from host memory, device-local for frames
 * on the device (on a discrete GPU the shader then works in its own memory, not the host's
 * over the bus). A new buffer means re-recording. */
static gboolean
frame_buffer_for (HeedCompositor *c, gboolean on_device, GError **error)
{
  if ((c->frame->mapped == NULL) == on_device)
    return TRUE;
  if (!heed_buffer_renew (&c->frame, !on_device, error))
    return FALSE;
  heed_recorder_destroy (&c->rec);
  return TRUE;
}

guint
heed_compositor_uploads_skipped (const HeedCompositor *c)
{
  return c->uploads_skipped;
}

gboolean
heed_compositor_pairs (const HeedCompositor *c)
{
  return c->pairs;
}

void
heed_compositor_allow_pairs (HeedCompositor *c, gboolean allow)
{
  c->pairs_allowed = allow && c->device->kernels.composite_pairs;
}

gboolean
heed_compositor_frame_on_device (const HeedCompositor *c)
{
  return c->frame && !c->frame->mapped;
}

/* Makes `buf` hold at least `size` bytes; a new buffer means re-recording. */
static gboolean
ensure_buffer (HeedCompositor *c, HeedBuffer **buf, gsize size, GError **error)
{
  size = MAX (size, 16);
  if (*buf && (*buf)->size >= size)
    return TRUE;
  heed_buffer_destroy (buf);
  heed_recorder_destroy (&c->rec);
  /* room to grow: images change size with their text */
  return (*buf = heed_buffer_new (c->device, size + size / 2, TRUE, error)) != NULL;
}

gboolean
heed_compositor_set_layers (HeedCompositor *c, const HeedHeatmapLayer *heatmap,
                            const HeedImageLayer *images, guint n_images, GError **error)
{
  if (!c->have_layout) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "no frame layout set");
    return FALSE;
  }
  if (n_images > HEED_COMPOSITOR_MAX_IMAGES) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "%u images, at most %u", n_images,
                 HEED_COMPOSITOR_MAX_IMAGES);
    return FALSE;
  }
  HeedCompositeInputs *in = &c->inputs, old = c->inputs;
  heed_composite_inputs_init (in, &c->layout, heatmap, images, n_images);
  /* what the device holds already is not sent again: the colour map changes with a property,
   * the label images with their text (on a discrete GPU these are writes over the bus) */
  gboolean same_lut = c->lut_sent && memcmp (old.lut, in->lut, sizeof in->lut) == 0;
  gboolean same_pixels = c->pixels_sent && old.n_pixels == in->n_pixels &&
                         memcmp (old.pixels, in->pixels, in->n_pixels * 4) == 0;
  heed_composite_inputs_clear (&old);
  gsize had_pixels = c->pixels ? c->pixels->size : 0;
  if (!ensure_buffer (c, &c->heat, in->heat_floats * 4, error) ||
      !ensure_buffer (c, &c->pixels, in->n_pixels * 4, error)) {
    c->lut_sent = c->pixels_sent = FALSE;
    return FALSE;
  }
  if (in->heat_floats)
    memcpy (c->heat->mapped, in->heat, in->heat_floats * 4);
  if (in->n_pixels && (!same_pixels || c->pixels->size != had_pixels))
    memcpy (c->pixels->mapped, in->pixels, in->n_pixels * 4);
  if (!same_lut)
    memcpy (c->lut->mapped, in->lut, sizeof in->lut);
  memcpy (c->params->mapped, in->params, sizeof in->params);
  c->lut_sent = c->pixels_sent = TRUE;
  c->uploads_skipped += same_lut + (same_pixels && in->n_pixels > 0);
  return TRUE;
}

static gboolean
ensure_recorded (HeedCompositor *c, GError **error)
{
  const HeedFrameLayout *l = &c->layout;
  if (c->rec)
    return TRUE;
  HeedCompositeParams p = { l->format, l->width,    l->height,   { 0 },
                            { 0 },     c->blocks_x, c->blocks_y, c->strip };
  for (guint i = 0; i < 3; i++) {
    p.offset[i] = (uint32_t) l->offset[i];
    p.stride[i] = l->stride[i];
  }
  HeedBuffer *bindings[5] = { c->frame, c->heat, c->lut, c->pixels, c->params };
  guint64 blocks = (guint64) ((c->blocks_x + c->strip - 1) / c->strip) * c->blocks_y;
  guint lanes = c->device->kernels.small_lanes;
  if (!(c->rec = heed_recorder_new (c->device, NULL, 1, FALSE, error)))
    return FALSE;
  HeedShaderId shader = c->pairs ? HEED_SHADER_COMPOSITE_PAIRS : HEED_SHADER_COMPOSITE;
  if (!heed_recorder_dispatch (c->rec, (HeedKernel){ shader, lanes }, 0, bindings, &p, sizeof p,
                               (guint) ((blocks + lanes - 1) / lanes), 1, 1, "composite",
                               "composite", 0, error) ||
      !heed_recorder_end (c->rec, error)) {
    heed_recorder_destroy (&c->rec);
    return FALSE;
  }
  return TRUE;
}

/* Copies the rows the layers may cover (inputs.row_spans) of every plane into the working copy
 * (to_device) or back: for 4:2:0 chroma, each chroma row any of a span's rows shares. */
static void
copy_rows (HeedCompositor *c, gboolean to_device, guint8 *const planes[3], const guint stride[3])
{
  const HeedFrameLayout *l = &c->layout;
  const guint (*spans)[2] = c->inputs.row_spans;
  for (guint i = 0; i < l->n_planes; i++) {
    gboolean chroma = l->rows[i] < l->rows[0];
    guint8 *mine = (guint8 *) c->frame->mapped + l->offset[i];
    for (guint s = 0; s < c->inputs.n_row_spans; s++) {
      guint first = chroma ? spans[s][0] / 2 : spans[s][0];
      guint end = MIN (chroma ? (spans[s][1] + 1) / 2 : spans[s][1], l->rows[i]);
      for (guint r = first; r < end; r++) {
        guint8 *device = mine + (gsize) r * l->stride[i];
        guint8 *host = planes[i] + (gsize) r * stride[i];
        memcpy (to_device ? device : host, to_device ? host : device, l->row_bytes[i]);
      }
    }
  }
}

gboolean
heed_compositor_draw_frame (HeedCompositor *c, guint8 *const planes[3], const guint stride[3],
                            GError **error)
{
  const HeedFrameLayout *l = &c->layout;
  if (!c->have_layout || !frame_buffer_for (c, FALSE, error) || !ensure_recorded (c, error))
    goto no_layout;
  for (guint i = 0; i < l->n_planes; i++)
    if (!planes[i] || stride[i] < l->row_bytes[i]) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "plane %u is missing or too narrow", i);
      return FALSE;
    }
  /* Only the rows the layers may cover travel, to the device and back. */
  if (c->inputs.n_row_spans == 0 || c->inputs.params[P_BOUNDS] >= c->inputs.params[P_BOUNDS + 2])
    return TRUE; /* nothing to draw */
  copy_rows (c, TRUE, planes, stride);
  if (!heed_recorder_submit (c->rec, error))
    return FALSE;
  copy_rows (c, FALSE, planes, stride);
  return TRUE;
no_layout:
  if (error && !*error)
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "no frame layout set");
  return FALSE;
}

gboolean
heed_compositor_draw_frame_device (HeedCompositor *c, HeedDevicePlane *src, HeedDevicePlane *dst,
                                   guint n_planes, GError **error)
{
  if (!c->have_layout || n_planes != c->layout.n_planes) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "%s",
                 c->have_layout ? "the frame has the wrong number of planes"
                                : "no frame layout set");
    return FALSE;
  }
  if (!frame_buffer_for (c, TRUE, error) || !ensure_recorded (c, error))
    return FALSE;
  if (!c->copy_in && !(c->copy_in = heed_command_buffer_new (c->device, c->copy_pool, error)))
    return FALSE;
  if (!c->copy_out && !(c->copy_out = heed_command_buffer_new (c->device, c->copy_pool, error)))
    return FALSE;
  VkBuffer frame = c->frame->buffer;
  return heed_frame_record_copies (c->copy_in, TRUE, &c->layout, src, n_planes, frame, 0, error) &&
         heed_frame_record_copies (c->copy_out, FALSE, &c->layout, dst, n_planes, frame, 0,
                                   error) &&
         heed_recorder_submit_async (c->rec, &c->copy_in, 1, c->copy_out, error) &&
         heed_recorder_wait (c->rec, error);
}

void
heed_compositor_destroy (HeedCompositor **compositor)
{
  HeedCompositor *c = compositor ? *compositor : NULL;
  if (!c)
    return;
  heed_recorder_destroy (&c->rec);
  if (c->copy_pool)
    vkDestroyCommandPool (c->device->device, c->copy_pool, NULL); /* frees copy_in, copy_out */
  HeedBuffer **bufs[] = { &c->frame, &c->heat, &c->lut, &c->pixels, &c->params };
  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    heed_buffer_destroy (bufs[i]);
  heed_composite_inputs_clear (&c->inputs);
  heed_device_destroy (&c->device);
  g_free (c);
  *compositor = NULL;
}
