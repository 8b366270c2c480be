/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* heed: the command-line tool.
 *   heed devices                      list Vulkan devices and the one heed would use
 *   heed run-tensor --model M ...     one forward pass on a raw float32 tensor
 *   heed bench [--model M | --shape S] ...
 *                                     time a forward pass, per op, next to PyTorch
 * Errors print one line, "heed: <reason>", and exit non-zero. */
#include "heed-engine.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/gst.h>

#include <locale.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_VALIDATION 3

#include "heed-cli.h"

/* Prints an error as one line (messages can quote JSON parser output with newlines). */
int
heed_cli_fail (const char *what, GError *error)
{
  char *msg = g_strdup (error ? error->message : what);
  g_strdelimit (msg, "\r\n", ' ');
  fprintf (stderr, "heed: %s\n", msg);
  g_free (msg);
  g_clear_error (&error);
  return 1;
}

/* Where the input is read from: a file (a path, or a file:// URI turned into its path in *path),
 * or an address a GStreamer source reads (http://, https://, rtsp://, ...: *uri). A name that
 * is a file is a file, whatever it looks like. */
gboolean
heed_cli_input_location (const char *input, char **uri, char **path, GError **error)
{
  *uri = *path = NULL;
  if (g_file_test (input, G_FILE_TEST_EXISTS) || !gst_uri_is_valid (input))
    return TRUE;
  char *protocol = gst_uri_get_protocol (input);
  gboolean ok = TRUE;
  if (g_ascii_strcasecmp (protocol, "file") == 0)
    ok = (*path = g_filename_from_uri (input, NULL, error)) != NULL;
  else if (gst_uri_protocol_is_supported (GST_URI_SRC, protocol))
    *uri = g_strdup (input);
  else {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED,
                 "%s: no such file, and no GStreamer source reads %s: addresses", input, protocol);
    ok = FALSE;
  }
  g_free (protocol);
  return ok;
}

gsize
heed_cli_read_head (const char *path, guint8 *head, gsize n)
{
  memset (head, 0, n);
  FILE *f = fopen (path, "rb");
  gsize got = f ? fread (head, 1, n, f) : 0;
  if (f)
    fclose (f);
  return got;
}

gboolean
heed_cli_head_is_png (const guint8 *head, gsize got)
{
  static const guint8 signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  return got >= sizeof signature && memcmp (head, signature, sizeof signature) == 0;
}

gboolean
heed_cli_head_is_bmp (const guint8 *head, gsize got)
{
  /* "BM", then a DIB header of one of its known sizes (core, V1 to V5, OS/2 2.x) */
  if (got < 18 || memcmp (head, "BM", 2) != 0)
    return FALSE;
  guint32 header = GST_READ_UINT32_LE (head + 14);
  return header == 12 || header == 40 || header == 52 || header == 56 || header == 64 ||
         header == 108 || header == 124;
}

static void
drop_message (const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
}

guint
heed_cli_mute_warnings (void)
{
  /* the loaders log in no domain; GStreamer's and heed's own messages have theirs */
  return g_log_set_handler (NULL, G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE, drop_message, NULL);
}

void
heed_cli_unmute_warnings (guint handler)
{
  g_log_remove_handler (NULL, handler);
}

/* The most a picture or video at an address is fetched to: more is taken for a stream */
#define FETCH_MAX_BYTES (256u << 20)

typedef struct {
  guint64 bytes;
  gint stream; /* atomic: a live source, multipart caps (MJPEG over HTTP), or too many bytes */
} Fetch;

static GstPadProbeReturn
on_fetched (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Fetch *f = data;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    f->bytes += gst_buffer_get_size (GST_PAD_PROBE_INFO_BUFFER (info));
    if (f->bytes > FETCH_MAX_BYTES)
      g_atomic_int_set (&f->stream, TRUE);
  } else if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_CAPS) {
    GstCaps *caps;
    gst_event_parse_caps (GST_PAD_PROBE_INFO_EVENT (info), &caps);
    const GstStructure *st = gst_caps_get_size (caps) ? gst_caps_get_structure (caps, 0) : NULL;
    if (st && g_str_has_prefix (gst_structure_get_name (st), "multipart/"))
      g_atomic_int_set (&f->stream, TRUE);
  }
  return g_atomic_int_get (&f->stream) ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

