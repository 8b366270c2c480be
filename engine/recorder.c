/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Records a sequence of compute dispatches once, with a barrier after each, and submits it
 * any number of times. With profiling, a timestamp pair brackets every dispatch. */
#include "heed-private.h"

HeedRecorder *
heed_recorder_new (HeedDevice *d, const HeedKernels *kernels, guint max_dispatches,
                   gboolean profile, GError **error)
{
  HeedRecorder *rec = g_new0 (HeedRecorder, 1);
  rec->device = d;
  rec->kernels = kernels ? *kernels : d->kernels;
  rec->max_dispatches = max_dispatches;
  rec->profile = profile && d->has_timestamps;
  rec->timings = g_array_new (FALSE, TRUE, sizeof (HeedOpTiming));
  if (profile && !d->has_timestamps)
    heed_log (HEED_LOG_WARNING, "%s has no compute timestamps: no per-op timings",
              d->props.deviceName);

  VkDescriptorPoolSize sizes[3] = {
    { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, max_dispatches * 8 },
    { VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, max_dispatches * 4 },
    { VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, max_dispatches },
  };
  VkDescriptorPoolCreateInfo pool_info = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
    .maxSets = max_dispatches,
    .poolSizeCount = 3,
    .pPoolSizes = sizes,
  };
  HEED_VK (vkCreateDescriptorPool, (d->device, &pool_info, NULL, &rec->pool));

  if (!(rec->command_pool = heed_command_pool_new (d, error)) ||
      !(rec->cmd = heed_command_buffer_new (d, rec->command_pool, error)))
    goto error;

  VkFenceCreateInfo fi = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
  HEED_VK (vkCreateFence, (d->device, &fi, NULL, &rec->fence));

  if (rec->profile) {
    VkQueryPoolCreateInfo qi = {
      .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
      .queryType = VK_QUERY_TYPE_TIMESTAMP,
      .queryCount = 2 * max_dispatches,
    };
    HEED_VK (vkCreateQueryPool, (d->device, &qi, NULL, &rec->queries));
  }

  VkCommandBufferBeginInfo bi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO };
  HEED_VK (vkBeginCommandBuffer, (rec->cmd, &bi));
  if (rec->profile)
    vkCmdResetQueryPool (rec->cmd, rec->queries, 0, 2 * max_dispatches);
  return rec;

error:
  heed_recorder_destroy (&rec);
  return NULL;
}

void
heed_recorder_destroy (HeedRecorder **recorder)
{
  HeedRecorder *rec = recorder ? *recorder : NULL;
  if (!rec)
    return;
  VkDevice dev = rec->device->device;
  if (rec->pending)
    vkWaitForFences (dev, 1, &rec->fence, VK_TRUE, UINT64_MAX); /* never free what runs */
  if (rec->fence) {
    vkDestroyFence (dev, rec->fence, NULL);
  }
  if (rec->queries)
    vkDestroyQueryPool (dev, rec->queries, NULL);
  if (rec->command_pool)
    vkDestroyCommandPool (dev, rec->command_pool, NULL); /* frees cmd */
  if (rec->pool)
    vkDestroyDescriptorPool (dev, rec->pool, NULL);
  g_array_unref (rec->timings);
  g_free (rec);
  *recorder = NULL;
}

/* Makes what the stages before wrote with `src` visible to the stages after for `dst` */
static void
record_barrier (HeedRecorder *rec, VkPipelineStageFlags src_stage, VkAccessFlags src,
                VkPipelineStageFlags dst_stage, VkAccessFlags dst)
{
  VkMemoryBarrier barrier = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = src,
    .dstAccessMask = dst,
  };
  vkCmdPipelineBarrier (rec->cmd, src_stage, dst_stage, 0, 1, &barrier, 0, NULL, 0, NULL);
}

