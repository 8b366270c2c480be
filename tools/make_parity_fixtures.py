#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the PyTorch parity fixtures under tests/fixtures/: for each case a checkpoint with
seeded random weights (timm or Hugging Face names, F32/F16/BF16), an input tensor, and
PyTorch's logits, last-layer head-averaged CLS attention and CLS embedding.

    /usr/bin/python3 tools/make_parity_fixtures.py [OUTDIR [CASE...]]

The weights are drawn larger than timm's init (std 0.02 would make every attention row
uniform), so the attention maps are peaked and the test has something to find."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

import torch.nn.functional as F  # noqa: E402
from heed_torch import (VisionTransformer, aimv2_apple_visual, hf_aimv2_visual,  # noqa: E402
                        hf_tower_visual, timm_to_tower, timm_to_hf_internvl,
                        mirror_to_timm_beit, open_clip_visual, round_to, save_safetensors,
                        timm_to_aimv2_apple, timm_to_hf_aimv2, timm_to_open_clip,
                        timm_to_open_clip_trunk, timm_to_dinov2_repo, timm_to_hf, timm_to_hf_beit,
                        timm_to_hf_clip, timm_to_hf_dinov2, timm_to_hf_dinov3,
                        timm_to_hf_siglip, timm_to_hf_siglip2_naflex, timm_to_timm_eva,
                        SwinTransformer, hf_swin_visual, swinv2_coords_table,
                        timm_to_hf_swin)

# transformers' DINOv2 processor (facebook/dinov2-*'s preprocessor_config.json, BiT's), scaled to
# the fixtures' size: the shorter side to 64, a 56 px centre crop
DINOV2_PREPROCESSOR = {
    "crop_size": {"height": 56, "width": 56}, "do_center_crop": True, "do_convert_rgb": True,
    "do_normalize": True, "do_rescale": True, "do_resize": True,
    "image_mean": [0.485, 0.456, 0.406], "image_processor_type": "BitImageProcessor",
    "image_std": [0.229, 0.224, 0.225], "resample": 3, "rescale_factor": 0.00392156862745098,
    "size": {"shortest_edge": 64}}

