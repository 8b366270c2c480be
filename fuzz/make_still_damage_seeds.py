#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the still-damage target's seeds (fuzz/corpus/still-damage/, committed): a 16 x 12
picture as a baseline and a progressive JPEG, a still and an animated GIF, a 24-bit, a palette
and a run-length encoded (RLE8, RLE4) BMP, and a lossy, a lossless and an animated WebP; the
replay program cuts each short and changes its bytes.
    fuzz/make_still_damage_seeds.py"""
import os
import sys

from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests"))
from rle_bmp import rle_bmp  # noqa: E402

out = os.path.join(here, "corpus", "still-damage")
os.makedirs(out, exist_ok=True)
picture = Image.new("RGB", (16, 12), (200, 40, 40))
picture.paste((20, 20, 220), (0, 0, 8, 6))
other = picture.transpose(Image.Transpose.ROTATE_180)
for name, image, how in (
        ("baseline.jpg", picture, dict(quality=90)),
        ("progressive.jpg", picture, dict(quality=90, progressive=True)),
        ("still.gif", picture, {}),
        ("animated.gif", picture, dict(save_all=True, append_images=[other], duration=100)),
        ("rgb.bmp", picture, {}),
        ("palette.bmp", picture.convert("P"), {}),
        ("lossy.webp", picture, dict(quality=80)),
        ("lossless.webp", picture, dict(lossless=True)),
        ("animated.webp", picture, dict(save_all=True, append_images=[other], duration=100))):
    image.save(os.path.join(out, name), **how)
for name, colours, four in (("rle8.bmp", 8, False), ("rle4.bmp", 4, True)):
    with open(os.path.join(out, name), "wb") as f:
        f.write(rle_bmp(picture.quantize(colours), four))
