/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What heedoverlay's drawing costs on the device, without a pipeline around it: times
 * heed_compositor_draw_frame on a frame in host memory, with the layers heedoverlay draws
 * beside a keyframe pipeline (a 14 x 14 heatmap over the whole frame, a label box at the top
 * left, the keyframe timeline along the bottom, a keyframe mark), then with the images alone
 * and with the heatmap alone.
 *   bench-compositor [WIDTH HEIGHT [FRAMES [FORMAT]]]   (default 1920 1080 60 bgrx; FORMAT:
 *   bgrx, or i420 as decoders give it) */
#include "heed-engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static guint32 *
solid_image (guint w, guint h, guint32 argb)
{
  guint32 *px = g_new (guint32, (gsize) w * h);
  for (gsize i = 0; i < (gsize) w * h; i++)
    px[i] = argb;
  return px;
}

int
main (int argc, char **argv)
{
  guint w = argc > 2 ? (guint) atoi (argv[1]) : 1920, h = argc > 2 ? (guint) atoi (argv[2]) : 1080;
  guint frames = argc > 3 ? (guint) atoi (argv[3]) : 60;
  const char *format_name = argc > 4 ? argv[4] : "bgrx";
  gboolean i420 = g_ascii_strcasecmp (format_name, "i420") == 0;
  if (w < 64 || h < 64 || frames == 0 || (!i420 && g_ascii_strcasecmp (format_name, "bgrx"))) {
    fprintf (stderr, "usage: %s [WIDTH HEIGHT [FRAMES [bgrx|i420]]] (at least 64 x 64)\n", argv[0]);
    return 2;
  }
  GError *error = NULL;
  HeedDevice *device = heed_device_new (-1, &error);
  HeedCompositor *c = device ? heed_compositor_new (device, &error) : NULL;
  guint cw = (w + 1) / 2, ch = (h + 1) / 2;
  guint stride[3] = { i420 ? w : w * 4, i420 ? cw : 0, i420 ? cw : 0 };
  gsize luma = (gsize) stride[0] * h, size = luma + (i420 ? 2 * (gsize) cw * ch : 0);
  HeedFrameLayout layout;
  if (!c ||
      !heed_frame_layout_init (&layout, i420 ? HEED_PIXEL_I420 : HEED_PIXEL_BGRX, w, h, stride,
                               &error) ||
      !heed_compositor_set_frame_layout (c, &layout, &error)) {
    fprintf (stderr, "bench-compositor: %s\n", error->message);
    return 1;
  }
  guint8 *frame = g_malloc (size);
  memset (frame, 90, size);
  guint8 *planes[3] = { frame, i420 ? frame + luma : NULL,
                        i420 ? frame + luma + (gsize) cw * ch : NULL };
  float values[14 * 14], alpha[14 * 14];
  for (guint i = 0; i < 14 * 14; i++)
    values[i] = i / 196.0f, alpha[i] = 1;
  HeedHeatmapLayer heat = { values, alpha, 14, 14, 0, 0, w, h, HEED_COLORMAP_INFERNO, 0.45f };
  guint lw = w / 3, lh = h / 6, tw = w - 20, th = h / 20;
  guint32 *labels = solid_image (lw, lh, 0xc0202020), *timeline = solid_image (tw, th, 0x80404040);
  guint32 *mark = solid_image (16, 16, 0xffff0000);
  HeedImageLayer images[3] = { { labels, lw, lh, 10, 10 },
                               { timeline, tw, th, 10, (gint) (h - th - 10) },
                               { mark, 16, 16, (gint) (w / 2), (gint) (h - th - 30) } };
  const char *names[3] = { "heatmap + 3 images", "3 images", "heatmap" };
  printf ("%s, %ux%u %s, %u frames a row\n", heed_device_get_name (device), w, h,
          i420 ? "I420" : "BGRx", frames);
  for (guint mode = 0; mode < 3; mode++) {
    if (!heed_compositor_set_layers (c, mode == 1 ? NULL : &heat, images, mode == 2 ? 0 : 3,
                                     &error) ||
        !heed_compositor_draw_frame (c, planes, stride, &error)) /* the first: start-up */
      break;
    gint64 t0 = g_get_monotonic_time ();
    for (guint i = 0; i < frames && !error; i++)
      heed_compositor_draw_frame (c, planes, stride, &error);
    if (error)
      break;
    printf ("%-20s %7.2f ms a frame\n", names[mode], (g_get_monotonic_time () - t0) / 1e3 / frames);
  }
  int status = 0;
  if (error) {
    fprintf (stderr, "bench-compositor: %s\n", error->message);
    status = 1;
  }
  g_clear_error (&error);
  heed_compositor_destroy (&c);
  heed_device_destroy (&device);
  g_free (frame), g_free (labels), g_free (timeline), g_free (mark);
  return status;
}