# transformers' SigLIP processor (google/siglip-*'s preprocessor_config.json) at the fixtures'
# size: the whole image to 64 x 64, bicubic, mean = std = 0.5
SIGLIP_PREPROCESSOR = {"image_processor_type": "SiglipImageProcessor", "do_resize": True,
                       "size": {"height": 64, "width": 64}, "resample": 3, "do_rescale": True,
                       "rescale_factor": 1 / 255, "do_normalize": True,
                       "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}

# transformers' BEiT processor (microsoft/beit-base-patch16-224's preprocessor_config.json),
# scaled to the fixture's size: a plain resize to 64 x 64, bilinear, mean/std 0.5
BEIT_PREPROCESSOR = {
    "crop_size": {"height": 64, "width": 64}, "do_center_crop": False, "do_normalize": True,
    "do_reduce_labels": False, "do_rescale": True, "do_resize": True,
    "image_mean": [0.5, 0.5, 0.5], "image_processor_type": "BeitImageProcessor",
    "image_std": [0.5, 0.5, 0.5], "resample": 2, "rescale_factor": 0.00392156862745098,
    "size": {"height": 64, "width": 64}}

# transformers' DINOv3 processor (facebook/dinov3-*'s preprocessor_config.json) at the fixture's
# size: the whole image to 80 x 80, bilinear, ImageNet's mean/std
DINOV3_PREPROCESSOR = {
    "do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
    "image_mean": [0.485, 0.456, 0.406], "image_processor_type": "DINOv3ViTImageProcessorFast",
    "image_std": [0.229, 0.224, 0.225], "resample": 2, "rescale_factor": 0.00392156862745098,
    "size": {"height": 80, "width": 80}}

CASES = [
    # DeiT-Tiny's shape. No num_heads anywhere, like the hub's model.safetensors: dim/64 = 3.
    dict(name="deit_tiny_f16", img=224, patch=16, dim=192, depth=12, heads=3, classes=1000,
         dtype="F16", names="timm", heads_in="none"),
    # head dim 48, patch 8, 82 tokens (not a multiple of any tile), labels in the metadata
    dict(name="p8_hd48_f32", img=72, patch=8, dim=96, depth=3, heads=2, classes=10,
         dtype="F32", names="timm", heads_in="metadata", labels=True),
    # patch 14, head dim 32, 50 tokens, BF16, num_heads from a config.json beside the file
    dict(name="p14_hd32_bf16", img=98, patch=14, dim=128, depth=2, heads=4, classes=37,
         dtype="BF16", names="timm", heads_in="config"),
    # head-less backbone (no head.*), no qkv bias, 10 tokens, one head of 64
    dict(name="headless_f32", img=48, patch=16, dim=64, depth=2, heads=1, classes=0,
         dtype="F32", names="timm", heads_in="none", qkv_bias=False),
    # Hugging Face ViTForImageClassification names, config.json with eps 1e-12 and id2label
    dict(name="hf_vit_f32", img=64, patch=16, dim=80, depth=2, heads=5, classes=5,
         dtype="F32", names="hf", heads_in="config", eps=1e-12, labels=True),
    # DINOv2's layout as timm publishes it: patch 14, LayerScale (ls1/ls2.gamma), head-less
    dict(name="dinov2_ls_f32", img=56, patch=14, dim=96, depth=2, heads=3, classes=0,
         dtype="F32", names="timm", heads_in="metadata", layer_scale=True),
    # DeiT distilled: dist_token after the class token, head_dist averaged with head
    dict(name="deit_distilled_f32", img=48, patch=16, dim=64, depth=2, heads=2, classes=7,
         dtype="F32", names="timm", heads_in="metadata", distilled=True),
    # transformers' DeiTForImageClassificationWithTeacher (facebook/deit-*-distilled-*): "deit."
    # names, embeddings.distillation_token, cls_classifier and distillation_classifier averaged
    dict(name="hf_deit_distilled_f32", img=48, patch=16, dim=64, depth=2, heads=2, classes=7,
         dtype="F32", names="hf", hf_prefix="deit.", heads_in="config", eps=1e-12, labels=True,
         distilled=True, config={"model_type": "deit",
                                 "architectures": ["DeiTForImageClassificationWithTeacher"]}),
    # transformers' ViTMAEForPreTraining (facebook/vit-mae-*): ViT's vit. names and final
    # layernorm, the decoder beside them unread; run on every patch (mask_ratio is pretraining's
    # random masking); heads from config.json (dim / 64 would give 1); head-less
    dict(name="hf_mae_f32", img=64, patch=16, dim=64, depth=2, heads=4, classes=0,
         dtype="F32", names="hf", heads_in="config", eps=1e-12, mae_decoder=True,
         config={"model_type": "vit_mae", "architectures": ["ViTMAEForPreTraining"],
                 "mask_ratio": 0.75, "decoder_hidden_size": 32, "decoder_num_hidden_layers": 1,
                 "decoder_num_attention_heads": 2, "decoder_intermediate_size": 64,
                 "norm_pix_loss": False}),
    # transformers' IJepaForImageClassification (its IJepaModel is facebook/ijepa_vith14_1k's):
    # ViT's names under ijepa. without a class token, position_embeddings over the patches
    # alone, the classifier on the mean of every token after layernorm
    dict(name="hf_ijepa_f32", img=64, patch=16, dim=64, depth=2, heads=2, classes=5,
         dtype="F32", names="hf", hf_prefix="ijepa.", heads_in="config", eps=1e-6, labels=True,
         class_token=False, avg_pool=True, pool_after_norm=True,
         config={"model_type": "ijepa", "architectures": ["IJepaForImageClassification"]}),
    # transformers' Dinov2Model (facebook/dinov2-*): timm's names inside the blocks, LayerScale
    # as layer_scaleN.lambda1, a mask token; a 70 px checkpoint (5 x 5 grid) that transformers
    # runs at its processor's 56 px crop, pos_embed interpolated as its interpolate_pos_encoding
    # does (bicubic, align_corners=False, no antialiasing)
    dict(name="hf_dinov2_f32", img=70, patch=14, dim=96, depth=2, heads=3, classes=0,
         dtype="F32", names="hf_dinov2", heads_in="config", layer_scale=True, run_img=56,
         config={"model_type": "dinov2", "architectures": ["Dinov2Model"], "image_size": 70,
                 "layerscale_value": 1.0, "mlp_ratio": 4, "use_swiglu_ffn": False},
         preprocessor=DINOV2_PREPROCESSOR),
    # transformers' Dinov2ForImageClassification (facebook/dinov2-*-imagenet1k-1-layer):
    # "dinov2." names, a classifier over [class token; mean patch token], both after the norm
    dict(name="hf_dinov2_cls_f32", img=70, patch=14, dim=96, depth=2, heads=3, classes=5,
         dtype="F32", names="hf_dinov2", hf_prefix="dinov2.", heads_in="config", labels=True,
         layer_scale=True, run_img=56, patch_mean_head=True,
         config={"model_type": "dinov2", "architectures": ["Dinov2ForImageClassification"],
                 "image_size": 70, "layerscale_value": 1.0, "mlp_ratio": 4},
         preprocessor=DINOV2_PREPROCESSOR),
    # transformers' Dinov2WithRegisters (facebook/dinov2-with-registers-*): as above, and four
    # register tokens that go in after the class token once the positions are added
    dict(name="hf_dinov2_reg_f32", img=70, patch=14, dim=96, depth=2, heads=3, classes=0,
         dtype="F32", names="hf_dinov2", heads_in="config", layer_scale=True, run_img=56,
         reg_tokens=4, registers_after_pos=True,
         config={"model_type": "dinov2_with_registers",
                 "architectures": ["Dinov2WithRegistersModel"], "image_size": 70,
                 "layerscale_value": 1.0, "mlp_ratio": 4, "num_register_tokens": 4},
         preprocessor=DINOV2_PREPROCESSOR),
    # facebookresearch/dinov2's own checkpoints with registers (torch.hub's *_reg4_pretrain.pth):
    # timm's names, LayerScale, register_tokens after the class token once the positions are
    # added, pos_embed over the class token and the patches
    dict(name="dinov2_repo_reg_f32", img=56, patch=14, dim=96, depth=2, heads=3, classes=0,
         dtype="F32", names="dinov2_repo", heads_in="metadata", layer_scale=True, reg_tokens=4,
         registers_after_pos=True),
    # transformers' CLIPModel (openai/clip-vit-*): the image tower's vision_model. names beside
    # the text tower's, config.json's vision_config with CLIP's eps 1e-5 and QuickGELU
    dict(name="hf_clip_f32", img=64, patch=16, dim=64, depth=2, heads=2, classes=0, eps=1e-5,
         dtype="F32", names="hf_clip", heads_in="none", pre_norm=True, quick_gelu=True,
         config={"model_type": "clip", "architectures": ["CLIPModel"], "projection_dim": 8,
                 "text_config": {"hidden_size": 8, "num_attention_heads": 1},
                 "vision_config": {"hidden_size": 64, "num_attention_heads": 2, "patch_size": 16,
                                   "image_size": 64, "hidden_act": "quick_gelu",
                                   "layer_norm_eps": 1e-5, "intermediate_size": 256}}),
    # transformers' CLIPForImageClassification: the image tower's vision_model. names and a
    # classifier on the mean patch token of the last block, with no norm (post_layernorm is
    # there, unused); id2label beside the vision_config
    dict(name="hf_clip_cls_f32", img=64, patch=16, dim=64, depth=2, heads=2, classes=5,
         eps=1e-5, dtype="F32", names="hf_clip", heads_in="none", pre_norm=True,
         quick_gelu=True, avg_pool=True, pool_without_norm=True, labels=True,
         config={"model_type": "clip", "architectures": ["CLIPForImageClassification"],
                 "vision_config": {"hidden_size": 64, "num_attention_heads": 2, "patch_size": 16,
                                   "image_size": 64, "hidden_act": "quick_gelu",
                                   "layer_norm_eps": 1e-5, "intermediate_size": 256}}),
    # transformers' SiglipModel (google/siglip-*): CLIP's vision_model. names without a class
    # token or pre_layrnorm, a patch bias, the attention-pooling head. (probe, in_proj), GELU's
    # tanh approximation and eps 1e-6 from config.json's vision_config, a text tower beside it
    dict(name="hf_siglip_f32", img=64, patch=16, dim=64, depth=2, heads=2, classes=0,
         dtype="F32", names="hf_siglip", heads_in="none", class_token=False, map_pool=True,
         gelu_tanh=True,
         config={"model_type": "siglip", "architectures": ["SiglipModel"],
                 "text_config": {"hidden_size": 8, "num_attention_heads": 1},
                 "vision_config": {"hidden_size": 64, "num_attention_heads": 2, "patch_size": 16,
                                   "image_size": 64, "hidden_act": "gelu_pytorch_tanh",
                                   "layer_norm_eps": 1e-6, "intermediate_size": 256}},
         preprocessor=SIGLIP_PREPROCESSOR),
    # transformers' Siglip2Model with a NaFlex tower (google/siglip2-base-patch16-naflex): SigLIP's
    # layout, the patch embedding a Linear over (row, column, channel), num_patches positions;
    # its processor's max_num_patches square (a 4 x 4 grid here)
    dict(name="hf_siglip2_naflex_f32", img=64, patch=16, dim=64, depth=2, heads=2, classes=0,
         dtype="F32", names="hf_siglip2_naflex", heads_in="none", class_token=False,
         map_pool=True, gelu_tanh=True,
         config={"model_type": "siglip2", "architectures": ["Siglip2Model"],
                 "text_config": {"hidden_size": 8, "num_attention_heads": 1},
                 "vision_config": {"hidden_size": 64, "num_attention_heads": 2, "patch_size": 16,
                                   "num_patches": 16, "hidden_act": "gelu_pytorch_tanh",
                                   "layer_norm_eps": 1e-6, "intermediate_size": 256}},
         preprocessor={"image_processor_type": "Siglip2ImageProcessor", "do_resize": True,
                       "max_num_patches": 16, "patch_size": 16, "resample": 2,
                       "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
                       "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}),
    # transformers' SiglipForImageClassification: no pooling head, the classifier on the mean of
    # every token after post_layernorm; id2label beside the vision_config
    dict(name="hf_siglip_cls_f32", img=64, patch=16, dim=64, depth=2, heads=2, classes=5,
         dtype="F32", names="hf_siglip", heads_in="none", class_token=False, avg_pool=True,
         pool_after_norm=True, gelu_tanh=True, labels=True,
         config={"model_type": "siglip", "architectures": ["SiglipForImageClassification"],
                 "vision_config": {"hidden_size": 64, "num_attention_heads": 2, "patch_size": 16,
                                   "image_size": 64, "hidden_act": "gelu_pytorch_tanh",
                                   "layer_norm_eps": 1e-6, "intermediate_size": 256}},
         preprocessor=SIGLIP_PREPROCESSOR),
    # 4 register tokens and a pos_embed over the patches alone (timm's no_embed_class)
    dict(name="vit_reg4_f32", img=64, patch=16, dim=64, depth=2, heads=2, classes=5,
         dtype="F32", names="timm", heads_in="metadata", reg_tokens=4, no_embed_class=True),
    # a CLIP image tower as timm publishes OpenAI's: norm_pre, no patch bias, QuickGELU named
    # by the architecture in config.json, LayerNorm eps 1e-5 as timm's vit_*_clip_* set it
    dict(name="clip_quickgelu_f32", img=48, patch=16, dim=64, depth=2, heads=2, classes=6,
         dtype="F32", names="timm", heads_in="metadata", pre_norm=True, quick_gelu=True, eps=1e-5,
         config={"architecture": "vit_test_patch16_clip_quickgelu_48", "num_classes": 6}),
    # no class token: average pooling of the patch tokens, then fc_norm (global_pool="avg")
    dict(name="vit_gap_f32", img=48, patch=16, dim=64, depth=2, heads=2, classes=4,
         dtype="F32", names="timm", heads_in="metadata", class_token=False, avg_pool=True),
    # timm's average pooling with fc_norm=False (vit_medium_patch16_gap_*, the SigLIP *_gap_*
    # towers): the final norm on every token, then the mean of the patch tokens; no class token
    # (so no config needed), a register before the patches, LayerScale, no qkv bias
    dict(name="vit_gap_norm_f32", img=48, patch=16, dim=64, depth=2, heads=2, classes=5,
         dtype="F32", names="timm", heads_in="metadata", class_token=False, avg_pool=True,
         pool_after_norm=True, reg_tokens=1, no_embed_class=True, layer_scale=True,
         qkv_bias=False),
    # timm's attention pooling (global_pool="map": the SigLIP towers, vit_so150m_*_map_*): a
    # learnt query over every token after the final norm, then the pool's MLP; no class token,
    # a register (its column not in the map); GELU's tanh approximation as SigLIP 2's towers
    # (model_args.act_layer)
    dict(name="vit_map_f32", img=48, patch=16, dim=64, depth=2, heads=2, classes=4,
         dtype="F32", names="timm", heads_in="metadata", class_token=False, map_pool=True,
         reg_tokens=1, no_embed_class=True, gelu_tanh=True,
         config={"architecture": "vit_test_patch16_map_48", "global_pool": "map",
                 "num_classes": 4, "model_args": {"act_layer": "gelu_tanh"}}),
    # the same pooling with a class token, which only config.json's global_pool tells apart
    # from class-token pooling (timm's global_pool="avg", fc_norm=False)
    dict(name="vit_cls_gap_norm_f32", img=48, patch=16, dim=64, depth=2, heads=2, classes=3,
         dtype="F32", names="timm", heads_in="metadata", avg_pool=True, pool_after_norm=True,
         config={"architecture": "vit_test_patch16_gap_48", "global_pool": "avg",
                 "num_classes": 3}),
    # timm's BEiT (beit_*, beitv2_*): no pos_embed, a relative position bias table in every
    # block (relative_position_index beside it, as older checkpoints save it), the query's and
    # value's biases alone (q_bias, v_bias), LayerScale as gamma_1/gamma_2, the mean patch
    # token through fc_norm; no num_heads anywhere: the tables' columns give 2, where dim / 64
    # would give 1
    dict(name="beit_f32", img=64, patch=16, dim=64, depth=2, heads=2, classes=5, dtype="F32",
         names="timm_beit", heads_in="none", rel_pos="block", beit_qkv_bias=True,
         layer_scale=True, pos_embed=False, avg_pool=True, index=True,
         config={"architecture": "beit_test_patch16_64", "global_pool": "avg",
                 "num_classes": 5}),
    # transformers' BeitForImageClassification (microsoft/beit-*-patch16-224): "beit." names,
    # query/key/value with no key bias, lambda_1/lambda_2, the tables under
    # attention.attention.relative_position_bias., pooler.layernorm on the mean patch token,
    # eps 1e-12, id2label, BEiT's processor
    dict(name="hf_beit_f32", img=64, patch=16, dim=80, depth=2, heads=5, classes=5,
         dtype="F32", names="hf_beit", hf_prefix="beit.", heads_in="config", eps=1e-12,
         labels=True, rel_pos="block", beit_qkv_bias=True, layer_scale=True, pos_embed=False,
         avg_pool=True,
         config={"model_type": "beit", "architectures": ["BeitForImageClassification"],
                 "use_mean_pooling": True, "use_relative_position_bias": True,
                 "use_shared_relative_position_bias": False,
                 "use_absolute_position_embeddings": False, "layer_scale_init_value": 0.1},
         preprocessor=BEIT_PREPROCESSOR),
    # transformers' Data2VecVisionModel with what BEiT's pre-training checkpoints have: one
    # table shared by every block (encoder.relative_position_bias., its index beside it), an
    # absolute position embedding as well, the class token after the final layernorm; head-less
    dict(name="hf_data2vec_f32", img=48, patch=16, dim=64, depth=2, heads=4, classes=0,
         dtype="F32", names="hf_beit", hf_prefix="data2vec_vision.", heads_in="config",
         eps=1e-12, rel_pos="shared", beit_qkv_bias=True, layer_scale=True, index=True,
         config={"model_type": "data2vec-vision", "architectures": ["Data2VecVisionModel"],
                 "use_mean_pooling": False, "use_shared_relative_position_bias": True,
                 "use_absolute_position_embeddings": True}),
    # DINOv2 giant's SwiGLU MLP at a small size, as timm packs it (vit_giant_patch14_dinov2: fc1
    # gives the gate and the value, 2 x 40 outputs where fc2 reads 40), told by the architecture
    dict(name="dinov2_swiglu_f32", img=56, patch=14, dim=96, depth=2, heads=3, classes=0,
         dtype="F32", names="timm", heads_in="config", layer_scale=True, swiglu=True,
         mlp_hidden=40,
         config={"architecture": "vit_giant_patch14_dinov2", "num_classes": 0}),
    # the same in transformers' Dinov2Model with use_swiglu_ffn (facebook/dinov2-giant):
    # Dinov2SwiGLUFFN's weights_in and weights_out, hidden_act "gelu" there but unused
    dict(name="hf_dinov2_swiglu_f32", img=56, patch=14, dim=96, depth=2, heads=3, classes=0,
         dtype="F32", names="hf_dinov2", heads_in="config", layer_scale=True, swiglu=True,
         mlp_hidden=40,
         config={"model_type": "dinov2", "architectures": ["Dinov2Model"], "image_size": 56,
                 "layerscale_value": 1.0, "mlp_ratio": 4, "use_swiglu_ffn": True},
         preprocessor=DINOV2_PREPROCESSOR),
    # transformers' newer Dinov2SwiGLUFFN (LlamaMLP's names): gate_proj and up_proj, whose rows
    # heed stacks into one fc1, and down_proj
    dict(name="hf_dinov2_swiglu_split_f32", img=56, patch=14, dim=96, depth=2, heads=3,
         classes=0, dtype="F32", names="hf_dinov2", heads_in="config", layer_scale=True,
         swiglu=True, mlp_hidden=40, split_gate=True,
         config={"model_type": "dinov2", "architectures": ["Dinov2Model"], "image_size": 56,
                 "layerscale_value": 1.0, "mlp_ratio": 4, "use_swiglu_ffn": True},
         preprocessor=DINOV2_PREPROCESSOR),
    # and in facebookresearch/dinov2's own checkpoints (torch.hub's dinov2_vitg14*.pth):
    # SwiGLUFFNFused's w12 and w3
    dict(name="dinov2_repo_swiglu_f32", img=56, patch=14, dim=96, depth=2, heads=3, classes=0,
         dtype="F32", names="dinov2_repo", heads_in="metadata", layer_scale=True, swiglu=True,
         mlp_hidden=40),
    # timm's EVA-02 (eva.py) in EVA-02 Tiny's and Small's layout: the rotary position embedding
    # (told by the eva02_ architecture; learnt at a 16 x 16 grid, run here at 5 x 5), a fused
    # qkv with q_bias and v_bias, the SwiGLU MLP packed in fc1 (GluMlp), fc_norm on the mean
    # patch token, no final norm
    dict(name="eva02_tiny_f32", img=70, patch=14, dim=64, depth=2, heads=2, classes=5,
         dtype="F32", names="timm", heads_in="config", beit_qkv_bias=True, swiglu=True,
         mlp_hidden=40, avg_pool=True, rope_ref_grid=16,
         config={"architecture": "eva02_tiny_patch14_224", "global_pool": "avg",
                 "num_classes": 5}),
    # EVA-02 Base's and Large's: q_proj, k_proj (no bias) and v_proj apart, the gate and the
    # value apart (SwiGLU's fc1_g and fc1_x), a LayerNorm over the hidden layer (mlp.norm)
    dict(name="eva02_base_f32", img=56, patch=14, dim=96, depth=2, heads=3, classes=4,
         dtype="F32", names="timm", heads_in="config", split_qkv=True, swiglu=True,
         split_gate_timm=True, mlp_norm=True, mlp_hidden=48, avg_pool=True, rope_ref_grid=16,
         config={"architecture": "eva02_base_patch14_224", "global_pool": "avg",
                 "num_classes": 4}),
    # the same fine-tuned with timm's global_pool="token" (the final norm on the class token,
    # no fc_norm), so the last block runs its MLP and its norm on the class rows alone
    dict(name="eva02_token_f32", img=42, patch=14, dim=64, depth=2, heads=2, classes=3,
         dtype="F32", names="timm", heads_in="config", split_qkv=True, swiglu=True,
         split_gate_timm=True, mlp_norm=True, mlp_hidden=24, rope_ref_grid=16,
         config={"architecture": "eva02_base_patch14_224", "global_pool": "token",
                 "num_classes": 3}),
    # timm's EVA-02 CLIP image tower (eva02_base_patch16_clip_224): EVA-02 Base's layout with a
    # LayerNorm over the attention's output before its projection (attn.norm), patch 16 at a
    # 4 x 4 grid (learnt at 16 x 16), the class token after the final norm, the CLIP projection
    # as its head
    dict(name="eva02_clip_f32", img=64, patch=16, dim=64, depth=2, heads=2, classes=8,
         dtype="F32", names="timm", heads_in="config", split_qkv=True, swiglu=True,
         split_gate_timm=True, mlp_norm=True, attn_norm=True, mlp_hidden=32, rope_ref_grid=16,
         config={"architecture": "eva02_base_patch16_clip_224", "global_pool": "token",
                 "num_classes": 8}),
    # naver's RoPE-ViT (timm's vit_small_patch16_rope_224): the axial rotary embedding told by
    # the architecture (base 100, the column's pairs first, positions as plain indices), no
    # pos_embed, a fused qkv with its bias, LayerScale as gamma_1/gamma_2, the class token
    dict(name="rope_axial_f32", img=80, patch=16, dim=64, depth=2, heads=2, classes=5,
         dtype="F32", names="timm_eva", heads_in="config", layer_scale=True, pos_embed=False,
         rope_axial_base=100.0,
         config={"architecture": "vit_small_patch16_rope_224", "global_pool": "token",
                 "num_classes": 5, "pretrained_cfg": {"input_size": [3, 80, 80]}}),
    # Meta's Perception Encoder (timm's vit_pe_core_base_patch16_224, an Eva): EVA-02's rotary
    # embedding told by the architecture, column first, positions from 1 in units of the
    # checkpoint's own grid; pos_embed with the class token's row, a LayerNorm before the blocks
    # (norm_pre), no patch bias, LayerNorm eps 1e-5, attention pooling in 8 heads where the
    # blocks have 2, then the CLIP projection as its head
    dict(name="pe_core_f32", img=64, patch=16, dim=64, depth=2, heads=2, classes=6,
         dtype="F32", names="timm", heads_in="config", pre_norm=True, map_pool=True,
         pool_heads=8, eps=1e-5, rope_ref_grid=4, rope_columns_first=True, rope_grid_offset=1.0,
         sharpen_pool=True,
         config={"architecture": "vit_pe_core_base_patch16_224", "global_pool": "map",
                 "num_classes": 6, "pretrained_cfg": {"input_size": [3, 64, 64]}}),
    # the Perception Encoder's spatial models (timm's vit_pe_spatial_tiny_patch16_512): the same
    # rotary embedding, no final norm and no fc_norm, the mean patch token as it is (Eva's
    # global_pool "avg", told by the architecture), LayerScale as gamma_1/gamma_2; head-less
    dict(name="pe_spatial_f32", img=64, patch=16, dim=64, depth=2, heads=2, classes=0,
         dtype="F32", names="timm_eva", heads_in="config", pre_norm=True, avg_pool=True,
         pool_without_norm=True, layer_scale=True, eps=1e-5, rope_ref_grid=4,
         rope_columns_first=True, rope_grid_offset=1.0,
         config={"architecture": "vit_pe_spatial_tiny_patch16_512", "num_classes": 0,
                 "pretrained_cfg": {"input_size": [3, 64, 64]}}),
    # naver's RoPE-Mixed (timm's vit_small_patch16_rope_mixed_224): learnt frequencies for each
    # block, head and pair (rope.freqs), the column's and the row's, told by the tensor and the
    # architecture (which gives the axes' order)
    dict(name="rope_mixed_f32", img=64, patch=16, dim=64, depth=2, heads=2, classes=4,
         dtype="F32", names="timm_eva", heads_in="config", layer_scale=True, pos_embed=False,
         rope_mixed=True,
         config={"architecture": "vit_small_patch16_rope_mixed_224", "global_pool": "token",
                 "num_classes": 4, "pretrained_cfg": {"input_size": [3, 64, 64]}}),
    # timm's SBB ViTs with EVA-02's rotary embedding (vit_medium_patch16_rope_reg1_gap_256): no
    # class token, 1 register, no pos_embed, q_bias/v_bias, LayerScale, fc_norm after the mean
    # patch token; learnt at 16 x 16, run at 4 x 4
    dict(name="rope_sbb_f32", img=64, patch=16, dim=64, depth=2, heads=2, classes=3,
         dtype="F32", names="timm_eva", heads_in="config", beit_qkv_bias=True, layer_scale=True,
         class_token=False, reg_tokens=1, pos_embed=False, avg_pool=True, rope_ref_grid=16,
         config={"architecture": "vit_medium_patch16_rope_reg1_gap_256", "global_pool": "avg",
                 "num_classes": 3, "pretrained_cfg": {"input_size": [3, 64, 64]}}),
    # timm's DINOv3 (eva.py's Eva, vit_small_patch16_dinov3): DINOv3's rotary embedding (told
    # by the architecture; base 100, channel j turned with j + head_dim / 2), a class token and
    # 4 registers, no pos_embed, no qkv bias, LayerScale as gamma_1/gamma_2, the final norm on
    # every token then the mean patch token (global_pool "avg", no fc_norm); head-less, at the
    # pretrained_cfg's input size
    dict(name="dinov3_small_f32", img=80, patch=16, dim=64, depth=2, heads=2, classes=0,
         dtype="F32", names="timm_eva", heads_in="config", qkv_bias=False, layer_scale=True,
         reg_tokens=4, pos_embed=False, avg_pool=True, pool_after_norm=True, eps=1e-5,
         rope_dinov3_base=100.0,
         config={"architecture": "vit_small_patch16_dinov3", "global_pool": "avg",
                 "num_classes": 0, "pretrained_cfg": {
                     "input_size": [3, 80, 80], "crop_pct": 1.0, "interpolation": "bicubic",
                     "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}),
    # its "plus" and qkvb variants (vit_small_plus_patch16_dinov3_qkvb): SwiGLU with the gate
    # and the value apart (fc1_g, fc1_x), q_bias and v_bias beside a bias-less qkv; a head
    dict(name="dinov3_plus_f32", img=64, patch=16, dim=96, depth=2, heads=3, classes=4,
         dtype="F32", names="timm_eva", heads_in="config", beit_qkv_bias=True,
         layer_scale=True, reg_tokens=4, pos_embed=False, avg_pool=True, pool_after_norm=True,
         eps=1e-5, swiglu=True, split_gate_timm=True, mlp_hidden=40, rope_dinov3_base=100.0,
         config={"architecture": "vit_small_plus_patch16_dinov3_qkvb", "global_pool": "avg",
                 "num_classes": 4, "pretrained_cfg": {"input_size": [3, 64, 64]}}),
    # transformers' DINOv3ViTModel (facebook/dinov3-vits16-pretrain-lvd1689m): its own names,
    # q_proj and v_proj with a bias and k_proj without, rope_theta from config.json, the class
    # token after the final norm (its pooler_output); processed as its processor says
    dict(name="hf_dinov3_f32", img=80, patch=16, dim=64, depth=2, heads=2, classes=0,
         dtype="F32", names="hf_dinov3", heads_in="config", split_qkv=True, layer_scale=True,
         reg_tokens=4, pos_embed=False, eps=1e-5, rope_dinov3_base=100.0,
         config={"model_type": "dinov3_vit", "architectures": ["DINOv3ViTModel"],
                 "rope_theta": 100.0, "num_register_tokens": 4, "query_bias": True,
                 "key_bias": False, "value_bias": True, "layerscale_value": 1.0,
                 "use_gated_mlp": False},
         preprocessor=DINOV3_PREPROCESSOR),
    # its gated variant (dinov3-vits16plus, -vith16plus): gate_proj, up_proj, down_proj
    dict(name="hf_dinov3_gated_f32", img=64, patch=16, dim=64, depth=2, heads=2, classes=0,
         dtype="F32", names="hf_dinov3", heads_in="config", split_qkv=True, layer_scale=True,
         reg_tokens=4, pos_embed=False, eps=1e-5, swiglu=True, split_gate_timm=True,
         mlp_hidden=48, rope_dinov3_base=100.0,
         config={"model_type": "dinov3_vit", "architectures": ["DINOv3ViTModel"],
                 "rope_theta": 100.0, "num_register_tokens": 4, "use_gated_mlp": True,
                 "hidden_act": "silu"},
         preprocessor=dict(DINOV3_PREPROCESSOR, size={"height": 64, "width": 64})),
    # The hub's two layouts, with the files exactly as the hub ships them (tests/
    # test_hub_layouts.py). timm: ViT-Tiny's width (dim 192, 3 heads of 64) at depth 2, no
    # metadata, config.json as timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k has it.
    dict(name="hub_timm_vit", img=224, patch=16, dim=192, depth=2, heads=3, classes=1000,
         dtype="F16", names="timm", heads_in="none", hub="timm"),
    # transformers: ViTForImageClassification names, config.json and preprocessor_config.json
    # as google/vit-base-patch16-224 has them (mean/std 0.5, bilinear, 224 x 224)
    dict(name="hub_hf_vit", img=224, patch=16, dim=96, depth=2, heads=3, classes=10,
         dtype="F32", names="hf", heads_in="config", eps=1e-12, labels=True, hub="hf"),
    # OpenCLIP's own image tower (open_clip_model.safetensors beside open_clip_config.json, as
    # the hub's OpenCLIP repositories hold them; apple/DFN5B-CLIP-ViT-H-14's layout): the text
    # tower's tensors beside it, visual.transformer.resblocks with nn.MultiheadAttention's
    # in_proj, LayerScale (ls_init_value), proj [width, embed]; QuickGELU (model_cfg.quick_gelu)
    # and two heads (width / head_width) from the config alone; OpenAI's mean/std and open_clip's
    # default resize (the shorter side, a centre crop, bicubic), as laion's configs say it
    dict(name="open_clip_f32", img=64, patch=16, dim=64, depth=2, heads=2, classes=16,
         eps=1e-5, dtype="F32", names="open_clip", heads_in="none", pre_norm=True,
         quick_gelu=True, layer_scale=True, head_bias=False,
         weights_file="open_clip_model.safetensors",
         open_clip_config={
             "model_cfg": {"embed_dim": 16, "quick_gelu": True,
                           "vision_cfg": {"image_size": 64, "layers": 2, "width": 64,
                                          "head_width": 32, "patch_size": 16,
                                          "ls_init_value": 1e-5},
                           "text_cfg": {"context_length": 12, "vocab_size": 16, "width": 8,
                                        "heads": 1, "layers": 1}},
             "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073],
                                "std": [0.26862954, 0.26130258, 0.27577711]}}),
    # the same with the mean patch token normed after pooling (pool_type "avg",
    # final_ln_after_pool: ln_post as fc_norm), GELU, three 32-wide heads, in a PyTorch pickle
    # (open_clip_pytorch_model.bin)
    dict(name="open_clip_avg_f32", img=48, patch=16, dim=96, depth=2, heads=3, classes=8,
         eps=1e-5, dtype="F32", names="open_clip", heads_in="none", pre_norm=True,
         avg_pool=True, head_bias=False, weights_file="open_clip_pytorch_model.bin",
         open_clip_config={
             "model_cfg": {"embed_dim": 8,
                           "vision_cfg": {"image_size": 48, "layers": 2, "width": 96,
                                          "head_width": 32, "patch_size": 16,
                                          "pool_type": "avg", "final_ln_after_pool": True},
                           "text_cfg": {"context_length": 12, "vocab_size": 16, "width": 8,
                                        "heads": 1, "layers": 1}},
             "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
                                "interpolation": "bilinear", "resize_mode": "shortest"}}),
    # OpenCLIP's timm towers (timm/ViT-SO400M-16-SigLIP2-256's layout): timm's SigLIP under
    # visual.trunk. (no class token, attention pooling), a bias-less projection after it
    # (visual.head.proj, timm_proj "linear"); what vision_cfg.timm_model_name tells (16 heads,
    # GELU's tanh approximation) told by it alone
    dict(name="open_clip_trunk_f32", img=64, patch=16, dim=128, depth=2, heads=16, classes=16,
         dtype="F32", names="open_clip_trunk", heads_in="none", class_token=False, gelu_tanh=True,
         map_pool=True, sharpen_pool=True, head_bias=False,
         weights_file="open_clip_model.safetensors",
         open_clip_config={
             "model_cfg": {"embed_dim": 16, "init_logit_bias": -10, "custom_text": True,
                           "vision_cfg": {"image_size": 64,
                                          "timm_model_name": "vit_so400m_patch16_siglip_256",
                                          "timm_model_pretrained": False, "timm_pool": "map",
                                          "timm_proj": "linear"},
                           "text_cfg": {"context_length": 12, "vocab_size": 16, "width": 8,
                                        "heads": 1, "layers": 1}},
             "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
                                "interpolation": "bicubic", "resize_mode": "squash"}}),
]

# AIMv2's layout at the fixtures' size (timm's aimv2_*: patch 14, no class token, RmsNorm with
# eps 1e-5 everywhere and on the patch embedding, no biases but the patch embedding's, the SwiGLU
# gate and value apart, every normed token's mean; mlp_ratio 2.75)
AIMV2 = dict(img=56, patch=14, dim=64, depth=2, eps=1e-5, dtype="F32", heads_in="none",
             class_token=False, avg_pool=True, pool_after_norm=True, qkv_bias=False,
             proj_bias=False, rms_norm=True, patch_norm=True, swiglu=True, split_gate_timm=True,
             mlp_hidden=176)

# transformers' CLIPImageProcessor as apple/aimv2-*'s preprocessor_config.json has it, at the
# fixtures' size: the shorter side to 56, a 56 px centre crop, bicubic, OpenAI's mean/std
AIMV2_PREPROCESSOR = {
    "crop_size": {"height": 56, "width": 56}, "do_center_crop": True, "do_convert_rgb": True,
    "do_normalize": True, "do_rescale": True, "do_resize": True,
    "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_processor_type": "CLIPImageProcessor",
    "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3,
    "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 56}}

CASES += [
    # timm's InternViT-300M port (vit_intern300m_patch14_448, final_norm=False): LayerScale, no
    # final norm, the class token as the last block leaves it; heads dim / 64
    dict(name="vit_intern_f32", img=56, patch=14, dim=128, depth=2, heads=2, classes=0,
         dtype="F32", names="timm", heads_in="none", layer_scale=True, pool_without_norm=True,
         config={"architecture": "vit_intern300m_patch14_448", "num_classes": 0,
                 "global_pool": "token"}),
    # timm's aimv2_* (timm/aimv2-large-patch14-224.apple_pt's layout): its 8 heads from the
    # architecture's name alone, fine-tuned with a head here
    dict(AIMV2, name="timm_aimv2_f32", heads=8, classes=6, names="timm", labels=True,
         config={"architecture": "aimv2_large_patch14_224", "num_classes": 6,
                 "global_pool": "avg",
                 "pretrained_cfg": {"tag": "apple_pt", "input_size": [3, 56, 56],
                                    "interpolation": "bicubic", "crop_pct": 1.0,
                                    "crop_mode": "center",
                                    "mean": [0.48145466, 0.4578275, 0.40821073],
                                    "std": [0.26862954, 0.26130258, 0.27577711],
                                    "num_classes": 6, "first_conv": "patch_embed.proj",
                                    "classifier": "head", "license": "apple-ascl"}}),
    # Apple's own names (apple/aimv2-*'s first model.safetensors, AIMv2Model with remote code)
    # and its config.json
    dict(AIMV2, name="aimv2_apple_f32", heads=4, classes=0, names="aimv2_apple",
         config={"model_type": "aimv2", "architectures": ["AIMv2Model"], "hidden_size": 64,
                 "intermediate_size": 176, "num_attention_heads": 4, "num_hidden_layers": 2,
                 "image_size": 56, "patch_size": 14, "num_channels": 3, "rms_norm_eps": 1e-5,
                 "qkv_bias": False, "use_bias": False, "projection_dropout": 0.0},
         preprocessor=AIMV2_PREPROCESSOR),
    # transformers' Aimv2Model (its image tower under vision_model., the text tower beside it)
    # with config.json's vision_config
    dict(AIMV2, name="hf_aimv2_f32", heads=2, classes=0, names="hf_aimv2",
         config={"model_type": "aimv2", "architectures": ["Aimv2Model"], "projection_dim": 8,
                 "text_config": {"model_type": "aimv2_text_model", "hidden_size": 8,
                                 "num_attention_heads": 1, "rms_norm_eps": 1e-5},
                 "vision_config": {"model_type": "aimv2_vision_model", "hidden_size": 64,
                                   "intermediate_size": 176, "num_attention_heads": 2,
                                   "num_hidden_layers": 2, "image_size": 56, "patch_size": 14,
                                   "rms_norm_eps": 1e-5, "hidden_act": "silu", "qkv_bias": False,
                                   "mlp_bias": False, "use_head": False, "is_native": False}},
         preprocessor=AIMV2_PREPROCESSOR),
]

# transformers' BlipImageProcessor (Salesforce/blip-*'s preprocessor_config.json) at the
# fixtures' size: the whole image to 64 x 64, bicubic, OpenAI's mean/std
BLIP_PREPROCESSOR = {
    "do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
    "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_processor_type": "BlipImageProcessor",
    "image_std": [0.26862954, 0.26130258, 0.27577711], "processor_class": "BlipProcessor",
    "resample": 3, "rescale_factor": 0.00392156862745098, "size": {"height": 64, "width": 64}}

# a few of the tensors beside BLIP's image tower (its text decoder), and beside BLIP-2's (the
# query tokens, the Q-Former, the projection and the language model), which heed leaves unread
BLIP_TEXT_DECODER = {
    "text_decoder.bert.embeddings.word_embeddings.weight": torch.ones(16, 8),
    "text_decoder.bert.encoder.layer.0.attention.self.query.weight": torch.ones(8, 8),
    "text_decoder.bert.encoder.layer.0.crossattention.self.key.weight": torch.ones(8, 64),
    "text_decoder.cls.predictions.bias": torch.ones(16)}
BLIP2_BESIDE = {
    "query_tokens": torch.ones(1, 4, 8),
    "qformer.layernorm.weight": torch.ones(8),
    "qformer.encoder.layer.0.crossattention.attention.key.weight": torch.ones(8, 128),
    "language_projection.weight": torch.ones(8, 8),
    "language_model.model.decoder.layers.0.self_attn.q_proj.weight": torch.ones(8, 8)}

# a few of the tensors beside a VisionEncoderDecoderModel's image encoder: its ViTModel's
# pooler (unused: the decoder cross-attends to every token) and a GPT-2 decoder's
VED_BESIDE = {
    "encoder.pooler.dense.weight": torch.ones(64, 64), "encoder.pooler.dense.bias": torch.ones(64),
    "decoder.transformer.wte.weight": torch.ones(16, 8),
    "decoder.transformer.h.0.attn.c_attn.weight": torch.ones(8, 24),
    "decoder.transformer.h.0.crossattention.c_attn.weight": torch.ones(8, 16),
    "decoder.lm_head.weight": torch.ones(16, 8)}

# a few of the tensors beside the image tower in GIT (its text decoder, the visual projection)
# and in PaliGemma (the projector and the Gemma language model)
GIT_BESIDE = {
    "git.embeddings.word_embeddings.weight": torch.ones(16, 8),
    "git.visual_projection.visual_projection.0.weight": torch.ones(8, 64),
    "git.encoder.layer.0.attention.self.query.weight": torch.ones(8, 8),
    "output.weight": torch.ones(16, 8)}
PALIGEMMA_BESIDE = {
    "multi_modal_projector.linear.weight": torch.ones(8, 64),
    "language_model.model.embed_tokens.weight": torch.ones(16, 8),
    "language_model.model.layers.0.self_attn.q_proj.weight": torch.ones(8, 8),
    "language_model.model.norm.weight": torch.ones(8)}

CASES += [
    # transformers' GIT (microsoft/git-base*): CLIP's image tower under
    # git.image_encoder.vision_model., vision_config with neither the activation nor the eps
    # (GitVisionConfig's QuickGELU and 1e-5), CLIPImageProcessor's preprocessing
    dict(name="hf_git_f32", img=64, patch=16, dim=64, depth=2, heads=2, classes=0, eps=1e-5,
         dtype="F32", names="hf_clip", hf_prefix="git.image_encoder.vision_model.",
         heads_in="none", pre_norm=True, quick_gelu=True, beside=GIT_BESIDE,
         config={"model_type": "git", "architectures": ["GitForCausalLM"], "hidden_size": 8,
                 "vision_config": {"model_type": "git_vision_model", "hidden_size": 64,
                                   "num_attention_heads": 2, "patch_size": 16, "image_size": 64,
                                   "intermediate_size": 256}},
         preprocessor=dict(AIMV2_PREPROCESSOR, crop_size={"height": 64, "width": 64},
                           size={"shortest_edge": 64})),
    # PaliGemma's (google/paligemma-*): SigLIP's tower under vision_tower.vision_model. with no
    # pooling head (vision_use_head false), so the mean of its normed tokens
    dict(name="hf_paligemma_f32", img=64, patch=16, dim=64, depth=2, heads=2, classes=0,
         dtype="F32", names="hf_siglip", hf_prefix="vision_tower.vision_model.", heads_in="none",
         class_token=False, avg_pool=True, pool_after_norm=True, gelu_tanh=True,
         beside=PALIGEMMA_BESIDE,
         config={"model_type": "paligemma", "architectures": ["PaliGemmaForConditionalGeneration"],
                 "text_config": {"model_type": "gemma", "hidden_size": 8},
                 "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 64,
                                   "num_attention_heads": 2, "patch_size": 16, "image_size": 64,
                                   "intermediate_size": 256, "vision_use_head": False,
                                   "projection_dim": 8}},
         preprocessor=SIGLIP_PREPROCESSOR),
    # transformers' InternVL (OpenGVLab/InternVL3-*-hf): InternViT-300M under
    # model.vision_tower. in InternVLVisionModel's names (BEiT's, with q_proj, k_proj, v_proj,
    # projection_layer, lambda_1/lambda_2), no final norm (use_mean_pooling: the mean patch
    # token as it is), the projector's and language model's tensors beside it
    dict(name="hf_internvl_f32", img=56, patch=14, dim=128, depth=2, heads=4, classes=0,
         dtype="F32", names="hf_internvl", hf_prefix="model.vision_tower.", heads_in="none",
         layer_scale=True, avg_pool=True, pool_without_norm=True,
         beside={"model.multi_modal_projector.linear_1.weight": torch.ones(8, 512),
                 "model.language_model.embed_tokens.weight": torch.ones(16, 8),
                 "lm_head.weight": torch.ones(16, 8)},
         config={"model_type": "internvl", "architectures": ["InternVLForConditionalGeneration"],
                 "downsample_ratio": 0.5, "vision_feature_layer": -1,
                 "text_config": {"model_type": "qwen2", "hidden_size": 8},
                 "vision_config": {"model_type": "internvl_vision", "hidden_size": 128,
                                   "intermediate_size": 512, "num_attention_heads": 4,
                                   "num_hidden_layers": 2, "image_size": [56, 56],
                                   "patch_size": [14, 14], "norm_type": "layer_norm",
                                   "use_qk_norm": False, "use_mean_pooling": True,
                                   "layer_norm_eps": 1e-6, "hidden_act": "gelu",
                                   "attention_bias": True, "layer_scale_init_value": 0.1}}),
    # transformers' DepthAnythingForDepthEstimation (depth-anything/Depth-Anything-V2-*-hf):
    # DINOv2's names under backbone., its settings in config.json's backbone_config, the neck's
    # and depth head's tensors beside them; DPTImageProcessor's whole image at 56 x 56
    dict(name="hf_depth_anything_f32", img=56, patch=14, dim=96, depth=2, heads=3, classes=0,
         dtype="F32", names="hf_dinov2", hf_prefix="backbone.", heads_in="config",
         layer_scale=True, config_under="backbone_config",
         beside={"neck.reassemble_stage.layers.0.projection.weight": torch.ones(8, 96, 1, 1),
                 "neck.fusion_stage.layers.0.projection.weight": torch.ones(8, 8, 1, 1),
                 "head.conv1.weight": torch.ones(4, 8, 3, 3), "head.conv3.bias": torch.ones(1)},
         config={"model_type": "depth_anything",
                 "architectures": ["DepthAnythingForDepthEstimation"],
                 "depth_estimation_type": "relative", "neck_hidden_sizes": [8, 8],
                 "fusion_hidden_size": 8, "head_hidden_size": 4,
                 "backbone_config": {"model_type": "dinov2", "architectures": ["Dinov2Model"],
                                     "layerscale_value": 1.0, "out_indices": [1, 2],
                                     "reshape_hidden_states": False}},
         preprocessor={"do_normalize": True, "do_pad": False, "do_rescale": True,
                       "do_resize": True, "ensure_multiple_of": 14,
                       "image_mean": [0.485, 0.456, 0.406],
                       "image_processor_type": "DPTImageProcessor",
                       "image_std": [0.229, 0.224, 0.225], "keep_aspect_ratio": True,
                       "resample": 3, "rescale_factor": 0.00392156862745098,
                       "size": {"height": 56, "width": 56}}),
    # transformers' VisionEncoderDecoderModel (nlpconnect/vit-gpt2-image-captioning,
    # microsoft/trocr-*): ViT's names under encoder., its settings in config.json's encoder
    dict(name="hf_ved_f32", img=64, patch=16, dim=64, depth=2, heads=4, classes=0, eps=1e-12,
         dtype="F32", names="hf", hf_prefix="encoder.", heads_in="config", beside=VED_BESIDE,
         config_under="encoder",
         config={"architectures": ["VisionEncoderDecoderModel"],
                 "model_type": "vision-encoder-decoder", "is_encoder_decoder": True,
                 "decoder": {"model_type": "gpt2", "add_cross_attention": True, "n_embd": 8,
                             "n_head": 1, "n_layer": 1, "vocab_size": 16},
                 "encoder": {"model_type": "vit", "architectures": ["ViTModel"],
                             "qkv_bias": True}},
         preprocessor={"do_normalize": True, "do_resize": True,
                       "feature_extractor_type": "ViTFeatureExtractor",
                       "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
                       "resample": 2, "size": 64}),
    # transformers' BlipForConditionalGeneration (Salesforce/blip-image-captioning-*): its image
    # tower under vision_model. beside the text decoder, vision_config without the eps (the
    # class's 1e-5)
    dict(name="hf_blip_f32", img=64, patch=16, dim=64, depth=2, heads=4, classes=0, eps=1e-5,
         dtype="F32", names="hf_blip", heads_in="none", beside=BLIP_TEXT_DECODER,
         config={"model_type": "blip", "architectures": ["BlipForConditionalGeneration"],
                 "projection_dim": 8,
                 "text_config": {"model_type": "blip_text_model", "hidden_size": 8,
                                 "vocab_size": 16, "num_attention_heads": 1},
                 "vision_config": {"model_type": "blip_vision_model", "hidden_size": 64,
                                   "intermediate_size": 256, "num_attention_heads": 4,
                                   "num_hidden_layers": 2, "image_size": 64, "patch_size": 16}},
         preprocessor=BLIP_PREPROCESSOR),
    # BLIP-2's (Salesforce/blip2-*, InstructBLIP's alike): EVA's tower with the query's and
    # value's biases beside a bias-less qkv; vision_config without the heads or the eps (the
    # class's 16 and 1e-6: 128 / 64 would be 2)
    dict(name="hf_blip2_f32", img=56, patch=14, dim=128, depth=2, heads=16, classes=0, eps=1e-6,
         dtype="F32", names="hf_blip", heads_in="none", beit_qkv_bias=True, beside=BLIP2_BESIDE,
         config={"model_type": "blip-2", "architectures": ["Blip2ForConditionalGeneration"],
                 "num_query_tokens": 4,
                 "qformer_config": {"model_type": "blip_2_qformer", "hidden_size": 8},
                 "text_config": {"model_type": "opt", "hidden_size": 8},
                 "vision_config": {"model_type": "blip_2_vision_model", "hidden_size": 128,
                                   "intermediate_size": 512, "num_hidden_layers": 2,
                                   "image_size": 56, "patch_size": 14, "qkv_bias": True}},
         preprocessor=dict(BLIP_PREPROCESSOR, size={"height": 56, "width": 56})),
    # InternViT's own code (OpenGVLab/InternViT-300M-448px*: InternVisionModel, trust_remote_code):
    # timm's InternViT-300M port's layout in its own names (embeddings.class_embedding,
    # patch_embedding, position_embedding; encoder.layers.N with bare ls1/ls2), config.json as
    # that repository ships it (its eps left at InternVisionConfig's 1e-6), and its
    # CLIPFeatureExtractor preprocessor_config.json at the fixtures' size
    dict(name="intern_vit_f32", img=56, patch=14, dim=128, depth=2, heads=2, classes=0,
         eps=1e-6, dtype="F32", names="intern_vit", hf_prefix="", heads_in="none", layer_scale=True,
         pool_without_norm=True,
         config={"architectures": ["InternVisionModel"], "model_type": "intern_vit_6b",
                 "auto_map": {"AutoConfig": "configuration_intern_vit.InternVisionConfig",
                              "AutoModel": "modeling_intern_vit.InternVisionModel"},
                 "hidden_size": 128, "intermediate_size": 512, "num_attention_heads": 2,
                 "num_hidden_layers": 2, "image_size": 56, "patch_size": 14,
                 "norm_type": "layer_norm", "qk_normalization": False, "qkv_bias": True,
                 "hidden_act": "gelu", "use_flash_attn": False, "drop_path_rate": 0.0},
         preprocessor={"crop_size": 56, "do_center_crop": True, "do_normalize": True,
                       "do_resize": True, "feature_extractor_type": "CLIPFeatureExtractor",
                       "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
                       "resample": 3, "size": 56}),
]

TIMM_PRETRAINED_CFG = {
    "tag": "augreg_in21k_ft_in1k", "custom_load": True, "input_size": [3, 224, 224],
    "fixed_input_size": True, "interpolation": "bicubic", "crop_pct": 0.9,
    "crop_mode": "center", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
    "num_classes": 1000, "pool_size": None, "first_conv": "patch_embed.proj",
    "classifier": "head"}

HF_PREPROCESSOR = {
    "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
    "image_processor_type": "ViTImageProcessor", "image_std": [0.5, 0.5, 0.5], "resample": 2,
    "rescale_factor": 0.00392156862745098, "size": {"height": 224, "width": 224}}


# Swin at a fixture's size: 3 stages over a 16, 8 and 4 grid with windows of 4 (16 windows,
# then 4, both with their odd block shifted by 2, then one window over the whole grid),
# 2 heads of 16, then 4 and 8
SWIN = dict(img=32, patch=2, dim=128, depth=6, heads=8, classes=5, dtype="F32", labels=True,
            swin=dict(dims=[32, 64, 128], depths=[2, 2, 2], heads=[2, 4, 8], window=4))


def swin_timm_config(arch):
    """timm's config.json for the Swin fixtures: the architecture, its pretrained_cfg."""
    return {"architecture": arch, "num_classes": 5, "num_features": 128, "global_pool": "avg",
            "pretrained_cfg": {"input_size": [3, 32, 32], "interpolation": "bicubic",
                               "crop_pct": 0.9, "crop_mode": "center",
                               "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}


def swin_hf_case(name, model_type, architecture, window, **config):
    """A transformers Swin fixture: its config.json (and config's more settings) and its
    ViTImageProcessor's preprocessor_config.json (bicubic, ImageNet's)."""
    return dict(SWIN, name=name, names="hf_swin", heads_in="none",
                config=dict({"model_type": model_type, "architectures": [architecture],
                             "embed_dim": 32, "depths": [2, 2, 2], "num_heads": [2, 4, 8],
                             "window_size": window, "image_size": 32, "patch_size": 2,
                             "num_channels": 3, "mlp_ratio": 4.0, "qkv_bias": True,
                             "hidden_act": "gelu", "layer_norm_eps": 1e-5,
                             "use_absolute_embeddings": False, "patch_norm": True,
                             "encoder_stride": 32}, **config),
                preprocessor={"do_normalize": True, "do_rescale": True, "do_resize": True,
                              "image_mean": [0.485, 0.456, 0.406],
                              "image_std": [0.229, 0.224, 0.225],
                              "image_processor_type": "ViTImageProcessor", "resample": 3,
                              "rescale_factor": 0.00392156862745098,
                              "size": {"height": 32, "width": 32}})


CASES += [
    # timm's swin_*_patch4_window7_224 (timm 0.9 on: patch merging at the start of the stage it
    # feeds, head.fc), its config.json's pretrained_cfg
    dict(SWIN, name="swin_f32", names="timm", heads_in="none",
         config=swin_timm_config("swin_tiny_patch4_window7_224")),
    # transformers' SwinForImageClassification (microsoft/swin-tiny-patch4-window7-224): "swin."
    # names, query, key and value apart, each block's relative_position_index, patch merging at
    # the end of the stage before, config.json and its ViTImageProcessor (bicubic, ImageNet's)
    swin_hf_case("hf_swin_f32", "swin", "SwinForImageClassification", 4),
]

# Swin V2 at a fixture's size, the same stages: timm's with windows of 8 (4 windows over the
# first stage's grid, shifted by 4 in its odd block; one over the second's, unshifted; the third
# stage's 4 x 4 grid one window, the window cut to it), transformers' with windows of 4 and
# pretraining windows of 6, 6 and 3 (the position MLP's offsets over 5 and 2, not 3)
SWINV2 = dict(SWIN, swin=dict(SWIN["swin"], v2=True))
CASES += [
    # timm's swinv2_*_window8_256: cosine attention, q_bias and v_bias, the position MLP
    # (cpb_mlp), the norms after the attention and MLP, patch merging's norm after its Linear;
    # the window from the architecture's name
    dict(SWINV2, name="swinv2_f32", names="timm", heads_in="none",
         swin=dict(SWINV2["swin"], window=8), config=swin_timm_config("swinv2_tiny_window8_256")),
    # transformers' Swinv2ForImageClassification (microsoft/swinv2-tiny-patch4-window8-256):
    # "swinv2." names, the query's and value's biases (the key has none), each block's
    # relative_position_index and relative_coords_table (buffers older files hold), config.json's
    # window_size and pretrained_window_sizes
    dict(swin_hf_case("hf_swinv2_f32", "swinv2", "Swinv2ForImageClassification", 4,
                      pretrained_window_sizes=[6, 6, 3]),
         swin=dict(SWINV2["swin"], pretrained=[6, 6, 3])),
]


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def write_hub_configs(case, d, labels):
    """config.json (and preprocessor_config.json) with every key the hub's files have."""
    if case["hub"] == "timm":
        write_json(os.path.join(d, "config.json"), {
            "architecture": "vit_tiny_patch16_224", "num_classes": case["classes"],
            "num_features": case["dim"], "global_pool": "token",
            "pretrained_cfg": TIMM_PRETRAINED_CFG})
        return
    write_json(os.path.join(d, "config.json"), {
        "_name_or_path": "google/vit-base-patch16-224",
        "architectures": ["ViTForImageClassification"], "attention_probs_dropout_prob": 0.0,
        "encoder_stride": case["patch"], "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
        "hidden_size": case["dim"], "id2label": {str(i): l for i, l in enumerate(labels)},
        "image_size": case["img"], "initializer_range": 0.02,
        "intermediate_size": 4 * case["dim"],
        "label2id": {l: i for i, l in enumerate(labels)}, "layer_norm_eps": case["eps"],
        "model_type": "vit", "num_attention_heads": case["heads"], "num_channels": 3,
        "num_hidden_layers": case["depth"], "patch_size": case["patch"], "qkv_bias": True,
        "torch_dtype": "float32", "transformers_version": "4.35.2"})
    write_json(os.path.join(d, "preprocessor_config.json"), HF_PREPROCESSOR)


def randomise(model, gen, sharpen_pool=False):
    def uniform(t, scale, offset=0.0):
        with torch.no_grad():
            t.copy_(offset + scale * (2 * torch.rand(t.shape, generator=gen) - 1))

    for name, p in model.named_parameters():
        if name in ("cls_token", "pos_embed", "dist_token", "reg_token"):
            uniform(p, 0.5)
        elif name == "rope.freqs":  # RoPE-Mixed's: turns of up to a radian a patch
            uniform(p, 1.0)
        elif name.endswith(".gamma"):  # LayerScale: far from 1, so a missed scale shows
            uniform(p, 0.4, 0.6)
        elif name.endswith("relative_position_bias_table"):  # BEiT's: as large as the scores
            uniform(p, 2.0)
        elif name.endswith("logit_scale"):  # Swin V2's: scales of 2.7 to 20, the first head's
            uniform(p, 1.0, 2.0)            # past the clamp at 100
            with torch.no_grad():
                p[0] = 4.8
        elif name.endswith("cpb_mlp.2.weight"):  # biases from 16 sigmoid (...) that vary by
            uniform(p, 0.2)                      # several units, so a wrong offset shows
        elif "norm" in name and name.endswith("weight"):
            uniform(p, 0.2, 1.0)
        elif name.endswith("bias"):
            uniform(p, 0.1)
        else:  # Linear and Conv weights: +-1/sqrt(fan_in), then sharpen the attention
            fan_in = p[0].numel()
            sharpen = any(part in name for part in (".qkv.", ".q_proj.", ".k_proj."))
            # the pool's query and keys too (sharpen_pool), so that its map is far from uniform
            pool_qk = sharpen_pool and name.startswith(("attn_pool.q.", "attn_pool.kv."))
            uniform(p, (6.0 if pool_qk else 2.0 if sharpen else 1.0) / fan_in ** 0.5)


def model_for(case, img=None):
    """The case's PyTorch model (untrained), at its own size or at img px."""
    return VisionTransformer(img or case["img"], case["patch"], case["dim"], case["depth"],
                             case["heads"], case["classes"], eps=case.get("eps", 1e-6),
                             qkv_bias=case.get("qkv_bias", True),
                             layer_scale=case.get("layer_scale", False),
                             distilled=case.get("distilled", False),
                             reg_tokens=case.get("reg_tokens", 0),
                             no_embed_class=case.get("no_embed_class", False),
                             pre_norm=case.get("pre_norm", False),
                             quick_gelu=case.get("quick_gelu", False),
                             class_token=case.get("class_token", True),
                             avg_pool=case.get("avg_pool", False),
                             registers_after_pos=case.get("registers_after_pos", False),
                             patch_mean_head=case.get("patch_mean_head", False),
                             pool_after_norm=case.get("pool_after_norm", False),
                             map_pool=case.get("map_pool", False),
                             gelu_tanh=case.get("gelu_tanh", False),
                             pool_without_norm=case.get("pool_without_norm", False),
                             rel_pos=case.get("rel_pos"),
                             beit_qkv_bias=case.get("beit_qkv_bias", False),
                             pos_embed=case.get("pos_embed", True),
                             mlp_hidden=case.get("mlp_hidden"),
                             swiglu=case.get("swiglu", False),
                             rope_ref_grid=case.get("rope_ref_grid", 0),
                             split_qkv=case.get("split_qkv", False),
                             split_gate=case.get("split_gate_timm", False),
                             mlp_norm=case.get("mlp_norm", False),
                             rope_dinov3_base=case.get("rope_dinov3_base", 0.0),
                             attn_norm=case.get("attn_norm", False),
                             rope_axial_base=case.get("rope_axial_base", 0.0),
                             rope_mixed=case.get("rope_mixed", False),
                             rope_columns_first=case.get("rope_columns_first", False),
                             rope_grid_offset=case.get("rope_grid_offset", 0.0),
                             pool_heads=case.get("pool_heads"),
                             rms_norm=case.get("rms_norm", False),
                             patch_norm=case.get("patch_norm", False),
                             proj_bias=case.get("proj_bias", True)).eval()


def build(case):
    """The case's PyTorch model, with the weights its checkpoint stores, and its input."""
    gen = torch.Generator().manual_seed(sum(map(ord, case["name"])))
    sw = case.get("swin")
    model = (SwinTransformer(case["img"], case["patch"], sw["dims"], sw["depths"], sw["heads"],
                             sw["window"], case["classes"], v2=sw.get("v2", False),
                             pretrained_windows=sw.get("pretrained")).eval()
             if sw else model_for(case))
    randomise(model, gen, case.get("sharpen_pool", False))
    with torch.no_grad():  # the reference must use exactly the stored values
        if not case.get("head_bias", True):  # OpenCLIP's projections
            model.head.bias.zero_()
        for p in model.parameters():
            p.copy_(round_to(p, case["dtype"]))
    return model, torch.randn(1, 3, case["img"], case["img"], generator=gen)


def at_run_size(case, model):
    """The case's model as transformers' DINOv2 runs it at the processor's size: the patch
    positions interpolated to the new grid (bicubic, align_corners=False, no antialiasing), the
    class position kept; and an input of that size."""
    grid, new = case["img"] // case["patch"], case["run_img"] // case["patch"]
    pos = model.pos_embed.detach()
    patches = pos[:, 1:].reshape(1, grid, grid, -1).permute(0, 3, 1, 2)
    patches = F.interpolate(patches, size=(new, new), mode="bicubic", align_corners=False)
    state = dict(model.state_dict(), pos_embed=torch.cat(
        [pos[:, :1], patches.permute(0, 2, 3, 1).reshape(1, new * new, -1)], 1))
    run = model_for(case, case["run_img"])
    run.load_state_dict(state)
    gen = torch.Generator().manual_seed(case["run_img"])
    return run, torch.randn(1, 3, case["run_img"], case["run_img"], generator=gen)


def build_as_run(case):
    """The model and input the fixture's outputs come from (at the processor's size where the
    case runs at another), and the checkpoint's own weights."""
    model, x = build(case)
    checkpoint = model.state_dict()
    if case.get("run_img"):
        model, x = at_run_size(case, model)
    return model, x, checkpoint


def mae_decoder(case):
    """ViTMAEForPreTraining's decoder (one layer, 32 wide), as its files hold it beside the
    encoder: random values heed must leave unread."""
    gen = torch.Generator().manual_seed(len(case["name"]))
    w, tokens = 32, (case["img"] // case["patch"]) ** 2 + 1
    layer = "decoder.decoder_layers.0."
    shapes = {"decoder.decoder_embed.weight": (w, case["dim"]), "decoder.decoder_embed.bias": (w,),
              "decoder.mask_token": (1, 1, w), "decoder.decoder_pos_embed": (1, tokens, w),
              "decoder.decoder_norm.weight": (w,), "decoder.decoder_norm.bias": (w,),
              "decoder.decoder_pred.weight": (3 * case["patch"] ** 2, w),
              "decoder.decoder_pred.bias": (3 * case["patch"] ** 2,)}
    for part in ("query", "key", "value"):
        shapes[f"{layer}attention.attention.{part}.weight"] = (w, w)
    for name, shape in (("attention.output.dense", (w, w)), ("intermediate.dense", (64, w)),
                        ("output.dense", (w, 64))):
        shapes[f"{layer}{name}.weight"] = shape
    for name in ("layernorm_before", "layernorm_after"):
        shapes[f"{layer}{name}.weight"] = (w,)
    return {k: torch.randn(v, generator=gen) for k, v in shapes.items()}


def make(case, outdir):
    model, x, sd = build_as_run(case)
    eps = case.get("eps", 1e-6)
    with torch.no_grad():
        emb = model.forward_features(x)
        logits = model(x)
        attn = model.cls_attention()

    d = os.path.join(outdir, case["name"])
    os.makedirs(d, exist_ok=True)
    labels = [f"class {i} of {case['name']}" for i in range(case["classes"])]
    meta = {"format": "pt"}
    if case["heads_in"] == "metadata":
        meta["num_heads"] = case["heads"]
    if case.get("labels") and case["names"] == "timm":
        meta["labels"] = json.dumps(labels)
    if case["names"] == "hf":
        sd = timm_to_hf(sd, case.get("hf_prefix", "vit."))
        if case.get("mae_decoder"):
            sd.update(mae_decoder(case))
    elif case["names"] == "hf_dinov2":
        sd = timm_to_hf_dinov2(sd, case.get("hf_prefix", ""), case.get("split_gate", False))
    elif case["names"] == "timm_eva":
        sd = timm_to_timm_eva(sd)
    elif case["names"] == "hf_dinov3":
        sd = timm_to_hf_dinov3(sd)
    elif case["names"] == "hf_clip":
        sd = timm_to_hf_clip(sd, case.get("hf_prefix", "vision_model."),
                             text_tower=not case.get("beside"))
    elif case["names"] == "dinov2_repo":
        sd = timm_to_dinov2_repo(sd)
    elif case["names"] == "hf_siglip2_naflex":
        sd = timm_to_hf_siglip2_naflex(sd)
    elif case["names"] == "hf_siglip":
        sd = timm_to_hf_siglip(sd, not case["classes"] and not case.get("beside"),
                               case.get("hf_prefix", "vision_model."))
    elif case["names"] == "timm_beit":
        sd = mirror_to_timm_beit(sd, with_index=case.get("index", False))
    elif case["names"] == "hf_beit":
        sd = timm_to_hf_beit(mirror_to_timm_beit(sd), case["hf_prefix"],
                             with_index=case.get("index", False))
    elif case["names"] == "open_clip":
        sd = timm_to_open_clip(sd, fc_norm=case.get("avg_pool", False))
        vision = case["open_clip_config"]["model_cfg"]["vision_cfg"]
        with torch.no_grad():  # open_clip's own forward on the renamed weights agrees
            theirs = open_clip_visual(sd, x, case["heads"], case["eps"], case.get("quick_gelu"),
                                      vision.get("pool_type", "tok"),
                                      vision.get("final_ln_after_pool", False))
        assert (theirs - logits).abs().max() < 1e-5, (theirs - logits).abs().max()
    elif case["names"] == "open_clip_trunk":
        sd = timm_to_open_clip_trunk(sd)
    elif case["names"] in ("aimv2_apple", "hf_aimv2"):
        apple = case["names"] == "aimv2_apple"
        sd = timm_to_aimv2_apple(sd) if apple else timm_to_hf_aimv2(sd)
        with torch.no_grad():  # Apple's or transformers' own forward on the renamed weights
            theirs = (aimv2_apple_visual if apple else hf_aimv2_visual)(sd, x, case["heads"],
                                                                        case["eps"])
        assert (theirs - emb).abs().max() < 1e-5, (theirs - emb).abs().max()
    elif case["names"] == "hf_swin":
        sw, grid = case["swin"], case["img"] // case["patch"]
        windows = [min(sw["window"], grid >> s) for s in range(len(sw["dims"]))]
        pretrained = sw.get("pretrained") or [0] * len(windows)
        coords = [swinv2_coords_table(w, pw).reshape(1, 2 * w - 1, 2 * w - 1, 2)
                  for w, pw in zip(windows, pretrained)]
        sd = timm_to_hf_swin(sd, windows, coords) if sw.get("v2") else timm_to_hf_swin(sd)
        with torch.no_grad():  # transformers' own forward on the renamed weights
            theirs = hf_swin_visual(sd, x, case["config"])
        assert (theirs - emb).abs().max() < 1e-5, (theirs - emb).abs().max()
    elif case["names"] == "hf_internvl":
        sd = timm_to_hf_internvl(sd, case["hf_prefix"])
    elif case["names"] in ("hf_blip", "intern_vit"):
        intern, prefix = case["names"] == "intern_vit", case.get("hf_prefix", "vision_model.")
        sd = timm_to_tower(sd, prefix, intern)
        with torch.no_grad():  # transformers' or InternViT's own forward on the renamed weights
            theirs = hf_tower_visual(sd, x, case["heads"], case["eps"], prefix, intern)
        assert (theirs - emb).abs().max() < 1e-5, (theirs - emb).abs().max()
    sd.update(case.get("beside", {}))  # what another model holds beside the image tower
    weights = os.path.join(d, case.get("weights_file", "model.safetensors"))
    if weights.endswith(".bin"):
        torch.save(sd, weights)
    else:
        save_safetensors(weights, sd, case["dtype"], meta)
    if case.get("open_clip_config"):
        write_json(os.path.join(d, "open_clip_config.json"), case["open_clip_config"])
    config = json.loads(json.dumps(case.get("config", {})))
    hf = case["names"].startswith("hf")
    # the model's own settings: config.json's, or a part of it (a VisionEncoderDecoderModel's
    # "encoder")
    settings = config.setdefault(case["config_under"], {}) if case.get("config_under") else config
    if case["heads_in"] == "config":
        settings["num_attention_heads" if hf else "num_heads"] = case["heads"]
    if case["names"].startswith(("hf_siglip", "hf_clip", "hf_swin")) and case.get("labels"):
        config["id2label"] = {str(i): l for i, l in enumerate(labels)}
    # the layouts with a vision_config have theirs written in the case
    if hf and not case["names"].startswith(("hf_clip", "hf_siglip", "hf_aimv2", "hf_blip",
                                            "hf_swin")):
        settings.update(hidden_size=case["dim"], layer_norm_eps=eps, image_size=case["img"],
                        patch_size=case["patch"])
        settings.setdefault("hidden_act", "gelu")
        if case.get("labels"):
            config["id2label"] = {str(i): l for i, l in enumerate(labels)}
    if case.get("hub"):
        write_hub_configs(case, d, labels)
    elif config:
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(config, f, indent=1)
    if case.get("preprocessor"):
        write_json(os.path.join(d, "preprocessor_config.json"), case["preprocessor"])
    x.numpy().astype("<f4").tofile(os.path.join(d, "input.f32"))
    attn.numpy().astype("<f4").tofile(os.path.join(d, "cls_attention.f32"))
    emb[0].numpy().astype("<f4").tofile(os.path.join(d, "embedding.f32"))
    if case["classes"]:
        logits[0].numpy().astype("<f4").tofile(os.path.join(d, "logits.f32"))
    print(f"{case['name']}: max|logit| {logits.abs().max().item() if case['classes'] else 0:.3f}, "
          f"attention max {attn.max().item():.4f} min {attn.min().item():.2e}")


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
    only = set(sys.argv[2:])
    torch.manual_seed(0)
    for case in CASES:
        if not only or case["name"] in only:
            make(case, outdir)


if __name__ == "__main__":
    main()
