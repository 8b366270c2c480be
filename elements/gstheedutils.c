/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Frame layouts, frame mapping and the device every heed element runs on. */
#include "gstheedutils.h"

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
gst_heed_layout_from_video_info (const GstVideoInfo *info, HeedFrameLayout *layout, GError **error)
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
gst_heed_caps_have_vulkan_memory (const GstCaps *caps)
{
  GstCapsFeatures *features = gst_caps_get_features (caps, 0);
  return features && (gst_caps_features_contains (features, GST_CAPS_FEATURE_MEMORY_VULKAN_IMAGE) ||
                      gst_caps_features_contains (features, GST_CAPS_FEATURE_MEMORY_VULKAN_BUFFER));
}

gboolean
gst_heed_frame_map (GstVideoFrame *frame, const GstVideoInfo *info, GstBuffer *buffer,
                    GstMapFlags flags, guint8 *planes[3], guint stride[3])
{
  if (!gst_video_frame_map (frame, info, buffer, flags))
    return FALSE;
  for (guint i = 0; i < 3; i++) {
    gboolean has = i < GST_VIDEO_FRAME_N_PLANES (frame);
    planes[i] = has ? GST_VIDEO_FRAME_PLANE_DATA (frame, i) : NULL;
    stride[i] = has ? (guint) GST_VIDEO_FRAME_PLANE_STRIDE (frame, i) : 0;
  }
  return TRUE;
}

/* ---- the heed.device context ------------------------------------------------------------ */

static gpointer
device_ref (gpointer device)
{
  return heed_device_ref (device);
}

static void
device_unref (gpointer device)
{
  HeedDevice *d = device;
  heed_device_destroy (&d);
}

G_DEFINE_BOXED_TYPE (HeedDevice, gst_heed_device, device_ref, device_unref)

GstContext *
gst_heed_device_context_new (HeedDevice *device)
{
  /* not persistent: a pipeline back in NULL lets the device go with everything else */
  GstContext *context = gst_context_new (GST_HEED_DEVICE_CONTEXT_TYPE, FALSE);
  gst_structure_set (gst_context_writable_structure (context), "device", GST_TYPE_HEED_DEVICE,
                     device, NULL);
  return context;
}

HeedDevice *
gst_heed_device_context_get (GstContext *context)
{
  HeedDevice *device = NULL;
  if (g_strcmp0 (gst_context_get_context_type (context), GST_HEED_DEVICE_CONTEXT_TYPE) != 0 ||
      !gst_structure_get (gst_context_get_structure (context), "device", GST_TYPE_HEED_DEVICE,
                          &device, NULL))
    return NULL;
  return device;
}

void
gst_heed_device_state_set_context (GstHeedDeviceState *s, GstElement *element, GstContext *context)
{
  GstVulkanDevice *vk_device = NULL;
  HeedDevice *device = gst_heed_device_context_get (context);
  GST_OBJECT_LOCK (element);
  if (device) {
    heed_device_destroy (&s->shared);
    s->shared = device;
  }
  GST_OBJECT_UNLOCK (element);
  gst_vulkan_handle_set_context (element, context, NULL, &s->vk_instance);
  if (gst_context_get_vulkan_device (context, &vk_device)) {
    gst_clear_object (&s->vk_device);
    s->vk_device = vk_device;
  }
}

/* The pipeline's heed.device, a new reference, or NULL. A lost device is forgotten, so the
 * pipeline started again after the error makes a new one. */
static HeedDevice *
shared_device (GstHeedDeviceState *s, GstElement *element)
{
  HeedDevice *lost = NULL;
  GST_OBJECT_LOCK (element);
  if (s->shared && heed_device_is_lost (s->shared)) {
    lost = s->shared;
    s->shared = NULL;
  }
  HeedDevice *device = s->shared ? heed_device_ref (s->shared) : NULL;
  GST_OBJECT_UNLOCK (element);
  heed_device_destroy (&lost);
  return device;
}

