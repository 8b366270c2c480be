/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-heedoverlay
 * @title: heedoverlay
 *
 * Draws what the heed elements upstream found onto the video itself, on the GPU (or the CPU
 * through lavapipe): the attention map as a colour-mapped heatmap blended over the frame, and
 * the top labels with their confidences ("ball 97%") on a box, so any sink, encoder or screen
 * shows where the model looked. Text is set with Pango (antialiased, any UTF-8: Chinese or
 * Arabic labels show when fonts for them are installed, e.g. fonts-noto-cjk) and composited
 * together with the heatmap in one pass over the frame.
 *
 * It draws from the HeedClassificationMeta on each buffer (heedclassify attaches one to every
 * frame, carried forward between inferences, so the overlay never blinks) and the
 * HeedKeyframeMeta heedkeyframe attaches; a buffer with neither passes through untouched.
 * Every format heedclassify takes, in system memory or Vulkan memory (vulkanupload), is drawn
 * in place; YUV frames are blended in YUV, so pixels outside the overlay keep their exact
 * values.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 videotestsrc pattern=ball ! heedclassify ! heedoverlay ! autovideosink
 * gst-launch-1.0 v4l2src ! videoconvert ! heedclassify ! heedoverlay colormap=turbo \
 *   heatmap-mode=mask label-position=bottom-left ! videoconvert ! autovideosink
 * gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! videoconvert \
 *   ! heedclassify model=deit_tiny_patch16_224.safetensors ! heedoverlay \
 *   ! videoconvert ! avenc_mpeg4 ! matroskamux ! filesink location=annotated.mkv
 * ]|
 *
 * ## What is drawn
 * - The heatmap: the attention grid normalised per frame (its minimum maps to the colormap's
 *   first colour, its maximum to the last), smoothed over time, upsampled bilinearly over the
 *   part of the frame the model saw (the whole frame for resize=stretch, the centre square for
 *   crop, the frame within its bars for letterbox) and blended at heatmap-opacity.
 *   heatmap-mode=mask draws only the patches that hold mask-mass of the attention (DINO-style).
 * - The labels: up to max-labels lines of "label NN%", best first, in text-color on a
 *   box-color box at label-position; with two heedclassify upstream (two models), each one's
 *   lines, upstream's first, a blank line between. The heatmap is the first one's.
 * - Keyframes, when heedkeyframe upstream put its HeedKeyframeMeta on the frames
 *   (show-keyframes): a timeline along the bottom edge (the top edge when the labels sit at
 *   the bottom) with one bar per frame for the last timeline-length frames, its height the
 *   frame's importance, the keyframes' bars full height in amber, the newest frame on the
 *   right; and on each keyframe a "keyframe N (cause)" mark in the other corner of the
 *   labels' edge, held for half a second so it can be read.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstheedoverlay.h"

#include "heed-engine.h"
#include "heedmeta.h"
#include "gstheedutils.h"

#include <math.h>
#include <pango/pangocairo.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_heed_overlay_debug);
#define GST_CAT_DEFAULT gst_heed_overlay_debug

#define DEFAULT_PROP_COLORMAP HEED_COLORMAP_INFERNO
#define DEFAULT_PROP_HEATMAP_OPACITY 0.45
#define DEFAULT_PROP_HEATMAP_MODE GST_HEED_HEATMAP_WHOLE
#define DEFAULT_PROP_MASK_MASS 0.6
#define DEFAULT_PROP_SMOOTHING 0.5
#define DEFAULT_PROP_SHOW_LABELS TRUE
#define DEFAULT_PROP_MAX_LABELS 3
#define DEFAULT_PROP_LABEL_POSITION GST_HEED_LABEL_TOP_LEFT
#define DEFAULT_PROP_FONT_SIZE 0.0
#define DEFAULT_PROP_FONT_FAMILY "Sans"
#define DEFAULT_PROP_TEXT_COLOR 0xffffffff
#define DEFAULT_PROP_BOX_COLOR 0xb0000000
#define DEFAULT_PROP_DEVICE -1
#define DEFAULT_PROP_SHOW_KEYFRAMES TRUE
#define DEFAULT_PROP_TIMELINE_LENGTH 150

/* the keyframes' colour on the timeline and behind their mark: opaque amber */
#define KEYFRAME_ARGB 0xffffb000u

enum {
  PROP_0,
  PROP_COLORMAP,
  PROP_HEATMAP_OPACITY,
  PROP_HEATMAP_MODE,
  PROP_MASK_MASS,
  PROP_SMOOTHING,
  PROP_SHOW_LABELS,
  PROP_MAX_LABELS,
  PROP_LABEL_POSITION,
  PROP_FONT_SIZE,
  PROP_FONT_FAMILY,
  PROP_TEXT_COLOR,
  PROP_BOX_COLOR,
  PROP_DEVICE,
  PROP_SHOW_KEYFRAMES,
  PROP_TIMELINE_LENGTH,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (HEED_VIDEO_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (HEED_VIDEO_CAPS));

/* The properties as one frame uses them. */
typedef struct {
  HeedColormap colormap;
  gdouble opacity;
  GstHeedHeatmapMode mode;
  gdouble mask_mass;
  gdouble smoothing;
  gboolean show_labels;
  guint max_labels;
  GstHeedLabelPosition position;
  gdouble font_size;
  gchar *font_family;
  guint text_color, box_color;
  gboolean show_keyframes;
  guint timeline_length;
} Settings;

/* One drawn label box, kept while its text and style stay the same. */
typedef struct {
  gchar *key;
  guint32 *pixels;
  guint width, height;
  guint margin;
} LabelImage;

struct _GstHeedOverlay {
  GstBaseTransform parent;

  Settings settings; /* under the object lock */
  gint device_index;

