/* Frame layouts and GStreamer's shared Vulkan device, for every heed element. */
#include "heedvulkan.h"

static gboolean
pixel_format (GstVideoFormat f, HeedPixelFormat *out)
{
  static const struct {
    GstVideoFormat gst;
    HeedPixelFormat heed;
  } map[] = {
    { GST_VIDEO_FORMAT_RGBA, HEED_PIXEL_RGBA }, { GST_VIDEO_FORMAT_BGRA, HEED_PIXEL_BGRA },
    { GST_VIDEO_FORMAT_RGBx, HEED_PIXEL_RGBX }, { GST_VIDEO_FORMAT_BGRx, HEED_PIXEL_BGRX },
    { GST_VIDEO_FORMAT_xRGB, HEED_PIXEL_XRGB }, { GST_VIDEO_FORMAT_xBGR, HEED_PIXEL_XBGR },
    { GST_VIDEO_FORMAT_RGB, HEED_PIXEL_RGB },   { GST_VIDEO_FORMAT_BGR, HEED_PIXEL_BGR },
    { GST_VIDEO_FORMAT_I420, HEED_PIXEL_I420 }, { GST_VIDEO_FORMAT_NV12, HEED_PIXEL_NV12 },
    { GST_VIDEO_FORMAT_YUY2, HEED_PIXEL_YUY2 }, { GST_VIDEO_FORMAT_GRAY8, HEED_PIXEL_GRAY8 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (map); i++)
    if (map[i].gst == f) {
      *out = map[i].heed;
      return TRUE;
    }
  return FALSE;
}

gboolean
heed_layout_from_video_info (const GstVideoInfo *info, HeedFrameLayout *layout, GError **error)
{
  HeedPixelFormat format;
  guint stride[3] = { 0, 0, 0 };
  if (!pixel_format (GST_VIDEO_INFO_FORMAT (info), &format)) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "unsupported format %s",
                 gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (info)));
    return FALSE;
  }
  for (guint i = 0; i < GST_VIDEO_INFO_N_PLANES (info) && i < 3; i++)
    stride[i] = GST_VIDEO_INFO_PLANE_STRIDE (info, i);
  if (!heed_frame_layout_init (layout, format, GST_VIDEO_INFO_WIDTH (info),
                               GST_VIDEO_INFO_HEIGHT (info), stride, error))
    return FALSE;
  switch (info->colorimetry.matrix) {
  case GST_VIDEO_COLOR_MATRIX_BT709: layout->matrix = HEED_YUV_BT709; break;
  case GST_VIDEO_COLOR_MATRIX_BT2020: layout->matrix = HEED_YUV_BT2020; break;
  default: layout->matrix = HEED_YUV_BT601; break;
  }
  layout->full_range = info->colorimetry.range == GST_VIDEO_COLOR_RANGE_0_255;
  return TRUE;
}

gboolean
heed_caps_have_vulkan_memory (const GstCaps *caps)
{
  GstCapsFeatures *features = gst_caps_get_features (caps, 0);
  return features && (gst_caps_features_contains (features, GST_CAPS_FEATURE_MEMORY_VULKAN_IMAGE) ||
                      gst_caps_features_contains (features, GST_CAPS_FEATURE_MEMORY_VULKAN_BUFFER));
}

void
heed_gst_vulkan_set_context (HeedGstVulkan *v, GstElement *element, GstContext *context)
{
  GstVulkanDevice *device = NULL;
  gst_vulkan_handle_set_context (element, context, NULL, &v->instance);
  if (gst_context_get_vulkan_device (context, &device)) {
    gst_clear_object (&v->device);
    v->device = device;
  }
}

gboolean
heed_gst_vulkan_handle_query (HeedGstVulkan *v, GstElement *element, GstQuery *query)
{
  return GST_QUERY_TYPE (query) == GST_QUERY_CONTEXT &&
         gst_vulkan_handle_context_query (element, query, NULL, v->instance, v->device);
}

static gboolean
first_queue (GstVulkanDevice *device, GstVulkanQueue *queue, gpointer user_data)
{
  *(GstVulkanQueue **) user_data = gst_object_ref (queue);
  return FALSE; /* stop: GStreamer 1.22 opens one queue */
}

static void
lock_gst_queue (void *queue)
{
  gst_vulkan_queue_submit_lock (queue);
}

static void
unlock_gst_queue (void *queue)
{
  gst_vulkan_queue_submit_unlock (queue);
}

