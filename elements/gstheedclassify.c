/* SPDX-License-Identifier: LGPL-2.1-or-later */
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
#include "gstheedutils.h"

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
#define DEFAULT_PROP_MAX_INTERVAL 30
#define DEFAULT_PROP_CHANGE_THRESHOLD 0.05
#define DEFAULT_PROP_ATTENTION GST_HEED_ATTENTION_CLS
/* beside HeedResize's values: what the checkpoint's own config says */
#define GST_HEED_RESIZE_CHECKPOINT 3
#define DEFAULT_PROP_RESIZE GST_HEED_RESIZE_CHECKPOINT
/* beside HeedInterpolation's values: the checkpoint's own filter */
#define GST_HEED_INTERPOLATION_CHECKPOINT 100
#define DEFAULT_PROP_INTERPOLATION GST_HEED_INTERPOLATION_CHECKPOINT
#define DEFAULT_PROP_POST_MESSAGES TRUE
#define DEFAULT_PROP_FRAMES_IN_FLIGHT 0
#define DEFAULT_PROP_BATCH_SIZE 1
#define DEFAULT_PROP_INPUT_SIZE 0
#define DEFAULT_PROP_WEIGHTS HEED_WEIGHTS_F32
#define MAX_FRAMES_IN_FLIGHT 8
#define MAX_BATCH_SIZE 16

enum {
  PROP_0,
  PROP_MODEL,
  PROP_LABELS_FILE,
  PROP_DEVICE,
  PROP_TOP_K,
  PROP_THRESHOLD,
  PROP_INFERENCE_INTERVAL,
  PROP_MAX_INTERVAL,
  PROP_CHANGE_THRESHOLD,
  PROP_ATTENTION,
  PROP_RESIZE,
  PROP_INTERPOLATION,
  PROP_POST_MESSAGES,
  PROP_FRAMES_IN_FLIGHT,
  PROP_BATCH_SIZE,
  PROP_INPUT_SIZE,
  PROP_WEIGHTS,
};

/* One batch of frames: collecting (staged < batch size, not submitted), in flight
 * (submitted), or done and handing its results out in frame order. */
typedef struct {
  HeedVitRun *run;
  guint staged;            /* frames staged for its next submission */
  gboolean submitted;      /* on the device, or done and not yet emptied */
  gboolean collected;      /* results waited for */
  HeedVitResult **results; /* [max batch], once collected */
  guint outstanding;       /* its frames not yet pushed */
  GstClockTime submitted_at;
} Batch;

/* A frame held by the element, in arrival order. */
typedef struct {
  GstBuffer *buffer;
  guint64 frame;
  Batch *batch; /* NULL: carries the previous result forward */
  guint slot;
} Pending;

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
  guint inference_interval; /* 0: where the picture changed */
  guint max_interval;
  gdouble change_threshold;
  GstHeedAttention attention;
  gint resize;        /* a HeedResize, or GST_HEED_RESIZE_CHECKPOINT */
  gint interpolation; /* a HeedInterpolation, or GST_HEED_INTERPOLATION_CHECKPOINT */
  gboolean post_messages;
  guint frames_in_flight; /* 0: automatic */
  guint batch_size;
  guint input_size;          /* 0: the model's own */
  HeedWeightFormat weights;  /* how the plan stores the GEMM weights */
  gboolean reload_pending;   /* model, labels or attention changed while streaming */
  GstClockTime qos_earliest; /* from downstream QoS events */

  /* streaming state: built in start() and set_caps(), dropped in stop() */
  GstHeedDeviceState dev; /* the device: the pipeline's heed.device, or GStreamer's */
  HeedModel *model;
  HeedVitPlan *plan;
  gchar **labels;
  gchar *model_name;
  GstHeedAttention plan_attention; /* what the plan was built for */
  Batch *batches;                  /* frames in flight: one batch each */
  guint n_batches, max_batch;
  Batch *open;     /* the batch collecting frames, or NULL */
  GQueue held;     /* Pending, in arrival order */
  guint in_flight; /* batches submitted and not yet collected */
  GstVideoInfo info;
  HeedFrameLayout layout;
  gboolean have_layout;
  gboolean vulkan_memory;   /* the negotiated caps carry Vulkan memory */
  GstHeedImageMaker images; /* Vulkan buffers in, images out */
  guint64 frame_count;
  guint64 last_inference_frame;
  gboolean inferred_any;
  GstStructure *result;         /* the last result pushed, carried forward */
  GstClockTime processing_time; /* the last batch's wall-clock time on the device */
  GstClockTime reported_latency;
  gboolean upstream_live;
  GstClockTime last_inference_rt;
  /* live, with a model slower than the frames: the batch whose forward pass runs a slice a
   * frame while the frames pass on (see detached ()), the frame it runs on, and how long a
   * slice has taken lately (decaying) */
  Batch *background;
  guint64 background_frame;
  GstClockTime slice_time;
  GstClockTime pass_time;  /* the sliced pass's slices so far: its time on the device */
  GstClockTime start_time; /* a pass's first frame: the frame's copy and the first slice */
  guint64 result_frame;    /* the frame self->result was computed on */
  /* inference-interval=0: each frame's compact embedding (engine/keyframe.c), and the one of
   * the last frame classified */
  HeedKeyframeScorer *changes;
  float embedding[HEED_KEYFRAME_DIM], reference[HEED_KEYFRAME_DIM];
  float tone[3], reference_tone[3]; /* mean colours */
  gboolean have_reference;
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
static GstFlowReturn gst_heed_classify_generate_output (GstBaseTransform *trans,
                                                        GstBuffer **outbuf);
static gboolean gst_heed_classify_sink_event (GstBaseTransform *trans, GstEvent *event);
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

