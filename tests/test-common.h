/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the engine tests: one device per test program, seeded inputs, and the
 * normalised-error comparison every op test uses. */
#ifndef HEED_TEST_COMMON_H
#define HEED_TEST_COMMON_H

#include "heed-private.h"

#include <math.h>

static HeedDevice *test_device;

static inline HeedDevice *
get_device (void)
{
  if (!test_device) {
    GError *error = NULL;
    test_device = heed_device_new (-1, &error);
    g_assert_no_error (error);
  }
  return test_device;
}

static inline float *
random_floats (GRand *rng, gsize n, double lo, double hi)
{
  float *v = g_new (float, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    v[i] = (float) g_rand_double_range (rng, lo, hi);
  return v;
}

/* max |got - want| / max(|want|, floor): the scale-free error of a whole tensor. Fails on NaN. */
static inline double
normalised_error (const float *got, const float *want, gsize n, double floor_)
{
  double max_err = 0, max_ref = floor_;
  for (gsize i = 0; i < n; i++) {
    g_assert_false (isnan (got[i]) || isinf (got[i]));
    max_err = MAX (max_err, fabs ((double) got[i] - want[i]));
    max_ref = MAX (max_ref, fabs ((double) want[i]));
  }
  return max_err / max_ref;
}

#define assert_close(got, want, n, tol)                                                            \
  do {                                                                                             \
    double e_ = normalised_error ((got), (want), (n), 1e-6);                                       \
    if (e_ > (tol))                                                                                \
      g_error ("%s:%d: normalised error %.3g > %.3g", __FILE__, __LINE__, e_, (double) (tol));     \
  } while (0)

/* Any Vulkan validation message fails the test that caused it. */
static inline void
assert_no_validation_messages (void)
{
  g_assert_cmpuint (heed_validation_message_count (), ==, 0);
}

static inline HeedBuffer *
buffer_from (HeedDevice *d, const float *data, gsize n, gsize capacity)
{
  GError *error = NULL;
  HeedBuffer *b = heed_buffer_new (d, MAX (capacity, n) * 4, FALSE, &error);
  g_assert_no_error (error);
  if (n) {
    heed_buffer_upload (b, 0, data, n * 4, &error);
    g_assert_no_error (error);
  }
  return b;
}

static inline float *
buffer_read (HeedBuffer *b, gsize n)
{
  GError *error = NULL;
  float *out = g_new (float, MAX (n, 1));
  heed_buffer_download (b, 0, out, n * 4, &error);
  g_assert_no_error (error);
  return out;
}

static inline void
run_recorder (HeedRecorder *rec)
{
  GError *error = NULL;
  heed_recorder_end (rec, &error);
  g_assert_no_error (error);
  heed_recorder_submit (rec, &error);
  g_assert_no_error (error);
}

/* One frame through slot 0 of run, waited for: the owned result, or NULL with error set. */
static inline HeedVitResult *
run_frame_sync (HeedVitRun *run, const guint8 *const planes[3], const guint stride[3],
                GError **error)
{
  HeedVitResult *r = NULL;
  if (!heed_vit_run_set_frame (run, 0, planes, stride, error) ||
      !heed_vit_run_submit (run, 1, error) || !heed_vit_run_wait (run, &r, error))
    return NULL;
  return r;
}

static inline HeedVitResult *
run_device_frame_sync (HeedVitRun *run, HeedDevicePlane *planes, guint n, GError **error)
{
  HeedVitResult *r = NULL;
  if (!heed_vit_run_set_frame_device (run, 0, planes, n, error) ||
      !heed_vit_run_submit (run, 1, error) || !heed_vit_run_wait (run, &r, error))
    return NULL;
  return r;
}

#endif
