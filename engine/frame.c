/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Frame layouts, resize geometry and colour conversion parameters, shared by the
 * preprocessing op, its C reference and the mapping of results back onto the frame. */
#include "heed-private.h"

#include <math.h>

/* bytes per pixel of plane 0 for packed formats; 0 for planar */
static guint
packed_bpp (HeedPixelFormat f)
{
  switch (f) {
  case HEED_PIXEL_RGB:
  case HEED_PIXEL_BGR: return 3;
  case HEED_PIXEL_GRAY8: return 1;
  case HEED_PIXEL_YUY2: return 2;
  case HEED_PIXEL_I420:
  case HEED_PIXEL_NV12: return 0;
  default: return 4;
  }
}

gboolean
heed_frame_layout_init (HeedFrameLayout *l, HeedPixelFormat format, guint width, guint height,
                        const guint stride[3], GError **error)
{
  guint cw = (width + 1) / 2, ch = (height + 1) / 2;
  *l = (HeedFrameLayout){ .format = format, .width = width, .height = height, .crop_fraction = 1 };
  if ((guint) format > HEED_PIXEL_GRAY8) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "unknown pixel format %d", format);
    return FALSE;
  }
  if (width < 1 || height < 1 || width > 16384 || height > 16384) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "frame size %ux%u is outside 1x1 to 16384x16384", width, height);
    return FALSE;
  }
  if (format == HEED_PIXEL_I420) {
    l->n_planes = 3;
    l->row_bytes[0] = width, l->row_bytes[1] = l->row_bytes[2] = cw;
    l->rows[0] = height, l->rows[1] = l->rows[2] = ch;
  } else if (format == HEED_PIXEL_NV12) {
    l->n_planes = 2;
    l->row_bytes[0] = width, l->row_bytes[1] = 2 * cw;
    l->rows[0] = height, l->rows[1] = ch;
  } else {
    l->n_planes = 1;
    l->row_bytes[0] = format == HEED_PIXEL_YUY2 ? 4 * cw : width * packed_bpp (format);
    l->rows[0] = height;
  }
  gsize offset = 0;
  for (guint i = 0; i < l->n_planes; i++) {
    if (stride[i] < l->row_bytes[i]) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                   "plane %u stride %u is below its %u bytes of pixels per row", i, stride[i],
                   l->row_bytes[i]);
      return FALSE;
    }
    /* Whole 32-bit words are read for 4-byte pixels: keep their rows word-aligned. */
    l->stride[i] =
        packed_bpp (format) == 4 || format == HEED_PIXEL_YUY2 ? (stride[i] + 3) / 4 * 4 : stride[i];
    l->offset[i] = offset;
    offset += ((gsize) l->stride[i] * l->rows[i] + 3) / 4 * 4;
  }
  l->size = offset;
  return TRUE;
}

void
heed_frame_geometry (const HeedFrameLayout *l, guint size, float src[4], float dst[4])
{
  float w = l->width, h = l->height, s = size;
  /* the checkpoint's centre crop: a fraction of the side that is cropped (0 is read as 1, for
   * layouts made by hand) */
  float f = l->crop_fraction > 0.0f && l->crop_fraction < 1.0f ? l->crop_fraction : 1.0f;
  src[0] = src[1] = dst[0] = dst[1] = 0.0f;
  src[2] = w, src[3] = h, dst[2] = dst[3] = s;
  if (l->resize == HEED_RESIZE_CROP) {
    float side = MIN (w, h) * f;
    src[0] = (w - side) / 2, src[1] = (h - side) / 2, src[2] = src[3] = side;
  } else if (l->resize == HEED_RESIZE_STRETCH && f < 1.0f) {
    src[0] = w * (1 - f) / 2, src[1] = h * (1 - f) / 2, src[2] = w * f, src[3] = h * f;
  } else if (l->resize == HEED_RESIZE_LETTERBOX) {
    float scale = s / MAX (w, h);
    dst[2] = w * scale, dst[3] = h * scale;
    dst[0] = (s - dst[2]) / 2, dst[1] = (s - dst[3]) / 2;
  }
}