#define GST_TYPE_HEED_WEIGHTS (gst_heed_weights_get_type ())
static GType
gst_heed_weights_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { HEED_WEIGHTS_F32, "float32: the checkpoint's values as they load", "fp32" },
    { HEED_WEIGHTS_F16,
      "IEEE half: half the memory and bandwidth; results move by the weights' rounding "
      "(none for F16 checkpoints)",
      "fp16" },
    { HEED_WEIGHTS_F16_MATMUL,
      "IEEE half, and the activations entering those multiplies rounded to half too, sums in "
      "float32, as tensor cores take them",
      "fp16-matmul" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstHeedWeights", values));
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
    { GST_HEED_RESIZE_CHECKPOINT,
      "As the checkpoint's own preprocessing config says (timm's config.json pretrained_cfg or "
      "transformers' preprocessor_config.json: e.g. the shorter side scaled and a centre crop of "
      "crop_pct); a plain stretch when it says nothing",
      "checkpoint" },
    { HEED_RESIZE_LETTERBOX, "Scale the whole frame keeping its aspect ratio, with black bars",
      "letterbox" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstHeedResize", values));
  return type;
}

#define GST_TYPE_HEED_INTERPOLATION (gst_heed_interpolation_get_type ())
static GType
gst_heed_interpolation_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_HEED_INTERPOLATION_CHECKPOINT,
      "The filter the checkpoint's config names (timm's interpolation, transformers' resample); "
      "bilinear when it names none",
      "checkpoint" },
    { HEED_INTERPOLATION_BILINEAR, "Bilinear (triangle filter)", "bilinear" },
    { HEED_INTERPOLATION_BICUBIC, "Bicubic (Pillow's, a = -0.5)", "bicubic" },
    { HEED_INTERPOLATION_LANCZOS, "Lanczos (3 lobes)", "lanczos" },
    { HEED_INTERPOLATION_BOX, "Box (the average of the pixels covered)", "box" },
    { HEED_INTERPOLATION_HAMMING, "Hamming-windowed sinc", "hamming" },
    { HEED_INTERPOLATION_NEAREST, "Nearest pixel (no antialiasing)", "nearest" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstHeedInterpolation", values));
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
          "Path of a vision-transformer checkpoint, safetensors or a PyTorch checkpoint as "
          "torch.save writes it (pytorch_model.bin, .pth: read without running anything in it), "
          "with timm or Hugging Face tensor names (F32, F16, BF16 or F64); a checkpoint sharded "
          "over "
          "several files by its index (model.safetensors.index.json); OpenCLIP's image tower "
          "(open_clip_model.safetensors or open_clip_pytorch_model.bin, with "
          "open_clip_config.json beside it); or the folder that holds one; or a Hugging Face "
          "hub name, "
          "hf:OWNER/NAME[@REVISION] (e.g. hf:timm/deit_tiny_patch16_224.fb_in1k; also "
          "hf-hub:OWNER/NAME or the repository's https://huggingface.co/OWNER/NAME): fetched once "
          "into the cache ($XDG_CACHE_HOME/heed/hub), checked against the hub's SHA-256, and "
          "used offline after that. A config.json (and preprocessor_config.json) beside it is "
          "read for the head count, labels and preprocessing. Unset, the embedded default model "
          "runs: it recognises the looks "
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
          "integrated one, then the CPU). All heed elements of a pipeline share one device (the "
          "heed.device context): this index is used by the element that opens it, and frames in "
          "Vulkan memory run on GStreamer's device.",
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
          "last result forward, marked inferred=FALSE. 0: only where the picture changed, "
          "attention as a budget: each frame gets heedkeyframe's compact embedding (a 64 x 64 "
          "thumbnail's colour layout, colours and edges, pooled on the device), and the model runs "
          "when it has moved more than change-threshold from the last classified frame's, or "
          "max-interval frames after the last inference. (Frames in Vulkan memory get their "
          "thumbnail on the device.)",
          0, G_MAXUINT, DEFAULT_PROP_INFERENCE_INTERVAL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (
      gobject_class, PROP_MAX_INTERVAL,
      g_param_spec_uint (
          "max-interval", "Max interval",
          "With inference-interval=0: the most frames a result is carried forward, however "
          "still the picture (so a slow change is caught up with).",
          1, G_MAXUINT, DEFAULT_PROP_MAX_INTERVAL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (
      gobject_class, PROP_CHANGE_THRESHOLD,
      g_param_spec_double (
          "change-threshold", "Change threshold",
          "With inference-interval=0: how far a frame's compact embedding must move from the "
          "last classified frame's for the model to run again: 1 - cosine similarity averaged "
          "over its colour-layout, colour and edge parts, or the change of the frame's mean "
          "colour (RMS over R, G, B in 0..1), whichever is larger (0: any change; 0.05: a "
          "visible change of the picture; 1: unrelated pictures, or black to white).",
          0.0, 2.0, DEFAULT_PROP_CHANGE_THRESHOLD,
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
          "How a frame is fitted to the model's square input: as the checkpoint's own "
          "preprocessing config says (the default), stretch, centre crop, or letterbox. The "
          "model's mean and std always come from its config (ImageNet's when it gives none); "
          "the debug log (GST_DEBUG=heedclassify:4) says which preprocessing runs and where it "
          "came from.",
          GST_TYPE_HEED_RESIZE, DEFAULT_PROP_RESIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_INTERPOLATION,
      g_param_spec_enum (
          "interpolation", "Interpolation",
          "The resampling filter, as Pillow applies it on 8-bit RGB (every filter but nearest "
          "widened when shrinking, so small copies of large frames do not alias): the "
          "checkpoint's own (the default, so frames reach the model as they reached it in "
          "training) or one named here.",
          GST_TYPE_HEED_INTERPOLATION, DEFAULT_PROP_INTERPOLATION,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
                            "Post a \"heedclassify\" element message on the bus for every frame.",
                            DEFAULT_PROP_POST_MESSAGES,
                            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (
      gobject_class, PROP_FRAMES_IN_FLIGHT,
      g_param_spec_uint (
          "frames-in-flight", "Frames in flight",
          "How many batches of frames may be on the device at once: frame N+1 is prepared and "
          "submitted while frame N computes, and frames leave in their order with their "
          "timestamps. A frame may wait for the batches before it, so each adds up to one "
          "processing time of latency (the latency query reports it). 0 chooses "
          "for the device: 1 on a CPU driver such as lavapipe (measured best there, "
          "docs/benchmarks.md), 3 on a GPU.",
          0, MAX_FRAMES_IN_FLIGHT, DEFAULT_PROP_FRAMES_IN_FLIGHT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_BATCH_SIZE,
      g_param_spec_uint (
          "batch-size", "Batch size",
          "Frames run through the model together in one submission, for throughput on files. "
          "A live source always runs frames one by one, so they are never held back for a "
          "batch to fill; EOS, a caps change or a serialized event runs a partial batch.",
          1, MAX_BATCH_SIZE, DEFAULT_PROP_BATCH_SIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_INPUT_SIZE,
      g_param_spec_uint (
          "input-size", "Input size",
          "Run the model at this many pixels square instead of the size it was trained at (a "
          "multiple of its patch size): its position embedding is resampled from the "
          "checkpoint's as its authors do (timm's antialiased bicubic; for transformers' DINOv2, "
          "bicubic without antialiasing). A 224 px model at 448 gives a 28 x 28 attention map; "
          "accuracy may change. A Swin model keeps its windows over larger or smaller grids "
          "(swin-tiny at 448: a 14 x 14 map), padded to whole windows where they do not tile a "
          "grid, as the checkpoint's library pads them; transformers' BEiT resamples its "
          "relative position tables as transformers does (timm's BEiT is refused). 0 keeps the "
          "model's own "
          "size (for transformers' DINOv2, the size its preprocessor_config.json crops to).",
          0, 4096, DEFAULT_PROP_INPUT_SIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (
      gobject_class, PROP_WEIGHTS,
      g_param_spec_enum (
          "weights", "Weight storage",
          "How the model's matrix-multiply weights (patch embedding, attention, MLP, head) are "
          "stored on the device. fp16 halves their memory and, on a GPU, the bandwidth a frame "
          "needs; the arithmetic stays float32 with both, and biases, norms and embeddings stay "
          "float32. Results move by the weights' rounding to half (for a float32 checkpoint, "
          "about 1e-4 in the attention map), not at all for an F16 checkpoint. fp16-matmul also "
          "rounds the multiplies' other operand to half, as tensor cores take it (results move "
          "by up to about twice fp16's); with HEED_COOPMAT=1 in the environment it runs them on "
          "cooperative matrices where the Vulkan device has them (NVIDIA's "
          "VK_NV_cooperative_matrix; not yet checked on a GPU), elsewhere it computes the same "
          "rounded products in the usual kernels, slower than fp32 on a CPU.",
          GST_TYPE_HEED_WEIGHTS, DEFAULT_PROP_WEIGHTS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  gst_element_class_set_static_metadata (
      element_class, "heed vision-transformer classifier", "Filter/Analyzer/Video",
      "Classifies video frames with a vision transformer on Vulkan and reports where it looked. "
      "With a live source and a model slower than the frames (and qos on), the forward pass runs "
      "a slice a frame and the frames carry the last finished result (result-frame names the "
      "frame it was computed on), so the stream never waits for a whole pass.",
      "heed developers");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  element_class->set_context = GST_DEBUG_FUNCPTR (gst_heed_classify_set_context);

  trans_class->start = GST_DEBUG_FUNCPTR (gst_heed_classify_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_heed_classify_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_heed_classify_set_caps);
  trans_class->submit_input_buffer = GST_DEBUG_FUNCPTR (gst_heed_classify_submit_input_buffer);
  trans_class->transform_caps = gst_heed_transform_caps;
  trans_class->generate_output = GST_DEBUG_FUNCPTR (gst_heed_classify_generate_output);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_heed_classify_sink_event);
  trans_class->src_event = GST_DEBUG_FUNCPTR (gst_heed_classify_src_event);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_heed_classify_query);
  trans_class->passthrough_on_same_caps = FALSE;

  gst_type_mark_as_plugin_api (GST_TYPE_HEED_ATTENTION, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_HEED_RESIZE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_HEED_INTERPOLATION, 0);
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
  self->max_interval = DEFAULT_PROP_MAX_INTERVAL;
  self->change_threshold = DEFAULT_PROP_CHANGE_THRESHOLD;
  self->attention = DEFAULT_PROP_ATTENTION;
  self->resize = DEFAULT_PROP_RESIZE;
  self->interpolation = DEFAULT_PROP_INTERPOLATION;
  self->post_messages = DEFAULT_PROP_POST_MESSAGES;
  self->frames_in_flight = DEFAULT_PROP_FRAMES_IN_FLIGHT;
  self->batch_size = DEFAULT_PROP_BATCH_SIZE;
  self->weights = DEFAULT_PROP_WEIGHTS;
  self->qos_earliest = GST_CLOCK_TIME_NONE;
  g_queue_init (&self->held);
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
  gst_heed_device_state_clear (&self->dev);
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
  case PROP_MAX_INTERVAL: self->max_interval = g_value_get_uint (value); break;
  case PROP_CHANGE_THRESHOLD: self->change_threshold = g_value_get_double (value); break;
  case PROP_ATTENTION:
    self->attention = g_value_get_enum (value);
    self->reload_pending = TRUE;
    break;
  case PROP_RESIZE: self->resize = g_value_get_enum (value); break;
  case PROP_INTERPOLATION: self->interpolation = g_value_get_enum (value); break;
  case PROP_POST_MESSAGES: self->post_messages = g_value_get_boolean (value); break;
  case PROP_FRAMES_IN_FLIGHT: self->frames_in_flight = g_value_get_uint (value); break;
  case PROP_BATCH_SIZE: self->batch_size = g_value_get_uint (value); break;
  case PROP_INPUT_SIZE:
    self->input_size = g_value_get_uint (value);
    self->reload_pending = TRUE;
    break;
  case PROP_WEIGHTS: self->weights = g_value_get_enum (value); break;
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
  case PROP_MAX_INTERVAL: g_value_set_uint (value, self->max_interval); break;
  case PROP_CHANGE_THRESHOLD: g_value_set_double (value, self->change_threshold); break;
  case PROP_ATTENTION: g_value_set_enum (value, self->attention); break;
  case PROP_RESIZE: g_value_set_enum (value, self->resize); break;
  case PROP_INTERPOLATION: g_value_set_enum (value, self->interpolation); break;
  case PROP_POST_MESSAGES: g_value_set_boolean (value, self->post_messages); break;
  case PROP_FRAMES_IN_FLIGHT: g_value_set_uint (value, self->frames_in_flight); break;
  case PROP_BATCH_SIZE: g_value_set_uint (value, self->batch_size); break;
  case PROP_INPUT_SIZE: g_value_set_uint (value, self->input_size); break;
  case PROP_WEIGHTS: g_value_set_enum (value, self->weights); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* ---- model loading ------------------------------------------------------------------------ */

typedef struct {
  HeedModel *model;
  gchar **labels;
  gchar *name;
  GstHeedAttention attention;
} Loaded;

static void
loaded_clear (Loaded *l)
{
  heed_model_destroy (&l->model);
  g_clear_pointer (&l->labels, g_strfreev);
  g_clear_pointer (&l->name, g_free);
}

/* A hub download's progress in the debug log: at most one line a second, and the end. */
static void
log_download (const char *file, guint64 done, guint64 total, gpointer data)
{
  static gint64 last_line = 0;
  gint64 now = g_get_monotonic_time ();
  if ((total && done == total) || now - last_line >= G_USEC_PER_SEC) {
    last_line = now;
    GST_INFO_OBJECT (data, "downloading %s: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes",
                     file, done, total);
  }
}

/* Loads the model and labels the settings name (host memory only: the device comes with the
 * caps). On failure sets error and returns FALSE with nothing allocated. */
static gboolean
load_model (GstHeedClassify *self, Loaded *out, GError **error)
{
  gchar *path, *labels_file;
  guint input_size;
  GST_OBJECT_LOCK (self);
  input_size = self->input_size;
  path = g_strdup (self->model_path);
  labels_file = g_strdup (self->labels_file);
  out->attention = self->attention;
  self->reload_pending = FALSE;
  GST_OBJECT_UNLOCK (self);

  /* no model named: the embedded default one; a hub name from the cache, fetched first */
  gchar *local = path && *path ? heed_hub_resolve (path, log_download, self, error) : NULL;
  if (path && *path && !local)
    goto fail;
  out->model = local ? heed_model_load (local, error) : heed_model_load_default (error);
  g_free (local);
  if (!out->model || (input_size && !heed_model_set_input_size (out->model, input_size, error)))
    goto fail;
  out->labels = heed_labels_resolve (labels_file, out->model->config.labels,
                                     out->model->config.num_classes, error);
  if (!out->labels && out->model->config.num_classes)
    goto fail;
  out->name = !path || !*path           ? g_strdup ("default")
              : heed_hub_is_name (path) ? g_strdup (path)
                                        : g_filename_display_basename (path);
  {
    char *what = heed_model_describe (&out->model->config);
    GST_INFO_OBJECT (self, "model %s: %s", out->name, what);
    g_free (what);
  }
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
  heed_model_destroy (&self->model);
  g_strfreev (self->labels);
  g_free (self->model_name);
  self->model = l->model;
  self->labels = l->labels;
  self->model_name = l->name;
  self->plan_attention = l->attention;
  *l = (Loaded){ 0 };
}

/* ---- batches: the frames in flight -------------------------------------------------------- */

static guint
frames_in_flight (GstHeedClassify *self)
{
  guint n;
  GST_OBJECT_LOCK (self);
  n = self->frames_in_flight;
  GST_OBJECT_UNLOCK (self);
  if (n == 0) /* measured (docs/benchmarks.md): lavapipe gains nothing from more */
    n = heed_device_get_type (self->dev.device) == VK_PHYSICAL_DEVICE_TYPE_CPU ? 1 : 3;
  return n;
}

static void cancel_background (GstHeedClassify *self);

/* Waits for every batch on the device and drops the frames held, without pushing them (a
 * flush, or stopping). */
static void
discard_held (GstHeedClassify *self)
{
  Pending *p;
  while ((p = g_queue_pop_head (&self->held))) {
    gst_buffer_unref (p->buffer);
    g_free (p);
  }
  cancel_background (self); /* a sliced pass: what is left of it is not worth running */
  for (guint i = 0; i < self->n_batches; i++) {
    Batch *b = &self->batches[i];
    HeedVitResult **results = b->results;
    if (b->submitted && !b->collected) {
      GError *error = NULL;
      if (!heed_vit_run_wait (b->run, results, &error)) {
        GST_WARNING_OBJECT (self, "dropping a batch in flight: %s", error->message);
        g_clear_error (&error);
        memset (results, 0, self->max_batch * sizeof *results);
      }
    }
    for (guint j = 0; j < self->max_batch && b->submitted; j++)
      heed_vit_result_destroy (&results[j]);
    *b = (Batch){ .run = b->run, .results = results };
  }
  self->open = NULL;
  self->in_flight = 0;
}

static void
batches_free (GstHeedClassify *self)
{
  discard_held (self);
  for (guint i = 0; i < self->n_batches; i++) {
    heed_vit_run_destroy (&self->batches[i].run);
    g_free (self->batches[i].results);
  }
  g_clear_pointer (&self->batches, g_free);
  self->n_batches = 0;
}

/* The plan for the model on the current device, and its runs: one per frame in flight. */
static gboolean
build_plan (GstHeedClassify *self, GError **error)
{
  guint batch;
  batches_free (self);
  heed_vit_plan_destroy (&self->plan);
  HeedVitOptions opts = { .layer_attention = self->plan_attention == GST_HEED_ATTENTION_ROLLOUT };
  GST_OBJECT_LOCK (self);
  batch = self->batch_size;
  opts.weights = self->weights;
  GST_OBJECT_UNLOCK (self);
  if (!(self->plan = heed_vit_plan_new (self->dev.device, self->model, &opts, error)))
    return FALSE;
  self->max_batch = batch;
  self->n_batches = frames_in_flight (self);
  self->batches = g_new0 (Batch, self->n_batches);
  for (guint i = 0; i < self->n_batches; i++) {
    self->batches[i].results = g_new0 (HeedVitResult *, batch);
    if (!(self->batches[i].run = heed_vit_run_new (self->plan, batch, error)))
      return FALSE;
  }
  GST_INFO_OBJECT (self, "%u frame(s) in flight, batches of up to %u", self->n_batches, batch);
  GST_INFO_OBJECT (self, "preprocessing: %s", self->model->config.preprocess_source);
  return TRUE;
}

static GstFlowReturn
inference_failed (GstHeedClassify *self, GError *error)
{
  GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Inference failed: %s", error->message), (NULL));
  g_error_free (error);
  return GST_FLOW_ERROR;
}

static gboolean
submit_batch (GstHeedClassify *self, Batch *b, GError **error)
{
  if (!heed_vit_run_submit (b->run, b->staged, error))
    return FALSE;
  b->submitted = TRUE;
  b->submitted_at = gst_util_get_timestamp ();
  self->in_flight++;
  if (self->open == b)
    self->open = NULL;
  return TRUE;
}

static GstClockTime added_latency (GstHeedClassify *self);

/* Latency grew well past what the pipeline was told: has it ask again. */
static void
check_latency (GstHeedClassify *self)
{
  if (added_latency (self) > self->reported_latency + self->reported_latency / 4)
    gst_element_post_message (GST_ELEMENT (self), gst_message_new_latency (GST_OBJECT (self)));
}

static gboolean
collect_batch (GstHeedClassify *self, Batch *b, GError **error)
{
  if (!b->submitted && !submit_batch (self, b, error)) /* a partial batch, forced out */
    return FALSE;
  if (!heed_vit_run_wait (b->run, b->results, error))
    return FALSE;
  b->collected = TRUE;
  self->in_flight--;
  if (heed_vit_run_get_slices (b->run) == 1) /* a sliced pass spans frames */
    self->processing_time = gst_util_get_timestamp () - b->submitted_at;
  /* latency grew well past what the pipeline was told: have it ask again */
  check_latency (self);
  return TRUE;
}

/* ---- the device, GStreamer's contexts ------------------------------------------------------ */

static void
gst_heed_classify_set_context (GstElement *element, GstContext *context)
{
  GstHeedClassify *self = GST_HEED_CLASSIFY (element);
  gst_heed_device_state_set_context (&self->dev, element, context);
  GST_ELEMENT_CLASS (gst_heed_classify_parent_class)->set_context (element, context);
}

static gboolean
gst_heed_classify_start (GstBaseTransform *trans)
{
  GstHeedClassify *self = GST_HEED_CLASSIFY (trans);
  GError *error = NULL;
  Loaded l = { 0 };

  GST_OBJECT_LOCK (self);
  self->qos_earliest = GST_CLOCK_TIME_NONE;
  GST_OBJECT_UNLOCK (self);
  /* the model now, so a bad file fails the state change; the device comes with the caps,
   * which say whether frames arrive in GStreamer's Vulkan memory */
  if (!load_model (self, &l, &error)) {
    if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ||
        g_error_matches (error, HEED_ERROR, HEED_ERROR_IO))
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("%s", error->message), (NULL));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error->message), (NULL));
    g_error_free (error);
    return FALSE;
  }
  take_loaded (self, &l);
  self->frame_count = 0;
  self->inferred_any = FALSE;
  self->have_layout = FALSE;
  self->processing_time = GST_CLOCK_TIME_NONE;
  self->reported_latency = 0;
  self->slice_time = self->start_time = 0;
  self->last_inference_rt = GST_CLOCK_TIME_NONE;
  self->have_reference = FALSE;
  return TRUE;
}

static gboolean
gst_heed_classify_stop (GstBaseTransform *trans)
{
  GstHeedClassify *self = GST_HEED_CLASSIFY (trans);
  Loaded l = { self->model, self->labels, self->model_name, 0 };
  batches_free (self);
  heed_vit_plan_destroy (&self->plan);
  loaded_clear (&l);
  self->model = NULL, self->labels = NULL, self->model_name = NULL;
  g_clear_pointer (&self->result, gst_structure_free);
  heed_keyframe_scorer_destroy (&self->changes);
  gst_heed_image_maker_clear (&self->images);
  gst_heed_device_state_stop (&self->dev);
  self->have_layout = FALSE;
  self->vulkan_memory = FALSE;
  return TRUE;
}

/* ---- caps ----------------------------------------------------------------------------------- */

/* Builds the frame layout for info and sets it on every run. */
static gboolean
configure_layout (GstHeedClassify *self, GError **error)
{
  self->have_layout = FALSE;
  if (!gst_heed_layout_from_video_info (&self->info, &self->layout, error))
    return FALSE;
  GST_OBJECT_LOCK (self);
  gint resize = self->resize, interpolation = self->interpolation;
  GST_OBJECT_UNLOCK (self);
  const HeedModelConfig *c = &self->model->config;
  /* the checkpoint's own preprocessing, its geometry unless the property says otherwise */
  heed_frame_layout_use_model (&self->layout, c);
  if (resize != GST_HEED_RESIZE_CHECKPOINT) {
    self->layout.resize = (HeedResize) resize;
    self->layout.crop_fraction = 1.0f;
  }
  if (interpolation != GST_HEED_INTERPOLATION_CHECKPOINT)
    self->layout.interpolation = (HeedInterpolation) interpolation;
  GST_INFO_OBJECT (
      self, "%ux%u frames: %s %.4g, %s%s%s", self->layout.width, self->layout.height,
      self->layout.resize == HEED_RESIZE_CROP        ? "centre crop"
      : self->layout.resize == HEED_RESIZE_LETTERBOX ? "letterbox"
                                                     : "stretch",
      self->layout.crop_fraction, heed_interpolation_name (self->layout.interpolation),
      resize == GST_HEED_RESIZE_CHECKPOINT ? "" : " (resize property)",
      interpolation == GST_HEED_INTERPOLATION_CHECKPOINT ? "" : " (interpolation property)");
  for (guint i = 0; i < self->n_batches; i++)
    if (!heed_vit_run_set_frame_layout (self->batches[i].run, &self->layout, error))
      return FALSE;
  heed_keyframe_scorer_destroy (&self->changes); /* made again for the new frames when needed */
  self->have_reference = FALSE;
  self->have_layout = TRUE;
  return TRUE;
}

/* Runs one blank frame to warm the runs up and measure the processing latency. */
static void
measure_latency (GstHeedClassify *self)
{
  const HeedFrameLayout *l = &self->layout;
  guint8 *blank = g_malloc0 (l->size);
  const guint8 *planes[3] = { blank + l->offset[0], blank + l->offset[1], blank + l->offset[2] };
  HeedVitRun *run = self->batches[0].run;
  HeedVitResult *result = NULL;
  GError *error = NULL;
  /* twice: the first run records the pass and builds its pipelines, which later ones do not */
  for (guint i = 0; i < 2; i++) {
    GstClockTime t0 = gst_util_get_timestamp ();
    if (heed_vit_run_set_slices (run, 1, &error) &&
        heed_vit_run_set_frame (run, 0, planes, l->stride, &error) &&
        heed_vit_run_submit (run, 1, &error) && heed_vit_run_wait (run, &result, &error))
      self->processing_time = gst_util_get_timestamp () - t0;
    else
      g_clear_error (&error);
    heed_vit_result_destroy (&result);
  }
  g_free (blank);
}

/* Whether upstream is live: batches then never wait to fill. */
static gboolean
upstream_is_live (GstHeedClassify *self)
{
  GstQuery *q = gst_query_new_latency ();
  gboolean live = FALSE;
  if (gst_pad_peer_query (GST_BASE_TRANSFORM_SINK_PAD (self), q))
    gst_query_parse_latency (q, &live, NULL, NULL);
  gst_query_unref (q);
  return live;
}

static gboolean
gst_heed_classify_set_caps (GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
  GstHeedClassify *self = GST_HEED_CLASSIFY (trans);
  GError *error = NULL;
  GstVideoInfo info;
  gboolean changed;
  gint index;

  if (!gst_video_info_from_caps (&info, incaps)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Cannot read the video caps"),
                       ("%" GST_PTR_FORMAT, incaps));
    return FALSE;
  }
  self->info = info;
  self->vulkan_memory = gst_heed_caps_have_vulkan_memory (incaps);
  GST_OBJECT_LOCK (self);
  index = self->device_index;
  GST_OBJECT_UNLOCK (self);
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
  if ((changed || !self->plan) && !build_plan (self, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, ("Cannot run the model: %s", error->message),
                       (NULL));
    g_error_free (error);
    return FALSE;
  }
  if (!configure_layout (self, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Cannot classify this video: %s", error->message),
                       ("%" GST_PTR_FORMAT, incaps));
    g_error_free (error);
    return FALSE;
  }
  self->upstream_live = upstream_is_live (self);
  GST_INFO_OBJECT (self, "classifying %dx%d %s with %s on %s", GST_VIDEO_INFO_WIDTH (&info),
                   GST_VIDEO_INFO_HEIGHT (&info),
                   gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&info)), self->model_name,
                   heed_device_get_name (self->dev.device));
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

/* A frame's duration: the buffer's, else the caps' frame rate's, else 1/30 s. */
static GstClockTime
frame_duration (GstHeedClassify *self, GstBuffer *buf)
{
  gint n = GST_VIDEO_INFO_FPS_N (&self->info), d = GST_VIDEO_INFO_FPS_D (&self->info);
  if (buf && GST_BUFFER_DURATION_IS_VALID (buf))
    return GST_BUFFER_DURATION (buf);
  return n > 0 && d > 0 ? gst_util_uint64_scale_int (GST_SECOND, d, n) : GST_SECOND / 30;
}

/* Live, with a model slower than the frames (its last whole pass took longer than a frame
 * lasts): the forward pass is cut into slices of about a quarter of a frame's time (at most
 * one a half block), and each frame runs the next slice and waits for it, so no frame is held for
 * more than a slice, and the rest of the frame's time is left to the elements around. A frame
 * picked for inference goes on with the result before it; the frames after the last slice carry the
 * new result (result-frame says which frame it was computed on). Held back for the whole pass
 * instead, such a frame would hold up the source's thread and every frame behind it: a sink that
 * syncs to the clock in that thread would get every frame late. Whole, in the background, the pass
 * would hold up the other heed elements' work on the device's queue (lavapipe has one). */
static gboolean
detached (GstHeedClassify *self, GstBuffer *buf)
{
  /* qos=false asks for every frame's own result, whatever the time */
  return self->upstream_live && gst_base_transform_is_qos_enabled (GST_BASE_TRANSFORM (self)) &&
         GST_CLOCK_TIME_IS_VALID (self->processing_time) &&
         self->processing_time > frame_duration (self, buf);
}

/* The slices a detached pass is cut into: a quarter of a frame's time each, going by the last
 * whole pass (heed_vit_run_set_slices keeps it to one a half block); the rest of the frame's
 * time is for the elements around. */
static guint
slices_for (GstHeedClassify *self, GstBuffer *buf)
{
  if (!detached (self, buf))
    return 1;
  GstClockTime quarter = MAX (frame_duration (self, buf) / 4, 1);
  return (guint) MIN ((self->processing_time + quarter - 1) / quarter, HEED_VIT_MAX_SLICES);
}

/* What the element adds at most: a frame leaves as soon as its batch is done, but the device
 * runs batches one after another, so a frame may wait for every batch in flight before its
 * own; and, when not live, for its batch to fill. */
static GstClockTime
added_latency (GstHeedClassify *self)
{
  if (detached (self, NULL)) {
    /* a frame waits for its slice, and in a pipeline that runs in one thread it may come in
     * late by what the frame before it overran: a frame's time and a slice */
    guint most = self->n_batches ? heed_vit_run_max_slices (self->batches[0].run) : 1;
    GstClockTime slice = self->processing_time / MIN (slices_for (self, NULL), most);
    return frame_duration (self, NULL) + MAX (MAX (slice, self->slice_time), self->start_time);
  }
  GstClockTime ours = GST_CLOCK_TIME_IS_VALID (self->processing_time) ? self->processing_time : 0;
  ours *= MAX (self->n_batches, 1);
  gint n = GST_VIDEO_INFO_FPS_N (&self->info), d = GST_VIDEO_INFO_FPS_D (&self->info);
  if (!self->upstream_live && self->max_batch > 1 && n > 0 && d > 0)
    ours += gst_util_uint64_scale_int ((self->max_batch - 1) * GST_SECOND, d, n);
  return ours;
}

static gboolean
gst_heed_classify_query (GstBaseTransform *trans, GstPadDirection direction, GstQuery *query)
{
  GstHeedClassify *self = GST_HEED_CLASSIFY (trans);
  if (gst_heed_device_state_handle_query (&self->dev, GST_ELEMENT (self), query))
    return TRUE;
  if (direction == GST_PAD_SRC && GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    gboolean live;
    GstClockTime min, max;
    if (!gst_pad_peer_query (GST_BASE_TRANSFORM_SINK_PAD (trans), query))
      return FALSE;
    gst_query_parse_latency (query, &live, &min, &max);
    GstClockTime ours = added_latency (self);
    self->reported_latency = ours;
    self->upstream_live = live;
    GST_DEBUG_OBJECT (self, "adding %" GST_TIME_FORMAT " of latency", GST_TIME_ARGS (ours));
    gst_query_set_latency (query, live, min + ours,
                           GST_CLOCK_TIME_IS_VALID (max) ? max + ours : max);
    return TRUE;
  }
  gboolean ok =
      GST_BASE_TRANSFORM_CLASS (gst_heed_classify_parent_class)->query (trans, direction, query);
  if (ok)
    gst_heed_prefer_vulkan_buffers (direction, query);
  return ok;
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
build_result (GstHeedClassify *self, const HeedVitResult *o, guint top_k, gdouble threshold,
              GstHeedAttention attention)
{
  const HeedModelConfig *c = &o->config;
  GstStructure *s = gst_structure_new_empty (HEED_CLASSIFICATION_STRUCTURE_NAME);
  GValue labels = G_VALUE_INIT, ids_v = G_VALUE_INIT, confs = G_VALUE_INIT;

  g_value_init (&labels, GST_TYPE_ARRAY);
  g_value_init (&ids_v, GST_TYPE_ARRAY);
  g_value_init (&confs, GST_TYPE_ARRAY);
  guint *ids = g_new (guint, top_k);
  double *probs = g_new (double, top_k);
  guint n = heed_vit_result_top_k (o, top_k, threshold, ids, probs);
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
    guint best = heed_vit_result_attention_map (
        o, attention == GST_HEED_ATTENTION_ROLLOUT ? HEED_ATTENTION_ROLLOUT : HEED_ATTENTION_CLS,
        map);
    heed_vit_result_patch_in_frame (o, best, &px, &py);
    GBytes *bytes = g_bytes_new_take (map, np * sizeof (float));
    gst_structure_set (s, "attention", G_TYPE_BYTES, bytes, "attention-width", G_TYPE_UINT, c->grid,
                       "attention-height", G_TYPE_UINT, c->grid, "attention-peak-x", G_TYPE_DOUBLE,
                       (gdouble) px, "attention-peak-y", G_TYPE_DOUBLE, (gdouble) py, NULL);
    g_bytes_unref (bytes);
  }
  /* the part of the frame the model saw, so drawing elements need not redo the geometry */
  float region[4];
  heed_frame_model_region (&o->layout, c->img_size, region);
  GBytes *emb = g_bytes_new (o->embedding, c->dim * sizeof (float));
  gst_structure_set (s, "embedding", G_TYPE_BYTES, emb, "embedding-size", G_TYPE_UINT, c->dim,
                     "model", G_TYPE_STRING, self->model_name, "resize", G_TYPE_STRING,
                     o->layout.resize == HEED_RESIZE_CROP        ? "crop"
                     : o->layout.resize == HEED_RESIZE_LETTERBOX ? "letterbox"
                                                                 : "stretch",
                     "region-x", G_TYPE_DOUBLE, (gdouble) region[0], "region-y", G_TYPE_DOUBLE,
                     (gdouble) region[1], "region-width", G_TYPE_DOUBLE, (gdouble) region[2],
                     "region-height", G_TYPE_DOUBLE, (gdouble) region[3], NULL);
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
                     "result-frame", G_TYPE_UINT64, self->result_frame, NULL);
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
  gst_structure_set (m, "inferred", G_TYPE_BOOLEAN, inferred, "result-frame", G_TYPE_UINT64,
                     self->result_frame, NULL);
  if (gst_structure_has_field (r, "attention-peak-x"))
    gst_structure_set_value (m, "attention-peak-x",
                             gst_structure_get_value (r, "attention-peak-x"));
  if (gst_structure_has_field (r, "attention-peak-y"))
    gst_structure_set_value (m, "attention-peak-y",
                             gst_structure_get_value (r, "attention-peak-y"));
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), m));
}

