/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* heedoverlay: pixels of the heatmap and the label box against values known without heed,
 * UTF-8 text, every format in system memory and Vulkan memory, overlays that persist between
 * inferences, temporal smoothing, passthrough without metadata, and golden images (the
 * screenshots in docs/images, remade by HEED_UPDATE_GOLDEN=1), and metas an application made
 * wrong (with heedjson after it). Under the validation layer. */
#include "test-gst-common.h"

#include <fontconfig/fontconfig.h>
#include <json-glib/json-glib.h>

#include <gst/video/video.h>

#include <glib/gstdio.h>
#include <math.h>

static const char *source_root;

/* Attaches a HeedClassificationMeta like heedclassify's: labels and confidences, and an
 * attention grid when att is not NULL. */
static void
add_result (GstBuffer *buf, const char *const *labels, const double *confs, guint n,
            const float *att, guint gw, guint gh)
{
  GstCustomMeta *meta = gst_buffer_add_custom_meta (buf, "HeedClassificationMeta");
  g_assert_nonnull (meta);
  GstStructure *s = gst_custom_meta_get_structure (meta);
  GValue la = G_VALUE_INIT, ca = G_VALUE_INIT;
  g_value_init (&la, GST_TYPE_ARRAY);
  g_value_init (&ca, GST_TYPE_ARRAY);
  for (guint i = 0; i < n; i++) {
    GValue v = G_VALUE_INIT;
    g_value_init (&v, G_TYPE_STRING);
    g_value_set_string (&v, labels[i]);
    gst_value_array_append_and_take_value (&la, &v);
    g_value_init (&v, G_TYPE_DOUBLE);
    g_value_set_double (&v, confs[i]);
    gst_value_array_append_and_take_value (&ca, &v);
  }
  gst_structure_take_value (s, "labels", &la);
  gst_structure_take_value (s, "confidences", &ca);
  gst_structure_set (s, "resize", G_TYPE_STRING, "stretch", NULL);
  if (att) {
    GBytes *b = g_bytes_new (att, (gsize) gw * gh * sizeof (float));
    gst_structure_set (s, "attention", G_TYPE_BYTES, b, "attention-width", G_TYPE_UINT, gw,
                       "attention-height", G_TYPE_UINT, gh, NULL);
    g_bytes_unref (b);
  }
}

/* A w x h RGBA frame of one colour. */
static GstBuffer *
flat_rgba (guint w, guint h, guint8 r, guint8 g, guint8 b)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, (gsize) w * h * 4, NULL);
  GstMapInfo map;
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  for (gsize i = 0; i < (gsize) w * h; i++)
    map.data[4 * i] = r, map.data[4 * i + 1] = g, map.data[4 * i + 2] = b,
                 map.data[4 * i + 3] = 255;
  gst_buffer_unmap (buf, &map);
  return buf;
}

static char *
rgba_caps (guint w, guint h)
{
  return g_strdup_printf ("video/x-raw,format=RGBA,width=%u,height=%u,framerate=30/1", w, h);
}

/* A buffer's bytes; takes the buffer. */
static GBytes *
take_bytes (GstBuffer *buf)
{
  GstMapInfo map;
  gst_buffer_map (buf, &map, GST_MAP_READ);
  GBytes *bytes = g_bytes_new (map.data, map.size);
  gst_buffer_unmap (buf, &map);
  gst_buffer_unref (buf);
  return bytes;
}

/* Pushes one buffer through a fresh harness and returns its output's bytes. */
static GBytes *
overlay_once (const char *caps, const char *props, GstBuffer *in, guint *warnings)
{
  GstHarness *h = element_harness ("heedoverlay", caps, props);
  g_assert_cmpint (gst_harness_push (h, in), ==, GST_FLOW_OK);
  GBytes *bytes = take_bytes (gst_harness_pull (h));
  if (warnings) {
    *warnings = 0;
    GstBus *bus = gst_element_get_bus (h->element);
    GstMessage *m;
    while ((m = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING | GST_MESSAGE_ERROR))) {
      *warnings += 1;
      gst_message_unref (m);
    }
    gst_object_unref (bus);
  }
  gst_harness_teardown (h);
  return bytes;
}

static const guint8 *
px (GBytes *b, guint w, guint x, guint y)
{
  return (const guint8 *) g_bytes_get_data (b, NULL) + 4 * ((gsize) y * w + x);
}

/* Without metadata the frame passes untouched, in the harness and in a real pipeline with no
 * heed element upstream. */
static void
test_passthrough (void)
{
  char *caps = rgba_caps (33, 17);
  GstBuffer *in = flat_rgba (33, 17, 1, 2, 3);
  GstMapInfo map;
  gst_buffer_map (in, &map, GST_MAP_WRITE);
  for (gsize i = 0; i < map.size; i++)
    map.data[i] = (guint8) (i * 7919 >> 3);
  GBytes *want = g_bytes_new (map.data, map.size);
  gst_buffer_unmap (in, &map);
  GBytes *got = overlay_once (caps, NULL, in, NULL);
  g_assert_true (g_bytes_equal (got, want));
  g_bytes_unref (got), g_bytes_unref (want);
  g_free (caps);
  char *err = run_pipeline ("videotestsrc num-buffers=5 ! video/x-raw,format=I420,width=63,"
                            "height=47 ! heedoverlay ! fakesink",
                            NULL);
  g_assert_null (err);
}