  /* streaming state */
  GstHeedDeviceState dev; /* the device: the pipeline's heed.device, or GStreamer's */
  HeedCompositor *compositor;
  GstVideoInfo info;
  gboolean vulkan_memory;
  GstHeedImageMaker images; /* Vulkan buffers in, images out */
  float *smoothed;          /* the attention, averaged over time */
  guint smoothed_w, smoothed_h;
  float *values, *alpha; /* the heatmap layer of the current frame */
  LabelImage label;
  LabelImage mark; /* the keyframe mark */
  /* heedkeyframe's importance of the last frames, oldest first, and their keyframe flags */
  float *importance;
  gboolean *keyframe;
  guint n_history, history_capacity;
  guint mark_frames_left; /* how many more frames show the last keyframe's mark */
  gchar *mark_text;
  guint32 *timeline_pixels;
  PangoFontMap *font_map;
  PangoContext *pango;
  gboolean warned_glyphs; /* missing glyphs were reported (once a run) */
};

static void gst_heed_overlay_finalize (GObject *object);
static void gst_heed_overlay_set_property (GObject *object, guint prop_id, const GValue *value,
                                           GParamSpec *pspec);
static void gst_heed_overlay_get_property (GObject *object, guint prop_id, GValue *value,
                                           GParamSpec *pspec);
static gboolean gst_heed_overlay_start (GstBaseTransform *trans);
static gboolean gst_heed_overlay_stop (GstBaseTransform *trans);
static gboolean gst_heed_overlay_set_caps (GstBaseTransform *trans, GstCaps *incaps,
                                           GstCaps *outcaps);
static GstFlowReturn gst_heed_overlay_transform_ip (GstBaseTransform *trans, GstBuffer *buf);
static GstFlowReturn gst_heed_overlay_generate_output (GstBaseTransform *trans, GstBuffer **outbuf);
static gboolean gst_heed_overlay_sink_event (GstBaseTransform *trans, GstEvent *event);
static gboolean gst_heed_overlay_query (GstBaseTransform *trans, GstPadDirection direction,
                                        GstQuery *query);
static void gst_heed_overlay_set_context (GstElement *element, GstContext *context);

G_DEFINE_TYPE (GstHeedOverlay, gst_heed_overlay, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (heedoverlay, "heedoverlay", GST_RANK_NONE,
                                       GST_TYPE_HEED_OVERLAY, heed_meta_register ());

#define GST_TYPE_HEED_COLORMAP (gst_heed_colormap_get_type ())
static GType
gst_heed_colormap_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { HEED_COLORMAP_INFERNO, "Inferno (matplotlib): black, purple, orange, pale yellow",
      "inferno" },
    { HEED_COLORMAP_VIRIDIS, "Viridis (matplotlib): purple, teal, yellow", "viridis" },
    { HEED_COLORMAP_TURBO, "Turbo (Google): blue, cyan, green, yellow, red", "turbo" },
    { HEED_COLORMAP_JET, "Jet (MATLAB): dark blue, cyan, yellow, dark red", "jet" },
    { HEED_COLORMAP_GRAY, "Gray: black to white", "gray" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstHeedColormap", values));
  return type;
}

#define GST_TYPE_HEED_HEATMAP_MODE (gst_heed_heatmap_mode_get_type ())
static GType
gst_heed_heatmap_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_HEED_HEATMAP_WHOLE, "The whole attention map, colour-mapped", "whole" },
    { GST_HEED_HEATMAP_MASK,
      "Only the patches holding mask-mass of the attention (DINO-style mask), colour-mapped",
      "mask" },
    { GST_HEED_HEATMAP_NONE, "No heatmap (labels only)", "none" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstHeedHeatmapMode", values));
  return type;
}

#define GST_TYPE_HEED_LABEL_POSITION (gst_heed_label_position_get_type ())
static GType
gst_heed_label_position_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_HEED_LABEL_TOP_LEFT, "Top left corner", "top-left" },
    { GST_HEED_LABEL_TOP_RIGHT, "Top right corner", "top-right" },
    { GST_HEED_LABEL_BOTTOM_LEFT, "Bottom left corner", "bottom-left" },
    { GST_HEED_LABEL_BOTTOM_RIGHT, "Bottom right corner", "bottom-right" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstHeedLabelPosition", values));
  return type;
}