/* The source for the address's scheme into a filesink; a probe on its output tells a stream */
char *
heed_cli_fetch_address (const char *uri, gboolean *stream, GError **error)
{
  *stream = FALSE;
  GstElement *src = gst_element_make_from_uri (GST_URI_SRC, uri, NULL, error);
  if (!src)
    return NULL;
  GstPad *out = gst_element_get_static_pad (src, "src");
  gboolean live = FALSE;
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (src), "is-live"))
    g_object_get (src, "is-live", &live, NULL);
  if (!out || live) {
    *stream = TRUE;
    g_clear_object (&out);
    gst_object_unref (gst_object_ref_sink (src));
    return NULL;
  }
  char *path = NULL;
  int fd = g_file_open_tmp ("heed-address-XXXXXX", &path, error);
  if (fd < 0) {
    gst_object_unref (out);
    gst_object_unref (gst_object_ref_sink (src));
    return NULL;
  }
  close (fd);
  GstElement *pipe = gst_pipeline_new (NULL), *sink = gst_element_factory_make ("filesink", NULL);
  g_object_set (sink, "location", path, NULL);
  gst_bin_add_many (GST_BIN (pipe), src, sink, NULL);
  gst_element_link (src, sink);
  Fetch f = { 0 };
  gst_pad_add_probe (out, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
                     on_fetched, &f, NULL);
  gst_object_unref (out);
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *m = NULL;
  if (gst_element_set_state (pipe, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE) {
    /* its end, an error, or a stream found: polled, since the probe drops what follows */
    for (guint waited = 0; !m && !g_atomic_int_get (&f.stream) && waited < 600; waited++)
      m = gst_bus_timed_pop_filtered (bus, 200 * GST_MSECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  }
  if (!m && !g_atomic_int_get (&f.stream))
    m = gst_bus_timed_pop_filtered (bus, 0, GST_MESSAGE_ERROR);
  gboolean ok = m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS && !g_atomic_int_get (&f.stream);
  *stream = g_atomic_int_get (&f.stream);
  if (m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR && !*stream) {
    GError *e = NULL;
    gst_message_parse_error (m, &e, NULL);
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "%s: cannot fetch: %s", uri, e->message);
    g_error_free (e);
  } else if (!ok && !*stream) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "%s: cannot fetch: no end after 120 s", uri);
  }
  if (m)
    gst_message_unref (m);
  gst_object_unref (bus);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (pipe);
  if (!ok) {
    g_unlink (path);
    g_clear_pointer (&path, g_free);
  }
  return path;
}

/* Whether a file in a folder is a video (or, with pictures, a picture), by its content (and
 * name) as shared-mime-info tells them: a folder of photos or clips also holds sidecar files
 * (.xmp, .json, .txt, .srt) */
static gboolean
is_media (const char *path, gboolean pictures)
{
  guint8 head[4096];
  gsize got = heed_cli_read_head (path, head, sizeof head);
  if (!got)
    return FALSE;
  char *type = g_content_type_guess (path, head, got, NULL);
  char *mime = g_content_type_get_mime_type (type);
  gboolean media = mime && (g_str_has_prefix (mime, "video/") ||
                            (pictures && g_str_has_prefix (mime, "image/")));
  g_free (mime);
  g_free (type);
  return media;
}

static gint
by_file_name (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

gboolean
heed_cli_add_folder (GPtrArray *inputs, const char *dir, gboolean pictures, GError **error)
{
  GDir *d = g_dir_open (dir, 0, error);
  if (!d)
    return FALSE;
  GPtrArray *keyed = g_ptr_array_new_with_free_func (g_free); /* collation key \0 path */
  const char *name;
  while ((name = g_dir_read_name (d))) {
    char *path = g_build_filename (dir, name, NULL);
    if (name[0] != '.' && g_file_test (path, G_FILE_TEST_IS_REGULAR) && is_media (path, pictures)) {
      char *shown = g_filename_display_name (name);
      char *key = g_utf8_collate_key_for_filename (shown, -1);
      gsize klen = strlen (key);
      char *entry = g_malloc (klen + 1 + strlen (path) + 1);
      memcpy (entry, key, klen + 1);
      strcpy (entry + klen + 1, path);
      g_ptr_array_add (keyed, entry);
      g_free (key), g_free (shown);
    }
    g_free (path);
  }
  g_dir_close (d);
  g_ptr_array_sort (keyed, by_file_name);
  for (guint i = 0; i < keyed->len; i++) {
    const char *entry = keyed->pdata[i];
    g_ptr_array_add (inputs, g_strdup (entry + strlen (entry) + 1));
  }
  gboolean any = keyed->len > 0;
  g_ptr_array_free (keyed, TRUE);
  if (!any)
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "%s: no %s in this folder", dir,
                 pictures ? "pictures or videos" : "videos");
  return any;
}

gboolean
heed_cli_find_plugin (GError **error)
{
  GstElementFactory *f = gst_element_factory_find ("heedclassify");
#ifdef HEED_BUILD_PLUGIN_DIR
  if (!f && gst_registry_scan_path (gst_registry_get (), HEED_BUILD_PLUGIN_DIR))
    f = gst_element_factory_find ("heedclassify");
#endif
  if (!f) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
                 "the heed GStreamer plugin is not installed (set GST_PLUGIN_PATH to the folder "
                 "of libgstheed.so)");
    return FALSE;
  }
  gst_object_unref (f);
  return TRUE;
}

