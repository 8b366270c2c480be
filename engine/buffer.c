/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Storage buffers and host transfers. One allocation per buffer: a ViT has a few hundred
 * tensors at most, far below maxMemoryAllocationCount. */
#include "heed-private.h"

#include <string.h>

static int
find_memory_type (const HeedDevice *d, uint32_t bits, VkMemoryPropertyFlags want)
{
  for (uint32_t i = 0; i < d->mem_props.memoryTypeCount; i++)
    if ((bits & (1u << i)) && (d->mem_props.memoryTypes[i].propertyFlags & want) == want)
      return (int) i;
  return -1;
}

static HeedBuffer *
buffer_new (HeedDevice *d, VkDeviceSize size, gboolean host_visible, gboolean half, GError **error)
{
  HeedBuffer *b;
  VkMemoryRequirements req;
  int type = -1;

  /* The shaders index buffers with 32-bit element offsets. */
  if (size / 16 > G_MAXUINT32 / 4) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "a buffer of %" G_GUINT64_FORMAT " bytes is beyond the shaders' 32-bit "
                 "indexing: the model or image is too large",
                 (guint64) size);
    return NULL;
  }
  b = g_new0 (HeedBuffer, 1);

  b->device = d;
  b->half = half;
  /* whole 16-byte texels, so a texel view covers every byte */
  b->size = (MAX (size, 16) + 15) & ~(VkDeviceSize) 15;
  VkBufferCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
    .size = b->size,
    .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
             VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
             VK_BUFFER_USAGE_TRANSFER_DST_BIT,
    .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
  };
  HEED_VK (vkCreateBuffer, (d->device, &info, NULL, &b->buffer));
  vkGetBufferMemoryRequirements (d->device, b->buffer, &req);

  if (host_visible) {
    type = find_memory_type (d, req.memoryTypeBits,
                             VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                 VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |
                                 VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    if (type < 0)
      type = find_memory_type (d, req.memoryTypeBits,
                               VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                   VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
  } else {
    type = find_memory_type (d, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (type < 0)
      type = find_memory_type (d, req.memoryTypeBits, 0);
  }
  if (type < 0) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_VULKAN, "no Vulkan memory type fits a %s buffer",
                 host_visible ? "host" : "device");
    goto error;
  }
  VkMemoryAllocateInfo alloc = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
    .allocationSize = req.size,
    .memoryTypeIndex = (uint32_t) type,
  };
  HEED_VK_RESULT ("vkAllocateMemory", heed_device_allocate_memory (d, &alloc, &b->memory));
  HEED_VK (vkBindBufferMemory, (d->device, b->buffer, b->memory, 0));
  /* RGBA32F and RGBA16F uniform texel buffers are core Vulkan on every device (checked all the
   * same: a texel fetch then converts the halves); the view is capped at the device's texel
   * count (a GEMM operand is far smaller) */
  VkDeviceSize texel_bytes = half ? 8 : 16;
  VkBufferViewCreateInfo view = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
    .buffer = b->buffer,
    .format = half ? VK_FORMAT_R16G16B16A16_SFLOAT : VK_FORMAT_R32G32B32A32_SFLOAT,
    .offset = 0,
    .range = MIN (b->size / texel_bytes, d->props.limits.maxTexelBufferElements) * texel_bytes,
  };
  if (half) {
    VkFormatProperties fp;
    vkGetPhysicalDeviceFormatProperties (d->physical_device, view.format, &fp);
    if (!(fp.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT)) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_VULKAN,
                   "the device cannot read half-float texel buffers (RGBA16F): use float32 "
                   "weights");
      goto error;
    }
  }
  HEED_VK (vkCreateBufferView, (d->device, &view, NULL, &b->texels));
  view.format = VK_FORMAT_R32G32B32A32_UINT; /* core too: raw words, such as a frame's bytes */
  view.range = MIN (b->size / 16, d->props.limits.maxTexelBufferElements) * 16;
  HEED_VK (vkCreateBufferView, (d->device, &view, NULL, &b->texels_u));
  if (host_visible) {
    HEED_VK (vkMapMemory, (d->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped));
    memset (b->mapped, 0, b->size);
  } else {
    /* Padding rows and columns are read by the GEMMs, so they must hold zeros, not garbage. */
    void *zeros = g_malloc0 (b->size);
    gboolean ok = heed_buffer_upload (b, 0, zeros, b->size, error);
    g_free (zeros);
    if (!ok)
      goto error;
  }
  return b;

error:
  heed_buffer_destroy (&b);
  return NULL;
}

HeedBuffer *
heed_buffer_new (HeedDevice *d, VkDeviceSize size, gboolean host_visible, GError **error)
{
  return buffer_new (d, size, host_visible, FALSE, error);
}

