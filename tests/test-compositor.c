/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The compositor (heedoverlay's drawing) against its C reference on every pixel format and odd
 * sizes, the reference against values known without it, and the colour maps against
 * matplotlib's published end colours. Under the validation layer. */
#include "test-common.h"

#include <string.h>

/* A random frame in the caller's own (padded) strides. */
typedef struct {
  HeedFrameLayout layout; /* the caller's */
  guint8 *data;
} Frame;

static Frame
random_frame (HeedPixelFormat f, guint w, guint h, GRand *rng)
{
  Frame fr;
  GError *error = NULL;
  guint stride[3] = { 4 * w + 8, w + 5, w + 7 }; /* not word multiples */
  if (f == HEED_PIXEL_NV12 || f == HEED_PIXEL_YUY2)
    stride[1] = 2 * ((w + 1) / 2) + 3, stride[0] = MAX (stride[0], 4 * ((w + 1) / 2) + 3);
  g_assert_true (heed_frame_layout_init (&fr.layout, f, w, h, stride, &error));
  fr.data = g_malloc (fr.layout.size);
  for (gsize i = 0; i < fr.layout.size; i++)
    fr.data[i] = (guint8) g_rand_int_range (rng, 0, 256);
  return fr;
}

/* Copies a frame between two layouts of the same format and size. */
static void
repack (const HeedFrameLayout *from, const guint8 *src, const HeedFrameLayout *to, guint8 *dst)
{
  for (guint i = 0; i < from->n_planes; i++)
    for (guint r = 0; r < from->rows[i]; r++)
      memcpy (dst + to->offset[i] + (gsize) r * to->stride[i],
              src + from->offset[i] + (gsize) r * from->stride[i], from->row_bytes[i]);
}

static void
planes_of (const Frame *fr, guint8 *data, guint8 *planes[3])
{
  for (guint i = 0; i < 3; i++)
    planes[i] = i < fr->layout.n_planes ? data + fr->layout.offset[i] : NULL;
}

static guint32 *
random_image (GRand *rng, guint w, guint h)
{
  guint32 *px = g_new (guint32, (gsize) w * h);
  for (gsize i = 0; i < (gsize) w * h; i++) {
    guint a = g_rand_int_range (rng, 0, 4) == 0 ? 0 : (guint) g_rand_int_range (rng, 0, 256);
    guint r = g_rand_int_range (rng, 0, a + 1), g = g_rand_int_range (rng, 0, a + 1),
          b = g_rand_int_range (rng, 0, a + 1); /* premultiplied: never above alpha */
    px[i] = a << 24 | r << 16 | g << 8 | b;
  }
  return px;
}

/* Draws fr's data with the layers through the compositor onto a copy and through
 * heed_ref_composite onto another (on the compositor's layout), and checks them: every byte
 * within one code of the reference and few off by one (float rounding may land on .5), the
 * row padding untouched. Returns how many bytes the drawing changed. */
static guint
draw_and_compare (HeedCompositor *c, const Frame *fr, const HeedHeatmapLayer *heat,
                  const HeedImageLayer *images, guint n)
{
  const HeedFrameLayout *l = &fr->layout;
  GError *error = NULL;
  HeedFrameLayout packed;
  guint bw, bh;
  g_assert_true (heed_composite_layout (l, heed_compositor_pairs (c), &packed, &bw, &bh, &error));
  guint8 *want = g_malloc0 (packed.size), *got = g_memdup2 (fr->data, l->size), *planes[3];
  repack (l, fr->data, &packed, want);
  HeedCompositeInputs in;
  heed_composite_inputs_init (&in, &packed, heat, images, n);
  heed_ref_composite (&packed, want, &in);
  heed_composite_inputs_clear (&in);

  planes_of (fr, got, planes);
  g_assert_true (heed_compositor_set_layers (c, heat, images, n, &error));
  g_assert_true (heed_compositor_draw_frame (c, planes, l->stride, &error));
  g_assert_no_error (error);

  guint changed = 0, off_by_one = 0;
  for (guint i = 0; i < l->n_planes; i++)
    for (guint r = 0; r < l->rows[i]; r++) {
      const guint8 *g = got + l->offset[i] + (gsize) r * l->stride[i];
      const guint8 *o = fr->data + l->offset[i] + (gsize) r * l->stride[i];
      const guint8 *e = want + packed.offset[i] + (gsize) r * packed.stride[i];
      for (guint b = 0; b < l->stride[i]; b++) {
        if (b >= l->row_bytes[i]) {
          if (g[b] != o[b])
            g_error ("format %d %ux%u: padding byte %u of plane %u row %u changed", l->format,
                     l->width, l->height, b, i, r);
          continue;
        }
        int diff = abs ((int) g[b] - (int) e[b]);
        if (diff > 1)
          g_error ("format %d %ux%u: plane %u row %u byte %u is %u, reference %u", l->format,
                   l->width, l->height, i, r, b, g[b], e[b]);
        off_by_one += diff;
        changed += g[b] != o[b];
      }
    }
  g_assert_cmpuint (off_by_one, <=, l->size / 200 + 1);
  g_free (want), g_free (got);
  return changed;
}

/* GPU against heed_ref_composite: every format, odd sizes, a heatmap reaching outside the
 * frame with per-cell alphas, two images partly outside, every YUV matrix and range. Codes
 * may differ by one where float rounding lands on .5; the user's row padding is never touched.
 * Where the device's table draws 4-byte formats two pixels a word, they run that way and one
 * pixel a word. */
static void
test_against_reference (void)
{
  HeedDevice *d = get_device ();
  /* 200 and 600 wide: grid cells wide enough for every format's runs of blocks (I420 drawn
   * 16 pixels a block), and at 600 several strips to a row */
  const guint sizes[][2] = { { 1, 1 },   { 16, 16 }, { 37, 23 }, { 63, 47 },
                             { 7, 300 }, { 200, 9 }, { 600, 5 } };
  GError *error = NULL;
  HeedCompositor *c = heed_compositor_new (d, &error);
  g_assert_no_error (error);
  for (int pairs = d->kernels.composite_pairs; pairs >= 0; pairs--)
    for (HeedPixelFormat f = HEED_PIXEL_RGBA; f <= HEED_PIXEL_GRAY8; f++)
      for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
        guint w = sizes[s][0], h = sizes[s][1];
        GRand *rng = g_rand_new_with_seed (f * 100 + s);
        Frame fr = random_frame (f, w, h, rng);
        fr.layout.matrix = (HeedYuvMatrix) ((f + s) % 3);
        fr.layout.full_range = (f + s) % 2;

        /* grids from 1 x 1 up: cells from a few pixels wide to wider than the frame */
        guint gw = 1 + (3 * s + f) % 7, gh = 1 + (s + 2 * f) % 5;
        float *values = random_floats (rng, gw * gh, -0.2, 1.2),
              *alpha = random_floats (rng, gw * gh, 0, 1);
        HeedHeatmapLayer heat = { values,   alpha,      gw,
                                  gh,       -0.25f * w, 0.1f * h,
                                  1.1f * w, 0.8f * h,   (HeedColormap) (s % 5),
                                  0.7f };
        guint32 *im0 = random_image (rng, w / 2 + 3, h / 3 + 2), *im1 = random_image (rng, 9, 5);
        HeedImageLayer images[2] = { { im0, w / 2 + 3, h / 3 + 2, (gint) w / 3, -1 },
                                     { im1, 9, 5, (gint) w - 4, (gint) h - 3 } };

        heed_compositor_allow_pairs (c, pairs);
        g_assert_true (heed_compositor_set_frame_layout (c, &fr.layout, &error));
        g_assert_cmpint (heed_compositor_pairs (c), ==,
                         pairs && (f <= HEED_PIXEL_XBGR || f == HEED_PIXEL_I420));
        guint changed = draw_and_compare (c, &fr, &heat, images, 2);
        /* the layers cover part of every frame but the 1x1 one: something was drawn */
        if (w > 1)
          g_assert_cmpuint (changed, >, 0);
        g_free (values), g_free (alpha), g_free (im0), g_free (im1), g_free (fr.data);
        g_rand_free (rng);
      }
  heed_compositor_destroy (&c);
  assert_no_validation_messages ();
}

