/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What heedkeyframe's engine side costs a frame, without a pipeline around it (whose start-up
 * and neighbours' noise are larger than the figure): times heed_keyframe_scorer_push on frames
 * in host memory (the 64 x 64 thumbnail, its Y, Cb, Cr planes and chroma histogram, the kernel
 * and the wait for it), and heed_frame_thumbnail alone, each the median of 9 rounds of FRAMES
 * frames, the two taking turns.
 *   bench-keyframe [WIDTH HEIGHT [FRAMES [FORMAT]]]   (default 640 480 200 bgra; FORMAT: bgra,
 *   i420 or nv12) */
#include "heed-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

int
main (int argc, char **argv)
{
  guint w = argc > 2 ? (guint) atoi (argv[1]) : 640, h = argc > 2 ? (guint) atoi (argv[2]) : 480;
  guint frames = argc > 3 ? (guint) atoi (argv[3]) : 200;
  const char *name = argc > 4 ? argv[4] : "bgra";
  HeedPixelFormat format = !g_ascii_strcasecmp (name, "i420")   ? HEED_PIXEL_I420
                           : !g_ascii_strcasecmp (name, "nv12") ? HEED_PIXEL_NV12
                           : !g_ascii_strcasecmp (name, "bgra") ? HEED_PIXEL_BGRA
                                                                : (HeedPixelFormat) -1;
  if (w < 1 || h < 1 || w > 8192 || h > 8192 || frames == 0 || (int) format < 0) {
    fprintf (stderr, "usage: %s [WIDTH HEIGHT [FRAMES [bgra|i420|nv12]]]\n", argv[0]);
    return 2;
  }
  guint cw = (w + 1) / 2;
  guint stride[3] = { format == HEED_PIXEL_BGRA ? 4 * w : w,
                      format == HEED_PIXEL_NV12 ? 2 * cw : cw, cw };
  GError *error = NULL;
  HeedFrameLayout layout;
  HeedDevice *device = NULL;
  HeedKeyframeScorer *scorer = NULL;
  if (!heed_frame_layout_init (&layout, format, w, h, stride, &error) ||
      !(device = heed_device_new (-1, &error)) ||
      !(scorer = heed_keyframe_scorer_new (device, NULL, &error)) ||
      !heed_keyframe_scorer_set_layout (scorer, &layout, &error)) {
    fprintf (stderr, "bench-keyframe: %s\n", error->message);
    return 1;
  }
  /* noise, so that no part of the work can take a shortcut on flat colour */
  guint8 *frame = g_malloc (layout.size);
  GRand *rng = g_rand_new_with_seed (1);
  for (gsize i = 0; i < layout.size; i++)
    frame[i] = (guint8) g_rand_int_range (rng, 0, 256);
  g_rand_free (rng);
  const guint8 *planes[3] = { frame + layout.offset[0], frame + layout.offset[1],
                              frame + layout.offset[2] };
  float *thumb = g_new (float, 3 * 64 * 64), novelty;
  gboolean have;
  enum { ROUNDS = 9 };
  double push_ms[ROUNDS], thumb_ms[ROUNDS];
  for (guint i = 0; i < 20 && !error; i++) /* warm-up: the kernel's first runs */
    heed_keyframe_scorer_push (scorer, planes, layout.stride, &novelty, &have, &error);
  for (guint r = 0; r < ROUNDS && !error; r++) {
    gint64 t0 = g_get_monotonic_time ();
    for (guint i = 0; i < frames && !error; i++)
      heed_keyframe_scorer_push (scorer, planes, layout.stride, &novelty, &have, &error);
    gint64 t1 = g_get_monotonic_time ();
    for (guint i = 0; i < frames && !error; i++)
      heed_frame_thumbnail (&layout, planes, layout.stride, 64, thumb, &error);
    push_ms[r] = (t1 - t0) / 1e3 / frames;
    thumb_ms[r] = (g_get_monotonic_time () - t1) / 1e3 / frames;
  }
  if (error) {
    fprintf (stderr, "bench-keyframe: %s\n", error->message);
    return 1;
  }
  qsort (push_ms, ROUNDS, sizeof (double), compare_double);
  qsort (thumb_ms, ROUNDS, sizeof (double), compare_double);
  printf ("%s, %ux%u %s, %u frames a round, medians of %d rounds (fastest, slowest)\n",
          heed_device_get_name (device), w, h, name, frames, ROUNDS);
  printf ("heed_keyframe_scorer_push  %.3f ms a frame (%.3f, %.3f)\n", push_ms[ROUNDS / 2],
          push_ms[0], push_ms[ROUNDS - 1]);
  printf ("  of which the thumbnail   %.3f ms a frame (%.3f, %.3f)\n", thumb_ms[ROUNDS / 2],
          thumb_ms[0], thumb_ms[ROUNDS - 1]);
  heed_keyframe_scorer_destroy (&scorer);
  heed_device_destroy (&device);
  g_free (frame), g_free (thumb);
  return 0;
}
