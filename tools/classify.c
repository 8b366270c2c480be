/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* heed classify [--model M] [--labels F] [--top-k K] IMAGE...
 * An IMAGE may be a folder (the pictures and videos in it) or - (standard input).
 * One JSON object per image and line:
 *   {"file": ..., "labels": [{"label": ..., "label_id": ..., "confidence": ...}],
 *    "attention_peak": [x, y]}
 * Images are decoded by GStreamer (uridecodebin), so PNG, JPEG and anything else it reads work;
 * a video gives its first frame. What uridecodebin cannot read goes to GdkPixbuf's library (CMYK
 * JPEG, BMP, TIFF, animated WebP, HEIC and AVIF), and so do JPEGs and PNGs, which it reads as
 * Pillow does. A picture is turned upright by its EXIF orientation, as transformers' load_image
 * turns it (GdkPixbuf reads a JPEG's and a TIFF's, heed-orientation.h a PNG's and a WebP's). */
#include "heed-cli.h"
#include "heed-engine.h"
#include "heed-orientation.h"
#include "heed-still-damage.h"
#include "heedlabels.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <math.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <json-glib/json-glib.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A frame's pipeline stopped and let go, with its appsink, bus and last message (or NULL) */
static void
stop_pipeline (GstElement *pipe, GstElement *sink, GstBus *bus, GstMessage *m)
{
  if (m)
    gst_message_unref (m);
  gst_object_unref (bus);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipe);
}

/* Prerolls `source ! videoconvert ! RGBA appsink` and returns its frame, or NULL with what
 * GStreamer said (*message: the error's text, or NULL for an end with no frame; *not_linked:
 * the error was a stream with nothing to link to, such as sound). direction: videoflip's
 * method for a still picture whose orientation GStreamer does not read (a WebP's EXIF), or NULL
 * to turn the frame as the stream's rotation tag says. */
static GstSample *
preroll_frame (const char *source, const char *direction, char **message, gboolean *not_linked,
               GError **error)
{
  /* a video's first frame upright, as the rotation tag its demuxer posts says */
  char *desc = g_strdup_printf ("%s ! videoconvert ! video/x-raw,format=RGBA ! "
                                "videoflip video-direction=%s ! appsink name=sink sync=false",
                                source, direction ? direction : "auto");
  GstElement *pipe = gst_parse_launch (desc, error);
  GstSample *sample = NULL;
  g_free (desc);
  *message = NULL;
  *not_linked = FALSE;
  if (!pipe)
    return NULL;
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *m = NULL;
  if (gst_element_set_state (pipe, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE)
    /* prerolled, or an error, or the end with no frame; 60 s bounds a decoder that stalls */
    m = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
                                    GST_MESSAGE_ASYNC_DONE | GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  if (m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_ASYNC_DONE)
    sample = gst_app_sink_try_pull_preroll (GST_APP_SINK (sink), 0);
  if (!m) /* a state change that failed at once: its error may come from a streaming thread */
    m = gst_bus_timed_pop_filtered (bus, 5 * GST_SECOND, GST_MESSAGE_ERROR);
  if (!sample && m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
    GError *e = NULL;
    char *debug = NULL;
    gst_message_parse_error (m, &e, &debug);
    *message = g_strdup (e->message);
    *not_linked = debug && strstr (debug, "reason not-linked");
    g_error_free (e);
    g_free (debug);
  }
  stop_pipeline (pipe, sink, bus, m);
  return sample;
}

/* An RGBA picture of w x h in buf as a sample like the appsink's; takes buf */
static GstSample *
rgba_sample (GstBuffer *buf, guint w, guint h)
{
  GstCaps *caps = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "RGBA", "width",
                                       G_TYPE_INT, (int) w, "height", G_TYPE_INT, (int) h, NULL);
  GstSample *sample = gst_sample_new (buf, caps, NULL, NULL);
  gst_buffer_unref (buf);
  gst_caps_unref (caps);
  return sample;
}