gboolean
gst_heed_device_state_handle_query (GstHeedDeviceState *s, GstElement *element, GstQuery *query)
{
  const gchar *type = NULL;
  if (GST_QUERY_TYPE (query) != GST_QUERY_CONTEXT || !gst_query_parse_context_type (query, &type))
    return FALSE;
  if (g_strcmp0 (type, GST_HEED_DEVICE_CONTEXT_TYPE) == 0) {
    HeedDevice *device = shared_device (s, element);
    if (!device)
      return FALSE;
    GstContext *context = gst_heed_device_context_new (device);
    gst_query_set_context (query, context);
    gst_context_unref (context);
    heed_device_destroy (&device);
    return TRUE;
  }
  /* the queue object heed submits under, shared with the elements that ask (see below) */
  if (s->vk_queue && gst_vulkan_queue_handle_context_query (element, query, s->vk_queue))
    return TRUE;
  return gst_vulkan_handle_context_query (element, query, NULL, s->vk_instance, s->vk_device);
}

/* Asks the neighbours on one side for a heed.device context; sets it on the element. */
static gboolean
query_neighbours (GstElement *element, GstPadDirection direction)
{
  gboolean found = FALSE;
  GstIterator *it = direction == GST_PAD_SRC ? gst_element_iterate_src_pads (element)
                                             : gst_element_iterate_sink_pads (element);
  GValue item = G_VALUE_INIT;
  while (!found && gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstQuery *query = gst_query_new_context (GST_HEED_DEVICE_CONTEXT_TYPE);
    GstContext *context = NULL;
    if (gst_pad_peer_query (g_value_get_object (&item), query)) {
      gst_query_parse_context (query, &context);
      if (context) {
        gst_element_set_context (element, context);
        found = TRUE;
      }
    }
    gst_query_unref (query);
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  return found;
}

/* The pipeline's heed.device, found or made as GstContext's negotiation goes. */
static HeedDevice *
pipeline_device (GstHeedDeviceState *s, GstElement *element, gint index, GError **error)
{
  HeedDevice *device = shared_device (s, element);
  if (device)
    return device;
  if (query_neighbours (element, GST_PAD_SRC) || query_neighbours (element, GST_PAD_SINK))
    if ((device = shared_device (s, element)))
      return device;
  /* the bin (from a have-context it saw) or the application may answer at once */
  gst_element_post_message (
      element, gst_message_new_need_context (GST_OBJECT (element), GST_HEED_DEVICE_CONTEXT_TYPE));
  if ((device = shared_device (s, element)))
    return device;
  if (!(device = heed_device_new (index, error)))
    return NULL;
  GST_INFO_OBJECT (element, "sharing the new Vulkan device %s in the pipeline",
                   heed_device_get_name (device));
  GstContext *context = gst_heed_device_context_new (device);
  gst_element_set_context (element, context);
  gst_element_post_message (element, gst_message_new_have_context (GST_OBJECT (element), context));
  return device;
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

/* GStreamer's Vulkan device, imported (core features, submissions under its queue lock). */
static HeedDevice *
import_gstreamer_device (GstHeedDeviceState *s, GstElement *element, GError **error)
{
  if (!s->vk_device && !gst_vulkan_device_run_context_query (element, &s->vk_device)) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_NO_DEVICE,
                 "Vulkan memory arrived but no element shares a GStreamer Vulkan device");
    return NULL;
  }
  GstVulkanDevice *dev = s->vk_device;
  gst_clear_object (&s->vk_queue);
  /* GStreamer's submit lock belongs to the GstVulkanQueue object, and each one
   * gst_vulkan_device_get_queue makes is new: only elements that share one object exclude each
   * other. So the one the neighbours share (vulkanupload and vulkandownload pass theirs on) comes
   * first; a queue of our own only where no element has one. (With heedkeyframe's output thread,
   * heed's submissions and vulkandownload's run at once.) */
  if (gst_vulkan_queue_run_context_query (element, &s->vk_queue) && s->vk_queue->device != dev)
    gst_clear_object (&s->vk_queue);
  if (!s->vk_queue)
    gst_vulkan_device_foreach_queue (dev, first_queue, &s->vk_queue);
  if (!s->vk_queue) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_NO_DEVICE, "GStreamer's Vulkan device has no queue");
    return NULL;
  }
  guint32 family = s->vk_queue->family;
  if (family >= dev->physical_device->n_queue_families ||
      !(dev->physical_device->queue_family_props[family].queueFlags & VK_QUEUE_COMPUTE_BIT)) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_NO_DEVICE,
                 "GStreamer's Vulkan queue (family %u) cannot run compute shaders", family);
    gst_clear_object (&s->vk_queue);
    return NULL;
  }
  HeedDeviceImport imp = { dev->instance->instance,
                           dev->physical_device->device,
                           dev->device,
                           s->vk_queue->queue,
                           family,
                           lock_gst_queue,
                           unlock_gst_queue,
                           s->vk_queue };
  HeedDevice *imported = heed_device_new_import (&imp, error);
  if (!imported)
    gst_clear_object (&s->vk_queue);
  return imported;
}