/* ---- streaming ------------------------------------------------------------------------------ */

/* Whether the held frame at the head may leave now: it carries a result forward, or its batch
 * is done, or (force) it is waited for. */
static gboolean
head_ready (GstHeedClassify *self, gboolean force)
{
  Pending *p = g_queue_peek_head (&self->held);
  if (!p)
    return FALSE;
  Batch *b = p->batch;
  if (!b || b->collected || force)
    return TRUE;
  /* as many batches in flight as allowed: the oldest must finish before more start */
  return b->submitted && (self->in_flight >= self->n_batches || heed_vit_run_is_done (b->run));
}

/* What a result reports, under the object lock. */
static void
result_settings (GstHeedClassify *self, guint *top_k, gdouble *threshold,
                 GstHeedAttention *attention, gboolean *post)
{
  GST_OBJECT_LOCK (self);
  *top_k = self->top_k;
  *threshold = self->threshold;
  *post = self->post_messages;
  *attention = self->attention;
  GST_OBJECT_UNLOCK (self);
  if (*attention == GST_HEED_ATTENTION_ROLLOUT && self->plan_attention != *attention)
    *attention = GST_HEED_ATTENTION_CLS; /* until the reload with per-layer maps lands */
}

/* The sliced pass (see detached ()), finished now (what slices are left run in turn): its
 * result is the one carried forward from now on. */
