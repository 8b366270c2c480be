/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-heedkeyframe
 *
 * Finds the frames that matter: shot changes, and the ends of fades and dissolves. Each frame
 * gets a compact embedding on the Vulkan device (three heads: colour layout, colour histogram
 * and edges over an 8 x 8 grid of a 64 x 64 thumbnail) and attends over the embeddings of the
 * frames before it. How poorly they explain it, lasting for a few frames, is each head's
 * novelty; measured against what is usual for that head in the video lately (since the last
 * keyframe, once there are a few frames after it), and averaged over the heads, it is the
 * frame's importance (0..1). With heedclassify upstream, the ViT's CLS
 * embedding of each frame it ran the model on is a fourth head. Keyframes are the peaks of
 * importance over `threshold`, at least `min-gap` frames apart. The sound on the optional
 * audio_sink pad adds keyframes of cause "audio".
 *
 * For each keyframe: a "heedkeyframe" element message (timestamp, running-time, stream-time,
 * frame, score, cause), and a downstream force-key-unit event just before it, so that an
 * encoder after it starts a new GOP there. Every frame carries a HeedKeyframeMeta (score,
 * keyframe, novelty per head; elements/heedmeta.h), which heedoverlay draws as a timeline.
 * mode=keyframes-only passes the keyframes alone.
 *
 * Frames may come in system memory or in GStreamer's Vulkan memory (vulkanupload), whose
 * device heed then shares.
 *
 * The decision waits `lookahead` frames (the element holds them, and says so in its latency):
 * a change must last, so a flash does not count, and the peak of a fade is found. The frames
 * leave from a thread of the element's own, as through a queue: the elements after it (and a
 * syncing sink's wait for the clock) do not hold up the ones before it, so a live source's
 * thread keeps its whole frame time for them.
 *
 *     gst-launch-1.0 -m filesrc location=in.mp4 ! decodebin ! videoconvert ! heedkeyframe \
 *       ! fakesink
 *     gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! videoconvert \
 *       ! heedkeyframe mode=keyframes-only ! videoconvert ! pngenc ! multifilesink \
 *       location=key%05d.png
 */
#include "gstheedkeyframe.h"

#include "gstheedutils.h"
#include "heedmeta.h"

#include <gst/audio/audio.h>

#include <math.h>

GST_DEBUG_CATEGORY_STATIC (gst_heed_keyframe_debug);
#define GST_CAT_DEFAULT gst_heed_keyframe_debug

#define DEFAULT_PROP_THRESHOLD 0.5
#define DEFAULT_PROP_MIN_GAP 15
#define DEFAULT_PROP_LOOKAHEAD 8
#define DEFAULT_PROP_WINDOW 8
#define DEFAULT_PROP_MODE GST_HEED_KEYFRAME_MODE_PASS_ALL
#define DEFAULT_PROP_POST_MESSAGES TRUE
#define DEFAULT_PROP_DEVICE -1
#define DEFAULT_PROP_AUDIO_WEIGHT 1.0
#define PERSIST 3              /* frames after a change that must be unexplained too */
#define RECENT 50              /* novelty values the importance is relative to */
#define AUDIO_AHEAD_SECONDS 30 /* sound held for frames still to come, at most */
#define MAX_LOOKAHEAD 60
#define OUTPUT_FRAMES 4 /* frames decided and waiting for the output thread, at most */

enum {
  PROP_0,
  PROP_THRESHOLD,
  PROP_MIN_GAP,
  PROP_LOOKAHEAD,
  PROP_WINDOW,
  PROP_MODE,
  PROP_POST_MESSAGES,
  PROP_DEVICE,
  PROP_AUDIO_WEIGHT,
};

/* A frame held until it is decided, or a serialized event held in its place among them. */
typedef struct {
  GstBuffer *buffer;
  GstEvent *event;
  guint64 frame;
  gboolean scored; /* novelty and importance known */
  float novelty, importance;
  float head_novelty[HEED_KEYFRAME_HEADS];
  gboolean have_cls; /* the CLS head scored it too */
  float cls_novelty;
  GstClockTime rt, rt_end; /* the running time the frame covers */
  gboolean heard;          /* audio novelty and importance known */
  float audio_novelty, audio_importance;
} Held;

/* What a scored frame leaves for judging the frames after it. */
typedef struct {
  guint64 frame;
  float head_novelty[HEED_KEYFRAME_HEADS];
  gboolean have_cls;
  float cls_novelty;
} Scored;

/* One 10 ms hop of sound: its running time (the window's centre) and spectral flux. */
typedef struct {
  GstClockTime rt;
  float flux;
} Hop;

struct _GstHeedKeyframe {
  GstBaseTransform parent;

  /* settings, under the object lock */
  gdouble threshold;
  guint min_gap, lookahead, window;
  GstHeedKeyframeMode mode;
  gboolean post_messages;
  gint device_index;
  gdouble audio_weight;

  /* the audio pad's thread hands sound over here, under audio_lock; the video thread runs the
   * log-mel shaders on it */
  GstPad *audio_pad;
  GMutex audio_lock;
  GstAudioInfo audio_info;
  GArray *audio_unpacked; /* append_mono ()'s samples unpacked, kept from buffer to buffer */
  GstSegment audio_segment;
  /* mono samples at the stream's rate; those from audio_in_head on are not yet analysed. One
   * array for the stream's life, consumed from the front and compacted now and then: taking a
   * new array for what is left on every frame copied the whole backlog (up to
   * AUDIO_AHEAD_SECONDS) a frame, and its megabyte-sized blocks, freed and taken again by two
   * threads, fragmented the heap (resident memory stepped up by megabytes on a loaded machine) */
  GArray *audio_in;
  guint audio_in_head;
  GstClockTime audio_in_rt; /* running time of audio_in[audio_in_head] */
  gboolean audio_restart;   /* a discontinuity: the analysis starts afresh at audio_in_rt */
  gboolean audio_eos;
  /* backpressure: the audio pad's thread waits (audio_cond) while AUDIO_AHEAD_SECONDS of sound
   * wait for the video thread, unless the pad flushes or stops (audio_flushing) or the video ended
   */
  GCond audio_cond;
  gboolean audio_flushing, video_ended;
  /* the video thread's */
  HeedAudioFeatures *audio;
  GArray *audio_take, *audio_flux; /* analyse_audio ()'s, kept from frame to frame */
  GstClockTime audio_rt0;          /* running time of the analysed stream's first sample */
  gdouble audio_rt0_speed;         /* and the speed its running time passed at (sound_span) */
  guint64 audio_hops;              /* hops analysed since audio_rt0 */
  GArray *hops;                    /* Hop: recent hops, by running time */
  float recent_audio[RECENT];
  guint n_recent_audio;
  guint64 last_audio_key;
  float previous_audio; /* the audio importance of the last frame out */

  /* streaming */
  GstHeedDeviceState dev;
  HeedKeyframeScorer *scorer;
  GstVideoInfo info;
  gboolean vulkan_memory;   /* the negotiated caps carry Vulkan memory */
  GstHeedImageMaker images; /* Vulkan buffers in, images out */
  guint persist, radius;    /* this stream's, from lookahead */
  GQueue held;
  guint64 frames;                    /* received since the stream started */
  guint64 last_key;                  /* frame of the last keyframe, G_MAXUINT64 before the first */
  Scored recent[RECENT];             /* the last frames scored, a ring */
  guint64 past_frame[MAX_LOOKAHEAD]; /* importance of frames already out, by frame */
  float past_importance[MAX_LOOKAHEAD];
  guint n_recent;
  guint key_count;

  /* the output: what is decided waits in `out` (frames and events, in order) for the source
   * pad's task, which pushes it; under out_lock. out_result is what the task's last push
   * returned, or FLUSHING while the pad flushes or stops: the upstream thread returns it. */
  GMutex out_lock;
  GCond out_cond;
  GQueue out;
  guint out_frames;
  gboolean out_busy; /* the task is pushing something it took out */
  GstFlowReturn out_result;
  GstPadActivateModeFunction base_src_activate_mode;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (HEED_VIDEO_CAPS));