/* The heatmap at the centre of the most attended cell is the colormap's last colour blended at
 * heatmap-opacity, at the least attended cell its first colour: checked against matplotlib's
 * (and Google's turbo) published end colours, for every colormap, in RGBA and BGRx. */
static void
test_heatmap_ends (void)
{
  const struct {
    const char *name;
    guint8 lo[3], hi[3];
  } maps[] = {
    { "inferno", { 0, 0, 4 }, { 252, 255, 164 } }, { "viridis", { 68, 1, 84 }, { 253, 231, 37 } },
    { "turbo", { 48, 18, 59 }, { 122, 4, 3 } },    { "jet", { 0, 0, 128 }, { 128, 0, 0 } },
    { "gray", { 0, 0, 0 }, { 255, 255, 255 } },
  };
  /* 60 x 60 frame, 4 x 4 grid: cells are 15 pixels, so pixel 37's centre is cell 2's */
  float att[16];
  for (guint i = 0; i < 16; i++)
    att[i] = 0.05f;
  att[1 * 4 + 2] = 0.3f;  /* peak: column 2, row 1 -> pixel (37, 22) */
  att[3 * 4 + 0] = 0.01f; /* minimum: column 0, row 3 -> pixel (7, 52) */
  const double opacity = 0.6, base = 100;
  for (guint m = 0; m < G_N_ELEMENTS (maps); m++)
    for (guint bgrx = 0; bgrx < 2; bgrx++) {
      char *caps = g_strdup_printf ("video/x-raw,format=%s,width=60,height=60,framerate=30/1",
                                    bgrx ? "BGRx" : "RGBA");
      char *props = g_strdup_printf ("show-labels=false smoothing=0 heatmap-opacity=%g colormap=%s",
                                     opacity, maps[m].name);
      GstBuffer *in = flat_rgba (60, 60, 100, 100, 100);
      add_result (in, NULL, NULL, 0, att, 4, 4);
      GBytes *out = overlay_once (caps, props, in, NULL);
      const guint8 *hi = px (out, 60, 37, 22), *lo = px (out, 60, 7, 52);
      for (guint ch = 0; ch < 3; ch++) {
        guint at = bgrx ? 2 - ch : ch;
        double want_hi = base * (1 - opacity) + opacity * maps[m].hi[ch];
        double want_lo = base * (1 - opacity) + opacity * maps[m].lo[ch];
        /* the fits are within 5 steps of the published tables: 3 after blending, plus rounding */
        if (fabs (hi[at] - want_hi) > 4.0 || fabs (lo[at] - want_lo) > 4.0)
          g_error ("%s %s channel %u: peak %u (want %.1f), minimum %u (want %.1f)", maps[m].name,
                   bgrx ? "BGRx" : "RGBA", ch, hi[at], want_hi, lo[at], want_lo);
      }
      g_bytes_unref (out);
      g_free (caps), g_free (props);
    }
}

typedef struct {
  gint x0, y0, x1, y1; /* inclusive; x0 > x1 when empty */
} Rect;

static void
rect_add (Rect *r, gint x, gint y)
{
  r->x0 = MIN (r->x0, x), r->y0 = MIN (r->y0, y);
  r->x1 = MAX (r->x1, x), r->y1 = MAX (r->y1, y);
}

/* The pixels of the box colour, and the text pixels (changed, not the box colour), of an RGBA
 * frame drawn over a flat background. */
static void
find_box_and_text (GBytes *out, guint w, guint h, const guint8 bg[3], const guint8 box[3],
                   Rect *box_rect, Rect *changed_rect, Rect *text_rect, guint *text_pixels)
{
  *box_rect = *changed_rect = *text_rect = (Rect){ G_MAXINT, G_MAXINT, -1, -1 };
  *text_pixels = 0;
  for (guint y = 0; y < h; y++)
    for (guint x = 0; x < w; x++) {
      const guint8 *p = px (out, w, x, y);
      gboolean is_bg = p[0] == bg[0] && p[1] == bg[1] && p[2] == bg[2];
      gboolean is_box = p[0] == box[0] && p[1] == box[1] && p[2] == box[2];
      if (is_box)
        rect_add (box_rect, (gint) x, (gint) y);
      if (!is_bg)
        rect_add (changed_rect, (gint) x, (gint) y);
      if (!is_bg && !is_box) {
        rect_add (text_rect, (gint) x, (gint) y);
        *text_pixels += 1;
      }
    }
}

/* The label box covers every pixel the text touched, sits in the corner label-position names,
 * and is as tall as the font size asks. */
