/* Frame layouts, resize geometry and colour conversion parameters, shared by the
 * preprocessing op, its C reference and the mapping of results back onto the frame. */
#include "heed-private.h"

#include <math.h>

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
  *l = (HeedFrameLayout){ .format = format, .width = width, .height = height };
  if ((guint) format > HEED_PIXEL_GRAY8) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "unknown pixel format %d", format);
    return FALSE;
  }
  if (width < 1 || height < 1 || width > 16384 || height > 16384) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "frame size %ux%u is outside 1x1 to 16384x16384", width, height);
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
heed_frame_geometry (const HeedFrameLayout *l, guint size, float src[4], float dst[4])
{
  float w = l->width, h = l->height, s = size;
  src[0] = src[1] = dst[0] = dst[1] = 0.0f;
  src[2] = w, src[3] = h, dst[2] = dst[3] = s;
  if (l->resize == HEED_RESIZE_CROP) {
    float side = MIN (w, h);
    src[0] = (w - side) / 2, src[1] = (h - side) / 2, src[2] = src[3] = side;
  } else if (l->resize == HEED_RESIZE_LETTERBOX) {
    float scale = s / MAX (w, h);
    dst[2] = w * scale, dst[3] = h * scale;
    dst[0] = (s - dst[2]) / 2, dst[1] = (s - dst[3]) / 2;
  }
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

void
heed_frame_params (const HeedFrameLayout *l, const float mean[3], const float std[3],
                   float params[18])
{
  static const double kr_kb[][2] = { { 0.299, 0.114 }, { 0.2126, 0.0722 }, { 0.2627, 0.0593 } };
  double kr = kr_kb[l->matrix][0], kb = kr_kb[l->matrix][1], kg = 1.0 - kr - kb;
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
