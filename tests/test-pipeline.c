/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The shared engine in real pipelines, under the validation layer:
 * - frames in flight and batches: over a 300-frame encoded file, frames-in-flight=3 (and
 *   batch-size=4) give the labels, confidences, attention maps and timestamps of
 *   frames-in-flight=1, frame for frame;
 * - a flushing seek and EOS with frames in flight lose nothing and hang nothing;
 * - one VkDevice per pipeline: vkCreateDevice is interposed by this program (exported with
 *   -rdynamic, so the dlopened plugin and GStreamer call it) and counted;
 * - an application hands its own device to a pipeline through the heed.device context. */
#include "test-gst-common.h"

#include <dlfcn.h>
#include <fontconfig/fontconfig.h>
#include <glib/gstdio.h>
#include <math.h>
#include <vulkan/vulkan.h>

/* ---- counting VkDevices ---------------------------------------------------------------------- */

static gint devices_created;

static GstPadProbeReturn count_buffers (GstPad *pad, GstPadProbeInfo *info, gpointer data);

VKAPI_ATTR VkResult VKAPI_CALL vkCreateDevice (VkPhysicalDevice physical,
                                               const VkDeviceCreateInfo *info,
                                               const VkAllocationCallbacks *allocator,
                                               VkDevice *device);

VKAPI_ATTR VkResult VKAPI_CALL
vkCreateDevice (VkPhysicalDevice physical, const VkDeviceCreateInfo *info,
                const VkAllocationCallbacks *allocator, VkDevice *device)
{
  static PFN_vkCreateDevice real;
  if (!real) /* the loader's own entry point, behind this one */
    real = (PFN_vkCreateDevice) dlsym (dlopen ("libvulkan.so.1", RTLD_NOW | RTLD_GLOBAL),
                                       "vkCreateDevice");
  g_assert_nonnull (real);
  VkResult r = real (physical, info, allocator, device);
  if (r == VK_SUCCESS)
    g_atomic_int_inc (&devices_created);
  return r;
}

/* ---- what leaves heedclassify, frame by frame ------------------------------------------------ */

typedef struct {
  GstClockTime pts, duration;
  guint64 frame;
  gchar *label;
  gdouble confidence;
  GBytes *attention;
  gboolean inferred;
} Out;

static void
out_free (gpointer data)
{
  Out *o = data;
  g_free (o->label);
  if (o->attention)
    g_bytes_unref (o->attention);
  g_free (o);
}

static GstPadProbeReturn
collect_out (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GPtrArray *outs = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstCustomMeta *meta = gst_buffer_get_custom_meta (buf, "HeedClassificationMeta");
  g_assert_nonnull (meta);
  const GstStructure *s = gst_custom_meta_get_structure (meta);
  Out *o = g_new0 (Out, 1);
  o->pts = GST_BUFFER_PTS (buf);
  o->duration = GST_BUFFER_DURATION (buf);
  g_assert_true (gst_structure_get (s, "frame", G_TYPE_UINT64, &o->frame, "attention", G_TYPE_BYTES,
                                    &o->attention, "inferred", G_TYPE_BOOLEAN, &o->inferred, NULL));
  const GValue *labels = gst_structure_get_value (s, "labels");
  o->label = g_value_dup_string (gst_value_array_get_value (labels, 0));
  o->confidence = g_value_get_double (
      gst_value_array_get_value (gst_structure_get_value (s, "confidences"), 0));
  g_ptr_array_add (outs, o);
  return GST_PAD_PROBE_OK;
}

/* A real H.264 file with keyframes every half second, encoded by FFmpeg (libx264) from
 * videotestsrc patterns (a moving ball, snow, a pinwheel: the labels change over the clip). */
static char *
encoded_clip (const char *dir, guint frames)
{
  char *raw = g_build_filename (dir, "clip.y4m", NULL);
  char *path = g_build_filename (dir, "clip.mp4", NULL);
  guint third = frames / 3;
  const char *caps = "video/x-raw,width=160,height=120,framerate=30/1";
  char *desc = g_strdup_printf (
      "concat name=c ! videoconvert ! video/x-raw,format=I420 ! y4menc ! filesink location=%s "
      "videotestsrc num-buffers=%u pattern=ball motion=sweep ! %s ! c. "
      "videotestsrc num-buffers=%u pattern=snow ! %s ! c. "
      "videotestsrc num-buffers=%u pattern=pinwheel ! %s ! c.",
      raw, third, caps, third, caps, frames - 2 * third, caps);
  g_assert_null (run_pipeline (desc, NULL));
  char *argv[] = { "ffmpeg",  "-y", "-loglevel", "error",    "-i",      raw,  "-c:v",
                   "libx264", "-g", "15",        "-pix_fmt", "yuv420p", path, NULL };
  gint status;
  g_assert_true (
      g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, NULL));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_unlink (raw);
  g_free (raw);
  g_free (desc);
  return path;
}