static void
test_label_box (void)
{
  const char *positions[] = { "top-left", "top-right", "bottom-left", "bottom-right" };
  const char *labels[] = { "ball", "bar" };
  const double confs[] = { 0.97, 0.02 };
  const guint8 bg[3] = { 40, 80, 120 }, box[3] = { 0, 0, 255 };
  const guint w = 200, h = 120;
  char *caps = rgba_caps (w, h);
  for (guint p = 0; p < G_N_ELEMENTS (positions); p++) {
    char *props = g_strdup_printf ("box-color=0xff0000ff text-color=0xffffffff font-size=20 "
                                   "max-labels=2 label-position=%s",
                                   positions[p]);
    GstBuffer *in = flat_rgba (w, h, bg[0], bg[1], bg[2]);
    add_result (in, labels, confs, 2, NULL, 0, 0);
    GBytes *out = overlay_once (caps, props, in, NULL);
    Rect b, changed, text;
    guint text_pixels;
    find_box_and_text (out, w, h, bg, box, &b, &changed, &text, &text_pixels);
    g_test_message ("%s: box %d,%d-%d,%d, text %d,%d-%d,%d (%u pixels)", positions[p], b.x0, b.y0,
                    b.x1, b.y1, text.x0, text.y0, text.x1, text.y1, text_pixels);
    g_assert_cmpuint (text_pixels, >, 100);
    /* the box covers the text: nothing changed outside the box's rectangle */
    g_assert_cmpint (changed.x0, ==, b.x0);
    g_assert_cmpint (changed.y0, ==, b.y0);
    g_assert_cmpint (changed.x1, ==, b.x1);
    g_assert_cmpint (changed.y1, ==, b.y1);
    g_assert_cmpint (text.x0, >, b.x0);
    g_assert_cmpint (text.x1, <, b.x1);
    g_assert_cmpint (text.y0, >, b.y0);
    g_assert_cmpint (text.y1, <, b.y1);
    /* two lines of 20-pixel text */
    g_assert_cmpint (b.y1 - b.y0 + 1, >=, 40);
    g_assert_cmpint (b.y1 - b.y0 + 1, <=, 70);
    g_assert_cmpint (text.y1 - text.y0 + 1, >=, 25);
    gboolean right = p % 2 == 1, bottom = p >= 2;
    g_assert_cmpint (right ? (gint) w - 1 - b.x1 : b.x0, <=, 10);
    g_assert_cmpint (bottom ? (gint) h - 1 - b.y1 : b.y0, <=, 10);
    g_assert_cmpint (right ? b.x0 : (gint) w - 1 - b.x1, >, 60);
    g_bytes_unref (out);
    g_free (props);
  }
  g_free (caps);
}

/* Two heedclassify upstream (two models in a row) put two results on a frame: the box holds
 * both one's lines and the other's, below them after a blank line, where it held one's alone. */
static void
test_two_classifiers (void)
{
  const char *first[] = { "ball", "bar" }, *second[] = { "cat", "dog" };
  const double confs[] = { 0.97, 0.02 };
  const guint8 bg[3] = { 40, 80, 120 }, box[3] = { 0, 0, 255 };
  const guint w = 200, h = 160;
  char *caps = rgba_caps (w, h);
  const char *props = "box-color=0xff0000ff text-color=0xffffffff font-size=20 max-labels=2";
  Rect boxes[2];
  guint ink[2];
  for (guint n = 1; n <= 2; n++) {
    GstBuffer *in = flat_rgba (w, h, bg[0], bg[1], bg[2]);
    add_result (in, first, confs, 2, NULL, 0, 0);
    if (n == 2)
      add_result (in, second, confs, 2, NULL, 0, 0);
    GBytes *out = overlay_once (caps, props, in, NULL);
    Rect changed, text;
    find_box_and_text (out, w, h, bg, box, &boxes[n - 1], &changed, &text, &ink[n - 1]);
    g_test_message ("%u result(s): box %d,%d-%d,%d, %u text pixels", n, boxes[n - 1].x0,
                    boxes[n - 1].y0, boxes[n - 1].x1, boxes[n - 1].y1, ink[n - 1]);
    g_bytes_unref (out);
  }
  /* the same corner; three more lines of 20-pixel text (a blank one, then two) */
  g_assert_cmpint (boxes[1].x0, ==, boxes[0].x0);
  g_assert_cmpint (boxes[1].y0, ==, boxes[0].y0);
  g_assert_cmpint (boxes[1].y1 - boxes[0].y1, >=, 50);
  g_assert_cmpint (boxes[1].y1 - boxes[0].y1, <=, 80);
  g_assert_cmpuint (ink[1], >, ink[0] * 3 / 2);
  g_free (caps);
}

/* Five frames through heedoverlay ! heedjson (lines to path), each with a meta an application
 * made: fields of the wrong types; a grid of 1000 x 1000 in 16 bytes with labels whose
 * confidences are fewer and text; odd values over the whole frame; the same over a region of NaN
 * and 1e30; then good values. The frames out, in outs. */
static void
push_application_metas (const char *path, const float odd[4], GBytes *outs[5])
{
  char *launch = g_strdup_printf ("heedoverlay ! heedjson attention-map=true location=%s", path);
  GstHarness *h = gst_harness_new_parse (launch);
  char *caps = rgba_caps (64, 48);
  gst_harness_set_src_caps_str (h, caps);
  const float fine[4] = { 0.1f, 0.2f, 0.3f, 0.4f };
  for (guint i = 0; i < 5; i++) {
    GstBuffer *in = flat_rgba (64, 48, 40, 80, 120);
    GstStructure *s =
        gst_custom_meta_get_structure (gst_buffer_add_custom_meta (in, "HeedClassificationMeta"));
    GBytes *grid = g_bytes_new (i == 4 ? fine : odd, 4 * sizeof (float));
    if (i == 0)
      gst_structure_set (s, "labels", G_TYPE_STRING, "not a list", "confidences", G_TYPE_INT, 5,
                         "attention", G_TYPE_STRING, "x", "attention-width", G_TYPE_INT, -1,
                         "region-x", G_TYPE_STRING, "left", "inferred", G_TYPE_STRING, "yes", NULL);
    else if (i == 1)
      gst_structure_set (s, "attention", G_TYPE_BYTES, grid, "attention-width", G_TYPE_UINT, 1000,
                         "attention-height", G_TYPE_UINT, 1000, NULL);
    else
      gst_structure_set (s, "attention", G_TYPE_BYTES, grid, "attention-width", G_TYPE_UINT, 2,
                         "attention-height", G_TYPE_UINT, 2, "region-x", G_TYPE_DOUBLE,
                         i == 3 ? NAN : 0.0, "region-width", G_TYPE_DOUBLE, i == 3 ? 1e30 : 1.0,
                         "attention-peak-x", G_TYPE_DOUBLE, (double) INFINITY, "attention-peak-y",
                         G_TYPE_DOUBLE, 1e30, NULL);
    g_bytes_unref (grid);
    if (i == 1) {
      GValue la = G_VALUE_INIT, ca = G_VALUE_INIT, v = G_VALUE_INIT;
      g_value_init (&la, GST_TYPE_ARRAY), g_value_init (&ca, GST_TYPE_ARRAY);
      for (guint k = 0; k < 3; k++) {
        g_value_init (&v, G_TYPE_STRING);
        g_value_set_string (&v, "cat");
        gst_value_array_append_and_take_value (&la, &v);
      }
      g_value_init (&v, G_TYPE_STRING);
      g_value_set_string (&v, "high");
      gst_value_array_append_and_take_value (&ca, &v);
      gst_structure_take_value (s, "labels", &la);
      gst_structure_take_value (s, "confidences", &ca);
    }
    g_assert_cmpint (gst_harness_push (h, in), ==, GST_FLOW_OK);
    outs[i] = take_bytes (gst_harness_pull (h));
  }
  gst_harness_teardown (h);
  g_free (caps), g_free (launch);
}

