/**
 * SECTION:element-heedclassify
 * @title: heedclassify
 *
 * Classifies every video frame with a vision transformer run by heed's Vulkan engine (on a
 * GPU, or on the CPU through Mesa's lavapipe), and reports where the model looked. Frames pass
 * through unchanged; the results travel with them as metadata and, unless post-messages is
 * off, as an element message on the bus.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 -m videotestsrc pattern=ball ! heedclassify ! fakesink
 * gst-launch-1.0 -m videotestsrc ! heedclassify model=vit.safetensors ! fakesink
 * gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! videoconvert \
 *   ! heedclassify model=deit_tiny_patch16_224.safetensors inference-interval=5 ! fakesink
 * ]|
 *
 * ## The "heedclassify" element message, one per frame
 * - `timestamp`, `running-time`, `stream-time`, `duration` (guint64, ns): the frame's times.
 * - `frame` (guint64): the frame's number, from 0 at the start of the stream.
 * - `label` (string), `label-id` (gint), `confidence` (gdouble, 0..1): the top result; "", -1
 *   and 0 when no class reaches `threshold` or the model has no classification head.
 * - `labels` (GstValueArray of strings), `label-ids` (of gint), `confidences` (of gdouble):
 *   the top-k results at or above `threshold`, best first.
 * - `inferred` (gboolean): FALSE when the result was carried forward from an earlier frame
 *   (inference-interval, or QoS skipping frames to keep up).
 * - `attention-peak-x`, `attention-peak-y` (gdouble, 0..1 of the frame's width and height):
 *   the centre of the patch the model attended to most; absent when attention=none.
 *
 * ## Metadata on every buffer
 * - a HeedClassificationMeta (a GstCustomMeta; see heedmeta.h for its fields): top-k, the
 *   attention map over the patch grid, the CLS embedding;
 * - a full-frame GstVideoRegionOfInterestMeta (roi_type = the top label) with a
 *   "classification" parameter structure using DL Streamer's field names: `label`,
 *   `label_id`, `confidence`, plus `model_name`, `layer_name`, `attribute_name`.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstheedclassify.h"

#include "heed-engine.h"
#include "heedlabels.h"
#include "heedmeta.h"
#include "heedvulkan.h"

#include <math.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_heed_classify_debug);
#define GST_CAT_DEFAULT gst_heed_classify_debug

#define DEFAULT_PROP_MODEL NULL
#define DEFAULT_PROP_LABELS_FILE NULL
#define DEFAULT_PROP_DEVICE -1
#define DEFAULT_PROP_TOP_K 5
#define DEFAULT_PROP_THRESHOLD 0.0
#define DEFAULT_PROP_INFERENCE_INTERVAL 1
#define DEFAULT_PROP_ATTENTION GST_HEED_ATTENTION_CLS
#define DEFAULT_PROP_RESIZE HEED_RESIZE_STRETCH
#define DEFAULT_PROP_POST_MESSAGES TRUE

enum {
  PROP_0,
  PROP_MODEL,
  PROP_LABELS_FILE,
  PROP_DEVICE,
  PROP_TOP_K,
  PROP_THRESHOLD,
  PROP_INFERENCE_INTERVAL,
  PROP_ATTENTION,
  PROP_RESIZE,
  PROP_POST_MESSAGES,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (HEED_VIDEO_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (HEED_VIDEO_CAPS));

struct _GstHeedClassify {
  GstBaseTransform parent;

  /* settings, under the object lock */
  gchar *model_path;
  gchar *labels_file;
  gint device_index;
  guint top_k;
  gdouble threshold;
  guint inference_interval;
  GstHeedAttention attention;
  HeedResize resize;
  gboolean post_messages;
  gboolean reload_pending;   /* model, labels or attention changed while streaming */
  GstClockTime qos_earliest; /* from downstream QoS events */

  /* streaming state: built in start() and set_caps(), dropped in stop() */
  HeedDevice *device;
  HeedModel *model;
  HeedVit *vit;
  gchar **labels;
  gchar *model_name;
  GstHeedAttention vit_attention; /* what the runner was built for */
  GstVideoInfo info;
  HeedFrameLayout layout;
  gboolean have_layout;
  guint64 frame_count;
  guint64 last_inference_frame;
  GstStructure *result;         /* the last result, carried forward */
  GstClockTime processing_time; /* the last inference's wall-clock time */
  GstClockTime reported_latency;
  gboolean upstream_live;
  GstClockTime last_inference_rt;

  /* GStreamer's shared Vulkan device (gst.vulkan.* contexts), used for Vulkan memory */
  HeedGstVulkan gst_vulkan;
  gboolean vulkan_memory; /* the negotiated caps carry Vulkan memory */
};

static void gst_heed_classify_finalize (GObject *object);
static void gst_heed_classify_set_property (GObject *object, guint prop_id, const GValue *value,
                                            GParamSpec *pspec);