/* A frame drawn from device buffers (heedoverlay's Vulkan memory) comes out as the same frame
 * drawn from host memory, byte for byte: the working copy moves to device-local memory for it
 * and back to host-visible memory for the next host frame. */
static void
test_device_frames (void)
{
  HeedDevice *d = get_device ();
  GError *error = NULL;
  HeedCompositor *c = heed_compositor_new (d, &error);
  g_assert_no_error (error);
  const HeedPixelFormat formats[] = { HEED_PIXEL_RGBA, HEED_PIXEL_I420 };
  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    GRand *rng = g_rand_new_with_seed (500 + f);
    guint w = 37, h = 23;
    Frame fr = random_frame (formats[f], w, h, rng);
    guint gw = 4, gh = 3;
    float *values = random_floats (rng, gw * gh, 0, 1);
    HeedHeatmapLayer heat = { values, NULL, gw, gh, 0, 0, w, h, HEED_COLORMAP_TURBO, 0.6f };
    guint32 *im = random_image (rng, 11, 7);
    HeedImageLayer image = { im, 11, 7, 3, 2 };
    g_assert_true (heed_compositor_set_frame_layout (c, &fr.layout, &error));
    g_assert_true (heed_compositor_set_layers (c, &heat, &image, 1, &error));

    /* from host memory */
    guint8 *want = g_memdup2 (fr.data, fr.layout.size), *planes[3];
    planes_of (&fr, want, planes);
    g_assert_true (heed_compositor_draw_frame (c, planes, fr.layout.stride, &error));
    g_assert_false (heed_compositor_frame_on_device (c));

    /* from device buffers, one per plane, drawn in place */
    HeedBuffer *bufs[3] = { NULL, NULL, NULL };
    HeedDevicePlane dp[3];
    for (guint i = 0; i < fr.layout.n_planes; i++) {
      gsize bytes = (gsize) fr.layout.stride[i] * fr.layout.rows[i];
      bufs[i] = heed_buffer_new (d, bytes + 32, FALSE, &error);
      g_assert_true (
          heed_buffer_upload (bufs[i], 32, fr.data + fr.layout.offset[i], bytes, &error));
      dp[i] = (HeedDevicePlane){ .buffer = bufs[i]->buffer,
                                 .offset = 32,
                                 .stride = fr.layout.stride[i] };
    }
    g_assert_true (heed_compositor_draw_frame_device (c, dp, dp, fr.layout.n_planes, &error));
    g_assert_no_error (error);
    g_assert_true (heed_compositor_frame_on_device (c));
    for (guint i = 0; i < fr.layout.n_planes; i++) {
      for (guint r = 0; r < fr.layout.rows[i]; r++) {
        guint8 row[256];
        g_assert_cmpuint (fr.layout.row_bytes[i], <=, sizeof row);
        g_assert_true (heed_buffer_download (bufs[i], 32 + (gsize) r * fr.layout.stride[i], row,
                                             fr.layout.row_bytes[i], &error));
        g_assert_cmpmem (row, fr.layout.row_bytes[i],
                         want + fr.layout.offset[i] + (gsize) r * fr.layout.stride[i],
                         fr.layout.row_bytes[i]);
      }
      heed_buffer_destroy (&bufs[i]);
    }

    /* from host memory again */
    guint8 *again = g_memdup2 (fr.data, fr.layout.size);
    planes_of (&fr, again, planes);
    g_assert_true (heed_compositor_draw_frame (c, planes, fr.layout.stride, &error));
    g_assert_false (heed_compositor_frame_on_device (c));
    g_assert_cmpmem (again, fr.layout.size, want, fr.layout.size);
    g_free (values), g_free (im), g_free (want), g_free (again), g_free (fr.data);
    g_rand_free (rng);
  }
  heed_compositor_destroy (&c);
  assert_no_validation_messages ();
}