/* Metas an application made (push_application_metas): heedoverlay draws what it can, a NaN or
 * an infinity in the attention taken as 0, so that it does not stay in the smoothing for good
 * nor become an index in the shader: every frame as from the same metas with 0 there. heedjson
 * writes every line as JSON, null for what is no number (json-glib writes nan.0 and 1e+30.0). No
 * critical warning (the tests run with them fatal). */
static void
test_application_metas (void)
{
  char *dir = g_dir_make_tmp ("heed-app-metas-XXXXXX", NULL);
  char *path = g_build_filename (dir, "lines.jsonl", NULL);
  char *zeros_path = g_build_filename (dir, "zeros.jsonl", NULL);
  const float odd[4] = { NAN, INFINITY, -1.0f, 1e30f }, zeros[4] = { 0.0f, 0.0f, -1.0f, 1e30f };
  GBytes *outs[5], *zero_outs[5];
  push_application_metas (path, odd, outs);
  push_application_metas (zeros_path, zeros, zero_outs);
  GBytes *plain = take_bytes (flat_rgba (64, 48, 40, 80, 120));
  g_assert_false (g_bytes_equal (outs[4], plain)); /* the good values drawn */
  for (guint i = 0; i < 5; i++) {
    g_assert_true (g_bytes_equal (outs[i], zero_outs[i]));
    g_bytes_unref (outs[i]), g_bytes_unref (zero_outs[i]);
  }
  g_bytes_unref (plain);

  char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  char **lines = g_strsplit (text, "\n", -1);
  guint n = 0;
  for (char **l = lines; *l && **l; l++, n++) {
    JsonParser *p = json_parser_new ();
    GError *error = NULL;
    if (!json_parser_load_from_data (p, *l, -1, &error))
      g_error ("line %u is not JSON (%s): %s", n, error->message, *l);
    g_assert_null (strstr (*l, "nan"));
    g_assert_null (strstr (*l, "inf"));
    g_object_unref (p);
  }
  g_assert_cmpuint (n, ==, 5);
  /* the NaN and the infinity null, -1 kept, 1e30 a number */
  g_assert_nonnull (strstr (lines[2], "\"data\":[null,null,-1.0,1.0000000150474662e+30]"));
  g_strfreev (lines);
  g_free (text);
  g_unlink (path), g_unlink (zeros_path);
  g_rmdir (dir);
  g_free (path), g_free (zeros_path), g_free (dir);
}

/* UTF-8 labels render as glyphs: Chinese (fonts-noto-cjk) and Arabic (DejaVu) draw ink with no
 * warning; a character no font has is reported with a warning naming the package (it is drawn
 * as a box). */
static void
test_utf8_labels (void)
{
  const struct {
    const char *text;
    gboolean covered;
  } cases[] = {
    { "球", TRUE },                /* ball, Chinese */
    { "كرة", TRUE },               /* ball, Arabic */
    { "\xf4\x8f\xbf\xbd", FALSE }, /* U+10FFFD, private use: no font has it */
  };
  const guint8 bg[3] = { 40, 80, 120 }, box[3] = { 0, 0, 0 };
  char *caps = rgba_caps (120, 60);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    const double conf = 0.9;
    GstBuffer *in = flat_rgba (120, 60, bg[0], bg[1], bg[2]);
    add_result (in, &cases[i].text, &conf, 1, NULL, 0, 0);
    guint warnings;
    GBytes *out = overlay_once (caps, "box-color=0xff000000 font-size=24", in, &warnings);
    Rect b, changed, text;
    guint text_pixels;
    find_box_and_text (out, 120, 60, bg, box, &b, &changed, &text, &text_pixels);
    g_test_message ("\"%s\": %u text pixels, %u warnings", cases[i].text, text_pixels, warnings);
    g_assert_cmpuint (text_pixels, >, 60);
    g_assert_cmpuint (warnings, ==, cases[i].covered ? 0 : 1);
    g_bytes_unref (out);
  }
  g_free (caps);
}

