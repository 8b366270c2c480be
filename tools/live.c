/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `heed live [--device /dev/videoN | --source FRAGMENT] [--audio-source FRAGMENT] [--headless]
 * [--model M]`: a camera (or any live source) through heedclassify, heedkeyframe and heedoverlay,
 * shown in a window with the measured frames per second drawn in (fpsdisplaysink), or with
 * --headless printed instead: a line a second with the frames per second measured at the sink
 * and the current top label, and a line per keyframe. The sink keeps the clock: when the model
 * is slower than the source, heedclassify carries its last result forward instead of falling
 * behind. A queue puts the sink's wait for the clock in a thread of its own, so it does not eat
 * into the elements' time a frame (measured: frames late at the sink went from 2-27 in 300 to
 * none, docs/benchmarks.md). Ctrl-C stops; so does the source's end (num-buffers=N in a
 * fragment). */
#include "heed-cli.h"

#include <gst/gst.h>

#include <stdio.h>
#include <string.h>

typedef struct {
  GstElement *pipeline;
  gint frames;  /* atomic: counted at the sink */
  gint counted; /* frames at the last report */
  gint64 last;  /* monotonic µs of the last report */
  GMutex lock;  /* label, confidence: written by the streaming thread */
  char *label;
  double confidence;
  gboolean inferred;
} Live;

static GstPadProbeReturn
on_frame (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Live *l = data;
  g_atomic_int_inc (&l->frames);
  GstCustomMeta *meta =
      gst_buffer_get_custom_meta (GST_PAD_PROBE_INFO_BUFFER (info), "HeedClassificationMeta");
  if (!meta)
    return GST_PAD_PROBE_OK;
  GstStructure *c = gst_custom_meta_get_structure (meta);
  const GValue *labels = gst_structure_get_value (c, "labels");
  const GValue *confs = gst_structure_get_value (c, "confidences");
  if (labels && confs && gst_value_array_get_size (labels) > 0) {
    g_mutex_lock (&l->lock);
    g_free (l->label);
    l->label = g_value_dup_string (gst_value_array_get_value (labels, 0));
    l->confidence = g_value_get_double (gst_value_array_get_value (confs, 0));
    gst_structure_get_boolean (c, "inferred", &l->inferred);
    g_mutex_unlock (&l->lock);
  }
  return GST_PAD_PROBE_OK;
}

static void
report (gpointer data)
{
  Live *l = data;
  gint64 now = g_get_monotonic_time ();
  gint frames = g_atomic_int_get (&l->frames);
  double seconds = (now - l->last) / 1e6;
  if (seconds <= 0 || frames == l->counted)
    return;
  g_mutex_lock (&l->lock);
  printf ("heed live: %.1f fps, %d frames, %s %.0f%%%s\n", (frames - l->counted) / seconds, frames,
          l->label ? l->label : "-", 100 * l->confidence, l->inferred ? "" : " (carried forward)");
  g_mutex_unlock (&l->lock);
  fflush (stdout);
  l->counted = frames;
  l->last = now;
}

static void
on_keyframe (const GstStructure *st, gpointer data)
{
  if (!gst_structure_has_name (st, "heedkeyframe"))
    return;
  guint64 frame = 0;
  double score = 0;
  gst_structure_get_uint64 (st, "frame", &frame);
  gst_structure_get_double (st, "score", &score);
  printf ("heed live: keyframe at frame %" G_GUINT64_FORMAT " (%s), score %.2f\n", frame,
          gst_structure_get_string (st, "cause"), score);
  fflush (stdout);
}

