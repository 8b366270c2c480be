/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Playing a pipeline to its end for the heed tool's GStreamer commands (annotate, live): the
 * bus watched, Ctrl-C handed to the command, a periodic tick, the first error kept. */
#include "heed-cli.h"
#include "heed-engine.h"

#include <glib-unix.h>
#include <signal.h>
#include <string.h>

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
heed_cli_set_arg (GstElement *pipeline, const char *element, const char *property,
                  const char *option, const char *value, GError **error)
{
  if (!value)
    return TRUE;
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), element);
  GParamSpec *ps = g_object_class_find_property (G_OBJECT_GET_CLASS (e), property);
  GType type = G_PARAM_SPEC_VALUE_TYPE (ps);
  GValue v = G_VALUE_INIT;
  g_value_init (&v, type);
  /* g_param_value_validate says TRUE where it had to change the value to fit; a minus sign
   * would wrap round into an unsigned one */
  gboolean ok = !((type == G_TYPE_UINT || type == G_TYPE_UINT64) && strchr (value, '-')) &&
                gst_value_deserialize (&v, value) && !g_param_value_validate (ps, &v);
  if (ok) {
    g_object_set_property (G_OBJECT (e), property, &v);
  } else {
    GString *takes = g_string_new (NULL);
    if (G_IS_PARAM_SPEC_ENUM (ps)) {
      GEnumClass *k = G_PARAM_SPEC_ENUM (ps)->enum_class;
      g_string_append (takes, "one of");
      for (guint i = 0; i < k->n_values; i++)
        g_string_append_printf (takes, "%s %s", i ? "," : "", k->values[i].value_nick);
    } else if (G_IS_PARAM_SPEC_UINT (ps)) {
      g_string_append_printf (takes, "a whole number from %u to %u",
                              G_PARAM_SPEC_UINT (ps)->minimum, G_PARAM_SPEC_UINT (ps)->maximum);
    } else if (G_IS_PARAM_SPEC_DOUBLE (ps)) {
      g_string_append_printf (takes, "a number from %g to %g", G_PARAM_SPEC_DOUBLE (ps)->minimum,
                              G_PARAM_SPEC_DOUBLE (ps)->maximum);
    } else {
      g_string_append_printf (takes, "a %s", g_type_name (type));
    }
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--%s %s: it takes %s", option,
                 value, takes->str);
    g_string_free (takes, TRUE);
  }
  g_value_unset (&v);
  gst_object_unref (e);
  return ok;
}

/* The options of annotate and live that stand for the elements' properties, on the pipeline's
 * elements named classify and key; in the order of HeedCliElementOptions' values */
static const struct {
  const char *option, *element, *property, *help, *arg;
} element_options[HEED_CLI_ELEMENT_OPTIONS] = {
  { "labels", "classify", "labels-file", "class names, one per line (overrides the model's)", "F" },
  { "top-k", "classify", "top-k", "how many classes each frame reports (default 5)", "K" },
  { "resize", "classify", "resize",
    "checkpoint (default: what the checkpoint's config says), stretch, crop or letterbox", "MODE" },
  { "attention", "classify", "attention",
    "cls (default: the last layer's CLS attention), rollout (across all layers) or none: the "
    "map the heatmap shows",
    "MODE" },
  { "input-size", "classify", "input-size",
    "run the model at N x N pixels (a multiple of its patch size), for a finer attention map",
    "N" },
  { "interval", "classify", "inference-interval",
    "run the model on every Nth frame, carrying its result forward between (default 1); 0: "
    "only where the picture changed (attention as a budget: at least every 30 frames)",
    "N" },
  { "threshold", "key", "threshold",
    "the importance (0..1) a frame needs to be a keyframe (default 0.5; lower finds subtler "
    "changes)",
    "T" },
};

void
heed_cli_element_options_add (GOptionContext *ctx, HeedCliElementOptions *o)
{
  GOptionEntry entries[HEED_CLI_ELEMENT_OPTIONS + 1] = { { NULL } };
  for (guint i = 0; i < HEED_CLI_ELEMENT_OPTIONS; i++)
    entries[i] = (GOptionEntry){
      element_options[i].option,
      0,
      0,
      strcmp (element_options[i].option, "labels") == 0 ? G_OPTION_ARG_FILENAME
                                                        : G_OPTION_ARG_STRING,
      &o->values[i],
      element_options[i].help,
      element_options[i].arg,
    };
  g_option_context_add_main_entries (ctx, entries, NULL); /* it keeps a copy */
}

gboolean
heed_cli_element_options_apply (GstElement *pipeline, const HeedCliElementOptions *o,
                                GError **error)
{
  for (guint i = 0; i < HEED_CLI_ELEMENT_OPTIONS; i++)
    if (!heed_cli_set_arg (pipeline, element_options[i].element, element_options[i].property,
                           element_options[i].option, o->values[i], error))
      return FALSE;
  return TRUE;
}

void
heed_cli_element_options_clear (HeedCliElementOptions *o)
{
  for (guint i = 0; i < HEED_CLI_ELEMENT_OPTIONS; i++)
    g_clear_pointer (&o->values[i], g_free);
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