static void
gst_heed_overlay_class_init (GstHeedOverlayClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  const GParamFlags rw_playing =
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING;

  GST_DEBUG_CATEGORY_INIT (gst_heed_overlay_debug, "heedoverlay", 0,
                           "heed attention heatmaps and labels");

  gobject_class->set_property = gst_heed_overlay_set_property;
  gobject_class->get_property = gst_heed_overlay_get_property;
  gobject_class->finalize = gst_heed_overlay_finalize;

  g_object_class_install_property (
      gobject_class, PROP_COLORMAP,
      g_param_spec_enum ("colormap", "Colormap",
                         "How attention is coloured, from the least attended part of the frame "
                         "(the map's first colour) to the most attended (its last).",
                         GST_TYPE_HEED_COLORMAP, DEFAULT_PROP_COLORMAP, rw_playing));
  g_object_class_install_property (
      gobject_class, PROP_HEATMAP_OPACITY,
      g_param_spec_double ("heatmap-opacity", "Heatmap opacity",
                           "Opacity of the heatmap over the video: 0 leaves the video as it is, 1 "
                           "shows only the heatmap.",
                           0.0, 1.0, DEFAULT_PROP_HEATMAP_OPACITY, rw_playing));
  g_object_class_install_property (
      gobject_class, PROP_HEATMAP_MODE,
      g_param_spec_enum ("heatmap-mode", "Heatmap mode",
                         "Draw the whole attention map, only the patches that hold mask-mass of "
                         "the attention (a DINO-style mask), or no heatmap at all.",
                         GST_TYPE_HEED_HEATMAP_MODE, DEFAULT_PROP_HEATMAP_MODE, rw_playing));
  g_object_class_install_property (
      gobject_class, PROP_MASK_MASS,
      g_param_spec_double ("mask-mass", "Mask mass",
                           "With heatmap-mode=mask: the share of the attention (0..1) the drawn "
                           "patches hold together; the most attended patches are taken first.",
                           0.0, 1.0, DEFAULT_PROP_MASK_MASS, rw_playing));
  g_object_class_install_property (
      gobject_class, PROP_SMOOTHING,
      g_param_spec_double ("smoothing", "Smoothing",
                           "Temporal smoothing of the map, so it does not flicker on a still "
                           "scene: the weight of the earlier frames' map in an exponential "
                           "moving average (0: every frame's map as it is; 0.9: slow to follow).",
                           0.0, 0.99, DEFAULT_PROP_SMOOTHING, rw_playing));
  g_object_class_install_property (
      gobject_class, PROP_SHOW_LABELS,
      g_param_spec_boolean ("show-labels", "Show labels",
                            "Draw the top labels with their confidences.", DEFAULT_PROP_SHOW_LABELS,
                            rw_playing));
  g_object_class_install_property (
      gobject_class, PROP_MAX_LABELS,
      g_param_spec_uint ("max-labels", "Max labels",
                         "How many of the labels upstream reported (best first) to draw, one "
                         "per line.",
                         1, 100, DEFAULT_PROP_MAX_LABELS, rw_playing));
  g_object_class_install_property (
      gobject_class, PROP_LABEL_POSITION,
      g_param_spec_enum ("label-position", "Label position",
                         "The corner of the frame the label box sits in.",
                         GST_TYPE_HEED_LABEL_POSITION, DEFAULT_PROP_LABEL_POSITION, rw_playing));
  g_object_class_install_property (
      gobject_class, PROP_FONT_SIZE,
      g_param_spec_double ("font-size", "Font size",
                           "Height of the label text in pixels; 0 scales it with the frame (a "
                           "22nd of its height, at least 10 pixels).",
                           0.0, 1000.0, DEFAULT_PROP_FONT_SIZE, rw_playing));
  g_object_class_install_property (
      gobject_class, PROP_FONT_FAMILY,
      g_param_spec_string ("font-family", "Font family",
                           "Font family of the label text, as fontconfig knows it (\"Sans\", "
                           "\"Noto Sans CJK SC\", ...); missing characters come from other "
                           "installed fonts.",
                           DEFAULT_PROP_FONT_FAMILY, rw_playing));
  g_object_class_install_property (
      gobject_class, PROP_TEXT_COLOR,
      g_param_spec_uint ("text-color", "Text color",
                         "Colour of the label text as 0xAARRGGBB (alpha, red, green, blue).", 0,
                         G_MAXUINT32, DEFAULT_PROP_TEXT_COLOR, rw_playing));
  g_object_class_install_property (
      gobject_class, PROP_BOX_COLOR,
      g_param_spec_uint ("box-color", "Box color",
                         "Colour of the box behind the labels as 0xAARRGGBB; alpha 0 draws no "
                         "box.",
                         0, G_MAXUINT32, DEFAULT_PROP_BOX_COLOR, rw_playing));
  g_object_class_install_property (
      gobject_class, PROP_DEVICE,
      g_param_spec_int ("device", "Device",
                        "Index of the Vulkan device to draw on, as `heed devices` lists them; -1 "
                        "chooses automatically (HEED_DEVICE, else a discrete GPU, then an "
                        "integrated one, then the CPU). All heed elements of a pipeline share "
                        "one device (the heed.device context): this index is used by the "
                        "element that opens it. Frames in Vulkan memory are drawn on the device "
                        "they are on.",
                        -1, G_MAXINT, DEFAULT_PROP_DEVICE,
                        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_SHOW_KEYFRAMES,
      g_param_spec_boolean (
          "show-keyframes", "Show keyframes",
          "When heedkeyframe upstream marks the frames (HeedKeyframeMeta): draw "
          "a timeline of the last frames' importance along the bottom edge "
          "(keyframes full height in amber), and a \"keyframe N (cause)\" "
          "mark for half a second from each keyframe (in the labels' other corner, on their edge).",
          DEFAULT_PROP_SHOW_KEYFRAMES, rw_playing));
  g_object_class_install_property (
      gobject_class, PROP_TIMELINE_LENGTH,
      g_param_spec_uint ("timeline-length", "Timeline length",
                         "How many frames the keyframe timeline shows, newest on the right; 0 "
                         "draws no timeline (the keyframe mark still shows).",
                         0, 10000, DEFAULT_PROP_TIMELINE_LENGTH, rw_playing));

  gst_element_class_set_static_metadata (
      element_class, "heed attention overlay", "Filter/Effect/Video",
      "Draws attention heatmaps, labels and keyframes from heed's metadata onto the video, on "
      "Vulkan",
      "heed developers");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  element_class->set_context = gst_heed_overlay_set_context;

  trans_class->start = gst_heed_overlay_start;
  trans_class->stop = gst_heed_overlay_stop;
  trans_class->set_caps = gst_heed_overlay_set_caps;
  trans_class->transform_ip = gst_heed_overlay_transform_ip;
  trans_class->transform_caps = gst_heed_transform_caps;
  trans_class->generate_output = gst_heed_overlay_generate_output;
  trans_class->sink_event = gst_heed_overlay_sink_event;
  trans_class->query = gst_heed_overlay_query;
  trans_class->passthrough_on_same_caps = FALSE;

  gst_type_mark_as_plugin_api (GST_TYPE_HEED_COLORMAP, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_HEED_HEATMAP_MODE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_HEED_LABEL_POSITION, 0);
}

static void
gst_heed_overlay_init (GstHeedOverlay *self)
{
  self->settings = (Settings){ DEFAULT_PROP_COLORMAP,       DEFAULT_PROP_HEATMAP_OPACITY,
                               DEFAULT_PROP_HEATMAP_MODE,   DEFAULT_PROP_MASK_MASS,
                               DEFAULT_PROP_SMOOTHING,      DEFAULT_PROP_SHOW_LABELS,
                               DEFAULT_PROP_MAX_LABELS,     DEFAULT_PROP_LABEL_POSITION,
                               DEFAULT_PROP_FONT_SIZE,      g_strdup (DEFAULT_PROP_FONT_FAMILY),
                               DEFAULT_PROP_TEXT_COLOR,     DEFAULT_PROP_BOX_COLOR,
                               DEFAULT_PROP_SHOW_KEYFRAMES, DEFAULT_PROP_TIMELINE_LENGTH };
  self->device_index = DEFAULT_PROP_DEVICE;
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
}

static void
gst_heed_overlay_finalize (GObject *object)
{
  GstHeedOverlay *self = GST_HEED_OVERLAY (object);
  g_free (self->settings.font_family);
  gst_heed_device_state_clear (&self->dev);
  G_OBJECT_CLASS (gst_heed_overlay_parent_class)->finalize (object);
}

static void
gst_heed_overlay_set_property (GObject *object, guint prop_id, const GValue *value,
                               GParamSpec *pspec)
{
  GstHeedOverlay *self = GST_HEED_OVERLAY (object);
  Settings *s = &self->settings;
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
  case PROP_COLORMAP: s->colormap = g_value_get_enum (value); break;
  case PROP_HEATMAP_OPACITY: s->opacity = g_value_get_double (value); break;
  case PROP_HEATMAP_MODE: s->mode = g_value_get_enum (value); break;
  case PROP_MASK_MASS: s->mask_mass = g_value_get_double (value); break;
  case PROP_SMOOTHING: s->smoothing = g_value_get_double (value); break;
  case PROP_SHOW_LABELS: s->show_labels = g_value_get_boolean (value); break;
  case PROP_MAX_LABELS: s->max_labels = g_value_get_uint (value); break;
  case PROP_LABEL_POSITION: s->position = g_value_get_enum (value); break;
  case PROP_FONT_SIZE: s->font_size = g_value_get_double (value); break;
  case PROP_FONT_FAMILY:
    g_free (s->font_family);
    s->font_family = g_value_dup_string (value);
    if (!s->font_family)
      s->font_family = g_strdup (DEFAULT_PROP_FONT_FAMILY);
    break;
  case PROP_TEXT_COLOR: s->text_color = g_value_get_uint (value); break;
  case PROP_BOX_COLOR: s->box_color = g_value_get_uint (value); break;
  case PROP_DEVICE: self->device_index = g_value_get_int (value); break;
  case PROP_SHOW_KEYFRAMES: s->show_keyframes = g_value_get_boolean (value); break;
  case PROP_TIMELINE_LENGTH: s->timeline_length = g_value_get_uint (value); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_heed_overlay_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstHeedOverlay *self = GST_HEED_OVERLAY (object);
  Settings *s = &self->settings;
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
  case PROP_COLORMAP: g_value_set_enum (value, s->colormap); break;
  case PROP_HEATMAP_OPACITY: g_value_set_double (value, s->opacity); break;
  case PROP_HEATMAP_MODE: g_value_set_enum (value, s->mode); break;
  case PROP_MASK_MASS: g_value_set_double (value, s->mask_mass); break;
  case PROP_SMOOTHING: g_value_set_double (value, s->smoothing); break;
  case PROP_SHOW_LABELS: g_value_set_boolean (value, s->show_labels); break;
  case PROP_MAX_LABELS: g_value_set_uint (value, s->max_labels); break;
  case PROP_LABEL_POSITION: g_value_set_enum (value, s->position); break;
  case PROP_FONT_SIZE: g_value_set_double (value, s->font_size); break;
  case PROP_FONT_FAMILY: g_value_set_string (value, s->font_family); break;
  case PROP_TEXT_COLOR: g_value_set_uint (value, s->text_color); break;
  case PROP_BOX_COLOR: g_value_set_uint (value, s->box_color); break;
  case PROP_DEVICE: g_value_set_int (value, self->device_index); break;
  case PROP_SHOW_KEYFRAMES: g_value_set_boolean (value, s->show_keyframes); break;
  case PROP_TIMELINE_LENGTH: g_value_set_uint (value, s->timeline_length); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* ---- state ---------------------------------------------------------------------------------- */

static void
forget_history (GstHeedOverlay *self)
{
  g_clear_pointer (&self->smoothed, g_free);
  self->smoothed_w = self->smoothed_h = 0;
  self->n_history = 0;
  self->mark_frames_left = 0;
}

static void
label_image_clear (LabelImage *l)
{
  g_free (l->key);
  g_free (l->pixels);
  memset (l, 0, sizeof *l);
}

static gboolean
gst_heed_overlay_start (GstBaseTransform *trans)
{
  GstHeedOverlay *self = GST_HEED_OVERLAY (trans);
  /* the device comes with the caps, which say whether frames arrive in Vulkan memory;
   * a font map of our own: cairo font maps are not shared between threads */
  self->font_map = pango_cairo_font_map_new ();
  self->pango = pango_font_map_create_context (self->font_map);
  cairo_font_options_t *options = cairo_font_options_create ();
  cairo_font_options_set_antialias (options, CAIRO_ANTIALIAS_GRAY);
  cairo_font_options_set_hint_metrics (options, CAIRO_HINT_METRICS_OFF);
  pango_cairo_context_set_font_options (self->pango, options);
  cairo_font_options_destroy (options);
  self->warned_glyphs = FALSE;
  forget_history (self);
  return TRUE;
}

static gboolean
gst_heed_overlay_stop (GstBaseTransform *trans)
{
  GstHeedOverlay *self = GST_HEED_OVERLAY (trans);
  heed_compositor_destroy (&self->compositor);
  gst_heed_image_maker_clear (&self->images);
  gst_heed_device_state_stop (&self->dev);
  forget_history (self);
  g_clear_pointer (&self->values, g_free);
  g_clear_pointer (&self->alpha, g_free);
  label_image_clear (&self->label);
  label_image_clear (&self->mark);
  g_clear_pointer (&self->importance, g_free);
  g_clear_pointer (&self->keyframe, g_free);
  g_clear_pointer (&self->mark_text, g_free);
  g_clear_pointer (&self->timeline_pixels, g_free);
  self->history_capacity = 0;
  g_clear_object (&self->pango);
  g_clear_object (&self->font_map);
  self->vulkan_memory = FALSE;
  return TRUE;
}

static void
gst_heed_overlay_set_context (GstElement *element, GstContext *context)
{
  GstHeedOverlay *self = GST_HEED_OVERLAY (element);
  gst_heed_device_state_set_context (&self->dev, element, context);
  GST_ELEMENT_CLASS (gst_heed_overlay_parent_class)->set_context (element, context);
}

static gboolean
gst_heed_overlay_query (GstBaseTransform *trans, GstPadDirection direction, GstQuery *query)
{
  GstHeedOverlay *self = GST_HEED_OVERLAY (trans);
  if (gst_heed_device_state_handle_query (&self->dev, GST_ELEMENT (self), query))
    return TRUE;
  gboolean ok =
      GST_BASE_TRANSFORM_CLASS (gst_heed_overlay_parent_class)->query (trans, direction, query);
  if (ok)
    gst_heed_prefer_vulkan_buffers (direction, query);
  return ok;
}

static gboolean
gst_heed_overlay_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstHeedOverlay *self = GST_HEED_OVERLAY (trans);
  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP ||
      GST_EVENT_TYPE (event) == GST_EVENT_STREAM_START)
    forget_history (self);
  return GST_BASE_TRANSFORM_CLASS (gst_heed_overlay_parent_class)->sink_event (trans, event);
}

