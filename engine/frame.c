/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Frame layouts, resize geometry and colour conversion parameters, shared by the
 * preprocessing op, its C reference and the mapping of results back onto the frame. */
#include "heed-private.h"

#include <math.h>
#include <string.h>

/* bytes per pixel of plane 0 for packed formats; 0 for planar */
static guint
packed_bpp (HeedPixelFormat f)
{
  switch (f) {
  case HEED_PIXEL_RGB:
  case HEED_PIXEL_BGR: return 3;
  case HEED_PIXEL_GRAY8: return 1;
  case HEED_PIXEL_YUY2: return 2;
  case HEED_PIXEL_I420:
  case HEED_PIXEL_NV12: return 0;
  default: return 4;
  }
}

gboolean
heed_frame_layout_init (HeedFrameLayout *l, HeedPixelFormat format, guint width, guint height,
                        const guint stride[3], GError **error)
{
  guint cw = (width + 1) / 2, ch = (height + 1) / 2;
  *l = (HeedFrameLayout){ .format = format, .width = width, .height = height, .crop_fraction = 1 };
  if ((guint) format > HEED_PIXEL_GRAY8) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "unknown pixel format %d", format);
    return FALSE;
  }
  if (width < 1 || height < 1 || width > HEED_FRAME_MAX_SIDE || height > HEED_FRAME_MAX_SIDE) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "frame size %ux%u is outside 1x1 to %ux%u",
                 width, height, HEED_FRAME_MAX_SIDE, HEED_FRAME_MAX_SIDE);
    return FALSE;
  }
  if (format == HEED_PIXEL_I420) {
    l->n_planes = 3;
    l->row_bytes[0] = width, l->row_bytes[1] = l->row_bytes[2] = cw;
    l->rows[0] = height, l->rows[1] = l->rows[2] = ch;
  } else if (format == HEED_PIXEL_NV12) {
    l->n_planes = 2;
    l->row_bytes[0] = width, l->row_bytes[1] = 2 * cw;
    l->rows[0] = height, l->rows[1] = ch;
  } else {
    l->n_planes = 1;
    l->row_bytes[0] = format == HEED_PIXEL_YUY2 ? 4 * cw : width * packed_bpp (format);
    l->rows[0] = height;
  }
  gsize offset = 0;
  for (guint i = 0; i < l->n_planes; i++) {
    if (stride[i] < l->row_bytes[i]) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                   "plane %u stride %u is below its %u bytes of pixels per row", i, stride[i],
                   l->row_bytes[i]);
      return FALSE;
    }
    /* Whole 32-bit words are read for 4-byte pixels: keep their rows word-aligned. */
    l->stride[i] =
        packed_bpp (format) == 4 || format == HEED_PIXEL_YUY2 ? (stride[i] + 3) / 4 * 4 : stride[i];
    l->offset[i] = offset;
    offset += ((gsize) l->stride[i] * l->rows[i] + 3) / 4 * 4;
  }
  l->size = offset;
  return TRUE;
}

void
heed_frame_layout_use_model (HeedFrameLayout *l, const HeedModelConfig *c)
{
  l->resize = c->resize;
  l->crop_fraction = c->crop_fraction;
  l->interpolation = c->interpolation;
  l->crop_rounding = c->crop_rounding;
}

/* The start of a centred window of `keep` out of `total` pixels. */
static guint
centre_offset (guint total, guint keep, HeedCropRounding rounding)
{
  guint margin = total > keep ? total - keep : 0, start = margin / 2;
  /* torchvision: int(round(margin / 2.0)), and Python rounds k + 0.5 to the even neighbour */
  if (rounding == HEED_CROP_ROUND_HALF_EVEN && margin % 2 && start % 2)
    start++;
  return start;
}

/* The integer steps of timm's eval transform and transformers' image processors: resize the
 * whole frame to whole pixels, then crop whole pixels. Matching their rounding matters: one
 * pixel of shift is a large difference in every pixel near an edge. */
