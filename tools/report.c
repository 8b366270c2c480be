/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The keyframe report of `heed annotate --report DIR`: DIR/index.html with the keyframes as
 * thumbnails (taken after heedoverlay, so with their heatmaps and labels), an importance
 * timeline with the sound's novelty under it, and the label track over time; the thumbnails in
 * DIR/keyframes/. The page is one file of HTML with inline SVG and CSS: it opens from the folder
 * with no server and fetches nothing from the network.
 *
 * Filled from the streaming threads: heed_report_record_frame (a probe after heedoverlay) reads
 * each frame's metadata; heed_report_keep_keyframes (a probe on the thumbnail branch) passes only
 * keyframes on to the JPEG encoder, whose output heed_report_thumbnail writes. */
#include "heed-report.h"

#include "heedmeta.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

typedef struct {
  guint64 frame;
  GstClockTime pts, duration;
  double importance, audio_novelty;
  gboolean keyframe, has_sound_novelty;
  char *cause;
  int label; /* index into labels, -1 without a classification */
  double confidence;
} ReportFrame;

struct _HeedReport {
  char *dir;
  GMutex lock;       /* everything below, between the video and the thumbnail branch's threads */
  GArray *frames;    /* ReportFrame, in stream order */
  GPtrArray *labels; /* distinct top-1 labels, in order of first appearance */
  GHashTable *label_index;
  GQueue pending;         /* frame numbers of keyframes on their way to the JPEG encoder */
  GHashTable *thumbnails; /* frame numbers (guint64 *) whose thumbnail was written */
  char *write_error;      /* the first thumbnail that could not be written */
};

static void
clear_frame (gpointer p)
{
  g_free (((ReportFrame *) p)->cause);
}

HeedReport *
heed_report_new (const char *dir, GError **error)
{
  char *thumbs = g_build_filename (dir, "keyframes", NULL);
  if (g_mkdir_with_parents (thumbs, 0755) != 0) {
    int e = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e),
                 "cannot make the report folder %s: %s", thumbs, g_strerror (e));
    g_free (thumbs);
    return NULL;
  }
  /* an earlier report's thumbnails would be shown beside this one's */
  GDir *d = g_dir_open (thumbs, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d)))
    if (g_str_has_prefix (name, "frame-") && g_str_has_suffix (name, ".jpg")) {
      char *path = g_build_filename (thumbs, name, NULL);
      g_unlink (path);
      g_free (path);
    }
  if (d)
    g_dir_close (d);
  g_free (thumbs);

  HeedReport *r = g_new0 (HeedReport, 1);
  r->dir = g_strdup (dir);
  g_mutex_init (&r->lock);
  r->frames = g_array_new (FALSE, TRUE, sizeof (ReportFrame));
  g_array_set_clear_func (r->frames, clear_frame);
  r->labels = g_ptr_array_new_with_free_func (g_free);
  r->label_index = g_hash_table_new (g_str_hash, g_str_equal);
  r->thumbnails = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_queue_init (&r->pending);
  return r;
}

void
heed_report_free (HeedReport *r)
{
  if (!r)
    return;
  g_array_unref (r->frames);
  g_hash_table_unref (r->label_index);
  g_ptr_array_unref (r->labels);
  g_hash_table_unref (r->thumbnails);
  g_queue_clear_full (&r->pending, g_free);
  g_mutex_clear (&r->lock);
  g_free (r->write_error);
  g_free (r->dir);
  g_free (r);
}

static double
get_double (const GstStructure *s, const char *field, double otherwise)
{
  double v;
  return s && gst_structure_get_double (s, field, &v) ? v : otherwise;
}