static gboolean
gst_heed_overlay_set_caps (GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
  GstHeedOverlay *self = GST_HEED_OVERLAY (trans);
  GError *error = NULL;
  HeedFrameLayout layout;
  gboolean changed;
  gint index;

  if (!gst_video_info_from_caps (&self->info, incaps)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Cannot read the video caps"),
                       ("%" GST_PTR_FORMAT, incaps));
    return FALSE;
  }
  self->vulkan_memory = gst_heed_caps_have_vulkan_memory (incaps);
  GST_OBJECT_LOCK (self);
  index = self->device_index;
  GST_OBJECT_UNLOCK (self);
  /* frames in Vulkan memory are drawn on GStreamer's device, others on the pipeline's */
  if (!gst_heed_device_state_acquire (&self->dev, GST_ELEMENT (self), self->vulkan_memory, index,
                                      &changed, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("No usable Vulkan device: %s", error->message),
                       (NULL));
    g_error_free (error);
    return FALSE;
  }
  if (!gst_heed_image_maker_configure (&self->images, &self->dev, GST_ELEMENT (self), incaps,
                                       outcaps))
    return FALSE;
  if (changed || !self->compositor) {
    heed_compositor_destroy (&self->compositor);
    if (!(self->compositor = heed_compositor_new (self->dev.device, &error))) {
      GST_ELEMENT_ERROR (self, RESOURCE, FAILED, ("Cannot draw: %s", error->message), (NULL));
      g_error_free (error);
      return FALSE;
    }
  }
  if (!gst_heed_layout_from_video_info (&self->info, &layout, &error) ||
      !heed_compositor_set_frame_layout (self->compositor, &layout, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Cannot draw on this video: %s", error->message),
                       ("%" GST_PTR_FORMAT, incaps));
    g_error_free (error);
    return FALSE;
  }
  forget_history (self);
  GST_INFO_OBJECT (self, "drawing on %dx%d %s", GST_VIDEO_INFO_WIDTH (&self->info),
                   GST_VIDEO_INFO_HEIGHT (&self->info),
                   gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&self->info)));
  return TRUE;
}