void
heed_frame_axes (const HeedFrameLayout *l, guint size, HeedResampleAxis ax[2])
{
  guint w = l->width, h = l->height;
  float f = l->crop_fraction > 0.0f && l->crop_fraction < 1.0f ? l->crop_fraction : 1.0f;
  /* the size the crop is taken from: timm's floor (size / crop_pct), transformers' size (both
   * exact at the checkpoint's own size, as crop_fraction was derived from them) */
  guint scaled = MAX ((guint) lround (size / f), size);
  ax[0] = (HeedResampleAxis){ .in = w, .resized = scaled, .count = size };
  ax[1] = (HeedResampleAxis){ .in = h, .resized = scaled, .count = size };
  if (l->resize == HEED_RESIZE_CROP) {
    /* the shorter side to `scaled`, the longer as torchvision and transformers compute it:
     * int (scaled * long / short) */
    guint i_long = w > h ? 0 : 1, i_short = 1 - i_long;
    guint lng = MAX (w, h), shrt = MIN (w, h);
    ax[i_long].resized = MAX ((guint) ((double) scaled * lng / shrt), scaled);
    ax[i_short].resized = scaled;
  } else if (l->resize == HEED_RESIZE_LETTERBOX) {
    /* the whole frame into size x size, aspect kept, centred between black bars */
    double scale = (double) size / MAX (w, h);
    for (guint i = 0; i < 2; i++) {
      guint n = CLAMP ((guint) lround (ax[i].in * scale), 1, size);
      ax[i].resized = ax[i].count = n;
      ax[i].offset = (size - n) / 2;
    }
    return;
  }
  for (guint i = 0; i < 2; i++)
    ax[i].first = centre_offset (ax[i].resized, size, l->crop_rounding);
}

void
heed_frame_geometry (const HeedFrameLayout *l, guint size, float src[4], float dst[4])
{
  HeedResampleAxis ax[2];
  heed_frame_axes (l, size, ax);
  for (guint i = 0; i < 2; i++) {
    double scale = (double) ax[i].in / ax[i].resized;
    src[i] = (float) (ax[i].first * scale);
    src[2 + i] = (float) (ax[i].count * scale);
    dst[i] = ax[i].offset;
    dst[2 + i] = ax[i].count;
  }
}

static const char *const interpolation_names[] = { "bilinear", "bicubic", "lanczos",  "box",
                                                   "hamming",  "nearest", "heed-box8" };

const char *
heed_interpolation_name (HeedInterpolation f)
{
  return (guint) f < G_N_ELEMENTS (interpolation_names) ? interpolation_names[f] : "unknown";
}

gboolean
heed_interpolation_from_name (const char *name, HeedInterpolation *f)
{
  for (guint i = 0; name && i < G_N_ELEMENTS (interpolation_names); i++)
    if (g_ascii_strcasecmp (name, interpolation_names[i]) == 0) {
      *f = (HeedInterpolation) i;
      return TRUE;
    }
  return FALSE;
}

static float
sincf_ (float x)
{
  return x == 0.0f ? 1.0f : sinf ((float) G_PI * x) / ((float) G_PI * x);
}

/* Pillow's filters (libImaging/Resample.c), on distances in source pixels divided by the
 * scale when shrinking. */
float
heed_resample_support (HeedInterpolation f)
{
  switch (f) {
  case HEED_INTERPOLATION_HEED_BOX8: return 1.0f; /* its taps lie within bilinear's span */
  case HEED_INTERPOLATION_BICUBIC: return 2.0f;
  case HEED_INTERPOLATION_LANCZOS: return 3.0f;
  case HEED_INTERPOLATION_BOX: return 0.5f;
  case HEED_INTERPOLATION_NEAREST: return 0.0f;
  default: return 1.0f;
  }
}

float
heed_resample_scale (const HeedResampleAxis *a, float *inv_scale)
{
  float scale = (float) a->in / (float) a->resized;
  if (inv_scale)
    *inv_scale = 1.0f / MAX (scale, 1.0f);
  return scale;
}

void
heed_resample_span (const HeedResampleAxis *a, HeedInterpolation f, guint X, HeedSpan *s)
{
  float scale = heed_resample_scale (a, &s->inv_scale);
  float support = heed_resample_support (f) * MAX (scale, 1.0f);
  s->center = ((float) X + 0.5f) * scale;
  if (f == HEED_INTERPOLATION_NEAREST) {
    /* Pillow resizes with NEAREST by an affine transform: the pixel under the centre */
    s->first = MIN ((gint) floorf (s->center), (gint) a->in - 1);
    s->n = 1;
    return;
  }
  gint lo = (gint) (s->center - support + 0.5f), hi = (gint) (s->center + support + 0.5f);
  s->first = MAX (lo, 0);
  s->n = MIN (hi, (gint) a->in) - s->first;
}

