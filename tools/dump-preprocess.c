/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes the preprocessing's output (heed_op_preprocess on the device heed picks) for every
 * pixel format, 7 frame sizes (1080p to 1x1), every filter and two strides (tight, padded), one
 * after another as float32, to compare two builds to the bit after a change meant to give the
 * same sums:
 *   dump-preprocess OUT.f32
 *   cmp OLD.f32 NEW.f32
 * The frames are seeded noise; the model sizes alternate 96 and 224 px. Not installed. */
#include "heed-private.h"

#include <stdio.h>

static guint
bytes_per_pixel (HeedPixelFormat f)
{
  return f <= HEED_PIXEL_XBGR ? 4 : f <= HEED_PIXEL_BGR ? 3 : 1;
}

int
main (int argc, char **argv)
{
  if (argc != 2) {
    fprintf (stderr, "usage: %s OUT.f32\n", argv[0]);
    return 2;
  }
  GError *error = NULL;
  HeedDevice *d = heed_device_new (-1, &error);
  FILE *o = d ? fopen (argv[1], "wb") : NULL;
  if (!o) {
    fprintf (stderr, "dump-preprocess: %s\n", error ? error->message : g_strerror (errno));
    return 1;
  }
  const guint sizes[][2] = { { 1920, 1080 }, { 641, 479 }, { 37, 23 }, { 1001, 757 },
                             { 97, 61 },     { 7, 300 },   { 1, 1 } };
  const float mean[3] = { 0.485f, 0.456f, 0.406f }, std[3] = { 0.229f, 0.224f, 0.225f };
  int status = 0;
  for (HeedPixelFormat f = HEED_PIXEL_RGBA; f <= HEED_PIXEL_GRAY8 && !status; f++)
    for (guint s = 0; s < G_N_ELEMENTS (sizes) && !status; s++)
      for (guint filter = 0; filter <= HEED_INTERPOLATION_HEED_BOX8 && !status; filter++)
        for (guint pad = 0; pad < 2 && !status; pad++) {
          guint w = sizes[s][0], h = sizes[s][1], cw = (w + 1) / 2, extra = pad ? 5 : 0;
          guint row0 = f == HEED_PIXEL_YUY2 ? 4 * cw : bytes_per_pixel (f) * w;
          guint stride[3] = { row0 + extra, (f == HEED_PIXEL_NV12 ? 2 * cw : cw) + (pad ? 3 : 0),
                              cw + (pad ? 7 : 0) };
          guint out = s % 2 ? 224 : 96;
          HeedFrameLayout l;
          if (!heed_frame_layout_init (&l, f, w, h, stride, &error)) {
            status = 1;
            break;
          }
          l.resize = (HeedResize) (filter % 3);
          l.interpolation = (HeedInterpolation) filter;
          l.matrix = (HeedYuvMatrix) (s % 3);
          l.full_range = pad;
          GRand *rng = g_rand_new_with_seed (f * 100 + s * 10 + filter);
          guint8 *frame = g_malloc0 (l.size + 4);
          for (gsize i = 0; i < l.size; i++)
            frame[i] = (guint8) g_rand_int_range (rng, 0, 256);
          g_rand_free (rng);
          float params[18];
          heed_frame_params (&l, mean, std, params);
          HeedBuffer *bf = heed_buffer_new (d, l.size + 4, TRUE, &error);
          HeedBuffer *bp = bf ? heed_buffer_new (d, sizeof params, TRUE, &error) : NULL;
          HeedBuffer *rows =
              bp ? heed_buffer_new (d, heed_frame_rows_bytes (&l, out), FALSE, &error) : NULL;
          HeedBuffer *bo = rows ? heed_buffer_new (d, 3 * out * out * 4, TRUE, &error) : NULL;
          HeedRecorder *rec = bo ? heed_recorder_new (d, NULL, 2, FALSE, &error) : NULL;
          if (rec) {
            memcpy (bf->mapped, frame, l.size);
            memcpy (bp->mapped, params, sizeof params);
          }
          if (!rec || !heed_op_preprocess (rec, &l, bf, bp, rows, bo, out, &error) ||
              !heed_recorder_end (rec, &error) || !heed_recorder_submit (rec, &error) ||
              fwrite (bo->mapped, 4, 3 * out * out, o) != 3 * out * out)
            status = 1;
          heed_recorder_destroy (&rec);
          heed_buffer_destroy (&bf), heed_buffer_destroy (&bp), heed_buffer_destroy (&bo);
          heed_buffer_destroy (&rows);
          g_free (frame);
        }
  if (fclose (o) != 0 && !status)
    status = 1;
  if (status)
    fprintf (stderr, "dump-preprocess: %s\n", error ? error->message : "cannot write");
  heed_device_destroy (&d);
  return status;
}