gboolean
gst_heed_device_state_acquire (GstHeedDeviceState *s, GstElement *element, gboolean vulkan_memory,
                               gint index, gboolean *changed, GError **error)
{
  HeedDevice *device;
  *changed = FALSE;
  if (vulkan_memory && s->vk_queue)
    return TRUE; /* already on GStreamer's device */
  if (vulkan_memory) {
    if (!(device = import_gstreamer_device (s, element, error)))
      return FALSE;
    GST_INFO_OBJECT (element, "running on GStreamer's Vulkan device %s",
                     heed_device_get_name (device));
  } else {
    if (!(device = pipeline_device (s, element, index, error)))
      return FALSE;
    gst_clear_object (&s->vk_queue);
  }
  *changed = device != s->device;
  heed_device_destroy (&s->device);
  s->device = device;
  return TRUE;
}

void
gst_heed_device_state_stop (GstHeedDeviceState *s)
{
  heed_device_destroy (&s->device); /* an imported device leaves GStreamer's alone */
  gst_clear_object (&s->vk_queue);
}

void
gst_heed_device_state_clear (GstHeedDeviceState *s)
{
  gst_heed_device_state_stop (s);
  heed_device_destroy (&s->shared);
  gst_clear_object (&s->vk_device);
  gst_clear_object (&s->vk_instance);
}

GstVulkanDevice *
gst_heed_vulkan_plane (GstMemory *mem, guint stride, HeedDevicePlane *plane)
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
gst_heed_vulkan_planes (const GstHeedDeviceState *s, GstBuffer *buf, const GstVideoInfo *info,
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
    GstVulkanDevice *device = gst_heed_vulkan_plane (mem, stride, &planes[i]);
    if (!device) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "plane %u is not Vulkan memory", i);
      return 0;
    }
    if (device != s->vk_device)
      goto wrong_device;
  }
  return n;
wrong_device:
  g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
               "the frame is on another Vulkan device than the one shared in the pipeline");
  return 0;
}

void
gst_heed_vulkan_planes_done (GstBuffer *buf, const HeedDevicePlane *planes, guint n)
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