/* The colour map and the label images go to the device only when they change (heedoverlay
 * sets its layers every frame): the same layers again skip both uploads, and a new colour map,
 * a label with new pixels of the same size, or a heatmap turned off and on each draw as the
 * reference does. */
static void
test_unchanged_layers (void)
{
  HeedDevice *d = get_device ();
  GError *error = NULL;
  HeedCompositor *c = heed_compositor_new (d, &error);
  GRand *rng = g_rand_new_with_seed (600);
  Frame fr = random_frame (HEED_PIXEL_RGBA, 41, 29, rng);
  float *values = random_floats (rng, 12, 0, 1);
  HeedHeatmapLayer heat = { values, NULL, 4, 3, 0, 0, 41, 29, HEED_COLORMAP_INFERNO, 0.8f };
  guint32 *im = random_image (rng, 13, 6);
  HeedImageLayer image = { im, 13, 6, 2, 3 };
  g_assert_true (heed_compositor_set_frame_layout (c, &fr.layout, &error));

  draw_and_compare (c, &fr, &heat, &image, 1);
  guint skipped = heed_compositor_uploads_skipped (c);
  draw_and_compare (c, &fr, &heat, &image, 1); /* the same: neither is sent */
  g_assert_cmpuint (heed_compositor_uploads_skipped (c), ==, skipped + 2);

  heat.colormap = HEED_COLORMAP_TURBO; /* a new map; the same label */
  draw_and_compare (c, &fr, &heat, &image, 1);
  g_assert_cmpuint (heed_compositor_uploads_skipped (c), ==, skipped + 3);

  guint32 *im2 = random_image (rng, 13, 6); /* new text, same size */
  image.pixels = im2;
  draw_and_compare (c, &fr, &heat, &image, 1);
  g_assert_cmpuint (heed_compositor_uploads_skipped (c), ==, skipped + 4);

  draw_and_compare (c, &fr, NULL, &image, 1); /* no heatmap, then the same one back */
  draw_and_compare (c, &fr, &heat, &image, 1);

  g_free (values), g_free (im), g_free (im2), g_free (fr.data);
  g_rand_free (rng);
  heed_compositor_destroy (&c);
  assert_no_validation_messages ();
}