float
heed_resample_filter (HeedInterpolation f, float x)
{
  const float a = -0.5f; /* Pillow's bicubic */
  if (f == HEED_INTERPOLATION_BOX)
    return x > -0.5f && x <= 0.5f ? 1.0f : 0.0f;
  x = fabsf (x);
  switch (f) {
  case HEED_INTERPOLATION_BILINEAR: return x < 1.0f ? 1.0f - x : 0.0f;
  case HEED_INTERPOLATION_BICUBIC:
    if (x < 1.0f)
      return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f;
    return x < 2.0f ? (((x - 5.0f) * x + 8.0f) * x - 4.0f) * a : 0.0f;
  case HEED_INTERPOLATION_LANCZOS: return x < 3.0f ? sincf_ (x) * sincf_ (x / 3.0f) : 0.0f;
  case HEED_INTERPOLATION_HAMMING:
    return x < 1.0f ? sincf_ (x) * (0.54f + 0.46f * cosf ((float) G_PI * x)) : 0.0f;
  default: return 1.0f; /* NEAREST: its one tap */
  }
}

guint
heed_resample_box8_taps (const HeedResampleAxis *a, guint X, guint idx[8], float wt[8])
{
  float step = heed_resample_scale (a, NULL), pos = ((float) X + 0.5f) * step;
  guint limit = a->in;
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
heed_frame_resample_rows (const HeedFrameLayout *l, const HeedResampleAxis ax[2], guint *row0,
                          guint *n_rows)
{
  HeedSpan top, bottom;
  heed_resample_span (&ax[1], l->interpolation, ax[1].first, &top);
  heed_resample_span (&ax[1], l->interpolation, ax[1].first + ax[1].count - 1, &bottom);
  /* a row of margin each side: a device's float arithmetic may end a span one pixel off */
  gint lo = MAX (top.first - 1, 0), hi = MIN (bottom.first + bottom.n + 1, (gint) ax[1].in);
  *row0 = (guint) lo;
  *n_rows = (guint) MAX (hi - lo, 1);
}

gsize
heed_frame_staging_bytes (const HeedFrameLayout *l)
{
  /* the shaders read whole words, up to 4 bytes past the frame; slots stay 16-byte aligned */
  return (l->size + 4 + 15) / 16 * 16;
}

gboolean
heed_frame_pack (const HeedFrameLayout *l, guint8 *dst, const guint8 *const planes[3],
                 const guint stride[3], GError **error)
{
  for (guint i = 0; i < l->n_planes; i++) {
    guint8 *plane = dst + l->offset[i];
    if (!planes[i] || stride[i] < l->row_bytes[i]) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "plane %u is missing or too narrow", i);
      return FALSE;
    }
    if (stride[i] == l->stride[i])
      memcpy (plane, planes[i], (gsize) l->stride[i] * (l->rows[i] - 1) + l->row_bytes[i]);
    else
      for (guint row = 0; row < l->rows[i]; row++)
        memcpy (plane + (gsize) row * l->stride[i], planes[i] + (gsize) row * stride[i],
                l->row_bytes[i]);
  }
  return TRUE;
}

guint
heed_thumbnail_taps (guint in_size, guint out_size, guint X, guint idx[HEED_THUMBNAIL_TAPS])
{
  float step = (float) in_size / (float) out_size;
  guint n = step > 1.0f ? MIN ((guint) ceilf (step - 1e-4f), HEED_THUMBNAIL_TAPS) : 1;
  for (guint i = 0; i < n; i++)
    idx[i] = MIN ((guint) floorf ((float) X * step + ((float) i + 0.5f) * step / (float) n),
                  in_size - 1);
  return n;
}

/* the bytes of R, G, B in a pixel of each 4-byte format (RGBA .. XBGR) */
static const guint8 thumbnail_rgb_bytes[][3] = { { 0, 1, 2 }, { 2, 1, 0 }, { 0, 1, 2 },
                                                 { 2, 1, 0 }, { 1, 2, 3 }, { 3, 2, 1 } };

/* The 8-bit codes of pixel (x, y): R, G, B, or for YUV frames Y, U, V, which the caller
 * averages before converting them (the conversion is linear: once per thumbnail pixel
 * instead of once per sample). */