static GstStaticPadTemplate audio_template = GST_STATIC_PAD_TEMPLATE (
    "audio_sink", GST_PAD_SINK, GST_PAD_REQUEST,
    GST_STATIC_CAPS ("audio/x-raw, format = (string) " GST_AUDIO_FORMATS_ALL
                     ", layout = (string) { interleaved, non-interleaved }, rate = (int) [ 1, "
                     "768000 ], channels = (int) [ 1, 64 ]"));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (HEED_VIDEO_CAPS));

#define gst_heed_keyframe_parent_class parent_class
G_DEFINE_TYPE (GstHeedKeyframe, gst_heed_keyframe, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (heedkeyframe, "heedkeyframe", GST_RANK_NONE, GST_TYPE_HEED_KEYFRAME);

#define GST_TYPE_HEED_KEYFRAME_MODE (gst_heed_keyframe_mode_get_type ())
static GType
gst_heed_keyframe_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_HEED_KEYFRAME_MODE_PASS_ALL, "Pass every frame, keyframes marked", "pass-all" },
    { GST_HEED_KEYFRAME_MODE_KEYFRAMES_ONLY, "Pass the keyframes alone (thumbnails, summaries)",
      "keyframes-only" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstHeedKeyframeMode", values));
  return type;
}

/* ---- sound ---------------------------------------------------------------------------------- */

static void set_video_ended (GstHeedKeyframe *self, gboolean ended);

/* the sound handed over and not yet analysed, under audio_lock */
static guint
audio_pending (const GstHeedKeyframe *self)
{
  return self->audio_in->len - self->audio_in_head;
}

static void
audio_clear (GstHeedKeyframe *self)
{
  g_array_set_size (self->audio_in, 0);
  self->audio_in_head = 0;
}

/* How fast running time passes against the media's own time: a segment played at rate 2 takes
 * half a second of running time for a second of sound or pictures. The sound is analysed at its
 * own pace (its content does not change with the rate) and matched to the frames by running
 * time, so every span of samples is converted at this speed. */
static gdouble
segment_speed (const GstSegment *segment)
{
  return segment->rate != 0 ? fabs (segment->rate) : 1.0;
}

/* the running time `samples` at `rate` Hz span at `speed` */
static GstClockTime
sound_span (guint64 samples, guint rate, gdouble speed)
{
  return (GstClockTime) (gst_util_uint64_scale (samples, GST_SECOND, rate) / speed);
}

/* Sound with nothing to go beside: the video sink pad is not linked (`audiotestsrc !
 * heedkeyframe` links the sound to audio_sink and leaves the frames' pad empty) when the sound
 * has ended or filled its backlog. A pipeline that links its video later (a decodebin's pad)
 * gets NO_VIDEO_WAIT_SECONDS to do it; after that, the element's error, where the sink would
 * otherwise wait for a first frame forever. Under audio_lock; TRUE when the error was posted. */
#define NO_VIDEO_WAIT_SECONDS 10
static gboolean
no_video_for_sound (GstHeedKeyframe *self)
{
  GstPad *video = GST_BASE_TRANSFORM_SINK_PAD (self);
  gint64 until = g_get_monotonic_time () + NO_VIDEO_WAIT_SECONDS * G_TIME_SPAN_SECOND;
  while (!gst_pad_is_linked (video) && !self->audio_flushing) {
    if (g_get_monotonic_time () >= until) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED,
                         ("heedkeyframe has sound but no video: its sink pad is not linked"),
                         ("link the frames to the sink pad; audio_sink takes the sound beside "
                          "them"));
      return TRUE;
    }
    /* woken early by a flush or the pad's deactivation */
    g_cond_wait_until (&self->audio_cond, &self->audio_lock,
                       MIN (until, g_get_monotonic_time () + G_TIME_SPAN_SECOND / 10));
  }
  return FALSE;
}

/* The buffer's sound onto audio_in as mono floats, the mean of its channels; under audio_lock.
 * Floats come as they are; any other format is first unpacked by GStreamer's own unpacker to 32-bit
 * integers or doubles, plane by plane when it is planar, with the low bits of narrower integers
 * left zero (by default it copies the high bits there), so that a sample of n bits becomes
 * x / 2^(n-1) as audioconvert makes it.
 * GstAudioConverter is not used: GStreamer 1.22's crashes on 64 unpositioned channels. */
static GstFlowReturn
append_mono (GstHeedKeyframe *self, GstBuffer *buf)
{
  const GstAudioInfo *ai = &self->audio_info;
  const GstAudioFormatInfo *fi = ai->finfo;
  guint channels = GST_AUDIO_INFO_CHANNELS (ai);
  gboolean planar = GST_AUDIO_INFO_LAYOUT (ai) == GST_AUDIO_LAYOUT_NON_INTERLEAVED;
  GstAudioBuffer in;
  /* planar sound says where its planes are in a GstAudioMeta (gst_audio_buffer_map's rule) */
  if ((planar && !gst_buffer_get_audio_meta (buf)) ||
      !gst_audio_buffer_map (&in, ai, buf, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("cannot read the sound on audio_sink"),
                       ("a buffer of %" G_GSIZE_FORMAT " bytes that does not match its caps "
                        "(non-interleaved sound needs a GstAudioMeta)",
                        gst_buffer_get_size (buf)));
    return GST_FLOW_ERROR;
  }
  gsize frames = in.n_samples, plane_samples = planar ? frames : frames * channels;
  gboolean floats = fi->format == GST_AUDIO_FORMAT_F32;
  gboolean ints = fi->unpack_format == GST_AUDIO_FORMAT_S32;
  if (!floats) {
    g_array_set_size (self->audio_unpacked, frames * channels);
    for (gint p = 0; p < in.n_planes; p++)
      fi->unpack_func (fi, GST_AUDIO_PACK_FLAG_TRUNCATE_RANGE,
                       self->audio_unpacked->data + p * plane_samples * (ints ? 4 : 8),
                       in.planes[p], (gint) plane_samples);
  }
  for (gsize f = 0; f < frames; f++) {
    float v = 0.0f;
    for (guint c = 0; c < channels; c++) {
      gsize at = planar ? c * frames + f : f * channels + c;
      if (floats)
        v += ((const float *) in.planes[planar ? c : 0])[planar ? f : at];
      else if (ints) /* the scratch holds 4-byte integers, or 8-byte doubles */
        v += (float) (((const gint32 *) self->audio_unpacked->data)[at] / 2147483648.0);
      else
        v += (float) ((const gdouble *) self->audio_unpacked->data)[at];
    }
    v /= channels;
    g_array_append_val (self->audio_in, v);
  }
  gst_audio_buffer_unmap (&in);
  return GST_FLOW_OK;
}