/* ---- the heatmap layer ---------------------------------------------------------------------- */

static gint
by_value_desc (gconstpointer a, gconstpointer b, gpointer data)
{
  const float *v = data;
  float x = v[*(const guint *) a], y = v[*(const guint *) b];
  return x < y ? 1 : x > y ? -1 : 0;
}

/* The frame rectangle the model's square input showed, as heedclassify put it in the meta
 * (fractions of the frame; a letterbox's bars lie outside it); the whole frame without one. */
static void
grid_region (const GstHeedOverlay *self, const GstStructure *meta, HeedHeatmapLayer *heat)
{
  float w = GST_VIDEO_INFO_WIDTH (&self->info), h = GST_VIDEO_INFO_HEIGHT (&self->info);
  gdouble r[4] = { 0.0, 0.0, 1.0, 1.0 };
  if (!gst_structure_get (meta, "region-x", G_TYPE_DOUBLE, &r[0], "region-y", G_TYPE_DOUBLE, &r[1],
                          "region-width", G_TYPE_DOUBLE, &r[2], "region-height", G_TYPE_DOUBLE,
                          &r[3], NULL))
    r[0] = r[1] = 0.0, r[2] = r[3] = 1.0;
  heat->x = r[0] * w, heat->y = r[1] * h, heat->width = r[2] * w, heat->height = r[3] * h;
}

/* Smooths the meta's attention over time, normalises it and builds the heatmap layer. */
static gboolean
build_heatmap (GstHeedOverlay *self, const GstStructure *meta, const Settings *s,
               HeedHeatmapLayer *heat)
{
  GBytes *bytes = NULL;
  guint gw = 0, gh = 0;
  gsize size = 0;
  if (s->mode == GST_HEED_HEATMAP_NONE ||
      !gst_structure_get (meta, "attention", G_TYPE_BYTES, &bytes, "attention-width", G_TYPE_UINT,
                          &gw, "attention-height", G_TYPE_UINT, &gh, NULL))
    return FALSE;
  const float *att = g_bytes_get_data (bytes, &size);
  if (!gw || !gh || size != (gsize) gw * gh * sizeof (float)) {
    GST_WARNING_OBJECT (self, "attention of %" G_GSIZE_FORMAT " bytes does not fill %ux%u", size,
                        gw, gh);
    g_bytes_unref (bytes);
    return FALSE;
  }
  guint n = gw * gh;
  if (!self->smoothed || self->smoothed_w != gw || self->smoothed_h != gh) {
    g_free (self->smoothed);
    self->smoothed = g_memdup2 (att, size);
    self->smoothed_w = gw, self->smoothed_h = gh;
  } else {
    float k = (float) s->smoothing;
    for (guint i = 0; i < n; i++)
      self->smoothed[i] = k * self->smoothed[i] + (1.0f - k) * att[i];
  }
  g_bytes_unref (bytes);
  /* a NaN or an infinity (an application's meta) would stay in the smoothing for good */
  for (guint i = 0; i < n; i++)
    if (!isfinite (self->smoothed[i]))
      self->smoothed[i] = 0.0f;

  const float *m = self->smoothed;
  float lo = m[0], hi = m[0], total = 0.0f;
  for (guint i = 0; i < n; i++) {
    lo = MIN (lo, m[i]), hi = MAX (hi, m[i]);
    total += m[i];
  }
  self->values = g_renew (float, self->values, n);
  self->alpha = g_renew (float, self->alpha, n);
  for (guint i = 0; i < n; i++) {
    self->values[i] = hi > lo ? (m[i] - lo) / (hi - lo) : 0.0f;
    self->alpha[i] = 1.0f;
  }
  if (s->mode == GST_HEED_HEATMAP_MASK) {
    guint *order = g_new (guint, n);
    for (guint i = 0; i < n; i++)
      order[i] = i, self->alpha[i] = 0.0f;
    g_qsort_with_data (order, (gint) n, sizeof (guint), by_value_desc, (gpointer) m);
    float kept = 0.0f;
    for (guint i = 0; i < n && (kept < s->mask_mass * total || i == 0); i++) {
      self->alpha[order[i]] = 1.0f;
      kept += m[order[i]];
    }
    g_free (order);
  }
  *heat = (HeedHeatmapLayer){ self->values, self->alpha,       gw, gh, 0, 0, 0, 0,
                              s->colormap,  (float) s->opacity };
  grid_region (self, meta, heat);
  return TRUE;
}