void
heed_frame_model_region (const HeedFrameLayout *l, float region[4])
{
  /* the frame rectangle whose image fills the model's whole input, in model units scaled to
   * frame fractions: map the input's corners (0, 0) and (1, 1) back into the frame */
  const guint size = 1024; /* any size: the geometry is proportional */
  float src[4], dst[4];
  heed_frame_geometry (l, size, src, dst);
  float sx = src[2] / dst[2], sy = src[3] / dst[3];
  region[0] = (src[0] - dst[0] * sx) / l->width;
  region[1] = (src[1] - dst[1] * sy) / l->height;
  region[2] = size * sx / l->width;
  region[3] = size * sy / l->height;
}

void
heed_frame_point_from_model (const HeedFrameLayout *l, guint size, float u, float v, float *x,
                             float *y)
{
  float src[4], dst[4];
  heed_frame_geometry (l, size, src, dst);
  float fx = src[0] + (u - dst[0]) * src[2] / dst[2];
  float fy = src[1] + (v - dst[1]) * src[3] / dst[3];
  *x = CLAMP (fx / l->width, 0.0f, 1.0f);
  *y = CLAMP (fy / l->height, 0.0f, 1.0f);
}

/* The luma weights of red and blue for a layout's YUV matrix (BT.601, BT.709, BT.2020). */
static void
yuv_weights (const HeedFrameLayout *l, double *kr, double *kb)
{
  static const double kr_kb[][2] = { { 0.299, 0.114 }, { 0.2126, 0.0722 }, { 0.2627, 0.0593 } };
  *kr = kr_kb[l->matrix][0];
  *kb = kr_kb[l->matrix][1];
}

void
heed_frame_params (const HeedFrameLayout *l, const float mean[3], const float std[3],
                   float params[18])
{
  double kr, kb;
  yuv_weights (l, &kr, &kb);
  double kg = 1.0 - kr - kb;
  /* on 0..255 codes: Y' = (Y - yoff) * ys / 255, Cb/Cr = (C - 128) * cs / 255, then RGB */
  double ys = l->full_range ? 1.0 : 255.0 / 219.0, cs = l->full_range ? 1.0 : 255.0 / 224.0;
  /* clang-format off */
  double m[9] = {
    ys, 0.0, 2.0 * (1.0 - kr) * cs,
    ys, -2.0 * kb * (1.0 - kb) / kg * cs, -2.0 * kr * (1.0 - kr) / kg * cs,
    ys, 2.0 * (1.0 - kb) * cs, 0.0,
  };
  /* clang-format on */
  for (guint i = 0; i < 3; i++) {
    params[i] = 1.0f / std[i];
    params[3 + i] = -mean[i] / std[i];
  }
  for (guint i = 0; i < 9; i++)
    params[6 + i] = (float) (m[i] / 255.0);
  params[15] = l->full_range ? 0.0f : 16.0f;
  params[16] = params[17] = 128.0f;
}

void
heed_frame_rgb_to_yuv (const HeedFrameLayout *l, float m[9], float offset[3])
{
  double kr, kb;
  yuv_weights (l, &kr, &kb);
  double kg = 1.0 - kr - kb;
  double ys = (l->full_range ? 255.0 : 219.0) / 255.0, cs = (l->full_range ? 255.0 : 224.0) / 255.0;
  double u = cs / (2.0 * (1.0 - kb)), v = cs / (2.0 * (1.0 - kr));
  /* clang-format off */
  double d[9] = {
    ys * kr, ys * kg, ys * kb,
    -u * kr, -u * kg, u * (1.0 - kb),
    v * (1.0 - kr), -v * kg, -v * kb,
  };
  /* clang-format on */
  for (guint i = 0; i < 9; i++)
    m[i] = (float) d[i];
  offset[0] = l->full_range ? 0.0f : 16.0f;
  offset[1] = offset[2] = 128.0f;
}

/* Checks that an image plane holds the layout's plane i; returns its bytes per texel or 0. */
static guint
plane_texel (const HeedFrameLayout *l, guint i, const HeedDevicePlane *p, GError **error)
{
  guint texel = p->width ? l->row_bytes[i] / p->width : 0;
  if (!texel || l->row_bytes[i] % p->width || l->stride[i] % texel || p->height < l->rows[i]) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "plane %u: a %ux%u image does not hold %u rows of %u bytes", i, p->width,
                 p->height, l->rows[i], l->row_bytes[i]);
    return 0;
  }
  return texel;
}