/* Plays a pipeline to EOS (an error or 5 minutes fail the test) and stops it. */
static void
play_to_eos (GstElement *pipe)
{
  GstBus *bus = gst_element_get_bus (pipe);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  GstMessage *m =
      gst_bus_timed_pop_filtered (bus, 300 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_nonnull (m);
  if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) { /* what went wrong, before the test fails */
    GError *error = NULL;
    char *debug = NULL;
    gst_message_parse_error (m, &error, &debug);
    g_test_message ("an error, not EOS: %s: %s (%s)", GST_OBJECT_NAME (GST_MESSAGE_SRC (m)),
                    error->message, debug);
    g_clear_error (&error);
    g_free (debug);
  }
  g_assert_cmpint (GST_MESSAGE_TYPE (m), ==, GST_MESSAGE_EOS);
  gst_message_unref (m);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
}

/* Every frame of the file through heedclassify with these properties. */
static GPtrArray *
classify_file (const char *path, const char *props)
{
  GPtrArray *outs = g_ptr_array_new_with_free_func (out_free);
  char *desc = g_strdup_printf ("filesrc location=%s ! decodebin ! videoconvert ! heedclassify "
                                "name=c %s ! fakesink",
                                path, props);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  g_assert_nonnull (pipe);
  GstElement *c = gst_bin_get_by_name (GST_BIN (pipe), "c");
  GstPad *src = gst_element_get_static_pad (c, "src");
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, collect_out, outs, NULL);
  play_to_eos (pipe);
  gst_object_unref (src);
  gst_object_unref (c);
  gst_object_unref (pipe);
  g_free (desc);
  return outs;
}

/* The same frames in the same order with the same results (within tol). */
static void
assert_same_outputs (GPtrArray *got, GPtrArray *want, double tol)
{
  g_assert_cmpuint (got->len, ==, want->len);
  double worst = 0;
  for (guint i = 0; i < want->len; i++) {
    Out *g = g_ptr_array_index (got, i), *w = g_ptr_array_index (want, i);
    g_assert_cmpuint (g->frame, ==, i);
    g_assert_cmpuint (g->pts, ==, w->pts);
    g_assert_cmpuint (g->duration, ==, w->duration);
    g_assert_cmpstr (g->label, ==, w->label);
    g_assert_true (g->inferred);
    worst = MAX (worst, fabs (g->confidence - w->confidence));
    gsize ng, nw;
    const float *ag = g_bytes_get_data (g->attention, &ng),
                *aw = g_bytes_get_data (w->attention, &nw);
    g_assert_cmpuint (ng, ==, nw);
    for (gsize k = 0; k < nw / 4; k++)
      worst = MAX (worst, fabs (ag[k] - aw[k]));
  }
  g_test_message ("%u frames; largest difference in a confidence or attention value: %g", want->len,
                  worst);
  g_assert_cmpfloat (worst, <=, tol);
}

static void
test_frames_in_flight_same_results (void)
{
  char *dir = g_dir_make_tmp ("heed-inflight-XXXXXX", NULL);
  char *clip = encoded_clip (dir, 300);
  GPtrArray *one = classify_file (clip, "frames-in-flight=1");
  GPtrArray *three = classify_file (clip, "frames-in-flight=3");
  GPtrArray *batched = classify_file (clip, "frames-in-flight=2 batch-size=4");
  g_assert_cmpuint (one->len, ==, 300);
  /* the labels change over the clip, so a frame shifted in order would show */
  guint changes = 0;
  for (guint i = 1; i < one->len; i++)
    changes += g_strcmp0 (((Out *) one->pdata[i])->label, ((Out *) one->pdata[i - 1])->label) != 0;
  g_test_message ("the top label changes %u times over the clip", changes);
  /* the same kernels in the same order on the same device: the same bits */
  assert_same_outputs (three, one, 0.0);
  /* a batch stacks frames in the GEMMs: the parity tolerance of the attention */
  assert_same_outputs (batched, one, 1e-4);
  g_ptr_array_unref (one);
  g_ptr_array_unref (three);
  g_ptr_array_unref (batched);
  g_unlink (clip);
  g_rmdir (dir);
  g_free (clip);
  g_free (dir);
  g_assert_cmpint (g_atomic_int_get (&validation_messages), ==, 0);
}

/* ---- flushing seek and EOS with frames in flight --------------------------------------------- */

typedef struct {
  gint in, out; /* buffers into heedclassify and out of it since the last flush */
  gint in_total, out_total;
  gint flushes_in, flushes_out;
  gboolean without_meta; /* a buffer left without its result */
} Counts;

static GstPadProbeReturn
count_in (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Counts *c = data;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    g_atomic_int_inc (&c->in);
    g_atomic_int_inc (&c->in_total);
  } else if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_FLUSH_STOP) {
    g_atomic_int_set (&c->in, 0);
    g_atomic_int_inc (&c->flushes_in);
  }
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
count_out (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Counts *c = data;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    if (!gst_buffer_get_custom_meta (GST_PAD_PROBE_INFO_BUFFER (info), "HeedClassificationMeta"))
      c->without_meta = TRUE;
    g_atomic_int_inc (&c->out);
    g_atomic_int_inc (&c->out_total);
  } else if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_FLUSH_STOP) {
    g_atomic_int_set (&c->out, 0);
    g_atomic_int_inc (&c->flushes_out);
  } else if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS) {
    /* everything that went in since the flush came out before EOS */
    g_assert_cmpint (g_atomic_int_get (&c->out), ==, g_atomic_int_get (&c->in));
  }
  return GST_PAD_PROBE_OK;
}