/* Only the rows some layer covers travel to the device and back: with images at the top, in
 * the middle and at the bottom (two of them overlapping, one partly above the frame) and no
 * heatmap, every format's frames, one after another with new pixels, come out as the reference
 * draws them, the rows between the images untouched. */
static void
test_row_spans (void)
{
  HeedDevice *d = get_device ();
  GError *error = NULL;
  HeedCompositor *c = heed_compositor_new (d, &error);
  g_assert_no_error (error);
  for (int pairs = d->kernels.composite_pairs; pairs >= 0; pairs--)
    for (HeedPixelFormat f = HEED_PIXEL_RGBA; f <= HEED_PIXEL_GRAY8; f++) {
      GRand *rng = g_rand_new_with_seed (700 + f);
      guint w = 45, h = 61;
      guint32 *top = random_image (rng, 20, 7), *middle = random_image (rng, 9, 5),
              *low = random_image (rng, 30, 4), *bottom = random_image (rng, 11, 6);
      /* rows -3 .. 4, 27 .. 32 and 29 .. 33 (overlapping), 56 .. 61 */
      HeedImageLayer images[4] = { { top, 20, 7, 3, -3 },
                                   { middle, 9, 5, 30, 27 },
                                   { low, 30, 4, 5, 29 },
                                   { bottom, 11, 6, 17, (gint) h - 5 } };
      heed_compositor_allow_pairs (c, pairs);
      for (guint frame = 0; frame < 2; frame++) {
        Frame fr = random_frame (f, w, h, rng);
        if (frame == 0)
          g_assert_true (heed_compositor_set_frame_layout (c, &fr.layout, &error));
        g_assert_cmpuint (draw_and_compare (c, &fr, NULL, images, 4), >, 0);
        g_free (fr.data);
      }
      g_free (top), g_free (middle), g_free (low), g_free (bottom);
      g_rand_free (rng);
    }
  heed_compositor_destroy (&c);
  assert_no_validation_messages ();
}