static GstFlowReturn
audio_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  GstHeedKeyframe *self = GST_HEED_KEYFRAME (parent);
  g_mutex_lock (&self->audio_lock);
  const GstAudioInfo *ai = &self->audio_info;
  if (!GST_AUDIO_INFO_BPF (ai)) {
    g_mutex_unlock (&self->audio_lock);
    gst_buffer_unref (buf);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  /* a source faster than the video (a generator, a file's sound far ahead) would otherwise pile
   * up sound without bound; the bound is wide, so a file whose sound is interleaved seconds
   * ahead of its pictures does not stall its demuxer */
  while (GST_AUDIO_INFO_RATE (ai) &&
         audio_pending (self) > (guint) GST_AUDIO_INFO_RATE (ai) * AUDIO_AHEAD_SECONDS &&
         !self->audio_flushing && !self->video_ended) {
    if (no_video_for_sound (self)) {
      g_mutex_unlock (&self->audio_lock);
      gst_buffer_unref (buf);
      return GST_FLOW_ERROR;
    }
    g_cond_wait (&self->audio_cond, &self->audio_lock);
  }
  if (self->audio_flushing || self->video_ended) { /* no frame will take this sound */
    gboolean flushing = self->audio_flushing;
    g_mutex_unlock (&self->audio_lock);
    gst_buffer_unref (buf);
    return flushing ? GST_FLOW_FLUSHING : GST_FLOW_OK;
  }
  if (self->audio_segment.rate < 0) {
    /* played backwards, a decoder hands its sound over in chunks from the end, each still in
     * its own order: no onset can be told apart, so the frames go without sound (hear ()) */
    g_mutex_unlock (&self->audio_lock);
    gst_buffer_unref (buf);
    return GST_FLOW_OK;
  }
  GstClockTime rt =
      gst_segment_to_running_time (&self->audio_segment, GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
  /* a gap or jump of more than 20 ms (or the first buffer) starts the analysis afresh there */
  GstClockTime expected =
      GST_CLOCK_TIME_IS_VALID (self->audio_in_rt)
          ? self->audio_in_rt + sound_span (audio_pending (self), GST_AUDIO_INFO_RATE (ai),
                                            segment_speed (&self->audio_segment))
          : GST_CLOCK_TIME_NONE;
  if (GST_CLOCK_TIME_IS_VALID (rt) &&
      (!GST_CLOCK_TIME_IS_VALID (expected) || GST_BUFFER_IS_DISCONT (buf) ||
       (rt > expected ? rt - expected : expected - rt) > 20 * GST_MSECOND)) {
    /* the sound gathered since the video thread last took it (one frame's worth at most) is
     * dropped: the analysis starts afresh at the new time */
    audio_clear (self);
    self->audio_in_rt = rt;
    self->audio_restart = TRUE;
  }
  GstFlowReturn ret = append_mono (self, buf);
  g_mutex_unlock (&self->audio_lock);
  gst_buffer_unref (buf);
  return ret;
}

static gboolean
audio_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstHeedKeyframe *self = GST_HEED_KEYFRAME (parent);
  g_mutex_lock (&self->audio_lock);
  switch (GST_EVENT_TYPE (event)) {
  case GST_EVENT_CAPS: {
    GstCaps *caps;
    gst_event_parse_caps (event, &caps);
    if (!gst_audio_info_from_caps (&self->audio_info, caps)) {
      GST_WARNING_OBJECT (self, "cannot read the audio caps %" GST_PTR_FORMAT, caps);
      gst_audio_info_init (&self->audio_info); /* its buffers are refused as not negotiated */
    }
    self->audio_restart = TRUE;
    self->audio_in_rt = GST_CLOCK_TIME_NONE;
    audio_clear (self);
    break;
  }
  case GST_EVENT_SEGMENT: {
    gdouble speed = segment_speed (&self->audio_segment);
    gst_event_copy_segment (event, &self->audio_segment);
    /* the sound gathered was timed at the old speed: the analysis starts afresh */
    if (segment_speed (&self->audio_segment) != speed) {
      self->audio_in_rt = GST_CLOCK_TIME_NONE;
      audio_clear (self);
    }
    break;
  }
  case GST_EVENT_FLUSH_START:
    self->audio_flushing = TRUE;
    g_cond_broadcast (&self->audio_cond);
    break;
  case GST_EVENT_FLUSH_STOP:
    self->audio_flushing = FALSE;
    audio_clear (self);
    self->audio_in_rt = GST_CLOCK_TIME_NONE;
    self->audio_eos = FALSE;
    gst_segment_init (&self->audio_segment, GST_FORMAT_TIME);
    break;
  case GST_EVENT_EOS:
    self->audio_eos = TRUE;
    no_video_for_sound (self);
    break;
  case GST_EVENT_STREAM_START: self->audio_eos = FALSE; break;
  default: break;
  }
  g_mutex_unlock (&self->audio_lock);
  gst_event_unref (event); /* sound goes no further: the source pad is video */
  return TRUE;
}

/* Deactivation (a state change to READY, the pad released) waits for the pad's thread: one
 * waiting for the video to catch up is let go first. */
static gboolean
audio_activate_mode (GstPad *pad, GstObject *parent, GstPadMode mode, gboolean active)
{
  /* the pad is activated before it has its parent: the element is its private data */
  GstHeedKeyframe *self = gst_pad_get_element_private (pad);
  g_mutex_lock (&self->audio_lock);
  self->audio_flushing = !active;
  g_cond_broadcast (&self->audio_cond);
  g_mutex_unlock (&self->audio_lock);
  return TRUE;
}

static GstPad *
gst_heed_keyframe_request_new_pad (GstElement *element, GstPadTemplate *templ, const gchar *name,
                                   const GstCaps *caps)
{
  GstHeedKeyframe *self = GST_HEED_KEYFRAME (element);
  GST_OBJECT_LOCK (self);
  if (self->audio_pad) {
    GST_OBJECT_UNLOCK (self);
    GST_WARNING_OBJECT (self, "there is one audio_sink pad already");
    return NULL;
  }
  GstPad *pad = gst_pad_new_from_template (templ, "audio_sink");
  self->audio_pad = pad;
  GST_OBJECT_UNLOCK (self);
  gst_pad_set_chain_function (pad, GST_DEBUG_FUNCPTR (audio_chain));
  gst_pad_set_event_function (pad, GST_DEBUG_FUNCPTR (audio_event));
  gst_pad_set_element_private (pad, self);
  gst_pad_set_activatemode_function (pad, GST_DEBUG_FUNCPTR (audio_activate_mode));
  GST_PAD_SET_PROXY_ALLOCATION (pad);
  gst_pad_set_active (pad, TRUE);
  gst_element_add_pad (element, pad);
  return pad;
}

static void
gst_heed_keyframe_release_pad (GstElement *element, GstPad *pad)
{
  GstHeedKeyframe *self = GST_HEED_KEYFRAME (element);
  GST_OBJECT_LOCK (self);
  if (pad == self->audio_pad)
    self->audio_pad = NULL;
  GST_OBJECT_UNLOCK (self);
  gst_pad_set_active (pad, FALSE);
  gst_element_remove_pad (element, pad);
}

/* Runs the sound the audio pad handed over through the log-mel shaders (video thread). */
static void
analyse_audio (GstHeedKeyframe *self, GstClockTime until)
{
  GError *error = NULL;
  g_mutex_lock (&self->audio_lock);
  GArray *in = self->audio_take;
  gboolean restart = self->audio_restart;
  GstClockTime rt = self->audio_in_rt;
  guint rate = GST_AUDIO_INFO_RATE (&self->audio_info);
  gdouble speed = segment_speed (&self->audio_segment);
  /* the sound up to `until` (what the frames so far need); the rest waits for later frames */
  guint pending = audio_pending (self), take = pending;
  if (GST_CLOCK_TIME_IS_VALID (until) && GST_CLOCK_TIME_IS_VALID (rt) && rate)
    take = until > rt ? (guint) MIN (gst_util_uint64_scale (until - rt, rate, GST_SECOND) * speed,
                                     (gdouble) pending)
                      : 0;
  g_array_set_size (in, 0);
  g_array_append_vals (in, &g_array_index (self->audio_in, float, self->audio_in_head), take);
  self->audio_in_head += take;
  /* compacted once a second of sound is spent, so the copy costs about one sample a sample */
  if (self->audio_in_head == self->audio_in->len)
    audio_clear (self);
  else if (self->audio_in_head >= MAX (rate, 1u)) {
    g_array_remove_range (self->audio_in, 0, self->audio_in_head);
    self->audio_in_head = 0;
  }
  if (GST_CLOCK_TIME_IS_VALID (rt) && rate)
    self->audio_in_rt = rt + sound_span (take, rate, speed);
  self->audio_restart = FALSE;
  g_cond_broadcast (&self->audio_cond); /* room for more */
  g_mutex_unlock (&self->audio_lock);
  if (!self->audio || !rate || !GST_CLOCK_TIME_IS_VALID (rt))
    return;
  if (restart) {
    heed_audio_features_reset (self->audio, rate);
    self->audio_rt0 = rt;
    self->audio_rt0_speed = speed;
    self->audio_hops = 0;
  }
  GArray *flux = self->audio_flux;
  g_array_set_size (flux, 0);
  if (!heed_audio_features_push (self->audio, (const float *) in->data, in->len, flux, &error)) {
    GST_WARNING_OBJECT (self, "sound analysis failed: %s", error->message);
    g_error_free (error);
  }
  for (guint i = 0; i < flux->len; i++) {
    guint64 centre = self->audio_hops++ * HEED_AUDIO_HOP + HEED_AUDIO_WINDOW / 2;
    Hop hop = { self->audio_rt0 + sound_span (centre, HEED_AUDIO_RATE, self->audio_rt0_speed),
                g_array_index (flux, float, i) };
    g_array_append_val (self->hops, hop);
  }
}