static inline __attribute__ ((always_inline)) void
thumbnail_fetch (HeedPixelFormat format, const guint8 *const planes[3], const guint stride[3],
                 guint x, guint y, guint v[3])
{
  const guint8 *row = planes[0] + (gsize) y * stride[0];
  switch (format) {
  case HEED_PIXEL_RGB:
  case HEED_PIXEL_BGR:
    for (guint i = 0; i < 3; i++)
      v[i] = row[3 * x + (format == HEED_PIXEL_RGB ? i : 2 - i)];
    return;
  case HEED_PIXEL_GRAY8: v[0] = v[1] = v[2] = row[x]; return;
  case HEED_PIXEL_YUY2:
    v[0] = row[4 * (x / 2) + ((x & 1) ? 2 : 0)];
    v[1] = row[4 * (x / 2) + 1], v[2] = row[4 * (x / 2) + 3];
    return;
  case HEED_PIXEL_NV12:
    v[0] = row[x];
    v[1] = planes[1][(gsize) (y / 2) * stride[1] + 2 * (x / 2)];
    v[2] = planes[1][(gsize) (y / 2) * stride[1] + 2 * (x / 2) + 1];
    return;
  case HEED_PIXEL_I420:
    v[0] = row[x];
    v[1] = planes[1][(gsize) (y / 2) * stride[1] + x / 2];
    v[2] = planes[2][(gsize) (y / 2) * stride[2] + x / 2];
    return;
  default: /* the 4-byte RGB orders */
    for (guint i = 0; i < 3; i++)
      v[i] = row[4 * x + thumbnail_rgb_bytes[format][i]];
    return;
  }
}

/* The thumbnail's pixels for one format: inlined once per format (heed_frame_thumbnail's
 * switch), so the compiler drops the others' code from the sample loop. params as
 * heed_frame_params gives them for mean 0, std 1. */
static inline __attribute__ ((always_inline)) void
thumbnail_pixels (HeedPixelFormat format, guint height, const guint8 *const planes[3],
                  const guint stride[3], const float *params, guint size, const guint *xs,
                  const guint *nx, float *out)
{
  gboolean yuv =
      format == HEED_PIXEL_I420 || format == HEED_PIXEL_NV12 || format == HEED_PIXEL_YUY2;
  gsize plane = (gsize) size * size;
  for (guint Yo = 0; Yo < size; Yo++) {
    guint ys[HEED_THUMBNAIL_TAPS];
    guint ny = heed_thumbnail_taps (height, size, Yo, ys);
    for (guint X = 0; X < size; X++) {
      /* integer sums: exact, and no conversion on the loads' critical path */
      guint sum[3] = { 0, 0, 0 }, code[3];
      if (format <= HEED_PIXEL_XBGR) {
        /* a sample's four bytes at once, two to a 32-bit sum in 16-bit halves (16 samples of at
         * most 255 fit): one load a sample instead of three */
        G_STATIC_ASSERT (HEED_THUMBNAIL_TAPS * HEED_THUMBNAIL_TAPS * 255 <= 0xffff);
        guint32 even = 0, odd = 0;
        for (guint j = 0; j < ny; j++) {
          const guint8 *row = planes[0] + (gsize) ys[j] * stride[0];
          for (guint i = 0; i < nx[X]; i++) {
            guint32 pixel;
            memcpy (&pixel, row + 4 * xs[X * HEED_THUMBNAIL_TAPS + i], 4);
            pixel = GUINT32_FROM_LE (pixel);
            even += pixel & 0x00ff00ffu, odd += (pixel >> 8) & 0x00ff00ffu;
          }
        }
        guint bytes[4] = { even & 0xffffu, odd & 0xffffu, even >> 16, odd >> 16 };
        for (guint c = 0; c < 3; c++)
          sum[c] = bytes[thumbnail_rgb_bytes[format][c]];
      } else
        for (guint j = 0; j < ny; j++)
          for (guint i = 0; i < nx[X]; i++) {
            thumbnail_fetch (format, planes, stride, xs[X * HEED_THUMBNAIL_TAPS + i], ys[j], code);
            sum[0] += code[0], sum[1] += code[1], sum[2] += code[2];
          }
      float n = (float) (ny * nx[X]), v[3];
      for (guint c = 0; c < 3; c++)
        v[c] = yuv ? (float) sum[c] / n : (float) sum[c] / (255.0f * n);
      if (yuv) {
        float d[3] = { v[0] - params[15], v[1] - params[16], v[2] - params[17] };
        for (guint c = 0; c < 3; c++)
          v[c] =
              CLAMP (params[6 + 3 * c] * d[0] + params[7 + 3 * c] * d[1] + params[8 + 3 * c] * d[2],
                     0.0f, 1.0f);
      }
      for (guint c = 0; c < 3; c++)
        out[c * plane + (gsize) Yo * size + X] = v[c];
    }
  }
}

