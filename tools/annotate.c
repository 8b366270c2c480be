/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `heed annotate INPUT... [-o OUTPUT] [--jsonl FILE] [--report DIR] [--model M]`: decodes a video
 * file (anything GStreamer and gst-libav read, turned upright by its rotation tag), runs
 * heedclassify, heedkeyframe (with the file's sound when it has sound) and heedoverlay on it, and
 * writes an MP4 (or the container OUTPUT's name asks for: output_container) with the overlays
 * drawn: H.264 through x264enc when it is installed, else MPEG-4 Part 2 through gst-libav, the
 * sound kept as AAC, a key frame at each of heedkeyframe's keyframes (its force-key-unit events),
 * every frame kept with its timestamp; with --report, a page of the keyframes, the importance
 * timeline and the label track (report.c). Progress on stderr: a redrawn bar on a terminal, a line
 * every tenth otherwise. Ctrl-C ends the stream early and finishes the file, so what was written
 * plays. Exit status 0 on success, 1 with a one-line reason on an error, 130 when interrupted.
 * Several inputs, or a folder's videos, are annotated one after another (list_videos names their
 * outputs), a failed one not stopping the others. */
#include "heed-cli.h"
#include "heed-orientation.h"
#include "heed-still-damage.h"
#include "heed-report.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <gst/pbutils/pbutils.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define EXIT_INTERRUPTED 130

typedef struct {
  GstElement *pipeline;
  gboolean tty;
  gint interrupted;       /* atomic: read by the sound's streaming thread */
  GstClockTime duration;  /* of the input, or GST_CLOCK_TIME_NONE */
  gint64 started;         /* monotonic µs */
  guint frames;           /* written to the encoder */
  GMutex lock;            /* video_end, between the video and the sound's streaming threads */
  GstClockTime video_end; /* of the last frame that reached the encoder */
  int last_tenth;         /* plain progress: the last tenth reported */
  /* the end's watchdog (end_if_stalled_at_end), from the decoded frames: */
  GstClockTime decoded_pts;  /* the time the last ones were stamped with (under lock), */
  GstClockTime decoded_end;  /* the last one's end, as stamped on the way (under lock), */
  gint decoded;              /* atomic: how many, */
  gint decoded_eos;          /* atomic: whether the stream's end followed them, */
  gint decoded_seen;         /* how many at the watchdog's last look, */
  GstElement *decoded_queue; /* the queue they enter (vq), */
  gint64 stalled_since;      /* since when (monotonic µs) the stream has stood still at its end, */
  guint ended_stall;         /* and how the watchdog ended it: 1 before the decoders, 2 after */
  gboolean still;            /* the input is a still picture (STILL_NS) */
  GstClockTime encoded_end;  /* the end of the encoded frames so far (cover_frames), */
  GstClockTime encoded_delay; /* and the first one's DTS to PTS */
} Annotate;

/* How long a still picture's one frame is shown: its decoder gives it no duration, and MP4 then
 * holds a frame that lasts no time, which players show as nothing */
#define STILL_NS GST_SECOND

/* Whether the two paths name one file (a link or another spelling of it too) */
static gboolean
same_file (const char *a, const char *b)
{
  GStatBuf sa, sb;
  return g_stat (a, &sa) == 0 && g_stat (b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

/* Whether path is an animated WebP: RIFF's WEBP with a VP8X header whose animation flag is set */
static gboolean
is_animated_webp (const char *path)
{
  guint8 head[21];
  return heed_cli_read_head (path, head, sizeof head) == sizeof head &&
         memcmp (head, "RIFF", 4) == 0 && memcmp (head + 8, "WEBPVP8X", 8) == 0 &&
         (head[20] & 0x02);
}

/* Whether path is an animated PNG: an acTL chunk before the first IDAT (APNG's rule), within
 * the first 64 kB */
static gboolean
is_animated_png (const char *path)
{
  const gsize size = 65536;
  const gsize signature = 8; /* the chunks follow PNG's signature */
  guint8 *head = g_malloc (size);
  gsize got = heed_cli_read_head (path, head, size);
  gboolean animated = FALSE;
  if (heed_cli_head_is_png (head, got)) {
    /* chunks: a 4-byte big-endian length, a 4-byte type, the data, a 4-byte CRC */
    for (gsize at = signature; at + 8 <= got;) {
      guint32 length = GST_READ_UINT32_BE (head + at);
      if (memcmp (head + at + 4, "acTL", 4) == 0)
        animated = TRUE;
      if (animated || memcmp (head + at + 4, "IDAT", 4) == 0 || length > size)
        break;
      at += 12 + (gsize) length;
    }
  }
  g_free (head);
  return animated;
}

/* The input's file name (an address's last path segment, or "stream" where it has none)
 * without its extension: what its outputs are named after */
static char *
input_stem (const char *input, gboolean address)
{
  char *base = NULL;
  if (address) {
    GstUri *parsed = gst_uri_from_string (input);
    char *path = parsed ? gst_uri_get_path (parsed) : NULL;
    if (path && *path && !g_str_has_suffix (path, "/"))
      base = g_path_get_basename (path);
    g_free (path);
    if (parsed)
      gst_uri_unref (parsed);
  } else {
    base = g_path_get_basename (input);
  }
  if (!base || !*base || g_str_equal (base, ".") || g_str_equal (base, G_DIR_SEPARATOR_S))
    g_free (base), base = g_strdup ("stream");
  char *dot = strrchr (base, '.');
  if (dot && dot != base)
    *dot = 0;
  return base;
}

/* How videoflip turns a still picture at path upright by its EXIF orientation, as heed classify
 * turns it (GdkPixbuf's JPEG and TIFF loaders read the tag, heed_still_orientation a PNG's and a
 * WebP's; a phone stores a photo as the sensor read it, with that tag): a
 * GstVideoOrientationMethod's nick, or NULL where the file says nothing or is upright.
 * GStreamer 1.22's decodebin reads no orientation from a JPEG (only jpegparse reads it, and
 * decodebin does not plug it), nor from a PNG or a WebP, so videoflip's auto left it as stored. */
static const char *
still_direction (const char *path)
{
  /* a small decode: the JPEG loader scales as it decodes, and sets the tag all the same */
  guint muted = heed_cli_mute_warnings ();
  GdkPixbuf *pb = gdk_pixbuf_new_from_file_at_size (path, 64, 64, NULL);
  heed_cli_unmute_warnings (muted);
  const char *tag = pb ? gdk_pixbuf_get_option (pb, "orientation") : NULL;
  guint64 o = 0;
  if (tag && !g_ascii_string_to_unsigned (tag, 10, 1, 8, &o, NULL))
    o = 0;
  g_clear_object (&pb);
  return heed_orientation_method (tag ? (guint) o : heed_still_orientation_of_file (path));
}

/* A still picture that GStreamer 1.22 reads no frame of but GdkPixbuf does, as heed classify
 * reads it (a phone's HEIC and an AVIF through libheif, whose frames come out turned as the file
 * says; a TGA, an ICO), turned upright by its EXIF orientation and written to a temporary PNG
 * that decodebin reads; NULL where GdkPixbuf reads no still picture from it (an animation is not
 * one: an animated WebP keeps its own error). The caller unlinks the file. */
static char *
still_as_png (const char *path)
{
  guint muted = heed_cli_mute_warnings ();
  GdkPixbufAnimation *animation = gdk_pixbuf_animation_new_from_file (path, NULL);
  heed_cli_unmute_warnings (muted);
  GdkPixbuf *upright = animation && gdk_pixbuf_animation_is_static_image (animation)
                           ? gdk_pixbuf_apply_embedded_orientation (
                                 gdk_pixbuf_animation_get_static_image (animation))
                           : NULL;
  g_clear_object (&animation);
  char *png = NULL;
  int fd = upright ? g_file_open_tmp ("heed-still-XXXXXX.png", &png, NULL) : -1;
  if (fd >= 0)
    close (fd);
  if (png && !gdk_pixbuf_save (upright, png, "png", NULL, NULL)) {
    g_unlink (png);
    g_clear_pointer (&png, g_free);
  }
  g_clear_object (&upright);
  return png;
}

/* What the input holds: whether it has video and sound (and the sound's rate and channels, 0
 * where unknown: the stream sound_id names, or where it is NULL the first), how long it lasts,
 * and whether it is a still picture. path: the input's file, or NULL for an address. */
static gboolean
probe_input (const char *uri, const char *path, const char *sound_id, gboolean *audio, guint *rate,
             guint *channels, GstClockTime *duration, gboolean *still, GError **error)
{
  GstDiscoverer *disc = gst_discoverer_new (30 * GST_SECOND, error);
  if (!disc)
    return FALSE;
  GError *why = NULL;
  GstDiscovererInfo *info = gst_discoverer_discover_uri (disc, uri, &why);
  const char *shown = path ? path : uri;
  g_object_unref (disc);
  GstDiscovererResult result = info ? gst_discoverer_info_get_result (info) : GST_DISCOVERER_ERROR;
  GList *video =
      info && result == GST_DISCOVERER_OK ? gst_discoverer_info_get_video_streams (info) : NULL;
  gboolean ok = FALSE;
  if (result != GST_DISCOVERER_OK && path && is_animated_webp (path))
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED,
                 "%s is an animated WebP, which GStreamer 1.22 does not read (its webpdec "
                 "takes still pictures only)",
                 path);
  else if (result != GST_DISCOVERER_OK) /* the one reason a picture GdkPixbuf reads overrides */
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_TYPE_NOT_FOUND,
                 "%s is not a video heed can read%s%s%s", shown,
                 result == GST_DISCOVERER_MISSING_PLUGINS
                     ? " (a GStreamer plugin for its format is missing)"
                     : "",
                 why ? ": " : "", why ? why->message : "");
  else if (!video)
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED, "%s has no video stream", shown);
  else if (path && is_animated_png (path))
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED,
                 "%s is an animated PNG, whose frames GStreamer 1.22 does not read (its pngdec "
                 "gives the first only); FFmpeg makes it a video heed reads",
                 path);
  else {
    GList *sound = gst_discoverer_info_get_audio_streams (info);
    *audio = sound != NULL;
    GList *used = sound;
    for (GList *l = sound; l && sound_id; l = l->next)
      if (g_strcmp0 (gst_discoverer_stream_info_get_stream_id (l->data), sound_id) == 0)
        used = l;
    if (used) {
      *rate = gst_discoverer_audio_info_get_sample_rate (used->data);
      *channels = gst_discoverer_audio_info_get_channels (used->data);
    }
    *duration = gst_discoverer_info_get_duration (info);
    *still = gst_discoverer_video_info_is_image (video->data);
    gst_discoverer_stream_info_list_free (sound);
    ok = TRUE;
  }
  gst_discoverer_stream_info_list_free (video);
  g_clear_error (&why);
  if (info)
    gst_discoverer_info_unref (info);
  return ok;
}