/* The image at path read by GdkPixbuf, as an RGBA sample like the appsink's, or NULL. The
 * sample's buffer wraps the pixbuf's own pixels, its rows at the pixbuf's stride. orientation:
 * the file's own (heed_still_orientation_of_file), for a PNG or a WebP, whose tag GdkPixbuf's
 * loaders do not read. */
static GstSample *
pixbuf_frame (const char *path, guint orientation)
{
  guint muted = heed_cli_mute_warnings ();
  GdkPixbuf *stored = gdk_pixbuf_new_from_file (path, NULL);
  heed_cli_unmute_warnings (muted);
  if (!stored)
    return NULL;
  /* upright, as its EXIF orientation says (the JPEG and TIFF loaders read it; a phone stores
   * a photo as the sensor read it, with that tag), as transformers' load_image turns it; a
   * PNG's or a WebP's given, where GdkPixbuf's loaders read none */
  if (orientation > 1 && !gdk_pixbuf_get_option (stored, "orientation")) {
    char tag[2] = { (char) ('0' + orientation), 0 };
    gdk_pixbuf_set_option (stored, "orientation", tag);
  }
  GdkPixbuf *read = gdk_pixbuf_apply_embedded_orientation (stored);
  g_object_unref (stored);
  if (!read)
    return NULL;
  /* RGBA, 8 bits a channel: as it was read, or with an opaque alpha added (a copy) */
  GdkPixbuf *rgba = gdk_pixbuf_get_has_alpha (read) && gdk_pixbuf_get_bits_per_sample (read) == 8 &&
                            gdk_pixbuf_get_n_channels (read) == 4
                        ? g_object_ref (read)
                        : gdk_pixbuf_add_alpha (read, FALSE, 0, 0, 0);
  g_object_unref (read);
  if (!rgba)
    return NULL;
  guint w = gdk_pixbuf_get_width (rgba), h = gdk_pixbuf_get_height (rgba);
  gint stride = gdk_pixbuf_get_rowstride (rgba);
  gsize size = (gsize) stride * (h - 1) + (gsize) w * 4; /* the last row may be unpadded */
  GstBuffer *buf = gst_buffer_new_wrapped_full (GST_MEMORY_FLAG_READONLY,
                                                (gpointer) gdk_pixbuf_read_pixels (rgba), size, 0,
                                                size, rgba, g_object_unref);
  gsize offset[GST_VIDEO_MAX_PLANES] = { 0 };
  gint strides[GST_VIDEO_MAX_PLANES] = { stride };
  gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_FORMAT_RGBA, w, h, 1,
                                  offset, strides);
  return rgba_sample (buf, w, h);
}

/* A file's first bytes, enough to tell the formats below */
typedef struct {
  guint8 bytes[26];
  gsize got;
} FileHead;

/* Whether the file starts as a JPEG does (SOI, then a marker) */
static gboolean
is_jpeg (const FileHead *h)
{
  return h->got >= 3 && h->bytes[0] == 0xFF && h->bytes[1] == 0xD8 && h->bytes[2] == 0xFF;
}

/* Whether the file is a PNG. GdkPixbuf's library (libpng) reads it as Pillow does, a 16-bit
 * one's high bytes, and reads it whole. Through decodebin, GStreamer 1.22's pngparse gathers the
 * file in 4 kB pieces at a cost that grows with its size (2.2 s of kernel time for a 23 MB
 * 4000 x 3000 PNG, 5.5 s for 37 MB), and its pngdec hands a 16-bit RGB one on with every pixel
 * two 16-bit words off its place (2.4 dB PSNR against the same picture in 8 bits). */
static gboolean
is_png (const FileHead *h)
{
  return heed_cli_head_is_png (h->bytes, h->got);
}

/* Decodes the first frame of path as RGBA. Ends as soon as GStreamer has either prerolled a
 * frame or said why it cannot: a missing file, a directory, text or random bytes, a truncated
 * image each give an error at once, never a wait. */