gboolean
heed_frame_thumbnail (const HeedFrameLayout *l, const guint8 *const planes[3],
                      const guint stride[3], guint size, float *out, GError **error)
{
  static const float zero[3] = { 0, 0, 0 }, one[3] = { 1, 1, 1 };
  for (guint i = 0; i < l->n_planes; i++)
    if (!planes[i] || stride[i] < l->row_bytes[i]) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "plane %u is missing or too narrow", i);
      return FALSE;
    }
  float params[18];
  heed_frame_params (l, zero, one, params);
  guint *xs = g_new (guint, (gsize) size * HEED_THUMBNAIL_TAPS), *nx = g_new (guint, size);
  for (guint X = 0; X < size; X++)
    nx[X] = heed_thumbnail_taps (l->width, size, X, xs + X * HEED_THUMBNAIL_TAPS);
#define THUMBNAIL_FORMAT(f)                                                                        \
  case f: thumbnail_pixels (f, l->height, planes, stride, params, size, xs, nx, out); break
  switch (l->format) {
    THUMBNAIL_FORMAT (HEED_PIXEL_RGBA);
    THUMBNAIL_FORMAT (HEED_PIXEL_BGRA);
    THUMBNAIL_FORMAT (HEED_PIXEL_RGBX);
    THUMBNAIL_FORMAT (HEED_PIXEL_BGRX);
    THUMBNAIL_FORMAT (HEED_PIXEL_XRGB);
    THUMBNAIL_FORMAT (HEED_PIXEL_XBGR);
    THUMBNAIL_FORMAT (HEED_PIXEL_RGB);
    THUMBNAIL_FORMAT (HEED_PIXEL_BGR);
    THUMBNAIL_FORMAT (HEED_PIXEL_I420);
    THUMBNAIL_FORMAT (HEED_PIXEL_NV12);
    THUMBNAIL_FORMAT (HEED_PIXEL_YUY2);
    THUMBNAIL_FORMAT (HEED_PIXEL_GRAY8);
  }
#undef THUMBNAIL_FORMAT
  g_free (xs), g_free (nx);
  return TRUE;
}

gsize
heed_frame_rows_bytes (const HeedFrameLayout *l, guint size)
{
  return (gsize) l->height * size * 4 * sizeof (float); /* vec4s: preprocess.comp */
}

void
heed_frame_model_region (const HeedFrameLayout *l, guint size, float region[4])
{
  /* the frame rectangle whose image fills the model's whole input, in model units scaled to
   * frame fractions: map the input's corners (0, 0) and (1, 1) back into the frame */
  float src[4], dst[4];
  heed_frame_geometry (l, size, src, dst);
  float sx = src[2] / dst[2], sy = src[3] / dst[3];
  region[0] = (src[0] - dst[0] * sx) / l->width;
  region[1] = (src[1] - dst[1] * sy) / l->height;
  region[2] = size * sx / l->width;
  region[3] = size * sy / l->height;
}

void
heed_frame_point_from_model (const HeedFrameLayout *l, guint size, float u, float v, float *x,
                             float *y)
{
  float src[4], dst[4];
  heed_frame_geometry (l, size, src, dst);
  float fx = src[0] + (u - dst[0]) * src[2] / dst[2];
  float fy = src[1] + (v - dst[1]) * src[3] / dst[3];
  *x = CLAMP (fx / l->width, 0.0f, 1.0f);
  *y = CLAMP (fy / l->height, 0.0f, 1.0f);
}

/* The luma weights of red and blue for a layout's YUV matrix (BT.601, BT.709, BT.2020). */
static void
yuv_weights (const HeedFrameLayout *l, double *kr, double *kb)
{
  static const double kr_kb[][2] = { { 0.299, 0.114 }, { 0.2126, 0.0722 }, { 0.2627, 0.0593 } };
  *kr = kr_kb[l->matrix][0];
  *kb = kr_kb[l->matrix][1];
}