static VkBufferImageCopy
image_region (const HeedFrameLayout *l, guint i, guint texel)
{
  return (VkBufferImageCopy){
    .bufferOffset = l->offset[i],
    .bufferRowLength = l->stride[i] / texel,
    .imageSubresource = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 },
    .imageExtent = { l->row_bytes[i] / texel, l->rows[i], 1 },
  };
}

static void
image_barrier (VkCommandBuffer cmd, VkImage image, VkImageLayout from, VkImageLayout to,
               VkAccessFlags src_access, VkAccessFlags dst_access, VkPipelineStageFlags src_stage,
               VkPipelineStageFlags dst_stage)
{
  VkImageMemoryBarrier b = {
    .sType = VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER,
    .srcAccessMask = src_access,
    .dstAccessMask = dst_access,
    .oldLayout = from,
    .newLayout = to,
    .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
    .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
    .image = image,
    .subresourceRange = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1 },
  };
  vkCmdPipelineBarrier (cmd, src_stage, dst_stage, 0, 0, NULL, 0, NULL, 1, &b);
}

/* The layout an image is left in after heed's copies: its own, unless that cannot be read */
static VkImageLayout
readable_layout (VkImageLayout layout)
{
  return layout == VK_IMAGE_LAYOUT_UNDEFINED || layout == VK_IMAGE_LAYOUT_PREINITIALIZED
             ? VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL
             : layout;
}

static gboolean
check_buffer_plane (const HeedFrameLayout *l, guint i, const HeedDevicePlane *p, GError **error)
{
  if (p->stride >= l->row_bytes[i])
    return TRUE;
  g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "plane %u stride %u is too small", i,
               p->stride);
  return FALSE;
}

static void
memory_barrier (VkCommandBuffer cmd, VkPipelineStageFlags src_stage, VkAccessFlags src_access,
                VkPipelineStageFlags dst_stage, VkAccessFlags dst_access)
{
  VkMemoryBarrier b = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = src_access,
    .dstAccessMask = dst_access,
  };
  vkCmdPipelineBarrier (cmd, src_stage, dst_stage, 0, 1, &b, 0, NULL, 0, NULL);
}

/* One VkBufferCopy per row between a plane buffer and the packed frame. */
static void
copy_rows (VkCommandBuffer cmd, const HeedFrameLayout *l, guint i, const HeedDevicePlane *p,
           VkBuffer frame, gboolean into_frame)
{
  VkBufferCopy *rows = g_new (VkBufferCopy, l->rows[i]);
  for (guint r = 0; r < l->rows[i]; r++) {
    VkDeviceSize plane_at = p->offset + (VkDeviceSize) r * p->stride;
    VkDeviceSize frame_at = l->offset[i] + (VkDeviceSize) r * l->stride[i];
    rows[r] = into_frame ? (VkBufferCopy){ plane_at, frame_at, l->row_bytes[i] }
                         : (VkBufferCopy){ frame_at, plane_at, l->row_bytes[i] };
  }
  if (into_frame)
    vkCmdCopyBuffer (cmd, p->buffer, frame, l->rows[i], rows);
  else
    vkCmdCopyBuffer (cmd, frame, p->buffer, l->rows[i], rows);
  g_free (rows);
}