static GstSample *
decode_first_frame (const char *path, const char *shown, GError **error)
{
  GStatBuf st;
  if (g_stat (path, &st) != 0) {
    int e = errno;
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "%s: %s", shown, g_strerror (e));
    return NULL;
  }
  if (!S_ISREG (st.st_mode) || st.st_size == 0) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "%s: %s", shown,
                 S_ISDIR (st.st_mode)   ? "is a directory"
                 : S_ISREG (st.st_mode) ? "is empty"
                                        : "is not a regular file");
    return NULL;
  }
  /* A JPEG as Pillow (which timm and transformers read images with) decodes it: GdkPixbuf's
   * library is the same libjpeg, with its smooth chroma upsampling, so every pixel agrees.
   * jpegdec hands on YUV at 4:2:0 whatever the file holds, and videoconvert's upsampling puts
   * colours many codes apart at every colour edge. */
  /* and a PNG and a BMP (is_png and heed_cli_head_is_bmp say why) */
  FileHead head;
  head.got = heed_cli_read_head (path, head.bytes, sizeof head.bytes);
  /* a picture cut short, which its decoder fills out with grey or black where Pillow refuses it */
  const char *damage = heed_still_damage_of_file (path);
  if (damage) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "%s: cannot decode: %s", shown, damage);
    return NULL;
  }
  gboolean bmp = heed_cli_head_is_bmp (head.bytes, head.got);
  gboolean pixbuf_first = is_jpeg (&head) || is_png (&head) || bmp;
  guint orientation = heed_still_orientation_of_file (path); /* a PNG's or a WebP's, else 0 */
  GstSample *photo = pixbuf_first ? pixbuf_frame (path, orientation) : NULL;
  if (photo)
    return photo;
  if (bmp) { /* decodebin would give a wrong picture */
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "%s: cannot decode: a damaged BMP", shown);
    return NULL;
  }
  /* a GIF without its trailer decoded from a copy with one (heed_gif_completed says why) */
  char *completed = heed_gif_completed_copy (path);
  char *uri = gst_filename_to_uri (completed ? completed : path, error);
  if (!uri) {
    if (completed)
      g_unlink (completed), g_free (completed);
    return NULL;
  }
  char *source = g_strdup_printf ("uridecodebin uri=\"%s\"", uri);
  char *message = NULL;
  gboolean not_linked = FALSE;
  GstSample *sample =
      preroll_frame (source, heed_orientation_method (orientation), &message, &not_linked, error);
  g_free (source);
  g_free (uri);
  if (completed)
    g_unlink (completed), g_free (completed);
  if (!sample && !not_linked && !pixbuf_first && !(error && *error)) {
    /* Images GStreamer's decodebin cannot read but GdkPixbuf can (unless it had them first):
     * TIFF (libav's decoder gets the file in 4 kB pieces, with no parser to join them). Pillow,
     * which timm reads images with, reads them. GdkPixbuf's library refuses a
     * truncated file, as Pillow does, where its GStreamer element would hand on what it had. */
    sample = pixbuf_frame (path, orientation);
  }
  if (!sample && !(error && *error)) {
    if (not_linked)
      g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "%s: no video or image in it", shown);
    else if (message)
      g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "%s: cannot decode: %s", shown, message);
    else
      g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "%s: no video frame in it", shown);
  }
  g_free (message);
  return sample;
}

/* Row y of an RGBA picture w wide averaged over the columns into out (sw x 4 floats), each
 * output column the mean of the source columns it covers, a partly covered one in part */
static void
shrink_row (const guint8 *row, guint w, guint sw, float *out)
{
  double r = (double) w / sw;
  for (guint o = 0; o < sw; o++) {
    double a = o * r, b = (o + 1) * r;
    float acc[4] = { 0, 0, 0, 0 };
    for (guint i = (guint) a; i < MIN ((guint) ceil (b), w); i++) {
      float k = (float) ((MIN (b, i + 1.0) - MAX (a, (double) i)) / r);
      for (guint c = 0; c < 4; c++)
        acc[c] += k * row[4 * i + c];
    }
    memcpy (out + 4 * o, acc, sizeof acc);
  }
}