static void gst_heed_classify_get_property (GObject *object, guint prop_id, GValue *value,
                                            GParamSpec *pspec);
static gboolean gst_heed_classify_start (GstBaseTransform *trans);
static gboolean gst_heed_classify_stop (GstBaseTransform *trans);
static gboolean gst_heed_classify_set_caps (GstBaseTransform *trans, GstCaps *incaps,
                                            GstCaps *outcaps);
static GstFlowReturn gst_heed_classify_transform_ip (GstBaseTransform *trans, GstBuffer *buf);
static GstFlowReturn gst_heed_classify_submit_input_buffer (GstBaseTransform *trans,
                                                            gboolean is_discont, GstBuffer *input);
static gboolean gst_heed_classify_src_event (GstBaseTransform *trans, GstEvent *event);
static gboolean gst_heed_classify_query (GstBaseTransform *trans, GstPadDirection direction,
                                         GstQuery *query);
static void gst_heed_classify_set_context (GstElement *element, GstContext *context);

G_DEFINE_TYPE (GstHeedClassify, gst_heed_classify, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (heedclassify, "heedclassify", GST_RANK_NONE,
                                       GST_TYPE_HEED_CLASSIFY, heed_meta_register ());

#define GST_TYPE_HEED_ATTENTION (gst_heed_attention_get_type ())
static GType
gst_heed_attention_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_HEED_ATTENTION_NONE, "No attention map", "none" },
    { GST_HEED_ATTENTION_CLS,
      "The last layer's CLS-token attention over the patches, heads "
      "averaged",
      "cls" },
    { GST_HEED_ATTENTION_ROLLOUT,
      "Attention rollout: the CLS row of the product of every "
      "layer's head-averaged attention with the residual added",
      "rollout" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstHeedAttention", values));
  return type;
}

#define GST_TYPE_HEED_RESIZE (gst_heed_resize_get_type ())
static GType
gst_heed_resize_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { HEED_RESIZE_STRETCH,
      "Scale the whole frame to the model's square input, ignoring the "
      "aspect ratio",
      "stretch" },
    { HEED_RESIZE_CROP, "Scale the largest centred square of the frame", "crop" },
    { HEED_RESIZE_LETTERBOX, "Scale the whole frame keeping its aspect ratio, with black bars",
      "letterbox" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstHeedResize", values));
  return type;
}

