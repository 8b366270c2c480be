/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the element tests: harnesses, pipelines run to the end, and the Vulkan
 * validation layer watched both on heed's own instance (through the debug log) and on
 * GStreamer's (through the loader, in a child gst-launch-1.0). */
#ifndef HEED_TEST_GST_COMMON_H
#define HEED_TEST_GST_COMMON_H

#include <gst/check/gstharness.h>
#include <gst/gst.h>

#include <string.h>
#include <sys/wait.h>

static GstStaticPadTemplate any_src =
    GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate any_sink =
    GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

/* A harness around an element configured with props ("name=value ...") before it starts; its
 * messages go to a bus of its own. The harness answers latency queries as a live source or not
 * (live: GstHarness's default); the caps go out here, and elements ask then. */
static inline GstHarness *
element_harness_live (const char *factory, const char *caps, const char *props, gboolean live)
{
  GstElement *e = gst_element_factory_make (factory, NULL);
  g_assert_nonnull (e);
  char **pairs = g_strsplit (props ? props : "", " ", -1);
  for (char **p = pairs; *p; p++) {
    char **kv = g_strsplit (*p, "=", 2);
    if (kv[0] && kv[1])
      gst_util_set_object_arg (G_OBJECT (e), kv[0], kv[1]);
    g_strfreev (kv);
  }
  g_strfreev (pairs);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  gst_object_unref (bus);
  GstHarness *h = gst_harness_new_empty ();
  gst_harness_add_element_full (h, e, &any_src, "sink", &any_sink, "src");
  gst_object_unref (e);
  gst_harness_set_live (h, live);
  gst_harness_set_src_caps_str (h, caps);
  return h;
}

static inline GstHarness *
element_harness (const char *factory, const char *caps, const char *props)
{
  return element_harness_live (factory, caps, props, TRUE);
}

/* Runs a pipeline to EOS or error; returns the error message (or NULL). With messages, collects
 * a copy of every heedclassify message's structure, in order. */
static inline char *
run_pipeline (const char *desc, GPtrArray **messages)
{
  GError *error = NULL;
  GstElement *pipe = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  GstBus *bus = gst_element_get_bus (pipe);
  char *err = NULL;
  if (messages)
    *messages = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  for (;;) {
    GstMessage *m = gst_bus_timed_pop_filtered (
        bus, 120 * GST_SECOND, GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    g_assert_nonnull (m);
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
      GError *e;
      gst_message_parse_error (m, &e, NULL);
      err = g_strdup (e->message);
      g_error_free (e);
      gst_message_unref (m);
      break;
    }
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS) {
      gst_message_unref (m);
      break;
    }
    const GstStructure *st = gst_message_get_structure (m);
    if (messages && gst_structure_has_name (st, "heedclassify"))
      g_ptr_array_add (*messages, gst_structure_copy (st));
    gst_message_unref (m);
  }
  /* after an error, the sources' streaming threads have paused (up to 5 s) before anything
   * stops: a bin stops its sinks first, and GStreamer 1.22's vulkanupload answers an allocation
   * query that a source still negotiating sends it with the device it has just dropped (a
   * critical, 1 run in 10 under load) */
  GstIterator *sources = err ? gst_bin_iterate_sources (GST_BIN (pipe)) : NULL;
  GValue item = G_VALUE_INIT;
  while (sources && gst_iterator_next (sources, &item) == GST_ITERATOR_OK) {
    GstPad *pad = gst_element_get_static_pad (g_value_get_object (&item), "src");
    for (guint waited = 0; pad && gst_pad_get_task_state (pad) == GST_TASK_STARTED && waited < 5000;
         waited++)
      g_usleep (1000);
    gst_clear_object (&pad);
    g_value_reset (&item);
  }
  g_value_unset (&item);
  if (sources)
    gst_iterator_free (sources);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipe);
  return err;
}

/* The plugin carries its own copy of the engine, which logs validation-layer messages to the
 * element's debug category: count them there. */
static gint validation_messages;