/* The sound of a frame's time: the largest flux of its hops, once the sound has reached the
 * frame's end, the sound ended, or there is none (force: decide with what is there; the video
 * never waits for sound). */
static void
hear (GstHeedKeyframe *self, Held *h, gboolean force)
{
  if (h->heard || !h->buffer)
    return;
  gboolean linked = self->audio_pad && gst_pad_is_linked (self->audio_pad);
  gboolean reached =
      self->hops->len > 0 && g_array_index (self->hops, Hop, self->hops->len - 1).rt >= h->rt_end;
  g_mutex_lock (&self->audio_lock);
  gboolean ended = self->audio_eos;
  g_mutex_unlock (&self->audio_lock);
  if (linked && !reached && !ended && !force)
    return;
  float most = 0.0f;
  guint drop = 0, heard = 0;
  for (guint i = 0; i < self->hops->len; i++) {
    Hop *hop = &g_array_index (self->hops, Hop, i);
    if (hop->rt < h->rt) {
      drop = i + 1; /* before this frame: no later frame needs it */
      continue;
    }
    if (hop->rt >= h->rt_end)
      break;
    most = MAX (most, hop->flux);
    heard++;
  }
  if (drop)
    g_array_remove_range (self->hops, 0, drop);
  h->audio_novelty = most;
  h->heard = TRUE;
  /* A frame no hop of sound covers (its sound not there yet when the frame had to be decided,
   * as after a seek on a busy machine, or shorter than a hop at over 100 fps) is no evidence of
   * silence: it stays out of what later frames' sound is measured against, which would
   * otherwise be zeros that make the sound's return look like an event. */
  if (!heard)
    return;
  /* nothing to compare the first frames' sound with yet (and a stream's start, encoder
   * priming included, is no event) */
  h->audio_importance =
      self->n_recent_audio < 5
          ? 0.0f
          : heed_keyframe_importance (most, self->recent_audio, MIN (self->n_recent_audio, RECENT));
  self->recent_audio[self->n_recent_audio++ % RECENT] = most;
}

/* ---- held frames ---------------------------------------------------------------------------- */

static void
held_free (Held *h)
{
  if (h->buffer)
    gst_buffer_unref (h->buffer);
  if (h->event)
    gst_event_unref (h->event);
  g_free (h);
}

static void
discard_held (GstHeedKeyframe *self)
{
  Held *h;
  while ((h = g_queue_pop_head (&self->held)))
    held_free (h);
}

static Held *
held_frame (GstHeedKeyframe *self, guint64 frame)
{
  for (GList *l = self->held.tail; l; l = l->prev) {
    Held *h = l->data;
    if (h->buffer && h->frame == frame)
      return h;
  }
  return NULL;
}

/* Whether the head frame can be decided: its neighbours within the peak radius are scored, or
 * the stream ends (force). */
static gboolean
head_decidable (GstHeedKeyframe *self, Held *head, gboolean force)
{
  if (!head->buffer || force)
    return TRUE;
  Held *last = held_frame (self, head->frame + self->radius);
  return head->scored && last && last->scored;
}

/* A peak: at least the threshold, the most important within the radius (earlier frames are
 * judged by what they were given), min-gap after the last keyframe. */
static gboolean
is_keyframe (GstHeedKeyframe *self, Held *h, gdouble threshold, guint min_gap)
{
  if (!h->scored || h->importance < threshold)
    return FALSE;
  if (self->last_key != G_MAXUINT64 && h->frame - self->last_key < min_gap)
    return FALSE;
  for (GList *l = self->held.head; l; l = l->next) {
    Held *o = l->data;
    if (o != h && o->buffer && o->scored && o->frame <= h->frame + self->radius &&
        o->frame + self->radius >= h->frame && o->importance > h->importance)
      return FALSE;
  }
  for (guint64 f = h->frame >= self->radius ? h->frame - self->radius : 0; f < h->frame; f++)
    if (self->past_frame[f % MAX_LOOKAHEAD] == f &&
        self->past_importance[f % MAX_LOOKAHEAD] > h->importance)
      return FALSE;
  return TRUE;
}

static void
post_keyframe (GstHeedKeyframe *self, GstBuffer *buf, Held *h, float score, const char *cause)
{
  GstSegment *seg = &GST_BASE_TRANSFORM (self)->segment;
  GstClockTime ts = GST_BUFFER_PTS (buf);
  GstClockTime rt = gst_segment_to_running_time (seg, GST_FORMAT_TIME, ts);
  GstClockTime st = gst_segment_to_stream_time (seg, GST_FORMAT_TIME, ts);
  GstStructure *s = gst_structure_new (
      "heedkeyframe", "timestamp", G_TYPE_UINT64, (guint64) ts, "running-time", G_TYPE_UINT64,
      (guint64) rt, "stream-time", G_TYPE_UINT64, (guint64) st, "frame", G_TYPE_UINT64, h->frame,
      "score", G_TYPE_DOUBLE, (gdouble) score, "cause", G_TYPE_STRING, cause, NULL);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
}

/* ---- the output thread --------------------------------------------------------------------- */

static void
output_clear (GstHeedKeyframe *self)
{
  GstMiniObject *o;
  while ((o = g_queue_pop_head (&self->out)))
    gst_mini_object_unref (o);
  self->out_frames = 0;
}

/* Hands a decided frame or event to the output thread (takes it). Waits while OUTPUT_FRAMES
 * frames wait already; returns what stops the stream (the task's last push, or FLUSHING). */
static GstFlowReturn
output_push (GstHeedKeyframe *self, GstMiniObject *o)
{
  g_mutex_lock (&self->out_lock);
  while (self->out_result == GST_FLOW_OK && GST_IS_BUFFER (o) && self->out_frames >= OUTPUT_FRAMES)
    g_cond_wait (&self->out_cond, &self->out_lock);
  GstFlowReturn ret = self->out_result;
  if (ret == GST_FLOW_OK) {
    g_queue_push_tail (&self->out, o);
    self->out_frames += GST_IS_BUFFER (o);
    g_cond_broadcast (&self->out_cond);
  }
  g_mutex_unlock (&self->out_lock);
  if (ret != GST_FLOW_OK)
    gst_mini_object_unref (o);
  return ret;
}

/* Waits until the output thread has pushed everything handed to it: a serialized event or
 * query the base class forwards from this thread must not overtake the frames before it. */
static GstFlowReturn
output_drain (GstHeedKeyframe *self)
{
  g_mutex_lock (&self->out_lock);
  while (self->out_result == GST_FLOW_OK && (!g_queue_is_empty (&self->out) || self->out_busy))
    g_cond_wait (&self->out_cond, &self->out_lock);
  GstFlowReturn ret = self->out_result;
  g_mutex_unlock (&self->out_lock);
  return ret;
}

/* The source pad's task: pushes what waits, in order; pauses when a push fails or the pad
 * flushes */