/* With nothing to draw, or everything transparent, every byte stays as it was. */
static void
test_transparent_is_identity (void)
{
  HeedDevice *d = get_device ();
  GError *error = NULL;
  HeedCompositor *c = heed_compositor_new (d, &error);
  float values[4] = { 0, 0.3f, 0.6f, 1 };
  for (HeedPixelFormat f = HEED_PIXEL_RGBA; f <= HEED_PIXEL_GRAY8; f++) {
    GRand *rng = g_rand_new_with_seed (500 + f);
    Frame fr = random_frame (f, 35, 19, rng);
    guint8 *got = g_memdup2 (fr.data, fr.layout.size), *planes[3];
    planes_of (&fr, got, planes);
    HeedHeatmapLayer heat = { values, NULL, 2, 2, 0, 0, 35, 19, HEED_COLORMAP_TURBO, 0.0f };
    guint32 clear[6] = { 0 };
    HeedImageLayer image = { clear, 3, 2, 5, 5 };
    g_assert_true (heed_compositor_set_frame_layout (c, &fr.layout, &error));
    g_assert_true (heed_compositor_draw_frame (c, planes, fr.layout.stride, &error));
    g_assert_true (heed_compositor_set_layers (c, &heat, &image, 1, &error));
    g_assert_true (heed_compositor_draw_frame (c, planes, fr.layout.stride, &error));
    g_assert_cmpmem (got, fr.layout.size, fr.data, fr.layout.size);
    g_free (got), g_free (fr.data);
    g_rand_free (rng);
  }
  heed_compositor_destroy (&c);
  assert_no_validation_messages ();
}

/* An opaque image gives the YUV codes of its colour: BT.601 limited-range red is Y 81, U 90,
 * V 240 and BT.709 limited-range white is Y 235, U V 128 (values from the standards' tables);
 * on RGB formats it gives the colour itself. */
static void
test_known_colours (void)
{
  HeedDevice *d = get_device ();
  GError *error = NULL;
  HeedCompositor *c = heed_compositor_new (d, &error);
  guint32 red[16], white[16];
  for (guint i = 0; i < 16; i++)
    red[i] = 0xffff0000u, white[i] = 0xffffffffu;
  const struct {
    HeedPixelFormat f;
    HeedYuvMatrix m;
    const guint32 *px;
    guint8 want[3]; /* Y U V, or R G B */
  } cases[] = {
    { HEED_PIXEL_I420, HEED_YUV_BT601, red, { 81, 90, 240 } },
    { HEED_PIXEL_NV12, HEED_YUV_BT601, red, { 81, 90, 240 } },
    { HEED_PIXEL_YUY2, HEED_YUV_BT601, red, { 81, 90, 240 } },
    { HEED_PIXEL_I420, HEED_YUV_BT709, white, { 235, 128, 128 } },
    { HEED_PIXEL_BGRX, HEED_YUV_BT601, red, { 255, 0, 0 } },
  };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++) {
    GRand *rng = g_rand_new_with_seed (600 + k);
    Frame fr = random_frame (cases[k].f, 8, 8, rng);
    fr.layout.matrix = cases[k].m;
    guint8 *planes[3];
    planes_of (&fr, fr.data, planes);
    HeedImageLayer image = { cases[k].px, 4, 4, 2, 2 }; /* covers pixels 2..5, chroma 1..2 */
    g_assert_true (heed_compositor_set_frame_layout (c, &fr.layout, &error));
    g_assert_true (heed_compositor_set_layers (c, NULL, &image, 1, &error));
    g_assert_true (heed_compositor_draw_frame (c, planes, fr.layout.stride, &error));
    const HeedFrameLayout *l = &fr.layout;
    guint8 got[3];
    switch (cases[k].f) {
    case HEED_PIXEL_I420:
      got[0] = fr.data[l->offset[0] + 3 * l->stride[0] + 3];
      got[1] = fr.data[l->offset[1] + 1 * l->stride[1] + 1];
      got[2] = fr.data[l->offset[2] + 1 * l->stride[2] + 1];
      break;
    case HEED_PIXEL_NV12:
      got[0] = fr.data[l->offset[0] + 3 * l->stride[0] + 3];
      got[1] = fr.data[l->offset[1] + 1 * l->stride[1] + 2];
      got[2] = fr.data[l->offset[1] + 1 * l->stride[1] + 3];
      break;
    case HEED_PIXEL_YUY2: /* pixels 2, 3 share the word at byte 4 */
      got[0] = fr.data[3 * l->stride[0] + 4];
      got[1] = fr.data[3 * l->stride[0] + 5];
      got[2] = fr.data[3 * l->stride[0] + 7];
      break;
    default: /* BGRx */
      got[0] = fr.data[3 * l->stride[0] + 4 * 3 + 2];
      got[1] = fr.data[3 * l->stride[0] + 4 * 3 + 1];
      got[2] = fr.data[3 * l->stride[0] + 4 * 3 + 0];
      break;
    }
    for (guint i = 0; i < 3; i++)
      if (abs ((int) got[i] - cases[k].want[i]) > 1)
        g_error ("case %u: component %u is %u, want %u", k, i, got[i], cases[k].want[i]);
    g_free (fr.data);
    g_rand_free (rng);
  }
  heed_compositor_destroy (&c);
  assert_no_validation_messages ();
}

