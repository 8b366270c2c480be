/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* heed bench's pipeline rows: a real GStreamer pipeline through heed's elements, as a user
 * writes it (videotestsrc, the elements with their defaults, a sink that does not wait for the
 * clock), timed from inside: when each frame enters heedclassify and when it reaches the sink.
 * Throughput and latency count the frames after the first tenth (the model's and the shaders'
 * start-up); a frame's latency is its time from heedclassify's sink pad to the sink's, frames in
 * flight, batches and heedkeyframe's look-ahead included. */
#include "heed-cli.h"

#include <stdlib.h>

typedef struct {
  GMutex lock;
  GstPad *into;        /* heedclassify's sink pad; the other probe is the sink's */
  GHashTable *entered; /* pts -> monotonic us at heedclassify's sink pad */
  GArray *arrived;     /* monotonic us at the sink, in order */
  GArray *latency_ms;  /* per frame that came through both probes, in order */
} Probes;

static GstPadProbeReturn
on_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
  Probes *p = user;
  gpointer pts = GSIZE_TO_POINTER (GST_BUFFER_PTS (gst_pad_probe_info_get_buffer (info)));
  gint64 now = g_get_monotonic_time ();
  g_mutex_lock (&p->lock);
  if (pad == p->into) {
    g_hash_table_insert (p->entered, pts, g_memdup2 (&now, sizeof now));
  } else {
    g_array_append_val (p->arrived, now);
    const gint64 *t = g_hash_table_lookup (p->entered, pts);
    if (t) {
      double ms = (double) (now - *t) / 1000.0;
      g_array_append_val (p->latency_ms, ms);
      g_hash_table_remove (p->entered, pts);
    }
  }
  g_mutex_unlock (&p->lock);
  return GST_PAD_PROBE_OK;
}

int
heed_cli_compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

gboolean
heed_cli_bench_pipeline (const char *downstream, const char *model_path, const char *weights,
                         int device_index, guint width, guint height, guint frames,
                         HeedCliPipelineTiming *timing, GError **error)
{
  char *desc = g_strdup_printf ("videotestsrc num-buffers=%u pattern=ball "
                                "! video/x-raw,width=%u,height=%u,framerate=30/1 "
                                "! heedclassify name=heed_bench_classify ! %s "
                                "! fakesink name=heed_bench_sink sync=false",
                                frames, width, height, downstream);
  GstElement *pipeline = gst_parse_launch_full (desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS, error);
  g_free (desc);
  if (!pipeline)
    return FALSE;
  Probes p = { .entered = g_hash_table_new_full (NULL, NULL, NULL, g_free),
               .arrived = g_array_new (FALSE, FALSE, sizeof (gint64)),
               .latency_ms = g_array_new (FALSE, FALSE, sizeof (double)) };
  g_mutex_init (&p.lock);
  gboolean ok = FALSE;
  GstElement *classify = gst_bin_get_by_name (GST_BIN (pipeline), "heed_bench_classify");
  g_object_set (classify, "model", model_path, "device", device_index, NULL);
  p.into = gst_element_get_static_pad (classify, "sink");
  gst_object_unref (classify);
  if (!heed_cli_set_weights (pipeline, "heed_bench_classify", weights, error))
    goto out;
  heed_cli_probe_buffers (pipeline, "heed_bench_classify", "sink", on_buffer, &p);
  heed_cli_probe_buffers (pipeline, "heed_bench_sink", "sink", on_buffer, &p);

  HeedCliHooks hooks = { 0 };
  if (!heed_cli_run_pipeline (pipeline, &hooks, NULL, error))
    goto out;

  /* the counts are read after the pipeline stopped: no probe runs any more */
  timing->frames = p.arrived->len;
  guint skip = MAX (frames / 10, 1);
  if (p.arrived->len < skip + 2 || p.latency_ms->len == 0) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED,
                 "only %u of %u frames reached the sink", p.arrived->len, frames);
    goto out;
  }
  const gint64 *at = (const gint64 *) p.arrived->data;
  guint last = p.arrived->len - 1;
  timing->frames_per_second = (double) (last - skip) * 1e6 / (double) MAX (at[last] - at[skip], 1);
  /* latency in the steady state too: the first frames wait for the model to load */
  double *ms = (double *) p.latency_ms->data + MIN (skip, p.latency_ms->len - 1);
  guint n = p.latency_ms->len - MIN (skip, p.latency_ms->len - 1);
  qsort (ms, n, sizeof *ms, heed_cli_compare_double);
  timing->latency_median_ms = ms[n / 2];
  timing->latency_p95_ms = ms[MIN (n - 1, (guint) (0.95 * n))];
  timing->latency_max_ms = ms[n - 1];
  ok = TRUE;
out:
  gst_clear_object (&p.into);
  gst_object_unref (pipeline);
  g_hash_table_destroy (p.entered);
  g_array_free (p.arrived, TRUE);
  g_array_free (p.latency_ms, TRUE);
  g_mutex_clear (&p.lock);
  return ok;
}