static gboolean
collect_background (GstHeedClassify *self, GError **error)
{
  Batch *b = self->background;
  guint top_k;
  gdouble threshold;
  gboolean post;
  GstHeedAttention attention;
  result_settings (self, &top_k, &threshold, &attention, &post);
  self->background = NULL;
  gboolean ok = collect_batch (self, b, error);
  if (ok) {
    if (self->result)
      gst_structure_free (self->result);
    self->result = build_result (self, b->results[0], top_k, threshold, attention);
    self->result_frame = self->background_frame;
    heed_vit_result_destroy (&b->results[0]);
  }
  b->staged = b->outstanding = 0, b->submitted = b->collected = FALSE;
  return ok;
}

/* The sliced pass dropped (a flush, EOS, a caps change: no frame is left to carry its result):
 * what is on the device is waited for, the rest not run. */
static void
cancel_background (GstHeedClassify *self)
{
  Batch *b = self->background;
  if (!b)
    return;
  heed_vit_run_cancel (b->run);
  self->background = NULL;
  self->in_flight--;
  b->staged = b->outstanding = 0, b->submitted = b->collected = FALSE;
}

/* The sliced pass on b (see detached ()): its next slice (`started`: the first, submitted just
 * now) waited for; after the last, its result becomes the one carried forward. */