/* Plays the file with the element's frames held in flight, seeks (flushing) once `seek_after`
 * frames came out (0: no seek), and waits for EOS with a bound: a hang fails the test. */
static Counts
play_with_seek (const char *clip, const char *props, gint seek_after)
{
  Counts c = { 0 };
  char *desc = g_strdup_printf ("filesrc location=%s ! decodebin ! videoconvert ! heedclassify "
                                "name=c %s ! fakesink sync=false",
                                clip, props);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipe), "c");
  GstPad *sink = gst_element_get_static_pad (e, "sink"),
         *src = gst_element_get_static_pad (e, "src");
  GstPadProbeType types = GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_FLUSH |
                          GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM;
  gst_pad_add_probe (sink, types, count_in, &c, NULL);
  gst_pad_add_probe (src, types, count_out, &c, NULL);
  GstBus *bus = gst_element_get_bus (pipe);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  gboolean seeked = seek_after == 0;
  gint64 deadline = g_get_monotonic_time () + 120 * G_TIME_SPAN_SECOND;
  for (;;) {
    GstMessage *m =
        gst_bus_timed_pop_filtered (bus, 10 * GST_MSECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    if (m) {
      g_assert_cmpint (GST_MESSAGE_TYPE (m), ==, GST_MESSAGE_EOS);
      gst_message_unref (m);
      break;
    }
    g_assert_cmpint (g_get_monotonic_time (), <, deadline); /* no hang */
    if (!seeked && g_atomic_int_get (&c.out_total) >= seek_after) {
      /* frames are in flight now: in_total runs ahead of out_total */
      g_assert_true (gst_element_seek_simple (
          pipe, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE, GST_SECOND));
      seeked = TRUE;
    }
  }
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (src);
  gst_object_unref (e);
  gst_object_unref (pipe);
  g_free (desc);
  return c;
}

static void
test_seek_and_eos_in_flight (void)
{
  char *dir = g_dir_make_tmp ("heed-seek-XXXXXX", NULL);
  char *clip = encoded_clip (dir, 90); /* 3 s; 90 is no multiple of the batch of 4 */

  /* EOS with a partial batch and frames in flight: every frame comes out, with its result */
  Counts c = play_with_seek (clip, "frames-in-flight=3 batch-size=4", 0);
  g_assert_cmpint (c.in_total, ==, 90);
  g_assert_cmpint (c.out_total, ==, 90);
  g_assert_false (c.without_meta);

  /* a flushing seek to 1 s while frames are held: the held ones are dropped with the flush,
   * everything after it comes out, and EOS still arrives */
  c = play_with_seek (clip, "frames-in-flight=3 batch-size=2", 20);
  g_assert_cmpint (c.flushes_in, ==, 1);
  g_assert_cmpint (c.flushes_out, ==, 1);
  g_assert_cmpint (c.in, ==, 60); /* from 1 s to the end */
  g_assert_cmpint (c.out, ==, c.in);
  g_assert_false (c.without_meta);
  g_test_message ("before the seek %d frames went in, %d came out", c.in_total - c.in,
                  c.out_total - c.out);

  g_unlink (clip);
  g_rmdir (dir);
  g_free (clip);
  g_free (dir);
  g_assert_cmpint (g_atomic_int_get (&validation_messages), ==, 0);
}

/* ---- one device per pipeline ----------------------------------------------------------------- */

static gint
devices_for (const char *desc)
{
  gint before = g_atomic_int_get (&devices_created);
  g_assert_null (run_pipeline (desc, NULL));
  return g_atomic_int_get (&devices_created) - before;
}

static void
test_one_device_per_pipeline (void)
{
  /* the counter sees vkCreateDevice wherever it is called from */
  g_assert_cmpint (devices_for ("videotestsrc num-buffers=3 ! heedclassify ! fakesink"), ==, 1);
  g_assert_cmpint (
      devices_for ("videotestsrc num-buffers=5 ! heedclassify ! heedoverlay ! fakesink"), ==, 1);
  g_assert_cmpint (devices_for ("videotestsrc num-buffers=5 ! heedclassify ! heedclassify "
                                "attention=rollout ! heedoverlay ! heedoverlay ! fakesink"),
                   ==, 1);
  /* heedoverlay alone, and frames that leave the device in between */
  g_assert_cmpint (devices_for ("videotestsrc num-buffers=5 ! heedclassify ! videoconvert ! "
                                "queue ! heedoverlay ! fakesink"),
                   ==, 1);
  /* frames in Vulkan memory: GStreamer's device, imported; heed creates none of its own */
  g_assert_cmpint (devices_for ("videotestsrc num-buffers=5 ! vulkanupload ! heedclassify ! "
                                "heedoverlay ! vulkandownload ! fakesink"),
                   ==, 1);
  g_assert_cmpint (g_atomic_int_get (&validation_messages), ==, 0);
}