/* ---- the label layer ------------------------------------------------------------------------ */

static void
set_source_argb (cairo_t *cr, guint argb)
{
  cairo_set_source_rgba (cr, ((argb >> 16) & 0xff) / 255.0, ((argb >> 8) & 0xff) / 255.0,
                         (argb & 0xff) / 255.0, (argb >> 24) / 255.0);
}

/* The label lines of the meta, "label NN%", best first; NULL when there are none. */
static gchar *
label_text (const GstStructure *meta, guint max_labels)
{
  const GValue *labels = gst_structure_get_value (meta, "labels");
  const GValue *confs = gst_structure_get_value (meta, "confidences");
  if (!labels || !GST_VALUE_HOLDS_ARRAY (labels))
    return NULL;
  guint n = MIN (gst_value_array_get_size (labels), max_labels);
  GString *text = g_string_new (NULL);
  for (guint i = 0; i < n; i++) {
    const GValue *l = gst_value_array_get_value (labels, i);
    const GValue *c = confs && GST_VALUE_HOLDS_ARRAY (confs) && i < gst_value_array_get_size (confs)
                          ? gst_value_array_get_value (confs, i)
                          : NULL;
    if (!G_VALUE_HOLDS_STRING (l))
      continue;
    g_string_append_printf (text, "%s%s", text->len ? "\n" : "", g_value_get_string (l));
    if (c && G_VALUE_HOLDS_DOUBLE (c))
      g_string_append_printf (text, " %d%%", (int) lround (100.0 * g_value_get_double (c)));
  }
  return g_string_free (text, text->len == 0);
}

/* Sets the text with Pango onto a box (cairo, premultiplied ARGB). */
static void
render_label (GstHeedOverlay *self, const gchar *text, const Settings *s, double font_px,
              LabelImage *out)
{
  PangoLayout *layout = pango_layout_new (self->pango);
  PangoFontDescription *desc = pango_font_description_from_string (s->font_family);
  pango_font_description_set_absolute_size (desc, font_px * PANGO_SCALE);
  pango_layout_set_font_description (layout, desc);
  pango_font_description_free (desc);
  pango_layout_set_text (layout, text, -1);

  int unknown = pango_layout_get_unknown_glyphs_count (layout);
  if (unknown > 0 && !self->warned_glyphs) {
    self->warned_glyphs = TRUE;
    GST_ELEMENT_WARNING (self, RESOURCE, NOT_FOUND,
                         ("No installed font has %d of the characters in \"%s\"; they show as "
                          "boxes (for Chinese or Japanese labels, install fonts-noto-cjk)",
                          unknown, text),
                         ("%d unknown glyphs", unknown));
  }

  PangoRectangle ink, logical;
  pango_layout_get_pixel_extents (layout, &ink, &logical);
  guint pad = (guint) ceil (font_px * 0.3);
  out->width = (guint) MAX (logical.width, 1) + 2 * pad;
  out->height = (guint) MAX (logical.height, 1) + 2 * pad;
  out->margin = pad;
  cairo_surface_t *surface =
      cairo_image_surface_create (CAIRO_FORMAT_ARGB32, (int) out->width, (int) out->height);
  cairo_t *cr = cairo_create (surface);
  set_source_argb (cr, s->box_color);
  cairo_paint (cr);
  cairo_move_to (cr, pad - logical.x, pad - logical.y);
  set_source_argb (cr, s->text_color);
  pango_cairo_show_layout (cr, layout);
  cairo_destroy (cr);
  cairo_surface_flush (surface);

  const guint8 *data = cairo_image_surface_get_data (surface);
  int stride = cairo_image_surface_get_stride (surface);
  out->pixels = g_new (guint32, (gsize) out->width * out->height);
  for (guint r = 0; r < out->height; r++)
    memcpy (out->pixels + (gsize) r * out->width, data + (gsize) r * stride, 4 * out->width);
  cairo_surface_destroy (surface);
  g_object_unref (layout);
}

static double
font_px_of (const GstHeedOverlay *self, const Settings *s)
{
  return s->font_size > 0 ? s->font_size : MAX (10.0, GST_VIDEO_INFO_HEIGHT (&self->info) / 22.0);
}

/* Sets text into the cached box unless it already holds that text in that style. */
static void
cached_text (GstHeedOverlay *self, LabelImage *cache, const gchar *text, const Settings *s,
             double font_px)
{
  gchar *key = g_strdup_printf ("%s\n%s\n%.3f\n%08x\n%08x", text, s->font_family, font_px,
                                s->text_color, s->box_color);
  if (g_strcmp0 (key, cache->key) != 0) { /* new text or style: set it again */
    label_image_clear (cache);
    render_label (self, text, s, font_px, cache);
    cache->key = key;
  } else {
    g_free (key);
  }
}

static gboolean
labels_at_right (const Settings *s)
{
  return s->position == GST_HEED_LABEL_TOP_RIGHT || s->position == GST_HEED_LABEL_BOTTOM_RIGHT;
}

static gboolean
labels_at_bottom (const Settings *s)
{
  return s->position == GST_HEED_LABEL_BOTTOM_LEFT || s->position == GST_HEED_LABEL_BOTTOM_RIGHT;
}