static gboolean
run_slice (GstHeedClassify *self, Batch *b, gboolean started, GError **error)
{
  GstClockTime t0 = gst_util_get_timestamp ();
  if ((!started && !heed_vit_run_step (b->run, error)) || !heed_vit_run_wait_slice (b->run, error))
    return FALSE;
  GstClockTime took = gst_util_get_timestamp () - t0;
  self->slice_time = MAX (took, self->slice_time - self->slice_time / 8);
  self->pass_time = (started ? 0 : self->pass_time) + took;
  if (heed_vit_run_slices_left (b->run) == 0) /* the whole pass's time, for detached () */
    self->processing_time = self->pass_time;
  check_latency (self);
  /* the last slice done: its result from the next frame on */
  return heed_vit_run_slices_left (b->run) > 0 || collect_background (self, error);
}

/* Takes the held frame at the head out with its result attached (waiting for its batch when
 * needed). */
static GstFlowReturn
pop_head (GstHeedClassify *self, GstBuffer **out)
{
  Pending *p = g_queue_pop_head (&self->held);
  Batch *b = p->batch;
  GError *error = NULL;
  guint top_k;
  gdouble threshold;
  gboolean post;
  GstHeedAttention attention;

  result_settings (self, &top_k, &threshold, &attention, &post);

  if (b && !b->collected && !collect_batch (self, b, &error)) {
    gst_buffer_unref (p->buffer);
    g_free (p);
    return inference_failed (self, error);
  }
  GstBuffer *buf = gst_buffer_make_writable (p->buffer);
  if (b) {
    if (self->result)
      gst_structure_free (self->result);
    self->result = build_result (self, b->results[p->slot], top_k, threshold, attention);
    self->result_frame = p->frame;
    heed_vit_result_destroy (&b->results[p->slot]);
    if (--b->outstanding == 0) /* every frame of the batch is out: free for the next */
      b->staged = 0, b->submitted = b->collected = FALSE;
  }
  if (self->result)
    attach_and_post (self, buf, p->frame, b != NULL, post);
  *out = buf;
  g_free (p);
  return GST_FLOW_OK;
}