/* Any message from the validation layer (HEED_VALIDATION=1, or sync) fails the command. */
static int
finish (int status)
{
  guint n = heed_validation_message_count ();
  if (n > 0) {
    fprintf (stderr, "heed: the Vulkan validation layer reported %u message%s\n", n,
             n == 1 ? "" : "s");
    return EXIT_VALIDATION;
  }
  return status;
}

static const char *
type_name (VkPhysicalDeviceType t)
{
  switch (t) {
  case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
  case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
  case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
  case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
  default: return "other";
  }
}

/* whether main set LP_NATIVE_VECTOR_WIDTH (heed_lavapipe_use_wide_vectors) */
static gboolean lavapipe_width_set_by_heed;

static int
cmd_devices (int argc, char **argv)
{
  GError *error = NULL;
  guint chosen = G_MAXUINT;
  GArray *infos = heed_device_list (&chosen, &error);
  if (!infos)
    return heed_cli_fail (NULL, error);
  for (guint i = 0; i < infos->len; i++) {
    HeedDeviceInfo *d = &g_array_index (infos, HeedDeviceInfo, i);
    printf ("%c %u: %s (%s)%s\n", i == chosen ? '*' : ' ', d->index, d->name, type_name (d->type),
            d->has_compute ? "" : " [no compute queue or Vulkan < 1.1]");
  }
  if (chosen == G_MAXUINT)
    printf ("no usable device%s\n", g_getenv ("HEED_DEVICE") ? " matches HEED_DEVICE" : "");
  else
    printf ("heed uses device %u%s\n", chosen,
            g_getenv ("HEED_DEVICE") ? " (chosen by HEED_DEVICE)" : "");
  HeedDevice *device = chosen == G_MAXUINT ? NULL : heed_device_new ((int) chosen, NULL);
  if (device) {
    char *kernels = heed_device_describe_kernels (device);
    printf ("kernels: %s\n", kernels);
    g_free (kernels);
    if (lavapipe_width_set_by_heed && heed_device_get_type (device) == VK_PHYSICAL_DEVICE_TYPE_CPU)
      printf ("vectors: LP_NATIVE_VECTOR_WIDTH=512, set by heed because this CPU has AVX-512 "
              "(set it to 256 for Mesa's default)\n");
    heed_device_destroy (&device);
  }
  g_array_unref (infos);
  return chosen == G_MAXUINT ? 1 : 0;
}

static gboolean
write_floats (const char *path, const float *v, gsize n, GError **error)
{
  return g_file_set_contents (path, (const char *) v, (gssize) (n * sizeof (float)), error);
}