/* The maps' end colours against matplotlib's (and Google's turbo) published values; the
 * polynomial fits are allowed a few 8-bit steps. */
static void
test_colormap_ends (void)
{
  const struct {
    HeedColormap map;
    guint8 lo[3], hi[3];
  } cases[] = {
    { HEED_COLORMAP_INFERNO, { 0, 0, 4 }, { 252, 255, 164 } },
    { HEED_COLORMAP_VIRIDIS, { 68, 1, 84 }, { 253, 231, 37 } },
    { HEED_COLORMAP_TURBO, { 48, 18, 59 }, { 122, 4, 3 } },
    { HEED_COLORMAP_JET, { 0, 0, 128 }, { 128, 0, 0 } },
    { HEED_COLORMAP_GRAY, { 0, 0, 0 }, { 255, 255, 255 } },
  };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++) {
    guint8 lut[256][3];
    heed_colormap_lut (cases[k].map, lut);
    for (guint ch = 0; ch < 3; ch++) {
      if (abs ((int) lut[0][ch] - cases[k].lo[ch]) > 5 ||
          abs ((int) lut[255][ch] - cases[k].hi[ch]) > 5)
        g_error ("map %u channel %u: ends %u, %u; published %u, %u", k, ch, lut[0][ch],
                 lut[255][ch], cases[k].lo[ch], cases[k].hi[ch]);
    }
  }
}

static void
test_errors (void)
{
  GError *error = NULL;
  HeedCompositor *c = heed_compositor_new (get_device (), &error);
  guint8 *planes[3] = { NULL, NULL, NULL };
  guint stride[3] = { 0, 0, 0 };
  g_assert_false (heed_compositor_draw_frame (c, planes, stride, &error));
  g_assert_error (error, HEED_ERROR, HEED_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (heed_compositor_set_layers (c, NULL, NULL, 0, &error));
  g_assert_error (error, HEED_ERROR, HEED_ERROR_INVALID);
  g_clear_error (&error);
  HeedFrameLayout l = { .format = HEED_PIXEL_RGBA, .width = 0, .height = 4 };
  g_assert_false (heed_compositor_set_frame_layout (c, &l, &error));
  g_assert_error (error, HEED_ERROR, HEED_ERROR_INVALID);
  g_clear_error (&error);
  l.width = 4;
  g_assert_true (heed_compositor_set_frame_layout (c, &l, &error));
  g_assert_false (heed_compositor_draw_frame (c, planes, stride, &error)); /* no planes */
  g_assert_error (error, HEED_ERROR, HEED_ERROR_INVALID);
  g_clear_error (&error);
  heed_compositor_destroy (&c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/compositor/against-reference", test_against_reference);
  g_test_add_func ("/compositor/transparent-is-identity", test_transparent_is_identity);
  g_test_add_func ("/compositor/known-colours", test_known_colours);
  g_test_add_func ("/compositor/colormap-ends", test_colormap_ends);
  g_test_add_func ("/compositor/errors", test_errors);
  g_test_add_func ("/compositor/device-frames", test_device_frames);
  g_test_add_func ("/compositor/unchanged-layers", test_unchanged_layers);
  g_test_add_func ("/compositor/row-spans", test_row_spans);
  int ret = g_test_run ();
  heed_device_destroy (&test_device);
  return ret;
}