static void
gst_heed_classify_class_init (GstHeedClassifyClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_heed_classify_debug, "heedclassify", 0,
                           "heed vision-transformer classification");

  gobject_class->set_property = gst_heed_classify_set_property;
  gobject_class->get_property = gst_heed_classify_get_property;
  gobject_class->finalize = gst_heed_classify_finalize;

  g_object_class_install_property (
      gobject_class, PROP_MODEL,
      g_param_spec_string (
          "model", "Model",
          "Path of a vision-transformer checkpoint in safetensors format, with timm or Hugging "
          "Face tensor names (F32, F16 or BF16). A config.json beside it is read for the head "
          "count and labels. Unset, the embedded default model runs: it recognises the looks "
          "of videotestsrc's patterns (smpte, snow, ball, ...). Changing it while playing loads "
          "the new model without stopping the stream; if that fails, a warning is posted and "
          "the old model stays.",
          DEFAULT_PROP_MODEL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (
      gobject_class, PROP_LABELS_FILE,
      g_param_spec_string (
          "labels-file", "Labels file",
          "Text file with one class name per line, in class order; overrides the labels in the "
          "model. Without either, a 1000-class model gets the ImageNet-1k names and others "
          "get \"class N\".",
          DEFAULT_PROP_LABELS_FILE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (
      gobject_class, PROP_DEVICE,
      g_param_spec_int (
          "device", "Device",
          "Index of the Vulkan device to run on, as `heed devices` lists them; -1 chooses "
          "automatically (the HEED_DEVICE environment variable, else a discrete GPU, then an "
          "integrated one, then the CPU).",
          -1, G_MAXINT, DEFAULT_PROP_DEVICE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_TOP_K,
      g_param_spec_uint ("top-k", "Top k", "How many of the best classes to report per frame.", 1,
                         1000, DEFAULT_PROP_TOP_K,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (
      gobject_class, PROP_THRESHOLD,
      g_param_spec_double (
          "threshold", "Threshold",
          "Smallest confidence (softmax probability, 0..1) a class needs to be reported.", 0.0, 1.0,
          DEFAULT_PROP_THRESHOLD,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (
      gobject_class, PROP_INFERENCE_INTERVAL,
      g_param_spec_uint (
          "inference-interval", "Inference interval",
          "Run the model on every Nth frame (1: every frame); the frames in between carry the "
          "last result forward, marked inferred=FALSE.",
          1, G_MAXUINT, DEFAULT_PROP_INFERENCE_INTERVAL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (
      gobject_class, PROP_ATTENTION,
      g_param_spec_enum (
          "attention", "Attention",
          "Which attention map to compute: none, the last layer's CLS attention, or attention "
          "rollout across all layers.",
          GST_TYPE_HEED_ATTENTION, DEFAULT_PROP_ATTENTION,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (
      gobject_class, PROP_RESIZE,
      g_param_spec_enum (
          "resize", "Resize",
          "How a frame is fitted to the model's square input: stretch, centre crop, or "
          "letterbox.",
          GST_TYPE_HEED_RESIZE, DEFAULT_PROP_RESIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
                            "Post a \"heedclassify\" element message on the bus for every frame.",
                            DEFAULT_PROP_POST_MESSAGES,
                            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                GST_PARAM_MUTABLE_PLAYING));

  gst_element_class_set_static_metadata (
      element_class, "heed vision-transformer classifier", "Filter/Analyzer/Video",
      "Classifies video frames with a vision transformer on Vulkan and reports where it looked",
      "heed developers");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  element_class->set_context = GST_DEBUG_FUNCPTR (gst_heed_classify_set_context);

  trans_class->start = GST_DEBUG_FUNCPTR (gst_heed_classify_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_heed_classify_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_heed_classify_set_caps);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_heed_classify_transform_ip);
  trans_class->submit_input_buffer = GST_DEBUG_FUNCPTR (gst_heed_classify_submit_input_buffer);
  trans_class->src_event = GST_DEBUG_FUNCPTR (gst_heed_classify_src_event);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_heed_classify_query);
  trans_class->passthrough_on_same_caps = FALSE;

  gst_type_mark_as_plugin_api (GST_TYPE_HEED_ATTENTION, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_HEED_RESIZE, 0);
}

static void
gst_heed_classify_init (GstHeedClassify *self)
{
  self->model_path = g_strdup (DEFAULT_PROP_MODEL);
  self->labels_file = g_strdup (DEFAULT_PROP_LABELS_FILE);
  self->device_index = DEFAULT_PROP_DEVICE;
  self->top_k = DEFAULT_PROP_TOP_K;
  self->threshold = DEFAULT_PROP_THRESHOLD;
  self->inference_interval = DEFAULT_PROP_INFERENCE_INTERVAL;
  self->attention = DEFAULT_PROP_ATTENTION;
  self->resize = DEFAULT_PROP_RESIZE;
  self->post_messages = DEFAULT_PROP_POST_MESSAGES;
  self->qos_earliest = GST_CLOCK_TIME_NONE;
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  /* QoS skips inference on late frames; the frames themselves are never dropped. */
  gst_base_transform_set_qos_enabled (GST_BASE_TRANSFORM (self), TRUE);
}

static void
gst_heed_classify_finalize (GObject *object)
{
  GstHeedClassify *self = GST_HEED_CLASSIFY (object);
  g_free (self->model_path);
  g_free (self->labels_file);
  G_OBJECT_CLASS (gst_heed_classify_parent_class)->finalize (object);
}

static void
gst_heed_classify_set_property (GObject *object, guint prop_id, const GValue *value,
                                GParamSpec *pspec)
{
  GstHeedClassify *self = GST_HEED_CLASSIFY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
  case PROP_MODEL:
    g_free (self->model_path);
    self->model_path = g_value_dup_string (value);
    self->reload_pending = TRUE;
    break;
  case PROP_LABELS_FILE:
    g_free (self->labels_file);
    self->labels_file = g_value_dup_string (value);
    self->reload_pending = TRUE;
    break;
  case PROP_DEVICE: self->device_index = g_value_get_int (value); break;
  case PROP_TOP_K: self->top_k = g_value_get_uint (value); break;
  case PROP_THRESHOLD: self->threshold = g_value_get_double (value); break;
  case PROP_INFERENCE_INTERVAL: self->inference_interval = g_value_get_uint (value); break;
  case PROP_ATTENTION:
    self->attention = g_value_get_enum (value);
    self->reload_pending = TRUE;
    break;
  case PROP_RESIZE: self->resize = g_value_get_enum (value); break;
  case PROP_POST_MESSAGES: self->post_messages = g_value_get_boolean (value); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_heed_classify_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstHeedClassify *self = GST_HEED_CLASSIFY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
  case PROP_MODEL: g_value_set_string (value, self->model_path); break;
  case PROP_LABELS_FILE: g_value_set_string (value, self->labels_file); break;
  case PROP_DEVICE: g_value_set_int (value, self->device_index); break;
  case PROP_TOP_K: g_value_set_uint (value, self->top_k); break;
  case PROP_THRESHOLD: g_value_set_double (value, self->threshold); break;
  case PROP_INFERENCE_INTERVAL: g_value_set_uint (value, self->inference_interval); break;
  case PROP_ATTENTION: g_value_set_enum (value, self->attention); break;
  case PROP_RESIZE: g_value_set_enum (value, self->resize); break;
  case PROP_POST_MESSAGES: g_value_set_boolean (value, self->post_messages); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* ---- model loading ------------------------------------------------------------------------ */

typedef struct {
  HeedModel *model;
  HeedVit *vit;
  gchar **labels;
  gchar *name;
  GstHeedAttention attention;
} Loaded;

static void
loaded_clear (Loaded *l)
{
  heed_vit_destroy (&l->vit);
  heed_model_destroy (&l->model);
  g_clear_pointer (&l->labels, g_strfreev);
  g_clear_pointer (&l->name, g_free);
}

/* Loads the model the settings name and builds its runner. On failure sets error and returns
 * FALSE with nothing allocated. */
static gboolean
load_model (GstHeedClassify *self, Loaded *out, GError **error)
{
  gchar *path, *labels_file;
  GST_OBJECT_LOCK (self);
  path = g_strdup (self->model_path);
  labels_file = g_strdup (self->labels_file);
  out->attention = self->attention;
  self->reload_pending = FALSE;
  GST_OBJECT_UNLOCK (self);

  /* no model named: the embedded default one */
  out->model = path && *path ? heed_model_load (path, error) : heed_model_load_default (error);
  if (!out->model)
    goto fail;
  out->labels = heed_labels_resolve (labels_file, out->model->config.labels,
                                     out->model->config.num_classes, error);
  if (!out->labels && out->model->config.num_classes)
    goto fail;
  HeedVitOptions opts = { .layer_attention = out->attention == GST_HEED_ATTENTION_ROLLOUT };
  if (!(out->vit = heed_vit_new (self->device, out->model, &opts, error)))
    goto fail;
  out->name = path && *path ? g_path_get_basename (path) : g_strdup ("default");
  g_free (path);
  g_free (labels_file);
  return TRUE;
fail:
  loaded_clear (out);
  g_free (path);
  g_free (labels_file);
  return FALSE;
}

static void
take_loaded (GstHeedClassify *self, Loaded *l)
{
  heed_vit_destroy (&self->vit);
  heed_model_destroy (&self->model);
  g_strfreev (self->labels);
  g_free (self->model_name);
  self->model = l->model;
  self->vit = l->vit;
  self->labels = l->labels;
  self->model_name = l->name;
  self->vit_attention = l->attention;
  *l = (Loaded){ 0 };
}

static gboolean
gst_heed_classify_start (GstBaseTransform *trans)
{
  GstHeedClassify *self = GST_HEED_CLASSIFY (trans);
  GError *error = NULL;
  Loaded l = { 0 };
  gint index;

  GST_OBJECT_LOCK (self);
  index = self->device_index;
  self->qos_earliest = GST_CLOCK_TIME_NONE;
  GST_OBJECT_UNLOCK (self);

  if (!(self->device = heed_device_new (index, &error))) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("No usable Vulkan device: %s", error->message),
                       ("heed_device_new (%d) failed", index));
    g_error_free (error);
    return FALSE;
  }
  GST_INFO_OBJECT (self, "running on %s", heed_device_get_name (self->device));
  if (!load_model (self, &l, &error)) {
    if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ||
        g_error_matches (error, HEED_ERROR, HEED_ERROR_IO))
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("%s", error->message), (NULL));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error->message), (NULL));
    g_error_free (error);
    heed_device_destroy (&self->device);
    return FALSE;
  }
  take_loaded (self, &l);
  self->frame_count = 0;
  self->have_layout = FALSE;
  self->processing_time = GST_CLOCK_TIME_NONE;
  self->reported_latency = 0;
  self->last_inference_rt = GST_CLOCK_TIME_NONE;
  return TRUE;
}

static gboolean
gst_heed_classify_stop (GstBaseTransform *trans)
{
  GstHeedClassify *self = GST_HEED_CLASSIFY (trans);
  Loaded l = { self->model, self->vit, self->labels, self->model_name, 0 };
  loaded_clear (&l);
  self->model = NULL, self->vit = NULL, self->labels = NULL, self->model_name = NULL;
  g_clear_pointer (&self->result, gst_structure_free);
  heed_device_destroy (&self->device); /* an imported device leaves GStreamer's alone */
  heed_gst_vulkan_clear (&self->gst_vulkan);
  self->have_layout = FALSE;
  self->vulkan_memory = FALSE;
  return TRUE;
}

/* ---- GStreamer's Vulkan device -------------------------------------------------------------- */

static void
gst_heed_classify_set_context (GstElement *element, GstContext *context)
{
  GstHeedClassify *self = GST_HEED_CLASSIFY (element);
  heed_gst_vulkan_set_context (&self->gst_vulkan, element, context);
  GST_ELEMENT_CLASS (gst_heed_classify_parent_class)->set_context (element, context);
}

/* Moves the runner onto GStreamer's Vulkan device (asked for through the gst.vulkan.device
 * context), so frames in Vulkan memory never leave it. Submissions go through GStreamer's
 * queue lock: other elements submit to the same VkQueue. */
static gboolean
use_gstreamer_device (GstHeedClassify *self, GError **error)
{
  if (heed_gst_vulkan_is_imported (&self->gst_vulkan)) /* already on it */
    return TRUE;
  HeedDevice *imported = heed_gst_vulkan_import (&self->gst_vulkan, GST_ELEMENT (self), error);
  if (!imported)
    return FALSE;
  HeedVitOptions opts = { .layer_attention = self->vit_attention == GST_HEED_ATTENTION_ROLLOUT };
  HeedVit *vit = heed_vit_new (imported, self->model, &opts, error);
  if (!vit) {
    heed_device_destroy (&imported);
    heed_gst_vulkan_clear (&self->gst_vulkan);
    return FALSE;
  }
  heed_vit_destroy (&self->vit);
  heed_device_destroy (&self->device);
  self->device = imported;
  self->vit = vit;
  GST_INFO_OBJECT (self, "running on GStreamer's Vulkan device %s",
                   heed_device_get_name (self->device));
  return TRUE;
}

/* ---- caps ----------------------------------------------------------------------------------- */

/* Builds the frame layout for info and records it into the runner. */
static gboolean
configure_layout (GstHeedClassify *self, GError **error)
{
  if (!heed_layout_from_video_info (&self->info, &self->layout, error))
    return FALSE;
  GST_OBJECT_LOCK (self);
  self->layout.resize = self->resize;
  GST_OBJECT_UNLOCK (self);
  if (!heed_vit_set_frame_layout (self->vit, &self->layout, error))
    return FALSE;
  self->have_layout = TRUE;
  return TRUE;
}

/* Runs one blank frame to warm the runner up and measure the processing latency. */
static void
measure_latency (GstHeedClassify *self)
{
  const HeedFrameLayout *l = &self->layout;
  guint8 *blank = g_malloc0 (l->size);
  const guint8 *planes[3] = { blank + l->offset[0], blank + l->offset[1], blank + l->offset[2] };
  GError *error = NULL;
  GstClockTime t0 = gst_util_get_timestamp ();
  if (heed_vit_run_frame (self->vit, planes, l->stride, &error))
    self->processing_time = gst_util_get_timestamp () - t0;
  else
    g_clear_error (&error);
  g_free (blank);
}

static gboolean
gst_heed_classify_set_caps (GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
  GstHeedClassify *self = GST_HEED_CLASSIFY (trans);
  GError *error = NULL;
  GstVideoInfo info;

  if (!gst_video_info_from_caps (&info, incaps)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Cannot read the video caps"),
                       ("%" GST_PTR_FORMAT, incaps));
    return FALSE;
  }
  self->info = info;
  self->vulkan_memory = heed_caps_have_vulkan_memory (incaps);
  if (self->vulkan_memory && !use_gstreamer_device (self, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("%s", error->message), (NULL));
    g_error_free (error);
    return FALSE;
  }
  if (!configure_layout (self, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Cannot classify this video: %s", error->message),
                       ("%" GST_PTR_FORMAT, incaps));
    g_error_free (error);
    return FALSE;
  }
  GST_INFO_OBJECT (self, "classifying %dx%d %s with %s", GST_VIDEO_INFO_WIDTH (&info),
                   GST_VIDEO_INFO_HEIGHT (&info),
                   gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&info)), self->model_name);
  if (!self->vulkan_memory)
    measure_latency (self);
  if (GST_CLOCK_TIME_IS_VALID (self->processing_time) &&
      self->processing_time > self->reported_latency) {
    /* the pipeline asks again and gets the new figure */
    gst_element_post_message (GST_ELEMENT (self), gst_message_new_latency (GST_OBJECT (self)));
  }
  return TRUE;
}

/* ---- QoS and latency ------------------------------------------------------------------------ */

static gboolean
gst_heed_classify_src_event (GstBaseTransform *trans, GstEvent *event)
{
  GstHeedClassify *self = GST_HEED_CLASSIFY (trans);
  if (GST_EVENT_TYPE (event) == GST_EVENT_QOS) {
    GstQOSType type;
    gdouble proportion;
    GstClockTimeDiff diff;
    GstClockTime timestamp;
    gst_event_parse_qos (event, &type, &proportion, &diff, &timestamp);
    GST_OBJECT_LOCK (self);
    if (GST_CLOCK_TIME_IS_VALID (timestamp))
      self->qos_earliest = diff > 0 ? timestamp + 2 * diff : timestamp + diff;
    GST_OBJECT_UNLOCK (self);
  } else if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP ||
             GST_EVENT_TYPE (event) == GST_EVENT_SEEK) {
    GST_OBJECT_LOCK (self);
    self->qos_earliest = GST_CLOCK_TIME_NONE;
    GST_OBJECT_UNLOCK (self);
  }
  return GST_BASE_TRANSFORM_CLASS (gst_heed_classify_parent_class)->src_event (trans, event);
}

/* Never drops a frame (the base class would drop late ones when QoS is on): lateness only
 * makes transform_ip skip inference. */
static GstFlowReturn
gst_heed_classify_submit_input_buffer (GstBaseTransform *trans, gboolean is_discont,
                                       GstBuffer *input)
{
  trans->queued_buf = input;
  return GST_FLOW_OK;
}

static gboolean
gst_heed_classify_query (GstBaseTransform *trans, GstPadDirection direction, GstQuery *query)
{
  GstHeedClassify *self = GST_HEED_CLASSIFY (trans);
  if (heed_gst_vulkan_handle_query (&self->gst_vulkan, GST_ELEMENT (self), query))
    return TRUE;
  if (direction == GST_PAD_SRC && GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    gboolean live;
    GstClockTime min, max;
    if (!gst_pad_peer_query (GST_BASE_TRANSFORM_SINK_PAD (trans), query))
      return FALSE;
    gst_query_parse_latency (query, &live, &min, &max);
    GstClockTime ours = GST_CLOCK_TIME_IS_VALID (self->processing_time) ? self->processing_time : 0;
    self->reported_latency = ours;
    self->upstream_live = live;
    GST_DEBUG_OBJECT (self, "adding %" GST_TIME_FORMAT " of processing latency",
                      GST_TIME_ARGS (ours));
    gst_query_set_latency (query, live, min + ours,
                           GST_CLOCK_TIME_IS_VALID (max) ? max + ours : max);
    return TRUE;
  }
  return GST_BASE_TRANSFORM_CLASS (gst_heed_classify_parent_class)->query (trans, direction, query);
}

/* ---- results ------------------------------------------------------------------------------ */

static GValue *
array_append (GValue *array, GValue *item)
{
  gst_value_array_append_and_take_value (array, item);
  return array;
}

/* The structure both the meta and the message are built from. */
static GstStructure *
build_result (GstHeedClassify *self, guint top_k, gdouble threshold, GstHeedAttention attention)
{
  const HeedVitOutput *o = heed_vit_get_output (self->vit);
  const HeedModelConfig *c = heed_vit_get_config (self->vit);
  GstStructure *s = gst_structure_new_empty (HEED_CLASSIFICATION_STRUCTURE_NAME);
  GValue labels = G_VALUE_INIT, ids_v = G_VALUE_INIT, confs = G_VALUE_INIT;

  g_value_init (&labels, GST_TYPE_ARRAY);
  g_value_init (&ids_v, GST_TYPE_ARRAY);
  g_value_init (&confs, GST_TYPE_ARRAY);
  guint *ids = g_new (guint, top_k);
  double *probs = g_new (double, top_k);
  guint n = heed_vit_top_k (self->vit, top_k, threshold, ids, probs);
  for (guint r = 0; r < n; r++) {
    GValue v = G_VALUE_INIT;
    g_value_init (&v, G_TYPE_STRING);
    g_value_set_string (&v, self->labels[ids[r]]);
    array_append (&labels, &v);
    g_value_init (&v, G_TYPE_INT);
    g_value_set_int (&v, (gint) ids[r]);
    array_append (&ids_v, &v);
    g_value_init (&v, G_TYPE_DOUBLE);
    g_value_set_double (&v, probs[r]);
    array_append (&confs, &v);
  }
  g_free (ids);
  g_free (probs);
  gst_structure_take_value (s, "labels", &labels);
  gst_structure_take_value (s, "label-ids", &ids_v);
  gst_structure_take_value (s, "confidences", &confs);

  if (attention != GST_HEED_ATTENTION_NONE) {
    guint np = c->num_patches;
    float *map = g_new (float, np), px, py;
    guint best = heed_vit_attention_map (
        self->vit,
        attention == GST_HEED_ATTENTION_ROLLOUT ? HEED_ATTENTION_ROLLOUT : HEED_ATTENTION_CLS, map);
    heed_vit_patch_in_frame (self->vit, best, &px, &py);
    GBytes *bytes = g_bytes_new_take (map, np * sizeof (float));
    gst_structure_set (s, "attention", G_TYPE_BYTES, bytes, "attention-width", G_TYPE_UINT, c->grid,
                       "attention-height", G_TYPE_UINT, c->grid, "attention-peak-x", G_TYPE_DOUBLE,
                       (gdouble) px, "attention-peak-y", G_TYPE_DOUBLE, (gdouble) py, NULL);
    g_bytes_unref (bytes);
  }
  GBytes *emb = g_bytes_new (o->embedding, c->dim * sizeof (float));
  gst_structure_set (s, "embedding", G_TYPE_BYTES, emb, "embedding-size", G_TYPE_UINT, c->dim,
                     "model", G_TYPE_STRING, self->model_name, "resize", G_TYPE_STRING,
                     self->layout.resize == HEED_RESIZE_CROP        ? "crop"
                     : self->layout.resize == HEED_RESIZE_LETTERBOX ? "letterbox"
                                                                    : "stretch",
                     NULL);
  g_bytes_unref (emb);
  return s;
}

/* top-1 of a result: label, id and confidence, or "", -1, 0 */
static void
top1 (const GstStructure *s, const gchar **label, gint *id, gdouble *conf)
{
  const GValue *labels = gst_structure_get_value (s, "labels");
  *label = "";
  *id = -1;
  *conf = 0.0;
  if (gst_value_array_get_size (labels) > 0) {
    *label = g_value_get_string (gst_value_array_get_value (labels, 0));
    *id = g_value_get_int (gst_value_array_get_value (gst_structure_get_value (s, "label-ids"), 0));
    *conf = g_value_get_double (
        gst_value_array_get_value (gst_structure_get_value (s, "confidences"), 0));
  }
}

static void
attach_and_post (GstHeedClassify *self, GstBuffer *buf, guint64 frame, gboolean inferred,
                 gboolean post)
{
  const GstStructure *r = self->result;
  const gchar *label;
  gint id;
  gdouble conf;
  GstStructure *meta = gst_structure_copy (r);

  gst_structure_set (meta, "inferred", G_TYPE_BOOLEAN, inferred, "frame", G_TYPE_UINT64, frame,
                     NULL);
  heed_classification_meta_add (buf, meta);
  gst_structure_free (meta);

  top1 (r, &label, &id, &conf);
  GstVideoRegionOfInterestMeta *roi = gst_buffer_add_video_region_of_interest_meta (
      buf, *label ? label : "heedclassify", 0, 0, GST_VIDEO_INFO_WIDTH (&self->info),
      GST_VIDEO_INFO_HEIGHT (&self->info));
  gst_video_region_of_interest_meta_add_param (
      roi, gst_structure_new ("classification", "label", G_TYPE_STRING, label, "label_id",
                              G_TYPE_INT, id, "confidence", G_TYPE_DOUBLE, conf, "model_name",
                              G_TYPE_STRING, self->model_name, "layer_name", G_TYPE_STRING, "head",
                              "attribute_name", G_TYPE_STRING, "classification", NULL));

  if (!post)
    return;
  GstSegment *seg = &GST_BASE_TRANSFORM (self)->segment;
  GstClockTime ts = GST_BUFFER_PTS (buf);
  GstStructure *m = gst_structure_new (
      "heedclassify", "timestamp", G_TYPE_UINT64, ts, "running-time", G_TYPE_UINT64,
      gst_segment_to_running_time (seg, GST_FORMAT_TIME, ts), "stream-time", G_TYPE_UINT64,
      gst_segment_to_stream_time (seg, GST_FORMAT_TIME, ts), "duration", G_TYPE_UINT64,
      GST_BUFFER_DURATION (buf), "frame", G_TYPE_UINT64, frame, "label", G_TYPE_STRING, label,
      "label-id", G_TYPE_INT, id, "confidence", G_TYPE_DOUBLE, conf, NULL);
  gst_structure_set_value (m, "labels", gst_structure_get_value (r, "labels"));
  gst_structure_set_value (m, "label-ids", gst_structure_get_value (r, "label-ids"));
  gst_structure_set_value (m, "confidences", gst_structure_get_value (r, "confidences"));
  gst_structure_set (m, "inferred", G_TYPE_BOOLEAN, inferred, NULL);
  if (gst_structure_has_field (r, "attention-peak-x"))
    gst_structure_set_value (m, "attention-peak-x",
                             gst_structure_get_value (r, "attention-peak-x"));
  if (gst_structure_has_field (r, "attention-peak-y"))
    gst_structure_set_value (m, "attention-peak-y",
                             gst_structure_get_value (r, "attention-peak-y"));
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), m));
}