/* A picture with a side over HEED_FRAME_MAX_SIDE (a phone's panorama may be 20000 pixels wide)
 * as a sample shrunk to that side, its shape kept, each pixel the mean of the area it covers
 * rounded to the nearest code (GdkPixbuf's scaling truncates: half a code darker on average);
 * the sample itself otherwise (a new reference). The model's own resize follows. */
static GstSample *
within_frame_limit (GstSample *sample)
{
  GstVideoInfo info;
  GstVideoFrame frame;
  if (!gst_video_info_from_caps (&info, gst_sample_get_caps (sample)) ||
      GST_VIDEO_INFO_FORMAT (&info) != GST_VIDEO_FORMAT_RGBA ||
      (GST_VIDEO_INFO_WIDTH (&info) <= HEED_FRAME_MAX_SIDE &&
       GST_VIDEO_INFO_HEIGHT (&info) <= HEED_FRAME_MAX_SIDE) ||
      !gst_video_frame_map (&frame, &info, gst_sample_get_buffer (sample), GST_MAP_READ))
    return gst_sample_ref (sample);
  guint w = GST_VIDEO_INFO_WIDTH (&info), h = GST_VIDEO_INFO_HEIGHT (&info);
  double scale = (double) HEED_FRAME_MAX_SIDE / MAX (w, h);
  guint sw = CLAMP ((guint) lround (w * scale), 1, HEED_FRAME_MAX_SIDE);
  guint sh = CLAMP ((guint) lround (h * scale), 1, HEED_FRAME_MAX_SIDE);
  const guint8 *src = GST_VIDEO_FRAME_PLANE_DATA (&frame, 0);
  gsize stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, (gsize) sw * sh * 4, NULL);
  GstMapInfo map;
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  float *row = g_new (float, (gsize) sw * 4), *acc = g_new (float, (gsize) sw * 4);
  double r = (double) h / sh;
  for (guint o = 0; o < sh; o++) {
    double a = o * r, b = (o + 1) * r;
    memset (acc, 0, (gsize) sw * 4 * sizeof (float));
    for (guint y = (guint) a; y < MIN ((guint) ceil (b), h); y++) {
      float k = (float) ((MIN (b, y + 1.0) - MAX (a, (double) y)) / r);
      shrink_row (src + y * stride, w, sw, row);
      for (gsize i = 0; i < (gsize) sw * 4; i++)
        acc[i] += k * row[i];
    }
    for (gsize i = 0; i < (gsize) sw * 4; i++)
      map.data[(gsize) o * sw * 4 + i] = (guint8) CLAMP (lroundf (acc[i]), 0, 255);
  }
  g_free (row), g_free (acc);
  gst_buffer_unmap (buf, &map);
  gst_video_frame_unmap (&frame);
  return rgba_sample (buf, sw, sh);
}

/* Runs the model on the sample's frame. */
static HeedVitResult *
run_sample (HeedVitRun *run, GstSample *sample, const HeedFrameLayout *preprocess, GError **error)
{
  HeedVitResult *result = NULL;
  GstVideoInfo info;
  GstVideoFrame frame;
  HeedFrameLayout layout;
  gboolean ok = FALSE;
  if (!gst_video_info_from_caps (&info, gst_sample_get_caps (sample)) ||
      !gst_video_frame_map (&frame, &info, gst_sample_get_buffer (sample), GST_MAP_READ)) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "cannot read the decoded frame");
    return NULL;
  }
  guint stride[3] = { GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0), 0, 0 };
  const guint8 *planes[3] = { GST_VIDEO_FRAME_PLANE_DATA (&frame, 0), NULL, NULL };
  if (heed_frame_layout_init (&layout, HEED_PIXEL_RGBA, GST_VIDEO_INFO_WIDTH (&info),
                              GST_VIDEO_INFO_HEIGHT (&info), stride, error)) {
    layout.resize = preprocess->resize;
    layout.crop_fraction = preprocess->crop_fraction;
    layout.interpolation = preprocess->interpolation;
    layout.crop_rounding = preprocess->crop_rounding;
    ok = heed_vit_run_set_frame_layout (run, &layout, error) &&
         heed_vit_run_set_frame (run, 0, planes, stride, error) &&
         heed_vit_run_submit (run, 1, error) && heed_vit_run_wait (run, &result, error);
  }
  gst_video_frame_unmap (&frame);
  return ok ? result : NULL;
}

