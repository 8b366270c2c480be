/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Compute pipelines, built once per device, shader, workgroup size and specialization from the
 * SPIR-V that glslc compiled at build time (the table is generated from shaders/registry.txt
 * into heed-shader-registry.c). */
#include "heed-private.h"

VkDescriptorType
heed_shader_binding_type (const HeedShaderInfo *s, guint binding)
{
  if ((s->texel_bindings | s->uint_texel_bindings) & (1u << binding))
    return VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
  if (s->uniform_bindings & (1u << binding))
    return VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER;
  return VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
}

/* Specialization constant 0 is the workgroup size, 1 the shader's variant flags. */
HeedPipeline *
heed_device_get_pipeline (HeedDevice *d, HeedShaderId id, guint local_size, guint specialization,
                          GError **error)
{
  const HeedShaderInfo *s = &heed_shaders[id];
  g_return_val_if_fail (
      id < HEED_SHADER_COUNT && specialization < 256 && local_size > 0 && local_size < 65536, NULL);
  gpointer key = GUINT_TO_POINTER ((guint) id | specialization << 8 | local_size << 16);
  VkShaderModule module = VK_NULL_HANDLE;
  HeedPipeline *p;

  g_mutex_lock (&d->pipeline_mutex);
  p = g_hash_table_lookup (d->pipelines, key);
  if (p) {
    g_mutex_unlock (&d->pipeline_mutex);
    return p;
  }
  p = g_new0 (HeedPipeline, 1);
  p->shader = s;
  p->local_size = local_size;

  VkDescriptorSetLayoutBinding bindings[8];
  for (guint i = 0; i < s->n_bindings; i++)
    bindings[i] = (VkDescriptorSetLayoutBinding){
      .binding = i,
      .descriptorType = heed_shader_binding_type (s, i),
      .descriptorCount = 1,
      .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
    };
  VkDescriptorSetLayoutCreateInfo set_info = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
    .bindingCount = s->n_bindings,
    .pBindings = bindings,
  };
  HEED_VK (vkCreateDescriptorSetLayout, (d->device, &set_info, NULL, &p->set_layout));

  VkPushConstantRange range = { VK_SHADER_STAGE_COMPUTE_BIT, 0, s->push_size };
  VkPipelineLayoutCreateInfo layout_info = {
    .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
    .setLayoutCount = 1,
    .pSetLayouts = &p->set_layout,
    .pushConstantRangeCount = 1,
    .pPushConstantRanges = &range,
  };
  HEED_VK (vkCreatePipelineLayout, (d->device, &layout_info, NULL, &p->layout));

  VkShaderModuleCreateInfo module_info = {
    .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
    .codeSize = s->size,
    .pCode = s->code,
  };
  HEED_VK (vkCreateShaderModule, (d->device, &module_info, NULL, &module));

  uint32_t spec_data[2] = { p->local_size, specialization };
  VkSpecializationMapEntry entries[2] = { { 0, 0, 4 }, { 1, 4, 4 } };
  VkSpecializationInfo spec = { 2, entries, sizeof spec_data, spec_data };
  VkComputePipelineCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
    .stage = {
      .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
      .stage = VK_SHADER_STAGE_COMPUTE_BIT,
      .module = module,
      .pName = "main",
      .pSpecializationInfo = &spec,
    },
    .layout = p->layout,
  };
  HEED_VK (vkCreateComputePipelines, (d->device, VK_NULL_HANDLE, 1, &info, NULL, &p->pipeline));
  vkDestroyShaderModule (d->device, module, NULL);
  g_hash_table_insert (d->pipelines, key, p);
  g_mutex_unlock (&d->pipeline_mutex);
  return p;

error:
  if (module)
    vkDestroyShaderModule (d->device, module, NULL);
  if (p->layout)
    vkDestroyPipelineLayout (d->device, p->layout, NULL);
  if (p->set_layout)
    vkDestroyDescriptorSetLayout (d->device, p->set_layout, NULL);
  g_free (p);
  g_mutex_unlock (&d->pipeline_mutex);
  return NULL;
}