static int
cmd_run_tensor (int argc, char **argv)
{
  char *model_path = NULL, *input_path = NULL, *logits_path = NULL, *attn_path = NULL;
  char *emb_path = NULL, *weights_name = NULL;
  int device_index = -1, input_size = 0;
  GOptionEntry entries[] = {
    HEED_CLI_MODEL_ENTRY (model_path, ""),
    { "input-size", 0, 0, G_OPTION_ARG_INT, &input_size,
      "run the model at N x N pixels (a multiple of its patch size; pos_embed resampled as timm "
      "does)",
      "N" },
    { "input", 'i', 0, G_OPTION_ARG_FILENAME, &input_path,
      "float32 NCHW input at the model's resolution, already normalised", "IN.f32" },
    { "logits", 0, 0, G_OPTION_ARG_FILENAME, &logits_path, "write the logits (float32)", "OUT" },
    { "cls-attention", 0, 0, G_OPTION_ARG_FILENAME, &attn_path,
      "write the last layer's CLS attention over patches, heads averaged (float32)", "OUT" },
    { "embedding", 0, 0, G_OPTION_ARG_FILENAME, &emb_path,
      "write the final-norm CLS embedding (float32)", "OUT" },
    { "device", 'd', 0, G_OPTION_ARG_INT, &device_index, "Vulkan device index (-1: automatic)",
      "N" },
    HEED_CLI_WEIGHTS_ENTRY (weights_name),
    { NULL }
  };
  GOptionContext *ctx = g_option_context_new ("- run a ViT on one tensor");
  HeedVitOptions opts = { 0 };
  GError *error = NULL;
  HeedModel *model = NULL;
  HeedDevice *device = NULL;
  HeedVitPlan *plan = NULL;
  HeedVitRun *run = NULL;
  HeedVitResult *o = NULL;
  char *input = NULL;
  gsize input_len = 0;
  int status = 1;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  if (!model_path || !input_path) {
    status = heed_cli_fail ("run-tensor needs --model and --input", NULL);
    goto out;
  }
  if (weights_name && !heed_weight_format_parse (weights_name, &opts.weights, &error)) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  char *local = heed_cli_resolve_model (model_path, &error);
  model = local ? heed_model_load (local, &error) : NULL;
  g_free (local);
  if (!model ||
      (input_size && !heed_model_set_input_size (model, (guint) MAX (input_size, 1), &error))) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  const HeedModelConfig *c = &model->config;
  if (logits_path && !c->num_classes) {
    status = heed_cli_fail ("the model has no classification head (head-less backbone): no logits; "
                            "use --embedding",
                            NULL);
    goto out;
  }
  gsize want = (gsize) c->in_chans * c->img_size * c->img_size * sizeof (float);
  /* read no more than a valid input can hold: a wrong or endless file is refused at once */
  if (!heed_file_read (input_path, want, &input, &input_len, &error)) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  if (input_len != want) {
    char *msg =
        g_strdup_printf ("%s holds %" G_GSIZE_FORMAT " bytes; the model takes float32 "
                         "%u x %u x %u = %" G_GSIZE_FORMAT " bytes",
                         input_path, input_len, c->in_chans, c->img_size, c->img_size, want);
    status = heed_cli_fail (msg, NULL);
    g_free (msg);
    goto out;
  }
  if (!(device = heed_device_new (device_index, &error)) ||
      !(plan = heed_vit_plan_new (device, model, &opts, &error)) ||
      !(run = heed_vit_run_new (plan, 1, &error)) ||
      !(o = heed_vit_run_tensor (run, (const float *) input, &error))) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  if ((logits_path && !write_floats (logits_path, o->logits, c->num_classes, &error)) ||
      (attn_path && !write_floats (attn_path, o->cls_attention, c->num_patches, &error)) ||
      (emb_path && !write_floats (emb_path, o->embedding, c->dim, &error))) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  status = 0;
out:
  heed_vit_result_destroy (&o);
  heed_vit_run_destroy (&run);
  heed_vit_plan_destroy (&plan);
  heed_device_destroy (&device);
  heed_model_destroy (&model);
  g_free (input);
  g_free (model_path);
  g_free (input_path);
  g_free (logits_path);
  g_free (attn_path);
  g_free (emb_path);
  g_free (weights_name);
  g_option_context_free (ctx);
  return status;
}

static void
usage (FILE *f)
{
  fprintf (f, "usage: heed COMMAND [OPTIONS]\n"
              "  devices      list Vulkan devices and the one heed uses (HEED_DEVICE overrides)\n"
              "  run-tensor   run a model on a float32 tensor: --model M --input IN.f32\n"
              "               [--logits OUT.f32] [--cls-attention OUT.f32] [--embedding OUT.f32]\n"
              "               [--weights fp32|fp16|fp16-matmul]\n"
              "  classify     classify images (decoded by GStreamer): one JSON line each\n"
              "               [--model M] [--labels F] [--top-k K] IMAGE...\n"
              "  annotate     annotate a video file: labels, attention and keyframes drawn in,\n"
              "               written as MP4 [-o OUTPUT] [--jsonl FILE] [--report DIR]\n"
              "               [--model M] INPUT\n"
              "  live         a camera (or any live source) with the overlays and the measured\n"
              "               frames per second [--device D | --source FRAGMENT] [--headless]\n"
              "  bench        time a forward pass and each op, beside PyTorch (CPU or CUDA)\n"
              "  models       list the hub models in the cache (--model hf:OWNER/NAME fetches)\n"
              "Run `heed COMMAND --help` for a command's options.\n");
}

int
main (int argc, char **argv)
{
  /* first, before any thread or Vulkan instance: lavapipe reads it once per process */
  lavapipe_width_set_by_heed = heed_lavapipe_use_wide_vectors ();
  setlocale (LC_ALL, "");
  if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0) {
    usage (argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *cmd = argv[1];
  argv[1] = argv[0];
  if (strcmp (cmd, "devices") == 0)
    return finish (cmd_devices (argc - 1, argv + 1));
  if (strcmp (cmd, "run-tensor") == 0)
    return finish (cmd_run_tensor (argc - 1, argv + 1));
  if (strcmp (cmd, "classify") == 0)
    return finish (heed_cmd_classify (argc - 1, argv + 1));
  if (strcmp (cmd, "annotate") == 0)
    return finish (heed_cmd_annotate (argc - 1, argv + 1));
  if (strcmp (cmd, "live") == 0)
    return finish (heed_cmd_live (argc - 1, argv + 1));
  if (strcmp (cmd, "bench") == 0)
    return finish (heed_cmd_bench (argc - 1, argv + 1));
  if (strcmp (cmd, "models") == 0)
    return heed_cmd_models (argc - 1, argv + 1);
  fprintf (stderr, "heed: unknown command '%s'\n", cmd);
  usage (stderr);
  return 2;
}
