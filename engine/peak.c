/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device's own arithmetic peak, which `heed bench` gives every kernel's GFLOP/s a share of:
 * shaders/peak.comp (independent multiply-add chains in registers) over enough invocations to
 * fill a large GPU, lengthened until one dispatch takes long enough to time well. */
#include "heed-private.h"
#include "heed-push.h"

/* 2^20 invocations: a large GPU keeps a quarter of a million resident at once */
#define PEAK_GROUPS 16384u
#define PEAK_CHAINS 12u  /* per invocation, as in peak.comp */
#define PEAK_STEPS 16u   /* steps of them an iteration */
#define PEAK_MIN_MS 20.0 /* a dispatch this long is timed to well within a percent */
#define PEAK_AIM_MS 40.0
#define PEAK_MAX_ITERATIONS (1u << 21)
#define PEAK_ROUNDS 4 /* of timing n and 2n, until 2n takes longer */

static gboolean
time_peak (HeedDevice *d, guint iterations, double *ms, GError **error)
{
  HeedBuffer *sink = heed_buffer_new (d, d->kernels.small_lanes * sizeof (float), FALSE, error);
  HeedRecorder *rec = sink ? heed_recorder_new (d, NULL, 1, TRUE, error) : NULL;
  HeedPeakParams p = { iterations, 0.999f, 0.001f };
  HeedKernel k = { HEED_SHADER_PEAK, d->kernels.small_lanes };
  gboolean ok = FALSE;
  if (rec &&
      heed_recorder_dispatch (rec, k, 0, &sink, &p, sizeof p, PEAK_GROUPS, 1, 1, "peak", "peak", 0,
                              error) &&
      heed_recorder_end (rec, error)) {
    gint64 t0 = g_get_monotonic_time ();
    ok = heed_recorder_submit (rec, error);
    /* without timestamps, the wall clock around the submission (an upper bound) */
    *ms = d->has_timestamps ? g_array_index (rec->timings, HeedOpTiming, 0).ms
                            : (double) (g_get_monotonic_time () - t0) / 1000.0;
  }
  heed_recorder_destroy (&rec);
  heed_buffer_destroy (&sink);
  return ok;
}

/* the least of `repeats` timings: a busy machine only ever adds time */
static gboolean
time_peak_min (HeedDevice *d, guint iterations, guint repeats, double *ms, GError **error)
{
  *ms = G_MAXDOUBLE;
  for (guint i = 0; i < repeats; i++) {
    double t;
    if (!time_peak (d, iterations, &t, error))
      return FALSE;
    *ms = MIN (*ms, t);
  }
  return TRUE;
}

gboolean
heed_device_measure_peak (HeedDevice *d, double *gflops, GError **error)
{
  /* A dispatch costs a fixed start (on lavapipe several ms for these 16,384 workgroups) plus
   * its arithmetic, so the peak is the slope between n and 2n iterations, n grown until the
   * longer run takes PEAK_MIN_MS, each the least of three runs. The first run also compiles
   * the shader on some drivers (lavapipe), so it is not counted. */
  guint n = 8;
  double t1 = 0, t2 = 0;
  if (!time_peak (d, 1, &t1, error))
    return FALSE;
  for (;;) {
    if (!time_peak (d, 2 * n, &t2, error))
      return FALSE;
    if (t2 >= PEAK_MIN_MS || n >= PEAK_MAX_ITERATIONS)
      break;
    double grow = t2 > 0 ? PEAK_AIM_MS / t2 : 16.0;
    n = (guint) MIN ((double) n * CLAMP (grow, 2.0, 64.0), (double) PEAK_MAX_ITERATIONS);
  }
  /* A busy machine can make the shorter run the slower one even at its best of three (the
   * suite beside a build gave a peak of 0 once): then both are timed again, twice as long. */
  for (guint round = 0; round < PEAK_ROUNDS; round++) {
    if (!time_peak_min (d, n, 3, &t1, error) || !time_peak_min (d, 2 * n, 3, &t2, error))
      return FALSE;
    if (t2 > t1) {
      double flops = 2.0 * PEAK_CHAINS * PEAK_STEPS * n * PEAK_GROUPS * d->kernels.small_lanes;
      *gflops = flops / (t2 - t1) / 1e6;
      return TRUE;
    }
    n = MIN (2 * n, PEAK_MAX_ITERATIONS);
  }
  g_set_error (error, HEED_ERROR, HEED_ERROR_VULKAN,
               "cannot measure the device's peak: twice the work took no longer (%.2f ms against "
               "%.2f, %u rounds); the machine is too busy to time",
               t2, t1, PEAK_ROUNDS);
  return FALSE;
}
