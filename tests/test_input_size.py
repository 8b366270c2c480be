#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A model run at another input size against PyTorch: the p8_hd48_f32 fixture (72 px, patch 8,
a 9 x 9 grid) at 96, 48 and 56 px, eva02_tiny_f32 (70 px, a 5 x 5 grid) at 98 px and
dinov3_plus_f32 (64 px, no pos_embed) at 96 px, rope_axial_f32 (80 px) at 112 px and
rope_mixed_f32 (64 px) at 96 px and pe_core_f32 (64 px) at 96 px, where EVA-02's, DINOv3's,
RoPE-ViT's and the Perception Encoder's rotary position embeddings take the new grid's angles
(the last two in units of the checkpoint's own grid, from 1), and hf_siglip2_naflex_f32 (64 px) at 96 and 48 px, its
positions resized as transformers' SigLIP 2 resizes them (bilinear, antialiased), and swin_f32,
hf_swinv2_f32 and swinv2_f32 (32 px) at 64 px, the same windows over larger grids (the last stage
then several windows, shifted; or, swinv2_f32's, one window no longer cut to its grid, its biases
made again), every Swin fixture at 40 px, whose grids of 10 and 5 the windows do not tile (padded
as transformers pads them, or as timm does, by the file's names; the mirror's padding checked
first against forwards written from both libraries' modules), transformers' BEiT (hf_beit_f32 at
96 and 32 px, hf_data2vec_f32 at 80) with its relative position tables resampled as
transformers' BeitRelativePositionBias does, timm's (beit_f32 at 96 and 32 px) as timm's
checkpoint filter resizes them, and Swin sizes refused. PyTorch resamples pos_embed as
timm's resample_abs_pos_embed does (F.interpolate bicubic, antialias=True, the CLS position
kept) and runs the mirror of timm's ViT; heed run-tensor --input-size must give the same logits
(within 1e-3 x max(1, max|logit|)) and CLS attention (within 1e-4). Prints TAP."""
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

sys.path.insert(0, os.environ["HEED_TOOLS_DIR"])
from heed_torch import (VisionTransformer, config_from_state_dict, hf_swin_visual,  # noqa: E402
                        load_safetensors, swin_from_state_dict, timm_eva_to_mirror,
                        timm_to_hf_swin)
from make_parity_fixtures import CASES, build, model_for  # noqa: E402

heed = os.environ["HEED_TOOL"]


def fixture(name):
    return os.path.join(os.environ["HEED_FIXTURES"], name, "model.safetensors")


model_path = fixture("p8_hd48_f32")
sd, meta = load_safetensors(model_path)
config = config_from_state_dict(sd, num_heads=int(meta["num_heads"]))
eva02 = next(c for c in CASES if c["name"] == "eva02_tiny_f32")
# a larger grid, a smaller one (antialiased), an odd one; then EVA-02's at a larger grid
runs = [(model_path, sd, size, VisionTransformer(**dict(config, img_size=size)))
        for size in (96, 48, 56)]
runs.append((fixture("eva02_tiny_f32"), load_safetensors(fixture("eva02_tiny_f32"))[0], 98,
             model_for(eva02, 98)))
# DINOv3's (64 px, a 4 x 4 grid, no pos_embed) at 96 px: its angles from the new grid's centres;
# the file's LayerScale in timm's Eva names (gamma_1), the mirror's ls1.gamma
dinov3 = next(c for c in CASES if c["name"] == "dinov3_plus_f32")
dinov3_state = timm_eva_to_mirror(load_safetensors(fixture("dinov3_plus_f32"))[0])
runs.append((fixture("dinov3_plus_f32"), dinov3_state, 96, model_for(dinov3, 96)))
# RoPE-ViT's axial one (80 px, a 5 x 5 grid, positions as plain indices) at 112 px
axial = next(c for c in CASES if c["name"] == "rope_axial_f32")
axial_state = timm_eva_to_mirror(load_safetensors(fixture("rope_axial_f32"))[0])
runs.append((fixture("rope_axial_f32"), axial_state, 112, model_for(axial, 112)))
# RoPE-Mixed's (64 px, a 4 x 4 grid, learnt frequencies) at 96 px
mixed = next(c for c in CASES if c["name"] == "rope_mixed_f32")
mixed_state = timm_eva_to_mirror(load_safetensors(fixture("rope_mixed_f32"))[0])
runs.append((fixture("rope_mixed_f32"), mixed_state, 96, model_for(mixed, 96)))
# the Perception Encoder's (64 px, a 4 x 4 grid; positions from 1 in units of 4 / grid) at 96 px
pe = next(c for c in CASES if c["name"] == "pe_core_f32")
runs.append((fixture("pe_core_f32"), load_safetensors(fixture("pe_core_f32"))[0], 96,
             model_for(pe, 96)))
# SigLIP 2's NaFlex tower (64 px, a 4 x 4 grid, no class token) at 96 and 48 px: its positions
# resized as transformers' Siglip2VisionEmbeddings does (bilinear, antialiased), here already
naflex = next(c for c in CASES if c["name"] == "hf_siglip2_naflex_f32")
for size in (96, 48):
    naflex_state = build(naflex)[0].state_dict()
    pos = naflex_state["pos_embed"].reshape(1, 4, 4, -1).permute(0, 3, 1, 2)
    pos = F.interpolate(pos, size=(size // 16, size // 16), mode="bilinear",
                        align_corners=False, antialias=True)
    naflex_state["pos_embed"] = pos.permute(0, 2, 3, 1).reshape(1, (size // 16) ** 2, -1)
    runs.append((fixture("hf_siglip2_naflex_f32"), naflex_state, size,
                 model_for(naflex, size)))
# Swin's (32 px; windows of 4 over grids of 16, 8 and 4) at 64 px: the same windows and biases
# over grids of 32, 16 and 8, the last stage 4 windows (its second block shifted by 2), whose map
# is each token's attention received within its window; timm's Swin, and transformers' Swin V2
# with its pretraining windows
swin_state = load_safetensors(fixture("swin_f32"))[0]
runs.append((fixture("swin_f32"), swin_state, 64, swin_from_state_dict(swin_state, 64)))
swinv2 = next(c for c in CASES if c["name"] == "hf_swinv2_f32")
swinv2_state = build(swinv2)[0].state_dict()
runs.append((fixture("hf_swinv2_f32"), swinv2_state, 64,
             swin_from_state_dict(swinv2_state, 64, 4, swinv2["swin"]["pretrained"])))
# timm's Swin V2 (windows of 8, its last stage's cut to its grid of 4) at 64 px: that stage's
# grid of 8 then one window of 8, its biases made by the position MLP for that window
swinv2_timm = load_safetensors(fixture("swinv2_f32"))[0]
runs.append((fixture("swinv2_f32"), swinv2_timm, 64, swin_from_state_dict(swinv2_timm, 64, 8)))
# every Swin fixture at 40 px, where windows of 4 (8: swinv2_f32's) do not tile the grids of 10
# and 5: padded as the file's names say (transformers': padded, then rolled; timm's: rolled,
# then padded), which differ in a shifted block whose padding is not its shift
padded_runs = []
for name in ("swin_f32", "hf_swin_f32", "swinv2_f32", "hf_swinv2_f32"):
    case = next(c for c in CASES if c["name"] == name)
    sw, hf = case["swin"], case["names"] == "hf_swin"
    state = build(case)[0].state_dict()
    padded_runs.append((name, case, state, hf))
    runs.append((fixture(name), state, 40,
                 swin_from_state_dict(state, 40, sw["window"], sw.get("pretrained"), hf)))
# transformers' BEiT (and data2vec, head-less, one table every block shares, an absolute
# position embedding too) at a larger and a smaller grid: BeitRelativePositionBias.forward's
# table, its offset rows resampled as an image by plain bilinear interpolation, the class
# token's three rows kept; data2vec's positions as interpolate_pos_encoding resamples them
# (bicubic, align_corners=False, no antialiasing)


def beit_table_resampled(table, grid, new_grid):
    old, new = 2 * grid - 1, 2 * new_grid - 1
    sub = table[:-3].reshape(1, old, old, -1).permute(0, 3, 1, 2)
    sub = F.interpolate(sub, size=(new, new), mode="bilinear")
    return torch.cat([sub.permute(0, 2, 3, 1).reshape(new * new, -1), table[-3:]])


# timm's BEiT made at another size from its checkpoint (its checkpoint filter's
# resize_rel_pos_bias_table without scipy, timm's default), written here from timm's code: the
# table's offsets placed at geometrically growing distances (1, 1 + q, 1 + q + q^2, ..., q by
# bisection so the farthest reaches the new table's edge), each new integer offset interpolated
# linearly between the two around it (timm's RegularGridInterpolator), the three class rows kept


def timm_geometric_offsets(src, dst):
    left, right = 1.01, 1.5
    while right - left > 1e-6:
        q = (left + right) / 2.0
        if (1.0 - q ** (src // 2)) / (1.0 - q) > dst // 2:
            right = q
        else:
            left = q
    dis, cur = [], 1
    for i in range(src // 2):
        dis.append(cur)
        cur += q ** (i + 1)
    return torch.tensor([-d for d in reversed(dis)] + [0] + dis)


def regular_grid_linear(points, values, targets):
    idxs, dists, overalls = [], [], []
    for p, x in zip(points, targets):
        idx_right = torch.bucketize(x, p)
        idx_right[idx_right >= p.shape[0]] = p.shape[0] - 1
        idx_left = (idx_right - 1).clamp(0, p.shape[0] - 1)
        dist_left, dist_right = x - p[idx_left], p[idx_right] - x
        dist_left[dist_left < 0] = 0.
        dist_right[dist_right < 0] = 0.
        both_zero = (dist_left == 0) & (dist_right == 0)
        dist_left[both_zero] = dist_right[both_zero] = 1.
        idxs.append((idx_left, idx_right))
        dists.append((dist_left, dist_right))
        overalls.append(dist_left + dist_right)
    numerator = 0.
    for a in (0, 1):
        for b in (0, 1):
            numerator += values[idxs[0][a], idxs[1][b]] * (dists[0][1 - a] * dists[1][1 - b])
    return numerator / (overalls[0] * overalls[1])


def timm_beit_table_resampled(table, grid, new_grid):
    old, new = 2 * grid - 1, 2 * new_grid - 1
    at = timm_geometric_offsets(old, new)
    half = new // 2.0
    d = torch.arange(-half, half + 0.1, 1.0)
    targets = [t.contiguous() for t in torch.meshgrid([d, d], indexing="ij")]
    heads = [regular_grid_linear((at, at), table[:-3, h].reshape(old, old).float(), targets)
             .reshape(-1, 1) for h in range(table.shape[1])]
    return torch.cat([torch.cat(heads, 1), table[-3:]])


for name, sizes in (("hf_beit_f32", (96, 32)), ("hf_data2vec_f32", (80,)),
                    ("beit_f32", (96, 32))):
    case = next(c for c in CASES if c["name"] == name)
    resampled = timm_beit_table_resampled if name == "beit_f32" else beit_table_resampled
    for size in sizes:
        grid, new_grid = case["img"] // case["patch"], size // case["patch"]
        state = {k: resampled(v, grid, new_grid)
                 if k.endswith("relative_position_bias_table") else v
                 for k, v in build(case)[0].state_dict().items()}
        if "pos_embed" in state:
            pos = state["pos_embed"]
            patches = pos[:, 1:].reshape(1, grid, grid, -1).permute(0, 3, 1, 2)
            patches = F.interpolate(patches, size=(new_grid, new_grid), mode="bicubic",
                                    align_corners=False)
            state["pos_embed"] = torch.cat(
                [pos[:, :1], patches.permute(0, 2, 3, 1).reshape(1, new_grid * new_grid, -1)], 1)
        runs.append((fixture(name), state, size, model_for(case, size)))
print(f"1..{2 * len(runs) + 3 + len(padded_runs)}")  # 50 px, then two refusals
failed = 0

# the mirror's padding against forwards written from transformers' modules (SwinLayer's
# maybe_pad, then the roll) and from timm's (SwinTransformerBlock._attn: the roll, then the pad)
for k, (name, case, state, hf) in enumerate(padded_runs):
    sw = case["swin"]
    config = dict(case["config"]) if hf else {
        "model_type": "swinv2" if sw.get("v2") else "swin", "depths": sw["depths"],
        "num_heads": sw["heads"], "window_size": sw["window"], "patch_size": case["patch"],
        "layer_norm_eps": 1e-5, "pretrained_window_sizes": sw.get("pretrained")}
    mirror = swin_from_state_dict(state, 40, sw["window"], sw.get("pretrained"), hf).eval()
    mirror.load_state_dict(state)
    x = torch.randn(1, 3, 40, 40, generator=torch.Generator().manual_seed(40))
    with torch.no_grad():
        ours = mirror.forward_features(x)
        theirs = hf_swin_visual(timm_to_hf_swin(state), x, config, pad_first=hf)
        other = hf_swin_visual(timm_to_hf_swin(state), x, config, pad_first=not hf)
    d, d_other = (theirs - ours).abs().max().item(), (other - ours).abs().max().item()
    ok = d < 1e-4 and d_other > 1e-2  # the two paddings must differ here, or this tests nothing
    failed += not ok
    whose = "transformers'" if hf else "timm's"
    print(f"{'ok' if ok else 'not ok'} {k + 1} {name} at 40 px: the mirror against {whose} "
          f"modules {d:.2e} (the other padding {d_other:.2e})")
first = len(padded_runs)


def resample(pos, grid, new_grid):
    prefix, patches = pos[:, :1], pos[:, 1:]
    patches = patches.reshape(1, grid, grid, -1).permute(0, 3, 1, 2)
    patches = F.interpolate(patches, size=(new_grid, new_grid), mode="bicubic", antialias=True)
    return torch.cat([prefix, patches.permute(0, 2, 3, 1).reshape(1, new_grid * new_grid, -1)], 1)


with tempfile.TemporaryDirectory() as tmp:
    for k, (path, state, size, model) in enumerate(runs):
        patch = model.patch_embed.proj.kernel_size[0]
        new_grid = size // patch
        if "pos_embed" in state and state["pos_embed"].shape[1] != model.pos_embed.shape[1]:
            grid = int(round((state["pos_embed"].numel() // model.pos_embed.shape[-1] - 1) ** 0.5))
            state = dict(state, pos_embed=resample(
                state["pos_embed"].reshape(1, grid * grid + 1, -1), grid, new_grid))
        if "cls_token" in state:
            state["cls_token"] = state["cls_token"].reshape(1, 1, -1)
        model.load_state_dict(state)
        model.eval()
        x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(size))
        with torch.no_grad():
            want_logits = model(x)[0]  # a head-less model's: its embedding
            want_attn = model.cls_attention()
        inp, logits, attn = (os.path.join(tmp, n) for n in ("in.f32", "logits.f32", "attn.f32"))
        x.numpy().astype("<f4").tofile(inp)
        headless = isinstance(model.head, torch.nn.Identity)
        r = subprocess.run([heed, "run-tensor", "--model", path, "--input-size", str(size),
                            "--input", inp, "--embedding" if headless else "--logits", logits,
                            "--cls-attention", attn], capture_output=True, text=True)
        if r.returncode:
            print(f"not ok {first + 2 * k + 1} {size} px: heed failed: {r.stderr.strip()}")
            print(f"not ok {first + 2 * k + 2} {size} px attention: no output")
            failed += 2
            continue
        got_logits = torch.from_file(logits, size=want_logits.numel(), dtype=torch.float32)
        got_attn = torch.from_file(attn, size=want_attn.numel(), dtype=torch.float32)
        dl = (got_logits - want_logits).abs().max().item()
        bound = 1e-3 * max(1.0, want_logits.abs().max().item())
        da = (got_attn - want_attn).abs().max().item()
        print(f"# {size} px ({new_grid}x{new_grid} grid): max logit difference {dl:.2e} "
              f"(bound {bound:.2e}), max attention difference {da:.2e}")
        side = getattr(model, "grids", [new_grid])[-1]  # Swin's map: its last stage's grid
        ok_l = dl <= bound
        ok_a = da <= 1e-4 and os.path.getsize(attn) == 4 * side * side == 4 * want_attn.numel()
        failed += (not ok_l) + (not ok_a)
        print(f"{'ok' if ok_l else 'not ok'} {first + 2 * k + 1} {size} px "
              f"{'embedding matches' if headless else 'logits match'} PyTorch")
        print(f"{'ok' if ok_a else 'not ok'} {first + 2 * k + 2} {size} px CLS attention matches PyTorch")
    # a size the patches do not tile: a one-line reason, no output
    r = subprocess.run([heed, "run-tensor", "--model", model_path, "--input-size", "50",
                        "--input", inp, "--logits", logits], capture_output=True, text=True)
    ok = (r.returncode != 0 and r.stderr.count("\n") == 1
          and "must be a multiple of the patch size 8" in r.stderr)
    failed += not ok
    print(f"{'ok' if ok else 'not ok'} {first + 2 * len(runs) + 1} 50 px is refused: "
          f"{r.stderr.strip()}")
    # Swin at sizes its windows cannot run at: a grid smaller than Swin V1's window (16 px: the
    # last stage's 2, windows of 4, whose table is for 4); a grid of 9 before a merging (36 px)
    refusals = [("swin_f32", 16, "stage 2's grid of 2 tokens a side (at 16 px) is smaller than "
                 "its window of 4"),
                ("swinv2_f32", 36, "stage 1's grid of 9 (at 36 px) is odd")]
    for k, (name, size, needle) in enumerate(refusals):
        r = subprocess.run([heed, "run-tensor", "--model", fixture(name), "--input-size",
                            str(size), "--input", inp, "--logits", logits], capture_output=True,
                           text=True)
        ok = r.returncode != 0 and r.stderr.count("\n") == 1 and needle in r.stderr
        failed += not ok
        print(f"{'ok' if ok else 'not ok'} {first + 2 * len(runs) + 2 + k} {name} at {size} px is "
              f"refused: {r.stderr.strip()}")
sys.exit(1 if failed else 0)