/* heatmap-mode=mask draws only the patches holding mask-mass of the attention. */
static void
test_mask (void)
{
  float att[16];
  for (guint i = 0; i < 16; i++)
    att[i] = 0.4f / 15;
  att[5] = 0.6f; /* column 1, row 1: alone it holds 60% */
  GstBuffer *in = flat_rgba (60, 60, 100, 100, 100);
  add_result (in, NULL, NULL, 0, att, 4, 4);
  char *caps = rgba_caps (60, 60);
  GBytes *out = overlay_once (caps, "show-labels=false heatmap-mode=mask mask-mass=0.5 smoothing=0",
                              in, NULL);
  g_assert_cmpuint (px (out, 60, 22, 22)[0], !=, 100); /* the kept patch's centre */
  for (guint y = 0; y < 60; y++)
    for (guint x = 0; x < 60; x++)
      if (x >= 45 || y >= 45) /* over a cell away: untouched */
        g_assert_cmpuint (px (out, 60, x, y)[1], ==, 100);
  g_bytes_unref (out);
  g_free (caps);
}

/* Attention that flickers between two maps on a still frame: smoothing calms the drawn map. */
static double
flicker (const char *props)
{
  char *caps = rgba_caps (60, 60);
  GstHarness *h = element_harness ("heedoverlay", caps, props);
  float a[16], b[16];
  for (guint i = 0; i < 16; i++)
    a[i] = b[i] = 1.0f / 16;
  a[5] += 0.05f, b[10] += 0.05f;
  double total = 0;
  GBytes *prev = NULL;
  for (guint f = 0; f < 20; f++) {
    GstBuffer *in = flat_rgba (60, 60, 100, 100, 100);
    add_result (in, NULL, NULL, 0, f % 2 ? a : b, 4, 4);
    g_assert_cmpint (gst_harness_push (h, in), ==, GST_FLOW_OK);
    GBytes *cur = take_bytes (gst_harness_pull (h));
    if (prev && f >= 10) {
      const guint8 *p = g_bytes_get_data (prev, NULL), *c = g_bytes_get_data (cur, NULL);
      for (gsize i = 0; i < g_bytes_get_size (cur); i++)
        total += abs ((int) p[i] - (int) c[i]);
    }
    if (prev)
      g_bytes_unref (prev);
    prev = cur;
  }
  g_bytes_unref (prev);
  gst_harness_teardown (h);
  g_free (caps);
  return total;
}

static void
test_smoothing (void)
{
  double raw = flicker ("show-labels=false smoothing=0");
  double smooth = flicker ("show-labels=false smoothing=0.8");
  g_test_message ("frame-to-frame change: %.0f without smoothing, %.0f with 0.8", raw, smooth);
  g_assert_cmpfloat (raw, >, 0);
  g_assert_cmpfloat (smooth, <, 0.3 * raw);
}

/* Every format heedclassify takes, odd sizes: the overlay drawn in the frame's own format,
 * converted to RGBA, matches the overlay drawn on RGBA (the same frames, results and layers),
 * up to chroma subsampling at edges. */
static void
test_formats (void)
{
  const char *formats[] = { "RGBA", "BGRA", "RGBx", "BGRx", "xRGB", "xBGR",
                            "RGB",  "BGR",  "I420", "NV12", "YUY2", "GRAY8" };
  const guint sizes[][2] = { { 33, 17 }, { 160, 90 } };
  char *dir = g_dir_make_tmp ("heed-overlay-XXXXXX", NULL);
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
    guint w = sizes[s][0], h = sizes[s][1];
    guint8 *ref = NULL;
    for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
      char *path = g_build_filename (dir, "out.raw", NULL);
      gboolean gray = g_str_equal (formats[f], "GRAY8");
      /* frames converted once to RGBA first, so every format starts from the same picture */
      char *pipe = g_strdup_printf (
          "videotestsrc num-buffers=3 pattern=ball ! video/x-raw,format=RGBA,width=%u,height=%u "
          "! heedclassify ! videoconvert ! video/x-raw,format=%s ! heedoverlay font-size=8 "
          "heatmap-opacity=0.7 ! videoconvert ! video/x-raw,format=%s ! filesink location=%s",
          w, h, gray ? "GRAY8" : formats[f], gray ? "GRAY8" : "RGBA", path);
      char *err = run_pipeline (pipe, NULL);
      g_assert_null (err);
      gsize frame = gray ? (gsize) GST_ROUND_UP_4 (w) * h : (gsize) w * h * 4;
      if (gray) { /* against the luma of the RGBA result */
        guint8 *out = read_raw (path, 3 * frame);
        guint stride = GST_ROUND_UP_4 (w);
        double sum = 0;
        for (guint f3 = 0; f3 < 3; f3++)
          for (guint y = 0; y < h; y++)
            for (guint x = 0; x < w; x++) {
              const guint8 *c = ref + 4 * ((gsize) f3 * w * h + (gsize) y * w + x);
              double luma = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
              sum += fabs (out[(gsize) f3 * stride * h + (gsize) y * stride + x] - luma);
            }
        double mean = sum / (3.0 * w * h);
        g_test_message ("GRAY8 %ux%u: mean difference from the RGBA result's luma %.2f", w, h,
                        mean);
        if (mean > 4.0)
          g_error ("GRAY8 %ux%u differs from the RGBA result's luma: mean %.2f", w, h, mean);
        g_free (out);
      } else {
        guint8 *out = read_raw (path, 3 * frame);
        if (!ref) {
          ref = out;
        } else {
          double sum = 0;
          guint far = 0;
          for (gsize i = 0; i < 3 * frame; i++) {
            if (i % 4 == 3)
              continue;
            int d = abs ((int) out[i] - (int) ref[i]);
            sum += d;
            far += d > 40;
          }
          double mean = sum / (3 * frame * 3 / 4);
          g_test_message ("%s %ux%u: mean difference %.2f, %u values off by more than 40",
                          formats[f], w, h, mean, far);
          if (mean > 3.0 || far > 3 * frame / 50)
            g_error ("%s %ux%u differs from RGBA: mean %.2f, %u far", formats[f], w, h, mean, far);
          g_free (out);
        }
      }
      g_unlink (path);
      g_free (path), g_free (pipe);
    }
    g_free (ref);
  }
  g_rmdir (dir);
  g_free (dir);
  g_assert_cmpint (g_atomic_int_get (&validation_messages), ==, 0);
}