/* ---- property changes from another thread ------------------------------------------------- */

typedef struct {
  GstElement *pipe;
  gint stop;
  guint changes;
  char *models[2];
} Changer;

static GstPadProbeReturn
count_buffers (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  g_atomic_int_inc ((gint *) data);
  return GST_PAD_PROBE_OK;
}

/* Sets, at random and as fast as it can, every property the elements allow to change while
 * PLAYING (the model too, between two checkpoints of different shapes and labels). */
static gpointer
change_properties (gpointer data)
{
  Changer *c = data;
  static const char *const changes[][3] = {
    { "c", "attention", "none" },
    { "c", "attention", "cls" },
    { "c", "attention", "rollout" },
    { "c", "inference-interval", "0" },
    { "c", "inference-interval", "1" },
    { "c", "inference-interval", "3" },
    { "c", "change-threshold", "0.5" },
    { "c", "max-interval", "2" },
    { "c", "top-k", "1" },
    { "c", "top-k", "7" },
    { "c", "threshold", "0.9" },
    { "c", "threshold", "0" },
    { "c", "input-size", "0" },
    { "c", "input-size", "16" },
    { "c", "input-size", "48" },
    { "c", "post-messages", "false" },
    { "c", "model", NULL },
    { "k", "threshold", "0.1" },
    { "k", "threshold", "0.9" },
    { "k", "min-gap", "1" },
    { "k", "min-gap", "40" },
    { "k", "mode", "keyframes-only" },
    { "k", "mode", "pass-all" },
    { "k", "audio-weight", "0.8" },
    { "o", "heatmap-mode", "mask" },
    { "o", "heatmap-mode", "none" },
    { "o", "heatmap-mode", "whole" },
    { "o", "colormap", "turbo" },
    { "o", "heatmap-opacity", "0.1" },
    { "o", "show-labels", "false" },
    { "o", "show-labels", "true" },
    { "o", "show-keyframes", "false" },
    { "o", "max-labels", "3" },
    { "o", "font-size", "30" },
    { "o", "label-position", "bottom-right" },
    { "o", "timeline-length", "5" },
    { "o", "smoothing", "0.9" },
    { "o", "mask-mass", "0.2" },
  };
  GRand *rng = g_rand_new_with_seed (14);
  GstElement *el[3] = { gst_bin_get_by_name (GST_BIN (c->pipe), "c"),
                        gst_bin_get_by_name (GST_BIN (c->pipe), "k"),
                        gst_bin_get_by_name (GST_BIN (c->pipe), "o") };
  while (!g_atomic_int_get (&c->stop)) {
    const char *const *ch = changes[g_rand_int_range (rng, 0, G_N_ELEMENTS (changes))];
    GstElement *e = el[ch[0][0] == 'c' ? 0 : ch[0][0] == 'k' ? 1 : 2];
    const char *value = ch[2] ? ch[2] : c->models[g_rand_int_range (rng, 0, 2)];
    gst_util_set_object_arg (G_OBJECT (e), ch[1], value);
    c->changes++;
    g_usleep (g_rand_int_range (rng, 0, 3000));
  }
  for (int i = 0; i < 3; i++)
    gst_object_unref (el[i]);
  g_rand_free (rng);
  return NULL;
}

static void
test_properties_from_another_thread (void)
{
  const char *fixtures = g_getenv ("HEED_FIXTURES");
  Changer c = { 0 };
  c.models[0] = g_build_filename (fixtures, "p8_hd48_f32", "model.safetensors", NULL);
  c.models[1] = g_build_filename (fixtures, "vit_gap_f32", "model.safetensors", NULL);
  char *desc = g_strdup_printf (
      "videotestsrc num-buffers=150 pattern=ball ! video/x-raw,width=64,height=48 ! "
      "heedclassify name=c model=%s ! heedkeyframe name=k ! heedoverlay name=o ! fakesink",
      c.models[0]);
  c.pipe = gst_parse_launch (desc, NULL);
  g_assert_nonnull (c.pipe);
  GstElement *k = gst_bin_get_by_name (GST_BIN (c.pipe), "k");
  GstPad *pad = gst_element_get_static_pad (k, "sink");
  gint frames = 0;
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_buffers, &frames, NULL);
  GThread *thread = g_thread_new ("changer", change_properties, &c);
  play_to_eos (c.pipe); /* an error or a hang fails it */
  g_atomic_int_set (&c.stop, 1);
  g_thread_join (thread);
  g_test_message ("%u property changes while 150 frames played", c.changes);
  g_assert_cmpint (frames, ==, 150); /* every frame left heedclassify */
  g_assert_cmpuint (c.changes, >, 50);
  gst_object_unref (pad);
  gst_object_unref (k);
  gst_object_unref (c.pipe);
  g_free (desc);
  g_free (c.models[0]);
  g_free (c.models[1]);
  g_assert_cmpint (g_atomic_int_get (&validation_messages), ==, 0);
}