HeedDevice *
heed_gst_vulkan_import (HeedGstVulkan *v, GstElement *element, GError **error)
{
  if (!v->device && !gst_vulkan_device_run_context_query (element, &v->device)) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_NO_DEVICE,
                 "Vulkan memory arrived but no element shares a GStreamer Vulkan device");
    return NULL;
  }
  GstVulkanDevice *dev = v->device;
  gst_clear_object (&v->queue);
  gst_vulkan_device_foreach_queue (dev, first_queue, &v->queue);
  if (!v->queue) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_NO_DEVICE, "GStreamer's Vulkan device has no queue");
    return NULL;
  }
  guint32 family = v->queue->family;
  if (family >= dev->physical_device->n_queue_families ||
      !(dev->physical_device->queue_family_props[family].queueFlags & VK_QUEUE_COMPUTE_BIT)) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_NO_DEVICE,
                 "GStreamer's Vulkan queue (family %u) cannot run compute shaders", family);
    gst_clear_object (&v->queue);
    return NULL;
  }
  HeedDeviceImport imp = { dev->instance->instance,
                           dev->physical_device->device,
                           dev->device,
                           v->queue->queue,
                           family,
                           lock_gst_queue,
                           unlock_gst_queue,
                           v->queue };
  HeedDevice *imported = heed_device_new_import (&imp, error);
  if (!imported)
    gst_clear_object (&v->queue);
  return imported;
}

gboolean
heed_gst_vulkan_is_imported (const HeedGstVulkan *v)
{
  return v->queue != NULL;
}

void
heed_gst_vulkan_clear (HeedGstVulkan *v)
{
  gst_clear_object (&v->queue);
  gst_clear_object (&v->device);
  gst_clear_object (&v->instance);
}

GstVulkanDevice *
heed_gst_vulkan_plane (GstMemory *mem, guint stride, HeedDevicePlane *plane)
{
  if (gst_is_vulkan_image_memory (mem)) {
    GstVulkanImageMemory *img = (GstVulkanImageMemory *) mem;
    *plane = (HeedDevicePlane){ .image = img->image,
                                .layout = img->barrier.image_layout,
                                .access = img->barrier.parent.access_flags,
                                .stage = img->barrier.parent.pipeline_stages,
                                .width = img->create_info.extent.width,
                                .height = img->create_info.extent.height };
    return img->device;
  }
  if (gst_is_vulkan_buffer_memory (mem)) {
    GstVulkanBufferMemory *vb = (GstVulkanBufferMemory *) mem;
    *plane = (HeedDevicePlane){ .buffer = vb->buffer,
                                .offset = mem->offset,
                                .stride = stride,
                                .access = vb->barrier.parent.access_flags,
                                .stage = vb->barrier.parent.pipeline_stages };
    return vb->device;
  }
  return NULL;
}

guint
heed_gst_vulkan_planes (const HeedGstVulkan *v, GstBuffer *buf, const GstVideoInfo *info,
                        HeedDevicePlane planes[3], GError **error)
{
  guint n = GST_VIDEO_INFO_N_PLANES (info);
  GstVideoMeta *vmeta = gst_buffer_get_video_meta (buf);
  if (gst_buffer_n_memory (buf) != n || n > 3) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "expected %u Vulkan memories (one per plane), got %u", n,
                 gst_buffer_n_memory (buf));
    return 0;
  }
  for (guint i = 0; i < n; i++) {
    GstMemory *mem = gst_buffer_peek_memory (buf, i);
    guint stride = vmeta ? (guint) vmeta->stride[i] : (guint) GST_VIDEO_INFO_PLANE_STRIDE (info, i);
    GstVulkanDevice *device = heed_gst_vulkan_plane (mem, stride, &planes[i]);
    if (!device) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "plane %u is not Vulkan memory", i);
      return 0;
    }
    if (device != v->device)
      goto wrong_device;
  }
  return n;
wrong_device:
  g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
               "the frame is on another Vulkan device than the one shared in the pipeline");
  return 0;
}

void
heed_gst_vulkan_planes_done (GstBuffer *buf, const HeedDevicePlane *planes, guint n)
{
  for (guint i = 0; i < n; i++) {
    GstMemory *mem = gst_buffer_peek_memory (buf, i);
    if (gst_is_vulkan_image_memory (mem)) {
      GstVulkanImageMemory *img = (GstVulkanImageMemory *) mem;
      img->barrier.image_layout = planes[i].layout;
      img->barrier.parent.access_flags = planes[i].access;
      img->barrier.parent.pipeline_stages = planes[i].stage;
    } else if (gst_is_vulkan_buffer_memory (mem)) {
      GstVulkanBufferMemory *vb = (GstVulkanBufferMemory *) mem;
      vb->barrier.parent.access_flags = planes[i].access;
      vb->barrier.parent.pipeline_stages = planes[i].stage;
    }
  }
}