static void
print_result (const char *file, const HeedVitResult *result, char **labels, guint top_k,
              HeedAttentionMode attention)
{
  const HeedModelConfig *c = &result->config;
  guint *ids = g_new (guint, top_k);
  double *probs = g_new (double, top_k);
  float *map = g_new (float, c->num_patches), x, y;
  guint n = heed_vit_result_top_k (result, top_k, 0.0, ids, probs);
  heed_vit_result_patch_in_frame (result, heed_vit_result_attention_map (result, attention, map),
                                  &x, &y);

  JsonBuilder *b = json_builder_new ();
  json_builder_begin_object (b);
  /* JSON is UTF-8: a name that is not (a Latin-1 name on a UTF-8 system) gets U+FFFD for the
   * bytes it cannot be read from */
  char *shown = g_filename_display_name (file);
  json_builder_set_member_name (b, "file");
  json_builder_add_string_value (b, shown);
  g_free (shown);
  json_builder_set_member_name (b, "labels");
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++) {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "label");
    json_builder_add_string_value (b, labels[ids[i]]);
    json_builder_set_member_name (b, "label_id");
    json_builder_add_int_value (b, ids[i]);
    json_builder_set_member_name (b, "confidence");
    json_builder_add_double_value (b, probs[i]);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "attention_peak");
  json_builder_begin_array (b);
  json_builder_add_double_value (b, x);
  json_builder_add_double_value (b, y);
  json_builder_end_array (b);
  json_builder_end_object (b);
  JsonNode *root = json_builder_get_root (b);
  char *line = json_to_string (root, FALSE);
  printf ("%s\n", line);
  fflush (stdout);
  g_free (line);
  json_node_unref (root);
  g_object_unref (b);
  g_free (ids);
  g_free (probs);
  g_free (map);
}

/* The first frame of a stream at an address (a camera's RTSP, or MJPEG over HTTP), upright, as
 * uridecodebin gives it: the pipeline played (a live source does not preroll), its sound let
 * into a fakesink (a stream left unlinked stops RTSP's source) that does not wait for a first
 * buffer (a stream with no sound never links it, and the live pipeline stood still), 60 s at
 * most */
static GstSample *
stream_first_frame (const char *uri, GError **error)
{
  char *desc = g_strdup_printf (
      "uridecodebin name=d uri=\"%s\" d. ! queue ! audioconvert ! fakesink sync=false async=false "
      "d. ! queue ! videoconvert ! video/x-raw,format=RGBA ! videoflip video-direction=auto "
      "! appsink name=sink sync=false",
      uri);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  g_free (desc);
  if (!pipe) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "%s: cannot read it", uri);
    return NULL;
  }
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  GstBus *bus = gst_element_get_bus (pipe);
  GstSample *sample = NULL;
  GstMessage *m = NULL;
  if (gst_element_set_state (pipe, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE)
    for (guint waited = 0; !sample && !m && waited < 600; waited++) {
      sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 100 * GST_MSECOND);
      if (!sample)
        m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
    }
  if (!sample && !m)
    m = gst_bus_timed_pop_filtered (bus, GST_SECOND, GST_MESSAGE_ERROR);
  if (!sample) {
    GError *e = NULL;
    if (m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR)
      gst_message_parse_error (m, &e, NULL);
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "%s: %s%s", uri,
                 e   ? "cannot decode: "
                 : m ? "no video frame in it"
                     : "no frame in 60 s",
                 e ? e->message : "");
    g_clear_error (&e);
  }
  stop_pipeline (pipe, sink, bus, m);
  return sample;
}

