#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the model target's PyTorch seeds (fuzz/corpus/model/*.bin, committed): a one-block
ViT (8 px, patch 4, dim 64, so one head without a config.json, as the fuzz target passes
none; F16, under libFuzzer's 64 kB) with seeded random weights, saved by torch.save as a plain
state dict (pickle protocol 2, torch.save's default), and as nn.Parameter values, a transposed
view and slices of one storage under pickle protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL); and a
one-block BEiT in timm's names (beit.bin: a relative position bias table with its int64
relative_position_index, q_bias and v_bias, gamma_1/gamma_2, fc_norm; two heads, which only the
table's columns tell); and one block of DINOv2 giant's layout in facebookresearch/dinov2's
names (dinov2-swiglu.bin: SwiGLU's mlp.w12 and mlp.w3, LayerScale), and the same in
transformers' newer names (hf-dinov2-split.bin: mlp.gate_proj, mlp.up_proj, mlp.down_proj);
and one block of timm's EVA-02 Base layout (eva02.bin: q_proj, k_proj and v_proj, SwiGLU's
fc1_g and fc1_x, mlp.norm, fc_norm), which the target loads again with EVA-02's config.json;
and one block of the Perception Encoder's core layout (pe-core.bin), loaded again with its
config.json; and one block of OpenCLIP's own image tower with a few of its text tower's tensors
(open-clip.bin, loaded again with an open_clip_config.json; open-clip.safetensors, the model
the json target reads an OpenCLIP config beside); and one block of AIMv2's layout (RMSNorm, a
norm of the patch embedding, no biases) in timm's names (aimv2-timm.bin, loaded again with the
aimv2_* config.json), Apple's (aimv2-apple.bin) and transformers' Aimv2Model's (aimv2-hf.bin; and
aimv2-hf.safetensors, the model the json target reads an AIMv2 config beside); and one block of
transformers' BLIP image tower beside a text decoder's tensors (blip.bin, loaded again with a
config.json whose vision_config gives one head), and BLIP-2's with q_bias and v_bias beside the
Q-Former's tensors (blip2.safetensors: 16 heads by Blip2VisionConfig's default); and one block of
InternViT's own names (intern-vit.bin: bare ls1/ls2, no final norm; InternViT-300M's layout by its
tensors, with no config); and one block of SigLIP's tower with its pooling head under a
vision-language model's vision_tower.vision_model. (siglip-tower.safetensors); and one block of
transformers' InternVL tower (internvl-hf.bin: split q_proj/k_proj/v_proj, lambda_1/lambda_2, no
final norm, under vision_tower.); and Swin V1's and V2's stages in timm's and transformers' names
(swin*.safetensors, swin*-hf.bin).
The fuzzer and the replay
start from them, so their mutations reach the
zip reader, every pickle path a checkpoint takes and the loader's checks after them.
    fuzz/make_torch_seeds.py fuzz/corpus/model"""
import os
import sys
from collections import OrderedDict

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from heed_torch import (VisionTransformer, mirror_to_timm_beit, save_safetensors,  # noqa: E402
                        timm_to_hf_internvl, SwinTransformer, timm_to_hf_swin,
                        swinv2_coords_table,
                        timm_to_aimv2_apple, timm_to_dinov2_repo, timm_to_hf_aimv2,
                        timm_to_tower, timm_to_hf_dinov2, timm_to_hf_siglip,
                        timm_to_open_clip)

out = sys.argv[1]
torch.manual_seed(0)


def one_block(**layout):
    """A one-block 8 px ViT (patch 4, dim 64, one head, an MLP 16 wide, 3 classes unless the
    layout says otherwise), its weights drawn from N(0, 0.02)."""
    model = VisionTransformer(**dict(dict(img_size=8, patch_size=4, dim=64, depth=1, num_heads=1,
                                          num_classes=3, mlp_hidden=16), **layout))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.02)
    return model


def halves(sd):
    """Floats as F16; an index (transformers' Swin's relative_position_index) as it is."""
    return OrderedDict((k, v.half() if v.is_floating_point() else v) for k, v in sd.items())


sd = halves(one_block().state_dict())
torch.save(sd, os.path.join(out, "vit.bin"))
flat = torch.cat([v.flatten() for v in sd.values() if v.dim() == 1])
views, at = OrderedDict(), 0
for k, v in sd.items():
    if v.dim() == 1:
        views[k] = torch.nn.Parameter(flat[at:at + v.numel()], requires_grad=False)
        at += v.numel()
    elif v.dim() == 2:
        views[k] = torch.nn.Parameter(v.t().contiguous().t(), requires_grad=False)
    else:
        views[k] = v
torch.save(views, os.path.join(out, "vit-views.bin"), pickle_protocol=4)

beit = one_block(num_heads=2, rel_pos="block", beit_qkv_bias=True, pos_embed=False,
                 avg_pool=True, layer_scale=True)
sd = mirror_to_timm_beit(beit.state_dict(), with_index=True)
torch.save(OrderedDict((k, v if k.endswith("_index") else v.half()) for k, v in sd.items()),
           os.path.join(out, "beit.bin"))

giant = one_block(num_classes=0, layer_scale=True, swiglu=True)
torch.save(halves(timm_to_dinov2_repo(giant.state_dict())),
           os.path.join(out, "dinov2-swiglu.bin"))
torch.save(halves(timm_to_hf_dinov2(giant.state_dict(), split_gate=True)),
           os.path.join(out, "hf-dinov2-split.bin"))

eva02 = one_block(swiglu=True, split_qkv=True, split_gate=True, mlp_norm=True, avg_pool=True,
                  rope_ref_grid=16)
torch.save(halves(eva02.state_dict()), os.path.join(out, "eva02.bin"))

# one block of the Perception Encoder's core layout (pe-core.bin: norm_pre, no patch bias, a
# class token and pos_embed, attention pooling), which the target loads again with the
# vit_pe_core_* config.json: its rotary embedding and 8 pooling heads
pe = one_block(pre_norm=True, map_pool=True, pool_heads=8, eps=1e-5)
torch.save(halves(pe.state_dict()), os.path.join(out, "pe-core.bin"))

# one block of OpenCLIP's own image tower (open-clip.bin: visual.conv1, class_embedding,
# positional_embedding, ln_pre, in_proj, ls_1/ls_2, ln_post, proj; the text tower's tensors
# beside it), which the target loads again with an open_clip_config.json; and the same as
# safetensors for the json target's OpenCLIP configs
oc = one_block(pre_norm=True, layer_scale=True, eps=1e-5)
with torch.no_grad():
    oc.head.bias.zero_()  # OpenCLIP's proj has none
oc_sd = halves(timm_to_open_clip(oc.state_dict()))
torch.save(oc_sd, os.path.join(out, "open-clip.bin"))
save_safetensors(os.path.join(out, "open-clip.safetensors"), oc_sd, "F16")

# one block of AIMv2's layout (no class token, RmsNorm everywhere and on the patch embedding, no
# biases but the patch embedding's, the SwiGLU's gate and value apart) in timm's, Apple's and
# transformers' names
aim = one_block(num_classes=0, class_token=False, avg_pool=True, pool_after_norm=True,
                qkv_bias=False, proj_bias=False, rms_norm=True, patch_norm=True, swiglu=True,
                split_gate=True, eps=1e-5)
aim_sd = aim.state_dict()
torch.save(halves(aim_sd), os.path.join(out, "aimv2-timm.bin"))
torch.save(halves(timm_to_aimv2_apple(aim_sd)), os.path.join(out, "aimv2-apple.bin"))
torch.save(halves(timm_to_hf_aimv2(aim_sd)), os.path.join(out, "aimv2-hf.bin"))
save_safetensors(os.path.join(out, "aimv2-hf.safetensors"), halves(timm_to_hf_aimv2(aim_sd)),
                 "F16")

# one block of transformers' BLIP image tower (vision_model., a fused qkv with its bias) beside a
# text decoder's tensors, and BLIP-2's (q_bias and v_bias beside a bias-less qkv) beside a
# Q-Former's
blip = one_block(num_classes=0, eps=1e-5)
blip_decoder = {"text_decoder.bert.embeddings.word_embeddings.weight": torch.ones(16, 8),
                "text_decoder.cls.predictions.bias": torch.ones(16)}
torch.save(halves(timm_to_tower(blip.state_dict()) | blip_decoder),
           os.path.join(out, "blip.bin"))
blip2 = one_block(num_classes=0, beit_qkv_bias=True)
blip2_beside = {"query_tokens": torch.ones(1, 4, 8), "qformer.layernorm.weight": torch.ones(8)}
save_safetensors(os.path.join(out, "blip2.safetensors"),
                 halves(timm_to_tower(blip2.state_dict()) | blip2_beside), "F16")

# one block of InternViT's own code's names (InternVisionModel: LayerScale as bare ls1/ls2, no
# final norm), read as InternViT-300M's layout by its tensors
intern = one_block(num_classes=0, layer_scale=True, pool_without_norm=True)
torch.save(halves(timm_to_tower(intern.state_dict(), prefix="", intern=True)),
           os.path.join(out, "intern-vit.bin"))

# one block of SigLIP's tower (no class token, a pooling head; 32 wide, with its one head in
# __metadata__, to stay under 64 kB) as a vision-language model holds it, under
# vision_tower.vision_model.
siglip = one_block(num_classes=0, class_token=False, map_pool=True, gelu_tanh=True, dim=32)
save_safetensors(os.path.join(out, "siglip-tower.safetensors"),
                 halves(timm_to_hf_siglip(siglip.state_dict(), False, "vision_tower.vision_model.")),
                 "F16", {"num_heads": "1"})

# one block of transformers' InternVL tower (InternVLVisionModel's names: the query's, key's and
# value's projections apart, lambda_1/lambda_2, no final norm) under vision_tower.
internvl = one_block(num_classes=0, layer_scale=True, avg_pool=True, pool_without_norm=True)
torch.save(halves(timm_to_hf_internvl(internvl.state_dict(), "vision_tower.")),
           os.path.join(out, "internvl-hf.bin"))

# Swin (16 px, patch 2, two stages over an 8 and a 4 grid with windows of 4: the first stage's
# second block shifted, patch merging between them), in timm's names as safetensors and in
# transformers' (query, key and value apart, each block's I64 relative_position_index) as
# torch.save writes them; the fuzz target loads them beside a config of their size too
swin = SwinTransformer(16, 2, [8, 16], [2, 2], [1, 2], 4, 3).eval()
with torch.no_grad():
    for p in swin.parameters():
        p.normal_(0, 0.02)
save_safetensors(os.path.join(out, "swin.safetensors"), halves(swin.state_dict()), "F16")
torch.save(halves(timm_to_hf_swin(swin.state_dict())), os.path.join(out, "swin-hf.bin"))

# Swin V2 of the same stages, the second of one block (to stay under 64 kB): logit_scale, q_bias
# and v_bias, the position MLP cpb_mlp; in timm's names, and in transformers' with the stored
# relative_position_index and relative_coords_table (pretrained at 3 in the first stage, as the
# fuzz target's config says)
swinv2 = SwinTransformer(16, 2, [8, 16], [2, 1], [1, 2], 4, 3, v2=True,
                         pretrained_windows=[3, 0]).eval()
with torch.no_grad():
    for p in swinv2.parameters():
        p.normal_(0, 0.02)
save_safetensors(os.path.join(out, "swinv2.safetensors"), halves(swinv2.state_dict()), "F16")
coords = [swinv2_coords_table(4, p).reshape(1, 7, 7, 2) for p in (3, 0)]
torch.save(halves(timm_to_hf_swin(swinv2.state_dict(), [4, 4], coords)),
           os.path.join(out, "swinv2-hf.bin"))
