/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: the safetensors loader (heed_model_load_from_data) on untrusted bytes. Every
 * input must load or fail with a GError; nothing may crash, leak or read out of bounds. */
#include "heed-engine.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
quiet (HeedLogLevel level, const char *message, void *user_data)
{
  /* warnings about odd but loadable files are expected here, millions of times */
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  heed_set_log_func (quiet, NULL);
  return 0;
}

static void
load (const uint8_t *data, size_t size, const char *config, GError **error)
{
  HeedModel *m = heed_model_load_from_data (data, size, config, NULL, "fuzz", error);
  if (m)
    heed_model_destroy (&m);
  else if (!*error || !(*error)->message || !*(*error)->message)
    __builtin_trap (); /* a failure must say why */
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  load (data, size, NULL, &error);
  /* timm's EVA layout is read only beside the config.json that names its architecture: such
   * inputs go in again with EVA-02's (and DINOv3's), so the rotary embedding's and the split
   * layers' checks are reached too */
  if (error && strstr (error->message, "EVA layout")) {
    g_clear_error (&error);
    load (data, size, "{\"architecture\": \"eva02_base_patch14_224\"}", &error);
  }
  /* timm's AIMv2 (fc1_g, fc1_x and no biases, as EVA's are not) beside its config.json */
  if (error && strstr (error->message, "is missing") &&
      memmem (data, size, "patch_embed.norm", 16)) {
    g_clear_error (&error);
    load (data, size, "{\"architecture\": \"aimv2_large_patch14_224\"}", &error);
  }
  /* and timm's DINOv3 (no pos_embed) and RoPE-Mixed only beside the config that names them */
  if (error && strstr (error->message, "position embedding must be")) {
    g_clear_error (&error);
    load (data, size, "{\"architecture\": \"vit_small_patch16_dinov3\"}", &error);
  }
  if (error && strstr (error->message, "RoPE-Mixed's")) {
    g_clear_error (&error);
    load (data, size, "{\"architecture\": \"vit_small_patch16_rope_mixed_224\"}", &error);
  }
  /* attention pooling again as the Perception Encoder's: its rotary embedding and pooling heads */
  if (!error && memmem (data, size, "attn_pool.latent", 16))
    load (data, size, "{\"architecture\": \"vit_pe_core_base_patch16_224\"}", &error);
  /* BLIP's tower (whose 12 default heads a 64-wide seed cannot have) beside a vision_config */
  g_clear_error (&error);
  if (memmem (data, size, "self_attn.qkv", 13))
    load (data, size,
          "{\"model_type\": \"blip\", \"vision_config\": {\"num_attention_heads\": 1, "
          "\"layer_norm_eps\": 1e-5}}",
          &error);
  /* Swin beside a config of the seeds' 16 px (timm's and transformers'), so that its stages,
   * windows and weights are read, not only refused at 224 */
  g_clear_error (&error);
  if (memmem (data, size, "relative_position_bias_table", 28) && memmem (data, size, "layers.", 7))
    load (data, size, "{\"pretrained_cfg\": {\"input_size\": [3, 16, 16]}, \"image_size\": 16}",
          &error);
  /* Swin V2 beside a config with its window (in no tensor) and pretraining windows */
  g_clear_error (&error);
  if (memmem (data, size, "logit_scale", 11) && memmem (data, size, "layers.", 7))
    load (data, size,
          "{\"pretrained_cfg\": {\"input_size\": [3, 16, 16]}, \"image_size\": 16, "
          "\"window_size\": 4, \"pretrained_window_sizes\": [3, 0]}",
          &error);
  /* OpenCLIP's tower again beside an open_clip_config.json: its settings made into timm's */
  g_clear_error (&error);
  if (memmem (data, size, "visual.", 7))
    load (data, size,
          "{\"model_cfg\": {\"quick_gelu\": true, \"vision_cfg\": {\"width\": 64, \"head_width\": "
          "32, \"pool_type\": \"avg\", \"final_ln_after_pool\": true}}, \"preprocess_cfg\": "
          "{\"resize_mode\": \"longest\"}}",
          &error);
  g_clear_error (&error);
  return 0;
}
