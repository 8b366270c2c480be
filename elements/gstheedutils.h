/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every heed element shares on the GStreamer side: the caps they take, the engine's frame
 * layout for a GstVideoInfo, mapping a frame in system memory, and the device an element runs
 * on: heed's own, shared by all heed elements of a pipeline through the "heed.device"
 * GstContext, or GStreamer's shared Vulkan device (the gst.vulkan.* contexts) when frames
 * arrive in Vulkan memory (imported into the engine, submitted to under GStreamer's queue lock
 * since other elements use the same VkQueue). */
#ifndef GST_HEED_UTILS_H
#define GST_HEED_UTILS_H

#include <gst/video/video.h>
#include <gst/vulkan/vulkan.h>

#include "heed-engine.h"

#define HEED_VIDEO_FORMATS                                                                         \
  "{ RGBA, BGRA, RGBx, BGRx, xRGB, xBGR, RGB, BGR, I420, NV12, YUY2, GRAY8 }"
/* the engine's frame limits; system memory, or Vulkan memory from vulkanupload */
#define HEED_VIDEO_CAPS_BODY                                                                       \
  "format = (string) " HEED_VIDEO_FORMATS ", width = (int) [ 1, 16384 ], "                         \
  "height = (int) [ 1, 16384 ], framerate = (fraction) [ 0, max ]"
#define HEED_VIDEO_CAPS                                                                            \
  "video/x-raw, " HEED_VIDEO_CAPS_BODY "; "                                                        \
  "video/x-raw(" GST_CAPS_FEATURE_MEMORY_VULKAN_IMAGE "), " HEED_VIDEO_CAPS_BODY "; "              \
  "video/x-raw(" GST_CAPS_FEATURE_MEMORY_VULKAN_BUFFER "), " HEED_VIDEO_CAPS_BODY

/* The engine's layout of a frame described by info (format, size, strides, YUV matrix and
 * range); resize starts as stretch. */
gboolean gst_heed_layout_from_video_info (const GstVideoInfo *info, HeedFrameLayout *layout,
                                          GError **error);

/* Whether negotiated caps carry Vulkan memory. */
gboolean gst_heed_caps_have_vulkan_memory (const GstCaps *caps);

/* A frame in system memory, mapped for reading: its planes and strides as the engine takes
 * them. FALSE when the buffer cannot be mapped. Unmap with gst_video_frame_unmap. */
gboolean gst_heed_frame_map (GstVideoFrame *frame, const GstVideoInfo *info, GstBuffer *buffer,
                             GstMapFlags flags, guint8 *planes[3], guint stride[3]);

/* ---- the device an element runs on ---- */

/* The GstContext type that shares one HeedDevice between the heed elements of a pipeline and
 * with applications: its structure holds "device", a GST_TYPE_HEED_DEVICE. */
#define GST_HEED_DEVICE_CONTEXT_TYPE "heed.device"

/* HeedDevice as a boxed type (copy = another reference), for GstContext and GValue. */
#define GST_TYPE_HEED_DEVICE (gst_heed_device_get_type ())
GType gst_heed_device_get_type (void);

/* A context holding device (a new reference), and the device a context holds (a new
 * reference, or NULL when it is of another type). */
GstContext *gst_heed_device_context_new (HeedDevice *device);
HeedDevice *gst_heed_device_context_get (GstContext *context);

typedef struct {
  /* settings from contexts, under the element's object lock */
  HeedDevice *shared;             /* the pipeline's heed.device */
  GstVulkanInstance *vk_instance; /* GStreamer's, for Vulkan memory */
  GstVulkanDevice *vk_device;
  /* streaming state */
  GstVulkanQueue *vk_queue; /* set once GStreamer's device is imported */
  HeedDevice *device;       /* what the element runs on now: shared, or GStreamer's imported */
} GstHeedDeviceState;

/* For GstElement::set_context: keeps heed.device and gst.vulkan.* contexts. */
void gst_heed_device_state_set_context (GstHeedDeviceState *s, GstElement *element,
                                        GstContext *context);
/* For the query vfunc: answers context queries for heed.device and GStreamer's Vulkan
 * contexts. TRUE when answered. */
gboolean gst_heed_device_state_handle_query (GstHeedDeviceState *s, GstElement *element,
                                             GstQuery *query);
/* Makes s->device the device for frames in Vulkan memory (GStreamer's, imported) or in system
 * memory (the pipeline's heed.device: from a context already set, else a context query
 * downstream and upstream, else a need-context message the application or bin may answer,
 * else a new device on Vulkan device `index` (-1: automatic), announced with a have-context
 * message). *changed says whether s->device is another device than before (what was built on
 * the old one must be rebuilt). */