gboolean
gst_heed_keyframe_push_buffer (const GstHeedDeviceState *state, HeedKeyframeScorer *scorer,
                               const GstVideoInfo *info, gboolean vulkan_memory, GstBuffer *buf,
                               float *novelty, gboolean *have, GError **error)
{
  if (vulkan_memory) {
    HeedDevicePlane planes[3] = { { 0 } };
    guint n = gst_heed_vulkan_planes (state, buf, info, planes, error);
    if (!n || !heed_keyframe_scorer_push_device (scorer, planes, n, novelty, have, error))
      return FALSE;
    gst_heed_vulkan_planes_done (buf, planes, n);
    return TRUE;
  }
  GstVideoFrame vframe;
  guint8 *planes[3];
  guint stride[3];
  if (!gst_heed_frame_map (&vframe, info, buf, GST_MAP_READ, planes, stride)) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "cannot map the video frame");
    return FALSE;
  }
  gboolean ok = heed_keyframe_scorer_push (scorer, (const guint8 *const *) planes, stride, novelty,
                                           have, error);
  gst_video_frame_unmap (&vframe);
  return ok;
}

/* ---- frames in Vulkan buffers, images made here ------------------------------------------- */

static GstCaps *
with_memory (const GstStructure *s, const GstCapsFeatures *f, const char *from, const char *to)
{
  GstCapsFeatures *features = gst_caps_features_copy (f);
  gst_caps_features_remove (features, from);
  gst_caps_features_add (features, to);
  GstCaps *caps = gst_caps_new_full (gst_structure_copy (s), NULL);
  gst_caps_set_features (caps, 0, features);
  return caps;
}