/* The heed.device context a have-context message announces (a new reference), or NULL for any
 * other message: a pipeline's elements post one when they make the pipeline's device. */
static GstContext *
announced_heed_device (GstMessage *m)
{
  GstContext *context = NULL;
  if (GST_MESSAGE_TYPE (m) != GST_MESSAGE_HAVE_CONTEXT)
    return NULL;
  gst_message_parse_have_context (m, &context);
  if (g_str_equal (gst_context_get_context_type (context), "heed.device"))
    return context;
  gst_context_unref (context);
  return NULL;
}

/* ---- faults -----------------------------------------------------------------------------------
 */

/* The fault goes into the pipeline's first device only: HEED_FAULT is cleared as that device is
 * announced. Once the device is lost, an element whose caps come again (upstream sends them
 * with the next buffer) makes a new one, and the bin hands that to the pipeline started again:
 * with HEED_FAULT still set until the ERROR reached this thread, the new device carried the
 * fault, and the restarted pipeline failed at its Nth submission (once in a suite run, at
 * lost:100; every time with this thread half a second slower). */
static GstBusSyncReply
fault_first_device_only (GstBus *bus, GstMessage *m, gpointer data)
{
  GstContext *context = announced_heed_device (m);
  if (context) {
    g_unsetenv ("HEED_FAULT");
    gst_context_unref (context);
  }
  return GST_BUS_PASS;
}

/* Plays a pipeline with a fault injected into the device it creates (HEED_FAULT, read when the
 * device is made): it must end in an ERROR from a heed element naming the Vulkan error, within
 * a minute (never a hang), stop cleanly, and then, without the fault, play to EOS again. */
static void
assert_fault_is_an_error (const char *desc, const char *fault, const char *vk_error)
{
  GstElement *pipe = gst_parse_launch (desc, NULL);
  g_assert_nonnull (pipe);
  GstBus *bus = gst_element_get_bus (pipe);
  g_setenv ("HEED_FAULT", fault, TRUE);
  gst_bus_set_sync_handler (bus, fault_first_device_only, NULL, NULL);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  GstMessage *m =
      gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_unsetenv ("HEED_FAULT"); /* where no device was announced */
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  g_assert_nonnull (m); /* NULL: the pipeline hung */
  g_assert_cmpint (GST_MESSAGE_TYPE (m), ==, GST_MESSAGE_ERROR);
  GError *error = NULL;
  char *debug = NULL;
  gst_message_parse_error (m, &error, &debug);
  g_test_message ("%s: %s: %s (%s)", fault, GST_OBJECT_NAME (GST_MESSAGE_SRC (m)), error->message,
                  debug);
  g_assert_true (g_str_has_prefix (GST_OBJECT_NAME (GST_MESSAGE_SRC (m)), "heed"));
  g_assert_nonnull (strstr (error->message, vk_error));
  g_clear_error (&error);
  g_free (debug);
  gst_message_unref (m);
  g_assert_cmpint (gst_element_set_state (pipe, GST_STATE_NULL), ==, GST_STATE_CHANGE_SUCCESS);
  /* the recovery a user makes: the same pipeline, started again, gets a new device */
  gst_bus_set_flushing (bus, TRUE);
  gst_bus_set_flushing (bus, FALSE);
  play_to_eos (pipe);
  gst_object_unref (bus);
  gst_object_unref (pipe);
}

static void
test_device_faults (void)
{
  char *model =
      g_build_filename (g_getenv ("HEED_FIXTURES"), "p8_hd48_f32", "model.safetensors", NULL);
  char *desc = g_strdup_printf (
      "videotestsrc num-buffers=60 ! video/x-raw,width=64,height=48 ! heedclassify model=%s "
      "frames-in-flight=3 ! heedkeyframe ! heedoverlay ! fakesink",
      model);
  /* the first allocation and submission (as the elements start), others in the model's load
   * (it takes about 120 submissions here), and the device lost while frames stream (measured:
   * at 160 heedclassify's pass meets it, at 200 heedkeyframe's scoring) */
  assert_fault_is_an_error (desc, "alloc:1", "VK_ERROR_OUT_OF_DEVICE_MEMORY");
  assert_fault_is_an_error (desc, "alloc:30", "VK_ERROR_OUT_OF_DEVICE_MEMORY");
  assert_fault_is_an_error (desc, "lost:1", "VK_ERROR_DEVICE_LOST");
  assert_fault_is_an_error (desc, "lost:100", "VK_ERROR_DEVICE_LOST");
  assert_fault_is_an_error (desc, "lost:160", "VK_ERROR_DEVICE_LOST");
  assert_fault_is_an_error (desc, "lost:200", "VK_ERROR_DEVICE_LOST");
  g_free (desc);
  g_free (model);
  g_assert_cmpint (g_atomic_int_get (&validation_messages), ==, 0);
}

/* An application hands a device to pipelines: here the device one pipeline announced (its
 * have-context message), set on a second pipeline as a GstContext; the second creates none. */