/* Pushes every held frame (EOS, a caps change, a serialized event, a new model). */
static GstFlowReturn
drain (GstHeedClassify *self)
{
  GstFlowReturn ret = GST_FLOW_OK;
  while (ret == GST_FLOW_OK && !g_queue_is_empty (&self->held)) {
    GstBuffer *buf = NULL;
    ret = pop_head (self, &buf);
    if (ret == GST_FLOW_OK)
      ret = gst_pad_push (GST_BASE_TRANSFORM_SRC_PAD (self), buf);
  }
  cancel_background (self);
  if (ret != GST_FLOW_OK)
    discard_held (self);
  return ret;
}

static gboolean
gst_heed_classify_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstHeedClassify *self = GST_HEED_CLASSIFY (trans);
  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP) {
    discard_held (self); /* a flushing seek: the frames in flight are dropped */
    self->have_reference = FALSE;
  } else if (GST_EVENT_IS_SERIALIZED (event)) {
    /* the frames held arrived before this event: they go first (EOS drains them) */
    GstFlowReturn ret = drain (self);
    if (ret != GST_FLOW_OK && ret != GST_FLOW_FLUSHING && ret != GST_FLOW_EOS)
      GST_DEBUG_OBJECT (self, "draining before %s: %s", GST_EVENT_TYPE_NAME (event),
                        gst_flow_get_name (ret));
  }
  return GST_BASE_TRANSFORM_CLASS (gst_heed_classify_parent_class)->sink_event (trans, event);
}

