#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes a Swin checkpoint of a real model's shape with seeded random weights, in timm's names
with a timm config.json beside it, for benchmarks (heed bench runs it beside the same model in
PyTorch, tools/heed_torch.py's mirror): swin-tiny (timm's swin_tiny_patch4_window7_224: 4
stages of 2, 2, 6 and 2 blocks, 96 to 768 wide, windows of 7), swin-base-384
(swin_base_patch4_window12_384) or swinv2-tiny (timm's swinv2_tiny_window8_256: Swin-T's stages
at 256 px in windows of 8, Swin V2's blocks).

    /usr/bin/python3 tools/random_swin.py OUTDIR [swin-tiny|swin-base-384|swinv2-tiny]"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

from heed_torch import SwinTransformer, save_safetensors  # noqa: E402

SHAPES = {  # img, patch, dims, depths, heads, window, timm's architecture
    "swin-tiny": (224, 4, [96, 192, 384, 768], [2, 2, 6, 2], [3, 6, 12, 24], 7,
                  "swin_tiny_patch4_window7_224"),
    "swin-base-384": (384, 4, [128, 256, 512, 1024], [2, 2, 18, 2], [4, 8, 16, 32], 12,
                      "swin_base_patch4_window12_384"),
    "swinv2-tiny": (256, 4, [96, 192, 384, 768], [2, 2, 6, 2], [3, 6, 12, 24], 8,
                    "swinv2_tiny_window8_256"),
}


def main():
    out, shape = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "swin-tiny"
    img, patch, dims, depths, heads, window, arch = SHAPES[shape]
    torch.manual_seed(0)
    model = SwinTransformer(img, patch, dims, depths, heads, window, 1000,
                            v2=arch.startswith("swinv2_"))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("relative_position_bias_table"):
                p.normal_(0, 1.0)
            elif name.endswith("logit_scale"):  # timm's initial log (10)
                p.fill_(2.302585)
            elif "norm" in name and name.endswith("weight"):
                p.fill_(1.0)
            elif p.dim() > 1:
                p.normal_(0, p[0].numel() ** -0.5)
            else:
                p.normal_(0, 0.05)
    os.makedirs(out, exist_ok=True)
    save_safetensors(os.path.join(out, "model.safetensors"), model.state_dict())
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({"architecture": arch, "num_classes": 1000, "num_features": dims[-1],
                   "global_pool": "avg",
                   "pretrained_cfg": {"input_size": [3, img, img], "interpolation": "bicubic",
                                      "crop_pct": 0.9 if img == 224 else 1.0,
                                      "mean": [0.485, 0.456, 0.406],
                                      "std": [0.229, 0.224, 0.225]}}, f, indent=1)


if __name__ == "__main__":
    main()