static GstBusSyncReply
keep_have_context (GstBus *bus, GstMessage *m, gpointer data)
{
  GstContext **kept = data, *context = announced_heed_device (m);
  if (context && !*kept)
    *kept = context;
  else if (context)
    gst_context_unref (context);
  return GST_BUS_PASS;
}

/* The heed.device context a first pipeline announces (have-context), as an application would
 * keep it to hand to other pipelines; that pipeline makes one device. */
static GstContext *
context_of_a_first_pipeline (void)
{
  GstContext *context = NULL;
  GstElement *first =
      gst_parse_launch ("videotestsrc num-buffers=3 ! heedclassify ! fakesink", NULL);
  GstBus *bus = gst_element_get_bus (first);
  gst_bus_set_sync_handler (bus, keep_have_context, &context, NULL);
  gint before = g_atomic_int_get (&devices_created);
  play_to_eos (first);
  g_assert_nonnull (context);
  g_assert_cmpint (g_atomic_int_get (&devices_created) - before, ==, 1);
  gst_object_unref (bus);
  gst_object_unref (first); /* the context keeps the device */
  return context;
}

static void
test_application_device (void)
{
  GstContext *context = context_of_a_first_pipeline ();
  GstElement *second =
      gst_parse_launch ("videotestsrc num-buffers=3 ! heedclassify ! heedoverlay ! fakesink", NULL);
  gst_element_set_context (second, context);
  gint before = g_atomic_int_get (&devices_created);
  play_to_eos (second);
  g_assert_cmpint (g_atomic_int_get (&devices_created) - before, ==, 0);

  gst_context_unref (context);
  gst_object_unref (second);
  g_assert_cmpint (g_atomic_int_get (&validation_messages), ==, 0);
}

/* Eight pipelines at once in one process on one device (the application's, as above): each
 * runs its own model, keyframes with sound and overlay, in its own streaming threads, and every
 * one gets all of its frames through, with no device of their own and nothing from the
 * validation layer. */
static void
test_eight_pipelines_one_device (void)
{
  GstContext *context = context_of_a_first_pipeline ();
  char *model =
      g_build_filename (g_getenv ("HEED_FIXTURES"), "p8_hd48_f32", "model.safetensors", NULL);
  enum { N = 8, FRAMES = 40 };
  GstElement *pipes[N];
  GstBus *buses[N];
  gint frames[N] = { 0 };
  gint before = g_atomic_int_get (&devices_created);
  for (int i = 0; i < N; i++) {
    /* odd ones a fixture checkpoint, even ones the embedded default model */
    char *model_prop = i % 2 ? g_strdup_printf ("model=%s", model) : g_strdup ("");
    char *desc = g_strdup_printf (
        "videotestsrc num-buffers=%d pattern=%d ! video/x-raw,width=64,height=48 ! heedclassify "
        "%s frames-in-flight=%d ! heedkeyframe name=k ! heedoverlay name=o ! fakesink "
        "audiotestsrc num-buffers=20 ! audio/x-raw,rate=16000 ! k.audio_sink",
        FRAMES, i, model_prop, i % 3);
    g_free (model_prop);
    pipes[i] = gst_parse_launch (desc, NULL);
    g_assert_nonnull (pipes[i]);
    g_free (desc);
    gst_element_set_context (pipes[i], context);
    GstElement *o = gst_bin_get_by_name (GST_BIN (pipes[i]), "o");
    GstPad *pad = gst_element_get_static_pad (o, "src");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_buffers, &frames[i], NULL);
    gst_object_unref (pad);
    gst_object_unref (o);
    buses[i] = gst_element_get_bus (pipes[i]);
  }
  for (int i = 0; i < N; i++) /* all at once: each pipeline streams in its own threads */
    gst_element_set_state (pipes[i], GST_STATE_PLAYING);
  for (int i = 0; i < N; i++) {
    GstMessage *m = gst_bus_timed_pop_filtered (buses[i], 300 * GST_SECOND,
                                                GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    g_assert_nonnull (m);
    g_assert_cmpint (GST_MESSAGE_TYPE (m), ==, GST_MESSAGE_EOS);
    gst_message_unref (m);
  }
  for (int i = 0; i < N; i++) {
    gst_element_set_state (pipes[i], GST_STATE_NULL);
    g_assert_cmpint (frames[i], ==, FRAMES);
    gst_object_unref (buses[i]);
    gst_object_unref (pipes[i]);
  }
  g_assert_cmpint (g_atomic_int_get (&devices_created) - before, ==, 0);
  gst_context_unref (context);
  g_free (model);
  g_assert_cmpint (g_atomic_int_get (&validation_messages), ==, 0);
}

/* ---- latency with frames in flight --------------------------------------------------------- */

typedef struct {
  GMutex lock;
  GHashTable *entered; /* pts -> monotonic time in */
  GArray *delays;      /* microseconds from in to out, per frame */
} Delays;