/* Matroska marks its default tracks (FlagDefault), which GStreamer's demuxer passes on as the
 * SELECT flag of each stream's start; MP4, TS and the others mark none. Where a Matroska file
 * marks some of its video (or sound) tracks and not others, players take the first marked one,
 * and so does heed annotate: the first video track may be a still picture (a cover) or another
 * angle, the first sound track a commentary, that is not the default. The tracks are read off
 * matroskademux's pads, nothing decoded. */
enum { TRACK_VIDEO, TRACK_SOUND, TRACK_KINDS };
static const char *const track_pads[TRACK_KINDS] = { "video_", "audio_" };

typedef struct {
  GMutex lock;
  char *marked[TRACK_KINDS];      /* the first marked track's stream id, */
  gboolean unmarked[TRACK_KINDS]; /* whether some track has no mark */
  gint all_seen;                  /* atomic: the demuxer's no-more-pads */
} TrackMarks;

static void
note_track_mark (GstElement *demux, GstPad *pad, gpointer data)
{
  TrackMarks *marks = data;
  char *name = gst_pad_get_name (pad); /* video_%u, audio_%u, subtitle_%u */
  GstEvent *start = gst_pad_get_sticky_event (pad, GST_EVENT_STREAM_START, 0);
  for (guint kind = 0; start && kind < TRACK_KINDS; kind++) {
    if (!g_str_has_prefix (name, track_pads[kind]))
      continue;
    GstStreamFlags flags = GST_STREAM_FLAG_NONE;
    const char *id = NULL;
    gst_event_parse_stream_flags (start, &flags);
    gst_event_parse_stream_start (start, &id);
    g_mutex_lock (&marks->lock);
    if (!(flags & GST_STREAM_FLAG_SELECT))
      marks->unmarked[kind] = TRUE;
    else if (!marks->marked[kind] && id)
      marks->marked[kind] = g_strdup (id);
    g_mutex_unlock (&marks->lock);
  }
  if (start)
    gst_event_unref (start);
  g_free (name);
}

static void
note_all_seen (GstElement *demux, gpointer data)
{
  g_atomic_int_set (&((TrackMarks *) data)->all_seen, TRUE);
}

/* The stream ids of the video and sound tracks a Matroska file marks as its defaults, each
 * where it marks some tracks of that kind and not others, else NULL (the first is the one);
 * FALSE where neither is set */