gboolean gst_heed_device_state_acquire (GstHeedDeviceState *s, GstElement *element,
                                        gboolean vulkan_memory, gint index, gboolean *changed,
                                        GError **error);
/* Drops the streaming state (the device in use and the import); contexts stay. */
void gst_heed_device_state_stop (GstHeedDeviceState *s);
/* Drops everything, contexts too (finalize). */
void gst_heed_device_state_clear (GstHeedDeviceState *s);

/* One Vulkan memory (image or buffer; GStreamer's record of its last access included) as an
 * engine plane; returns the memory's device, or NULL when it is not Vulkan memory. stride is
 * for buffers. */
GstVulkanDevice *gst_heed_vulkan_plane (GstMemory *mem, guint stride, HeedDevicePlane *plane);
/* The planes of a frame in Vulkan memory (one memory per plane, as GStreamer's Vulkan elements
 * make them) on GStreamer's device, which s imported; returns the number of planes, 0 with an
 * error. */
guint gst_heed_vulkan_planes (const GstHeedDeviceState *s, GstBuffer *buffer,
                              const GstVideoInfo *info, HeedDevicePlane planes[3], GError **error);
/* Writes what the engine did to image planes (layout, last access and stage) back into the
 * buffer's memories, so GStreamer's next barrier starts from the truth. */
void gst_heed_vulkan_planes_done (GstBuffer *buffer, const HeedDevicePlane *planes, guint n);
/* Pushes a frame into a keyframe scorer (heedkeyframe's, and heedclassify's change detector):
 * mapped from system memory, or from Vulkan memory on the device (vulkan_memory). */
gboolean gst_heed_keyframe_push_buffer (const GstHeedDeviceState *state, HeedKeyframeScorer *scorer,
                                        const GstVideoInfo *info, gboolean vulkan_memory,
                                        GstBuffer *buffer, float *novelty, gboolean *have,
                                        GError **error);

/* ---- frames in Vulkan buffers, images made here ---------------------------------------------
 * GStreamer's vulkanupload gives its input back before its buffer-to-image copy has run (it
 * does not wait for it), so a decoder in another thread can write the next frame into the
 * memory the copy still reads: the image then holds rows of the next frame. Its Vulkan
 * buffers are safe (the decoder's own memory, lent until heed lets go, or copied by the CPU).
 * So heed asks for buffers wherever it may give images on, and makes the images itself,
 * waiting for its copy, where the element downstream takes only images (vulkandownload). */

/* For GstBaseTransform::transform_caps: Vulkan buffers on the sink side for Vulkan images
 * on the source side (buffers first), and buffers or images out of buffers. */
GstCaps *gst_heed_transform_caps (GstBaseTransform *trans, GstPadDirection direction, GstCaps *caps,
                                  GstCaps *filter);

/* For the query vfunc, after the base class answered: a caps query on the sink pad gets the
 * Vulkan buffers before the images (the base class puts what passes through unchanged first). */
void gst_heed_prefer_vulkan_buffers (GstPadDirection direction, GstQuery *query);

typedef struct {
  gboolean active;     /* buffers in, images out */
  GstVideoInfo info;   /* the frames' */
  GstBufferPool *pool; /* the images made here */
  HeedFrameCopier *copier;
  guint row_bytes[3]; /* of each plane's rows, as GStreamer copies them */
} GstHeedImageMaker;

/* From set_caps, after the device is acquired: active when incaps are Vulkan buffers and
 * outcaps Vulkan images. FALSE with the element's error posted. */
gboolean gst_heed_image_maker_configure (GstHeedImageMaker *m, const GstHeedDeviceState *s,
                                         GstElement *element, GstCaps *incaps, GstCaps *outcaps);
/* The frame in a new buffer of Vulkan images (on the device s imported), the copy done and
 * waited for; the element's copy_metadata gives it inbuf's timestamps, flags and metas. A
 * failure is posted as the element's error. */
GstFlowReturn gst_heed_image_maker_make (GstHeedImageMaker *m, const GstHeedDeviceState *s,
                                         GstBaseTransform *trans, GstBuffer *inbuf,
                                         GstBuffer **outbuf);
/* For submit_input_buffer: when m is active, *buf (taken) becomes its image copy, or NULL
 * with what make returned. */
GstFlowReturn gst_heed_image_maker_take (GstHeedImageMaker *m, const GstHeedDeviceState *s,
                                         GstBaseTransform *trans, GstBuffer **buf);
/* Drops the pool and the copier (stop, or a device change). */
void gst_heed_image_maker_clear (GstHeedImageMaker *m);

#endif /* GST_HEED_UTILS_H */