/* The overlay is drawn on every frame, carried-forward results included: with inference every
 * 4th frame, every frame still differs from the frame without the overlay. */
static void
test_persists_between_inferences (void)
{
  char *dir = g_dir_make_tmp ("heed-overlay-XXXXXX", NULL);
  char *a = g_build_filename (dir, "a.raw", NULL), *b = g_build_filename (dir, "b.raw", NULL);
  const char *src = "videotestsrc num-buffers=9 pattern=ball ! video/x-raw,format=RGBA,width=64,"
                    "height=48 ! heedclassify inference-interval=4";
  char *p1 = g_strdup_printf ("%s ! heedoverlay ! filesink location=%s", src, a);
  char *p2 = g_strdup_printf ("%s ! filesink location=%s", src, b);
  g_assert_null (run_pipeline (p1, NULL));
  g_assert_null (run_pipeline (p2, NULL));
  gsize frame = 64 * 48 * 4;
  guint8 *da = read_raw (a, 9 * frame), *db = read_raw (b, 9 * frame);
  for (guint f = 0; f < 9; f++) {
    guint changed = 0;
    for (gsize i = 0; i < frame; i++)
      changed += da[f * frame + i] != db[f * frame + i];
    g_test_message ("frame %u: %u bytes drawn", f, changed);
    g_assert_cmpuint (changed, >, frame / 20);
  }
  g_unlink (a), g_unlink (b), g_rmdir (dir);
  g_free (da), g_free (db), g_free (a), g_free (b), g_free (p1), g_free (p2), g_free (dir);
}

/* Vulkan memory (vulkanupload) gives the same pixels as system memory, with the validation
 * layer on GStreamer's instance; and a frame shared through a tee is not drawn on for the
 * other branch. */
static void
test_vulkan_memory (void)
{
  /* even sizes for YUV: GStreamer 1.22's own upload changes odd-sized NV12/I420 chroma */
  const struct {
    const char *format, *feature;
    guint w, h;
  } cases[] = { { "RGBA", "VulkanImage", 161, 121 },
                { "NV12", "VulkanImage", 160, 120 },
                { "I420", "VulkanImage", 160, 120 },
                { "RGBA", "VulkanBuffer", 161, 121 } };
  char *dir = g_dir_make_tmp ("heed-overlay-vk-XXXXXX", NULL);
  char *a = g_build_filename (dir, "sys.raw", NULL), *b = g_build_filename (dir, "vk.raw", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    char *src = g_strdup_printf ("videotestsrc num-buffers=2 pattern=ball ! "
                                 "video/x-raw,format=%s,width=%u,height=%u",
                                 cases[i].format, cases[i].w, cases[i].h);
    char *sys = g_strdup_printf ("%s ! heedclassify ! heedoverlay ! filesink location=%s", src, a);
    /* vulkandownload takes images: buffers are uploaded to an image first */
    gboolean buffer = g_str_equal (cases[i].feature, "VulkanBuffer");
    char *vk = g_strdup_printf ("%s ! vulkanupload ! video/x-raw(memory:%s) ! heedclassify ! "
                                "heedoverlay ! %s vulkandownload ! video/x-raw,format=%s ! "
                                "filesink location=%s",
                                src, cases[i].feature,
                                buffer ? "vulkanupload ! video/x-raw(memory:VulkanImage) !" : "",
                                cases[i].format, b);
    g_free (launch_validated (sys));
    g_free (launch_validated (vk));
    gchar *da, *db;
    gsize na, nb;
    g_assert_true (g_file_get_contents (a, &da, &na, NULL));
    g_assert_true (g_file_get_contents (b, &db, &nb, NULL));
    g_test_message ("%s in %s: %" G_GSIZE_FORMAT " bytes from system memory, %" G_GSIZE_FORMAT
                    " from Vulkan memory",
                    cases[i].format, cases[i].feature, na, nb);
    g_assert_cmpmem (da, na, db, nb);
    g_free (da), g_free (db), g_free (src), g_free (sys), g_free (vk);
  }

  /* A tee: the frame is shared, so the overlay draws into new memory. The other branch waits
   * before it downloads, so the overlay has drawn by then: it must still see the plain frame.
   * (A vulkandownload in each branch trips GStreamer 1.22's own validation, so each run
   * downloads one branch.) The wait orders two threads that both read the shared image, whose
   * layout record GStreamer 1.22 does not guard: 300 ms was not always enough on a loaded
   * 2-core machine (the overlay's first frame builds its pipeline under the validation layer;
   * 2 of 6 runs beside two busy loops reported a layout race), so it is 2 s. */
  char *c = g_build_filename (dir, "plain.raw", NULL),
       *d = g_build_filename (dir, "drawn.raw", NULL);
  const char *src = "videotestsrc num-buffers=2 pattern=ball ! video/x-raw,format=RGBA,width=96,"
                    "height=64 ! vulkanupload ! video/x-raw(memory:VulkanImage) ! heedclassify";
  char *plain = g_strdup_printf ("%s ! vulkandownload ! filesink location=%s", src, c);
  char *drawn =
      g_strdup_printf ("%s ! heedoverlay ! vulkandownload ! filesink location=%s", src, d);
  char *other = g_strdup_printf ("%s ! tee name=t t. ! queue ! heedoverlay ! fakesink t. ! queue "
                                 "! identity sleep-time=2000000 ! vulkandownload ! filesink "
                                 "location=%s",
                                 src, b);
  /* the other branch holds the frame (sleeping) while the overlay draws */
  char *held = g_strdup_printf ("%s ! tee name=t t. ! queue ! identity sleep-time=200000 ! "
                                "fakesink t. ! heedoverlay ! vulkandownload ! filesink location=%s",
                                src, a);
  char *pipes[] = { plain, drawn, other, held };
  for (guint i = 0; i < G_N_ELEMENTS (pipes); i++)
    g_free (launch_validated (pipes[i]));
  gsize frames = 2 * 96 * 64 * 4;
  guint8 *want_plain = read_raw (c, frames), *want_drawn = read_raw (d, frames);
  guint8 *got_other = read_raw (b, frames), *got_held = read_raw (a, frames);
  g_assert_cmpmem (got_other, frames, want_plain, frames);
  g_assert_cmpmem (got_held, frames, want_drawn, frames);
  g_assert_true (memcmp (want_drawn, want_plain, frames) != 0);
  for (guint i = 0; i < G_N_ELEMENTS (pipes); i++)
    g_free (pipes[i]);
  g_free (want_plain), g_free (want_drawn), g_free (got_other), g_free (got_held);
  g_unlink (a), g_unlink (b), g_unlink (c), g_unlink (d), g_rmdir (dir);
  g_free (a), g_free (b), g_free (c), g_free (d), g_free (dir);
}

