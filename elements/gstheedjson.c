/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-heedjson
 *
 * Writes one JSON object per video frame, one per line (JSON lines), from the metadata heed's
 * elements attached upstream, and passes the frame on untouched. The field names follow DL
 * Streamer's gvametaconvert where it has a counterpart:
 *
 *   frame          the frame's index since the stream started (0-based)
 *   timestamp      the frame's stream time in nanoseconds (null when it has none)
 *   resolution     {width, height}
 *   tensors        heedclassify's result: [{name: "classification", model_name, label,
 *                  label_id, confidence, labels: [{label, label_id, confidence}, ...]}]
 *                  (top-1 first, then the top-k); one entry per heedclassify upstream, in
 *                  pipeline order (two models in a row: two); [] without heedclassify
 *   inferred       false when heedclassify carried an earlier frame's result forward
 *   attention_peak [x, y], 0..1 of the frame's width and height
 *                  (inferred, attention_peak and attention_map: the first heedclassify's)
 *   attention_map  with attention-map=true: {width, height, region: [x, y, w, h], data}
 *   keyframe, importance, cause   heedkeyframe's: whether the frame is a keyframe, its
 *                  importance (0..1), and for keyframes why (visual, audio, audio-visual)
 *
 * The schema is docs/heed-jsonl.schema.json.
 *
 *     gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! videoconvert ! heedclassify \
 *       ! heedkeyframe ! heedjson location=out.jsonl ! fakesink
 *
 * A file that cannot be opened, or a write that fails (a full disk), is an element error.
 */
#include "gstheedjson.h"

#include "heedmeta.h"

#include <errno.h>
#include <math.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#include <gst/video/video.h>

GST_DEBUG_CATEGORY_STATIC (gst_heed_json_debug);
#define GST_CAT_DEFAULT gst_heed_json_debug

enum {
  PROP_0,
  PROP_LOCATION,
  PROP_ATTENTION_MAP,
};

struct _GstHeedJson {
  GstBaseTransform parent;

  /* settings, under the object lock */
  gchar *location;
  gboolean attention_map;

  FILE *out; /* stdout when location is unset or "-" */
  gint width, height;
  guint64 frames;
};

#define VIDEO_ANY_CAPS "video/x-raw(ANY)"
static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (VIDEO_ANY_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (VIDEO_ANY_CAPS));

G_DEFINE_TYPE (GstHeedJson, gst_heed_json, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (heedjson, "heedjson", GST_RANK_NONE, GST_TYPE_HEED_JSON);

static gboolean
to_stdout (const gchar *location)
{
  return !location || !*location || g_str_equal (location, "-");
}

static gboolean
gst_heed_json_start (GstBaseTransform *trans)
{
  GstHeedJson *self = GST_HEED_JSON (trans);
  GST_OBJECT_LOCK (self);
  gchar *location = g_strdup (self->location);
  GST_OBJECT_UNLOCK (self);
  self->frames = 0;
  self->width = self->height = 0;
  if (to_stdout (location))
    self->out = stdout;
  else if (!(self->out = fopen (location, "w"))) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
                       ("Cannot write the JSON lines to %s: %s", location, g_strerror (errno)),
                       (NULL));
    g_free (location);
    return FALSE;
  }
  g_free (location);
  return TRUE;
}

static gboolean
gst_heed_json_stop (GstBaseTransform *trans)
{
  GstHeedJson *self = GST_HEED_JSON (trans);
  gboolean ok = TRUE;
  if (self->out && self->out != stdout)
    ok = fclose (self->out) == 0; /* a full disk often shows only here */
  else if (self->out)
    ok = fflush (self->out) == 0;
  self->out = NULL;
  if (!ok)
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
                       ("Cannot finish the JSON lines: %s", g_strerror (errno)), (NULL));
  return ok;
}

static gboolean
gst_heed_json_set_caps (GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
  GstHeedJson *self = GST_HEED_JSON (trans);
  GstStructure *s = gst_caps_get_structure (incaps, 0);
  if (!gst_structure_get_int (s, "width", &self->width) ||
      !gst_structure_get_int (s, "height", &self->height)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("The video caps have no size"),
                       ("%" GST_PTR_FORMAT, incaps));
    return FALSE;
  }
  return TRUE;
}

/* A number as JSON takes it. json-glib writes NaN and the infinities as nan.0 and inf.0, and a
 * number whose shortest form has an exponent and no point (1e+30) with ".0" after it, none of
 * them JSON: the first are null, the last moved by one unit in its last place, whose shortest
 * form has a point. heed's own results are finite, with many digits; an application may put
 * anything in the metas. */