static gboolean
record_copy_in (VkCommandBuffer cmd, const HeedFrameLayout *l, HeedDevicePlane *planes, guint n,
                VkBuffer frame, GError **error)
{
  for (guint i = 0; i < n; i++) {
    HeedDevicePlane *p = &planes[i];
    VkPipelineStageFlags src_stage = p->stage ? p->stage : VK_PIPELINE_STAGE_ALL_COMMANDS_BIT;
    VkAccessFlags src_access = p->access | VK_ACCESS_MEMORY_WRITE_BIT;
    if (p->image) {
      guint texel = plane_texel (l, i, p, error);
      if (!texel)
        return FALSE;
      VkImageLayout back = readable_layout (p->layout);
      image_barrier (cmd, p->image, p->layout, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, src_access,
                     VK_ACCESS_TRANSFER_READ_BIT, src_stage, VK_PIPELINE_STAGE_TRANSFER_BIT);
      VkBufferImageCopy region = image_region (l, i, texel);
      vkCmdCopyImageToBuffer (cmd, p->image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, frame, 1,
                              &region);
      if (back != VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL)
        image_barrier (cmd, p->image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, back,
                       VK_ACCESS_TRANSFER_READ_BIT, p->access, VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_ALL_COMMANDS_BIT);
      p->layout = back;
    } else {
      if (!check_buffer_plane (l, i, p, error))
        return FALSE;
      VkBufferMemoryBarrier ready = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER,
        .srcAccessMask = src_access,
        .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT,
        .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .buffer = p->buffer,
        .offset = 0,
        .size = VK_WHOLE_SIZE,
      };
      vkCmdPipelineBarrier (cmd, src_stage, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, NULL, 1, &ready,
                            0, NULL);
      copy_rows (cmd, l, i, p, frame, TRUE);
    }
    p->access = VK_ACCESS_TRANSFER_READ_BIT;
    p->stage = VK_PIPELINE_STAGE_TRANSFER_BIT;
  }
  memory_barrier (cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                  VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                  VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  return TRUE;
}

static gboolean
record_copy_out (VkCommandBuffer cmd, const HeedFrameLayout *l, VkBuffer frame,
                 HeedDevicePlane *planes, guint n, GError **error)
{
  /* the shaders' writes before the copies; the copies in (reads) before these writes */
  memory_barrier (cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                  VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                  VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
  for (guint i = 0; i < n; i++) {
    HeedDevicePlane *p = &planes[i];
    if (p->image) {
      guint texel = plane_texel (l, i, p, error);
      if (!texel)
        return FALSE;
      VkImageLayout back = readable_layout (p->layout);
      image_barrier (cmd, p->image, p->layout, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                     p->access | VK_ACCESS_MEMORY_WRITE_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                     p->stage ? p->stage : VK_PIPELINE_STAGE_ALL_COMMANDS_BIT,
                     VK_PIPELINE_STAGE_TRANSFER_BIT);
      VkBufferImageCopy region = image_region (l, i, texel);
      vkCmdCopyBufferToImage (cmd, frame, p->image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1,
                              &region);
      if (back != VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL)
        image_barrier (cmd, p->image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, back,
                       VK_ACCESS_TRANSFER_WRITE_BIT,
                       VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT,
                       VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT);
      p->layout = back;
    } else {
      if (!check_buffer_plane (l, i, p, error))
        return FALSE;
      copy_rows (cmd, l, i, p, frame, FALSE);
    }
    p->access = VK_ACCESS_TRANSFER_WRITE_BIT;
    p->stage = VK_PIPELINE_STAGE_TRANSFER_BIT;
  }
  memory_barrier (cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                  VK_PIPELINE_STAGE_ALL_COMMANDS_BIT,
                  VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT);
  return TRUE;
}

gboolean
heed_frame_record_copies (VkCommandBuffer cmd, gboolean into_frame, const HeedFrameLayout *layout,
                          HeedDevicePlane *planes, guint n, VkBuffer frame, VkDeviceSize base,
                          GError **error)
{
  /* the frame's planes as they lie from `base` on (a batch slot of the staging buffer) */
  HeedFrameLayout shifted = *layout;
  const HeedFrameLayout *l = &shifted;
  for (guint i = 0; i < 3; i++)
    shifted.offset[i] += base;
  HEED_VK (vkResetCommandBuffer, (cmd, 0));
  VkCommandBufferBeginInfo bi = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
    .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
  };
  HEED_VK (vkBeginCommandBuffer, (cmd, &bi));
  if (!(into_frame ? record_copy_in (cmd, l, planes, n, frame, error)
                   : record_copy_out (cmd, l, frame, planes, n, error))) {
    vkEndCommandBuffer (cmd);
    return FALSE;
  }
  HEED_VK (vkEndCommandBuffer, (cmd));
  return TRUE;
error:
  return FALSE;
}