static void
output_loop (gpointer data)
{
  GstHeedKeyframe *self = data;
  GstPad *src = GST_BASE_TRANSFORM_SRC_PAD (self);
  g_mutex_lock (&self->out_lock);
  while (self->out_result == GST_FLOW_OK && g_queue_is_empty (&self->out))
    g_cond_wait (&self->out_cond, &self->out_lock);
  if (self->out_result != GST_FLOW_OK) {
    g_mutex_unlock (&self->out_lock);
    gst_pad_pause_task (src);
    return;
  }
  GstMiniObject *o = g_queue_pop_head (&self->out);
  self->out_frames -= GST_IS_BUFFER (o);
  self->out_busy = TRUE;
  g_mutex_unlock (&self->out_lock);

  GstFlowReturn ret = GST_FLOW_OK;
  if (GST_IS_EVENT (o))
    gst_pad_push_event (src, GST_EVENT (o));
  else
    ret = gst_pad_push (src, GST_BUFFER (o));

  g_mutex_lock (&self->out_lock);
  self->out_busy = FALSE;
  if (ret != GST_FLOW_OK && self->out_result == GST_FLOW_OK) {
    GST_DEBUG_OBJECT (self, "output paused: %s", gst_flow_get_name (ret));
    self->out_result = ret;
  }
  g_cond_broadcast (&self->out_cond); /* room for a frame, or drained */
  g_mutex_unlock (&self->out_lock);
}

/* Stops the output (flushing, or the pad going down): wakes every wait, ends the task's turn. */
static void
output_stop (GstHeedKeyframe *self, gboolean join)
{
  GstPad *src = GST_BASE_TRANSFORM_SRC_PAD (self);
  g_mutex_lock (&self->out_lock);
  self->out_result = GST_FLOW_FLUSHING;
  g_cond_broadcast (&self->out_cond);
  g_mutex_unlock (&self->out_lock);
  if (join)
    gst_pad_stop_task (src);
  else
    gst_pad_pause_task (src);
  g_mutex_lock (&self->out_lock);
  output_clear (self);
  g_mutex_unlock (&self->out_lock);
}

static gboolean
output_start (GstHeedKeyframe *self)
{
  g_mutex_lock (&self->out_lock);
  output_clear (self);
  self->out_result = GST_FLOW_OK;
  g_mutex_unlock (&self->out_lock);
  return gst_pad_start_task (GST_BASE_TRANSFORM_SRC_PAD (self), output_loop, self, NULL);
}

static gboolean
src_activate_mode (GstPad *pad, GstObject *parent, GstPadMode mode, gboolean active)
{
  GstHeedKeyframe *self = GST_HEED_KEYFRAME (parent);
  if (!active)
    output_stop (self, TRUE);
  if (!self->base_src_activate_mode (pad, parent, mode, active))
    return FALSE;
  return !active || mode != GST_PAD_MODE_PUSH || output_start (self);
}

/* Takes the head out: a held event as it is; a frame with its meta, and for a keyframe the
 * force-key-unit event pushed and the message posted first. NULL for a frame that
 * keyframes-only mode drops. */
static GstMiniObject *
pop_head (GstHeedKeyframe *self)
{
  Held *h = g_queue_pop_head (&self->held);
  GstMiniObject *out;
  GST_OBJECT_LOCK (self);
  gdouble threshold = self->threshold;
  guint min_gap = self->min_gap;
  GstHeedKeyframeMode mode = self->mode;
  gboolean post = self->post_messages;
  float weight = (float) self->audio_weight;
  GST_OBJECT_UNLOCK (self);
  if (h->event) {
    out = GST_MINI_OBJECT (h->event);
    h->event = NULL;
    held_free (h);
    return out;
  }
  gboolean seen = is_keyframe (self, h, threshold, min_gap);
  /* the sound: a peak of its importance over the threshold, min-gap after the last sound
   * keyframe (sound and picture keep their own gaps: a sound right after a cut counts) */
  hear (self, h, TRUE);
  Held *next = NULL;
  for (GList *l = self->held.head; l && !next; l = l->next)
    if (((Held *) l->data)->buffer)
      next = l->data;
  if (next)
    hear (self, next, FALSE);
  float heard_score = MIN (1.0f, weight * h->audio_importance);
  gboolean heard =
      weight > 0.0f && heard_score >= threshold && h->audio_importance >= self->previous_audio &&
      (!next || !next->heard || next->audio_importance <= h->audio_importance) &&
      (self->last_audio_key == G_MAXUINT64 || h->frame - self->last_audio_key >= min_gap);
  self->previous_audio = h->audio_importance;
  gboolean key = seen || heard;
  const char *cause = seen && heard ? "audio-visual" : seen ? "visual" : "audio";
  float score = MAX (h->importance, heard_score);
  if (heard)
    self->last_audio_key = h->frame;
  GstBuffer *buf = gst_buffer_make_writable (h->buffer);
  h->buffer = NULL;
  GstStructure *meta = gst_structure_new_empty (HEED_KEYFRAME_STRUCTURE_NAME);
  gst_structure_set (meta, "score", G_TYPE_DOUBLE, (gdouble) score, "keyframe", G_TYPE_BOOLEAN, key,
                     "novelty", G_TYPE_DOUBLE, (gdouble) h->novelty, "audio-novelty", G_TYPE_DOUBLE,
                     (gdouble) h->audio_novelty, "frame", G_TYPE_UINT64, h->frame, NULL);
  {
    GValue heads = G_VALUE_INIT, v = G_VALUE_INIT;
    gst_value_array_init (&heads, HEED_KEYFRAME_HEADS);
    g_value_init (&v, G_TYPE_DOUBLE);
    for (guint i = 0; i < HEED_KEYFRAME_HEADS; i++) {
      g_value_set_double (&v, h->head_novelty[i]);
      gst_value_array_append_value (&heads, &v);
    }
    gst_structure_take_value (meta, "head-novelty", &heads);
    g_value_unset (&v);
  }
  if (h->have_cls)
    gst_structure_set (meta, "cls-novelty", G_TYPE_DOUBLE, (gdouble) h->cls_novelty, NULL);
  if (key)
    gst_structure_set (meta, "cause", G_TYPE_STRING, cause, NULL);
  heed_keyframe_meta_add (buf, meta);
  gst_structure_free (meta);
  if (key) {
    GstSegment *seg = &GST_BASE_TRANSFORM (self)->segment;
    GstClockTime ts = GST_BUFFER_PTS (buf);
    if (seen)
      self->last_key = h->frame;
    GST_DEBUG_OBJECT (self, "keyframe: frame %" G_GUINT64_FORMAT ", score %.3f (%s)", h->frame,
                      score, cause);
    output_push (self, GST_MINI_OBJECT (gst_video_event_new_downstream_force_key_unit (
                           ts, gst_segment_to_stream_time (seg, GST_FORMAT_TIME, ts),
                           gst_segment_to_running_time (seg, GST_FORMAT_TIME, ts), TRUE,
                           self->key_count++)));
    if (post)
      post_keyframe (self, buf, h, score, cause);
  }
  if (h->scored) { /* for the peak test of the frames after it */
    self->past_frame[h->frame % MAX_LOOKAHEAD] = h->frame;
    self->past_importance[h->frame % MAX_LOOKAHEAD] = h->importance;
  }
  held_free (h);
  if (!key && mode == GST_HEED_KEYFRAME_MODE_KEYFRAMES_ONLY) {
    gst_buffer_unref (buf);
    return NULL;
  }
  return GST_MINI_OBJECT (buf);
}

/* Hands what can be decided to the output thread (everything when force: the stream ends or
 * its format changes). */
static GstFlowReturn
push_decided (GstHeedKeyframe *self, gboolean force)
{
  GstFlowReturn ret = GST_FLOW_OK;
  Held *head;
  while (ret == GST_FLOW_OK && (head = g_queue_peek_head (&self->held)) &&
         head_decidable (self, head, force)) {
    GstMiniObject *o = pop_head (self);
    if (o)
      ret = output_push (self, o);
  }
  if (ret != GST_FLOW_OK)
    discard_held (self);
  return ret;
}