void
heed_frame_params (const HeedFrameLayout *l, const float mean[3], const float std[3],
                   float params[18])
{
  double kr, kb;
  yuv_weights (l, &kr, &kb);
  double kg = 1.0 - kr - kb;
  /* on 0..255 codes: Y' = (Y - yoff) * ys / 255, Cb/Cr = (C - 128) * cs / 255, then RGB */
  double ys = l->full_range ? 1.0 : 255.0 / 219.0, cs = l->full_range ? 1.0 : 255.0 / 224.0;
  /* clang-format off */
  double m[9] = {
    ys, 0.0, 2.0 * (1.0 - kr) * cs,
    ys, -2.0 * kb * (1.0 - kb) / kg * cs, -2.0 * kr * (1.0 - kr) / kg * cs,
    ys, 2.0 * (1.0 - kb) * cs, 0.0,
  };
  /* clang-format on */
  for (guint i = 0; i < 3; i++) {
    params[i] = 1.0f / std[i];
    params[3 + i] = -mean[i] / std[i];
  }
  for (guint i = 0; i < 9; i++)
    params[6 + i] = (float) (m[i] / 255.0);
  params[15] = l->full_range ? 0.0f : 16.0f;
  params[16] = params[17] = 128.0f;
}

void
heed_frame_rgb_to_yuv (const HeedFrameLayout *l, float m[9], float offset[3])
{
  double kr, kb;
  yuv_weights (l, &kr, &kb);
  double kg = 1.0 - kr - kb;
  double ys = (l->full_range ? 255.0 : 219.0) / 255.0, cs = (l->full_range ? 255.0 : 224.0) / 255.0;
  double u = cs / (2.0 * (1.0 - kb)), v = cs / (2.0 * (1.0 - kr));
  /* clang-format off */
  double d[9] = {
    ys * kr, ys * kg, ys * kb,
    -u * kr, -u * kg, u * (1.0 - kb),
    v * (1.0 - kr), -v * kg, -v * kb,
  };
  /* clang-format on */
  for (guint i = 0; i < 9; i++)
    m[i] = (float) d[i];
  offset[0] = l->full_range ? 0.0f : 16.0f;
  offset[1] = offset[2] = 128.0f;
}

/* Checks that an image plane holds the layout's plane i; returns its bytes per texel or 0. */
static guint
plane_texel (const HeedFrameLayout *l, guint i, const HeedDevicePlane *p, GError **error)
{
  guint texel = p->width ? l->row_bytes[i] / p->width : 0;
  if (!texel || l->row_bytes[i] % p->width || l->stride[i] % texel || p->height < l->rows[i]) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "plane %u: a %ux%u image does not hold %u rows of %u bytes", i, p->width,
                 p->height, l->rows[i], l->row_bytes[i]);
    return 0;
  }
  return texel;
}

static VkBufferImageCopy
image_region (const HeedFrameLayout *l, guint i, guint texel)
{
  return (VkBufferImageCopy){
    .bufferOffset = l->offset[i],
    .bufferRowLength = l->stride[i] / texel,
    .imageSubresource = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 },
    .imageExtent = { l->row_bytes[i] / texel, l->rows[i], 1 },
  };
}

static void
image_barrier (VkCommandBuffer cmd, VkImage image, VkImageLayout from, VkImageLayout to,
               VkAccessFlags src_access, VkAccessFlags dst_access, VkPipelineStageFlags src_stage,
               VkPipelineStageFlags dst_stage)
{
  VkImageMemoryBarrier b = {
    .sType = VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER,
    .srcAccessMask = src_access,
    .dstAccessMask = dst_access,
    .oldLayout = from,
    .newLayout = to,
    .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
    .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
    .image = image,
    .subresourceRange = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1 },
  };
  vkCmdPipelineBarrier (cmd, src_stage, dst_stage, 0, 0, NULL, 0, NULL, 1, &b);
}

/* The layout an image is left in after heed's copies: its own, unless that cannot be read */
static VkImageLayout
readable_layout (VkImageLayout layout)
{
  return layout == VK_IMAGE_LAYOUT_UNDEFINED || layout == VK_IMAGE_LAYOUT_PREINITIALIZED
             ? VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL
             : layout;
}

static gboolean
check_buffer_plane (const HeedFrameLayout *l, guint i, const HeedDevicePlane *p, GError **error)
{
  if (p->stride >= l->row_bytes[i])
    return TRUE;
  g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "plane %u stride %u is too small", i,
               p->stride);
  return FALSE;
}

static void
memory_barrier (VkCommandBuffer cmd, VkPipelineStageFlags src_stage, VkAccessFlags src_access,
                VkPipelineStageFlags dst_stage, VkAccessFlags dst_access)
{
  VkMemoryBarrier b = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = src_access,
    .dstAccessMask = dst_access,
  };
  vkCmdPipelineBarrier (cmd, src_stage, dst_stage, 0, 1, &b, 0, NULL, 0, NULL);
}