static GstPadProbeReturn
mark_in (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Delays *d = data;
  g_mutex_lock (&d->lock);
  g_hash_table_insert (d->entered,
                       GUINT_TO_POINTER (GST_BUFFER_PTS (GST_PAD_PROBE_INFO_BUFFER (info))),
                       GSIZE_TO_POINTER (g_get_monotonic_time ()));
  g_mutex_unlock (&d->lock);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
mark_out (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Delays *d = data;
  gpointer pts = GUINT_TO_POINTER (GST_BUFFER_PTS (GST_PAD_PROBE_INFO_BUFFER (info)));
  g_mutex_lock (&d->lock);
  gint64 delay =
      g_get_monotonic_time () - (gint64) GPOINTER_TO_SIZE (g_hash_table_lookup (d->entered, pts));
  g_array_append_val (d->delays, delay);
  g_mutex_unlock (&d->lock);
  return GST_PAD_PROBE_OK;
}

static gint
compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

/* A live source at 30 fps: the latency heedclassify reports, and the median time a frame really
 * spends in it (20 ms of slack: the processing time was measured on a blank frame, a loaded
 * machine runs slower). */
static void
live_latency (const char *props, GstClockTime *reported, GstClockTime *median)
{
  char *desc = g_strdup_printf ("videotestsrc is-live=true num-buffers=45 ! video/x-raw,width=64,"
                                "height=48,framerate=30/1 ! heedclassify name=c %s ! fakesink",
                                props);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  GstElement *c = gst_bin_get_by_name (GST_BIN (pipe), "c");
  GstPad *sink = gst_element_get_static_pad (c, "sink"),
         *src = gst_element_get_static_pad (c, "src");
  Delays d = { .entered = g_hash_table_new (NULL, NULL),
               .delays = g_array_new (FALSE, FALSE, sizeof (gint64)) };
  g_mutex_init (&d.lock);
  gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_BUFFER, mark_in, &d, NULL);
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, mark_out, &d, NULL);
  play_to_eos (pipe);
  g_mutex_lock (&d.lock);
  g_array_sort (d.delays, compare_gint64);
  g_assert_cmpuint (d.delays->len, ==, 45);
  *median = g_array_index (d.delays, gint64, d.delays->len / 2) * GST_USECOND;
  g_mutex_unlock (&d.lock);
  /* the figure the element answered with in the running pipeline's latency query */
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  gst_element_get_state (pipe, NULL, NULL, 60 * GST_SECOND);
  GstQuery *q = gst_query_new_latency ();
  g_assert_true (gst_pad_query (src, q));
  gboolean live;
  GstClockTime upstream;
  gst_query_parse_latency (q, &live, reported, NULL);
  gst_query_unref (q);
  q = gst_query_new_latency ();
  g_assert_true (gst_pad_peer_query (sink, q));
  gst_query_parse_latency (q, &live, &upstream, NULL);
  gst_query_unref (q);
  *reported -= upstream; /* what heedclassify adds */
  gst_element_set_state (pipe, GST_STATE_NULL);
  g_hash_table_unref (d.entered);
  g_array_unref (d.delays);
  g_mutex_clear (&d.lock);
  gst_object_unref (sink);
  gst_object_unref (src);
  gst_object_unref (c);
  gst_object_unref (pipe);
  g_free (desc);
}

static void
test_latency_in_flight (void)
{
  GstClockTime reported1, median1, reported3, median3;
  /* a small model (72 px, 2 blocks): every frame is inferred at 30 fps on lavapipe */
  char *model =
      g_build_filename (g_getenv ("HEED_FIXTURES"), "p8_hd48_f32", "model.safetensors", NULL);
  char *props1 = g_strdup_printf ("model=%s frames-in-flight=1", model);
  char *props3 = g_strdup_printf ("model=%s frames-in-flight=3", model);
  live_latency (props1, &reported1, &median1);
  live_latency (props3, &reported3, &median3);
  g_free (props1), g_free (props3), g_free (model);
  g_test_message (
      "frames-in-flight=1: reports %" GST_TIME_FORMAT ", a frame spends %" GST_TIME_FORMAT
      " (median); frames-in-flight=3: reports %" GST_TIME_FORMAT ", spends %" GST_TIME_FORMAT,
      GST_TIME_ARGS (reported1), GST_TIME_ARGS (median1), GST_TIME_ARGS (reported3),
      GST_TIME_ARGS (median3));
  /* a frame leaves as soon as its batch is done, so it stays within what is reported: with
   * three in flight, up to three processing times (its turn behind two batches). Each figure
   * comes from its own pipeline's processing time, which a loaded machine varies, so they are
   * not compared with each other; one frame's time may exceed the last batch's by half. */
  g_assert_cmpuint (median3, <=, reported3 + 20 * GST_MSECOND);
  g_assert_cmpuint (median1, <=, reported1 + reported1 / 2 + 20 * GST_MSECOND);
}

/* ---- the checkpoint's own preprocessing --------------------------------------------------- */

