#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Trains heed's embedded default model: a small ViT that recognises GStreamer's videotestsrc
patterns (the 19 labels of DESIGN.md) and whose attention finds the moving ball.

    /usr/bin/python3 tools/train/train_default_model.py --out models/default.safetensors

Frames are rendered by videotestsrc through real GStreamer pipelines (patterns.py) with widely
varied parameters, sizes from 32 px to 1080p, every pixel format heedclassify takes and JPEG
compression, then resized exactly as heed resizes. Training adds brightness, contrast, noise and
crops. On ball frames a second loss pulls the last layer's CLS attention towards the ball, found
in the frame itself. Seeds are fixed; PyTorch's float summation order can still differ between
machines and thread counts."""

import argparse
import json
import math
import multiprocessing
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import patterns  # noqa: E402
from heed_torch import VisionTransformer, load_safetensors, round_to, save_safetensors  # noqa: E402

DIM, DEPTH, HEADS = 64, 4, 2
MEAN = STD = 0.5


def _render_chunk(args):
    n, split, seed, size = args
    return patterns.dataset(n, split, seed, size)[:3]


def _render_default_balls(args):
    n, split, seed, size = args
    rng = random.Random(seed)
    return patterns.render_all([patterns.default_ball_params(rng, split) for _ in range(n)], size)


def _cache_path(cache_dir, name, size):
    # frames are cached already resized; 64 px caches keep their original names
    return os.path.join(cache_dir, name + (f"-{size}px" if size != 64 else "") + ".npz")


def rendered_default_balls(n, split, seed, size, cache_dir, workers):
    """n frames of the default-coloured ball on larger frames (cached like rendered())."""
    path = _cache_path(cache_dir, f"{split}-default-balls-{n}-{seed}", size)
    if os.path.exists(path):
        d = np.load(path)
        return d["x"], d["y"], d["ball"]
    chunks = [(min(10, n - i), split, seed * 100019 + i, size) for i in range(0, n, 10)]
    with multiprocessing.Pool(workers) as pool:
        parts = pool.map(_render_default_balls, chunks)
    x, y, ball = (np.concatenate([p[k] for p in parts]) for k in range(3))
    os.makedirs(cache_dir, exist_ok=True)
    np.savez(path, x=x, y=y, ball=ball)
    return x, y, ball


def rendered(n_per_label, split, seed, size, cache_dir, workers):
    """Renders (or loads from the cache) n_per_label frames per label, in chunks of 10."""
    path = _cache_path(cache_dir, f"{split}-{n_per_label}-{seed}", size)
    if os.path.exists(path):
        d = np.load(path)
        return d["x"], d["y"], d["ball"]
    chunks = [(min(10, n_per_label - i), split, seed * 100003 + i, size)
              for i in range(0, n_per_label, 10)]
    with multiprocessing.Pool(workers) as pool:
        parts = pool.map(_render_chunk, chunks)
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    ball = np.concatenate([p[2] for p in parts])
    os.makedirs(cache_dir, exist_ok=True)
    np.savez(path, x=x, y=y, ball=ball)
    return x, y, ball


def augment(x, ball, gen):
    """Brightness, contrast, noise and a random crop (ball positions follow the crop)."""
    b = x.shape[0]
    contrast = 1 + (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.2
    bright = (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.1
    x = ((x - 0.5) * contrast + 0.5 + bright)
    x = x + torch.randn(x.shape, generator=gen) * torch.rand(b, 1, 1, 1, generator=gen) * 0.03
    # crop 80-100% of each side and scale back up, for half of the batch
    scale = 0.8 + 0.2 * torch.rand(b, generator=gen)
    scale = torch.where(torch.rand(b, generator=gen) < 0.5, scale, torch.ones(b))
    ox = (1 - scale) * torch.rand(b, generator=gen)
    oy = (1 - scale) * torch.rand(b, generator=gen)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = scale
    theta[:, 1, 1] = scale
    theta[:, 0, 2] = 2 * ox + scale - 1
    theta[:, 1, 2] = 2 * oy + scale - 1
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    ball = (ball - torch.stack([ox, oy], 1)) / scale[:, None]
    return x.clamp(0, 1), ball


def attention_target(ball, grid):
    """A Gaussian over the patch grid around each ball (rows of NaN balls are unused)."""
    c = (torch.arange(grid) + 0.5) / grid
    gx = torch.exp(-((c[None, :] - ball[:, 0:1]) * grid) ** 2 / (2 * 0.7 ** 2))
    gy = torch.exp(-((c[None, :] - ball[:, 1:2]) * grid) ** 2 / (2 * 0.7 ** 2))
    t = gy[:, :, None] * gx[:, None, :]
    t = t.reshape(ball.shape[0], -1)
    return t / t.sum(1, keepdim=True).clamp_min(1e-12)


def cls_attention(model):
    """Last layer's CLS row over the patches, heads averaged, renormalised: [B][patches]."""
    a = model.blocks[-1].attn.last_attn[:, :, 0, 1:].mean(1)
    return a / a.sum(1, keepdim=True)


