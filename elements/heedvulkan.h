/* What the heed elements share about video frames: the caps they take, the engine's frame
 * layout for a GstVideoInfo, and GStreamer's shared Vulkan device for frames in Vulkan memory
 * (found through the gst.vulkan.* contexts, imported into the engine, submitted to under
 * GStreamer's queue lock since other elements use the same VkQueue). */
#ifndef HEED_VULKAN_H
#define HEED_VULKAN_H

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
gboolean heed_layout_from_video_info (const GstVideoInfo *info, HeedFrameLayout *layout,
                                      GError **error);

/* Whether negotiated caps carry Vulkan memory. */
gboolean heed_caps_have_vulkan_memory (const GstCaps *caps);

typedef struct {
  GstVulkanInstance *instance;
  GstVulkanDevice *device;
  GstVulkanQueue *queue; /* set once imported */
} HeedGstVulkan;

/* For GstElement::set_context and the query vfunc: share GStreamer's Vulkan contexts. */
void heed_gst_vulkan_set_context (HeedGstVulkan *v, GstElement *element, GstContext *context);
gboolean heed_gst_vulkan_handle_query (HeedGstVulkan *v, GstElement *element, GstQuery *query);
/* GStreamer's Vulkan device as a new HeedDevice (core features, submissions under GStreamer's
 * queue lock). NULL with an error when no element shares one or its queue cannot compute. */
HeedDevice *heed_gst_vulkan_import (HeedGstVulkan *v, GstElement *element, GError **error);
gboolean heed_gst_vulkan_is_imported (const HeedGstVulkan *v);
void heed_gst_vulkan_clear (HeedGstVulkan *v);

/* One Vulkan memory (image or buffer; GStreamer's record of its last access included) as an
 * engine plane; returns the memory's device, or NULL when it is not Vulkan memory. stride is
 * for buffers. */
GstVulkanDevice *heed_gst_vulkan_plane (GstMemory *mem, guint stride, HeedDevicePlane *plane);
/* The planes of a frame in Vulkan memory (one memory per plane, as GStreamer's Vulkan elements
 * make them) on the imported device; returns the number of planes, 0 with an error. */
guint heed_gst_vulkan_planes (const HeedGstVulkan *v, GstBuffer *buffer, const GstVideoInfo *info,
                              HeedDevicePlane planes[3], GError **error);
/* Writes what the engine did to image planes (layout, last access and stage) back into the
 * buffer's memories, so GStreamer's next barrier starts from the truth. */
void heed_gst_vulkan_planes_done (GstBuffer *buffer, const HeedDevicePlane *planes, guint n);

#endif