HeedBuffer *
heed_buffer_new_half (HeedDevice *d, const float *values, gsize n, GError **error)
{
  uint16_t *h = g_new (uint16_t, n);
  for (gsize i = 0; i < n; i++)
    h[i] = heed_f32_to_f16 (values[i]);
  HeedBuffer *b = buffer_new (d, (VkDeviceSize) n * 2, FALSE, TRUE, error);
  if (b && !heed_buffer_upload (b, 0, h, (VkDeviceSize) n * 2, error))
    heed_buffer_destroy (&b);
  g_free (h);
  return b;
}

void
heed_buffer_destroy (HeedBuffer **buffer)
{
  HeedBuffer *b = buffer ? *buffer : NULL;
  if (!b)
    return;
  if (b->texels)
    vkDestroyBufferView (b->device->device, b->texels, NULL);
  if (b->texels_u)
    vkDestroyBufferView (b->device->device, b->texels_u, NULL);
  if (b->buffer)
    vkDestroyBuffer (b->device->device, b->buffer, NULL);
  if (b->memory)
    vkFreeMemory (b->device->device, b->memory, NULL);
  g_free (b);
  *buffer = NULL;
}

/* Copies size bytes between two buffers and waits for it. */
static gboolean
copy_and_wait (HeedDevice *d, VkBuffer src, VkDeviceSize src_off, VkBuffer dst,
               VkDeviceSize dst_off, VkDeviceSize size, GError **error)
{
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  VkFence fence = VK_NULL_HANDLE;
  gboolean ok = FALSE;

  g_mutex_lock (&d->command_mutex);
  VkCommandBufferAllocateInfo ai = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
    .commandPool = d->command_pool,
    .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
    .commandBufferCount = 1,
  };
  HEED_VK (vkAllocateCommandBuffers, (d->device, &ai, &cmd));
  VkCommandBufferBeginInfo bi = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
    .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
  };
  HEED_VK (vkBeginCommandBuffer, (cmd, &bi));
  VkBufferCopy region = { src_off, dst_off, size };
  vkCmdCopyBuffer (cmd, src, dst, 1, &region);
  HEED_VK (vkEndCommandBuffer, (cmd));
  VkFenceCreateInfo fi = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
  HEED_VK (vkCreateFence, (d->device, &fi, NULL, &fence));
  ok = heed_device_submit_and_wait (d, &cmd, 1, fence, error);
error:
  if (fence)
    vkDestroyFence (d->device, fence, NULL);
  if (cmd)
    vkFreeCommandBuffers (d->device, d->command_pool, 1, &cmd);
  g_mutex_unlock (&d->command_mutex);
  return ok;
}

gboolean
heed_buffer_renew (HeedBuffer **buffer, gboolean host_visible, GError **error)
{
  HeedBuffer *b = heed_buffer_new ((*buffer)->device, (*buffer)->size, host_visible, error);
  if (!b)
    return FALSE;
  heed_buffer_destroy (buffer);
  *buffer = b;
  return TRUE;
}

gboolean
heed_buffer_texels_cover (const HeedBuffer *b)
{
  return b->size / (b->half ? 8 : 16) <= b->device->props.limits.maxTexelBufferElements;
}

static gboolean
check_range (HeedBuffer *b, VkDeviceSize offset, VkDeviceSize size, GError **error)
{
  if (offset > b->size || size > b->size - offset) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "buffer transfer of %" G_GUINT64_FORMAT " bytes at %" G_GUINT64_FORMAT
                 " exceeds the %" G_GUINT64_FORMAT "-byte buffer",
                 (guint64) size, (guint64) offset, (guint64) b->size);
    return FALSE;
  }
  return TRUE;
}

gboolean
heed_buffer_upload (HeedBuffer *b, VkDeviceSize offset, const void *data, VkDeviceSize size,
                    GError **error)
{
  if (!check_range (b, offset, size, error))
    return FALSE;
  if (b->mapped) {
    memcpy ((char *) b->mapped + offset, data, size);
    return TRUE;
  }
  HeedBuffer *staging = heed_buffer_new (b->device, size, TRUE, error);
  if (!staging)
    return FALSE;
  memcpy (staging->mapped, data, size);
  gboolean ok = copy_and_wait (b->device, staging->buffer, 0, b->buffer, offset, size, error);
  heed_buffer_destroy (&staging);
  return ok;
}

gboolean
heed_buffer_download (HeedBuffer *b, VkDeviceSize offset, void *data, VkDeviceSize size,
                      GError **error)
{
  if (!check_range (b, offset, size, error))
    return FALSE;
  if (b->mapped) {
    memcpy (data, (char *) b->mapped + offset, size);
    return TRUE;
  }
  HeedBuffer *staging = heed_buffer_new (b->device, size, TRUE, error);
  if (!staging)
    return FALSE;
  gboolean ok = copy_and_wait (b->device, b->buffer, offset, staging->buffer, 0, size, error);
  if (ok)
    memcpy (data, staging->mapped, size);
  heed_buffer_destroy (&staging);
  return ok;
}