def evaluate(model, x, y, ball, grid):
    model.eval()
    correct, hits, balls = 0, 0, 0
    with torch.no_grad():
        for i in range(0, len(x), 256):
            xb = (torch.from_numpy(x[i:i + 256]) - MEAN) / STD
            logits = model(xb)
            correct += (logits.argmax(1).numpy() == y[i:i + 256]).sum()
            att = cls_attention(model).numpy()
            for j, b in enumerate(ball[i:i + 256]):
                if np.isnan(b[0]):
                    continue
                balls += 1
                p = att[j].argmax()
                px, py = (p % grid + 0.5) / grid, (p // grid + 0.5) / grid
                hits += abs(px - b[0]) <= 1.0 / grid and abs(py - b[1]) <= 1.0 / grid
    model.train()
    return correct / len(x), hits / max(balls, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="models/default.safetensors")
    ap.add_argument("--cache", default="build/train-cache")
    ap.add_argument("--size", type=int, default=128, help="input size in pixels (square)")
    ap.add_argument("--patch", type=int, default=16, help="patch size (size / patch tokens a side)")
    ap.add_argument("--train-per-label", type=int, default=500)
    ap.add_argument("--val-per-label", type=int, default=40)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--attention-weight", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=20261121)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--init", help="start from this checkpoint (fine-tuning)")
    ap.add_argument("--default-balls", type=int, default=400,
                    help="extra frames of the white-on-black ball on frames 400 px and wider")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(max(1, os.cpu_count()))
    t0 = time.time()
    x, y, ball = rendered(args.train_per_label, "train", args.seed, args.size, args.cache,
                       args.workers)
    vx, vy, vball = rendered(args.val_per_label, "heldout", args.seed + 1, args.size, args.cache,
                          args.workers)
    if args.default_balls:
        ex, ey, eb = rendered_default_balls(args.default_balls, "train", args.seed + 2, args.size,
                                            args.cache, args.workers)
        x, y, ball = np.concatenate([x, ex]), np.concatenate([y, ey]), np.concatenate([ball, eb])
    print(f"rendered {len(x)} training and {len(vx)} validation frames in {time.time() - t0:.0f} s",
          flush=True)

    model = VisionTransformer(args.size, args.patch, DIM, DEPTH, HEADS, len(patterns.LABELS),
                              mlp_hidden=4 * DIM)
    if args.init:
        model.load_state_dict(load_safetensors(args.init)[0])
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    steps = args.epochs * math.ceil(len(x) / args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps,
                                                pct_start=0.1)
    gen = torch.Generator().manual_seed(args.seed)
    xt, yt, bt = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(ball)
    for epoch in range(args.epochs):
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), args.batch):
            idx = perm[i:i + args.batch]
            xb, bb = augment(xt[idx], bt[idx], gen)
            logits = model((xb - MEAN) / STD)
            loss = F.cross_entropy(logits, yt[idx], label_smoothing=0.05)
            has_ball = ~torch.isnan(bb[:, 0])
            if has_ball.any():
                att = cls_attention(model)[has_ball]
                target = attention_target(bb[has_ball], args.size // args.patch)
                loss = loss + args.attention_weight * F.kl_div(att.clamp_min(1e-8).log(), target,
                                                                reduction="batchmean")
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        acc, hit = evaluate(model, vx, vy, vball, args.size // args.patch)
        print(f"epoch {epoch + 1}: loss {total / len(x):.4f}, held-out accuracy {acc:.4f}, "
              f"ball peak hits {hit:.3f} ({time.time() - t0:.0f} s)", flush=True)

    sd = {k: round_to(v, "F16") for k, v in model.state_dict().items()}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_safetensors(args.out, sd, "F16", {
        "format": "pt", "num_heads": HEADS, "img_size": args.size, "patch_size": args.patch,
        "mean": json.dumps([MEAN] * 3), "std": json.dumps([STD] * 3),
        "labels": json.dumps(patterns.LABELS),
        # how patterns.resize resizes the frames it trains on: heed's first resampler, so heed
        # prepares frames for this model the same way
        "interpolation": "heed-box8",
        "trained_by": " ".join(["tools/train/train_default_model.py"] + sys.argv[1:]),
    })
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")


if __name__ == "__main__":
    main()