/* A caps change mid-stream (RGBA 64x48 to I420 63x47) is drawn in the new format; without a
 * Vulkan driver the element fails with a message naming the package. */
static void
test_renegotiation_and_no_driver (void)
{
  float att[16];
  for (guint i = 0; i < 16; i++)
    att[i] = i == 5 ? 0.5f : 0.5f / 15;
  GstHarness *h = element_harness ("heedoverlay",
                                   "video/x-raw,format=RGBA,width=64,height=48,"
                                   "framerate=30/1",
                                   "show-labels=false smoothing=0");
  const struct {
    const char *caps;
    gsize size;
  } steps[] = { { "video/x-raw,format=RGBA,width=64,height=48,framerate=30/1", 64 * 48 * 4 },
                { "video/x-raw,format=I420,width=63,height=47,framerate=30/1", 0 } };
  for (guint i = 0; i < G_N_ELEMENTS (steps); i++) {
    GstVideoInfo info;
    GstCaps *caps = gst_caps_from_string (steps[i].caps);
    g_assert_true (gst_video_info_from_caps (&info, caps));
    gst_harness_set_src_caps (h, caps);
    GstBuffer *in = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
    gst_buffer_memset (in, 0, 128, GST_VIDEO_INFO_SIZE (&info));
    add_result (in, NULL, NULL, 0, att, 4, 4);
    g_assert_cmpint (gst_harness_push (h, in), ==, GST_FLOW_OK);
    GBytes *out = take_bytes (gst_harness_pull (h));
    gsize n, changed = 0;
    const guint8 *d = g_bytes_get_data (out, &n);
    g_assert_cmpuint (n, ==, GST_VIDEO_INFO_SIZE (&info));
    for (gsize k = 0; k < n; k++)
      changed += d[k] != 128;
    g_test_message ("%s: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes drawn", steps[i].caps,
                    changed, n);
    g_assert_cmpuint (changed, >, n / 10);
    g_bytes_unref (out);
  }
  gst_harness_teardown (h);
  assert_fails_without_vulkan ("videotestsrc num-buffers=1 ! heedoverlay ! fakesink");
}

/* Decodes a PNG to RGB through GStreamer. */
static guint8 *
decode_png (const char *path, guint *w, guint *h)
{
  char *desc = g_strdup_printf ("filesrc location=%s ! pngdec ! videoconvert ! "
                                "video/x-raw,format=RGB ! appsink name=sink",
                                path);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  GstSample *sample = NULL;
  g_signal_emit_by_name (sink, "pull-sample", &sample);
  g_assert_nonnull (sample);
  GstVideoInfo info;
  gst_video_info_from_caps (&info, gst_sample_get_caps (sample));
  *w = GST_VIDEO_INFO_WIDTH (&info), *h = GST_VIDEO_INFO_HEIGHT (&info);
  GstVideoFrame frame;
  gst_video_frame_map (&frame, &info, gst_sample_get_buffer (sample), GST_MAP_READ);
  guint8 *rgb = g_malloc ((gsize) *w * *h * 3);
  for (guint y = 0; y < *h; y++)
    memcpy (rgb + (gsize) y * *w * 3,
            (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) +
                (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0),
            (gsize) *w * 3);
  gst_video_frame_unmap (&frame);
  gst_sample_unref (sample);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (sink), gst_object_unref (pipe);
  g_free (desc);
  return rgb;
}