/* The label box of this frame, at its corner; FALSE when there is nothing to write. Each
 * heedclassify upstream gives its lines, upstream's first, a blank line between them. */
static gboolean
build_labels (GstHeedOverlay *self, GstBuffer *buf, const Settings *s, HeedImageLayer *image)
{
  if (!s->show_labels)
    return FALSE;
  GString *all = g_string_new (NULL);
  gpointer state = NULL;
  const GstStructure *meta;
  while ((meta = heed_classification_meta_next (buf, &state))) {
    gchar *lines = label_text (meta, s->max_labels);
    if (lines)
      g_string_append_printf (all, "%s%s", all->len ? "\n\n" : "", lines);
    g_free (lines);
  }
  gchar *text = g_string_free (all, all->len == 0);
  if (!text)
    return FALSE;
  gint w = GST_VIDEO_INFO_WIDTH (&self->info), h = GST_VIDEO_INFO_HEIGHT (&self->info);
  cached_text (self, &self->label, text, s, font_px_of (self, s));
  g_free (text);

  const LabelImage *l = &self->label;
  gint m = (gint) l->margin;
  *image = (HeedImageLayer){ l->pixels, l->width, l->height,
                             labels_at_right (s) ? w - (gint) l->width - m : m,
                             labels_at_bottom (s) ? h - (gint) l->height - m : m };
  return TRUE;
}

/* ---- the keyframe layers -------------------------------------------------------------------- */

/* Adds this frame's importance and keyframe flag to the history, keeping the last
 * timeline-length frames. */
static void
remember_importance (GstHeedOverlay *self, const GstStructure *kmeta, guint length)
{
  gdouble score = 0.0;
  gboolean key = FALSE;
  gst_structure_get_double (kmeta, "score", &score);
  gst_structure_get_boolean (kmeta, "keyframe", &key);
  if (length != self->history_capacity) { /* resized: keep the newest */
    guint keep = MIN (self->n_history, length);
    float *importance = g_new0 (float, MAX (length, 1));
    gboolean *flags = g_new0 (gboolean, MAX (length, 1));
    if (keep) {
      memcpy (importance, self->importance + self->n_history - keep, keep * sizeof (float));
      memcpy (flags, self->keyframe + self->n_history - keep, keep * sizeof (gboolean));
    }
    g_free (self->importance), g_free (self->keyframe);
    self->importance = importance, self->keyframe = flags;
    self->n_history = keep, self->history_capacity = length;
  }
  if (!length)
    return;
  if (self->n_history == length) {
    memmove (self->importance, self->importance + 1, (length - 1) * sizeof (float));
    memmove (self->keyframe, self->keyframe + 1, (length - 1) * sizeof (gboolean));
    self->n_history--;
  }
  self->importance[self->n_history] = (float) CLAMP (score, 0.0, 1.0);
  self->keyframe[self->n_history] = key;
  self->n_history++;
}

/* The timeline: a box-color strip along the bottom (top when the labels are at the bottom)
 * with a bar per remembered frame, newest at the right edge. */
static gboolean
build_timeline (GstHeedOverlay *self, const Settings *s, HeedImageLayer *image)
{
  gint w = GST_VIDEO_INFO_WIDTH (&self->info), h = GST_VIDEO_INFO_HEIGHT (&self->info);
  gint m = MAX (2, h / 60);
  gint tw = w - 2 * m, th = MAX (8, h / 10);
  if (!s->timeline_length || !self->n_history || tw < 8 || th + 2 * m > h)
    return FALSE;
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, tw, th);
  cairo_t *cr = cairo_create (surface);
  set_source_argb (cr, s->box_color);
  cairo_paint (cr);
  double bar = (double) tw / s->timeline_length, inner = th - 2.0;
  for (guint i = 0; i < self->n_history; i++) {
    double x = tw - (self->n_history - i) * bar;
    double height = self->keyframe[i] ? inner : MAX (1.0, self->importance[i] * inner);
    set_source_argb (cr, self->keyframe[i] ? KEYFRAME_ARGB : s->text_color);
    /* keyframes at least 2 px wide, so a long timeline on a small frame still shows them */
    cairo_rectangle (cr, x, th - 1.0 - height, self->keyframe[i] ? MAX (bar, 2.0) : bar, height);
    cairo_fill (cr);
  }
  cairo_destroy (cr);
  cairo_surface_flush (surface);
  const guint8 *data = cairo_image_surface_get_data (surface);
  int stride = cairo_image_surface_get_stride (surface);
  self->timeline_pixels = g_renew (guint32, self->timeline_pixels, (gsize) tw * th);
  for (gint r = 0; r < th; r++)
    memcpy (self->timeline_pixels + (gsize) r * tw, data + (gsize) r * stride, 4 * (gsize) tw);
  cairo_surface_destroy (surface);
  *image = (HeedImageLayer){ self->timeline_pixels, (guint) tw, (guint) th, m,
                             labels_at_bottom (s) ? m : h - th - m };
  return TRUE;
}

/* The mark of the latest keyframe, dark text on amber, in the labels' other corner,
 * shown from the keyframe for half a second of frames (12 frames at an unknown rate). */
static gboolean
build_keyframe_mark (GstHeedOverlay *self, const GstStructure *kmeta, const Settings *s,
                     HeedImageLayer *image)
{
  gboolean key = FALSE;
  if (gst_structure_get_boolean (kmeta, "keyframe", &key) && key) {
    guint64 frame = 0;
    const gchar *cause = gst_structure_get_string (kmeta, "cause");
    gst_structure_get_uint64 (kmeta, "frame", &frame);
    g_free (self->mark_text);
    self->mark_text =
        g_strdup_printf ("keyframe %" G_GUINT64_FORMAT " (%s)", frame, cause ? cause : "visual");
    gint n = GST_VIDEO_INFO_FPS_N (&self->info), d = GST_VIDEO_INFO_FPS_D (&self->info);
    self->mark_frames_left = n > 0 && d > 0 ? MAX (1, (guint) ((n + d) / (2 * d))) : 12;
  }
  if (!self->mark_frames_left || !self->mark_text)
    return FALSE;
  self->mark_frames_left--;
  Settings style = *s;
  style.text_color = 0xff000000u, style.box_color = KEYFRAME_ARGB;
  cached_text (self, &self->mark, self->mark_text, &style, font_px_of (self, s));
  const LabelImage *l = &self->mark;
  gint w = GST_VIDEO_INFO_WIDTH (&self->info), h = GST_VIDEO_INFO_HEIGHT (&self->info);
  gint m = (gint) l->margin;
  /* the labels' edge (the timeline has the other), the other corner */
  *image = (HeedImageLayer){ l->pixels, l->width, l->height,
                             labels_at_right (s) ? m : w - (gint) l->width - m,
                             labels_at_bottom (s) ? h - (gint) l->height - m : m };
  return TRUE;
}