/* Standard input copied into a temporary file (the decoders, GStreamer's and GdkPixbuf's, read
 * files), or NULL with the reason; a terminal is refused rather than waited on */
static char *
stdin_to_file (GError **error)
{
  if (isatty (STDIN_FILENO)) {
    g_set_error (
        error, HEED_ERROR, HEED_ERROR_IO,
        "-: standard input is a terminal; pipe a picture in (heed classify - < photo.jpg)");
    return NULL;
  }
  char *path = NULL;
  int fd = g_file_open_tmp ("heed-stdin-XXXXXX", &path, error);
  if (fd < 0)
    return NULL;
  char buf[65536];
  gboolean ok = TRUE;
  for (;;) {
    ssize_t n = read (STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      ok = n == 0;
      break;
    }
    for (ssize_t off = 0; ok && off < n;) {
      ssize_t w = write (fd, buf + off, (size_t) (n - off));
      if (w < 0 && errno == EINTR)
        continue;
      ok = w > 0;
      off += MAX (w, 0);
    }
    if (!ok)
      break;
  }
  int e = errno;
  if (close (fd) != 0 && ok)
    ok = FALSE, e = errno;
  if (!ok) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "-: cannot copy standard input to %s: %s", path,
                 g_strerror (e));
    g_unlink (path);
    g_clear_pointer (&path, g_free);
  }
  return path;
}