/* One VkBufferCopy per row between a plane buffer and the packed frame. */
static void
copy_rows (VkCommandBuffer cmd, const HeedFrameLayout *l, guint i, const HeedDevicePlane *p,
           VkBuffer frame, gboolean into_frame)
{
  VkBufferCopy *rows = g_new (VkBufferCopy, l->rows[i]);
  for (guint r = 0; r < l->rows[i]; r++) {
    VkDeviceSize plane_at = p->offset + (VkDeviceSize) r * p->stride;
    VkDeviceSize frame_at = l->offset[i] + (VkDeviceSize) r * l->stride[i];
    rows[r] = into_frame ? (VkBufferCopy){ plane_at, frame_at, l->row_bytes[i] }
                         : (VkBufferCopy){ frame_at, plane_at, l->row_bytes[i] };
  }
  if (into_frame)
    vkCmdCopyBuffer (cmd, p->buffer, frame, l->rows[i], rows);
  else
    vkCmdCopyBuffer (cmd, frame, p->buffer, l->rows[i], rows);
  g_free (rows);
}

static gboolean
record_copy_in (VkCommandBuffer cmd, const HeedFrameLayout *l, HeedDevicePlane *planes, guint n,
                VkBuffer frame, GError **error)
{
  for (guint i = 0; i < n; i++) {
    HeedDevicePlane *p = &planes[i];
    VkPipelineStageFlags src_stage = p->stage ? p->stage : VK_PIPELINE_STAGE_ALL_COMMANDS_BIT;
    VkAccessFlags src_access = p->access | VK_ACCESS_MEMORY_WRITE_BIT;
    if (p->image) {
      guint texel = plane_texel (l, i, p, error);
      if (!texel)
        return FALSE;
      VkImageLayout back = readable_layout (p->layout);
      image_barrier (cmd, p->image, p->layout, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, src_access,
                     VK_ACCESS_TRANSFER_READ_BIT, src_stage, VK_PIPELINE_STAGE_TRANSFER_BIT);
      VkBufferImageCopy region = image_region (l, i, texel);
      vkCmdCopyImageToBuffer (cmd, p->image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, frame, 1,
                              &region);
      if (back != VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL)
        image_barrier (cmd, p->image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, back,
                       VK_ACCESS_TRANSFER_READ_BIT, p->access, VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_ALL_COMMANDS_BIT);
      p->layout = back;
    } else {
      if (!check_buffer_plane (l, i, p, error))
        return FALSE;
      VkBufferMemoryBarrier ready = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER,
        .srcAccessMask = src_access,
        .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT,
        .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .buffer = p->buffer,
        .offset = 0,
        .size = VK_WHOLE_SIZE,
      };
      vkCmdPipelineBarrier (cmd, src_stage, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, NULL, 1, &ready,
                            0, NULL);
      copy_rows (cmd, l, i, p, frame, TRUE);
    }
    p->access = VK_ACCESS_TRANSFER_READ_BIT;
    p->stage = VK_PIPELINE_STAGE_TRANSFER_BIT;
  }
  memory_barrier (cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                  VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                  VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  return TRUE;
}