/* ---- drawing -------------------------------------------------------------------------------- */

static gboolean
draw_system_frame (GstHeedOverlay *self, GstBuffer *buf, GError **error)
{
  GstVideoFrame vframe;
  guint8 *planes[3];
  guint stride[3];
  if (!gst_heed_frame_map (&vframe, &self->info, buf, GST_MAP_READWRITE, planes, stride)) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "cannot map the video frame for writing");
    return FALSE;
  }
  gboolean ok = heed_compositor_draw_frame (self->compositor, planes, stride, error);
  gst_video_frame_unmap (&vframe);
  return ok;
}

/* A new Vulkan memory like `mem` (same image format and size, or buffer size). */
static GstMemory *
vulkan_memory_like (GstMemory *mem)
{
  if (gst_is_vulkan_image_memory (mem)) {
    GstVulkanImageMemory *img = (GstVulkanImageMemory *) mem;
    return gst_vulkan_image_memory_alloc (
        img->device, img->create_info.format, img->create_info.extent.width,
        img->create_info.extent.height, img->create_info.tiling, img->create_info.usage,
        VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  }
  GstVulkanBufferMemory *vb = (GstVulkanBufferMemory *) mem;
  return gst_vulkan_buffer_memory_alloc (vb->device, mem->size, vb->usage,
                                         VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
}

/* Draws in place; memories shared with other buffers (a tee upstream) are left as they are
 * and replaced by new ones holding the drawn frame. */
static gboolean
draw_vulkan_frame (GstHeedOverlay *self, GstBuffer *buf, GError **error)
{
  HeedDevicePlane src[3] = { { 0 } }, dst[3] = { { 0 } };
  GstMemory *fresh[3] = { NULL, NULL, NULL };
  guint n = gst_heed_vulkan_planes (&self->dev, buf, &self->info, src, error);
  if (!n)
    return FALSE;
  memcpy (dst, src, sizeof src);
  for (guint i = 0; i < n; i++) {
    GstMemory *mem = gst_buffer_peek_memory (buf, i);
    if (gst_memory_is_writable (mem))
      continue;
    if (!(fresh[i] = vulkan_memory_like (mem))) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_VULKAN, "cannot allocate Vulkan memory");
      goto fail;
    }
    gst_heed_vulkan_plane (fresh[i], src[i].stride, &dst[i]);
  }
  if (!heed_compositor_draw_frame_device (self->compositor, src, dst, n, error))
    goto fail;
  gst_heed_vulkan_planes_done (buf, src, n);
  for (guint i = 0; i < n; i++)
    if (fresh[i]) {
      GST_LOG_OBJECT (self, "plane %u was shared: drawn into a new memory", i);
      gst_buffer_replace_memory (buf, i, fresh[i]);
      fresh[i] = NULL;
    }
  gst_heed_vulkan_planes_done (buf, dst, n);
  return TRUE;
fail:
  for (guint i = 0; i < n; i++)
    if (fresh[i])
      gst_memory_unref (fresh[i]);
  return FALSE;
}

/* Frames in Vulkan buffers for a consumer of images: drawn on the buffer, then copied to an
 * image made here (gstheedutils.h says why). */
static GstFlowReturn
gst_heed_overlay_generate_output (GstBaseTransform *trans, GstBuffer **outbuf)
{
  GstHeedOverlay *self = GST_HEED_OVERLAY (trans);
  GstFlowReturn ret =
      GST_BASE_TRANSFORM_CLASS (gst_heed_overlay_parent_class)->generate_output (trans, outbuf);
  if (ret != GST_FLOW_OK || !*outbuf)
    return ret;
  return gst_heed_image_maker_take (&self->images, &self->dev, trans, outbuf);
}

static GstFlowReturn
gst_heed_overlay_transform_ip (GstBaseTransform *trans, GstBuffer *buf)
{
  GstHeedOverlay *self = GST_HEED_OVERLAY (trans);
  const GstStructure *meta = heed_classification_meta_get (buf);
  const GstStructure *kmeta = heed_keyframe_meta_get (buf);
  if (!meta && !kmeta)
    return GST_FLOW_OK; /* nothing upstream: pass through */

  Settings s;
  GST_OBJECT_LOCK (self);
  s = self->settings;
  s.font_family = g_strdup (s.font_family);
  GST_OBJECT_UNLOCK (self);

  HeedHeatmapLayer heat;
  HeedImageLayer images[3];
  guint n_images = 0;
  gboolean have_heat = meta && build_heatmap (self, meta, &s, &heat);
  if (meta && build_labels (self, buf, &s, &images[n_images]))
    n_images++;
  if (kmeta && s.show_keyframes) {
    remember_importance (self, kmeta, s.timeline_length);
    if (build_timeline (self, &s, &images[n_images]))
      n_images++;
    if (build_keyframe_mark (self, kmeta, &s, &images[n_images]))
      n_images++;
  }
  g_free (s.font_family);
  if (!have_heat && !n_images)
    return GST_FLOW_OK;

  GError *error = NULL;
  if (!heed_compositor_set_layers (self->compositor, have_heat ? &heat : NULL, images, n_images,
                                   &error) ||
      !(self->vulkan_memory ? draw_vulkan_frame (self, buf, &error)
                            : draw_system_frame (self, buf, &error))) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Drawing the overlay failed: %s", error->message),
                       (NULL));
    g_error_free (error);
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}