static gboolean
default_tracks (const char *path, char *ids[TRACK_KINDS])
{
  static const guint8 ebml[4] = { 0x1a, 0x45, 0xdf, 0xa3 }; /* Matroska's and WebM's start */
  guint8 head[4];
  ids[TRACK_VIDEO] = ids[TRACK_SOUND] = NULL;
  if (heed_cli_read_head (path, head, sizeof head) != sizeof head || memcmp (head, ebml, 4) != 0)
    return FALSE;
  GstElement *pipeline = gst_parse_launch ("filesrc name=src ! matroskademux name=demux", NULL);
  if (!pipeline)
    return FALSE;
  TrackMarks marks = { 0 };
  g_mutex_init (&marks.lock);
  heed_cli_set_string (pipeline, "src", "location", path);
  GstElement *demux = gst_bin_get_by_name (GST_BIN (pipeline), "demux");
  g_signal_connect (demux, "pad-added", G_CALLBACK (note_track_mark), &marks);
  g_signal_connect (demux, "no-more-pads", G_CALLBACK (note_all_seen), &marks);
  /* the demuxer adds a pad a track from the file's header, then says it has added them all;
   * nothing is linked to them, so the data after that stops with an error. At most 10 s (a file
   * it cannot read stops with an error at once). */
  GstBus *bus = gst_element_get_bus (pipeline);
  gst_element_set_state (pipeline, GST_STATE_PAUSED);
  for (guint tenth = 0; tenth < 100 && !g_atomic_int_get (&marks.all_seen); tenth++) {
    GstMessage *end =
        gst_bus_timed_pop_filtered (bus, GST_SECOND / 10, GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
    if (end) {
      gst_message_unref (end);
      break;
    }
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (demux);
  gst_object_unref (pipeline);
  g_mutex_clear (&marks.lock);
  for (guint kind = 0; kind < TRACK_KINDS; kind++) {
    if (!marks.unmarked[kind])
      g_clear_pointer (&marks.marked[kind], g_free);
    ids[kind] = marks.marked[kind];
  }
  return ids[TRACK_VIDEO] || ids[TRACK_SOUND];
}

/* decodebin's autoplug-continue: a demuxed video or sound stream other than its kind's default
 * (data: the ids default_tracks gave) is left undecoded, so that its pad does not link to that
 * kind's queue */
static gboolean
decode_default_tracks (GstElement *decodebin, GstPad *pad, GstCaps *caps, gpointer data)
{
  char **ids = data;
  const char *name = gst_structure_get_name (gst_caps_get_structure (caps, 0));
  const char *wanted = g_str_has_prefix (name, "video/") || g_str_has_prefix (name, "image/")
                           ? ids[TRACK_VIDEO]
                       : g_str_has_prefix (name, "audio/") ? ids[TRACK_SOUND]
                                                           : NULL;
  if (!wanted)
    return TRUE;
  char *id = gst_pad_get_stream_id (pad);
  /* the container's own stream (video/x-matroska) has the source's id, without the demuxer's
   * part after a slash */
  gboolean other = id && strchr (id, '/') && strcmp (id, wanted) != 0;
  g_free (id);
  return !other;
}

/* The containers heed annotate writes, told by OUTPUT's extension (none: MP4): each with its
 * muxer; WebM takes VP9 and Opus only, the others H.264 (or MPEG-4 Part 2) and AAC */
typedef struct {
  const char *extension, *muxer;
  gboolean webm;
} Container;

static const Container containers[] = {
  { "mp4", "mp4mux", FALSE },      { "m4v", "mp4mux", FALSE },  { "mov", "qtmux", FALSE },
  { "mkv", "matroskamux", FALSE }, { "webm", "webmmux", TRUE }, { "ts", "mpegtsmux", FALSE },
};

/* The container for output, or NULL with the reason where its extension names another */
static const Container *
output_container (const char *output, GError **error)
{
  char *base = g_path_get_basename (output);
  const char *dot = strrchr (base, '.');
  const Container *found = dot && dot != base ? NULL : &containers[0];
  for (guint i = 0; i < G_N_ELEMENTS (containers) && !found; i++)
    if (g_ascii_strcasecmp (dot + 1, containers[i].extension) == 0)
      found = &containers[i];
  if (!found)
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED,
                 "%s: heed annotate writes MP4 (.mp4, .m4v), QuickTime (.mov), Matroska (.mkv), "
                 "WebM (.webm) or MPEG-TS (.ts), as the output's name ends",
                 output);
  g_free (base);
  return found;
}

static const char *
video_encoder (const Container *container)
{
  if (container->webm) {
    GstElementFactory *vp9 = gst_element_factory_find ("vp9enc");
    if (!vp9)
      return NULL;
    gst_object_unref (vp9);
    /* real time, constant quality: about as fast as x264's veryfast on this machine's 1080p.
     * No lag: GStreamer 1.22's vp9enc lost the frames it held back for it at the end of the
     * stream (the last 7 of 50 with the default 25) */
    return "vp9enc deadline=1 cpu-used=8 row-mt=true lag-in-frames=0 end-usage=cq cq-level=32 "
           "target-bitrate=8000000";
  }

  GstElementFactory *f = gst_element_factory_find ("x264enc");
  if (f) {
    gst_object_unref (f);
    /* speed over size; the overlays are what the file is for */
    return "x264enc speed-preset=veryfast";
  }
  if ((f = gst_element_factory_find ("avenc_mpeg4"))) {
    gst_object_unref (f);
    return "avenc_mpeg4 bitrate=4000000";
  }
  return NULL;
}

static GstPadProbeReturn
count_frame (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Annotate *a = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  g_atomic_int_inc (&a->frames);
  if (GST_BUFFER_PTS_IS_VALID (buf)) {
    g_mutex_lock (&a->lock);
    a->video_end =
        GST_BUFFER_PTS (buf) + (GST_BUFFER_DURATION_IS_VALID (buf) ? GST_BUFFER_DURATION (buf) : 0);
    g_mutex_unlock (&a->lock);
  }
  return GST_PAD_PROBE_OK;
}

/* mp4mux and qtmux give a track the sum of its samples' durations (each the next one's DTS less
 * its own, the last its buffer's duration) and show that long from the first frame on. Where
 * frames are missing (a damaged input's), the B-frames' reordering leaves that sum short of the
 * last frame's end, and the frames past it were hidden (54 written, 53 shown). Each encoded
 * frame's duration is made long enough for the sum to reach the end of the frames so far, the
 * first frame's DTS-to-PTS delay taken off: only the last one's is read. */
static GstPadProbeReturn
cover_frames (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Annotate *a = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  if (!GST_BUFFER_PTS_IS_VALID (buf) || !GST_BUFFER_DTS_IS_VALID (buf) ||
      !GST_BUFFER_DURATION_IS_VALID (buf))
    return GST_PAD_PROBE_OK;
  GstClockTime pts = GST_BUFFER_PTS (buf), dts = GST_BUFFER_DTS (buf);
  GstClockTime end = pts + GST_BUFFER_DURATION (buf);
  if (!GST_CLOCK_TIME_IS_VALID (a->encoded_end)) {
    a->encoded_end = end;
    a->encoded_delay = pts > dts ? pts - dts : 0;
  }
  a->encoded_end = MAX (a->encoded_end, end);
  GstClockTime reach = dts + a->encoded_delay + GST_BUFFER_DURATION (buf);
  if (a->encoded_end > reach) {
    buf = gst_buffer_make_writable (buf);
    GST_PAD_PROBE_INFO_DATA (info) = buf;
    GST_BUFFER_DURATION (buf) += a->encoded_end - reach;
  }
  return GST_PAD_PROBE_OK;
}

/* Once interrupted, the sound beyond the last frame written is left out: it is decoded ahead
 * of the (slower) picture, and the file would otherwise last as long as the sound. */
static GstPadProbeReturn
trim_sound (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Annotate *a = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  if (!g_atomic_int_get (&a->interrupted) || !GST_BUFFER_PTS_IS_VALID (buf))
    return GST_PAD_PROBE_OK;
  g_mutex_lock (&a->lock);
  gboolean beyond = GST_BUFFER_PTS (buf) >= a->video_end;
  g_mutex_unlock (&a->lock);
  return beyond ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

static void
format_time (char *out, gsize size, double seconds)
{
  guint s = seconds > 0 ? (guint) (seconds + 0.5) : 0;
  if (s >= 3600)
    g_snprintf (out, size, "%u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
  else
    g_snprintf (out, size, "%u:%02u", s / 60, s % 60);
}

/* The decoded frames, and the end of the stream after them, as they enter the pipeline. A frame
 * stamped with the time of the one before it (gst-libav 1.22 stamps every frame of an animated
 * GIF 0, with its own duration) is given the end of that one instead: two frames are never shown
 * at one instant, and the encoder and muxer would keep only one. */
static GstPadProbeReturn
watch_decoded (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Annotate *a = data;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    g_atomic_int_inc (&a->decoded);
    if (a->still && !GST_BUFFER_DURATION_IS_VALID (buf)) {
      buf = gst_buffer_make_writable (buf);
      GST_PAD_PROBE_INFO_DATA (info) = buf;
      GST_BUFFER_DURATION (buf) = STILL_NS;
    }
    if (!GST_BUFFER_PTS_IS_VALID (buf))
      return GST_PAD_PROBE_OK;
    g_mutex_lock (&a->lock);
    if (GST_BUFFER_PTS (buf) == a->decoded_pts && GST_CLOCK_TIME_IS_VALID (a->decoded_end) &&
        a->decoded_end > a->decoded_pts) {
      buf = gst_buffer_make_writable (buf);
      GST_PAD_PROBE_INFO_DATA (info) = buf;
      GST_BUFFER_PTS (buf) = a->decoded_end;
    } else {
      a->decoded_pts = GST_BUFFER_PTS (buf);
    }
    a->decoded_end =
        GST_BUFFER_PTS (buf) + (GST_BUFFER_DURATION_IS_VALID (buf) ? GST_BUFFER_DURATION (buf) : 0);
    g_mutex_unlock (&a->lock);
  } else if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS) {
    g_atomic_int_set (&a->decoded_eos, TRUE);
  }
  return GST_PAD_PROBE_OK;
}

/* A demuxer that never ends the stream after the last frame (gst-libav 1.22's demuxers on
 * FFmpeg 5.1, GIF's and NUT's, spin at the end of the file instead) would leave the run waiting
 * for ever. The stream is ended right after the demuxer once, for this long, the decoder has given
 * every frame up to within END_HELD_NS of the input's duration (the frames a decoder holds back,
 * which only the end of stream lets out: NUT's MPEG-4 decoder kept its last two),
 * the queue after it has handed them all on (so the decoder is not waiting for room there, as it
 * does behind a slow model), no frame has come and no end of stream: a file's own end of stream
 * follows its last frame into that queue at once. Should that not end it, it is ended after the
 * decoders when the same has held as long again. */
#define END_STALL_US (3 * G_USEC_PER_SEC)
#define END_HELD_NS (2 * GST_SECOND)

/* The pad right after the demuxer on the way to the queue (a parser's, or decodebin's multiqueue's
 * sink pad), walked up from the queue through each element's internal link; NULL where no
 * demuxer is found */
static GstPad *
pad_after_demuxer (GstElement *queue)
{
  GstPad *sink = gst_element_get_static_pad (queue, "sink");
  for (guint hops = 0; sink && hops < 32; hops++) {
    GstPad *src = gst_pad_get_peer (sink);
    while (src && GST_IS_GHOST_PAD (src)) { /* decodebin's pads: to what they stand for */
      GstPad *target = gst_ghost_pad_get_target (GST_GHOST_PAD (src));
      gst_object_unref (src);
      src = target;
    }
    GstElement *e = src ? gst_pad_get_parent_element (src) : NULL;
    const char *klass =
        e ? gst_element_class_get_metadata (GST_ELEMENT_GET_CLASS (e), GST_ELEMENT_METADATA_KLASS)
          : NULL;
    gboolean found = klass && strstr (klass, "Demuxer");
    GstPad *next = NULL;
    if (klass && !found) { /* on up: the sink pad src is linked to within */
      GstIterator *it = gst_pad_iterate_internal_links (src);
      GValue v = G_VALUE_INIT;
      if (it && gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
        next = g_value_dup_object (&v);
        g_value_unset (&v);
      }
      if (it)
        gst_iterator_free (it);
    }
    g_clear_object (&src);
    g_clear_object (&e);
    if (found)
      return sink;
    gst_object_unref (sink);
    sink = next;
  }
  g_clear_object (&sink);
  return NULL;
}

/* Ends the stream on the way to vq and to aq with an EOS:
 * - after the decoders (into the queues): what was decoded so far is written and the decoders'
 *   next push is refused (an EOS at the file source would first drain everything the demuxer
 *   and decoder queues hold, seconds of it);
 * - before them (into the pad right after the demuxer, or the queue where there is no demuxer):
 *   what the queues and decoders after the demuxer hold comes out first (a decoder lets its
 *   last frames out at the end of stream only). */
static gboolean
end_stream (Annotate *a, gboolean before_decoders)
{
  const char *queues[] = { "vq", "aq" };
  for (guint i = 0; i < G_N_ELEMENTS (queues); i++) {
    GstElement *q = gst_bin_get_by_name (GST_BIN (a->pipeline), queues[i]);
    if (!q)
      continue;
    GstPad *pad = before_decoders ? pad_after_demuxer (q) : NULL;
    if (!pad)
      pad = gst_element_get_static_pad (q, "sink");
    gst_pad_send_event (pad, gst_event_new_eos ());
    gst_object_unref (pad);
    gst_object_unref (q);
  }
  return TRUE;
}

static void
end_if_stalled_at_end (Annotate *a)
{
  gint decoded = g_atomic_int_get (&a->decoded);
  guint queued = 1;
  g_object_get (a->decoded_queue, "current-level-buffers", &queued, NULL);
  g_mutex_lock (&a->lock);
  gboolean all_decoded = decoded > 0 && GST_CLOCK_TIME_IS_VALID (a->duration) &&
                         GST_CLOCK_TIME_IS_VALID (a->decoded_end) &&
                         a->decoded_end + END_HELD_NS >= a->duration;
  g_mutex_unlock (&a->lock);
  gboolean stalled = all_decoded && queued == 0 && decoded == a->decoded_seen &&
                     !g_atomic_int_get (&a->decoded_eos) && !g_atomic_int_get (&a->interrupted);
  gint64 now = g_get_monotonic_time ();
  a->decoded_seen = decoded;
  if (!stalled || !a->stalled_since) {
    a->stalled_since = stalled ? now : 0;
    return;
  }
  if (a->ended_stall == 2 || now - a->stalled_since < END_STALL_US)
    return;
  if (a->ended_stall++ == 0) {
    fprintf (stderr,
             "%sheed annotate: the input is read to its end but its demuxer has not ended the "
             "stream; ending it\n",
             a->tty ? "\n" : "");
    end_stream (a, TRUE);
    a->stalled_since = now; /* the next try only when this has had as long to work */
  } else {
    end_stream (a, FALSE);
  }
}

static void
report_progress (gpointer data)
{
  Annotate *a = data;
  gint64 pos = -1;
  if (!gst_element_query_position (a->pipeline, GST_FORMAT_TIME, &pos) || pos < 0)
    return;
  double elapsed = (g_get_monotonic_time () - a->started) / 1e6;
  guint frames = (guint) g_atomic_int_get (&a->frames);
  double fps = elapsed > 0 ? frames / elapsed : 0;
  gboolean known = GST_CLOCK_TIME_IS_VALID (a->duration) && a->duration > 0;
  double fraction = known ? MIN (1.0, (double) pos / a->duration) : 0;
  char left[32] = "?";
  if (known && fraction > 0)
    format_time (left, sizeof left, elapsed / fraction - elapsed);
  if (a->tty) {
    char bar[31];
    guint filled = (guint) (fraction * 30);
    for (guint i = 0; i < 30; i++)
      bar[i] = i < filled ? '#' : '-';
    bar[30] = 0;
    fprintf (stderr, "\r[%s] %3.0f%%  %u frames  %.1f fps  %s left ", bar, fraction * 100, frames,
             fps, left);
  } else if (known && (int) (fraction * 10) > a->last_tenth) {
    a->last_tenth = (int) (fraction * 10);
    fprintf (stderr, "heed annotate: %.0f%%, %u frames, %.1f fps, %s left\n", fraction * 100,
             frames, fps, left);
  }
}

/* Every tick: the end's watchdog, then the progress */
static void
on_tick (gpointer data)
{
  end_if_stalled_at_end (data);
  report_progress (data);
}

/* Ctrl-C: the stream ended after the decoders, the file finished with what was decoded */
static gboolean
on_interrupt (gpointer data)
{
  Annotate *a = data;
  g_atomic_int_set (&a->interrupted, TRUE);
  fprintf (stderr,
           "%sheed annotate: interrupted, finishing the file (Ctrl-C again to stop at once)\n",
           a->tty ? "\n" : "");
  return end_stream (a, FALSE);
}

/* One video of a run: where it is read from and what it is written to */
typedef struct {
  char *input;  /* as named, or a folder's video by its path */
  char *uri;    /* an address a GStreamer source reads, or NULL for a file */
  char *path;   /* or the file (a file:// URI's path, or the name itself), NULL for an address */
  char *output; /* the annotated video */
  char *jsonl;  /* its JSON lines, or NULL */
  char *report_dir; /* its report, or NULL */
} AnnotateVideo;

static void
annotate_video_free (gpointer data)
{
  AnnotateVideo *v = data;
  g_free (v->input), g_free (v->uri), g_free (v->path);
  g_free (v->output), g_free (v->jsonl), g_free (v->report_dir);
  g_free (v);
}

/* What the videos of one run share */
typedef struct {
  const char *model;      /* as named (the report shows it), or NULL: the embedded model */
  const char *model_path; /* what it resolved to */
  const char *weights;
  const HeedCliElementOptions *settings;
  gboolean told_of_model; /* the embedded model's note is given once, before the first run */
} AnnotateOptions;

/* Annotates one video; its exit status: 0, 1 (said why on stderr) or EXIT_INTERRUPTED */
static int
annotate_video (const AnnotateVideo *v, AnnotateOptions *o)
{
  const char *input = v->uri ? v->input : v->path, *input_uri = v->uri;
  const char *output = v->output, *jsonl = v->jsonl, *report_dir = v->report_dir;
  const char *model = o->model, *model_path = o->model_path, *weights = o->weights;
  const HeedCliElementOptions *settings = o->settings;
  GError *error = NULL;
  Annotate a = { 0 };
  a.decoded_pts = a.decoded_end = GST_CLOCK_TIME_NONE;
  g_mutex_init (&a.lock);
  int status = 1;
  gboolean audio = FALSE;
  guint rate = 0, channels = 0;
  char *desc = NULL, *shown = NULL, *file_uri = NULL, *default_ids[TRACK_KINDS] = { NULL };
  /* what filesrc reads in place of the input, unlinked at the end: a still picture at an address
   * fetched (once, for its EXIF orientation and its frame), or a PNG of a picture GStreamer does
   * not read (still_as_png) */
  char *local_copy = NULL;
  HeedReport *report = NULL;

  const Container *container = output_container (output, &error);
  if (!container) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  const char *encoder = video_encoder (container);
  gboolean marked = !input_uri && default_tracks (input, default_ids);
  /* a picture cut short, which its decoder fills out with grey or black where Pillow refuses it
   * (judged on the input itself, before a PNG or a completed copy stands in for it) */
  const char *damage = input_uri ? NULL : heed_still_damage_of_file (input);
  if (damage) {
    char *why = g_strdup_printf ("%s: %s", input, damage);
    status = heed_cli_fail (why, NULL);
    g_free (why);
    goto out;
  }
  /* a BMP read by GdkPixbuf (heed_cli_head_is_bmp says why), from a PNG of it; a GIF without
   * its trailer from a copy with one (heed_gif_completed says why) */
  guint8 head[18];
  if (!input_uri && heed_cli_head_is_bmp (head, heed_cli_read_head (input, head, sizeof head))) {
    if (!(local_copy = still_as_png (input))) {
      char *why = g_strdup_printf ("%s: cannot decode: a damaged BMP", input);
      status = heed_cli_fail (why, NULL);
      g_free (why);
      goto out;
    }
  } else if (!input_uri) {
    local_copy = heed_gif_completed_copy (input);
  }
  if (!heed_cli_find_plugin (&error) ||
      !(file_uri = input_uri    ? g_strdup (input_uri)
                   : local_copy ? gst_filename_to_uri (local_copy, &error)
                                : gst_filename_to_uri (input, &error))) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  if (!probe_input (file_uri, input_uri ? NULL : input, default_ids[TRACK_SOUND], &audio, &rate,
                    &channels, &a.duration, &a.still, &error)) {
    /* a picture GStreamer does not read (HEIC, AVIF) annotated as GdkPixbuf reads it, from a
     * PNG of it (one at an address fetched for it first, as heed classify fetches it); else the
     * first reason stands */
    GError *again = NULL;
    if (g_error_matches (error, GST_STREAM_ERROR, GST_STREAM_ERROR_TYPE_NOT_FOUND)) {
      gboolean stream;
      char *fetched = input_uri ? heed_cli_fetch_address (input_uri, &stream, NULL) : NULL;
      if (local_copy) { /* a completed GIF's */
        g_unlink (local_copy);
        g_clear_pointer (&local_copy, g_free);
      }
      if (!input_uri || fetched)
        local_copy = still_as_png (fetched ? fetched : input);
      if (fetched)
        g_unlink (fetched), g_free (fetched);
    }
    if (local_copy) {
      input_uri = NULL; /* read from the PNG, by filesrc */
      g_free (file_uri);
      if ((file_uri = gst_filename_to_uri (local_copy, &again)) &&
          probe_input (file_uri, local_copy, NULL, &audio, &rate, &channels, &a.duration, &a.still,
                       &again))
        g_clear_error (&error);
      g_clear_error (&again);
    }
    if (error) {
      status = heed_cli_fail (NULL, error);
      goto out;
    }
  } else if (a.still && input_uri) {
    /* a still picture at an address read from one fetched copy, as heed classify reads it: its
     * EXIF orientation read there (decodebin reads none) and its frame decoded from it */
    gboolean stream;
    if ((local_copy = heed_cli_fetch_address (input_uri, &stream, NULL)))
      input_uri = NULL;
  }
  if (!encoder) {
    status = heed_cli_fail (container->webm ? "no VP9 encoder for WebM: install "
                                              "gstreamer1.0-plugins-good (vp9enc)"
                                            : "no video encoder: install "
                                              "gstreamer1.0-plugins-ugly (x264enc) or "
                                              "gstreamer1.0-libav",
                            NULL);
    goto out;
  }
  if (report_dir && !(report = heed_report_new (report_dir, &error))) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  if (!model && !o->told_of_model)
    fprintf (stderr, "heed annotate: labels from the embedded test-pattern model, which knows "
                     "only videotestsrc's patterns; for real labels name a checkpoint, e.g. "
                     "--model hf:timm/deit_tiny_patch16_224.fb_in1k (keyframes and attention do "
                     "not depend on it)\n");
  o->told_of_model = TRUE;
  /* the report's thumbnails are the shown frames, heatmap and labels drawn, keyframes only: their
   * sink may get no frame for a long time, or none, so the pipeline's start does not wait for it
   * (async=false; it waited, and once the 200 frames before the muxer were queued, stood still).
   * MP4 takes no picture under 16 pixels a side (mp4mux's caps): a smaller one is scaled up to
   * that, its shape kept by the pixel aspect ratio; any other passes through untouched */
  shown = g_strdup_printf (
      "%svideoscale ! video/x-raw,width=[16,2147483647],height=[16,2147483647] "
      "! videoconvert ! %s",
      report ? "tee name=shown shown. ! queue name=thumbq ! videoconvert ! videoscale "
               "! video/x-raw,width=320,pixel-aspect-ratio=1/1 ! jpegenc quality=85 "
               "! appsink name=thumbs sync=false async=false shown. ! queue ! "
             : "",
      encoder);
  /* videoflip turns the picture upright by the file's rotation tag; every element named is
   * configured below, so no path goes through the parser */
  desc = g_strdup_printf (
      "%s name=d "
      "d. ! queue name=vq max-size-time=0 max-size-bytes=0 max-size-buffers=8 ! videoconvert "
      "! videoflip name=flip video-direction=auto ! videoconvert ! heedclassify name=classify "
      "! heedkeyframe name=key %s ! heedoverlay name=overlay ! %s name=venc "
      "! queue max-size-time=0 max-size-bytes=0 ! %s name=mux ! filesink name=sink %s%s",
      input_uri ? "uridecodebin" : "filesrc name=src ! decodebin",
      jsonl ? "! heedjson name=json" : "", shown, container->muxer,
      audio ? "d. ! queue name=aq max-size-time=0 max-size-bytes=0 ! audioconvert ! audioresample "
              "! capsfilter name=soundcaps ! tee name=sound sound. ! queue ! key.audio_sink sound. "
              "! queue max-size-time=0 max-size-bytes=0 ! audioconvert ! "
            : "",
      !audio            ? ""
      : container->webm ? "audioresample ! opusenc bitrate=128000 name=aenc ! mux."
                        : "avenc_aac name=aenc ! mux.");
  /* an element that does not exist is an error here, not a pipeline with a part missing */
  a.pipeline = gst_parse_launch_full (desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &error);
  if (!a.pipeline || error) {
    g_clear_object (&a.pipeline);
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  const char *direction =
      a.still && !input_uri ? still_direction (local_copy ? local_copy : input) : NULL;
  if (direction) {
    GstElement *flip = gst_bin_get_by_name (GST_BIN (a.pipeline), "flip");
    gst_util_set_object_arg (G_OBJECT (flip), "video-direction", direction);
    gst_object_unref (flip);
  }
  if (input_uri) { /* uridecodebin: a source with several streams (RTSP's) has all linked */
    heed_cli_set_string (a.pipeline, "d", "uri", input_uri);
  } else {
    heed_cli_set_string (a.pipeline, "src", "location", local_copy ? local_copy : input);
    if (marked) {
      GstElement *d = gst_bin_get_by_name (GST_BIN (a.pipeline), "d");
      g_signal_connect (d, "autoplug-continue", G_CALLBACK (decode_default_tracks), default_ids);
      gst_object_unref (d);
    }
  }
  /* the sound kept at its first rate and channels: the AAC encoder and MP4 take no change of
   * format mid-stream (a broadcast's TS may switch from 44.1 kHz mono to 48 kHz stereo), so a
   * later part is converted to them */
  GstElement *soundcaps = audio ? gst_bin_get_by_name (GST_BIN (a.pipeline), "soundcaps") : NULL;
  if (soundcaps) {
    GstCaps *caps = gst_caps_new_empty_simple ("audio/x-raw");
    if (rate)
      gst_caps_set_simple (caps, "rate", G_TYPE_INT, (int) rate, NULL);
    if (channels)
      gst_caps_set_simple (caps, "channels", G_TYPE_INT, (int) channels, NULL);
    g_object_set (soundcaps, "caps", caps, NULL);
    gst_caps_unref (caps);
    gst_object_unref (soundcaps);
  }
  heed_cli_set_string (a.pipeline, "sink", "location", output);
  if (model_path)
    heed_cli_set_string (a.pipeline, "classify", "model", model_path);
  if (!heed_cli_set_weights (a.pipeline, "classify", weights, &error)) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  if (!heed_cli_element_options_apply (a.pipeline, settings, &error)) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  if (jsonl)
    heed_cli_set_string (a.pipeline, "json", "location", jsonl);
  heed_cli_probe_buffers (a.pipeline, "venc", "sink", count_frame, &a);
  a.encoded_end = GST_CLOCK_TIME_NONE;
  if (g_str_equal (container->muxer, "mp4mux") || g_str_equal (container->muxer, "qtmux"))
    heed_cli_probe_buffers (a.pipeline, "venc", "src", cover_frames, &a);
  a.decoded_queue = gst_bin_get_by_name (GST_BIN (a.pipeline), "vq");
  GstPad *decoded = gst_element_get_static_pad (a.decoded_queue, "sink");
  gst_pad_add_probe (decoded, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
                     watch_decoded, &a, NULL);
  gst_object_unref (decoded);
  if (report) {
    heed_cli_probe_buffers (a.pipeline, "overlay", "src", heed_report_record_frame, report);
    heed_cli_probe_buffers (a.pipeline, "thumbq", "sink", heed_report_keep_keyframes, report);
    GstElement *thumbs = gst_bin_get_by_name (GST_BIN (a.pipeline), "thumbs");
    GstAppSinkCallbacks callbacks = { .new_sample = heed_report_thumbnail };
    gst_app_sink_set_callbacks (GST_APP_SINK (thumbs), &callbacks, report, NULL);
    gst_object_unref (thumbs);
  }
  /* after the sound's encoder, which holds a few frames */
  heed_cli_probe_buffers (a.pipeline, "aenc", "src", trim_sound, &a);

  a.tty = isatty (STDERR_FILENO);
  a.last_tenth = -1;
  a.started = g_get_monotonic_time ();
  HeedCliHooks hooks = { a.tty ? 250 : 1000, on_tick, on_interrupt, NULL };
  gboolean ok = heed_cli_run_pipeline (a.pipeline, &hooks, &a, &error);
  if (a.tty)
    fprintf (stderr, "\n");
  double elapsed = (g_get_monotonic_time () - a.started) / 1e6;
  if (ok && report) {
    GstElement *key = gst_bin_get_by_name (GST_BIN (a.pipeline), "key");
    HeedReportSummary summary = { input, model ? model : "the embedded test-pattern model", 0,
                                  audio, a.interrupted };
    g_object_get (key, "threshold", &summary.threshold, NULL);
    gst_object_unref (key);
    ok = heed_report_write (report, &summary, &error);
  }
  /* a file whose header reads but that holds no frame (one cut right after it) ends at once
   * with no error from GStreamer: an output with nothing in it is not a success */
  if (ok && !a.frames && !a.interrupted) {
    g_set_error (&error, GST_STREAM_ERROR, GST_STREAM_ERROR_DECODE,
                 "%s: no frame could be decoded (is it cut short or damaged?)", input);
    ok = FALSE;
  }
  if (!ok) {
    /* never leave a file that does not play; but only a plain file (-o /dev/full is a device,
     * and a link's target is not ours to remove) */
    if (g_file_test (output, G_FILE_TEST_IS_REGULAR) &&
        !g_file_test (output, G_FILE_TEST_IS_SYMLINK))
      g_unlink (output);
    status = heed_cli_fail (NULL, error);
  } else if (a.interrupted) {
    fprintf (stderr, "heed annotate: interrupted; %s holds the first %u frames\n", output,
             a.frames);
    status = EXIT_INTERRUPTED;
  } else {
    fprintf (stderr, "heed annotate: %s: %u frames in %.1f s (%.1f fps)%s%s%s%s%s\n", output,
             a.frames, elapsed, elapsed > 0 ? a.frames / elapsed : 0,
             jsonl ? "; JSON lines in " : "", jsonl ? jsonl : "", report ? "; report in " : "",
             report ? report_dir : "", report ? G_DIR_SEPARATOR_S "index.html" : "");
    status = 0;
  }

out:
  if (a.decoded_queue)
    gst_object_unref (a.decoded_queue);
  if (a.pipeline)
    gst_object_unref (a.pipeline);
  g_mutex_clear (&a.lock);
  heed_report_free (report);
  g_free (desc);
  g_free (shown);
  g_free (file_uri);
  if (local_copy)
    g_unlink (local_copy), g_free (local_copy);
  /* after the pipeline, whose decodebin's signal held them */
  g_free (default_ids[TRACK_VIDEO]), g_free (default_ids[TRACK_SOUND]);
  return status;
}

/* Within folder (or, where folder is NULL, as it is), the file a video's output is named */
static char *
named_in (const char *folder, const char *name)
{
  return folder ? g_build_filename (folder, name, NULL) : g_strdup (name);
}

/* Where a run of several videos writes their outputs (-o, --jsonl) or reports: a folder, made
 * where it is missing; FALSE with the reason where a file stands there */
static gboolean
folder_for_several (const char *option, const char *folder, guint videos, GError **error)
{
  /* a name with an extension that is not there yet is a file's, given by mistake: no folder
   * out.mp4 is made for it */
  char *base = g_path_get_basename (folder);
  const char *dot = strrchr (base, '.');
  gboolean file_like = dot && dot != base && dot[1] && !g_file_test (folder, G_FILE_TEST_EXISTS);
  g_free (base);
  if (file_like ||
      (g_file_test (folder, G_FILE_TEST_EXISTS) && !g_file_test (folder, G_FILE_TEST_IS_DIR))) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR,
                 "%s %s: with %u videos, %s names a folder (each video's is named after it)",
                 option, folder, videos, option);
    return FALSE;
  }
  if (g_mkdir_with_parents (folder, 0755) != 0) {
    int e = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "cannot make the folder %s: %s",
                 folder, g_strerror (e));
    return FALSE;
  }
  return TRUE;
}

