/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The safetensors loader: every fixture's configuration, and corrupt files that must give a
 * HEED_ERROR_MODEL naming the problem (never a crash; run under valgrind by .ci/run). */
#include "test-common.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <glib/gstdio.h>

static char *fixtures;

static char *
fixture_path (const char *name, const char *file)
{
  return g_build_filename (fixtures, name, file, NULL);
}

static HeedModel *
load_fixture (const char *name)
{
  GError *error = NULL;
  char *path = g_build_filename (fixtures, name, NULL); /* its folder: the weights it holds */
  HeedModel *m = heed_model_load (path, &error);
  g_assert_no_error (error);
  g_free (path);
  return m;
}

/* A BEiT fixture of 64 px (17 tokens) with a table a block, set to `size` (`tokens` tokens)
 * and back: the same biases as before */
static void
assert_bias_size_round_trip (HeedModel *m, guint size, guint tokens)
{
  GError *error = NULL;
  gsize bytes = (gsize) m->config.num_heads * 17 * 17 * sizeof (float);
  g_assert_cmpuint (m->rel_table_count, ==, m->config.depth);
  float *own = g_memdup2 (m->blocks[1].attn_bias, bytes);
  g_assert_true (heed_model_set_input_size (m, size, &error));
  g_assert_cmpuint (m->config.tokens, ==, tokens);
  g_assert_true (heed_model_set_input_size (m, 64, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (m->blocks[1].attn_bias, bytes, own, bytes);
  g_free (own);
}

static void
test_fixture_configs (void)
{
  HeedModel *m = load_fixture ("deit_tiny_f16");
  HeedModelConfig *c = &m->config;
  /* no num_heads anywhere: dim/64 */
  g_assert_cmpuint (c->num_heads, ==, 3);
  g_assert_cmpuint (c->img_size, ==, 224);
  g_assert_cmpuint (c->patch_size, ==, 16);
  g_assert_cmpuint (c->tokens, ==, 197);
  g_assert_cmpuint (c->depth, ==, 12);
  g_assert_cmpuint (c->mlp_hidden, ==, 768);
  g_assert_cmpuint (c->num_classes, ==, 1000);
  g_assert_null (c->labels);
  g_assert_cmpfloat (c->ln_eps, ==, 1e-6f);
  g_assert_cmpfloat (c->mean[0], ==, 0.485f);
  heed_model_destroy (&m);
  g_assert_null (m);

  m = load_fixture ("p8_hd48_f32"); /* num_heads and labels in __metadata__ */
  g_assert_cmpuint (m->config.num_heads, ==, 2);
  g_assert_cmpuint (m->config.head_dim, ==, 48);
  g_assert_cmpuint (m->config.patch_size, ==, 8);
  g_assert_cmpuint (g_strv_length (m->config.labels), ==, 10);
  g_assert_cmpstr (m->config.labels[3], ==, "class 3 of p8_hd48_f32");
  heed_model_destroy (&m);

  m = load_fixture ("p14_hd32_bf16"); /* num_heads from config.json beside the file */
  g_assert_cmpuint (m->config.num_heads, ==, 4);
  g_assert_cmpuint (m->config.patch_size, ==, 14);
  g_assert_cmpuint (m->config.num_classes, ==, 37);
  heed_model_destroy (&m);

  m = load_fixture ("headless_f32");
  g_assert_cmpuint (m->config.num_classes, ==, 0);
  g_assert_null (m->head_w);
  g_assert_cmpuint (m->config.num_heads, ==, 1);
  for (guint i = 0; i < 3 * 64; i++) /* no qkv bias in the file: zeros */
    g_assert_cmpfloat (m->blocks[0].qkv_b[i], ==, 0.0f);
  heed_model_destroy (&m);

  m = load_fixture ("hf_vit_f32"); /* Hugging Face names, config.json */
  g_assert_cmpuint (m->config.num_heads, ==, 5);
  g_assert_cmpfloat (m->config.ln_eps, ==, 1e-12f);
  g_assert_cmpuint (m->config.num_classes, ==, 5);
  g_assert_cmpstr (m->config.labels[4], ==, "class 4 of hf_vit_f32");
  heed_model_destroy (&m);

  /* transformers' DeiTForImageClassificationWithTeacher: "deit." names, the distillation token
   * after the class token, its classifier averaged with the class token's */
  m = load_fixture ("hf_deit_distilled_f32");
  g_assert_cmpuint (m->config.num_prefix, ==, 2);
  g_assert_cmpuint (m->config.tokens, ==, 2 + 9);
  g_assert_true (m->config.distilled);
  g_assert_nonnull (m->head_dist_w);
  g_assert_cmpuint (m->config.num_classes, ==, 7);
  g_assert_cmpstr (m->config.labels[6], ==, "class 6 of hf_deit_distilled_f32");
  heed_model_destroy (&m);

  /* transformers' Dinov2Model: a 70 px checkpoint loaded at its processor's 56 px crop, as
   * transformers runs it (a 4 x 4 grid); another size resamples from the checkpoint's own 5 x 5
   * positions, so going back to 70 px gives them back exactly */
  m = load_fixture ("hf_dinov2_f32");
  g_assert_cmpuint (m->config.img_size, ==, 56);
  g_assert_cmpuint (m->config.tokens, ==, 1 + 16);
  g_assert_cmpuint (m->config.num_heads, ==, 3);
  g_assert_cmpuint (m->config.num_classes, ==, 0);
  g_assert_cmpfloat (m->config.ln_eps, ==, 1e-6f);
  g_assert_cmpfloat (m->config.crop_fraction, ==, 56.0f / 64.0f);
  g_assert_true (m->pos_resample_plain_bicubic);
  GError *error = NULL;
  g_assert_true (heed_model_set_input_size (m, 70, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (m->config.tokens, ==, 1 + 25);
  g_assert_cmpmem (m->pos_embed, 26 * 96 * sizeof (float), m->pos_native, 26 * 96 * sizeof (float));
  heed_model_destroy (&m);

  /* transformers' Dinov2ForImageClassification: its [classes][2 D] classifier split into the
   * class token's columns and the mean patch token's */
  m = load_fixture ("hf_dinov2_cls_f32");
  g_assert_true (m->config.patch_mean_head);
  g_assert_cmpuint (m->config.num_classes, ==, 5);
  g_assert_nonnull (m->head_mean_w);
  g_assert_cmpstr (m->config.labels[4], ==, "class 4 of hf_dinov2_cls_f32");
  heed_model_destroy (&m);

  /* transformers' Dinov2WithRegisters: four registers after the class token, with no position
   * (zero rows) where the class token and the patches have theirs */
  m = load_fixture ("hf_dinov2_reg_f32");
  g_assert_cmpuint (m->config.num_prefix, ==, 5);
  g_assert_cmpuint (m->config.tokens, ==, 5 + 16);
  for (guint i = 96; i < 5 * 96; i++)
    g_assert_cmpfloat (m->pos_embed[i], ==, 0.0f);
  heed_model_destroy (&m);
  /* timm's average pooling after the final norm (fc_norm=False): without a class token
   * without a word, with one where config.json's global_pool says "avg" */
  m = load_fixture ("vit_gap_norm_f32");
  g_assert_true (m->config.avg_pool && m->config.pool_after_norm);
  g_assert_cmpuint (m->config.num_prefix, ==, 1); /* the register */
  heed_model_destroy (&m);
  m = load_fixture ("vit_cls_gap_norm_f32");
  g_assert_true (m->config.avg_pool && m->config.pool_after_norm);
  char *what = heed_model_describe (&m->config); /* what classify -v and the element say */
  g_assert_nonnull (strstr (what, "3 classes; class token; pooling: mean token after the final"));
  g_free (what);
  heed_model_destroy (&m);
  /* transformers' SiglipModel: no class token, a patch bias, its head. as attention pooling,
   * GELU's tanh approximation and eps 1e-6 from the vision_config; SiglipForImageClassification:
   * the mean of every normed token, id2label beside the vision_config */
  /* transformers' CLIPForImageClassification: the mean patch token, no norm, id2label beside
   * the vision_config */
  m = load_fixture ("hf_clip_cls_f32");
  g_assert_true (m->config.avg_pool && m->config.pool_without_norm && !m->config.pool_after_norm);
  g_assert_cmpuint (m->config.num_prefix, ==, 1);
  g_assert_cmpstr (m->config.labels[4], ==, "class 4 of hf_clip_cls_f32");
  heed_model_destroy (&m);
  m = load_fixture ("clip_quickgelu_f32"); /* timm's CLIP: eps 1e-5 by its architecture */
  g_assert_cmpfloat (m->config.ln_eps, ==, 1e-5f);
  g_assert_true (m->config.quick_gelu);
  heed_model_destroy (&m);
  m = load_fixture ("hf_siglip_f32");
  g_assert_true (m->config.map_pool && m->config.gelu_tanh && !m->config.quick_gelu);
  g_assert_cmpuint (m->config.num_prefix, ==, 0);
  g_assert_cmpuint (m->config.tokens, ==, 16);
  g_assert_cmpfloat (m->config.ln_eps, ==, 1e-6f);
  g_assert_null (m->norm_pre_w);
  g_assert_cmpfloat (m->patch_b[0], !=, 0.0f);
  heed_model_destroy (&m);
  m = load_fixture ("hf_siglip_cls_f32");
  g_assert_true (m->config.avg_pool && m->config.pool_after_norm && !m->config.map_pool);
  g_assert_cmpuint (m->config.num_classes, ==, 5);
  g_assert_cmpstr (m->config.labels[4], ==, "class 4 of hf_siglip_cls_f32");
  heed_model_destroy (&m);
  /* timm's attention pooling: the pool as one more block, its query's projection the query
   * bias of a qkv whose query rows are zero */
  m = load_fixture ("vit_map_f32");
  g_assert_true (m->config.map_pool && !m->config.avg_pool);
  what = heed_model_describe (&m->config);
  g_assert_nonnull (strstr (what, "no class token, 1 register; pooling: attention"));
  g_assert_nonnull (strstr (what, "activation: GELU (tanh approximation)"));
  g_free (what);
  g_assert_nonnull (m->map_head);
  for (guint i = 0; i < 64 * 64; i++)
    g_assert_cmpfloat (m->map_head->qkv_w[i], ==, 0.0f);
  g_assert_cmpmem (m->map_head->norm1_w, 64 * sizeof (float), m->norm_w, 64 * sizeof (float));
  heed_model_destroy (&m);
  m = load_fixture ("vit_gap_f32"); /* fc_norm: the mean first */
  g_assert_true (m->config.avg_pool && !m->config.pool_after_norm);
  heed_model_destroy (&m);
  /* facebookresearch/dinov2's own layout (timm's names, register_tokens): the same placement */
  m = load_fixture ("dinov2_repo_reg_f32");
  g_assert_cmpuint (m->config.num_prefix, ==, 5);
  g_assert_cmpuint (m->config.tokens, ==, 5 + 16);
  for (guint i = 96; i < 5 * 96; i++)
    g_assert_cmpfloat (m->pos_embed[i], ==, 0.0f);
  heed_model_destroy (&m);

  /* BEiT: no num_heads anywhere, so its tables' columns give 2 (dim / 64 would give 1); no
   * pos_embed, so zeros; each block's bias looked up from its table of 7 x 7 + 3 rows: the
   * class token to itself row 51, a patch to the class token row 50, patch 0's query to patch
   * 1 (one column to its right) row 3 x 7 + 2 */
  m = load_fixture ("beit_f32");
  g_assert_true (m->config.rel_pos_bias && m->config.avg_pool);
  g_assert_cmpuint (m->config.num_heads, ==, 2);
  g_assert_cmpuint (m->config.tokens, ==, 17);
  for (guint i = 0; i < 17 * 64; i++)
    g_assert_cmpfloat (m->pos_embed[i], ==, 0.0f);
  g_assert_nonnull (m->blocks[1].attn_bias);
  what = heed_model_describe (&m->config);
  g_assert_nonnull (strstr (what, "class token; relative position bias; pooling: mean patch"));
  g_free (what);
  {
    char *path = fixture_path ("beit_f32", "model.safetensors"), *bytes;
    gsize size;
    g_assert_true (g_file_get_contents (path, &bytes, &size, NULL));
    guint64 hlen;
    memcpy (&hlen, bytes, 8);
    JsonParser *p = json_parser_new ();
    g_assert_true (json_parser_load_from_data (p, (char *) bytes + 8, (gssize) hlen, NULL));
    JsonObject *t = json_object_get_object_member (json_node_get_object (json_parser_get_root (p)),
                                                   "blocks.1.attn.relative_position_bias_table");
    gint64 at = json_array_get_int_element (json_object_get_array_member (t, "data_offsets"), 0);
    const float *table = (const float *) (bytes + 8 + hlen + at);
    for (guint h = 0; h < 2; h++) {
      g_assert_cmpfloat (m->blocks[1].attn_bias[h * 17 * 17], ==, table[51 * 2 + h]);
      g_assert_cmpfloat (m->blocks[1].attn_bias[h * 17 * 17 + 1 * 17 + 2], ==,
                         table[(3 * 7 + 2) * 2 + h]);
      g_assert_cmpfloat (m->blocks[1].attn_bias[h * 17 * 17 + 5 * 17], ==, table[50 * 2 + h]);
    }
    g_object_unref (p);
    g_free (bytes), g_free (path);
  }
  /* its tables kept, one a block, resampled at another size as timm's checkpoint filter does
   * (against PyTorch in tests/test_input_size.py); the same size again gives the same biases */
  g_assert_true (m->rel_tables_timm);
  assert_bias_size_round_trip (m, 80, 26);
  heed_model_destroy (&m);
  /* transformers' BEiT: the pooler's norm after the mean patch token; Data2VecVision's shared
   * table, a position embedding beside it, the class token after the final norm */
  m = load_fixture ("hf_beit_f32");
  g_assert_true (m->config.rel_pos_bias && m->config.avg_pool && !m->config.pool_after_norm);
  g_assert_cmpfloat (m->config.ln_eps, ==, 1e-12f);
  g_assert_cmpstr (m->config.labels[4], ==, "class 4 of hf_beit_f32");
  /* its tables kept, one a block: another size resamples them as transformers does (against
   * PyTorch in tests/test_input_size.py); the same size again gives the same biases back */
  g_assert_false (m->rel_tables_timm);
  assert_bias_size_round_trip (m, 96, 37);
  heed_model_destroy (&m);
  m = load_fixture ("hf_data2vec_f32");
  g_assert_true (m->config.rel_pos_bias && !m->config.avg_pool);
  g_assert_cmpuint (m->config.num_heads, ==, 4);
  g_assert_cmpmem (m->blocks[0].attn_bias, 4 * 10 * 10 * 4, m->blocks[1].attn_bias,
                   4 * 10 * 10 * 4);
  g_assert_cmpfloat (m->pos_embed[17], !=, 0.0f);
  heed_model_destroy (&m);

  /* DINOv2 giant's SwiGLU MLP: fc1 twice as wide as the hidden width fc2 reads, in timm's
   * packing (told by the architecture), transformers' (weights_in, or gate_proj and up_proj)
   * and facebookresearch/dinov2's names */
  const char *swiglu_names[] = { "dinov2_swiglu_f32", "hf_dinov2_swiglu_f32",
                                 "hf_dinov2_swiglu_split_f32", "dinov2_repo_swiglu_f32" };
  for (guint i = 0; i < G_N_ELEMENTS (swiglu_names); i++) {
    m = load_fixture (swiglu_names[i]);
    g_assert_true (m->config.swiglu);
    g_assert_cmpuint (m->config.mlp_hidden, ==, 40);
    what = heed_model_describe (&m->config);
    g_assert_nonnull (strstr (what, "activation: SwiGLU (a SiLU gate)"));
    g_free (what);
    heed_model_destroy (&m);
  }

  /* timm's EVA-02: the rotary position embedding told by the architecture (learnt at 16 x 16);
   * Tiny's fused qkv with q_bias and v_bias and its packed SwiGLU; Base's projections apart
   * (the key's bias zero), fc1_g and fc1_x stacked as the gate's rows then the value's, and
   * its MLP norm over the hidden layer */
  m = load_fixture ("eva02_tiny_f32");
  g_assert_true (m->config.rope && m->config.swiglu && m->config.avg_pool);
  g_assert_false (m->config.mlp_norm);
  g_assert_cmpuint (m->config.rope_ref_grid, ==, 16);
  g_assert_cmpuint (m->config.mlp_hidden, ==, 40);
  what = heed_model_describe (&m->config);
  g_assert_nonnull (strstr (what, "rotary position embedding (learnt at 16 x 16)"));
  g_free (what);
  /* at another size the angles follow the new grid: 7 x 7 patches at 98 px */
  g_assert_true (heed_model_set_input_size (m, 98, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (m->config.grid, ==, 7);
  heed_model_destroy (&m);
  m = load_fixture ("eva02_base_f32");
  g_assert_true (m->config.rope && m->config.swiglu && m->config.mlp_norm);
  g_assert_cmpuint (m->config.mlp_hidden, ==, 48);
  for (guint i = 96; i < 2 * 96; i++)
    g_assert_cmpfloat (m->blocks[0].qkv_b[i], ==, 0.0f);
  g_assert_nonnull (m->blocks[1].mlp_norm_b);
  what = heed_model_describe (&m->config);
  g_assert_nonnull (strstr (what, "activation: SwiGLU (a SiLU gate), then a LayerNorm"));
  g_free (what);
  heed_model_destroy (&m);

  /* timm's other "cat" rotary embeddings: RoPE-ViT's axial one (base 100, the column's pairs
   * first, plain indices) and the SBB ViTs' (EVA-02's: learnt at 16 x 16), each told by its
   * architecture; neither has a pos_embed, the SBB ViT no class token but a register; and
   * RoPE-Mixed's learnt frequencies (rope.freqs) */
  m = load_fixture ("rope_axial_f32");
  g_assert_true (m->config.rope && m->config.rope_columns_first && !m->config.rope_dinov3);
  g_assert_cmpfloat (m->config.rope_base, ==, 100.0f);
  g_assert_cmpuint (m->config.rope_ref_grid, ==, 0);
  g_assert_cmpuint (m->config.grid, ==, 5);
  what = heed_model_describe (&m->config);
  g_assert_nonnull (strstr (what, "rotary position embedding (base 100, columns first)"));
  g_free (what);
  heed_model_destroy (&m);
  m = load_fixture ("rope_mixed_f32");
  g_assert_true (m->config.rope && m->config.rope_mixed && m->config.rope_columns_first);
  g_assert_nonnull (m->rope_freqs);
  what = heed_model_describe (&m->config);
  g_assert_nonnull (strstr (what, "RoPE-Mixed's rotary position embedding (learnt frequencies)"));
  g_free (what);
  heed_model_destroy (&m);
  /* the Perception Encoder's core models, told by the architecture: EVA-02's kind column first,
   * positions from 1 in units of the checkpoint's own grid, LayerNorm eps 1e-5, and attention
   * pooling in 8 heads where the blocks have 2 */
  m = load_fixture ("pe_core_f32");
  g_assert_true (m->config.rope && m->config.rope_columns_first && m->config.map_pool);
  g_assert_cmpfloat (m->config.rope_grid_offset, ==, 1.0f);
  g_assert_cmpuint (m->config.rope_ref_grid, ==, 4);
  g_assert_cmpuint (m->config.num_heads, ==, 2);
  g_assert_cmpuint (m->config.pool_heads, ==, 8);
  g_assert_cmpuint (heed_attention_map_heads (&m->config), ==, 8);
  g_assert_cmpfloat (m->config.ln_eps, ==, 1e-5f);
  g_assert_nonnull (m->norm_pre_w);
  what = heed_model_describe (&m->config);
  g_assert_nonnull (strstr (what, "attention pooling in 8 heads; rotary positions from 1"));
  g_free (what);
  heed_model_destroy (&m);
  /* its spatial models: no final norm and no fc_norm, the mean patch token as it is (the pooling
   * told by the architecture), LayerScale as gamma_1/gamma_2 */
  m = load_fixture ("pe_spatial_f32");
  g_assert_true (m->config.rope && m->config.rope_columns_first);
  g_assert_true (m->config.avg_pool && m->config.pool_without_norm && !m->config.pool_after_norm);
  g_assert_cmpfloat (m->config.rope_grid_offset, ==, 1.0f);
  g_assert_cmpuint (m->config.rope_ref_grid, ==, 4);
  g_assert_cmpfloat (m->config.ln_eps, ==, 1e-5f);
  g_assert_cmpuint (m->config.num_classes, ==, 0);
  heed_model_destroy (&m);
  /* OpenCLIP's own tower: 2 heads from head_width 32 (dim / 64 would give 1), QuickGELU from
   * model_cfg.quick_gelu, LayerNorm's 1e-5, ln_pre, the projection as the head; its
   * preprocess_cfg's mean/std, open_clip's default resize (the shorter side, a crop, bicubic) */
  m = load_fixture ("open_clip_f32");
  g_assert_cmpuint (m->config.num_heads, ==, 2);
  g_assert_true (m->config.quick_gelu && !m->config.avg_pool && !m->config.map_pool);
  g_assert_cmpfloat (m->config.ln_eps, ==, 1e-5f);
  g_assert_nonnull (m->norm_pre_w);
  g_assert_cmpuint (m->config.num_classes, ==, 16);
  g_assert_cmpint (m->config.resize, ==, HEED_RESIZE_CROP);
  g_assert_cmpint (m->config.interpolation, ==, HEED_INTERPOLATION_BICUBIC);
  g_assert_cmpfloat (m->config.mean[0], ==, 0.48145466f);
  g_assert_nonnull (strstr (m->config.preprocess_source,
                            "mean/std from open_clip_config.json preprocess_cfg; crop from "
                            "OpenCLIP's defaults"));
  heed_model_destroy (&m);
  /* pool_type "avg" with final_ln_after_pool: ln_post norms the mean patch token (timm's
   * fc_norm); three 32-wide heads; GELU; "shortest": a centre crop; from a PyTorch pickle */
  m = load_fixture ("open_clip_avg_f32");
  g_assert_cmpuint (m->config.num_heads, ==, 3);
  g_assert_true (m->config.avg_pool && !m->config.pool_after_norm && !m->config.quick_gelu);
  g_assert_cmpint (m->config.resize, ==, HEED_RESIZE_CROP);
  g_assert_cmpfloat (m->config.crop_fraction, ==, 1.0f);
  g_assert_cmpint (m->config.interpolation, ==, HEED_INTERPOLATION_BILINEAR);
  heed_model_destroy (&m);
  /* a timm tower under visual.trunk.: what vision_cfg.timm_model_name says (16 heads and GELU's
   * tanh approximation for vit_so400m_patch16_siglip_*), timm's eps 1e-6, the projection */
  m = load_fixture ("open_clip_trunk_f32");
  g_assert_cmpuint (m->config.num_heads, ==, 16);
  g_assert_true (m->config.gelu_tanh && m->config.map_pool);
  g_assert_cmpuint (m->config.num_prefix, ==, 0);
  g_assert_cmpfloat (m->config.ln_eps, ==, 1e-6f);
  g_assert_cmpuint (m->config.num_classes, ==, 16);
  heed_model_destroy (&m);
  /* transformers' I-JEPA: no class token (position_embeddings over the patches alone), the
   * classifier on the mean of every token after layernorm */
  m = load_fixture ("hf_ijepa_f32");
  g_assert_cmpuint (m->config.num_prefix, ==, 0);
  g_assert_true (m->config.avg_pool && m->config.pool_after_norm);
  g_assert_cmpuint (m->config.num_classes, ==, 5);
  g_assert_cmpstr (m->config.labels[0], ==, "class 0 of hf_ijepa_f32");
  heed_model_destroy (&m);
  /* timm's AIMv2 (aimv2_*): RMSNorm with eps 1e-5 everywhere and on the patch embedding, 8
   * heads from the architecture's name alone, no class token, every normed token's mean,
   * SwiGLU's gate and value apart; the file has no biases but the patch embedding's (zeros) */
  m = load_fixture ("timm_aimv2_f32");
  g_assert_true (m->config.rms_norm && m->config.swiglu && m->config.avg_pool &&
                 m->config.pool_after_norm);
  g_assert_cmpuint (m->config.num_heads, ==, 8);
  g_assert_cmpuint (m->config.num_prefix, ==, 0);
  g_assert_cmpuint (m->config.mlp_hidden, ==, 176);
  g_assert_cmpfloat (m->config.ln_eps, ==, 1e-5f);
  g_assert_nonnull (m->patch_norm_w);
  g_assert_cmpfloat (m->blocks[1].proj_b[5], ==, 0.0f);
  g_assert_cmpfloat (m->norm_b[3], ==, 0.0f);
  g_assert_cmpfloat (m->patch_b[0], !=, 0.0f);
  heed_model_destroy (&m);
  /* Apple's own names, and transformers' Aimv2Model (its vision_config; the text tower beside
   * it unread): the heads from config.json, and CLIPImageProcessor's preprocessing */
  m = load_fixture ("aimv2_apple_f32");
  g_assert_true (m->config.rms_norm && m->config.swiglu && m->patch_norm_w);
  g_assert_cmpuint (m->config.num_heads, ==, 4);
  g_assert_cmpint (m->config.resize, ==, HEED_RESIZE_CROP);
  g_assert_cmpint (m->config.interpolation, ==, HEED_INTERPOLATION_BICUBIC);
  g_assert_cmpfloat (m->config.mean[0], ==, 0.48145466f);
  heed_model_destroy (&m);
  m = load_fixture ("hf_aimv2_f32");
  g_assert_true (m->config.rms_norm && m->config.swiglu && m->patch_norm_w);
  g_assert_cmpuint (m->config.num_heads, ==, 2);
  g_assert_cmpuint (m->config.num_classes, ==, 0);
  g_assert_cmpfloat (m->config.ln_eps, ==, 1e-5f);
  heed_model_destroy (&m);
  /* timm's InternViT-300M port: the class token with no final norm, as its architecture says
   * (final_norm=False); heads dim / 64 */
  m = load_fixture ("vit_intern_f32");
  g_assert_true (m->config.pool_without_norm && !m->config.avg_pool);
  g_assert_cmpuint (m->config.num_prefix, ==, 1);
  g_assert_cmpuint (m->config.num_heads, ==, 2);
  g_assert_null (m->norm_w);
  heed_model_destroy (&m);
  /* transformers' BLIP and BLIP-2 image towers (vision_model., beside a text decoder or a
   * Q-Former and language model): vision_config's heads where it gives them, else the config
   * class's (BLIP-2's 16, not dim / 64), and its eps (1e-5 and 1e-6 by default); the class
   * token through post_layernorm; BlipImageProcessor's squash to 64 x 64, bicubic */
  m = load_fixture ("hf_blip_f32");
  g_assert_cmpuint (m->config.num_heads, ==, 4);
  g_assert_cmpfloat (m->config.ln_eps, ==, 1e-5f);
  g_assert_cmpuint (m->config.num_prefix, ==, 1);
  g_assert_cmpuint (m->config.num_classes, ==, 0);
  g_assert_true (!m->config.avg_pool && !m->config.pool_without_norm && m->norm_w);
  g_assert_cmpint (m->config.resize, ==, HEED_RESIZE_STRETCH);
  g_assert_cmpint (m->config.interpolation, ==, HEED_INTERPOLATION_BICUBIC);
  g_assert_cmpfloat (m->config.mean[0], ==, 0.48145466f);
  heed_model_destroy (&m);
  m = load_fixture ("hf_blip2_f32");
  g_assert_cmpuint (m->config.num_heads, ==, 16);
  g_assert_cmpfloat (m->config.ln_eps, ==, 1e-6f);
  /* the line classify -v prints says whose names were read and what was left: the query
   * tokens, the Q-Former's, the projection's and the language model's five tensors */
  what = heed_model_describe (&m->config);
  g_assert_nonnull (strstr (what, "; read by transformers' BLIP names under vision_model., "
                                  "renamed to timm's, 5 tensors in the files unread"));
  g_free (what);
  heed_model_destroy (&m);
  m = load_fixture ("deit_tiny_f16");
  what = heed_model_describe (&m->config);
  g_assert_true (g_str_has_suffix (what, "; read by timm's names"));
  g_free (what);
  heed_model_destroy (&m);
  m = load_fixture ("hf_paligemma_f32");
  what = heed_model_describe (&m->config);
  g_assert_true (g_str_has_suffix (
      what, "; read by transformers' names under vision_tower.vision_model., 4 tensors in the "
            "files unread"));
  g_free (what);
  heed_model_destroy (&m);
  /* transformers' VisionEncoderDecoderModel: ViT's names under encoder., config.json's encoder
   * (heads, eps 1e-12), the decoder and the encoder's pooler beside them unread */
  /* Depth Anything's DINOv2 backbone (backbone.): config.json's backbone_config */
  m = load_fixture ("hf_depth_anything_f32");
  g_assert_cmpuint (m->config.num_heads, ==, 3);
  g_assert_cmpuint (m->config.num_classes, ==, 0);
  g_assert_cmpuint (m->config.unread_tensors, ==, 5); /* the neck's, the head's, mask_token */
  heed_model_destroy (&m);
  m = load_fixture ("hf_ved_f32");
  g_assert_cmpuint (m->config.num_heads, ==, 4);
  g_assert_cmpfloat (m->config.ln_eps, ==, 1e-12f);
  g_assert_cmpuint (m->config.num_classes, ==, 0);
  heed_model_destroy (&m);
  /* InternViT's own code (InternVisionModel): config.json's heads, InternVisionConfig's eps,
   * LayerScale, no final norm; its CLIPFeatureExtractor's shortest side and centre crop */
  m = load_fixture ("intern_vit_f32");
  g_assert_cmpuint (m->config.num_heads, ==, 2);
  g_assert_cmpfloat (m->config.ln_eps, ==, 1e-6f);
  g_assert_true (m->config.pool_without_norm && !m->config.avg_pool);
  g_assert_null (m->norm_w);
  g_assert_cmpint (m->config.resize, ==, HEED_RESIZE_CROP);
  heed_model_destroy (&m);
  m = load_fixture ("rope_sbb_f32");
  g_assert_true (m->config.rope && !m->config.rope_columns_first && m->config.avg_pool);
  g_assert_cmpfloat (m->config.rope_base, ==, 10000.0f);
  g_assert_cmpuint (m->config.rope_ref_grid, ==, 16);
  g_assert_cmpuint (m->config.num_prefix, ==, 1);
  g_assert_cmpuint (m->config.num_registers, ==, 1);
  heed_model_destroy (&m);

  /* SigLIP 2's NaFlex tower: a Linear patch embedding over (row, column, channel), reordered into
   * the convolution's [D][channel][row][column]; its positions resized bilinearly */
  m = load_fixture ("hf_siglip2_naflex_f32");
  g_assert_cmpuint (m->config.patch_size, ==, 16);
  g_assert_cmpuint (m->config.grid, ==, 4);
  g_assert_true (m->pos_resample_bilinear && m->config.map_pool);
  heed_model_destroy (&m);

  /* EVA-02's CLIP towers: a LayerNorm over the attention's output (attn.norm), beside the MLP's;
   * timm's EVA eps 1e-6 although the architecture is a _clip_ one */
  m = load_fixture ("eva02_clip_f32");
  g_assert_true (m->config.attn_norm && m->config.mlp_norm && m->config.rope);
  g_assert_nonnull (m->blocks[1].attn_norm_b);
  g_assert_cmpfloat (m->config.ln_eps, ==, 1e-6f);
  what = heed_model_describe (&m->config);
  g_assert_nonnull (strstr (what, "a LayerNorm over the attention's output"));
  g_free (what);
  heed_model_destroy (&m);

  /* DINOv3: timm's (its rotary embedding and pooling told by the architecture; no pos_embed, so
   * the grid from pretrained_cfg's input size; 4 registers after the class token) and
   * transformers' (its own names read as timm's, rope_theta, the class token's pooling; the
   * key's bias zero) */
  m = load_fixture ("dinov3_small_f32");
  g_assert_true (m->config.rope && m->config.rope_dinov3);
  g_assert_true (m->config.avg_pool && m->config.pool_after_norm);
  g_assert_cmpfloat (m->config.rope_base, ==, 100.0f);
  g_assert_cmpfloat (m->config.ln_eps, ==, 1e-5f); /* timm's DINOv3 norm_layer's */
  g_assert_cmpuint (m->config.num_registers, ==, 4);
  g_assert_cmpuint (m->config.num_prefix, ==, 5);
  g_assert_cmpuint (m->config.grid, ==, 5);
  what = heed_model_describe (&m->config);
  g_assert_nonnull (strstr (what, "DINOv3's rotary position embedding (base 100)"));
  g_free (what);
  g_assert_true (heed_model_set_input_size (m, 96, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (m->config.tokens, ==, 5 + 36);
  heed_model_destroy (&m);
  m = load_fixture ("hf_dinov3_f32");
  g_assert_true (m->config.rope_dinov3 && !m->config.avg_pool);
  g_assert_cmpuint (m->config.num_prefix, ==, 5);
  g_assert_cmpuint (m->config.img_size, ==, 80);
  for (guint i = 64; i < 2 * 64; i++)
    g_assert_cmpfloat (m->blocks[1].qkv_b[i], ==, 0.0f);
  heed_model_destroy (&m);
  m = load_fixture ("hf_dinov3_gated_f32");
  g_assert_true (m->config.swiglu);
  g_assert_cmpuint (m->config.mlp_hidden, ==, 48);
  heed_model_destroy (&m);

  /* transformers' CLIPModel: the image tower, its settings from config.json's vision_config
   * (2 heads where dim / 64 would give 1; eps 1e-5; QuickGELU), the text tower unread */
  m = load_fixture ("hf_clip_f32");
  g_assert_cmpuint (m->config.num_heads, ==, 2);
  g_assert_cmpfloat (m->config.ln_eps, ==, 1e-5f);
  g_assert_true (m->config.quick_gelu);
  g_assert_nonnull (m->norm_pre_w);
  g_assert_cmpuint (m->config.num_classes, ==, 0);
  g_assert_cmpuint (m->config.tokens, ==, 1 + 16);
  heed_model_destroy (&m);
}

/* ---- corrupting a valid file ---- */

typedef struct {
  guint8 *bytes;
  gsize size;
} Blob;

static Blob
read_blob_file (const char *name, const char *file)
{
  Blob b;
  char *path = fixture_path (name, file);
  g_assert_true (g_file_get_contents (path, (char **) &b.bytes, &b.size, NULL));
  g_free (path);
  return b;
}

static Blob
read_blob (const char *name)
{
  return read_blob_file (name, "model.safetensors");
}

/* Rebuilds a file with its header transformed by `edit` and the same data section. */
static Blob
with_header (Blob in, void (*edit) (JsonObject *root))
{
  guint64 hlen;
  memcpy (&hlen, in.bytes, 8);
  JsonParser *p = json_parser_new ();
  g_assert_true (json_parser_load_from_data (p, (char *) in.bytes + 8, (gssize) hlen, NULL));
  JsonNode *root = json_node_copy (json_parser_get_root (p));
  edit (json_node_get_object (root));
  char *text = json_to_string (root, FALSE);
  gsize tlen = strlen (text), data = in.size - 8 - hlen;
  Blob out = { g_malloc (8 + tlen + data), 8 + tlen + data };
  guint64 le = GUINT64_TO_LE (tlen);
  memcpy (out.bytes, &le, 8);
  memcpy (out.bytes + 8, text, tlen);
  memcpy (out.bytes + 8 + tlen, in.bytes + 8 + hlen, data);
  g_free (text);
  json_node_unref (root);
  g_object_unref (p);
  return out;
}

/* The (from, to) pairs with_names_moved applies, one after another, for its edit (with_header's
 * edits take no data; the tests run on one thread) */
static const char *const (*name_moves)[2];
static guint n_name_moves;

/* Every tensor whose name begins with `from` ("": every one) renamed to begin with `to` */
static void
move_names (JsonObject *r, const char *from, const char *to)
{
  GList *names = json_object_get_members (r);
  for (GList *n = names; n; n = n->next) {
    if (strcmp (n->data, "__metadata__") == 0 || !g_str_has_prefix (n->data, from))
      continue;
    char *moved = g_strconcat (to, (char *) n->data + strlen (from), NULL);
    json_object_set_member (r, moved, json_node_copy (json_object_get_member (r, n->data)));
    json_object_remove_member (r, n->data);
    g_free (moved);
  }
  g_list_free (names);
}

static void
edit_move_names (JsonObject *r)
{
  for (guint i = 0; i < n_name_moves; i++)
    move_names (r, name_moves[i][0], name_moves[i][1]);
}

/* The file with its tensors renamed: each whose name begins with moves[i][0] ("": every one)
 * then begins with moves[i][1], pair after pair (a layout as another model holds it) */
static Blob
with_names_moved (Blob in, const char *const (*moves)[2], guint n)
{
  name_moves = moves, n_name_moves = n;
  return with_header (in, edit_move_names);
}

/* A copy of the file with element `index` of tensor `name` (of dtype, elements of `size`
 * bytes) replaced by the little-endian bytes at value */
static Blob
with_element_set (Blob in, const char *name, const char *dtype, gsize size, guint index,
                  const void *value)
{
  guint64 hlen;
  memcpy (&hlen, in.bytes, 8);
  JsonParser *p = json_parser_new ();
  g_assert_true (json_parser_load_from_data (p, (char *) in.bytes + 8, (gssize) hlen, NULL));
  JsonObject *t =
      json_object_get_object_member (json_node_get_object (json_parser_get_root (p)), name);
  g_assert_cmpstr (json_object_get_string_member (t, "dtype"), ==, dtype);
  gint64 begin = json_array_get_int_element (json_object_get_array_member (t, "data_offsets"), 0);
  Blob out = { g_memdup2 (in.bytes, in.size), in.size };
  memcpy (out.bytes + 8 + hlen + begin + size * index, value, size);
  g_object_unref (p);
  return out;
}

/* ... of an I64 tensor (a stored lookup that then points somewhere else) */
static Blob
with_i64_set (Blob in, const char *name, guint index, gint64 value)
{
  gint64 le = GINT64_TO_LE (value);
  return with_element_set (in, name, "I64", 8, index, &le);
}

/* The checkpoint loaded beside the given config.json and preprocessor_config.json texts (either
 * may be NULL), which must succeed */
static HeedModel *
load_with (Blob b, const char *config, const char *preprocessor)
{
  GError *error = NULL;
  HeedModel *m = heed_model_load_from_data (b.bytes, b.size, config, preprocessor, "m", &error);
  g_assert_no_error (error);
  return m;
}

static void
expect_model_error (Blob b, const char *config, const char *needle)
{
  GError *error = NULL;
  HeedModel *m =
      heed_model_load_from_data (b.bytes, b.size, config, NULL, "bad.safetensors", &error);
  g_assert_null (m);
  g_assert_error (error, HEED_ERROR, HEED_ERROR_MODEL);
  if (!strstr (error->message, needle))
    g_error ("expected '%s' in: %s", needle, error->message);
  g_assert_true (g_str_has_prefix (error->message, "bad.safetensors: "));
  g_error_free (error);
}

static JsonObject *
tensor (JsonObject *root, const char *name)
{
  return json_object_get_object_member (root, name);
}

static void
set_array (JsonObject *o, const char *member, int n, const gint64 *v)
{
  JsonArray *a = json_array_new ();
  for (int i = 0; i < n; i++)
    json_array_add_int_element (a, v[i]);
  json_object_set_array_member (o, member, a);
}

static void
edit_dtype (JsonObject *r)
{
  json_object_set_string_member (tensor (r, "norm.weight"), "dtype", "I64");
}
static void
edit_unknown_dtype (JsonObject *r)
{
  json_object_set_string_member (tensor (r, "norm.weight"), "dtype", "Q4");
}
static void
edit_negative (JsonObject *r)
{
  set_array (tensor (r, "norm.bias"), "data_offsets", 2, (gint64[]){ -8, 8 });
}
static void
edit_past_end (JsonObject *r)
{
  set_array (tensor (r, "norm.bias"), "data_offsets", 2, (gint64[]){ 0, G_MAXINT64 });
}
static void
edit_size_mismatch (JsonObject *r)
{
  set_array (tensor (r, "norm.bias"), "shape", 1, (gint64[]){ 65 });
}
static void
edit_overflow (JsonObject *r)
{
  set_array (tensor (r, "norm.bias"), "shape", 3, (gint64[]){ G_MAXINT64, G_MAXINT64, 4 });
}
static void
edit_missing (JsonObject *r)
{
  json_object_remove_member (r, "blocks.1.mlp.fc2.weight");
}
static void
edit_no_offsets (JsonObject *r)
{
  json_object_remove_member (tensor (r, "norm.bias"), "data_offsets");
}
static void
edit_not_object (JsonObject *r)
{
  json_object_set_int_member (r, "norm.bias", 3);
}
static void
edit_shape (JsonObject *r)
{
  /* same byte count, wrong shape for the architecture */
  set_array (tensor (r, "blocks.0.attn.proj.weight"), "shape", 2, (gint64[]){ 32, 128 });
}
/* A tensor the weights' own layout does not have (its bytes borrowed from cls_token). */
static void
add_tensor (JsonObject *r, const char *name, guint ndim, const gint64 *shape)
{
  JsonObject *t = json_object_new ();
  json_object_set_string_member (t, "dtype", "F32");
  set_array (t, "shape", (int) ndim, shape);
  set_array (t, "data_offsets", 2, (gint64[]){ 0, 256 });
  json_object_set_object_member (r, name, t);
}
/* Tensors inside the blocks or the patch embedding that no layout reads (empty: no bytes to
 * overlap) */
static void
edit_qk_norm (JsonObject *r)
{
  add_tensor (r, "blocks.1.attn.q_norm.weight", 1, (gint64[]){ 0 });
  JsonObject *t = json_object_get_object_member (r, "blocks.1.attn.q_norm.weight");
  set_array (t, "data_offsets", 2, (gint64[]){ 0, 0 });
}
static void
edit_patch_norm (JsonObject *r)
{
  add_tensor (r, "patch_embed.norm.weight", 1, (gint64[]){ 0 });
  JsonObject *t = json_object_get_object_member (r, "patch_embed.norm.weight");
  set_array (t, "data_offsets", 2, (gint64[]){ 0, 0 });
}
static void
edit_hf_layer_extra (JsonObject *r)
{
  add_tensor (r, "vit.encoder.layer.0.attention.attention.q_norm.weight", 1, (gint64[]){ 0 });
  JsonObject *t =
      json_object_get_object_member (r, "vit.encoder.layer.0.attention.attention.q_norm.weight");
  set_array (t, "data_offsets", 2, (gint64[]){ 0, 0 });
}
/* an empty tensor by `name` beside the others */
static void
add_empty_tensor (JsonObject *r, const char *name)
{
  add_tensor (r, name, 1, (gint64[]){ 0 });
  set_array (json_object_get_object_member (r, name), "data_offsets", 2, (gint64[]){ 0, 0 });
}
/* OpenCLIP towers beyond what heed runs: scale_attn's LayerNorm after the attention, CoCa's
 * attention pooler, a ResNet */
static void
edit_open_clip_ln_attn (JsonObject *r)
{
  add_empty_tensor (r, "visual.transformer.resblocks.0.ln_attn.weight");
}
static void
edit_open_clip_coca (JsonObject *r)
{
  add_empty_tensor (r, "visual.attn_pool.query");
}
static void
edit_open_clip_resnet (JsonObject *r)
{
  add_empty_tensor (r, "visual.layer1.0.conv1.weight");
}
/* timm's name beside OpenCLIP's for one tensor; OpenCLIP's positions missing */
static void
edit_open_clip_clash (JsonObject *r)
{
  add_empty_tensor (r, "cls_token");
}
static void
edit_open_clip_no_positions (JsonObject *r)
{
  json_object_remove_member (r, "visual.positional_embedding");
}
/* AIMv2's attention-pooling head (use_head: the LiT models') */
static void
edit_aimv2_head (JsonObject *r)
{
  add_empty_tensor (r, "vision_model.head.cls_token");
}
/* AIMv2's native-resolution towers store no positions */
static void
edit_aimv2_no_positions (JsonObject *r)
{
  json_object_remove_member (r, "preprocessor.pos_embed");
}
/* BLIP's tower without its second block's qkv */
static void
edit_blip_missing_qkv (JsonObject *r)
{
  json_object_remove_member (r, "vision_model.encoder.layers.1.self_attn.qkv.weight");
}
/* attention pooling with no query: a pool heed cannot run, refused by its shape */
static void
edit_variant (JsonObject *r)
{
  add_tensor (r, "attn_pool.latent", 3, (gint64[]){ 1, 0, 64 });
  set_array (json_object_get_object_member (r, "attn_pool.latent"), "data_offsets", 2,
             (gint64[]){ 0, 0 });
}
/* a pool with a part no layout reads (qk-norm inside it) */
static void
edit_pool_extra (JsonObject *r)
{
  add_empty_tensor (r, "attn_pool.q_norm.weight");
}
static void
edit_dist_token (JsonObject *r)
{
  /* a distillation token, but a pos_embed sized for the class token alone */
  add_tensor (r, "dist_token", 3, (gint64[]){ 1, 1, 64 });
}
/* what transformers' DINOv2 has and heed does not run yet (on hf_dinov2_f32: dim 96) */
static void
edit_dinov2_swiglu (JsonObject *r)
{
  /* a SwiGLU weights_in that is not [2 x hidden, dim] */
  add_tensor (r, "encoder.layer.0.mlp.weights_in.weight", 2, (gint64[]){ 1, 64 });
}
static void
edit_dinov2_classifier (JsonObject *r)
{
  /* neither the class token's width (96) nor [CLS; mean of the patches] (192): 1152 bytes */
  add_tensor (r, "classifier.weight", 2, (gint64[]){ 1, 288 });
  JsonObject *t = json_object_get_object_member (r, "classifier.weight");
  set_array (t, "data_offsets", 2, (gint64[]){ 0, 1152 });
}
static void
meta (JsonObject *r, const char *k, const char *v)
{
  if (!json_object_has_member (r, "__metadata__"))
    json_object_set_object_member (r, "__metadata__", json_object_new ());
  json_object_set_string_member (json_object_get_object_member (r, "__metadata__"), k, v);
}
static void
edit_heads (JsonObject *r)
{
  meta (r, "num_heads", "3");
}
static void
edit_heads_text (JsonObject *r)
{
  meta (r, "num_heads", "three");
}
static void
edit_img (JsonObject *r)
{
  meta (r, "img_size", "64");
}
static void
edit_mean (JsonObject *r)
{
  meta (r, "mean", "[0.5, 0.5]");
}
static void
edit_labels (JsonObject *r)
{
  meta (r, "labels", "{\"a\": 1}");
}
static void
edit_metadata_type (JsonObject *r)
{
  json_object_set_int_member (r, "__metadata__", 1);
}
static void
edit_overlap (JsonObject *r)
{
  /* norm.bias moved onto norm.weight's bytes (the same size): the format forbids sharing */
  JsonArray *w = json_object_get_array_member (tensor (r, "norm.weight"), "data_offsets");
  gint64 v[2] = { json_array_get_int_element (w, 0), json_array_get_int_element (w, 1) };
  set_array (tensor (r, "norm.bias"), "data_offsets", 2, v);
}

static void
edit_beit_table (JsonObject *r)
{
  /* the same bytes, but 26 rows: not (2W - 1)^2 + 3 */
  set_array (tensor (r, "blocks.0.attn.relative_position_bias_table"), "shape", 2,
             (gint64[]){ 26, 4 });
}

/* A safetensors file of zero-filled F32 tensors with these names and shapes */
typedef struct {
  const char *name;
  guint ndim;
  gint64 shape[4];
} TensorSpec;

static Blob
zeros_checkpoint (const TensorSpec *specs, guint n)
{
  JsonObject *root = json_object_new ();
  gint64 offset = 0;
  for (guint i = 0; i < n; i++) {
    gint64 count = 1;
    for (guint d = 0; d < specs[i].ndim; d++)
      count *= specs[i].shape[d];
    JsonObject *t = json_object_new ();
    json_object_set_string_member (t, "dtype", "F32");
    set_array (t, "shape", (int) specs[i].ndim, specs[i].shape);
    set_array (t, "data_offsets", 2, (gint64[]){ offset, offset + 4 * count });
    json_object_set_object_member (root, specs[i].name, t);
    offset += 4 * count;
  }
  JsonNode *node = json_node_init_object (json_node_alloc (), root);
  char *text = json_to_string (node, FALSE);
  gsize tlen = strlen (text);
  Blob out = { g_malloc0 (8 + tlen + (gsize) offset), 8 + tlen + (gsize) offset };
  guint64 le = GUINT64_TO_LE (tlen);
  memcpy (out.bytes, &le, 8);
  memcpy (out.bytes + 8, text, tlen);
  g_free (text);
  json_node_unref (node);
  json_object_unref (root);
  return out;
}

/* A copy of the file with one float of a tensor (an F32 fixture) replaced. */
static Blob
with_value (Blob in, const char *name, guint index, float value)
{
  return with_element_set (in, name, "F32", 4, index, &value);
}

static void
test_corrupt_files (void)
{
  Blob good = read_blob ("headless_f32");
  struct {
    void (*edit) (JsonObject *);
    const char *needle;
  } cases[] = {
    { edit_dtype, "dtype I64" },
    { edit_unknown_dtype, "unknown dtype 'Q4'" },
    { edit_negative, "non-negative" },
    { edit_past_end, "outside the" },
    { edit_size_mismatch, "bytes but its shape" },
    { edit_overflow, "overflows" },
    { edit_missing, "'blocks.1.mlp.fc2.weight' is missing" },
    { edit_no_offsets, "lacks dtype, shape or data_offsets" },
    { edit_not_object, "is not an object" },
    { edit_shape, "has shape [32, 128], expected [64, 64]" },
    { edit_variant, "tensor 'attn_pool.latent' has shape [1, 0, 64], expected [64]" },
    { edit_dist_token, "neither 2 prefix tokens and a square grid of patches" },
    { edit_heads, "num_heads 3 does not divide dim 64" },
    { edit_heads_text, "not a positive integer" },
    { edit_img, "disagree with the weights" },
    { edit_mean, "mean must be a JSON array of 3 numbers" },
    { edit_labels, "labels must be a JSON array" },
    { edit_metadata_type, "__metadata__ is not an object" },
    { edit_overlap, "'norm.bias' and 'norm.weight' overlap" },
    { edit_qk_norm, "tensor 'blocks.1.attn.q_norm.weight' belongs to no layout heed runs" },
    /* a norm of the patch embedding is read now (AIMv2's), and refused by its shape */
    { edit_patch_norm, "tensor 'patch_embed.norm.weight' has shape [0], expected [64]" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    Blob b = with_header (good, cases[i].edit);
    expect_model_error (b, NULL, cases[i].needle);
    g_free (b.bytes);
  }

  /* transformers' DINOv2 beyond what heed runs: refused with what it is named */
  Blob dinov2 = read_blob ("hf_dinov2_f32");
  struct {
    void (*edit) (JsonObject *);
    const char *needle;
  } dinov2_cases[] = {
    { edit_dinov2_swiglu, "'encoder.layer.0.mlp.weights_in.weight' must be [2 x hidden, 96]" },
    { edit_dinov2_classifier, "classification head must be [classes, 96]" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (dinov2_cases); i++) {
    Blob b = with_header (dinov2, dinov2_cases[i].edit);
    expect_model_error (b, "{\"num_attention_heads\": 3}", dinov2_cases[i].needle);
    g_free (b.bytes);
  }
  g_free (dinov2.bytes);
  Blob map = read_blob ("vit_map_f32");
  Blob map_extra = with_header (map, edit_pool_extra);
  expect_model_error (map_extra, NULL, "tensor 'attn_pool.q_norm.weight' belongs to no layout");
  g_free (map_extra.bytes);
  g_free (map.bytes);
  Blob hf = read_blob ("hf_vit_f32");
  Blob hf_extra = with_header (hf, edit_hf_layer_extra);
  expect_model_error (hf_extra, "{\"num_attention_heads\": 5}",
                      "'vit.encoder.layer.0.attention.attention.q_norm.weight' belongs to no");
  g_free (hf_extra.bytes);
  g_free (hf.bytes);

  /* OpenCLIP towers heed does not run, by their tensors and by their configs */
  Blob oc = read_blob_file ("open_clip_f32", "open_clip_model.safetensors");
  const char *oc_config = "{\"model_cfg\": {\"vision_cfg\": {\"width\": 64, \"head_width\": 32}}}";
  struct {
    void (*edit) (JsonObject *);
    const char *config, *needle;
  } oc_cases[] = {
    { edit_open_clip_ln_attn, oc_config,
      "tensor 'visual.transformer.resblocks.0.ln_attn.weight' belongs to no layout" },
    { edit_open_clip_coca, oc_config, "CoCa's attention pooler (visual.attn_pool)" },
    { edit_open_clip_resnet, oc_config, "an OpenCLIP ResNet image tower" },
    { edit_open_clip_clash, oc_config,
      "tensors 'cls_token' and 'visual.class_embedding' would both be read as 'cls_token'" },
    { edit_open_clip_no_positions, oc_config, "position embedding must be [1, tokens, 64]" },
    { NULL, "{\"model_cfg\": {\"vision_cfg\": {\"pool_type\": \"none\"}}}", "pools by none" },
    { NULL, "{\"model_cfg\": {\"vision_cfg\": {\"attentional_pool\": \"parallel\"}}}",
      "pools by attentional_pool" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (oc_cases); i++) {
    Blob b = oc_cases[i].edit ? with_header (oc, oc_cases[i].edit)
                              : (Blob){ g_memdup2 (oc.bytes, oc.size), oc.size };
    expect_model_error (b, oc_cases[i].config, oc_cases[i].needle);
    g_free (b.bytes);
  }
  g_free (oc.bytes);
  Blob trunk = read_blob_file ("open_clip_trunk_f32", "open_clip_model.safetensors");
  expect_model_error (trunk,
                      "{\"model_cfg\": {\"vision_cfg\": {\"timm_model_name\": "
                      "\"vit_so400m_patch16_siglip_256\", \"timm_pool\": \"abs_attn\"}}}",
                      "timm_pool \"abs_attn\"");
  g_free (trunk.bytes);

  /* AIMv2: the LiT models' attention-pooling head and the native-resolution towers' computed
   * positions are refused; a missing bias is zeros only where the model's norms are RMSNorm
   * (read as a LayerNorm architecture, the same file lacks its norms' biases) */
  Blob aim = read_blob ("hf_aimv2_f32");
  Blob aim_head = with_header (aim, edit_aimv2_head);
  expect_model_error (aim_head, NULL, "an AIMv2 tower with its attention-pooling head");
  g_free (aim_head.bytes), g_free (aim.bytes);
  Blob apple = read_blob ("aimv2_apple_f32");
  Blob apple_native = with_header (apple, edit_aimv2_no_positions);
  expect_model_error (apple_native, NULL, "an AIMv2 tower without stored positions");
  g_free (apple_native.bytes), g_free (apple.bytes);
  /* a class-token model without a final norm runs so only where its architecture says so
   * (timm's final_norm=False); without it, the missing norm is a damaged file */
  Blob intern = read_blob ("vit_intern_f32");
  expect_model_error (intern, "{\"architecture\": \"vit_large_patch14_224\"}",
                      "tensor 'norm.weight' is missing");
  HeedModel *final_norm_model =
      load_with (intern, "{\"model_args\": {\"final_norm\": false}}", NULL);
  g_assert_true (final_norm_model->config.pool_without_norm);
  heed_model_destroy (&final_norm_model);
  g_free (intern.bytes);
  /* BLIP-2's tower: what vision_config gives wins over the class's defaults (InstructBLIP's
   * too); with no config at all, the query and value biases tell BLIP-2's defaults, and
   * BLIP's 12 heads, which do not divide a 64-wide tower, are refused */
  Blob blip2 = read_blob ("hf_blip2_f32");
  HeedModel *instruct = load_with (blip2,
                                   "{\"model_type\": \"instructblip\", \"vision_config\": "
                                   "{\"num_attention_heads\": 8, \"layer_norm_eps\": 1e-5}}",
                                   NULL);
  g_assert_cmpuint (instruct->config.num_heads, ==, 8);
  g_assert_cmpfloat (instruct->config.ln_eps, ==, 1e-5f);
  heed_model_destroy (&instruct);
  HeedModel *bare = load_with (blip2, NULL, NULL);
  g_assert_cmpuint (bare->config.num_heads, ==, 16);
  g_assert_cmpfloat (bare->config.ln_eps, ==, 1e-6f);
  heed_model_destroy (&bare);
  /* a part of config.json that is null leaves the config class's defaults, as transformers
   * reads it; one that is not an object is refused in each reading of it (BLIP-2's, InternVL's,
   * AIMv2's, a CLIP tower's, VisionEncoderDecoder's, Depth Anything's), never read past */
  HeedModel *null_part = load_with (blip2, "{\"vision_config\": null}", NULL);
  g_assert_cmpuint (null_part->config.num_heads, ==, 16);
  heed_model_destroy (&null_part);
  g_free (blip2.bytes);
  static const char *const not_objects[][3] = {
    { "hf_blip2_f32", "{\"vision_config\": [16]}", "config.json's vision_config is not" },
    { "hf_internvl_f32", "{\"vision_config\": \"x\"}", "config.json's vision_config is not" },
    { "hf_aimv2_f32", "{\"vision_config\": 1}", "config.json's vision_config is not" },
    { "hf_git_f32", "{\"vision_config\": true}", "config.json's vision_config is not" },
    { "hf_ved_f32", "{\"encoder\": \"vit\"}", "config.json's encoder is not a JSON object" },
    { "hf_depth_anything_f32", "{\"backbone_config\": []}",
      "config.json's backbone_config is not a JSON object" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (not_objects); i++) {
    Blob part = read_blob (not_objects[i][0]);
    expect_model_error (part, not_objects[i][1], not_objects[i][2]);
    g_free (part.bytes);
  }
  Blob blip = read_blob ("hf_blip_f32");
  expect_model_error (blip, NULL, "num_heads 12 does not divide dim 64");
  /* a tensor missing from a layout renamed at load is named as heed looks for it, and says so */
  Blob blip_missing = with_header (blip, edit_blip_missing_qkv);
  expect_model_error (blip_missing, "{\"vision_config\": {\"num_attention_heads\": 4}}",
                      "tensor 'blocks.1.attn.qkv.weight' is missing (timm's name: heed reads "
                      "transformers' BLIP names by timm's)");
  g_free (blip_missing.bytes);
  g_free (blip.bytes);
  /* InternViT's tower in InternVL's chat models (vision_model., vision_config); and
   * InternViT-6B's layout, a norm of the queries and keys and RMSNorm (InternVisionConfig's
   * defaults where the config leaves them out), refused */
  Blob intern_own = read_blob ("intern_vit_f32");
  static const char *const under_vision_model[][2] = { { "", "vision_model." } };
  Blob chat = with_names_moved (intern_own, under_vision_model, 1);
  HeedModel *chat_model = load_with (
      chat,
      "{\"architectures\": [\"InternVLChatModel\"], \"model_type\": \"internvl_chat\", "
      "\"vision_config\": {\"model_type\": \"intern_vit_6b\", \"num_attention_heads\": 4, "
      "\"norm_type\": \"layer_norm\", \"qk_normalization\": false}}",
      NULL);
  g_assert_cmpuint (chat_model->config.num_heads, ==, 4);
  g_assert_true (chat_model->config.pool_without_norm);
  heed_model_destroy (&chat_model);
  expect_model_error (intern_own,
                      "{\"model_type\": \"intern_vit_6b\", \"norm_type\": \"layer_norm\"}",
                      "a norm of its queries and keys (qk_normalization)");
  expect_model_error (intern_own,
                      "{\"model_type\": \"intern_vit_6b\", \"qk_normalization\": false}",
                      "RMSNorm (norm_type)");
  HeedModel *bare_intern = load_with (intern_own, NULL, NULL); /* the tensors say 300M's */
  g_assert_true (bare_intern->config.pool_without_norm);
  heed_model_destroy (&bare_intern);
  g_free (chat.bytes), g_free (intern_own.bytes);
  /* CLIP's tower inside LLaVA (vision_tower., model.vision_tower.), CLIPSeg, Kosmos-2, OWL-ViT
   * and OWLv2: the same model as CLIPModel's file gives */
  Blob clip = read_blob ("hf_clip_f32");
  const char *clip_config = "{\"model_type\": \"llava\", \"vision_config\": {\"hidden_size\": "
                            "64, \"num_attention_heads\": 2, \"layer_norm_eps\": 1e-5}}";
  HeedModel *clip_model = load_with (clip, clip_config, NULL);
  /* LLaVA's (and as transformers has written it since 4.52), CLIPSeg's, Kosmos-2's; OWL-ViT's
   * and OWLv2's, whose norm before the blocks has its own name */
  static const char *const towers[][2][2] = {
    { { "", "vision_tower." } },
    { { "", "model.vision_tower." } },
    { { "vision_model.", "clip.vision_model." } },
    { { "vision_model.", "vision_model.model." } },
    { { "vision_model.pre_layrnorm.", "vision_model.pre_layernorm." },
      { "vision_model.", "owlvit.vision_model." } },
    { { "vision_model.pre_layrnorm.", "vision_model.pre_layernorm." },
      { "vision_model.", "owlv2.vision_model." } },
  };
  for (guint i = 0; i < G_N_ELEMENTS (towers); i++) {
    Blob llava = with_names_moved (clip, towers[i], towers[i][1][0] ? 2 : 1);
    HeedModel *llava_model = load_with (llava, clip_config, NULL);
    g_assert_true (llava_model->config.quick_gelu && llava_model->norm_pre_w);
    g_assert_cmpuint (llava_model->config.num_heads, ==, 2);
    g_assert_cmpmem (llava_model->blocks[1].fc2_w, 64 * 256 * sizeof (float),
                     clip_model->blocks[1].fc2_w, 64 * 256 * sizeof (float));
    g_assert_cmpmem (llava_model->norm_pre_b, 64 * sizeof (float), clip_model->norm_pre_b,
                     64 * sizeof (float));
    heed_model_destroy (&llava_model);
    g_free (llava.bytes);
  }
  heed_model_destroy (&clip_model);
  g_free (clip.bytes);
  /* SigLIP's tower inside SmolVLM and Idefics (model.vision_model.): SiglipVisionConfig's
   * defaults, the mean of the normed tokens */
  Blob paligemma = read_blob ("hf_paligemma_f32");
  static const char *const smolvlm_names[][2] = { { "vision_tower.", "model." } };
  Blob smolvlm = with_names_moved (paligemma, smolvlm_names, 1);
  HeedModel *smolvlm_model = load_with (
      smolvlm, "{\"model_type\": \"smolvlm\", \"vision_config\": {\"num_attention_heads\": 2}}",
      NULL);
  g_assert_true (smolvlm_model->config.gelu_tanh && smolvlm_model->config.avg_pool);
  g_assert_cmpfloat (smolvlm_model->config.ln_eps, ==, 1e-6f);
  heed_model_destroy (&smolvlm_model);
  g_free (smolvlm.bytes), g_free (paligemma.bytes);
  /* DPT's ViT (dpt.: Intel/dpt-large), with config.json's own settings: the same model as
   * ViT's names give */
  Blob vit = read_blob ("hf_vit_f32");
  static const char *const dpt_names[][2] = { { "vit.", "dpt." } };
  Blob dpt = with_names_moved (vit, dpt_names, 1);
  Blob vit_config = read_blob_file ("hf_vit_f32", "config.json");
  char *vit_config_text = g_strndup ((const char *) vit_config.bytes, vit_config.size);
  HeedModel *vit_model = load_with (vit, vit_config_text, NULL);
  HeedModel *dpt_model = load_with (dpt, vit_config_text, NULL);
  g_assert_cmpuint (dpt_model->config.num_heads, ==, vit_model->config.num_heads);
  g_assert_cmpfloat (dpt_model->config.ln_eps, ==, 1e-12f);
  g_assert_cmpmem (dpt_model->blocks[1].qkv_w, 80 * 240 * sizeof (float),
                   vit_model->blocks[1].qkv_w, 80 * 240 * sizeof (float));
  heed_model_destroy (&dpt_model), heed_model_destroy (&vit_model);
  g_free (vit_config_text), g_free (vit_config.bytes), g_free (dpt.bytes), g_free (vit.bytes);
  /* transformers' InternVL: its vision_config's heads, no final norm (the mean patch token as
   * it is), under either prefix; InternViT-6B's qk-norm and RMSNorm refused */
  Blob internvl = read_blob ("hf_internvl_f32");
  static const char *const before_4_52[][2] = { { "model.vision_tower.", "vision_tower." } };
  Blob internvl_old = with_names_moved (internvl, before_4_52, 1);
  const char *internvl_config = "{\"model_type\": \"internvl\", \"vision_config\": "
                                "{\"num_attention_heads\": 4, \"norm_type\": \"layer_norm\"}}";
  Blob both[] = { internvl, internvl_old };
  for (guint i = 0; i < G_N_ELEMENTS (both); i++) {
    HeedModel *internvl_model = load_with (both[i], internvl_config, NULL);
    g_assert_cmpuint (internvl_model->config.num_heads, ==, 4);
    g_assert_true (internvl_model->config.avg_pool && internvl_model->config.pool_without_norm);
    heed_model_destroy (&internvl_model);
  }
  expect_model_error (internvl, "{\"vision_config\": {\"use_qk_norm\": true}}",
                      "a norm of its queries and keys (use_qk_norm)");
  expect_model_error (internvl, "{\"vision_config\": {\"norm_type\": \"rms_norm\"}}",
                      "RMSNorm (norm_type)");
  g_free (internvl_old.bytes), g_free (internvl.bytes);
  Blob timm_aim = read_blob ("timm_aimv2_f32");
  expect_model_error (timm_aim, "{\"architecture\": \"vit_test\", \"num_heads\": 8}",
                      "tensor 'norm.bias' is missing");
  g_free (timm_aim.bytes);

  /* BEiT's tables and lookups: what heed would look up wrong is refused */
  Blob beit = read_blob ("beit_f32");
  Blob bad_table = with_header (beit, edit_beit_table);
  expect_model_error (bad_table, NULL, "must be [(2W - 1)^2 + 3, heads]");
  g_free (bad_table.bytes);
  /* block 0's index with one entry pointing at another row */
  Blob bad_index = with_i64_set (beit, "blocks.0.attn.relative_position_index", 30, 7);
  expect_model_error (bad_index, NULL,
                      "'blocks.0.attn.relative_position_index' is not BEiT's lookup of its table "
                      "for 4 x 4 patches");
  g_free (bad_index.bytes);
  expect_model_error (beit, "{\"num_heads\": 4}",
                      "'blocks.0.attn.relative_position_bias_table' has 2 heads, the config 4");
  g_free (beit.bytes);
  /* a shared table for 128 x 128 patches (255^2 + 3 rows, 260 kB) in two blocks would ask for
   * 2.1 GB of bias: refused before anything is allocated */
  const TensorSpec huge_bias[] = {
    { "patch_embed.proj.weight", 4, { 4, 3, 16, 16 } },
    { "cls_token", 3, { 1, 1, 4 } },
    { "rel_pos_bias.relative_position_bias_table", 2, { 255 * 255 + 3, 1 } },
    { "blocks.0.norm1.weight", 1, { 4 } },
    { "blocks.1.norm1.weight", 1, { 4 } },
    { "blocks.0.mlp.fc1.weight", 2, { 8, 4 } },
    { "fc_norm.weight", 1, { 4 } },
  };
  Blob huge_file = zeros_checkpoint (huge_bias, G_N_ELEMENTS (huge_bias));
  expect_model_error (huge_file, NULL,
                      "its relative position bias would take 2.1 GB (2 blocks of 1 heads x 16385 x "
                      "16385 tokens), more than heed's limit of 2 GB");
  g_free (huge_file.bytes);

  /* timm's packed SwiGLU is told by its activation or architecture: without either, a gated
   * MLP is refused rather than run with a guessed activation */
  Blob swiglu = read_blob ("dinov2_swiglu_f32");
  expect_model_error (swiglu, "{\"num_heads\": 3}", "a gated MLP (fc1 twice as wide as fc2 reads)");
  HeedModel *silu_model =
      load_with (swiglu, "{\"num_heads\": 3, \"model_args\": {\"act_layer\": \"silu\"}}", NULL);
  g_assert_true (silu_model->config.swiglu);
  heed_model_destroy (&silu_model);
  g_free (swiglu.bytes);

  /* EVA: what the weights cannot say is refused. EVA-02's rotary embedding is in no tensor,
   * so its layout without timm's config.json is refused; so are its post-norm blocks (the same
   * names), timm's other rotary embeddings, heads whose width a quarter cannot split, and a
   * reference grid that is not one side. model_args.use_rot_pos_emb is read as it says. */
  Blob eva = read_blob ("eva02_base_f32");
  expect_model_error (eva, NULL, "timm's EVA layout (q_proj, mlp.fc1_g or mlp.norm) without");
  expect_model_error (eva,
                      "{\"num_heads\": 3, \"architecture\": \"eva02_enormous_patch14_clip_224\"}",
                      "has residual post-norm blocks");
  expect_model_error (eva,
                      "{\"num_heads\": 3, \"architecture\": \"vit_base_patch16_rope_mixed_224\"}",
                      "the config names RoPE-Mixed but tensor 'rope.freqs' is missing");
  expect_model_error (eva,
                      "{\"num_heads\": 3, \"model_args\": {\"use_rot_pos_emb\": true, "
                      "\"rope_mixed_mode\": true}}",
                      "the config names RoPE-Mixed but tensor 'rope.freqs' is missing");
  expect_model_error (eva,
                      "{\"num_heads\": 3, \"model_args\": {\"use_rot_pos_emb\": true, "
                      "\"rope_type\": \"axial\"}}",
                      "model_args.rope_type \"axial\": heed runs timm's \"cat\"");
  /* RoPE-Mixed's frequencies are in the weights, the order of their axes only in the config */
  Blob mixed = read_blob ("rope_mixed_f32");
  expect_model_error (mixed, "{\"num_heads\": 2}",
                      "tensor 'rope.freqs' (RoPE-Mixed's) without a config.json that names it");
  expect_model_error (mixed,
                      "{\"num_heads\": 4, \"architecture\": \"vit_small_patch16_rope_mixed_224\"}",
                      "tensor 'rope.freqs' must be [2, 2, 4, 8] (RoPE-Mixed's)");
  g_free (mixed.bytes);
  /* a rotary embedding the architecture's name says is there, of a kind heed does not know */
  expect_model_error (eva, "{\"num_heads\": 3, \"architecture\": \"vit_base_patch16_rope2d_224\"}",
                      "architecture vit_base_patch16_rope2d_224 has a rotary position embedding "
                      "of a kind heed does not run");
  expect_model_error (eva, "{\"num_heads\": 48, \"architecture\": \"eva02_base_patch14_224\"}",
                      "heads of 2 channels: a rotary position embedding (EVA-02's, DINOv3's) "
                      "needs a multiple of 4");
  expect_model_error (eva,
                      "{\"num_heads\": 3, \"architecture\": \"eva02_base_patch14_224\", "
                      "\"model_args\": {\"ref_feat_shape\": [16, 12]}}",
                      "model_args.ref_feat_shape must be a grid side");
  const char *eva_configs[][2] = {
    { "{\"num_heads\": 3, \"architecture\": \"eva02_base_patch14_224\", \"model_args\": "
      "{\"ref_feat_shape\": [8, 8]}}",
      "8" },
    { "{\"num_heads\": 3, \"model_args\": {\"use_rot_pos_emb\": true, \"ref_feat_shape\": 12}}",
      "12" },
    { "{\"num_heads\": 3, \"architecture\": \"eva02_base_patch14_224\", \"model_args\": "
      "{\"use_rot_pos_emb\": false}}",
      "0" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (eva_configs); i++) {
    GError *eva_error = NULL;
    HeedModel *e =
        heed_model_load_from_data (eva.bytes, eva.size, eva_configs[i][0], NULL, "eva", &eva_error);
    g_assert_no_error (eva_error);
    guint ref = (guint) atoi (eva_configs[i][1]);
    g_assert_cmpint (e->config.rope, ==, ref != 0);
    if (ref)
      g_assert_cmpuint (e->config.rope_ref_grid, ==, ref);
    heed_model_destroy (&e);
  }
  g_free (eva.bytes);

  /* weights that are not numbers: every logit would be NaN */
  Blob nan = with_value (good, "blocks.1.mlp.fc1.weight", 7, NAN);
  expect_model_error (nan, NULL, "'blocks.1.mlp.fc1.weight' holds a NaN value at element 7");
  g_free (nan.bytes);
  Blob inf = with_value (good, "pos_embed", 0, -INFINITY);
  expect_model_error (inf, NULL, "'pos_embed' holds an infinite value at element 0");
  g_free (inf.bytes);

  /* byte-level damage */
  expect_model_error ((Blob){ good.bytes, 4 }, NULL, "too short");
  expect_model_error ((Blob){ good.bytes, good.size - 100 }, NULL, "outside the");
  guint8 *copy = g_memdup2 (good.bytes, good.size);
  guint64 huge = GUINT64_TO_LE (G_MAXUINT64 - 3);
  memcpy (copy, &huge, 8);
  expect_model_error ((Blob){ copy, good.size }, NULL, "header length");
  guint64 hlen;
  memcpy (&hlen, good.bytes, 8);
  memcpy (copy, good.bytes, good.size);
  copy[8 + hlen / 2] = '}'; /* JSON cut in the middle */
  expect_model_error ((Blob){ copy, good.size }, NULL, "not valid JSON");
  memcpy (copy, good.bytes, good.size);
  memset (copy + 8, ' ', hlen); /* spaces only */
  expect_model_error ((Blob){ copy, good.size }, NULL, "not valid JSON");
  g_free (copy);

  /* config.json problems */
  expect_model_error (good, "{\"num_heads\": ", "config.json is not valid JSON");
  expect_model_error (good, "[1, 2]", "config.json is not a JSON object");
  /* what timm's and transformers' configs say that heed does not compute: refused, not run
   * wrong (headless_f32 pools by its class token) */
  expect_model_error (good, "{\"global_pool\": \"map\"}", "global_pool \"map\"");
  expect_model_error (good, "{\"model_args\": {\"act_layer\": \"silu\"}}", "activation \"silu\"");
  expect_model_error (good, "{\"hidden_act\": \"relu\"}", "activation \"relu\"");
  expect_model_error (good, "{\"architecture\": \"vit_base_patch16_rpn_224\"}",
                      "residual post-norm blocks");
  /* GELU's tanh approximation, by transformers' and timm's names for it, and by the timm
   * architectures that use it without config.json saying so */
  const char *tanh_configs[] = {
    "{\"hidden_act\": \"gelu_new\", \"global_pool\": \"token\"}",
    "{\"hidden_act\": \"gelu_pytorch_tanh\"}",
    "{\"model_args\": {\"act_layer\": \"gelu_tanh\"}}",
    "{\"architecture\": \"vit_so400m_patch16_siglip_384\"}",
  };
  for (guint i = 0; i < G_N_ELEMENTS (tanh_configs); i++) {
    HeedModel *tanh_model = load_with (good, tanh_configs[i], NULL);
    g_assert_true (tanh_model->config.gelu_tanh);
    heed_model_destroy (&tanh_model);
  }
  /* and not where the architecture uses exact GELU (SigLIP's first towers in timm) */
  HeedModel *erf_model =
      load_with (good, "{\"architecture\": \"vit_so400m_patch14_siglip_384\"}", NULL);
  g_assert_false (erf_model->config.gelu_tanh);
  heed_model_destroy (&erf_model);

  /* not a ViT at all */
  Blob empty = { (guint8 *) "\x02\0\0\0\0\0\0\0{}", 10 };
  expect_model_error (empty, NULL, "not a ViT checkpoint: neither timm's");
  /* nor a hierarchical one: transformers' Swin, and timm's, whose patch embedding has ViT's
   * name; the message names what config.json says it is */
  const TensorSpec hf_swin[] = {
    { "swin.embeddings.patch_embeddings.projection.weight", 4, { 96, 3, 4, 4 } }
  };
  Blob swin = zeros_checkpoint (hf_swin, G_N_ELEMENTS (hf_swin));
  expect_model_error (swin, "{\"model_type\": \"swin\"}",
                      "not a ViT checkpoint (config.json names \"swin\"): neither");
  g_free (swin.bytes);
  const TensorSpec timm_swin[] = { { "patch_embed.proj.weight", 4, { 96, 3, 4, 4 } },
                                   { "layers.0.blocks.0.norm1.weight", 1, { 96 } } };
  swin = zeros_checkpoint (timm_swin, G_N_ELEMENTS (timm_swin));
  expect_model_error (swin, "{\"architecture\": \"swin_tiny_patch4_window7_224\"}",
                      "not a plain ViT (config.json names \"swin_tiny_patch4_window7_224\"): "
                      "'patch_embed.proj.weight' but no 'blocks.0.norm1.weight'");
  g_free (swin.bytes);
  /* DINOv3: no pos_embed, a rotary embedding no tensor shows. Without the config that names
   * it there is no position; timm's variations of it, a grid the patches do not divide and
   * transformers' gated MLP with a gate other than SiLU are refused; rope_temperature is read */
  Blob v3 = read_blob ("dinov3_small_f32");
  expect_model_error (v3, "{\"num_heads\": 2}", "position embedding must be [1, tokens, 64]");
  expect_model_error (v3,
                      "{\"num_heads\": 2, \"architecture\": \"vit_small_patch16_dinov3\", "
                      "\"model_args\": {\"rope_grid_offset\": 0.5}}",
                      "model_args sets rope_rotate_half, rope_grid_indexing or rope_grid_offset "
                      "to other than DINOv3's");
  expect_model_error (v3,
                      "{\"num_heads\": 2, \"model_args\": {\"use_rot_pos_emb\": true, "
                      "\"rope_type\": \"mixed\"}}",
                      "the config names RoPE-Mixed but tensor 'rope.freqs' is missing");
  expect_model_error (v3,
                      "{\"num_heads\": 2, \"architecture\": \"vit_small_patch16_dinov3\", "
                      "\"pretrained_cfg\": {\"input_size\": [3, 90, 90]}}",
                      "the config's image size 90 px is not a multiple of the patch size 16");
  GError *v3_error = NULL;
  HeedModel *v3_model = heed_model_load_from_data (
      v3.bytes, v3.size,
      "{\"num_heads\": 2, \"model_args\": {\"rope_type\": \"dinov3\", \"use_rot_pos_emb\": "
      "true, \"rope_temperature\": 1000}}",
      NULL, "dinov3", &v3_error);
  g_assert_no_error (v3_error);
  g_assert_cmpfloat (v3_model->config.rope_base, ==, 1000.0f);
  g_assert_cmpuint (v3_model->config.img_size, ==, 224); /* no size in the config */
  g_assert_false (v3_model->config.avg_pool);            /* nor a global_pool: the class token */
  heed_model_destroy (&v3_model);
  g_free (v3.bytes);
  const TensorSpec dinov3_repo[] = { { "patch_embed.proj.weight", 4, { 64, 3, 16, 16 } },
                                     { "storage_tokens", 3, { 1, 4, 64 } },
                                     { "blocks.0.norm1.weight", 1, { 64 } } };
  Blob repo = zeros_checkpoint (dinov3_repo, G_N_ELEMENTS (dinov3_repo));
  expect_model_error (repo, NULL, "a checkpoint of facebookresearch/dinov3's own (storage_tokens)");
  g_free (repo.bytes);
  Blob gated = read_blob ("hf_dinov3_gated_f32");
  expect_model_error (gated, "{\"model_type\": \"dinov3_vit\", \"num_attention_heads\": 2}",
                      "a gated MLP whose gate is \"gelu\" (hidden_act): heed gates by SiLU");
  g_free (gated.bytes);

  /* a missing file is an I/O error */
  GError *error = NULL;
  g_assert_null (heed_model_load ("/nonexistent/model.safetensors", &error));
  g_assert_error (error, HEED_ERROR, HEED_ERROR_IO);
  g_clear_error (&error);
  g_free (good.bytes);
}

/* Every prefix of a valid file is refused cleanly (a truncated download). */
static void
test_every_truncation (void)
{
  Blob good = read_blob ("hf_vit_f32");
  for (gsize n = 0; n < good.size; n += n < 4096 ? 1 : 997) {
    GError *error = NULL;
    guint8 *copy =
        g_memdup2 (good.bytes, MAX (n, 1)); /* exact-size copy: valgrind sees overreads */
    HeedModel *m = heed_model_load_from_data (copy, n, NULL, NULL, "cut", &error);
    g_assert_null (m);
    g_assert_error (error, HEED_ERROR, HEED_ERROR_MODEL);
    g_clear_error (&error);
    g_free (copy);
  }
  g_free (good.bytes);
}

static void
test_save_round_trip (void)
{
  HeedModelConfig shape = { .img_size = 32,
                            .patch_size = 8,
                            .dim = 48,
                            .depth = 2,
                            .num_heads = 3,
                            .mlp_hidden = 96,
                            .num_classes = 7 };
  GError *error = NULL;
  HeedModel *a = heed_model_new_random (&shape, 3, &error);
  char *dir = g_dir_make_tmp ("heed-test-XXXXXX", &error);
  char *path = g_build_filename (dir, "m.safetensors", NULL);
  g_assert_true (heed_model_save (a, path, &error));
  g_assert_no_error (error);
  HeedModel *b = heed_model_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (b->config.num_heads, ==, 3); /* 48/64 would fail: metadata carries it */
  g_assert_cmpmem (a->pos_embed, a->config.tokens * 48 * 4, b->pos_embed,
                   b->config.tokens * 48 * 4);
  g_assert_cmpmem (a->blocks[1].fc2_w, 48 * 96 * 4, b->blocks[1].fc2_w, 48 * 96 * 4);
  g_assert_cmpmem (a->head_b, 7 * 4, b->head_b, 7 * 4);
  g_assert_cmpfloat (b->config.mean[1], ==, a->config.mean[1]);
  g_unlink (path);
  /* what the plain layout's names cannot carry is refused, not written as something else */
  const char *const refused[][2] = { { "vit_cls_gap_norm_f32", "average pooling" },
                                     { "dinov2_swiglu_f32", "a SwiGLU MLP" },
                                     { "beit_f32", "a relative position bias" },
                                     { "eva02_base_f32", "a rotary position embedding" } };
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++) {
    HeedModel *special = load_fixture (refused[i][0]);
    g_assert_false (heed_model_save (special, path, &error));
    g_assert_error (error, HEED_ERROR, HEED_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, refused[i][1]));
    g_clear_error (&error);
    g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
    heed_model_destroy (&special);
  }
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
  heed_model_destroy (&a);
  heed_model_destroy (&b);
}

static void
edit_meta_mean (JsonObject *r)
{
  meta (r, "mean", "[0.1, 0.2, 0.3]");
  meta (r, "std", "[0.4, 0.5, 0.6]");
}

static void
edit_meta_crop (JsonObject *r)
{
  meta (r, "crop_pct", "2");
}

static void
test_preprocessing_configs (void)
{
  Blob good = read_blob ("headless_f32");
  /* nothing says anything: ImageNet's mean and std, a plain resize */
  HeedModel *m = load_with (good, NULL, NULL);
  HeedModelConfig *c = &m->config;
  g_assert_cmpfloat (c->mean[0], ==, 0.485f);
  g_assert_cmpfloat (c->std[2], ==, 0.225f);
  g_assert_cmpint (c->resize, ==, HEED_RESIZE_STRETCH);
  g_assert_cmpfloat (c->crop_fraction, ==, 1.0f);
  g_assert_nonnull (strstr (c->preprocess_source, "mean/std from ImageNet defaults"));
  heed_model_destroy (&m);

  /* timm's config.json: pretrained_cfg, as timm/vit_tiny_patch16_224 ships it */
  const char *timm = "{\"architecture\": \"vit_tiny_patch16_224\", \"num_classes\": 0, "
                     "\"pretrained_cfg\": {\"input_size\": [3, 48, 48], \"interpolation\": "
                     "\"bicubic\", \"mean\": [0.5, 0.5, 0.5], \"std\": [0.5, 0.5, 0.5], "
                     "\"crop_pct\": 0.9, \"crop_mode\": \"center\"}}";
  m = load_with (good, timm, NULL);
  c = &m->config;
  g_assert_cmpfloat (c->mean[1], ==, 0.5f);
  g_assert_cmpfloat (c->std[1], ==, 0.5f);
  g_assert_cmpint (c->resize, ==, HEED_RESIZE_CROP);
  /* the shorter side to floor (48 / 0.9) = 53, then a centre crop of 48 */
  g_assert_cmpfloat_with_epsilon (c->crop_fraction, 48.0f / 53.0f, 1e-6);
  g_assert_cmpint (c->interpolation, ==, HEED_INTERPOLATION_BICUBIC);
  g_assert_nonnull (strstr (c->preprocess_source, "mean/std from config.json pretrained_cfg"));
  g_assert_nonnull (strstr (c->preprocess_source, "crop from config.json pretrained_cfg"));
  heed_model_destroy (&m);

  /* transformers' preprocessor_config.json, as google/vit-* ships it: a plain resize */
  const char *vit = "{\"do_normalize\": true, \"do_rescale\": true, \"do_resize\": true, "
                    "\"image_mean\": [0.5, 0.5, 0.5], \"image_std\": [0.5, 0.5, 0.5], "
                    "\"resample\": 2, \"rescale_factor\": 0.00392156862745098, "
                    "\"size\": {\"height\": 48, \"width\": 48}}";
  m = load_with (good, NULL, vit);
  c = &m->config;
  g_assert_cmpfloat_with_epsilon (c->mean[0], 0.5f, 1e-6);
  g_assert_cmpfloat_with_epsilon (c->std[0], 0.5f, 1e-6);
  g_assert_cmpint (c->resize, ==, HEED_RESIZE_STRETCH);
  g_assert_cmpfloat (c->crop_fraction, ==, 1.0f);
  g_assert_cmpint (c->interpolation, ==, HEED_INTERPOLATION_BILINEAR);
  g_assert_nonnull (strstr (c->preprocess_source, "resize from preprocessor_config.json"));
  heed_model_destroy (&m);

  /* ... and as facebook/deit-* and DINOv2 ship it: shortest edge, then a centre crop */
  const char *deit = "{\"do_center_crop\": true, \"crop_size\": {\"height\": 48, \"width\": "
                     "48}, \"image_mean\": [0.485, 0.456, 0.406], \"image_std\": [0.229, 0.224, "
                     "0.225], \"resample\": 3, \"size\": {\"shortest_edge\": 55}}";
  m = load_with (good, NULL, deit);
  c = &m->config;
  g_assert_cmpint (c->resize, ==, HEED_RESIZE_CROP);
  g_assert_cmpfloat_with_epsilon (c->crop_fraction, 48.0f / 55.0f, 1e-6);
  g_assert_cmpint (c->interpolation, ==, HEED_INTERPOLATION_BICUBIC);
  heed_model_destroy (&m);

  /* OpenCLIP: open_clip's defaults where preprocess_cfg says nothing (OpenAI's mean/std, the
   * shorter side to the input then a centre crop, bicubic); "longest" letterboxes */
  Blob oc = read_blob_file ("open_clip_f32", "open_clip_model.safetensors");
  const char *oc_model = "\"model_cfg\": {\"quick_gelu\": true, \"vision_cfg\": {\"width\": 64, "
                         "\"head_width\": 32}}";
  char *cfg = g_strdup_printf ("{%s}", oc_model);
  m = load_with (oc, cfg, NULL);
  c = &m->config;
  g_assert_cmpfloat (c->std[2], ==, 0.27577711f);
  g_assert_cmpint (c->resize, ==, HEED_RESIZE_CROP);
  g_assert_cmpfloat (c->crop_fraction, ==, 1.0f);
  g_assert_cmpint (c->interpolation, ==, HEED_INTERPOLATION_BICUBIC);
  g_assert_nonnull (strstr (c->preprocess_source, "mean/std from OpenCLIP's defaults"));
  heed_model_destroy (&m);
  g_free (cfg);
  cfg = g_strdup_printf ("{%s, \"preprocess_cfg\": {\"resize_mode\": \"squash\", "
                         "\"interpolation\": \"bilinear\"}}",
                         oc_model);
  m = load_with (oc, cfg, NULL);
  g_assert_cmpint (m->config.resize, ==, HEED_RESIZE_STRETCH);
  g_assert_cmpint (m->config.interpolation, ==, HEED_INTERPOLATION_BILINEAR);
  g_assert_nonnull (
      strstr (m->config.preprocess_source, "squash from open_clip_config.json preprocess_cfg"));
  heed_model_destroy (&m);
  g_free (cfg);
  /* "random" (a training setting) is bicubic at eval, as open_clip's transform takes it */
  cfg = g_strdup_printf ("{%s, \"preprocess_cfg\": {\"interpolation\": \"random\"}}", oc_model);
  m = load_with (oc, cfg, NULL);
  g_assert_cmpint (m->config.interpolation, ==, HEED_INTERPOLATION_BICUBIC);
  heed_model_destroy (&m);
  g_free (cfg);
  cfg = g_strdup_printf ("{%s, \"preprocess_cfg\": {\"resize_mode\": \"longest\"}}", oc_model);
  m = load_with (oc, cfg, vit); /* transformers' processor beside it is not OpenCLIP's */
  g_assert_cmpint (m->config.resize, ==, HEED_RESIZE_LETTERBOX);
  g_assert_cmpfloat (m->config.mean[1], ==, 0.4578275f);
  heed_model_destroy (&m);
  g_free (cfg);
  g_free (oc.bytes);

  /* a rescale of its own folds into mean and std: x / 127.5 - 1 is (x / 255 - 0.5) / 0.5 */
  m = load_with (good, NULL,
                 "{\"rescale_factor\": 0.00784313725490196, \"image_mean\": [1, 1, 1], "
                 "\"image_std\": [1, 1, 1]}");
  g_assert_cmpfloat_with_epsilon (m->config.mean[2], 0.5f, 1e-6);
  g_assert_cmpfloat_with_epsilon (m->config.std[2], 0.5f, 1e-6);
  heed_model_destroy (&m);

  /* precedence: __metadata__, then timm's config, then transformers' */
  Blob with_meta = with_header (good, edit_meta_mean);
  m = load_with (with_meta, timm, deit);
  c = &m->config;
  g_assert_cmpfloat (c->mean[0], ==, 0.1f);
  g_assert_cmpfloat (c->std[2], ==, 0.6f);
  g_assert_cmpfloat_with_epsilon (c->crop_fraction, 48.0f / 53.0f, 1e-6); /* timm's, not deit's */
  g_assert_nonnull (strstr (c->preprocess_source, "mean/std from __metadata__"));
  heed_model_destroy (&m);
  g_free (with_meta.bytes);

  Blob bad = with_header (good, edit_meta_crop);
  expect_model_error (bad, NULL, "crop_pct must be a number in (0, 1]");
  g_free (bad.bytes);
  GError *error = NULL;
  g_assert_null (
      heed_model_load_from_data (good.bytes, good.size, NULL, "{\"size\": ", "m", &error));
  g_assert_error (error, HEED_ERROR, HEED_ERROR_MODEL);
  g_assert_nonnull (strstr (error->message, "preprocessor_config.json is not valid JSON"));
  g_clear_error (&error);
  g_free (good.bytes);
}

/* Heads from timm's config.json: model_args, or the architecture where its heads are not
 * dim / 64 (headless_f32: dim 64, one head by that rule) */
/* Swin (timm's and transformers'): the stages, windows and shifts from the tensors and the
 * config; the layouts beside them (SwinModel's names without swin., timm's older files with
 * patch merging at the end of a stage and head.weight); what heed does not run, refused with
 * one line; and what a Swin model cannot do (another input size, heed's own format). */
static void
test_swin (void)
{
  char *config_path = fixture_path ("swin_f32", "config.json"), *config = NULL;
  g_assert_true (g_file_get_contents (config_path, &config, NULL, NULL));
  for (guint k = 0; k < 2; k++) {
    HeedModel *m = load_fixture (k ? "hf_swin_f32" : "swin_f32");
    const HeedModelConfig *c = &m->config;
    g_assert_cmpuint (c->swin_stages, ==, 3);
    const guint dims[] = { 32, 64, 128 }, heads[] = { 2, 4, 8 }, grids[] = { 16, 8, 4 };
    const guint shifts[] = { 2, 2, 0 };
    for (guint s = 0; s < 3; s++) {
      g_assert_cmpuint (c->swin[s].dim, ==, dims[s]);
      g_assert_cmpuint (c->swin[s].heads, ==, heads[s]);
      g_assert_cmpuint (c->swin[s].grid, ==, grids[s]);
      g_assert_cmpuint (c->swin[s].window, ==, 4);
      g_assert_cmpuint (c->swin[s].shift, ==, shifts[s]);
      g_assert_cmpuint (c->swin[s].depth, ==, 2);
      g_assert_cmpuint (c->swin[s].mlp_hidden, ==, 4 * dims[s]);
    }
    g_assert_cmpuint (c->img_size, ==, 32);
    g_assert_cmpuint (c->patch_size, ==, 2);
    g_assert_cmpuint (c->grid, ==, 4);
    g_assert_cmpuint (c->tokens, ==, 16);
    g_assert_cmpuint (c->num_prefix, ==, 0);
    g_assert_cmpuint (c->dim, ==, 128);
    g_assert_cmpuint (c->num_heads, ==, 8);
    g_assert_cmpuint (c->depth, ==, 6);
    g_assert_cmpuint (c->num_classes, ==, 5);
    g_assert_true (c->avg_pool && c->pool_after_norm);
    g_assert_cmpfloat (c->ln_eps, ==, 1e-5f);
    g_assert_nonnull (c->labels);
    g_assert_cmpstr (c->names_read, ==, k ? "transformers' names under swin." : "timm's names");
    char *d = heed_model_describe (c);
    g_assert_nonnull (strstr (d, "Swin stages: 2 blocks, 2 heads, 16 x 16 in windows of 4"));
    g_free (d);
    /* another size: the same windows over the new grids, refused where a grid is smaller than
     * the window (a V1's table is its window's) */
    GError *error = NULL;
    g_assert_false (heed_model_set_input_size (m, 16, &error));
    g_assert_error (error, HEED_ERROR, HEED_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "stage 2's grid of 2 tokens a side (at 16 px)"));
    g_clear_error (&error);
    g_assert_cmpuint (c->img_size, ==, 32); /* unchanged by the refusal */
    /* where the windows do not tile a grid, it is padded to whole windows, the way the file's
     * names say (transformers' padding first, then the roll) */
    g_assert_true (heed_model_set_input_size (m, 40, &error));
    const guint grids40[] = { 20, 10, 5 }, padded40[] = { 20, 12, 8 };
    for (guint s = 0; s < 3; s++) {
      g_assert_cmpuint (c->swin[s].grid, ==, grids40[s]);
      g_assert_cmpuint (c->swin[s].padded, ==, padded40[s]);
      g_assert_cmpuint (c->swin[s].shift, ==, 2);
    }
    g_assert_cmpint (c->swin_pad_first, ==, k != 0);
    g_assert_true (heed_model_set_input_size (m, 64, &error));
    const guint grids64[] = { 32, 16, 8 };
    for (guint s = 0; s < 3; s++) {
      g_assert_cmpuint (c->swin[s].grid, ==, grids64[s]);
      g_assert_cmpuint (c->swin[s].window, ==, 4);
      g_assert_cmpuint (c->swin[s].shift, ==, 2);
    }
    g_assert_cmpuint (c->grid, ==, 8);
    g_assert_cmpuint (c->tokens, ==, 64);
    char *out = g_build_filename (g_get_tmp_dir (), "heed-swin-save.safetensors", NULL);
    g_assert_false (heed_model_save (m, out, &error));
    g_assert_error (error, HEED_ERROR, HEED_ERROR_INVALID);
    g_clear_error (&error);
    g_free (out);
    heed_model_destroy (&m);
  }
  /* SwinModel's own files (no swin. prefix); timm's older layout: the same weights */
  HeedModel *want = load_fixture ("swin_f32");
  Blob hf = read_blob ("hf_swin_f32"), timm = read_blob ("swin_f32");
  char *hf_config_path = fixture_path ("hf_swin_f32", "config.json"), *hf_config = NULL;
  g_assert_true (g_file_get_contents (hf_config_path, &hf_config, NULL, NULL));
  static const char *const unprefixed[][2] = { { "swin.", "" } };
  Blob bare = with_names_moved (hf, unprefixed, 1);
  HeedModel *m = load_with (bare, hf_config, NULL);
  g_assert_cmpuint (m->config.swin_stages, ==, 3);
  g_assert_cmpstr (m->config.names_read, ==, "transformers' names");
  heed_model_destroy (&m);
  /* SwinForMaskedImageModeling's mask token beside the stages: pretraining's, left unread */
  static const char *const masked[][2] = {
    { "swin.encoder.layers.0.blocks.0.attention.self.relative_position_index",
      "swin.embeddings.mask_token" }
  };
  Blob masked_blob = with_names_moved (hf, masked, 1);
  m = load_with (masked_blob, hf_config, NULL);
  heed_model_destroy (&m);
  g_free (masked_blob.bytes);
  static const char *const older[][2] = {
    { "layers.1.downsample.", "layers.0.downsample." },
    { "layers.2.downsample.", "layers.1.downsample." },
    { "head.fc.", "head." },
  };
  Blob old_timm = with_names_moved (timm, older, G_N_ELEMENTS (older));
  m = load_with (old_timm, config, NULL);
  for (guint s = 1; s < 3; s++)
    g_assert_cmpmem (m->merge_w[s], 2 * want->config.swin[s].dim * want->config.swin[s].dim * 4,
                     want->merge_w[s], 2 * want->config.swin[s].dim * want->config.swin[s].dim * 4);
  g_assert_cmpmem (m->head_w, 5 * 128 * 4, want->head_w, 5 * 128 * 4);
  heed_model_destroy (&m);
  heed_model_destroy (&want);
  /* refused: an absolute position embedding, another activation, a grid smaller than the
   * window, a tensor no Swin layout has */
  static const char *const ape[][2] = { { "patch_embed.norm.bias", "absolute_pos_embed" } };
  static const char *const extra[][2] = {
    { "swin.encoder.layers.0.blocks.0.attention.self.relative_position_index",
      "swin.encoder.layers.0.blocks.0.attention.self.q_norm" }
  };
  Blob ape_blob = with_names_moved (timm, ape, 1), extra_blob = with_names_moved (hf, extra, 1);
  expect_model_error (ape_blob, config, "an absolute position embedding");
  expect_model_error (hf, "{\"hidden_act\": \"relu\", \"image_size\": 32}",
                      "a Swin with activation relu");
  expect_model_error (timm, "{\"pretrained_cfg\": {\"input_size\": [3, 16, 16]}}",
                      "stage 2's grid of 2 tokens a side (at 16 px) is smaller than its window "
                      "of 4");
  /* made for 40 px: its grids of 10 and 5 padded to 12 and 8, timm's way */
  m = load_with (timm, "{\"pretrained_cfg\": {\"input_size\": [3, 40, 40]}}", NULL);
  g_assert_cmpuint (m->config.swin[1].padded, ==, 12);
  g_assert_cmpuint (m->config.swin[2].padded, ==, 8);
  g_assert_false (m->config.swin_pad_first);
  heed_model_destroy (&m);
  /* made for 64 px, its last stage 4 windows: the map is theirs together */
  m = load_with (timm, "{\"pretrained_cfg\": {\"input_size\": [3, 64, 64]}}", NULL);
  g_assert_cmpuint (m->config.grid, ==, 8);
  g_assert_cmpuint (m->config.swin[2].shift, ==, 2);
  heed_model_destroy (&m);
  expect_model_error (extra_blob, hf_config,
                      "tensor 'swin.encoder.layers.0.blocks.0.attention.self.q_norm' belongs to "
                      "no Swin layout");
  /* a stored lookup that is not heed's: a variant, not read as if it were the standard one */
  Blob bad_index = with_i64_set (
      hf, "swin.encoder.layers.1.blocks.1.attention.self.relative_position_index", 17, 3);
  expect_model_error (bad_index, hf_config,
                      "tensor 'swin.encoder.layers.1.blocks.1.attention.self.relative_position_"
                      "index' is not Swin's lookup of its table for windows of 4 x 4");
  g_free (bad_index.bytes);
  g_free (ape_blob.bytes), g_free (extra_blob.bytes);
  g_free (bare.bytes), g_free (old_timm.bytes), g_free (hf.bytes), g_free (timm.bytes);
  g_free (config), g_free (config_path), g_free (hf_config), g_free (hf_config_path);
}

/* Swin V2 (timm's and transformers'): the windows, which no tensor holds, from transformers'
 * config.json, timm's architecture name (with a pretraining window: windowPtoW_PSIZEtoSIZE) or
 * model_args, else the buffers the authors' files store; each stage's window cut to its grid;
 * a stored relative_coords_table or relative_position_index that is not what heed makes from
 * the config refused, and a file that says no window. */
static void
test_swinv2 (void)
{
  for (guint k = 0; k < 2; k++) {
    HeedModel *m = load_fixture (k ? "hf_swinv2_f32" : "swinv2_f32");
    const HeedModelConfig *c = &m->config;
    g_assert_true (c->swin_v2);
    g_assert_cmpuint (c->swin_stages, ==, 3);
    /* timm's windows of 8 over grids of 16, 8, 4: 4 windows (shifted by 4), one, one cut to 4 */
    const guint windows[2][3] = { { 8, 8, 4 }, { 4, 4, 4 } },
                shifts[2][3] = { { 4, 0, 0 }, { 2, 2, 0 } };
    const guint pretrained[2][3] = { { 0, 0, 0 }, { 6, 6, 3 } };
    for (guint s = 0; s < 3; s++) {
      g_assert_cmpuint (c->swin[s].window, ==, windows[k][s]);
      g_assert_cmpuint (c->swin[s].shift, ==, shifts[k][s]);
      g_assert_cmpuint (c->swin[s].pretrained_window, ==, pretrained[k][s]);
      g_assert_cmpuint (c->swin[s].heads, ==, 2u << s);
    }
    g_assert_nonnull (m->blocks[0].qk_scale);
    g_assert_cmpfloat_with_epsilon (m->blocks[0].qk_scale[0], 100.0, 1e-4); /* 4.8, cut */
    g_assert_cmpstr (c->names_read, ==, k ? "transformers' names under swinv2." : "timm's names");
    char *d = heed_model_describe (c);
    g_assert_nonnull (strstr (d, "Swin V2"));
    g_free (d);
    heed_model_destroy (&m);
  }
  Blob timm = read_blob ("swinv2_f32"), hf = read_blob ("hf_swinv2_f32");
  char *hf_config_path = fixture_path ("hf_swinv2_f32", "config.json"), *hf_config = NULL;
  g_assert_true (g_file_get_contents (hf_config_path, &hf_config, NULL, NULL));
  struct {
    const char *config;
    guint window, pretrained[3];
  } timm_configs[] = {
    /* fine-tuned at windows of 8 from 4 at 24 px: pretraining windows 4, 4 and 3 (its grid) */
    { "{\"architecture\": \"swinv2_tiny_window4to8_24to32\", "
      "\"pretrained_cfg\": {\"input_size\": [3, 32, 32]}}",
      8,
      { 4, 4, 3 } },
    { "{\"model_args\": {\"window_size\": 8, \"pretrained_window_sizes\": [2, 2, 2]}, "
      "\"pretrained_cfg\": {\"input_size\": [3, 32, 32]}}",
      8,
      { 2, 2, 2 } },
  };
  for (guint i = 0; i < G_N_ELEMENTS (timm_configs); i++) {
    HeedModel *m = load_with (timm, timm_configs[i].config, NULL);
    for (guint s = 0; s < 3; s++) {
      g_assert_cmpuint (m->config.swin[s].window, ==, MIN (timm_configs[i].window, 16u >> s));
      g_assert_cmpuint (m->config.swin[s].pretrained_window, ==, timm_configs[i].pretrained[s]);
    }
    heed_model_destroy (&m);
  }
  expect_model_error (timm, "{\"pretrained_cfg\": {\"input_size\": [3, 32, 32]}}",
                      "a Swin V2 checkpoint that says no window");
  expect_model_error (hf,
                      "{\"window_size\": 4, \"image_size\": 32, \"pretrained_window_sizes\": 6}",
                      "pretrained_window_sizes must be a list of windows");
  /* the stored offsets were made pretrained at 6, 6 and 3: a config that says otherwise, and the
   * authors' files without one (whose window is then the stored index's), are refused */
  expect_model_error (hf, "{\"window_size\": 4, \"image_size\": 32}",
                      "tensor 'swinv2.encoder.layers.0.blocks.0.attention.self.relative_coords_"
                      "table' is not Swin V2's offsets for windows of 4 pretrained at 4");
  expect_model_error (hf, "{\"image_size\": 32}", "is not Swin V2's offsets for windows of 4");
  Blob bad_index = with_i64_set (
      hf, "swinv2.encoder.layers.0.blocks.1.attention.self.relative_position_index", 40, 0);
  expect_model_error (bad_index, hf_config, "is not Swin's lookup of its table for windows of 4");
  g_free (bad_index.bytes), g_free (timm.bytes), g_free (hf.bytes);
  g_free (hf_config), g_free (hf_config_path);
}

static void
test_heads_from_config (void)
{
  GError *error = NULL;
  Blob headless = read_blob ("headless_f32");
  struct {
    const char *config;
    guint heads;
  } heads[] = {
    { "{\"architecture\": \"test_vit\"}", 2 },
    { "{\"architecture\": \"vit_huge_patch14_clip_224\"}", 16 },
    { "{\"architecture\": \"vit_so400m_patch14_siglip_gap_224\"}", 16 },
    { "{\"architecture\": \"vit_giant_patch14_dinov2\"}", 1 }, /* 1536 / 64 in timm too */
    { "{\"architecture\": \"vit_small_patch16_224\"}", 1 },
    { "{\"architecture\": \"test_vit\", \"model_args\": {\"num_heads\": 4}}", 4 },
    { "{\"architecture\": \"eva_giant_patch14_clip_224\"}", 16 }, /* EVA-01: 1408 */
  };
  for (guint i = 0; i < G_N_ELEMENTS (heads); i++) {
    HeedModel *m = heed_model_load_from_data (headless.bytes, headless.size, heads[i].config, NULL,
                                              "h", &error);
    g_assert_no_error (error);
    if (m->config.num_heads != heads[i].heads)
      g_error ("%s: %u heads, expected %u", heads[i].config, m->config.num_heads, heads[i].heads);
    /* timm's CLIP towers' LayerNorm eps is 1e-5, but not EVA's (timm's LayerNorm, 1e-6) */
    g_assert_cmpfloat (m->config.ln_eps, ==, i == 1 ? 1e-5f : 1e-6f);
    heed_model_destroy (&m);
  }
  g_free (headless.bytes);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  fixtures = g_strdup (g_getenv ("HEED_FIXTURES"));
  g_assert_nonnull (fixtures);
  g_test_add_func ("/model/fixture-configs", test_fixture_configs);
  g_test_add_func ("/model/corrupt-files", test_corrupt_files);
  g_test_add_func ("/model/preprocessing-configs", test_preprocessing_configs);
  g_test_add_func ("/model/every-truncation", test_every_truncation);
  g_test_add_func ("/model/save-round-trip", test_save_round_trip);
  g_test_add_func ("/model/heads-from-config", test_heads_from_config);
  g_test_add_func ("/model/swin", test_swin);
  g_test_add_func ("/model/swinv2", test_swinv2);
  int status = g_test_run ();
  g_free (fixtures);
  return status;
}