int
heed_cmd_live (int argc, char **argv)
{
  char *device = NULL, *source = NULL, *audio = NULL, *model = NULL, *weights = NULL;
  gboolean headless = FALSE;
  HeedCliElementOptions settings = { { NULL } };
  GOptionEntry entries[] = {
    { "device", 0, 0, G_OPTION_ARG_FILENAME, &device, "the camera (default /dev/video0)",
      "/dev/videoN" },
    { "source", 0, 0, G_OPTION_ARG_STRING, &source,
      "any live video source as a pipeline fragment instead of the camera, e.g. "
      "'videotestsrc is-live=true', or its address (rtsp://..., with its sound)",
      "FRAGMENT" },
    { "audio-source", 0, 0, G_OPTION_ARG_STRING, &audio,
      "a live sound source for heedkeyframe's audio_sink, e.g. 'autoaudiosrc'", "FRAGMENT" },
    { "headless", 0, 0, G_OPTION_ARG_NONE, &headless,
      "print the results (a line a second, one per keyframe) instead of opening a window", NULL },
    HEED_CLI_MODEL_ENTRY (model, " (default: the embedded videotestsrc model)"),
    HEED_CLI_WEIGHTS_ENTRY (weights),
    { NULL }
  };
  GOptionContext *ctx = g_option_context_new ("- a live camera with heed's overlays");
  GError *error = NULL;
  Live l = { 0 };
  int status = 1;
  char *desc = NULL, *model_path = NULL, *video = NULL;
  g_mutex_init (&l.lock);

  g_option_context_add_main_entries (ctx, entries, NULL);
  heed_cli_element_options_add (ctx, &settings);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  if (device && source) {
    status = heed_cli_fail ("--device and --source name two sources: give one", NULL);
    goto out;
  }
  if (model && !(model_path = heed_cli_resolve_model (model, &error))) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  gst_init (NULL, NULL);
  if (!heed_cli_find_plugin (&error)) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  /* an address (rtsp://, http://, file://) in --source is read by uridecodebin: its picture to
   * the elements, its sound to heedkeyframe, or where --audio-source gives the sound to a
   * fakesink (a stream left unlinked stops RTSP's source); one with no sound leaves that
   * branch unlinked, which heedkeyframe does not wait for */
  gboolean address = source && gst_uri_is_valid (source) && !strchr (source, '"');
  char *protocol = address ? gst_uri_get_protocol (source) : NULL;
  gboolean readable = !address || gst_uri_protocol_is_supported (GST_URI_SRC, protocol);
  g_free (protocol);
  if (!readable) {
    char *msg = g_strdup_printf ("--source %s: no GStreamer source reads such addresses", source);
    status = heed_cli_fail (msg, NULL);
    g_free (msg);
    goto out;
  }
  video = address  ? g_strdup_printf ("uridecodebin name=d uri=\"%s\" d. ! queue", source)
          : source ? g_strdup (source)
                   : g_strdup_printf ("v4l2src device=\"%s\"", device ? device : "/dev/video0");
  const char *sound = audio ? audio : address ? "d. ! queue" : NULL;
  desc = g_strdup_printf (
      "%s ! videoconvert ! heedclassify name=classify ! heedkeyframe name=key ! heedoverlay "
      "! queue ! videoconvert ! %s %s%s%s",
      video,
      headless ? "fakesink name=sink sync=true"
               : "fpsdisplaysink name=sink video-sink=autovideosink text-overlay=true sync=true",
      sound ? sound : "", sound ? " ! audioconvert ! audioresample ! key.audio_sink" : "",
      address && audio ? " d. ! queue ! fakesink sync=false async=false" : "");
  /* an element that does not exist is an error here, not a pipeline with a part missing */
  l.pipeline = gst_parse_launch_full (desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &error);
  if (!l.pipeline || error) {
    g_clear_object (&l.pipeline);
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  if (model_path)
    heed_cli_set_string (l.pipeline, "classify", "model", model_path);
  if (!heed_cli_set_weights (l.pipeline, "classify", weights, &error) ||
      !heed_cli_element_options_apply (l.pipeline, &settings, &error)) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  /* frames and results counted where they are shown */
  heed_cli_probe_buffers (l.pipeline, "sink", "sink", on_frame, &l);

  l.last = g_get_monotonic_time ();
  HeedCliHooks hooks = { 1000, report, NULL, on_keyframe }; /* Ctrl-C stops */
  gboolean ok = heed_cli_run_pipeline (l.pipeline, &hooks, &l, &error);
  report (&l);
  if (!ok)
    status = heed_cli_fail (NULL, error);
  else if (!g_atomic_int_get (&l.frames))
    status = heed_cli_fail ("the source gave no frame", NULL);
  else
    status = 0;

out:
  if (l.pipeline)
    gst_object_unref (l.pipeline);
  g_free (l.label);
  g_mutex_clear (&l.lock);
  g_free (desc);
  g_free (video);
  g_free (model_path);
  g_free (device);
  g_free (source);
  g_free (audio);
  g_free (model);
  g_free (weights);
  heed_cli_element_options_clear (&settings);
  g_option_context_free (ctx);
  return status;
}