/* The videos named on the command line, a folder's in its place, each with where it is read
 * from and its outputs' names: -o, --jsonl and --report name a file (a folder for --report)
 * where there is one video, and where there are several (or the option names a folder that
 * exists) the folder their names go in. NULL with the reason where a name is missing or not a
 * video file, two videos would be written to one name, or an output is an input. */
static GPtrArray *
list_videos (char **names, const char *output, const char *jsonl, const char *report_dir,
             GError **error)
{
  GPtrArray *videos = g_ptr_array_new_with_free_func (annotate_video_free);
  for (char **n = names; *n; n++) {
    char *uri = NULL, *path = NULL;
    if (!heed_cli_input_location (*n, &uri, &path, error))
      goto fail;
    if (!uri && !path)
      path = g_strdup (*n);
    GPtrArray *in_folder = NULL;
    if (path && g_file_test (path, G_FILE_TEST_IS_DIR)) {
      in_folder = g_ptr_array_new_with_free_func (g_free);
      if (!heed_cli_add_folder (in_folder, path, FALSE, error)) {
        g_ptr_array_free (in_folder, TRUE), g_free (path);
        goto fail;
      }
    } else if (path && !g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                   g_file_test (path, G_FILE_TEST_EXISTS) ? "%s is not a plain file"
                                                          : "%s: no such file",
                   *n);
      g_free (path);
      goto fail;
    }
    for (guint i = 0; i < (in_folder ? in_folder->len : 1); i++) {
      AnnotateVideo *v = g_new0 (AnnotateVideo, 1);
      v->input = g_strdup (in_folder ? in_folder->pdata[i] : *n);
      v->uri = in_folder ? NULL : g_strdup (uri);
      v->path = g_strdup (in_folder ? in_folder->pdata[i] : path);
      g_ptr_array_add (videos, v);
    }
    if (in_folder)
      g_ptr_array_free (in_folder, TRUE);
    g_free (uri), g_free (path);
  }

  gboolean several = videos->len > 1;
  if (several && ((output && !folder_for_several ("-o", output, videos->len, error)) ||
                  (jsonl && !folder_for_several ("--jsonl", jsonl, videos->len, error)) ||
                  (report_dir && !folder_for_several ("--report", report_dir, videos->len, error))))
    goto fail;
  const char *output_folder = output && g_file_test (output, G_FILE_TEST_IS_DIR) ? output : NULL;
  const char *jsonl_folder = jsonl && g_file_test (jsonl, G_FILE_TEST_IS_DIR) ? jsonl : NULL;
  for (guint i = 0; i < videos->len; i++) {
    AnnotateVideo *v = videos->pdata[i];
    char *stem = input_stem (v->uri ? v->uri : v->path, v->uri != NULL);
    char *name = g_strdup_printf ("%s-annotated.mp4", stem);
    v->output = output && !output_folder ? g_strdup (output) : named_in (output_folder, name);
    g_free (name);
    name = g_strdup_printf ("%s.jsonl", stem);
    v->jsonl = !jsonl ? NULL : jsonl_folder ? named_in (jsonl_folder, name) : g_strdup (jsonl);
    g_free (name);
    v->report_dir = !report_dir ? NULL
                    : several   ? g_build_filename (report_dir, stem, NULL)
                                : g_strdup (report_dir);
    g_free (stem);
  }

  /* an output written over an input would empty it before it is read (and a failed run then
   * removes what it started: the input would be lost); two videos written to one name would
   * leave only the last */
  for (guint i = 0; i < videos->len; i++) {
    const AnnotateVideo *v = videos->pdata[i];
    for (guint j = 0; j < videos->len; j++) {
      const AnnotateVideo *w = videos->pdata[j];
      const char *over = w->uri                                      ? NULL
                         : same_file (v->output, w->path)            ? v->output
                         : v->jsonl && same_file (v->jsonl, w->path) ? v->jsonl
                                                                     : NULL;
      if (over) {
        g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                     i == j ? "%s is the input itself: name another file to write"
                            : "%s is an input (%s): name another file to write",
                     over, w->input);
        goto fail;
      }
      if (j > i && g_str_equal (v->output, w->output)) {
        g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                     "%s and %s would both be written to %s: annotate them in two runs, or "
                     "rename one",
                     v->input, w->input, v->output);
        goto fail;
      }
    }
  }
  return videos;

