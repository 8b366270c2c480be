/* The SPIR-V of every compute shader, compiled by glslc at build time, and the pipelines built
 * from it once per device and specialization. */
#include "heed-private.h"

static const uint32_t gemm_spv[] =
#include "gemm.spv.h"
    ;
static const uint32_t gemm_k4_spv[] =
#include "gemm_k4.spv.h"
    ;
static const uint32_t gemm_k4_sg8_spv[] =
#include "gemm_k4_sg8.spv.h"
    ;
static const uint32_t layernorm_spv[] =
#include "layernorm.spv.h"
    ;
static const uint32_t layernorm_sg_spv[] =
#include "layernorm_sg.spv.h"
    ;
static const uint32_t softmax_sg_spv[] =
#include "softmax_sg.spv.h"
    ;
static const uint32_t k_transpose_spv[] =
#include "k_transpose.spv.h"
    ;
static const uint32_t preprocess_spv[] =
#include "preprocess.spv.h"
    ;
static const uint32_t softmax_spv[] =
#include "softmax.spv.h"
    ;
static const uint32_t patchify_spv[] =
#include "patchify.spv.h"
    ;
static const uint32_t tokens_init_spv[] =
#include "tokens_init.spv.h"
    ;
static const uint32_t qkv_split_spv[] =
#include "qkv_split.spv.h"
    ;
static const uint32_t composite_spv[] =
#include "composite.spv.h"
    ;
static const uint32_t head_mean_spv[] =
#include "head_mean.spv.h"
    ;

#define SHADER(id, var, bindings, push)                                                            \
  [id] = { #var, var##_spv, sizeof (var##_spv), bindings, push }

static const HeedShaderInfo shaders[HEED_SHADER_COUNT] = {
  SHADER (HEED_SHADER_GEMM, gemm, 4, 13 * 4),
  SHADER (HEED_SHADER_GEMM_K4, gemm_k4, 4, 13 * 4),
  SHADER (HEED_SHADER_GEMM_K4_SG8, gemm_k4_sg8, 4, 13 * 4),
  SHADER (HEED_SHADER_LAYERNORM, layernorm, 4, 8 * 4),
  SHADER (HEED_SHADER_LAYERNORM_SG, layernorm_sg, 4, 8 * 4),
  SHADER (HEED_SHADER_SOFTMAX, softmax, 1, 6 * 4),
  SHADER (HEED_SHADER_SOFTMAX_SG, softmax_sg, 1, 6 * 4),
  SHADER (HEED_SHADER_K_TRANSPOSE, k_transpose, 2, 3 * 4),
  SHADER (HEED_SHADER_PATCHIFY, patchify, 2, 6 * 4),
  SHADER (HEED_SHADER_TOKENS_INIT, tokens_init, 3, 2 * 4),
  SHADER (HEED_SHADER_QKV_SPLIT, qkv_split, 4, 7 * 4),
  SHADER (HEED_SHADER_HEAD_MEAN, head_mean, 2, 7 * 4),
  SHADER (HEED_SHADER_PREPROCESS, preprocess, 3, 18 * 4),
  SHADER (HEED_SHADER_COMPOSITE, composite, 5, 12 * 4),
};

const HeedShaderInfo *
heed_shader_info (HeedShaderId id)
{
  return &shaders[id];
}

/* Specialization constant 0 is the workgroup size, 1 the shader's variant flags. */
HeedPipeline *
heed_device_get_pipeline (HeedDevice *d, HeedShaderId id, guint specialization, GError **error)
{
  const HeedShaderInfo *s = &shaders[id];
  gpointer key = GUINT_TO_POINTER ((guint) id | specialization << 8);
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
  p->local_size = id <= HEED_SHADER_GEMM_K4_SG8 ? d->gemm_lanes : d->small_lanes;

  VkDescriptorSetLayoutBinding bindings[8];
  for (guint i = 0; i < s->n_bindings; i++)
    bindings[i] = (VkDescriptorSetLayoutBinding){
      .binding = i,
      .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
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