/* Loads a model changed while streaming; a failure keeps the old one and warns. */
static GstFlowReturn
reload_model (GstHeedClassify *self)
{
  GError *error = NULL;
  Loaded l = { 0 };
  GstFlowReturn ret = drain (self); /* held frames keep the model they were run with */
  if (ret != GST_FLOW_OK)
    return ret;
  if (!load_model (self, &l, &error)) {
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
                         ("Keeping the current model: %s", error->message), (NULL));
    g_error_free (error);
    return GST_FLOW_OK;
  }
  take_loaded (self, &l);
  g_clear_pointer (&self->result, gst_structure_free);
  self->inferred_any = FALSE;
  if (!build_plan (self, &error) || !configure_layout (self, &error)) {
    GST_ELEMENT_WARNING (self, STREAM, FORMAT, ("%s", error->message), (NULL));
    g_error_free (error);
    self->have_layout = FALSE;
  }
  GST_INFO_OBJECT (self, "now classifying with %s", self->model_name);
  return GST_FLOW_OK;
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

/* A batch that can take a frame: the one collecting, else a free one (pushing the oldest
 * frames out until one frees). */
static GstFlowReturn
open_batch (GstHeedClassify *self, Batch **out)
{
  for (;;) {
    if (self->open) {
      *out = self->open;
      return GST_FLOW_OK;
    }
    for (guint i = 0; i < self->n_batches; i++)
      if (!self->batches[i].submitted && self->batches[i].staged == 0) {
        *out = self->open = &self->batches[i];
        return GST_FLOW_OK;
      }
    GstBuffer *buf = NULL;
    GstFlowReturn ret = pop_head (self, &buf);
    if (ret == GST_FLOW_OK)
      ret = gst_pad_push (GST_BASE_TRANSFORM_SRC_PAD (self), buf);
    if (ret != GST_FLOW_OK)
      return ret;
  }
}

/* Stages the frame into a batch slot: system memory is copied now; Vulkan memory is copied on
 * the device in the batch's submission, so the buffer is held until then. */
static gboolean
stage_frame (GstHeedClassify *self, Batch *b, GstBuffer *buf, GError **error)
{
  if (self->vulkan_memory) {
    HeedDevicePlane planes[3] = { { 0 } };
    guint n = gst_heed_vulkan_planes (&self->dev, buf, &self->info, planes, error);
    if (!n || !heed_vit_run_set_frame_device (b->run, b->staged, planes, n, error))
      return FALSE;
    gst_heed_vulkan_planes_done (buf, planes, n);
    return TRUE;
  }
  GstVideoFrame vframe;
  guint8 *planes[3];
  guint stride[3];
  if (!gst_heed_frame_map (&vframe, &self->info, buf, GST_MAP_READ, planes, stride)) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "cannot map the video frame");
    return FALSE;
  }
  gboolean ok =
      heed_vit_run_set_frame (b->run, b->staged, (const guint8 *const *) planes, stride, error);
  gst_video_frame_unmap (&vframe);
  return ok;
}

