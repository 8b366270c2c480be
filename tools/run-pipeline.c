/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Playing a pipeline to its end for the heed tool's GStreamer commands (annotate, live): the
 * bus watched, Ctrl-C handed to the command, a periodic tick, the first error kept. */
#include "heed-cli.h"
#include "heed-engine.h"

#include <glib-unix.h>
#include <signal.h>

typedef struct {
  GMainLoop *loop;
  const HeedCliHooks *hooks;
  gpointer data;
  char *error; /* the first error, with the element that posted it */
  gboolean interrupted;
} Run;

static gboolean
on_interrupt (gpointer user)
{
  Run *r = user;
  /* a command that takes Ctrl-C ends the stream itself; a second one stops at once */
  if (!r->interrupted && r->hooks->interrupt && r->hooks->interrupt (r->data))
    r->interrupted = TRUE;
  else
    g_main_loop_quit (r->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_tick (gpointer user)
{
  Run *r = user;
  r->hooks->tick (r->data);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_message (GstBus *bus, GstMessage *msg, gpointer user)
{
  Run *r = user;
  const GstStructure *s = gst_message_get_structure (msg);
  switch (GST_MESSAGE_TYPE (msg)) {
  case GST_MESSAGE_ELEMENT:
    if (s && r->hooks->element_message)
      r->hooks->element_message (s, r->data);
    break;
  case GST_MESSAGE_ERROR: {
    GError *err;
    gst_message_parse_error (msg, &err, NULL);
    if (!r->error)
      r->error = g_strdup_printf ("%s (%s)", err->message, GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)));
    g_error_free (err);
    g_main_loop_quit (r->loop);
    break;
  }
  case GST_MESSAGE_EOS: g_main_loop_quit (r->loop); break;
  default: break;
  }
  return G_SOURCE_CONTINUE;
}

gboolean
heed_cli_run_pipeline (GstElement *pipeline, const HeedCliHooks *hooks, gpointer data,
                       GError **error)
{
  Run r = { g_main_loop_new (NULL, FALSE), hooks, data, NULL, FALSE };
  GstBus *bus = gst_element_get_bus (pipeline);
  gst_bus_add_watch (bus, on_message, &r);
  guint sigint = g_unix_signal_add (SIGINT, on_interrupt, &r);
  guint ticker = hooks->tick ? g_timeout_add (hooks->tick_ms, on_tick, &r) : 0;
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE)
    g_main_loop_run (r.loop);
  /* an error posted while the pipeline started, or as it stopped, may still be queued */
  GstMessage *late = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  if (late) {
    on_message (bus, late, &r);
    gst_message_unref (late);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  if (ticker)
    g_source_remove (ticker);
  g_source_remove (sigint);
  gst_bus_remove_watch (bus);
  gst_object_unref (bus);
  g_main_loop_unref (r.loop);
  if (!r.error)
    return TRUE;
  g_set_error_literal (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED, r.error);
  g_free (r.error);
  return FALSE;
}

void
heed_cli_set_string (GstElement *pipeline, const char *element, const char *property,
                     const char *value)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), element);
  g_object_set (e, property, value, NULL);
  gst_object_unref (e);
}

gboolean
heed_cli_set_weights (GstElement *pipeline, const char *element, const char *weights,
                      GError **error)
{
  HeedWeightFormat format;
  if (!weights)
    return TRUE;
  if (!heed_weight_format_parse (weights, &format, error))
    return FALSE;
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), element);
  gst_util_set_object_arg (G_OBJECT (e), "weights", heed_weight_format_name (format));
  gst_object_unref (e);
  return TRUE;
}

gboolean
heed_cli_probe_buffers (GstElement *pipeline, const char *element, const char *pad_name,
                        GstPadProbeCallback callback, gpointer data)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), element);
  if (!e)
    return FALSE;
  GstPad *pad = gst_element_get_static_pad (e, pad_name);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, callback, data, NULL);
  gst_object_unref (pad);
  gst_object_unref (e);
  return TRUE;
}