GstCaps *
gst_heed_transform_caps (GstBaseTransform *trans, GstPadDirection direction, GstCaps *caps,
                         GstCaps *filter)
{
  GstCaps *out = gst_caps_new_empty ();
  for (guint i = 0; i < gst_caps_get_size (caps); i++) {
    const GstStructure *s = gst_caps_get_structure (caps, i);
    const GstCapsFeatures *f = gst_caps_get_features (caps, i);
    gboolean any = !f || gst_caps_features_is_any (f);
    if (!any && direction == GST_PAD_SRC &&
        gst_caps_features_contains (f, GST_CAPS_FEATURE_MEMORY_VULKAN_IMAGE)) {
      out = gst_caps_merge (out, with_memory (s, f, GST_CAPS_FEATURE_MEMORY_VULKAN_IMAGE,
                                              GST_CAPS_FEATURE_MEMORY_VULKAN_BUFFER));
    } else if (!any && direction == GST_PAD_SINK &&
               gst_caps_features_contains (f, GST_CAPS_FEATURE_MEMORY_VULKAN_BUFFER)) {
      out = gst_caps_merge (out, gst_caps_copy_nth (caps, i));
      out = gst_caps_merge (out, with_memory (s, f, GST_CAPS_FEATURE_MEMORY_VULKAN_BUFFER,
                                              GST_CAPS_FEATURE_MEMORY_VULKAN_IMAGE));
      continue;
    }
    out = gst_caps_merge (out, gst_caps_copy_nth (caps, i));
  }
  if (filter) {
    GstCaps *both = gst_caps_intersect_full (filter, out, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (out);
    out = both;
  }
  return out;
}

static gboolean
has_memory_at (GstCaps *caps, guint i, const char *feature)
{
  GstCapsFeatures *f = gst_caps_get_features (caps, i);
  return f && !gst_caps_features_is_any (f) && gst_caps_features_contains (f, feature);
}

/* Whether GStreamer's image pool can make images of every plane of these frames on this
 * device: the format it picks for each plane, with the tiling and usages it asks for (1.22's
 * gstvkimagebufferpool.c). Its set_config does not check what it allocates, and crashes where
 * the device has no such images (24-bit RGB and BGR on lavapipe), so heed asks first. */
static gboolean
images_possible (GstVulkanDevice *device, GstVideoInfo *info, guint *failed_plane)
{
  VkPhysicalDevice physical = gst_vulkan_device_get_physical_device (device);
  for (guint i = 0; i < GST_VIDEO_INFO_N_PLANES (info); i++) {
    VkImageFormatProperties props;
    VkFormat format = gst_vulkan_format_from_video_info (info, i);
    *failed_plane = i;
    if (format == VK_FORMAT_UNDEFINED ||
        vkGetPhysicalDeviceImageFormatProperties (
            physical, format, VK_IMAGE_TYPE_2D, VK_IMAGE_TILING_OPTIMAL,
            VK_IMAGE_USAGE_TRANSFER_SRC_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT |
                VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_SAMPLED_BIT |
                VK_IMAGE_USAGE_INPUT_ATTACHMENT_BIT,
            0, &props) != VK_SUCCESS ||
        props.maxExtent.width < (guint) GST_VIDEO_INFO_COMP_WIDTH (info, i) ||
        props.maxExtent.height < (guint) GST_VIDEO_INFO_COMP_HEIGHT (info, i))
      return FALSE;
  }
  return TRUE;
}

void
gst_heed_image_maker_clear (GstHeedImageMaker *m)
{
  if (m->pool) {
    gst_buffer_pool_set_active (m->pool, FALSE);
    gst_clear_object (&m->pool);
  }
  heed_frame_copier_destroy (&m->copier);
  m->active = FALSE;
}

gboolean
gst_heed_image_maker_configure (GstHeedImageMaker *m, const GstHeedDeviceState *s,
                                GstElement *element, GstCaps *incaps, GstCaps *outcaps)
{
  gst_heed_image_maker_clear (m);
  if (!has_memory_at (incaps, 0, GST_CAPS_FEATURE_MEMORY_VULKAN_BUFFER) ||
      !has_memory_at (outcaps, 0, GST_CAPS_FEATURE_MEMORY_VULKAN_IMAGE))
    return TRUE;
  if (!gst_video_info_from_caps (&m->info, incaps) || !s->vk_device) {
    GST_ELEMENT_ERROR (element, CORE, NEGOTIATION, ("Cannot make Vulkan images for these frames"),
                       ("%" GST_PTR_FORMAT, incaps));
    return FALSE;
  }
  guint plane;
  if (!images_possible (s->vk_device, &m->info, &plane)) {
    GST_ELEMENT_ERROR (
        element, CORE, NEGOTIATION,
        ("%s frames cannot be Vulkan images on this device (%s), and the element after %s takes "
         "only images: convert them to RGBA, BGRx, NV12 or I420 before vulkanupload",
         gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&m->info)),
         s->vk_device->physical_device->properties.deviceName, GST_ELEMENT_NAME (element)),
        ("no optimal-tiling image of plane %u's format for GStreamer's image pool; "
         "%" GST_PTR_FORMAT,
         plane, outcaps));
    return FALSE;
  }
  m->pool = gst_vulkan_image_buffer_pool_new (s->vk_device);
  GstStructure *config = gst_buffer_pool_get_config (m->pool);
  gst_buffer_pool_config_set_params (config, outcaps, GST_VIDEO_INFO_SIZE (&m->info), 0, 0);
  if (!gst_buffer_pool_set_config (m->pool, config) ||
      !gst_buffer_pool_set_active (m->pool, TRUE)) {
    GST_ELEMENT_ERROR (element, RESOURCE, FAILED, ("Cannot set up a pool of Vulkan images"),
                       ("%" GST_PTR_FORMAT, outcaps));
    gst_heed_image_maker_clear (m);
    return FALSE;
  }
  m->active = TRUE;
  return TRUE;
}