static inline void
watch_log (GstDebugCategory *category, GstDebugLevel level, const gchar *file,
           const gchar *function, gint line, GObject *object, GstDebugMessage *message,
           gpointer user_data)
{
  const gchar *text = gst_debug_message_get (message);
  if (level <= GST_LEVEL_WARNING && text && strstr (text, "Vulkan validation")) {
    g_printerr ("%s\n", text);
    g_atomic_int_inc (&validation_messages);
  }
}

/* Runs a gst-launch-1.0 -m line with the Khronos validation layer forced on by the Vulkan
 * loader (GStreamer's own Vulkan instance has no switch for it; the layer then prints its
 * findings on the process's output). Returns stdout and stderr together. */
static inline char *
launch_validated (const char *pipeline)
{
  char *cmd = g_strdup_printf ("gst-launch-1.0 -m %s", pipeline);
  char **argv = NULL, *out = NULL, *err = NULL;
  int status;
  g_assert_true (g_shell_parse_argv (cmd, NULL, &argv, NULL));
  char **env = g_get_environ ();
  env = g_environ_setenv (env, "VK_INSTANCE_LAYERS", "VK_LAYER_KHRONOS_validation", TRUE);
  g_assert_true (
      g_spawn_sync (NULL, argv, env, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, NULL));
  char *all = g_strconcat (out, err, NULL);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("%s failed:\n%s", cmd, all);
  if (strstr (all, "Validation Error") || strstr (all, "Validation Warning"))
    g_error ("the validation layer reported on %s:\n%s", cmd, all);
  g_free (out), g_free (err), g_free (cmd);
  g_strfreev (argv);
  g_strfreev (env);
  return all;
}

/* The contents of a file that must hold exactly `want` bytes (raw frames a filesink wrote). */
static inline guint8 *
read_raw (const char *path, gsize want)
{
  gchar *data;
  gsize n;
  g_assert_true (g_file_get_contents (path, &data, &n, NULL));
  g_assert_cmpuint (n, ==, want);
  return (guint8 *) data;
}

/* GStreamer and GLib's test framework, with heed's validation messages watched. */
static inline void
element_tests_init (int *argc, char ***argv)
{
  gst_init (argc, argv);
  gst_debug_set_threshold_for_name ("heed*", GST_LEVEL_WARNING);
  gst_debug_add_log_function (watch_log, NULL, NULL);
  g_test_init (argc, argv, NULL);
}

/* A gst-launch-1.0 line on a machine without a Vulkan driver (the loader pointed at none)
 * fails, and its message tells the user which package to install. */
static inline void
assert_fails_without_vulkan (const char *pipeline)
{
  char *out = NULL, *errout = NULL, **argv = NULL;
  int status;
  /* under `timeout`: once (in some ten suite runs, under load) gst-launch-1.0 itself was seen
   * to wait on in its main loop after the error, its sink prerolled on EOS; the error text is
   * what this checks, and a hang after it must not hold the suite for the test's 15 minutes */
  char *cmd = g_strdup_printf ("timeout 60 gst-launch-1.0 %s", pipeline);
  g_assert_true (g_shell_parse_argv (cmd, NULL, &argv, NULL));
  char **env = g_get_environ ();
  env = g_environ_setenv (env, "VK_ICD_FILENAMES", "/nonexistent/icd.json", TRUE);
  env = g_environ_setenv (env, "VK_DRIVER_FILES", "/nonexistent/icd.json", TRUE);
  env = g_environ_setenv (env, "HEED_VALIDATION", "0", TRUE);
  g_assert_true (g_spawn_sync (NULL, argv, env, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &errout,
                               &status, NULL));
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  if (WIFEXITED (status) && WEXITSTATUS (status) == 124)
    g_test_message ("gst-launch-1.0 did not exit after the error: stopped after 60 s");
  char *all = g_strconcat (out, errout, NULL);
  if (!strstr (all, "mesa-vulkan-drivers"))
    g_error ("no mention of mesa-vulkan-drivers in:\n%s", all);
  g_free (all), g_free (out), g_free (errout), g_free (cmd);
  g_strfreev (argv);
  g_strfreev (env);
}

#endif