GstPadProbeReturn
heed_report_record_frame (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  HeedReport *r = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  const GstStructure *k = heed_keyframe_meta_get (buf);
  const GstStructure *c = heed_classification_meta_get (buf);
  ReportFrame f = { 0 };
  f.pts = GST_BUFFER_PTS (buf);
  f.duration = GST_BUFFER_DURATION (buf);
  f.label = -1;
  f.importance = get_double (k, "score", 0);
  f.has_sound_novelty = k && gst_structure_has_field (k, "audio-novelty");
  f.audio_novelty = get_double (k, "audio-novelty", 0);
  if (k)
    gst_structure_get_boolean (k, "keyframe", &f.keyframe);
  if (k && gst_structure_has_field (k, "cause"))
    f.cause = g_strdup (gst_structure_get_string (k, "cause"));

  g_mutex_lock (&r->lock);
  guint64 frame = r->frames->len;
  if (k)
    gst_structure_get_uint64 (k, "frame", &frame);
  f.frame = frame;
  const GValue *labels = c ? gst_structure_get_value (c, "labels") : NULL;
  if (labels && gst_value_array_get_size (labels) > 0) {
    const char *label = g_value_get_string (gst_value_array_get_value (labels, 0));
    gpointer index;
    if (!g_hash_table_lookup_extended (r->label_index, label, NULL, &index)) {
      index = GINT_TO_POINTER (r->labels->len);
      g_ptr_array_add (r->labels, g_strdup (label));
      g_hash_table_insert (r->label_index, g_ptr_array_index (r->labels, r->labels->len - 1),
                           index);
    }
    f.label = GPOINTER_TO_INT (index);
    const GValue *conf = gst_structure_get_value (c, "confidences");
    if (conf && gst_value_array_get_size (conf) > 0)
      f.confidence = g_value_get_double (gst_value_array_get_value (conf, 0));
  }
  g_array_append_val (r->frames, f);
  g_mutex_unlock (&r->lock);
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn
heed_report_keep_keyframes (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  HeedReport *r = data;
  const GstStructure *k = heed_keyframe_meta_get (GST_PAD_PROBE_INFO_BUFFER (info));
  gboolean key = FALSE;
  guint64 frame = 0;
  if (!k || !gst_structure_get_boolean (k, "keyframe", &key) || !key ||
      !gst_structure_get_uint64 (k, "frame", &frame))
    return GST_PAD_PROBE_DROP;
  guint64 *pending = g_new (guint64, 1);
  *pending = frame;
  g_mutex_lock (&r->lock);
  g_queue_push_tail (&r->pending, pending);
  g_mutex_unlock (&r->lock);
  return GST_PAD_PROBE_OK;
}

static char *
thumbnail_name (guint64 frame)
{
  return g_strdup_printf ("frame-%06" G_GUINT64_FORMAT ".jpg", frame);
}

GstFlowReturn
heed_report_thumbnail (GstAppSink *sink, gpointer data)
{
  HeedReport *r = data;
  GstSample *sample = gst_app_sink_pull_sample (sink);
  if (!sample)
    return GST_FLOW_EOS;
  g_mutex_lock (&r->lock);
  /* the JPEG encoder keeps the order of the keyframes it was given */
  guint64 *frame = g_queue_pop_head (&r->pending);
  g_mutex_unlock (&r->lock);
  GstMapInfo map;
  GstBuffer *buf = gst_sample_get_buffer (sample);
  if (frame && gst_buffer_map (buf, &map, GST_MAP_READ)) {
    char *name = thumbnail_name (*frame);
    char *path = g_build_filename (r->dir, "keyframes", name, NULL);
    GError *error = NULL;
    gboolean written = g_file_set_contents (path, (const char *) map.data, map.size, &error);
    gst_buffer_unmap (buf, &map);
    g_mutex_lock (&r->lock);
    if (written)
      g_hash_table_add (r->thumbnails, g_steal_pointer (&frame));
    else if (!r->write_error)
      r->write_error = g_strdup (error->message);
    g_mutex_unlock (&r->lock);
    g_clear_error (&error);
    g_free (path);
    g_free (name);
  }
  g_free (frame);
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

/* ---- the page ---- */

#define PLOT_LEFT 56
#define PLOT_WIDTH 1120
#define SVG_WIDTH (PLOT_LEFT + PLOT_WIDTH + 16)

typedef struct {
  GstClockTime origin, span; /* time of the first frame, and from it to the last */
  gboolean by_time;          /* every frame has a timestamp; else the x axis counts frames */
  guint n;
} Axis;

static double
frame_x (const Axis *ax, const ReportFrame *f, guint i)
{
  double t = ax->by_time ? (double) (f->pts - ax->origin) / MAX (ax->span, 1)
                         : (double) i / MAX (ax->n - 1, 1);
  return PLOT_LEFT + t * PLOT_WIDTH;
}

static void
format_clock (GString *s, double seconds, gboolean tenths)
{
  guint whole = (guint) seconds;
  if (whole >= 3600)
    g_string_append_printf (s, "%u:%02u:%02u", whole / 3600, whole / 60 % 60, whole % 60);
  else
    g_string_append_printf (s, "%u:%02u", whole / 60, whole % 60);
  if (tenths)
    g_string_append_printf (s, ".%u", (guint) ((seconds - whole) * 10) % 10);
}

static void
append_escaped (GString *s, const char *text)
{
  char *e = g_markup_escape_text (text, -1);
  g_string_append (s, e);
  g_free (e);
}

/* A label's colour: Tableau's ten categorical colours in order of appearance, then hues spread
 * by the golden angle. */
static void
label_colour (GString *s, int label)
{
  static const char *const palette[] = { "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948",
                                         "#76b7b2", "#e15759", "#9c755f", "#ff9da7", "#bab0ac" };
  if (label < (int) G_N_ELEMENTS (palette))
    g_string_append (s, palette[label]);
  else
    g_string_append_printf (s, "hsl(%d,60%%,%d%%)", (int) (label * 137.508) % 360,
                            label % 2 ? 42 : 58);
}

/* One series as a polyline; a column of the plot holds the largest value of the frames that
 * fall in it, so a one-frame peak survives in a long video. */
static void
append_series (GString *s, const ReportFrame *frames, const Axis *ax, gboolean sound, double top,
               double height, double scale, const char *colour)
{
  double *column = g_new (double, PLOT_WIDTH + 1);
  gboolean *used = g_new0 (gboolean, PLOT_WIDTH + 1);
  for (guint i = 0; i < ax->n; i++) {
    int c = (int) (frame_x (ax, &frames[i], i) - PLOT_LEFT + 0.5);
    c = CLAMP (c, 0, PLOT_WIDTH);
    double v = sound ? frames[i].audio_novelty : frames[i].importance;
    if (!used[c] || v > column[c])
      column[c] = v;
    used[c] = TRUE;
  }
  g_string_append_printf (s, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
                          colour);
  for (int c = 0; c <= PLOT_WIDTH; c++)
    if (used[c])
      g_string_append_printf (s, "%d,%.1f ", PLOT_LEFT + c,
                              top + height - CLAMP (column[c] * scale, 0, 1) * height);
  g_string_append (s, "\"/>\n");
  g_free (column);
  g_free (used);
}

static void
append_time_axis (GString *s, const Axis *ax, double y)
{
  double total = ax->by_time ? ax->span / 1e9 : ax->n;
  static const double steps[] = { 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600 };
  double step = steps[G_N_ELEMENTS (steps) - 1];
  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    if (total / steps[i] <= 12) {
      step = steps[i];
      break;
    }
  if (!ax->by_time)
    step = MAX (1, step);
  for (double t = 0; t <= total + 1e-9; t += step) {
    double x = PLOT_LEFT + (total > 0 ? t / total : 0) * PLOT_WIDTH;
    g_string_append_printf (s,
                            "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"8\" y2=\"%.1f\" class=\"grid\"/>"
                            "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\">",
                            x, x, y, x, y + 14);
    if (ax->by_time)
      format_clock (s, t, step < 1);
    else
      g_string_append_printf (s, "%.0f", t);
    g_string_append (s, "</text>\n");
  }
}

static void
append_timeline (GString *s, const HeedReport *r, const Axis *ax, const HeedReportSummary *sum)
{
  const ReportFrame *frames = (const ReportFrame *) r->frames->data;
  double loudest = 0;
  gboolean heard = FALSE;
  for (guint i = 0; i < ax->n; i++) {
    loudest = MAX (loudest, frames[i].audio_novelty);
    heard |= frames[i].has_sound_novelty;
  }
  const double imp_top = 10, imp_h = 120, snd_top = 150, snd_h = 60, axis_y = 222;
  g_string_append_printf (s,
                          "<svg class=\"timeline\" viewBox=\"0 0 %d 250\" role=\"img\" "
                          "aria-label=\"importance and sound novelty over time\">\n",
                          SVG_WIDTH);
  append_time_axis (s, ax, axis_y);
  g_string_append_printf (
      s,
      "<rect x=\"%d\" y=\"%.0f\" width=\"%d\" height=\"%.0f\" class=\"band\"/>"
      "<rect x=\"%d\" y=\"%.0f\" width=\"%d\" height=\"%.0f\" class=\"band\"/>\n"
      "<text x=\"4\" y=\"%.0f\" class=\"axis\">importance</text>"
      "<text x=\"4\" y=\"%.0f\" class=\"axis\">sound</text>\n",
      PLOT_LEFT, imp_top, PLOT_WIDTH, imp_h, PLOT_LEFT, snd_top, PLOT_WIDTH, snd_h, imp_top + 12,
      snd_top + 12);
  double ty = imp_top + imp_h - CLAMP (sum->threshold, 0, 1) * imp_h;
  g_string_append_printf (s,
                          "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" class=\"threshold\">"
                          "<title>threshold %.2f</title></line>\n",
                          PLOT_LEFT, PLOT_LEFT + PLOT_WIDTH, ty, ty, sum->threshold);
  append_series (s, frames, ax, FALSE, imp_top, imp_h, 1.0, "#2563eb");
  if (heard && loudest > 0)
    append_series (s, frames, ax, TRUE, snd_top, snd_h, 1.0 / loudest, "#ea580c");
  else
    g_string_append_printf (s, "<text x=\"%d\" y=\"%.0f\" class=\"axis\">%s</text>\n",
                            PLOT_LEFT + 8, snd_top + snd_h / 2 + 4,
                            sum->sound ? "the sound did not change" : "the input has no sound");
  for (guint i = 0; i < ax->n; i++) {
    if (!frames[i].keyframe)
      continue;
    double x = frame_x (ax, &frames[i], i);
    g_string_append_printf (
        s,
        "<a href=\"#f%" G_GUINT64_FORMAT "\"><line x1=\"%.1f\" x2=\"%.1f\" "
        "y1=\"%.0f\" y2=\"%.0f\" class=\"key\"/><circle cx=\"%.1f\" cy=\"%.0f\" "
        "r=\"4\" class=\"key\"><title>keyframe: frame %" G_GUINT64_FORMAT "</title></circle></a>\n",
        frames[i].frame, x, x, imp_top, snd_top + snd_h, x, imp_top + 4, frames[i].frame);
  }
  g_string_append (s, "</svg>\n");
}

static void
append_label_track (GString *s, const HeedReport *r, const Axis *ax)
{
  const ReportFrame *frames = (const ReportFrame *) r->frames->data;
  if (r->labels->len == 0) {
    g_string_append (s, "<p class=\"note\">No labels: heedclassify gave no result.</p>\n");
    return;
  }
  g_string_append_printf (s,
                          "<svg class=\"labels\" viewBox=\"0 0 %d 34\" role=\"img\" "
                          "aria-label=\"the top label over time\">\n",
                          SVG_WIDTH);
  guint *count = g_new0 (guint, r->labels->len);
  for (guint i = 0; i < ax->n;) {
    guint j = i;
    while (j + 1 < ax->n && frames[j + 1].label == frames[i].label)
      j++;
    double x0 = frame_x (ax, &frames[i], i);
    double x1 = j + 1 < ax->n ? frame_x (ax, &frames[j + 1], j + 1) : PLOT_LEFT + PLOT_WIDTH;
    if (frames[i].label >= 0) {
      count[frames[i].label] += j - i + 1;
      g_string_append_printf (s, "<rect x=\"%.2f\" y=\"4\" width=\"%.2f\" height=\"26\" fill=\"",
                              x0, MAX (x1 - x0, 0.5));
      label_colour (s, frames[i].label);
      g_string_append_printf (s, "\"><title>frames %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT ": ",
                              frames[i].frame, frames[j].frame);
      append_escaped (s, g_ptr_array_index (r->labels, frames[i].label));
      g_string_append (s, "</title></rect>\n");
    }
    i = j + 1;
  }
  g_string_append (s, "</svg>\n<ul class=\"legend\">\n");
  /* the labels in order of the time they hold */
  guint *order = g_new (guint, r->labels->len);
  for (guint i = 0; i < r->labels->len; i++)
    order[i] = i;
  for (guint i = 1; i < r->labels->len; i++)
    for (guint j = i; j > 0 && count[order[j]] > count[order[j - 1]]; j--) {
      guint t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  for (guint i = 0; i < r->labels->len; i++) {
    g_string_append (s, "<li><span class=\"swatch\" style=\"background:");
    label_colour (s, order[i]);
    g_string_append (s, "\"></span>");
    append_escaped (s, g_ptr_array_index (r->labels, order[i]));
    g_string_append_printf (s, " <small>%.1f%%</small></li>\n", 100.0 * count[order[i]] / ax->n);
  }
  g_string_append (s, "</ul>\n");
  g_free (order);
  g_free (count);
}

static void
append_keyframes (GString *s, const HeedReport *r, const Axis *ax)
{
  const ReportFrame *frames = (const ReportFrame *) r->frames->data;
  g_string_append (s, "<div class=\"keyframes\">\n");
  for (guint i = 0; i < ax->n; i++) {
    const ReportFrame *f = &frames[i];
    if (!f->keyframe)
      continue;
    char *name = thumbnail_name (f->frame);
    g_string_append_printf (s, "<figure id=\"f%" G_GUINT64_FORMAT "\">", f->frame);
    if (g_hash_table_contains (r->thumbnails, &f->frame))
      g_string_append_printf (s,
                              "<a href=\"keyframes/%s\"><img src=\"keyframes/%s\" "
                              "alt=\"frame %" G_GUINT64_FORMAT "\"></a>",
                              name, name, f->frame);
    else
      g_string_append (s, "<div class=\"missing\">no thumbnail</div>");
    g_string_append (s, "<figcaption><b>");
    if (GST_CLOCK_TIME_IS_VALID (f->pts))
      format_clock (s, f->pts / 1e9, TRUE);
    g_string_append_printf (s,
                            "</b> frame %" G_GUINT64_FORMAT " &middot; %s &middot; "
                            "importance %.2f<br>",
                            f->frame, f->cause ? f->cause : "visual", f->importance);
    if (f->label >= 0) {
      g_string_append (s, "<span class=\"swatch\" style=\"background:");
      label_colour (s, f->label);
      g_string_append (s, "\"></span>");
      append_escaped (s, g_ptr_array_index (r->labels, f->label));
      g_string_append_printf (s, " (%.0f%%)", 100 * f->confidence);
    }
    g_string_append (s, "</figcaption></figure>\n");
    g_free (name);
  }
  g_string_append (s, "</div>\n");
}

static const char report_style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1f2937;background:#fafafa}"
    "h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}"
    ".meta{color:#4b5563;margin:0}.note{color:#4b5563}"
    "svg{width:100%;height:auto;background:#fff;border:1px solid #e5e7eb}"
    ".band{fill:#f8fafc;stroke:#e5e7eb}.grid{stroke:#eef0f3}.tick{font-size:11px;"
    "fill:#6b7280;text-anchor:middle}.axis{font-size:12px;fill:#374151}"
    ".threshold{stroke:#9ca3af;stroke-dasharray:4 3}line.key{stroke:#dc2626;stroke-width:1;"
    "opacity:.6}circle.key{fill:#dc2626}"
    ".legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:4px 16px}"
    ".swatch{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}"
    ".keyframes{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:12px}"
    "figure{margin:0;background:#fff;border:1px solid #e5e7eb;border-radius:6px;overflow:hidden}"
    "figure img{width:100%;display:block}figcaption{padding:6px 8px;font-size:12px}"
    ".missing{padding:40px;text-align:center;color:#9ca3af}";

/* Counts the thumbnails that loaded, for a check in a headless browser (tests/test_report.py)
 * and for anyone who opens the console; the page works without it. */
static const char report_script[] =
    "window.addEventListener('load',function(){var im=document.images,n=0;"
    "for(var i=0;i<im.length;i++)if(im[i].complete&&im[i].naturalWidth>0)n++;"
    "document.body.setAttribute('data-images-loaded',n+'/'+im.length);});";

gboolean
heed_report_write (HeedReport *r, const HeedReportSummary *sum, GError **error)
{
  g_mutex_lock (&r->lock);
  if (r->write_error) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "the report's thumbnails: %s",
                 r->write_error);
    g_mutex_unlock (&r->lock);
    return FALSE;
  }
  const ReportFrame *frames = (const ReportFrame *) r->frames->data;
  Axis ax = { 0, 0, r->frames->len > 1, r->frames->len };
  guint keys = 0;
  for (guint i = 0; i < ax.n; i++) {
    ax.by_time &= GST_CLOCK_TIME_IS_VALID (frames[i].pts);
    keys += frames[i].keyframe;
  }
  if (ax.by_time) {
    ax.origin = frames[0].pts;
    ax.span = frames[ax.n - 1].pts > ax.origin ? frames[ax.n - 1].pts - ax.origin : 0;
    ax.by_time = ax.span > 0;
  }

  GString *s = g_string_new ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                             "<meta name=\"viewport\" content=\"width=device-width\">\n<title>");
  /* the page is UTF-8: a name that is not gets U+FFFD for the bytes that cannot be read */
  char *base = g_filename_display_basename (sum->input);
  g_string_append (s, "heed: ");
  append_escaped (s, base);
  g_string_append_printf (s,
                          "</title>\n<style>%s</style>\n<script>%s</script>\n</head>\n<body>\n"
                          "<h1>Keyframes of ",
                          report_style, report_script);
  append_escaped (s, base);
  g_string_append_printf (s, "</h1>\n<p class=\"meta\">%u frames", ax.n);
  if (ax.by_time) {
    /* from the first frame's start to the last one's end */
    GstClockTime last = frames[ax.n - 1].duration;
    g_string_append (s, ", ");
    format_clock (s, (ax.span + (GST_CLOCK_TIME_IS_VALID (last) ? last : 0)) / 1e9, TRUE);
  }
  g_string_append_printf (s, " &middot; %u keyframes &middot; %s &middot; labels from ", keys,
                          sum->sound ? "with its sound" : "no sound");
  char *model = g_utf8_make_valid (sum->model, -1);
  append_escaped (s, model);
  g_free (model);
  g_string_append_printf (s, "%s</p>\n",
                          sum->interrupted ? " &middot; <b>interrupted</b>: "
                                             "the frames annotated before Ctrl-C"
                                           : "");
  if (ax.n == 0)
    g_string_append (s, "<p class=\"note\">No frame was annotated.</p>\n");
  else {
    g_string_append_printf (s,
                            "<h2>Importance over time</h2>\n<p class=\"note\">heedkeyframe's "
                            "importance (blue; dashed: its threshold, %.2f), the sound's novelty "
                            "(orange, scaled to its largest) and the keyframes (red; each links to "
                            "its thumbnail below).</p>\n",
                            sum->threshold);
    append_timeline (s, r, &ax, sum);
    g_string_append (s, "<h2>Label over time</h2>\n");
    append_label_track (s, r, &ax);
    g_string_append (s, "<h2>Keyframes</h2>\n");
    append_keyframes (s, r, &ax);
  }
  g_string_append (s, "</body></html>\n");
  g_mutex_unlock (&r->lock);

  char *path = g_build_filename (r->dir, "index.html", NULL);
  gboolean ok = g_file_set_contents (path, s->str, s->len, error);
  g_free (path);
  g_free (base);
  g_string_free (s, TRUE);
  return ok;
}