static void
add_number (JsonBuilder *b, double d)
{
  char shortest[G_ASCII_DTOSTR_BUF_SIZE];
  if (!isfinite (d)) {
    json_builder_add_null_value (b);
    return;
  }
  g_ascii_dtostr (shortest, sizeof shortest, d);
  if (strpbrk (shortest, "eE") && !strchr (shortest, '.'))
    d = nextafter (d, 0.0);
  json_builder_add_double_value (b, d);
}

/* Writes the i-th element of a GstValueArray field as the builder's next value; null where the
 * field is no array that long, or holds something else than text or a number (a meta an
 * application made) */
static void
add_array_value (JsonBuilder *b, const GstStructure *s, const char *field, guint i)
{
  const GValue *a = gst_structure_get_value (s, field);
  const GValue *v = a && GST_VALUE_HOLDS_ARRAY (a) && i < gst_value_array_get_size (a)
                        ? gst_value_array_get_value (a, i)
                        : NULL;
  if (v && G_VALUE_HOLDS_STRING (v) && g_value_get_string (v))
    json_builder_add_string_value (b, g_value_get_string (v));
  else if (v && G_VALUE_HOLDS_INT (v))
    json_builder_add_int_value (b, g_value_get_int (v));
  else if (v && G_VALUE_HOLDS_UINT (v))
    json_builder_add_int_value (b, g_value_get_uint (v));
  else if (v && G_VALUE_HOLDS_DOUBLE (v))
    add_number (b, g_value_get_double (v));
  else
    json_builder_add_null_value (b);
}

/* One classification's entry in "tensors"; nothing when it has no labels. */
static void
add_tensor (JsonBuilder *b, const GstStructure *c)
{
  const GValue *labels = gst_structure_get_value (c, "labels");
  guint k = labels && GST_VALUE_HOLDS_ARRAY (labels) ? gst_value_array_get_size (labels) : 0;
  if (k) {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, "classification");
    json_builder_set_member_name (b, "model_name");
    json_builder_add_string_value (b, gst_structure_get_string (c, "model"));
    const char *names[3] = { "label", "label_id", "confidence" };
    const char *fields[3] = { "labels", "label-ids", "confidences" };
    for (guint f = 0; f < 3; f++) {
      json_builder_set_member_name (b, names[f]);
      add_array_value (b, c, fields[f], 0);
    }
    json_builder_set_member_name (b, "labels");
    json_builder_begin_array (b);
    for (guint i = 0; i < k; i++) {
      json_builder_begin_object (b);
      for (guint f = 0; f < 3; f++) {
        json_builder_set_member_name (b, names[f]);
        add_array_value (b, c, fields[f], i);
      }
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
}

/* "tensors", one entry per heedclassify upstream, then the first one's inferred, attention peak
 * and (with map) attention map */
static void
add_classification (GstHeedJson *self, JsonBuilder *b, GstBuffer *buf, gboolean map)
{
  json_builder_set_member_name (b, "tensors");
  json_builder_begin_array (b);
  gpointer state = NULL;
  const GstStructure *c = NULL, *next;
  while ((next = heed_classification_meta_next (buf, &state))) {
    add_tensor (b, next);
    c = c ? c : next;
  }
  json_builder_end_array (b);
  if (!c)
    return;
  gboolean inferred;
  if (gst_structure_get_boolean (c, "inferred", &inferred)) {
    json_builder_set_member_name (b, "inferred");
    json_builder_add_boolean_value (b, inferred);
  }
  gdouble px, py;
  if (gst_structure_get_double (c, "attention-peak-x", &px) &&
      gst_structure_get_double (c, "attention-peak-y", &py)) {
    json_builder_set_member_name (b, "attention_peak");
    json_builder_begin_array (b);
    add_number (b, px);
    add_number (b, py);
    json_builder_end_array (b);
  }
  guint w, h;
  const GValue *att = gst_structure_get_value (c, "attention");
  if (map && att && gst_structure_get_uint (c, "attention-width", &w) &&
      gst_structure_get_uint (c, "attention-height", &h)) {
    gsize size;
    const float *data = g_bytes_get_data (g_value_get_boxed (att), &size);
    if (size != (gsize) w * h * sizeof (float)) {
      GST_WARNING_OBJECT (self, "attention map of %" G_GSIZE_FORMAT " bytes for %ux%u", size, w, h);
      return;
    }
    json_builder_set_member_name (b, "attention_map");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "width");
    json_builder_add_int_value (b, w);
    json_builder_set_member_name (b, "height");
    json_builder_add_int_value (b, h);
    json_builder_set_member_name (b, "region");
    json_builder_begin_array (b);
    const char *region[4] = { "region-x", "region-y", "region-width", "region-height" };
    for (guint i = 0; i < 4; i++) {
      gdouble v = i < 2 ? 0.0 : 1.0;
      gst_structure_get_double (c, region[i], &v);
      add_number (b, v);
    }
    json_builder_end_array (b);
    json_builder_set_member_name (b, "data");
    json_builder_begin_array (b);
    for (guint i = 0; i < w * h; i++)
      add_number (b, data[i]);
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
}

static void
add_keyframe (JsonBuilder *b, const GstStructure *k)
{
  gboolean key;
  gdouble score;
  if (!k || !gst_structure_get_boolean (k, "keyframe", &key) ||
      !gst_structure_get_double (k, "score", &score))
    return;
  json_builder_set_member_name (b, "keyframe");
  json_builder_add_boolean_value (b, key);
  json_builder_set_member_name (b, "importance");
  add_number (b, score);
  const char *cause = gst_structure_get_string (k, "cause");
  if (cause) {
    json_builder_set_member_name (b, "cause");
    json_builder_add_string_value (b, cause);
  }
}

static GstFlowReturn
gst_heed_json_transform_ip (GstBaseTransform *trans, GstBuffer *buf)
{
  GstHeedJson *self = GST_HEED_JSON (trans);
  GST_OBJECT_LOCK (self);
  gboolean map = self->attention_map;
  GST_OBJECT_UNLOCK (self);

  JsonBuilder *b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "frame");
  json_builder_add_int_value (b, (gint64) self->frames++);
  json_builder_set_member_name (b, "timestamp");
  GstClockTime t =
      gst_segment_to_stream_time (&trans->segment, GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
  if (GST_CLOCK_TIME_IS_VALID (t))
    json_builder_add_int_value (b, (gint64) t);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "resolution");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "width");
  json_builder_add_int_value (b, self->width);
  json_builder_set_member_name (b, "height");
  json_builder_add_int_value (b, self->height);
  json_builder_end_object (b);
  add_classification (self, b, buf, map);
  add_keyframe (b, heed_keyframe_meta_get (buf));
  json_builder_end_object (b);

  JsonNode *root = json_builder_get_root (b);
  gchar *line = json_to_string (root, FALSE);
  json_node_unref (root);
  g_object_unref (b);
  gboolean ok =
      fputs (line, self->out) >= 0 && fputc ('\n', self->out) != EOF && fflush (self->out) == 0;
  g_free (line);
  if (!ok) {
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
                       ("Cannot write the JSON lines: %s", g_strerror (errno)), (NULL));
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}

