/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An application that uses heed without linking to it: builds a pipeline around heed's
 * elements, reads the metadata they attach to each buffer (a pad probe on the sink), listens to
 * heedkeyframe's messages on the bus, and prints its own summary as one JSON object:
 *
 *   heed-summary VIDEO_FILE
 *   {"frames": 50, "inferred": 50, "labels": {"smpte": 25, "ball": 25},
 *    "keyframes": [{"frame": 25, "cause": "visual", "score": 0.98}],
 *    "mean_attention_peak": [0.41, 0.52]}
 *
 * demos/heed_summary.py is the same in Python. Build: see demos/meson.build, or
 *   cc heed-summary.c $(pkg-config --cflags --libs gstreamer-1.0) -o heed-summary */
#include <gst/gst.h>
#include <stdio.h>

typedef struct {
  guint frames, inferred;
  GHashTable *labels; /* top-1 label -> frames */
  double peak_x, peak_y;
  guint peaks;
  GString *keyframes; /* JSON objects, comma-separated */
} Summary;

/* A JSON string: quotes, backslashes and control characters escaped (labels may hold any
 * UTF-8, which JSON takes as it is). */
static void
print_json_string (const char *text)
{
  putchar ('"');
  for (const char *c = text; *c; c++)
    if (*c == '"' || *c == '\\')
      printf ("\\%c", *c);
    else if ((unsigned char) *c < 0x20)
      printf ("\\u%04x", *c);
    else
      putchar (*c);
  putchar ('"');
}

/* Every buffer reaching the sink: heedclassify's and heedkeyframe's metadata, as GstCustomMeta
 * structures (elements/heedmeta.h documents their fields). */
static GstPadProbeReturn
on_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Summary *s = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  s->frames++;
  GstCustomMeta *meta = gst_buffer_get_custom_meta (buf, "HeedClassificationMeta");
  if (!meta)
    return GST_PAD_PROBE_OK;
  GstStructure *c = gst_custom_meta_get_structure (meta);
  const GValue *labels = gst_structure_get_value (c, "labels");
  if (labels && gst_value_array_get_size (labels) > 0) {
    const char *top = g_value_get_string (gst_value_array_get_value (labels, 0));
    guint n = GPOINTER_TO_UINT (g_hash_table_lookup (s->labels, top));
    g_hash_table_insert (s->labels, g_strdup (top), GUINT_TO_POINTER (n + 1));
  }
  gboolean inferred;
  if (gst_structure_get_boolean (c, "inferred", &inferred) && inferred)
    s->inferred++;
  double x, y;
  if (gst_structure_get_double (c, "attention-peak-x", &x) &&
      gst_structure_get_double (c, "attention-peak-y", &y)) {
    s->peak_x += x, s->peak_y += y;
    s->peaks++;
  }
  return GST_PAD_PROBE_OK;
}

static gboolean
on_message (GstBus *bus, GstMessage *msg, gpointer data)
{
  GMainLoop *loop = data;
  Summary *s = g_object_get_data (G_OBJECT (bus), "summary");
  const GstStructure *st = gst_message_get_structure (msg);
  switch (GST_MESSAGE_TYPE (msg)) {
  case GST_MESSAGE_ELEMENT:
    if (st && gst_structure_has_name (st, "heedkeyframe")) {
      guint64 frame;
      double score;
      gst_structure_get_uint64 (st, "frame", &frame);
      gst_structure_get_double (st, "score", &score);
      g_string_append_printf (s->keyframes,
                              "%s{\"frame\": %" G_GUINT64_FORMAT ", \"cause\": \"%s\", "
                              "\"score\": %.3f}",
                              s->keyframes->len ? ", " : "", frame,
                              gst_structure_get_string (st, "cause"), score);
    }
    break;
  case GST_MESSAGE_ERROR: {
    GError *err;
    gst_message_parse_error (msg, &err, NULL);
    fprintf (stderr, "heed-summary: %s\n", err->message);
    g_error_free (err);
    g_object_set_data (G_OBJECT (bus), "failed", GINT_TO_POINTER (1));
    g_main_loop_quit (loop);
    break;
  }
  case GST_MESSAGE_EOS: g_main_loop_quit (loop); break;
  default: break;
  }
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  if (argc != 2) {
    fprintf (stderr, "usage: heed-summary VIDEO_FILE\n");
    return 2;
  }
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (
      "filesrc name=src ! decodebin ! videoconvert ! heedclassify post-messages=false "
      "! heedkeyframe ! fakesink name=sink",
      &error);
  if (!pipeline) {
    fprintf (stderr, "heed-summary: %s (is the heed plugin on GST_PLUGIN_PATH?)\n", error->message);
    return 1;
  }
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  g_object_set (src, "location", argv[1], NULL);
  gst_object_unref (src);

  Summary s = { 0 };
  s.labels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  s.keyframes = g_string_new (NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  GstPad *pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, &s, NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);

  GMainLoop *loop = g_main_loop_new (NULL, FALSE);
  GstBus *bus = gst_element_get_bus (pipeline);
  g_object_set_data (G_OBJECT (bus), "summary", &s);
  gst_bus_add_watch (bus, on_message, loop);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  g_main_loop_run (loop);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gboolean failed = g_object_get_data (G_OBJECT (bus), "failed") != NULL;
  gst_bus_remove_watch (bus);
  gst_object_unref (bus);

  if (!failed) {
    printf ("{\"frames\": %u, \"inferred\": %u, \"labels\": {", s.frames, s.inferred);
    GHashTableIter it;
    gpointer key, value;
    gboolean first = TRUE;
    g_hash_table_iter_init (&it, s.labels);
    while (g_hash_table_iter_next (&it, &key, &value)) {
      printf ("%s", first ? "" : ", ");
      print_json_string (key);
      printf (": %u", GPOINTER_TO_UINT (value));
      first = FALSE;
    }
    printf ("}, \"keyframes\": [%s], \"mean_attention_peak\": [%.4f, %.4f]}\n", s.keyframes->str,
            s.peaks ? s.peak_x / s.peaks : 0.0, s.peaks ? s.peak_y / s.peaks : 0.0);
  }
  g_hash_table_unref (s.labels);
  g_string_free (s.keyframes, TRUE);
  g_main_loop_unref (loop);
  gst_object_unref (pipeline);
  return failed ? 1 : 0;
}