int
heed_cmd_classify (int argc, char **argv)
{
  char *model_path = NULL, *labels_file = NULL, *resize_name = NULL, *attention_name = NULL;
  char *weights_name = NULL;
  char *dump_tensor = NULL, *interpolation_name = NULL;
  int top_k = 5, device_index = -1, status = 0, input_size = 0;
  gboolean verbose = FALSE;
  char **files = NULL;
  GOptionEntry entries[] = {
    HEED_CLI_MODEL_ENTRY (model_path, " (default: the embedded videotestsrc model)"),
    { "labels", 'l', 0, G_OPTION_ARG_FILENAME, &labels_file,
      "class names, one per line (overrides the model's)", "F" },
    { "top-k", 'k', 0, G_OPTION_ARG_INT, &top_k, "how many classes to report (default 5)", "K" },
    { "resize", 0, 0, G_OPTION_ARG_STRING, &resize_name,
      "checkpoint (default: what the checkpoint's config says), stretch, crop or letterbox",
      "MODE" },
    { "interpolation", 0, 0, G_OPTION_ARG_STRING, &interpolation_name,
      "checkpoint (default: the checkpoint's filter), bilinear, bicubic, lanczos, box, hamming "
      "or nearest (Pillow's filters, antialiased when shrinking)",
      "FILTER" },
    { "attention", 0, 0, G_OPTION_ARG_STRING, &attention_name,
      "cls (default) or rollout: the map the peak comes from", "MODE" },
    { "device", 'd', 0, G_OPTION_ARG_INT, &device_index, "Vulkan device index", "N" },
    HEED_CLI_WEIGHTS_ENTRY (weights_name),
    { "input-size", 0, 0, G_OPTION_ARG_INT, &input_size,
      "run the model at N x N pixels (a multiple of its patch size), for a finer attention map",
      "N" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
      "say which preprocessing runs and where it came from (on stderr)", NULL },
    { "dump-tensor", 0, 0, G_OPTION_ARG_FILENAME, &dump_tensor,
      "write the model input of each image, one after another (float32 NCHW, as run-tensor "
      "takes)",
      "OUT" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL, "IMAGE..." },
    { NULL }
  };
  GOptionContext *ctx = g_option_context_new (
      "- classify images, one JSON line each (a folder: the pictures and videos in it; "
      "-: standard input; an address: https://..., rtsp://...)");
  GError *error = NULL;
  HeedModel *model = NULL;
  HeedDevice *device = NULL;
  HeedVitPlan *plan = NULL;
  HeedVitRun *run = NULL;
  char **labels = NULL;
  HeedResize resize = HEED_RESIZE_STRETCH;
  gboolean checkpoint_resize = TRUE, checkpoint_interpolation = TRUE;
  HeedInterpolation interpolation = HEED_INTERPOLATION_BILINEAR;
  HeedAttentionMode attention = HEED_ATTENTION_CLS;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  if (!files || !files[0]) {
    status = heed_cli_fail ("classify needs at least one image", NULL);
    goto out;
  }
  if (top_k < 1) {
    status = heed_cli_fail ("--top-k must be at least 1", NULL);
    goto out;
  }
  if (resize_name && !g_str_equal (resize_name, "checkpoint")) {
    checkpoint_resize = FALSE;
    if (g_str_equal (resize_name, "crop"))
      resize = HEED_RESIZE_CROP;
    else if (g_str_equal (resize_name, "letterbox"))
      resize = HEED_RESIZE_LETTERBOX;
    else if (!g_str_equal (resize_name, "stretch")) {
      status = heed_cli_fail ("--resize takes checkpoint, stretch, crop or letterbox", NULL);
      goto out;
    }
  }
  if (interpolation_name && !g_str_equal (interpolation_name, "checkpoint")) {
    checkpoint_interpolation = FALSE;
    if (!heed_interpolation_from_name (interpolation_name, &interpolation)) {
      status = heed_cli_fail ("--interpolation takes checkpoint, bilinear, bicubic, lanczos, box, "
                              "hamming or nearest",
                              NULL);
      goto out;
    }
  }
  if (attention_name && !g_str_equal (attention_name, "cls")) {
    if (!g_str_equal (attention_name, "rollout")) {
      status = heed_cli_fail ("--attention takes cls or rollout", NULL);
      goto out;
    }
    attention = HEED_ATTENTION_ROLLOUT;
  }
  gst_init (NULL, NULL);
  HeedVitOptions opts = { .layer_attention = attention == HEED_ATTENTION_ROLLOUT };
  if (weights_name && !heed_weight_format_parse (weights_name, &opts.weights, &error)) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  /* no --model: the embedded default one */
  char *local = model_path ? heed_cli_resolve_model (model_path, &error) : NULL;
  if (model_path && !local) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  model = local ? heed_model_load (local, &error) : heed_model_load_default (&error);
  g_free (local);
  if (!model ||
      (input_size && !heed_model_set_input_size (model, (guint) MAX (input_size, 1), &error)) ||
      (model->config.num_classes &&
       !(labels = heed_labels_resolve (labels_file, model->config.labels, model->config.num_classes,
                                       &error))) ||
      !(device = heed_device_new (device_index, &error)) ||
      !(plan = heed_vit_plan_new (device, model, &opts, &error)) ||
      !(run = heed_vit_run_new (plan, 1, &error))) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  const HeedModelConfig *mc = &model->config;
  HeedFrameLayout preprocess = { 0 };
  heed_frame_layout_use_model (&preprocess, mc);
  if (!checkpoint_resize)
    preprocess.resize = resize, preprocess.crop_fraction = 1.0f;
  if (!checkpoint_interpolation)
    preprocess.interpolation = interpolation;
  if (verbose) {
    char *what = heed_model_describe (mc);
    fprintf (stderr, "heed: model: %s\n", what);
    g_free (what);
  }
  if (verbose)
    fprintf (stderr,
             "heed: preprocessing: %s %.4g, %s, mean [%.4g, %.4g, %.4g], std [%.4g, %.4g, %.4g] "
             "(%s)%s%s\n",
             preprocess.resize == HEED_RESIZE_CROP        ? "centre crop"
             : preprocess.resize == HEED_RESIZE_LETTERBOX ? "letterbox"
                                                          : "stretch",
             preprocess.crop_fraction, heed_interpolation_name (preprocess.interpolation),
             mc->mean[0], mc->mean[1], mc->mean[2], mc->std[0], mc->std[1], mc->std[2],
             mc->preprocess_source, checkpoint_resize ? "" : "; --resize overrides the geometry",
             checkpoint_interpolation ? "" : "; --interpolation overrides the filter");
  FILE *dump = NULL;
  if (dump_tensor && !(dump = fopen (dump_tensor, "wb"))) {
    status = heed_cli_fail (NULL, g_error_new (HEED_ERROR, HEED_ERROR_IO, "cannot write %s: %s",
                                               dump_tensor, g_strerror (errno)));
    goto out;
  }
  heed_vit_run_keep_input (run, dump != NULL);
  const HeedModelConfig *rc = heed_vit_plan_get_config (plan);
  gsize input_bytes = (gsize) rc->in_chans * rc->img_size * rc->img_size * sizeof (float);
  /* folders in place of what is in them; "-" read once (standard input has one picture) */
  GPtrArray *inputs = g_ptr_array_new_with_free_func (g_free);
  char *from_stdin = NULL;
  for (char **f = files; *f; f++) {
    if (g_file_test (*f, G_FILE_TEST_IS_DIR)) {
      if (!heed_cli_add_folder (inputs, *f, TRUE, &error))
        status = heed_cli_fail (NULL, error), error = NULL;
    } else
      g_ptr_array_add (inputs, g_strdup (*f));
  }
  for (guint i = 0; i < inputs->len; i++) {
    const char *shown = inputs->pdata[i], *path = shown;
    if (g_str_equal (shown, "-")) {
      if (from_stdin || !(from_stdin = stdin_to_file (&error))) {
        status = heed_cli_fail (from_stdin ? "-: standard input is read once; name it once" : NULL,
                                error);
        error = NULL;
        continue;
      }
      path = from_stdin;
    }
    char *address = NULL, *from_uri = NULL, *fetched = NULL;
    gboolean stream = FALSE;
    GstSample *decoded = NULL;
    gboolean located = heed_cli_input_location (shown, &address, &from_uri, &error);
    if (located && address) {
      if ((fetched = heed_cli_fetch_address (address, &stream, &error)))
        decoded = decode_first_frame (fetched, shown, &error);
      else if (stream)
        decoded = stream_first_frame (address, &error);
    } else if (located) {
      decoded = decode_first_frame (from_uri ? from_uri : path, shown, &error);
    }
    if (fetched)
      g_unlink (fetched);
    g_free (fetched), g_free (from_uri), g_free (address);
    GstSample *sample = decoded ? within_frame_limit (decoded) : NULL;
    HeedVitResult *result = sample ? run_sample (run, sample, &preprocess, &error) : NULL;
    if (decoded)
      gst_sample_unref (decoded), gst_sample_unref (sample);
    if (!result) {
      status = heed_cli_fail (NULL, error);
      error = NULL;
      continue;
    }
    print_result (shown, result, labels, (guint) top_k, attention);
    heed_vit_result_destroy (&result);
    if (dump && fwrite (heed_vit_run_get_input (run, 0), 1, input_bytes, dump) != input_bytes)
      status = heed_cli_fail (
          NULL, g_error_new (HEED_ERROR, HEED_ERROR_IO, "cannot write %s", dump_tensor));
  }
  if (from_stdin)
    g_unlink (from_stdin);
  g_free (from_stdin);
  g_ptr_array_free (inputs, TRUE);
  if (dump && fclose (dump) != 0)
    status = heed_cli_fail (
        NULL, g_error_new (HEED_ERROR, HEED_ERROR_IO, "cannot write %s", dump_tensor));
out:
  heed_vit_run_destroy (&run);
  heed_vit_plan_destroy (&plan);
  heed_device_destroy (&device);
  heed_model_destroy (&model);
  g_strfreev (labels);
  g_strfreev (files);
  g_free (model_path);
  g_free (labels_file);
  g_free (resize_name);
  g_free (attention_name);
  g_free (weights_name);
  g_free (interpolation_name);
  g_free (dump_tensor);
  g_option_context_free (ctx);
  return status;
}