fail:
  g_ptr_array_free (videos, TRUE);
  return NULL;
}

int
heed_cmd_annotate (int argc, char **argv)
{
  char *output = NULL, *jsonl = NULL, *report_dir = NULL, *model = NULL, **inputs = NULL;
  char *weights = NULL, *model_path = NULL;
  HeedCliElementOptions settings = { { NULL } };
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      "the annotated video: MP4, or as its name ends QuickTime (.mov), Matroska (.mkv), WebM "
      "(.webm: VP9 and Opus) or MPEG-TS (.ts) (default: INPUT's name with -annotated.mp4, in "
      "this folder, or in OUTPUT where it is a folder; with several videos OUTPUT is the folder "
      "they go in)",
      "OUTPUT" },
    { "jsonl", 0, 0, G_OPTION_ARG_FILENAME, &jsonl,
      "also write one JSON object per frame here (docs/heed-jsonl.schema.json); where FILE is a "
      "folder, or there are several videos, each video's in it as NAME.jsonl",
      "FILE" },
    { "report", 0, 0, G_OPTION_ARG_FILENAME, &report_dir,
      "also write a keyframe report here: DIR/index.html (opens in a browser from the folder) "
      "with the keyframes' thumbnails, the importance timeline and the label track; with several "
      "videos each video's in DIR/NAME",
      "DIR" },
    HEED_CLI_MODEL_ENTRY (model, " (default: the embedded videotestsrc model)"),
    HEED_CLI_WEIGHTS_ENTRY (weights),
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &inputs, NULL, NULL },
    { NULL }
  };
  GOptionContext *ctx = g_option_context_new (
      "INPUT... - annotate video files (or addresses a GStreamer source reads: https://, "
      "rtsp://, ...; a folder: the videos in it), one after another");
  GError *error = NULL;
  GPtrArray *videos = NULL;
  int status = 1;

  g_option_context_add_main_entries (ctx, entries, NULL);
  heed_cli_element_options_add (ctx, &settings);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  if (!inputs || !inputs[0]) {
    status =
        heed_cli_fail ("annotate takes an INPUT video (or several, or a folder of them)", NULL);
    goto out;
  }
  gst_init (NULL, NULL);
  if (!(videos = list_videos (inputs, output, jsonl, report_dir, &error)) ||
      (model && !(model_path = heed_cli_resolve_model (model, &error)))) {
    status = heed_cli_fail (NULL, error);
    goto out;
  }
  AnnotateOptions options = { model, model_path, weights, &settings, FALSE };
  GString *failed = g_string_new (NULL);
  guint written = 0;
  status = 0;
  for (guint i = 0; i < videos->len && status != EXIT_INTERRUPTED; i++) {
    const AnnotateVideo *v = videos->pdata[i];
    if (videos->len > 1)
      fprintf (stderr, "heed annotate: video %u of %u: %s\n", i + 1, videos->len, v->input);
    int done = annotate_video (v, &options);
    if (done == 0)
      written++;
    else if (done != EXIT_INTERRUPTED)
      g_string_append_printf (failed, "%s%s", failed->len ? ", " : "", v->input);
    /* one that failed leaves the run's status 1, but the others are still written */
    if (done == EXIT_INTERRUPTED || status == 0)
      status = done;
  }
  if (videos->len > 1 && status != EXIT_INTERRUPTED)
    fprintf (stderr, "heed annotate: %u of %u videos written%s%s\n", written, videos->len,
             failed->len ? "; not written (the reason above each): " : "", failed->str);
  g_string_free (failed, TRUE);

out:
  if (videos)
    g_ptr_array_free (videos, TRUE);
  g_free (report_dir);
  g_free (model_path);
  g_free (output);
  g_free (jsonl);
  g_free (model);
  g_free (weights);
  g_strfreev (inputs);
  heed_cli_element_options_clear (&settings);
  g_option_context_free (ctx);
  return status;
}