/* ---- streaming ------------------------------------------------------------------------------ */

/* Loads a model changed while streaming; a failure keeps the old one and warns. */
static void
reload_model (GstHeedClassify *self)
{
  GError *error = NULL;
  Loaded l = { 0 };
  if (!load_model (self, &l, &error)) {
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
                         ("Keeping the current model: %s", error->message), (NULL));
    g_error_free (error);
    return;
  }
  take_loaded (self, &l);
  g_clear_pointer (&self->result, gst_structure_free);
  if (!configure_layout (self, &error)) {
    GST_ELEMENT_WARNING (self, STREAM, FORMAT, ("%s", error->message), (NULL));
    g_error_free (error);
    self->have_layout = FALSE;
  }
  GST_INFO_OBJECT (self, "now classifying with %s", self->model_name);
}

/* Whether this frame should skip inference to keep up: downstream said we are late, or, live,
 * the last inference took longer than the time since then. */
static gboolean
too_late (GstHeedClassify *self, GstBuffer *buf, GstClockTime earliest)
{
  GstSegment *seg = &GST_BASE_TRANSFORM (self)->segment;
  GstClockTime rt = gst_segment_to_running_time (seg, GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
  if (!gst_base_transform_is_qos_enabled (GST_BASE_TRANSFORM (self)) ||
      !GST_CLOCK_TIME_IS_VALID (rt))
    return FALSE;
  if (GST_CLOCK_TIME_IS_VALID (earliest) && rt < earliest)
    return TRUE;
  return self->upstream_live && GST_CLOCK_TIME_IS_VALID (self->last_inference_rt) &&
         GST_CLOCK_TIME_IS_VALID (self->processing_time) &&
         rt < self->last_inference_rt + self->processing_time;
}

static gboolean
run_system_frame (GstHeedClassify *self, GstBuffer *buf, GError **error)
{
  GstVideoFrame vframe;
  const guint8 *planes[3] = { NULL, NULL, NULL };
  guint stride[3] = { 0, 0, 0 };
  if (!gst_video_frame_map (&vframe, &self->info, buf, GST_MAP_READ)) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "cannot map the video frame");
    return FALSE;
  }
  for (guint i = 0; i < GST_VIDEO_FRAME_N_PLANES (&vframe) && i < 3; i++) {
    planes[i] = GST_VIDEO_FRAME_PLANE_DATA (&vframe, i);
    stride[i] = GST_VIDEO_FRAME_PLANE_STRIDE (&vframe, i);
  }
  gboolean ok = heed_vit_run_frame (self->vit, planes, stride, error);
  gst_video_frame_unmap (&vframe);
  return ok;
}