/* ---- streaming ------------------------------------------------------------------------------ */

static void
reset_stream (GstHeedKeyframe *self)
{
  discard_held (self);
  if (self->scorer)
    heed_keyframe_scorer_reset (self->scorer);
  self->frames = 0;
  self->n_recent = 0;
  self->last_key = G_MAXUINT64;
  self->last_audio_key = G_MAXUINT64;
  self->n_recent_audio = 0;
  self->previous_audio = 0.0f;
  if (self->hops)
    g_array_set_size (self->hops, 0);
  for (guint i = 0; i < MAX_LOOKAHEAD; i++)
    self->past_frame[i] = G_MAXUINT64;
}

static gboolean
gst_heed_keyframe_set_caps (GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
  GstHeedKeyframe *self = GST_HEED_KEYFRAME (trans);
  GError *error = NULL;
  HeedFrameLayout layout;
  gboolean changed;
  if (!gst_video_info_from_caps (&self->info, incaps)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Cannot read the video caps"),
                       ("%" GST_PTR_FORMAT, incaps));
    return FALSE;
  }
  self->vulkan_memory = gst_heed_caps_have_vulkan_memory (incaps);
  GST_OBJECT_LOCK (self);
  gint index = self->device_index;
  guint lookahead = self->lookahead, window = self->window;
  GST_OBJECT_UNLOCK (self);
  /* frames in Vulkan memory are read on GStreamer's device, which heed then shares */
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
  /* the persistence test and the peak search share the lookahead */
  self->persist = MIN (PERSIST, lookahead);
  self->radius = lookahead - self->persist;
  HeedKeyframeOptions opts;
  heed_keyframe_options_init (&opts);
  opts.window = window;
  opts.persist = self->persist;
  heed_keyframe_scorer_destroy (&self->scorer);
  if (!(self->scorer = heed_keyframe_scorer_new (self->dev.device, &opts, &error)) ||
      !gst_heed_layout_from_video_info (&self->info, &layout, &error) ||
      !heed_keyframe_scorer_set_layout (self->scorer, &layout, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Cannot score this video: %s", error->message),
                       ("%" GST_PTR_FORMAT, incaps));
    g_error_free (error);
    return FALSE;
  }
  heed_audio_features_destroy (&self->audio);
  if (!(self->audio = heed_audio_features_new (self->dev.device, &error))) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, ("Cannot analyse sound: %s", error->message),
                       (NULL));
    g_error_free (error);
    return FALSE;
  }
  g_mutex_lock (&self->audio_lock);
  self->audio_restart = TRUE; /* the analysis starts afresh on the new device */
  g_mutex_unlock (&self->audio_lock);
  /* a new format starts the comparison afresh (frames keep their count) */
  self->n_recent = 0;
  GST_INFO_OBJECT (self, "%dx%d %s on %s, lookahead %u (persist %u, peak radius %u)",
                   GST_VIDEO_INFO_WIDTH (&self->info), GST_VIDEO_INFO_HEIGHT (&self->info),
                   gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&self->info)),
                   heed_device_get_name (self->dev.device), lookahead, self->persist, self->radius);
  return TRUE;
}

/* heedclassify's CLS embedding of this frame, when it ran the model on it (a result carried
 * forward would look like a still picture, then a jump), for the fourth head */
static void
push_cls_embedding (GstHeedKeyframe *self, GstBuffer *buf)
{
  const GstStructure *c = heed_classification_meta_get (buf);
  GBytes *bytes = NULL;
  guint dim = 0;
  gboolean inferred = FALSE;
  if (!c || !gst_structure_get (c, "embedding", G_TYPE_BYTES, &bytes, "embedding-size", G_TYPE_UINT,
                                &dim, "inferred", G_TYPE_BOOLEAN, &inferred, NULL))
    return;
  gsize size = 0;
  const float *e = g_bytes_get_data (bytes, &size);
  GError *error = NULL;
  if (inferred && dim && size == dim * sizeof (float) &&
      !heed_keyframe_scorer_push_cls (self->scorer, e, dim, &error)) {
    GST_WARNING_OBJECT (self, "not using the CLS embedding: %s", error->message);
    g_error_free (error);
  }
  g_bytes_unref (bytes);
}

/* A frame's importance: its novelty against what was usual lately (heed_keyframe_heads_importance),
 * where lately means since the last keyframe once 5 frames after it were scored: a shot change
 * makes what was usual before it beside the point, and a busy shot after a quiet one would
 * otherwise stand out until the median caught up with it, 25 frames on. */
static float
importance_against_usual (GstHeedKeyframe *self, const Held *c)
{
  float heads[RECENT][HEED_KEYFRAME_HEADS], cls[RECENT];
  guint n = 0, n_cls = 0, since = 0, kept = MIN (self->n_recent, RECENT);
  gboolean after_key = self->last_key != G_MAXUINT64;
  for (guint i = 0; i < kept; i++)
    since += after_key && self->recent[i].frame > self->last_key;
  gboolean only_since = since >= 5;
  for (guint i = 0; i < kept; i++) {
    const Scored *r = &self->recent[i];
    if (only_since && r->frame <= self->last_key)
      continue;
    memcpy (heads[n++], r->head_novelty, sizeof r->head_novelty);
    if (r->have_cls)
      cls[n_cls++] = r->cls_novelty;
  }
  return heed_keyframe_heads_importance (c->head_novelty, &heads[0][0], n,
                                         c->have_cls ? &c->cls_novelty : NULL, cls, n_cls);
}

