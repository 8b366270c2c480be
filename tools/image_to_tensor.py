#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Turns an image into the float32 NCHW tensor `heed run-tensor` takes: timm's evaluation
transform (resize the short side to size/0.875 with bicubic, centre-crop size) and ImageNet
normalisation (or --mean/--std). Needs python3-pil and python3-numpy."""

import argparse

import numpy as np
from PIL import Image


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("output")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--crop-pct", type=float, default=0.875)
    ap.add_argument("--mean", type=float, nargs=3, default=(0.485, 0.456, 0.406))
    ap.add_argument("--std", type=float, nargs=3, default=(0.229, 0.224, 0.225))
    a = ap.parse_args()

    img = Image.open(a.image).convert("RGB")
    short = int(a.size / a.crop_pct)
    w, h = img.size
    scale = short / min(w, h)
    img = img.resize((max(a.size, round(w * scale)), max(a.size, round(h * scale))),
                     Image.BICUBIC)
    w, h = img.size
    left, top = (w - a.size) // 2, (h - a.size) // 2
    img = img.crop((left, top, left + a.size, top + a.size))
    x = np.asarray(img, dtype=np.float32) / 255.0
    x = (x - np.array(a.mean, np.float32)) / np.array(a.std, np.float32)
    x.transpose(2, 0, 1).astype("<f4").tofile(a.output)


if __name__ == "__main__":
    main()