GstFlowReturn
gst_heed_image_maker_make (GstHeedImageMaker *m, const GstHeedDeviceState *s,
                           GstBaseTransform *trans, GstBuffer *inbuf, GstBuffer **outbuf)
{
  HeedDevicePlane src[3] = { { 0 } }, dst[3] = { { 0 } };
  GError *error = NULL;
  guint n = 0;
  *outbuf = NULL;
  if (!m->copier) {
    HeedFrameLayout layout;
    if (!gst_heed_layout_from_video_info (&m->info, &layout, &error) ||
        !(m->copier = heed_frame_copier_new (s->device, &layout, &error)))
      goto fail;
    memcpy (m->row_bytes, layout.row_bytes, sizeof m->row_bytes);
  }
  GstFlowReturn ret = gst_buffer_pool_acquire_buffer (m->pool, outbuf, NULL);
  if (ret == GST_FLOW_FLUSHING)
    return ret;
  if (ret != GST_FLOW_OK) {
    g_set_error (&error, HEED_ERROR, HEED_ERROR_VULKAN, "no Vulkan image for the frame: %s",
                 gst_flow_get_name (ret));
    goto fail;
  }
  if (!(n = gst_heed_vulkan_planes (s, inbuf, &m->info, src, &error)) ||
      gst_heed_vulkan_planes (s, *outbuf, &m->info, dst, &error) != n)
    goto fail;
  /* GStreamer's Vulkan elements copy between buffers and images with rows as long as the
   * plane's width, whatever the buffer's stride (vulkanupload, and vulkandownload without a
   * video meta downstream): heed's images are made the same way, so they come out of
   * vulkandownload as the frame went in, and are what vulkanupload would have made. */
  for (guint i = 0; i < n; i++)
    if (!src[i].image)
      src[i].stride = m->row_bytes[i];
  if (!heed_frame_copier_copy (m->copier, src, dst, n, &error))
    goto fail;
  gst_heed_vulkan_planes_done (inbuf, src, n);
  gst_heed_vulkan_planes_done (*outbuf, dst, n);
  GstBaseTransformClass *klass = GST_BASE_TRANSFORM_GET_CLASS (trans);
  if (klass->copy_metadata && !klass->copy_metadata (trans, inbuf, *outbuf))
    GST_WARNING_OBJECT (trans, "could not copy the frame's metadata to its image");
  return GST_FLOW_OK;
fail:
  GST_ELEMENT_ERROR (
      trans, RESOURCE, FAILED,
      ("Cannot copy the frame to a Vulkan image: %s", error ? error->message : "unknown error"),
      (NULL));
  g_clear_error (&error);
  gst_clear_buffer (outbuf);
  return GST_FLOW_ERROR;
}

GstFlowReturn
gst_heed_image_maker_take (GstHeedImageMaker *m, const GstHeedDeviceState *s,
                           GstBaseTransform *trans, GstBuffer **buf)
{
  if (!m->active)
    return GST_FLOW_OK;
  GstBuffer *image = NULL;
  GstFlowReturn ret = gst_heed_image_maker_make (m, s, trans, *buf, &image);
  gst_buffer_unref (*buf);
  *buf = image;
  return ret;
}

void
gst_heed_prefer_vulkan_buffers (GstPadDirection direction, GstQuery *query)
{
  GstCaps *caps = NULL;
  if (direction != GST_PAD_SINK || GST_QUERY_TYPE (query) != GST_QUERY_CAPS)
    return;
  gst_query_parse_caps_result (query, &caps);
  if (!caps || gst_caps_is_any (caps))
    return;
  guint n = gst_caps_get_size (caps), first_image = 0;
  while (first_image < n &&
         !has_memory_at (caps, first_image, GST_CAPS_FEATURE_MEMORY_VULKAN_IMAGE))
    first_image++;
  if (first_image == n)
    return;
  GstCaps *out = gst_caps_new_empty ();
  for (guint i = 0; i < first_image; i++)
    gst_caps_append (out, gst_caps_copy_nth (caps, i));
  for (guint pass = 0; pass < 2; pass++)
    for (guint i = first_image; i < n; i++)
      if (has_memory_at (caps, i, GST_CAPS_FEATURE_MEMORY_VULKAN_BUFFER) == (pass == 0))
        gst_caps_append (out, gst_caps_copy_nth (caps, i));
  gst_query_set_caps_result (query, out);
  gst_caps_unref (out);
}