/* A frame in Vulkan memory (one memory per plane, as GStreamer's Vulkan elements make them):
 * copied on the device into the runner, never mapped. */
static gboolean
run_vulkan_frame (GstHeedClassify *self, GstBuffer *buf, GError **error)
{
  HeedDevicePlane planes[3] = { { 0 } };
  guint n = heed_gst_vulkan_planes (&self->gst_vulkan, buf, &self->info, planes, error);
  if (!n || !heed_vit_run_frame_device (self->vit, planes, n, error))
    return FALSE;
  heed_gst_vulkan_planes_done (buf, planes, n);
  return TRUE;
}

static GstFlowReturn
gst_heed_classify_transform_ip (GstBaseTransform *trans, GstBuffer *buf)
{
  GstHeedClassify *self = GST_HEED_CLASSIFY (trans);
  guint top_k, interval;
  gdouble threshold;
  gboolean post, reload, infer;
  GstHeedAttention attention;
  GstClockTime earliest;
  guint64 frame = self->frame_count++;

  GST_OBJECT_LOCK (self);
  top_k = self->top_k;
  threshold = self->threshold;
  interval = self->inference_interval;
  post = self->post_messages;
  reload = self->reload_pending;
  attention = self->attention;
  earliest = self->qos_earliest;
  GST_OBJECT_UNLOCK (self);

  if (reload)
    reload_model (self);
  if (!self->have_layout)
    return GST_FLOW_OK; /* a warning was posted; frames pass on */
  if (attention == GST_HEED_ATTENTION_ROLLOUT && self->vit_attention != attention)
    attention = GST_HEED_ATTENTION_CLS; /* until the reload with per-layer maps lands */

  infer = !self->result || (frame - self->last_inference_frame) >= interval;
  if (infer && self->result && too_late (self, buf, earliest)) {
    GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT " is late: carrying the result forward",
                    frame);
    infer = FALSE;
  }

  if (infer) {
    GError *error = NULL;
    GstClockTime t0 = gst_util_get_timestamp ();
    gboolean ok = self->vulkan_memory ? run_vulkan_frame (self, buf, &error)
                                      : run_system_frame (self, buf, &error);
    if (!ok) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Inference failed: %s", error->message), (NULL));
      g_error_free (error);
      return GST_FLOW_ERROR;
    }
    self->processing_time = gst_util_get_timestamp () - t0;
    /* latency grew well past what the pipeline was told: have it ask again */
    if (self->processing_time > self->reported_latency + self->reported_latency / 4)
      gst_element_post_message (GST_ELEMENT (self), gst_message_new_latency (GST_OBJECT (self)));
    self->last_inference_rt =
        gst_segment_to_running_time (&trans->segment, GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
    self->last_inference_frame = frame;
    if (self->result)
      gst_structure_free (self->result);
    self->result = build_result (self, top_k, threshold, attention);
  }
  attach_and_post (self, buf, frame, infer, post);
  return GST_FLOW_OK;
}
