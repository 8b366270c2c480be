/* Records a sequence of compute dispatches once, with a barrier after each, and submits it
 * any number of times. With profiling, a timestamp pair brackets every dispatch. */
#include "heed-private.h"

HeedRecorder *
heed_recorder_new (HeedDevice *d, guint max_dispatches, gboolean profile, GError **error)
{
  HeedRecorder *rec = g_new0 (HeedRecorder, 1);
  rec->device = d;
  rec->max_dispatches = max_dispatches;
  rec->profile = profile && d->has_timestamps;
  rec->timings = g_array_new (FALSE, TRUE, sizeof (HeedOpTiming));
  rec->names = g_ptr_array_new_with_free_func (g_free);
  if (profile && !d->has_timestamps)
    heed_log (HEED_LOG_WARNING, "%s has no compute timestamps: no per-op timings",
              d->props.deviceName);

  VkDescriptorPoolSize size = { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, max_dispatches * 8 };
  VkDescriptorPoolCreateInfo pool_info = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
    .maxSets = max_dispatches,
    .poolSizeCount = 1,
    .pPoolSizes = &size,
  };
  HEED_VK (vkCreateDescriptorPool, (d->device, &pool_info, NULL, &rec->pool));

  if (!(rec->cmd = heed_device_alloc_command_buffer (d, error)))
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
  if (rec->fence) {
    vkDestroyFence (dev, rec->fence, NULL);
  }
  if (rec->queries)
    vkDestroyQueryPool (dev, rec->queries, NULL);
  heed_device_free_command_buffer (rec->device, &rec->cmd);
  if (rec->pool)
    vkDestroyDescriptorPool (dev, rec->pool, NULL);
  g_array_unref (rec->timings);
  g_ptr_array_unref (rec->names);
  g_free (rec);
  *recorder = NULL;
}

gboolean
heed_recorder_dispatch (HeedRecorder *rec, HeedShaderId shader, guint specialization,
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
  p = heed_device_get_pipeline (d, shader, specialization, error);
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
    infos[i] = (VkDescriptorBufferInfo){ bindings[i]->buffer, 0, VK_WHOLE_SIZE };
    writes[i] = (VkWriteDescriptorSet){
      .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
      .dstSet = set,
      .dstBinding = i,
      .descriptorCount = 1,
      .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
      .pBufferInfo = &infos[i],
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
  VkMemoryBarrier barrier = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
    .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT,
  };
  vkCmdPipelineBarrier (rec->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                        VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &barrier, 0, NULL, 0, NULL);

  char *owned_name = g_strdup (name);
  g_ptr_array_add (rec->names, owned_name);
  HeedOpTiming t = { owned_name, kind, flops, 0.0 };
  g_array_append_val (rec->timings, t);
  return TRUE;
error:
  return FALSE;
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
heed_recorder_submit (HeedRecorder *rec, GError **error)
{
  return heed_recorder_submit_after (rec, VK_NULL_HANDLE, error);
}

gboolean
heed_recorder_submit_after (HeedRecorder *rec, VkCommandBuffer first, GError **error)
{
  return heed_recorder_submit_between (rec, first, VK_NULL_HANDLE, error);
}

gboolean
heed_recorder_submit_between (HeedRecorder *rec, VkCommandBuffer first, VkCommandBuffer last,
                              GError **error)
{
  HeedDevice *d = rec->device;
  VkCommandBuffer cmds[3];
  guint n_cmds = 0;
  if (first)
    cmds[n_cmds++] = first;
  cmds[n_cmds++] = rec->cmd;
  if (last)
    cmds[n_cmds++] = last;
  VkSubmitInfo si = {
    .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
    .commandBufferCount = n_cmds,
    .pCommandBuffers = cmds,
  };
  VkResult r;

  HEED_VK (vkResetFences, (d->device, 1, &rec->fence));
  heed_device_lock_queue (d);
  r = vkQueueSubmit (d->queue, 1, &si, rec->fence);
  heed_device_unlock_queue (d);
  HEED_VK_RESULT ("vkQueueSubmit", r);
  HEED_VK (vkWaitForFences, (d->device, 1, &rec->fence, VK_TRUE, UINT64_MAX));

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