/* The screenshots in docs/images, made by these pipelines (the last of 16 frames), compared with
 * a tolerance: font rendering and float rounding may move a few pixels. */
static void
test_golden_images (void)
{
  const struct {
    const char *name, *pipeline;
  } shots[] = {
    { "overlay-ball", "videotestsrc num-buffers=16 pattern=ball background-color=0xff203050 ! "
                      "video/x-raw,width=480,height=270 ! heedclassify ! heedoverlay" },
    { "overlay-mask-turbo",
      "videotestsrc num-buffers=16 pattern=ball foreground-color=0xffe0c040 ! "
      "video/x-raw,width=480,height=270,format=NV12 ! heedclassify ! heedoverlay colormap=turbo "
      "heatmap-mode=mask heatmap-opacity=0.6 label-position=bottom-right" },
    { "overlay-pinwheel-viridis",
      "videotestsrc num-buffers=16 pattern=pinwheel ! video/x-raw,width=480,height=270 ! "
      "heedclassify attention=rollout ! heedoverlay colormap=viridis label-position=top-right" },
    { "overlay-chinese-labels",
      "videotestsrc num-buffers=16 pattern=smpte ! video/x-raw,width=480,height=270,format=I420 ! "
      "heedclassify labels-file=@SRC@/tests/data/labels-zh.txt ! heedoverlay max-labels=3" },
  };
  gboolean update = g_strcmp0 (g_getenv ("HEED_UPDATE_GOLDEN"), "1") == 0;
  char *dir = g_dir_make_tmp ("heed-golden-XXXXXX", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (shots); i++) {
    char *golden = g_strdup_printf ("%s/docs/images/%s.png", source_root, shots[i].name);
    char *made = g_strdup_printf ("%s/%s.png", dir, shots[i].name);
    GString *desc = g_string_new (shots[i].pipeline);
    g_string_replace (desc, "@SRC@", source_root, 0);
    g_string_append_printf (desc,
                            " ! videoconvert ! video/x-raw,format=RGB ! pngenc "
                            "snapshot=false ! multifilesink location=%s/frame-%%02d.png",
                            dir);
    g_assert_null (run_pipeline (desc->str, NULL));
    char *last = g_strdup_printf ("%s/frame-15.png", dir);
    g_assert_cmpint (g_rename (last, made), ==, 0);
    if (update) {
      gchar *data;
      gsize n;
      g_assert_true (g_file_get_contents (made, &data, &n, NULL));
      g_assert_true (g_file_set_contents (golden, data, n, NULL));
      g_free (data);
      g_test_message ("wrote %s", golden);
    }
    guint w1, h1, w2, h2;
    guint8 *a = decode_png (made, &w1, &h1), *b = decode_png (golden, &w2, &h2);
    g_assert_cmpuint (w1, ==, w2);
    g_assert_cmpuint (h1, ==, h2);
    gsize n = (gsize) w1 * h1 * 3;
    double sum = 0;
    guint far = 0;
    for (gsize k = 0; k < n; k++) {
      int d = abs ((int) a[k] - (int) b[k]);
      sum += d;
      far += d > 32;
    }
    g_test_message ("%s: mean difference %.3f, %u values off by more than 32", shots[i].name,
                    sum / n, far);
    if (sum / n > 1.5 || far > n / 200)
      g_error ("%s differs from its golden image (%s): mean %.3f, %u far", shots[i].name, golden,
               sum / n, far);
    /* the overlay is there: the same pipeline without heedoverlay differs */
    g_free (a), g_free (b);
    for (guint f = 0; f < 16; f++) {
      char *frame = g_strdup_printf ("%s/frame-%02u.png", dir, f);
      g_unlink (frame);
      g_free (frame);
    }
    g_unlink (made);
    g_free (last), g_free (golden), g_free (made);
    g_string_free (desc, TRUE);
  }
  g_rmdir (dir);
  g_free (dir);
}

int
main (int argc, char **argv)
{
  element_tests_init (&argc, &argv);
  source_root = g_getenv ("HEED_SOURCE_ROOT");
  g_assert_nonnull (source_root);
  /* loading the plugin registers the meta the tests attach by hand */
  GstPlugin *plugin = gst_plugin_load_by_name ("heed");
  g_assert_nonnull (plugin);
  gst_object_unref (plugin);
  g_test_add_func ("/overlay/passthrough", test_passthrough);
  g_test_add_func ("/overlay/heatmap-ends", test_heatmap_ends);
  g_test_add_func ("/overlay/label-box", test_label_box);
  g_test_add_func ("/overlay/two-classifiers", test_two_classifiers);
  g_test_add_func ("/overlay/application-metas", test_application_metas);
  g_test_add_func ("/overlay/utf8-labels", test_utf8_labels);
  g_test_add_func ("/overlay/mask", test_mask);
  g_test_add_func ("/overlay/smoothing", test_smoothing);
  g_test_add_func ("/overlay/formats", test_formats);
  g_test_add_func ("/overlay/persists-between-inferences", test_persists_between_inferences);
  g_test_add_func ("/overlay/vulkan-memory", test_vulkan_memory);
  g_test_add_func ("/overlay/renegotiation-and-no-driver", test_renegotiation_and_no_driver);
  g_test_add_func ("/overlay/golden-images", test_golden_images);
  int ret = g_test_run ();
  g_assert_cmpint (g_atomic_int_get (&validation_messages), ==, 0);
  FcFini (); /* the configuration heedoverlay's font maps read, kept until now */
  return ret;
}