gboolean
heed_recorder_dispatch (HeedRecorder *rec, HeedKernel k, guint specialization,
                        HeedBuffer *const *bindings, const void *push, guint push_size, guint gx,
                        guint gy, guint gz, const char *name, const char *kind, double flops,
                        GError **error)
{
  HeedDevice *d = rec->device;
  HeedPipeline *p;
  VkDescriptorSet set;
  guint index = rec->timings->len;

  if (index >= rec->max_dispatches) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "recorder holds at most %u dispatches",
                 rec->max_dispatches);
    return FALSE;
  }
  const VkPhysicalDeviceLimits *lim = &d->props.limits;
  if (gx == 0 || gy == 0 || gz == 0 || gx > lim->maxComputeWorkGroupCount[0] ||
      gy > lim->maxComputeWorkGroupCount[1] || gz > lim->maxComputeWorkGroupCount[2]) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "%s: dispatch of %u x %u x %u workgroups is outside the device's limits", name, gx,
                 gy, gz);
    return FALSE;
  }
  p = heed_device_get_pipeline (d, k.shader, k.local_size, specialization, error);
  if (!p)
    return FALSE;
  g_assert (push_size == p->shader->push_size);

  VkDescriptorSetAllocateInfo ai = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
    .descriptorPool = rec->pool,
    .descriptorSetCount = 1,
    .pSetLayouts = &p->set_layout,
  };
  HEED_VK (vkAllocateDescriptorSets, (d->device, &ai, &set));

  VkDescriptorBufferInfo infos[8];
  VkWriteDescriptorSet writes[8];
  for (guint i = 0; i < p->shader->n_bindings; i++) {
    VkDescriptorType type = heed_shader_binding_type (p->shader, i);
    gboolean texel = type == VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
    /* a uniform buffer's range is capped by the device (lavapipe: 64 KiB) */
    VkDeviceSize range = type == VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER
                             ? MIN (bindings[i]->size, d->props.limits.maxUniformBufferRange)
                             : VK_WHOLE_SIZE;
    infos[i] = (VkDescriptorBufferInfo){ bindings[i]->buffer, 0, range };
    writes[i] = (VkWriteDescriptorSet){
      .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
      .dstSet = set,
      .dstBinding = i,
      .descriptorCount = 1,
      .descriptorType = type,
      .pBufferInfo = texel ? NULL : &infos[i],
      .pTexelBufferView = !texel                                       ? NULL
                          : p->shader->uint_texel_bindings & (1u << i) ? &bindings[i]->texels_u
                                                                       : &bindings[i]->texels,
    };
  }
  vkUpdateDescriptorSets (d->device, p->shader->n_bindings, writes, 0, NULL);

  if (rec->profile)
    vkCmdWriteTimestamp (rec->cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, rec->queries, 2 * index);
  vkCmdBindPipeline (rec->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipeline);
  vkCmdBindDescriptorSets (rec->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout, 0, 1, &set, 0,
                           NULL);
  vkCmdPushConstants (rec->cmd, p->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size, push);
  vkCmdDispatch (rec->cmd, gx, gy, gz);
  if (rec->profile)
    vkCmdWriteTimestamp (rec->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, rec->queries,
                         2 * index + 1);

  /* Every op reads what the previous ones wrote. */
  record_barrier (rec, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                  VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                  VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);

  /* interned: results carry the timings past the recorder's life (a bounded set of names) */
  HeedOpTiming t = { g_intern_string (name), kind, flops, 0.0 };
  g_array_append_val (rec->timings, t);
  return TRUE;
error:
  return FALSE;
}

/* Copies size bytes between buffers in the recorded sequence: after everything recorded
 * before it has read and written dst, before anything recorded after it. */
void
heed_recorder_copy (HeedRecorder *rec, HeedBuffer *src, VkDeviceSize src_off, HeedBuffer *dst,
                    VkDeviceSize dst_off, VkDeviceSize size)
{
  /* the dispatches before may have written the source as well as the destination (Swin's rows
   * gathered into x_other, copied to x) */
  record_barrier (rec, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                  VK_PIPELINE_STAGE_TRANSFER_BIT,
                  VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
  VkBufferCopy region = { src_off, dst_off, size };
  vkCmdCopyBuffer (rec->cmd, src->buffer, dst->buffer, 1, &region);
  record_barrier (rec, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                  VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                  VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
}

gboolean
heed_recorder_end (HeedRecorder *rec, GError **error)
{
  /* Make the results visible to the host reads that follow the fence wait. */
  VkMemoryBarrier barrier = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
    .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
  };
  vkCmdPipelineBarrier (rec->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT,
                        0, 1, &barrier, 0, NULL, 0, NULL);
  HEED_VK (vkEndCommandBuffer, (rec->cmd));
  return TRUE;
error:
  return FALSE;
}

gboolean
heed_recorder_submit_async (HeedRecorder *rec, const VkCommandBuffer *first, guint n_first,
                            VkCommandBuffer last, GError **error)
{
  HeedDevice *d = rec->device;
  VkCommandBuffer cmds[66];
  guint n_cmds = 0;
  g_return_val_if_fail (n_first <= 64 && !rec->pending, FALSE);
  for (guint i = 0; i < n_first; i++)
    cmds[n_cmds++] = first[i];
  cmds[n_cmds++] = rec->cmd;
  if (last)
    cmds[n_cmds++] = last;
  HEED_VK (vkResetFences, (d->device, 1, &rec->fence));
  HEED_VK_RESULT ("vkQueueSubmit", heed_device_submit (d, cmds, n_cmds, rec->fence));
  rec->pending = TRUE;
  return TRUE;
error:
  return FALSE;
}

gboolean
heed_recorder_is_done (HeedRecorder *rec)
{
  return !rec->pending || vkGetFenceStatus (rec->device->device, rec->fence) == VK_SUCCESS;
}

gboolean
heed_recorder_wait (HeedRecorder *rec, GError **error)
{
  HeedDevice *d = rec->device;
  VkResult r;
  if (!rec->pending)
    return TRUE;
  r = heed_device_note_result (d, vkWaitForFences (d->device, 1, &rec->fence, VK_TRUE, UINT64_MAX));
  rec->pending = FALSE;
  HEED_VK_RESULT ("vkWaitForFences", r);

  if (rec->profile && rec->timings->len > 0) {
    guint n = rec->timings->len;
    uint64_t *ts = g_new0 (uint64_t, 2 * n);
    r = vkGetQueryPoolResults (d->device, rec->queries, 0, 2 * n, 2 * n * sizeof (uint64_t), ts,
                               sizeof (uint64_t),
                               VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r == VK_SUCCESS)
      for (guint i = 0; i < n; i++)
        g_array_index (rec->timings, HeedOpTiming, i).ms =
            (double) (ts[2 * i + 1] - ts[2 * i]) * d->timestamp_period_ns * 1e-6;
    g_free (ts);
    HEED_VK_RESULT ("vkGetQueryPoolResults", r);
  }
  return TRUE;
error:
  return FALSE;
}

gboolean
heed_recorder_submit (HeedRecorder *rec, GError **error)
{
  return heed_recorder_submit_async (rec, NULL, 0, VK_NULL_HANDLE, error) &&
         heed_recorder_wait (rec, error);
}