static GstFlowReturn
gst_heed_keyframe_submit_input_buffer (GstBaseTransform *trans, gboolean is_discont, GstBuffer *buf)
{
  GstHeedKeyframe *self = GST_HEED_KEYFRAME (trans);
  GError *error = NULL;
  float novelty = 0.0f;
  gboolean have = FALSE;

  /* what stopped the output thread (downstream's answer, or a flush) stops this side too */
  g_mutex_lock (&self->out_lock);
  GstFlowReturn out_result = self->out_result;
  g_mutex_unlock (&self->out_lock);
  if (out_result != GST_FLOW_OK) {
    gst_buffer_unref (buf);
    return out_result;
  }
  if (!self->scorer) {
    gst_buffer_unref (buf);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  GstFlowReturn made = gst_heed_image_maker_take (&self->images, &self->dev, trans, &buf);
  if (made != GST_FLOW_OK)
    return made;
  push_cls_embedding (self, buf);
  if (!gst_heed_keyframe_push_buffer (&self->dev, self->scorer, &self->info, self->vulkan_memory,
                                      buf, &novelty, &have, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Keyframe scoring failed: %s", error->message),
                       (NULL));
    g_error_free (error);
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
  Held *h = g_new0 (Held, 1);
  h->buffer = buf;
  h->frame = self->frames++;
  GstSegment *seg = &trans->segment;
  h->rt = gst_segment_to_running_time (seg, GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
  GstClockTime dur = GST_BUFFER_DURATION (buf);
  if (!GST_CLOCK_TIME_IS_VALID (dur))
    dur = GST_VIDEO_INFO_FPS_N (&self->info) > 0
              ? gst_util_uint64_scale (GST_SECOND, GST_VIDEO_INFO_FPS_D (&self->info),
                                       GST_VIDEO_INFO_FPS_N (&self->info))
              : 40 * GST_MSECOND;
  gdouble speed = segment_speed (seg);
  h->rt_end =
      GST_CLOCK_TIME_IS_VALID (h->rt) ? h->rt + (GstClockTime) (dur / speed) : GST_CLOCK_TIME_NONE;
  if (!GST_CLOCK_TIME_IS_VALID (h->rt) || seg->rate < 0)
    h->heard = TRUE; /* no time, or played backwards (audio_chain): no sound to match */
  g_queue_push_tail (&self->held, h);
  /* a little past the frame's end: its last hops' windows reach beyond it */
  analyse_audio (self, GST_CLOCK_TIME_IS_VALID (h->rt_end)
                           ? h->rt_end + (GstClockTime) (50 * GST_MSECOND / speed)
                           : GST_CLOCK_TIME_NONE);
  for (GList *l = self->held.head; l; l = l->next)
    hear (self, l->data, FALSE);
  /* the scorer answers for the frame `persist` back; frames too early to score stay at 0 */
  if (h->frame >= self->persist) {
    Held *c = held_frame (self, h->frame - self->persist);
    if (c) {
      c->novelty = have ? novelty : 0.0f;
      heed_keyframe_scorer_head_novelty (self->scorer, c->head_novelty);
      /* the CLS head, the fourth, when heedclassify's embeddings reached it */
      c->have_cls = have && heed_keyframe_scorer_cls_novelty (self->scorer, &c->cls_novelty);
      c->importance = have ? importance_against_usual (self, c) : 0.0f;
      c->scored = TRUE;
      if (have) {
        Scored *r = &self->recent[self->n_recent++ % RECENT];
        r->frame = c->frame;
        memcpy (r->head_novelty, c->head_novelty, sizeof c->head_novelty);
        r->have_cls = c->have_cls;
        r->cls_novelty = c->cls_novelty;
      }
    }
  }
  return GST_FLOW_OK;
}

/* The frames leave through the output thread, never through the base class */
static GstFlowReturn
gst_heed_keyframe_generate_output (GstBaseTransform *trans, GstBuffer **outbuf)
{
  *outbuf = NULL;
  return push_decided (GST_HEED_KEYFRAME (trans), FALSE);
}

static void
set_video_ended (GstHeedKeyframe *self, gboolean ended)
{
  g_mutex_lock (&self->audio_lock);
  self->video_ended = ended;
  g_cond_broadcast (&self->audio_cond);
  g_mutex_unlock (&self->audio_lock);
}

static gboolean
gst_heed_keyframe_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstHeedKeyframe *self = GST_HEED_KEYFRAME (trans);
  switch (GST_EVENT_TYPE (event)) {
  case GST_EVENT_FLUSH_START: {
    /* downstream first (it lets go of the output thread's push), then the thread stops */
    gboolean ok = GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
    output_stop (self, FALSE);
    return ok;
  }
  case GST_EVENT_FLUSH_STOP: {
    reset_stream (self);
    set_video_ended (self, FALSE);
    gboolean ok = GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
    return output_start (self) && ok;
  }
  case GST_EVENT_EOS:
  case GST_EVENT_SEGMENT_DONE: /* a segment seek's end: no frame of it is left to come */
  case GST_EVENT_CAPS:
  case GST_EVENT_SEGMENT:
  case GST_EVENT_STREAM_START:
  case GST_EVENT_GAP: {
    /* the frames held belong before it: decide them with what is known, and let the output
     * thread push them before the base class forwards it */
    push_decided (self, TRUE);
    GstFlowReturn ret = output_drain (self);
    if (GST_EVENT_TYPE (event) == GST_EVENT_EOS &&
        (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS))
      /* nothing else reports it: no frame is left to come that upstream would fail with */
      GST_ELEMENT_FLOW_ERROR (self, ret);
    if (GST_EVENT_TYPE (event) == GST_EVENT_STREAM_START)
      reset_stream (self);
    /* the sound waits for no video after its end; a new stream takes sound again */
    if (GST_EVENT_TYPE (event) == GST_EVENT_EOS || GST_EVENT_TYPE (event) == GST_EVENT_STREAM_START)
      set_video_ended (self, GST_EVENT_TYPE (event) == GST_EVENT_EOS);
    break;
  }
  default:
    if (GST_EVENT_IS_SERIALIZED (event) && !g_queue_is_empty (&self->held)) {
      /* keep its place among the held frames */
      Held *h = g_new0 (Held, 1);
      h->event = event;
      g_queue_push_tail (&self->held, h);
      return TRUE;
    }
    if (GST_EVENT_IS_SERIALIZED (event)) /* after the frames the output thread has */
      return output_push (self, GST_MINI_OBJECT (event)) == GST_FLOW_OK;
    break;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

static gboolean
gst_heed_keyframe_query (GstBaseTransform *trans, GstPadDirection direction, GstQuery *query)
{
  GstHeedKeyframe *self = GST_HEED_KEYFRAME (trans);
  if (gst_heed_device_state_handle_query (&self->dev, GST_ELEMENT (self), query))
    return TRUE;
  /* a serialized query (a drain, an allocation) answers for the frames before it */
  if (direction == GST_PAD_SINK && GST_QUERY_IS_SERIALIZED (query) &&
      output_drain (self) == GST_FLOW_FLUSHING)
    return FALSE;
  gboolean ok = GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction, query);
  if (ok)
    gst_heed_prefer_vulkan_buffers (direction, query);
  if (ok && direction == GST_PAD_SRC && GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    /* frames leave `lookahead` frames late */
    gboolean live;
    GstClockTime min, max;
    gst_query_parse_latency (query, &live, &min, &max);
    GST_OBJECT_LOCK (self);
    guint lookahead = self->lookahead;
    GST_OBJECT_UNLOCK (self);
    gint n = GST_VIDEO_INFO_FPS_N (&self->info), d = GST_VIDEO_INFO_FPS_D (&self->info);
    GstClockTime extra =
        n > 0 ? gst_util_uint64_scale (lookahead, (guint64) d * GST_SECOND, (guint64) n) : 0;
    min += extra;
    if (GST_CLOCK_TIME_IS_VALID (max))
      max += extra;
    gst_query_set_latency (query, live, min, max);
  }
  return ok;
}

static void
gst_heed_keyframe_set_context (GstElement *element, GstContext *context)
{
  GstHeedKeyframe *self = GST_HEED_KEYFRAME (element);
  gst_heed_device_state_set_context (&self->dev, element, context);
  GST_ELEMENT_CLASS (parent_class)->set_context (element, context);
}

static gboolean
gst_heed_keyframe_start (GstBaseTransform *trans)
{
  GstHeedKeyframe *self = GST_HEED_KEYFRAME (trans);
  reset_stream (self);
  self->key_count = 0;
  set_video_ended (self, FALSE); /* a pipeline used again after EOS */
  return TRUE;
}

static gboolean
gst_heed_keyframe_stop (GstBaseTransform *trans)
{
  GstHeedKeyframe *self = GST_HEED_KEYFRAME (trans);
  reset_stream (self);
  heed_keyframe_scorer_destroy (&self->scorer);
  heed_audio_features_destroy (&self->audio);
  gst_heed_image_maker_clear (&self->images);
  gst_heed_device_state_stop (&self->dev);
  return TRUE;
}

/* ---- properties ----------------------------------------------------------------------------- */

static void
gst_heed_keyframe_set_property (GObject *object, guint prop_id, const GValue *value,
                                GParamSpec *pspec)
{
  GstHeedKeyframe *self = GST_HEED_KEYFRAME (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
  case PROP_THRESHOLD: self->threshold = g_value_get_double (value); break;
  case PROP_MIN_GAP: self->min_gap = g_value_get_uint (value); break;
  case PROP_LOOKAHEAD: self->lookahead = g_value_get_uint (value); break;
  case PROP_WINDOW: self->window = g_value_get_uint (value); break;
  case PROP_MODE: self->mode = g_value_get_enum (value); break;
  case PROP_POST_MESSAGES: self->post_messages = g_value_get_boolean (value); break;
  case PROP_DEVICE: self->device_index = g_value_get_int (value); break;
  case PROP_AUDIO_WEIGHT: self->audio_weight = g_value_get_double (value); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_heed_keyframe_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstHeedKeyframe *self = GST_HEED_KEYFRAME (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
  case PROP_THRESHOLD: g_value_set_double (value, self->threshold); break;
  case PROP_MIN_GAP: g_value_set_uint (value, self->min_gap); break;
  case PROP_LOOKAHEAD: g_value_set_uint (value, self->lookahead); break;
  case PROP_WINDOW: g_value_set_uint (value, self->window); break;
  case PROP_MODE: g_value_set_enum (value, self->mode); break;
  case PROP_POST_MESSAGES: g_value_set_boolean (value, self->post_messages); break;
  case PROP_DEVICE: g_value_set_int (value, self->device_index); break;
  case PROP_AUDIO_WEIGHT: g_value_set_double (value, self->audio_weight); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_heed_keyframe_finalize (GObject *object)
{
  GstHeedKeyframe *self = GST_HEED_KEYFRAME (object);
  discard_held (self);
  heed_keyframe_scorer_destroy (&self->scorer);
  heed_audio_features_destroy (&self->audio);
  gst_heed_device_state_clear (&self->dev);
  g_array_unref (self->audio_in);
  g_array_unref (self->audio_take);
  g_array_unref (self->audio_unpacked);
  g_array_unref (self->audio_flux);
  g_array_unref (self->hops);
  g_mutex_clear (&self->audio_lock);
  g_cond_clear (&self->audio_cond);
  output_clear (self);
  g_mutex_clear (&self->out_lock);
  g_cond_clear (&self->out_cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_heed_keyframe_init (GstHeedKeyframe *self)
{
  self->threshold = DEFAULT_PROP_THRESHOLD;
  self->min_gap = DEFAULT_PROP_MIN_GAP;
  self->lookahead = DEFAULT_PROP_LOOKAHEAD;
  self->window = DEFAULT_PROP_WINDOW;
  self->mode = DEFAULT_PROP_MODE;
  self->post_messages = DEFAULT_PROP_POST_MESSAGES;
  self->device_index = DEFAULT_PROP_DEVICE;
  self->audio_weight = DEFAULT_PROP_AUDIO_WEIGHT;
  self->last_key = self->last_audio_key = G_MAXUINT64;
  g_queue_init (&self->held);
  g_mutex_init (&self->audio_lock);
  g_cond_init (&self->audio_cond);
  self->audio_in = g_array_new (FALSE, FALSE, sizeof (float));
  self->audio_take = g_array_new (FALSE, FALSE, sizeof (float));
  self->audio_unpacked = g_array_new (FALSE, FALSE, sizeof (gdouble));
  self->audio_flux = g_array_new (FALSE, FALSE, sizeof (float));
  self->audio_in_rt = GST_CLOCK_TIME_NONE;
  self->hops = g_array_new (FALSE, FALSE, sizeof (Hop));
  gst_segment_init (&self->audio_segment, GST_FORMAT_TIME);
  gst_audio_info_init (&self->audio_info);
  /* frames pass unchanged: in place, never copied */
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), FALSE);
  g_mutex_init (&self->out_lock);
  g_cond_init (&self->out_cond);
  g_queue_init (&self->out);
  self->out_result = GST_FLOW_FLUSHING; /* until the source pad is active */
  /* the output thread starts and stops with the source pad */
  GstPad *src = GST_BASE_TRANSFORM_SRC_PAD (self);
  self->base_src_activate_mode = GST_PAD_ACTIVATEMODEFUNC (src);
  gst_pad_set_activatemode_function (src, GST_DEBUG_FUNCPTR (src_activate_mode));
}

static void
gst_heed_keyframe_class_init (GstHeedKeyframeClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  GST_DEBUG_CATEGORY_INIT (gst_heed_keyframe_debug, "heedkeyframe", 0,
                           "heed temporal keyframe attention");
  gobject_class->set_property = gst_heed_keyframe_set_property;
  gobject_class->get_property = gst_heed_keyframe_get_property;
  gobject_class->finalize = gst_heed_keyframe_finalize;

  g_object_class_install_property (
      gobject_class, PROP_THRESHOLD,
      g_param_spec_double ("threshold", "Threshold",
                           "Importance (0..1) a frame needs to be a keyframe: 0.5 is a change four "
                           "times what is usual for this video lately; lower finds subtler "
                           "changes, higher only the plainest cuts.",
                           0.0, 1.0, DEFAULT_PROP_THRESHOLD, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (
      gobject_class, PROP_MIN_GAP,
      g_param_spec_uint ("min-gap", "Minimum gap",
                         "Frames between two keyframes at least (a fade or dissolve gives one).", 1,
                         G_MAXINT, DEFAULT_PROP_MIN_GAP, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (
      gobject_class, PROP_LOOKAHEAD,
      g_param_spec_uint (
          "lookahead", "Lookahead",
          "Frames the decision on a frame waits for (the element holds them and adds them to its "
          "latency): the first 3 check that a change lasts (so flashes do not count), the rest "
          "find the peak of a gradual change. 0 decides on each frame as it arrives.",
          0, MAX_LOOKAHEAD, DEFAULT_PROP_LOOKAHEAD, rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_WINDOW,
      g_param_spec_uint ("window", "Window",
                         "Earlier frames each frame attends over: how far back a frame may be "
                         "explained from.",
                         1, HEED_KEYFRAME_MAX_WINDOW, DEFAULT_PROP_WINDOW,
                         rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
                         "Pass every frame (keyframes marked in the meta and by force-key-unit "
                         "events), or the keyframes alone.",
                         GST_TYPE_HEED_KEYFRAME_MODE, DEFAULT_PROP_MODE,
                         rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (
      gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
                            "Post a \"heedkeyframe\" element message for every keyframe.",
                            DEFAULT_PROP_POST_MESSAGES, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (
      gobject_class, PROP_AUDIO_WEIGHT,
      g_param_spec_double (
          "audio-weight", "Audio weight",
          "How much a sound counts beside the picture: a frame whose sound starts something (the "
          "spectral flux of its log-mel frames, against what is usual lately) is a keyframe with "
          "cause \"audio\" when weight x its importance reaches the threshold. 0 ignores the "
          "sound. The sound comes in on the audio_sink request pad (raw, in any format and layout, "
          "any rate and channels: a decoder's output as it is); "
          "without it, or when it ends or lags, the video goes on alone.",
          0.0, 10.0, DEFAULT_PROP_AUDIO_WEIGHT, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (
      gobject_class, PROP_DEVICE,
      g_param_spec_int ("device", "Device",
                        "Vulkan device index (-1: the pipeline's heed device, else automatic: a "
                        "discrete GPU first, lavapipe on the CPU last).",
                        -1, G_MAXINT, DEFAULT_PROP_DEVICE, rw | GST_PARAM_MUTABLE_READY));

  gst_element_class_set_static_metadata (
      element_class, "heed keyframe attention", "Filter/Analyzer/Video",
      "Marks the frames that matter (shot changes, the ends of fades and dissolves) by temporal "
      "attention over per-frame embeddings on a Vulkan device",
      "heed developers");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_add_static_pad_template (element_class, &audio_template);
  element_class->request_new_pad = GST_DEBUG_FUNCPTR (gst_heed_keyframe_request_new_pad);
  element_class->release_pad = GST_DEBUG_FUNCPTR (gst_heed_keyframe_release_pad);
  element_class->set_context = GST_DEBUG_FUNCPTR (gst_heed_keyframe_set_context);
  gst_type_mark_as_plugin_api (GST_TYPE_HEED_KEYFRAME_MODE, 0);

  trans_class->start = GST_DEBUG_FUNCPTR (gst_heed_keyframe_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_heed_keyframe_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_heed_keyframe_set_caps);
  trans_class->submit_input_buffer = GST_DEBUG_FUNCPTR (gst_heed_keyframe_submit_input_buffer);
  trans_class->transform_caps = gst_heed_transform_caps;
  trans_class->generate_output = GST_DEBUG_FUNCPTR (gst_heed_keyframe_generate_output);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_heed_keyframe_sink_event);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_heed_keyframe_query);
  trans_class->passthrough_on_same_caps = FALSE;
}