static void
gst_heed_json_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  GstHeedJson *self = GST_HEED_JSON (object);
  GST_OBJECT_LOCK (self);
  switch (id) {
  case PROP_LOCATION:
    g_free (self->location);
    self->location = g_value_dup_string (value);
    break;
  case PROP_ATTENTION_MAP: self->attention_map = g_value_get_boolean (value); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_heed_json_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  GstHeedJson *self = GST_HEED_JSON (object);
  GST_OBJECT_LOCK (self);
  switch (id) {
  case PROP_LOCATION: g_value_set_string (value, self->location); break;
  case PROP_ATTENTION_MAP: g_value_set_boolean (value, self->attention_map); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_heed_json_finalize (GObject *object)
{
  GstHeedJson *self = GST_HEED_JSON (object);
  g_free (self->location);
  G_OBJECT_CLASS (gst_heed_json_parent_class)->finalize (object);
}

static void
gst_heed_json_init (GstHeedJson *self)
{
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
}

static void
gst_heed_json_class_init (GstHeedJsonClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_heed_json_debug, "heedjson", 0, "heed JSON lines writer");
  heed_meta_register ();
  gobject_class->set_property = gst_heed_json_set_property;
  gobject_class->get_property = gst_heed_json_get_property;
  gobject_class->finalize = gst_heed_json_finalize;

  g_object_class_install_property (
      gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "Location",
                           "File to write the JSON lines to, replacing what it held; unset or "
                           "\"-\" writes them to standard output",
                           NULL,
                           G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_ATTENTION_MAP,
      g_param_spec_boolean ("attention-map", "Attention map",
                            "Also write heedclassify's attention map (attention_map: its grid's "
                            "width and height, the frame region it covers and the values, row "
                            "by row); it makes each line a few kB longer",
                            FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  gst_element_class_set_static_metadata (
      element_class, "heed JSON lines", "Filter/Analyzer/Video",
      "Writes heed's per-frame results (labels, attention peak, keyframes) as JSON lines", "heed");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);

  trans_class->start = GST_DEBUG_FUNCPTR (gst_heed_json_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_heed_json_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_heed_json_set_caps);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_heed_json_transform_ip);
  trans_class->transform_ip_on_passthrough = TRUE;
}
