/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* heedkeyframe's sound: any rate and channel count in, mono 16 kHz, log-mel frames on the
 * device (shaders/logmel.comp, VGGish's front end: 25 ms windows every 10 ms, 64 mel bands
 * from 125 to 7500 Hz), and their spectral flux: the sum over bands of each band's rise above
 * the most it held in the 3 frames before (a reference that steady noise rarely beats, as in
 * Böck and Widmer's SuperFlux), so it is large where a sound starts and small in noise. */
#include "heed-private.h"
#include "heed-push.h"

#include <math.h>
#include <string.h>

#define MAX_WINDOWS 256 /* per submission: 2.56 s of sound */

struct _HeedAudioFeatures {
  HeedDevice *device;
  HeedBuffer *samples, *tables, *logmel;
  HeedRecorder *rec[MAX_WINDOWS + 1]; /* by window count, recorded on first use */
  GArray *pending;                    /* 16 kHz samples not yet in a complete hop */
  guint64 consumed;                   /* 16 kHz samples before pending[0] */
  GArray *input;                      /* input samples the resampler still needs */
  double resample_pos;                /* where in input the next output sample lies */
  guint rate;
#define FLUX_LAG 3
  float previous[FLUX_LAG][HEED_AUDIO_MELS]; /* the last frames' log-mel, a ring */
  guint n_previous;
};

static double
hertz_to_mel (double f)
{
  return 1127.0 * log (1.0 + f / 700.0);
}

void
heed_audio_mel_matrix (float *mel)
{
  /* VGGish's spectrogram_to_mel_matrix: triangles between equally spaced mel edges */
  const double nyquist = HEED_AUDIO_RATE / 2.0, lo = hertz_to_mel (125.0);
  const double hi = hertz_to_mel (7500.0);
  for (guint m = 0; m < HEED_AUDIO_MELS; m++) {
    double edges[3];
    for (guint e = 0; e < 3; e++)
      edges[e] = lo + (hi - lo) * (m + e) / (HEED_AUDIO_MELS + 1);
    for (guint k = 0; k < HEED_AUDIO_BINS; k++) {
      double f = hertz_to_mel (nyquist * k / (HEED_AUDIO_BINS - 1));
      double lower = (f - edges[0]) / (edges[1] - edges[0]);
      double upper = (edges[2] - f) / (edges[2] - edges[1]);
      mel[m * HEED_AUDIO_BINS + k] = k == 0 ? 0.0f : (float) MAX (0.0, MIN (lower, upper));
    }
  }
}

HeedAudioFeatures *
heed_audio_features_new (HeedDevice *device, GError **error)
{
  HeedAudioFeatures *a = g_new0 (HeedAudioFeatures, 1);
  a->device = heed_device_ref (device);
  a->pending = g_array_new (FALSE, FALSE, sizeof (float));
  a->input = g_array_new (FALSE, FALSE, sizeof (float));
  gsize n_tables = HEED_AUDIO_FFT + HEED_AUDIO_MELS * HEED_AUDIO_BINS;
  if (!(a->samples = heed_buffer_new (device, MAX_WINDOWS * HEED_AUDIO_WINDOW * sizeof (float),
                                      TRUE, error)) ||
      !(a->tables = heed_buffer_new (device, n_tables * sizeof (float), TRUE, error)) ||
      !(a->logmel = heed_buffer_new (device, MAX_WINDOWS * HEED_AUDIO_MELS * sizeof (float), TRUE,
                                     error))) {
    heed_audio_features_destroy (&a);
    return NULL;
  }
  float *t = a->tables->mapped;
  for (guint i = 0; i < HEED_AUDIO_FFT; i++)
    t[i] = (float) cos (2.0 * G_PI * i / HEED_AUDIO_FFT);
  heed_audio_mel_matrix (t + HEED_AUDIO_FFT);
  return a;
}

void
heed_audio_features_destroy (HeedAudioFeatures **features)
{
  HeedAudioFeatures *a = *features;
  if (!a)
    return;
  for (guint i = 0; i <= MAX_WINDOWS; i++)
    heed_recorder_destroy (&a->rec[i]);
  heed_buffer_destroy (&a->samples);
  heed_buffer_destroy (&a->tables);
  heed_buffer_destroy (&a->logmel);
  g_array_unref (a->pending);
  g_array_unref (a->input);
  heed_device_destroy (&a->device);
  g_free (a);
  *features = NULL;
}

void
heed_audio_features_reset (HeedAudioFeatures *a, guint rate)
{
  g_array_set_size (a->pending, 0);
  a->consumed = 0;
  a->resample_pos = 0.0;
  g_array_set_size (a->input, 0);
  a->rate = rate;
  a->n_previous = 0;
}

/* Mono samples at the stream's rate -> 16 kHz: the mean of the input samples each output
 * sample covers when shrinking (a box filter against aliasing), linear between two when
 * growing. Input a buffer's end leaves unused waits for the next buffer. */
static void
resample (HeedAudioFeatures *a, const float *in, guint n)
{
  if (a->rate == HEED_AUDIO_RATE) {
    g_array_append_vals (a->pending, in, n);
    return;
  }
  g_array_append_vals (a->input, in, n);
  const float *x = (const float *) a->input->data;
  guint len = a->input->len;
  double step = (double) a->rate / HEED_AUDIO_RATE, pos = a->resample_pos;
  for (;;) {
    float v;
    if (step > 1.0) {
      guint first = (guint) ceil (pos), last = (guint) ceil (pos + step);
      if (last > len)
        break;
      double sum = 0;
      for (guint i = first; i < last; i++)
        sum += x[i];
      v = (float) (sum / MAX (last - first, 1u));
    } else {
      guint f = (guint) floor (pos);
      if (f + 1 >= len)
        break;
      v = (float) (x[f] + (x[f + 1] - x[f]) * (pos - f));
    }
    g_array_append_val (a->pending, v);
    pos += step;
  }
  guint used = MIN ((guint) floor (pos), len);
  g_array_remove_range (a->input, 0, used);
  a->resample_pos = pos - used;
}

gboolean
heed_audio_features_push (HeedAudioFeatures *a, const float *mono, guint n, GArray *flux,
                          GError **error)
{
  if (!a->rate) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "no audio rate set");
    return FALSE;
  }
  resample (a, mono, n);
  while (a->pending->len >= HEED_AUDIO_WINDOW) {
    guint windows = MIN ((a->pending->len - HEED_AUDIO_WINDOW) / HEED_AUDIO_HOP + 1, MAX_WINDOWS);
    const float *p = (const float *) a->pending->data;
    float *dst = a->samples->mapped;
    for (guint w = 0; w < windows; w++)
      memcpy (dst + w * HEED_AUDIO_WINDOW, p + w * HEED_AUDIO_HOP,
              HEED_AUDIO_WINDOW * sizeof (float));
    if (!a->rec[windows]) {
      HeedLogMelParams params = { windows };
      HeedBuffer *b[3] = { a->samples, a->tables, a->logmel };
      HeedKernel k = { HEED_SHADER_LOGMEL, 64 };
      if (!(a->rec[windows] = heed_recorder_new (a->device, NULL, 1, FALSE, error)) ||
          !heed_recorder_dispatch (a->rec[windows], k, 0, b, &params, sizeof params, windows, 1, 1,
                                   "logmel", "audio", 0, error) ||
          !heed_recorder_end (a->rec[windows], error)) {
        heed_recorder_destroy (&a->rec[windows]);
        return FALSE;
      }
    }
    if (!heed_recorder_submit (a->rec[windows], error))
      return FALSE;
    const float *mel = a->logmel->mapped;
    for (guint w = 0; w < windows; w++) {
      const float *row = mel + w * HEED_AUDIO_MELS;
      float f = 0.0f;
      /* 0 until the reference holds FLUX_LAG frames: a stream's start is no onset */
      guint lag = a->n_previous >= FLUX_LAG ? FLUX_LAG : 0;
      for (guint m = 0; m < HEED_AUDIO_MELS && lag; m++) {
        float ref = -G_MAXFLOAT;
        for (guint j = 0; j < lag; j++)
          ref = MAX (ref, a->previous[j][m]);
        f += MAX (0.0f, row[m] - ref);
      }
      memcpy (a->previous[a->n_previous++ % FLUX_LAG], row, sizeof a->previous[0]);
      g_array_append_val (flux, f);
    }
    g_array_remove_range (a->pending, 0, windows * HEED_AUDIO_HOP);
    a->consumed += windows * HEED_AUDIO_HOP;
  }
  return TRUE;
}

const float *
heed_audio_features_last_logmel (const HeedAudioFeatures *a)
{
  return a->logmel->mapped;
}