static gboolean
record_copy_out (VkCommandBuffer cmd, const HeedFrameLayout *l, VkBuffer frame,
                 HeedDevicePlane *planes, guint n, GError **error)
{
  /* the shaders' writes before the copies; the copies in (reads) before these writes */
  memory_barrier (cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                  VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                  VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
  for (guint i = 0; i < n; i++) {
    HeedDevicePlane *p = &planes[i];
    if (p->image) {
      guint texel = plane_texel (l, i, p, error);
      if (!texel)
        return FALSE;
      VkImageLayout back = readable_layout (p->layout);
      image_barrier (cmd, p->image, p->layout, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                     p->access | VK_ACCESS_MEMORY_WRITE_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                     p->stage ? p->stage : VK_PIPELINE_STAGE_ALL_COMMANDS_BIT,
                     VK_PIPELINE_STAGE_TRANSFER_BIT);
      VkBufferImageCopy region = image_region (l, i, texel);
      vkCmdCopyBufferToImage (cmd, frame, p->image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1,
                              &region);
      if (back != VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL)
        image_barrier (cmd, p->image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, back,
                       VK_ACCESS_TRANSFER_WRITE_BIT,
                       VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT,
                       VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT);
      p->layout = back;
    } else {
      if (!check_buffer_plane (l, i, p, error))
        return FALSE;
      copy_rows (cmd, l, i, p, frame, FALSE);
    }
    p->access = VK_ACCESS_TRANSFER_WRITE_BIT;
    p->stage = VK_PIPELINE_STAGE_TRANSFER_BIT;
  }
  memory_barrier (cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                  VK_PIPELINE_STAGE_ALL_COMMANDS_BIT,
                  VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT);
  return TRUE;
}

gboolean
heed_frame_record_copies (VkCommandBuffer cmd, gboolean into_frame, const HeedFrameLayout *layout,
                          HeedDevicePlane *planes, guint n, VkBuffer frame, VkDeviceSize base,
                          GError **error)
{
  /* the frame's planes as they lie from `base` on (a batch slot of the staging buffer) */
  HeedFrameLayout shifted = *layout;
  const HeedFrameLayout *l = &shifted;
  for (guint i = 0; i < 3; i++)
    shifted.offset[i] += base;
  HEED_VK (vkResetCommandBuffer, (cmd, 0));
  VkCommandBufferBeginInfo bi = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
    .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
  };
  HEED_VK (vkBeginCommandBuffer, (cmd, &bi));
  if (!(into_frame ? record_copy_in (cmd, l, planes, n, frame, error)
                   : record_copy_out (cmd, l, frame, planes, n, error))) {
    vkEndCommandBuffer (cmd);
    return FALSE;
  }
  HEED_VK (vkEndCommandBuffer, (cmd));
  return TRUE;
error:
  return FALSE;
}

/* ---- copies between device frames --------------------------------------------------------- */

struct _HeedFrameCopier {
  HeedDevice *device;
  HeedFrameLayout layout;
  HeedBuffer *staging; /* the frame packed, between the two copies */
  VkCommandPool pool;
  VkCommandBuffer cmd;
  VkFence fence;
};

HeedFrameCopier *
heed_frame_copier_new (HeedDevice *d, const HeedFrameLayout *layout, GError **error)
{
  HeedFrameCopier *c = g_new0 (HeedFrameCopier, 1);
  c->device = d;
  c->layout = *layout;
  VkFenceCreateInfo fi = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
  if (!(c->staging = heed_buffer_new (d, heed_frame_staging_bytes (layout), FALSE, error)) ||
      !(c->pool = heed_command_pool_new (d, error)) ||
      !(c->cmd = heed_command_buffer_new (d, c->pool, error)))
    goto error;
  HEED_VK (vkCreateFence, (d->device, &fi, NULL, &c->fence));
  return c;
error:
  heed_frame_copier_destroy (&c);
  return NULL;
}

gboolean
heed_frame_copier_copy (HeedFrameCopier *c, HeedDevicePlane *src, HeedDevicePlane *dst, guint n,
                        GError **error)
{
  HeedDevice *d = c->device;
  const HeedFrameLayout *l = &c->layout;
  if (n != l->n_planes) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "%u planes for a frame of %u", n,
                 l->n_planes);
    return FALSE;
  }
  HEED_VK (vkResetCommandBuffer, (c->cmd, 0));
  VkCommandBufferBeginInfo bi = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
    .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
  };
  HEED_VK (vkBeginCommandBuffer, (c->cmd, &bi));
  gboolean recorded = record_copy_in (c->cmd, l, src, n, c->staging->buffer, error);
  if (recorded) {
    memory_barrier (c->cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                    VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT);
    recorded = record_copy_out (c->cmd, l, c->staging->buffer, dst, n, error);
  }
  HEED_VK (vkEndCommandBuffer, (c->cmd));
  if (!recorded)
    return FALSE;
  /* waited for here: the source may be reused (by whoever lent it) once this returns */
  return heed_device_submit_and_wait (d, &c->cmd, 1, c->fence, error);
error:
  return FALSE;
}

void
heed_frame_copier_destroy (HeedFrameCopier **copier)
{
  HeedFrameCopier *c = *copier;
  if (!c)
    return;
  VkDevice dev = c->device->device;
  if (c->fence)
    vkDestroyFence (dev, c->fence, NULL);
  if (c->pool)
    vkDestroyCommandPool (dev, c->pool, NULL); /* frees c->cmd */
  heed_buffer_destroy (&c->staging);
  g_free (c);
  *copier = NULL;
}