static GstPadProbeReturn
keep_meta (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstStructure **kept = data;
  GstCustomMeta *meta =
      gst_buffer_get_custom_meta (GST_PAD_PROBE_INFO_BUFFER (info), "HeedClassificationMeta");
  if (meta && !*kept)
    *kept = gst_structure_copy (gst_custom_meta_get_structure (meta));
  return GST_PAD_PROBE_OK;
}

/* The meta heedclassify attaches to a 100x60 frame with these properties. */
static GstStructure *
first_meta (const char *props)
{
  GstStructure *kept = NULL;
  char *desc = g_strdup_printf ("videotestsrc num-buffers=1 ! video/x-raw,width=100,height=60 ! "
                                "heedclassify name=c %s ! fakesink",
                                props);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  GstElement *c = gst_bin_get_by_name (GST_BIN (pipe), "c");
  GstPad *src = gst_element_get_static_pad (c, "src");
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, keep_meta, &kept, NULL);
  play_to_eos (pipe);
  g_assert_nonnull (kept);
  gst_object_unref (src);
  gst_object_unref (c);
  gst_object_unref (pipe);
  g_free (desc);
  return kept;
}

/* A checkpoint whose timm config.json asks for a centre crop of crop_pct 0.9 is run that way by
 * default (the meta says which part of the frame the model saw); resize= overrides it;
 * input-size= runs it at another size. */
static void
test_checkpoint_crop (void)
{
  char *dir = g_dir_make_tmp ("heed-ckpt-XXXXXX", NULL);
  char *model = g_build_filename (dir, "model.safetensors", NULL);
  char *config = g_build_filename (dir, "config.json", NULL);
  char *plain =
      g_build_filename (g_getenv ("HEED_FIXTURES"), "p8_hd48_f32", "model.safetensors", NULL);
  char *data;
  gsize len;
  g_assert_true (g_file_get_contents (plain, &data, &len, NULL));
  g_assert_true (g_file_set_contents (model, data, (gssize) len, NULL));
  g_free (data);
  g_assert_true (g_file_set_contents (
      config,
      "{\"pretrained_cfg\": {\"mean\": [0.5, 0.5, 0.5], \"std\": [0.5, 0.5, 0.5], "
      "\"crop_pct\": 0.9}}",
      -1, NULL));
  char *props = g_strdup_printf ("model=%s", model);
  GstStructure *m = first_meta (props);
  gdouble x, w;
  g_assert_cmpstr (gst_structure_get_string (m, "resize"), ==, "crop");
  g_assert_true (gst_structure_get_double (m, "region-x", &x));
  g_assert_true (gst_structure_get_double (m, "region-width", &w));
  /* 72 px model, as timm's eval transform: the shorter side (60) to floor (72 / 0.9) = 80,
   * the longer to int (80 * 100 / 60) = 133, a 72-pixel crop from column round (61 / 2) = 30
   * (Python rounds 30.5 to even) */
  g_assert_cmpfloat_with_epsilon (w, 72.0 / 133, 1e-6);
  g_assert_cmpfloat_with_epsilon (x, 30.0 / 133, 1e-6);
  gst_structure_free (m);

  g_free (props);
  props = g_strdup_printf ("model=%s resize=stretch", model);
  m = first_meta (props);
  g_assert_cmpstr (gst_structure_get_string (m, "resize"), ==, "stretch");
  g_assert_true (gst_structure_get_double (m, "region-width", &w));
  g_assert_cmpfloat (w, ==, 1.0);
  gst_structure_free (m);

  /* another input size: the 72 px model at 96 px draws a 12 x 12 map */
  g_free (props);
  props = g_strdup_printf ("model=%s input-size=96", model);
  m = first_meta (props);
  guint aw = 0;
  g_assert_true (gst_structure_get_uint (m, "attention-width", &aw));
  g_assert_cmpuint (aw, ==, 12);
  gst_structure_free (m);

  g_unlink (model), g_unlink (config), g_rmdir (dir);
  g_free (props), g_free (model), g_free (config), g_free (plain), g_free (dir);
  g_assert_cmpint (g_atomic_int_get (&validation_messages), ==, 0);
}

int
main (int argc, char **argv)
{
  element_tests_init (&argc, &argv);
  g_test_add_func ("/pipeline/one-device-per-pipeline", test_one_device_per_pipeline);
  g_test_add_func ("/pipeline/application-device", test_application_device);
  g_test_add_func ("/pipeline/eight-pipelines-one-device", test_eight_pipelines_one_device);
  g_test_add_func ("/pipeline/frames-in-flight-same-results", test_frames_in_flight_same_results);
  g_test_add_func ("/pipeline/seek-and-eos-in-flight", test_seek_and_eos_in_flight);
  g_test_add_func ("/pipeline/latency-in-flight", test_latency_in_flight);
  g_test_add_func ("/pipeline/checkpoint-crop", test_checkpoint_crop);
  g_test_add_func ("/pipeline/device-faults", test_device_faults);
  g_test_add_func ("/pipeline/properties-from-another-thread", test_properties_from_another_thread);
  int ret = g_test_run ();
  FcFini (); /* the configuration heedoverlay's font maps read, kept until now */
  return ret;
}