/* inference-interval=0: whether the frame's compact embedding moved more than threshold from
 * the last classified frame's (or there is none). */
static gboolean
picture_changed (GstHeedClassify *self, GstBuffer *buf, gdouble threshold, gboolean *changed,
                 GError **error)
{
  if (!self->changes) {
    HeedKeyframeOptions o;
    heed_keyframe_options_init (&o);
    o.window = 1, o.persist = 0; /* only the embedding is used */
    if (!(self->changes = heed_keyframe_scorer_new (self->dev.device, &o, error)))
      return FALSE;
    if (!heed_keyframe_scorer_set_layout (self->changes, &self->layout, error)) {
      heed_keyframe_scorer_destroy (&self->changes);
      return FALSE;
    }
    self->have_reference = FALSE;
  }
  float novelty;
  gboolean have;
  if (!gst_heed_keyframe_push_buffer (&self->dev, self->changes, &self->info, self->vulkan_memory,
                                      buf, &novelty, &have, error) ||
      !heed_keyframe_scorer_last_embedding (self->changes, self->embedding, self->tone, error))
    return FALSE;
  float distance = G_MAXFLOAT;
  if (self->have_reference) {
    /* the picture's structure, and its overall colour (white and black have the same
     * structure), the larger of the two */
    float tone = 0.0f;
    for (guint c = 0; c < 3; c++)
      tone += (self->tone[c] - self->reference_tone[c]) * (self->tone[c] - self->reference_tone[c]);
    distance = MAX (heed_keyframe_embedding_distance (self->embedding, self->reference),
                    sqrtf (tone / 3.0f));
  }
  *changed = distance > threshold;
  GST_LOG_OBJECT (self, "embedding moved %.4f since the last inference", distance);
  return TRUE;
}

/* Takes every frame (the base class would drop late ones when QoS is on: lateness only makes a
 * frame carry the last result forward) and schedules its inference or its carried result. */
static GstFlowReturn
gst_heed_classify_submit_input_buffer (GstBaseTransform *trans, gboolean is_discont,
                                       GstBuffer *input)
{
  GstHeedClassify *self = GST_HEED_CLASSIFY (trans);
  guint interval, max_interval;
  gdouble change_threshold;
  gboolean reload, infer;
  GstClockTime earliest;
  GstFlowReturn ret;
  GstClockTime arrived = gst_util_get_timestamp ();

  GST_OBJECT_LOCK (self);
  interval = self->inference_interval;
  max_interval = self->max_interval;
  change_threshold = self->change_threshold;
  reload = self->reload_pending;
  earliest = self->qos_earliest;
  GST_OBJECT_UNLOCK (self);

  if (reload && (ret = reload_model (self)) != GST_FLOW_OK) {
    gst_buffer_unref (input);
    return ret;
  }
  if ((ret = gst_heed_image_maker_take (&self->images, &self->dev, trans, &input)) != GST_FLOW_OK)
    return ret;
  guint64 frame = self->frame_count++;
  Pending *p = g_new0 (Pending, 1);
  p->buffer = input;
  p->frame = frame;
  if (!self->have_layout) {
    g_queue_push_tail (&self->held, p); /* a warning was posted; frames pass on */
    return GST_FLOW_OK;
  }

  gboolean changed = FALSE;
  if (interval == 0) {
    GError *error = NULL;
    if (!picture_changed (self, input, change_threshold, &changed, &error)) {
      g_queue_push_tail (&self->held, p);
      return inference_failed (self, error);
    }
  }
  guint64 since = frame - self->last_inference_frame;
  infer = !self->inferred_any || (interval ? since >= interval : changed || since >= max_interval);
  if (infer && self->inferred_any && too_late (self, input, earliest)) {
    GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT " is late: carrying the result forward",
                    frame);
    infer = FALSE;
  }
  gboolean in_background = infer && detached (self, input);
  if (self->background) {
    /* a sliced pass on an earlier frame: its next slice, unless downstream said we are late */
    GError *error = NULL;
    GstClockTime rt =
        gst_segment_to_running_time (&trans->segment, GST_FORMAT_TIME, GST_BUFFER_PTS (input));
    gboolean late =
        GST_CLOCK_TIME_IS_VALID (earliest) && GST_CLOCK_TIME_IS_VALID (rt) && rt < earliest;
    if (!late && !run_slice (self, self->background, FALSE, &error)) {
      g_queue_push_tail (&self->held, p);
      return inference_failed (self, error);
    }
    if (self->background && in_background)
      infer = in_background = FALSE; /* one pass at a time */
    if (self->background && infer && !collect_background (self, &error)) {
      g_queue_push_tail (&self->held, p); /* no longer detached: the pass is finished first */
      return inference_failed (self, error);
    }
  }
  if (infer) {
    Batch *b = NULL;
    GError *error = NULL;
    if ((ret = open_batch (self, &b)) != GST_FLOW_OK) {
      gst_buffer_unref (input);
      g_free (p);
      return ret;
    }
    if (!heed_vit_run_set_slices (b->run, in_background ? slices_for (self, input) : 1, &error)) {
      gst_buffer_unref (input);
      g_free (p);
      return inference_failed (self, error);
    }
    if (!stage_frame (self, b, input, &error)) {
      gst_buffer_unref (input);
      g_free (p);
      return inference_failed (self, error);
    }
    if (in_background) { /* the frame goes on with the result before it */
      b->staged++;
      self->background = b;
      self->background_frame = frame;
    } else {
      p->batch = b;
      p->slot = b->staged++;
      b->outstanding++;
    }
    self->inferred_any = TRUE;
    self->last_inference_frame = frame;
    if (interval == 0 && self->changes) { /* later frames are compared with this one */
      memcpy (self->reference, self->embedding, sizeof self->reference);
      memcpy (self->reference_tone, self->tone, sizeof self->reference_tone);
      self->have_reference = TRUE;
    }
    self->last_inference_rt =
        gst_segment_to_running_time (&trans->segment, GST_FORMAT_TIME, GST_BUFFER_PTS (input));
    /* a live source never waits for a batch to fill */
    if (((b->staged == self->max_batch || self->upstream_live) &&
         !submit_batch (self, b, &error)) ||
        (in_background && !run_slice (self, b, TRUE, &error))) {
      g_queue_push_tail (&self->held, p);
      return inference_failed (self, error);
    }
    if (in_background) {
      GstClockTime took = gst_util_get_timestamp () - arrived;
      self->start_time = MAX (took, self->start_time - self->start_time / 8);
      check_latency (self);
    }
  }
  g_queue_push_tail (&self->held, p);
  return GST_FLOW_OK;
}

/* Hands the held frames that are ready downstream, in arrival order, one per call (the base
 * class calls again while a buffer comes out). */
static GstFlowReturn
gst_heed_classify_generate_output (GstBaseTransform *trans, GstBuffer **outbuf)
{
  GstHeedClassify *self = GST_HEED_CLASSIFY (trans);
  *outbuf = NULL;
  if (!head_ready (self, FALSE))
    return GST_FLOW_OK;
  return pop_head (self, outbuf);
}
