#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checkpoints laid out as the Hugging Face hub publishes them, classified with default
options: tests/fixtures/hub_timm_vit (model.safetensors beside timm's config.json, whose
pretrained_cfg says crop_pct 0.9, bicubic, mean = std = 0.5) and tests/fixtures/hub_hf_vit
(transformers' names, config.json and preprocessor_config.json: 224 x 224 bilinear, mean =
std = 0.5), and tests/fixtures/hf_dinov2_cls_f32 (transformers' Dinov2ForImageClassification:
BiT's processor, the shorter side to 64 and a 56 px crop, which transformers runs the 70 px
checkpoint at, its positions interpolated) and tests/fixtures/hf_siglip_cls_f32 (transformers'
SiglipForImageClassification: SigLIP's processor, the whole image to 64 x 64 bicubic, mean =
std = 0.5; tanh GELU; the classifier on the mean normed token) and tests/fixtures/hf_beit_f32
(transformers' BeitForImageClassification: BEiT's processor, the whole image to 64 x 64
bilinear, mean = std = 0.5; a relative position bias in every block), and
tests/fixtures/open_clip_f32 and open_clip_avg_f32 (OpenCLIP's files: open_clip_config.json's
preprocess_cfg: OpenAI's mean/std with open_clip's default resize, the shorter side then a
centre crop, bicubic; the shorter side and a crop, bilinear, mean = std = 0.5; and the same
weights letterboxed, resize_mode "longest", and squashed, "squash"), and
tests/fixtures/timm_aimv2_f32 (timm's AIMv2 with its pretrained_cfg: OpenAI's mean/std, crop_pct
1.0, bicubic; RmsNorm, no class token), and tests/fixtures/swin_f32 and swinv2_f32 (timm's Swin
and Swin V2 with their pretrained_cfg: crop_pct 0.9, bicubic; the V2's window from its
architecture's name). Not here: transformers' Swin fixtures, whose processors are ImageNet's
defaults but for bicubic, so that nothing tells whether heed read them, and whose Swin V2 (one
head's cosine attention at a scale of 100) moves its confidences by 9 % for noise of half a code
(heed's resize is within one code of Pillow's, and its top-1s are PyTorch's). `heed classify
--model DIR IMAGE...` must give, for every image, the top-1 class PyTorch gives with the config's
own preprocessing (timm's eval transform; transformers' image processor; open_clip's transform)
and the PyTorch mirror of the model.

It also compares heed's top-5 confidences with PyTorch's softmax (within 1 % of each), and checks
that ImageNet's mean/std and a plain resize (what heed did before it read these files) would
move them by more than ten times that, so that the test can tell whether heed reads the
config. Prints TAP."""
import json
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

sys.path.insert(0, os.environ["HEED_TOOLS_DIR"])
from heed_torch import (VisionTransformer, config_from_state_dict, hf_preprocess,  # noqa: E402
                        hf_to_timm, load_safetensors, open_clip_transform, synthetic_photo,
                        timm_eval_transform)

heed = os.environ["HEED_TOOL"]
fixtures = os.environ["HEED_FIXTURES"]
SIZES = [(640, 480), (480, 640), (1920, 1080), (300, 300), (800, 450), (150, 97), (1000, 563),
         (97, 150), (512, 384), (333, 777)]


def load(name, tmp):
    name, _, resize_mode = name.partition("@")
    d = os.path.join(fixtures, name)
    if os.path.exists(os.path.join(d, "open_clip_config.json")):
        # OpenCLIP: the fixture's own PyTorch model (rebuilt from its seed), open_clip's
        # transform for its preprocess_cfg; NAME@MODE: the weights beside a config that says
        # resize_mode MODE
        from make_parity_fixtures import CASES, build_as_run
        model, _, _ = build_as_run(next(c for c in CASES if c["name"] == name))
        config = json.load(open(os.path.join(d, "open_clip_config.json")))
        if resize_mode:
            config["preprocess_cfg"]["resize_mode"] = resize_mode
            variant = os.path.join(tmp, f"{name}-{resize_mode}")
            os.makedirs(variant)
            for f in os.listdir(d):
                if f.startswith("open_clip_") and f != "open_clip_config.json":
                    os.symlink(os.path.join(d, f), os.path.join(variant, f))
            with open(os.path.join(variant, "open_clip_config.json"), "w") as f:
                json.dump(config, f)
            d = variant
        size = config["model_cfg"]["vision_cfg"]["image_size"]
        return d, model, open_clip_transform(config["preprocess_cfg"], size), size
    sd, _ = load_safetensors(os.path.join(d, "model.safetensors"))
    config = json.load(open(os.path.join(d, "config.json")))
    if config.get("model_type") in ("dinov2", "siglip", "beit"):
        # DINOv2 as transformers runs it: at its processor's crop, positions interpolated to it;
        # SigLIP's classifier on the mean normed token; BEiT's relative position bias (the
        # fixture's own PyTorch model, rebuilt from its seed)
        from make_parity_fixtures import CASES, build_as_run
        model, _, _ = build_as_run(next(c for c in CASES if c["name"] == name))
        pre = json.load(open(os.path.join(d, "preprocessor_config.json")))
        size = pre["crop_size" if "crop_size" in pre else "size"]["height"]
        return d, model, lambda image: hf_preprocess(pre, image), size
    if config.get("architecture", "").startswith(("aimv2_", "swin")):
        # timm's AIMv2 (RmsNorm, no class token): the fixture's own PyTorch model, rebuilt
        # from its seed, after timm's eval transform for its pretrained_cfg
        from make_parity_fixtures import CASES, build_as_run
        model, _, _ = build_as_run(next(c for c in CASES if c["name"] == name))
        pretrained = config["pretrained_cfg"]
        return d, model, timm_eval_transform(pretrained), pretrained["input_size"][-1]
    if "pretrained_cfg" in config:  # timm: heads are dim / 64, eps 1e-6
        cfg = config_from_state_dict(sd)
        transform = timm_eval_transform(config["pretrained_cfg"])
    else:
        sd = hf_to_timm(sd)
        cfg = config_from_state_dict(sd, num_heads=config["num_attention_heads"],
                                     eps=config["layer_norm_eps"])
        pre = json.load(open(os.path.join(d, "preprocessor_config.json")))
        transform = lambda image: hf_preprocess(pre, image)  # noqa: E731
    model = VisionTransformer(**cfg).eval()
    sd["cls_token"] = sd["cls_token"].reshape(1, 1, -1)
    model.load_state_dict(sd)
    return d, model, transform, cfg["img_size"]


def imagenet_plain(image, size):
    """ImageNet's mean and std after a plain bilinear resize of the whole image."""
    x = torch.from_numpy(__import__("numpy").array(image.convert("RGB"))).permute(2, 0, 1)
    x = F.interpolate(x[None].float() / 255, size=(size, size), mode="bilinear",
                      antialias=True, align_corners=False)[0]
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    return (x - mean) / std


def main():
    cases = ["hub_timm_vit", "hub_hf_vit", "hf_dinov2_cls_f32", "hf_siglip_cls_f32",
             "hf_beit_f32", "open_clip_f32", "open_clip_avg_f32", "open_clip_avg_f32@longest",
             "open_clip_avg_f32@squash", "timm_aimv2_f32", "swin_f32", "swinv2_f32"]
    print(f"1..{2 * len(cases)}")
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, (w, h) in enumerate(SIZES):
            paths.append(os.path.join(tmp, f"photo{i}_{w}x{h}.png"))
            synthetic_photo(w, h, seed=100 + i).save(paths[-1])
        from PIL import Image
        images = [Image.open(p) for p in paths]
        for n, name in enumerate(cases):
            d, model, transform, size = load(name, tmp)
            with torch.no_grad():
                logits = model(torch.stack([transform(im) for im in images]))
                plain = model(torch.stack([imagenet_plain(im, size) for im in images]))
            want = logits.argmax(1).tolist()
            top2 = logits.topk(2, 1).values
            margin = (top2[:, 0] - top2[:, 1]).min().item()
            r = subprocess.run([heed, "classify", "--model", d, "--top-k", "5"] + paths,
                               capture_output=True, text=True)
            lines = [json.loads(line)["labels"] for line in r.stdout.splitlines()]
            got = [labels[0]["label_id"] for labels in lines]
            if r.returncode or len(got) != len(paths):
                print(f"not ok {2 * n + 1} {name}: heed failed: {r.stderr.strip()}")
                failed += 1
            elif got != want:
                print(f"not ok {2 * n + 1} {name}: heed's top-1 {got}, PyTorch's {want}")
                failed += 1
            else:
                print(f"ok {2 * n + 1} {name}: PyTorch's top-1 on all {len(paths)} images "
                      f"(smallest top-1 margin {margin:.3f})")
            # confidences: heed's top 5 against PyTorch's softmax of the same classes
            probs, plain_probs = logits.softmax(1), plain.softmax(1)
            apart = plain_apart = 0.0
            for k, labels in enumerate(lines):
                for entry in labels:
                    c = entry["label_id"]
                    p = probs[k, c].item()
                    apart = max(apart, abs(entry["confidence"] - p) / p)
                    plain_apart = max(plain_apart, abs(plain_probs[k, c].item() - p) / p)
            changed = sum(a != b for a, b in zip(plain.argmax(1).tolist(), want))
            detail = (f"heed's confidences within {100 * apart:.3f} % of PyTorch's; ImageNet "
                      f"defaults would move them up to {100 * plain_apart:.1f} % and change "
                      f"{changed} of {len(paths)} top-1s")
            if not lines or apart > 0.01 or plain_apart < 0.1:
                print(f"not ok {2 * n + 2} {name}: {detail}")
                failed += 1
            else:
                print(f"ok {2 * n + 2} {name}: {detail}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
