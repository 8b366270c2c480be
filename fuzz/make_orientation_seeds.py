#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the orientation target's seeds (fuzz/corpus/orientation/, committed): an 8 x 6
picture as a PNG or a WebP with an EXIF orientation in each way tests/tagged_stills.py writes
one (eXIf before and after the image data, big- and little-endian; ImageMagick's raw profile in
zTXt and tEXt; XMP in iTXt, plain and compressed; a WebP's EXIF chunk, lossless and lossy, with
and without "Exif\\0\\0"), and a bare EXIF block.
    fuzz/make_orientation_seeds.py"""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests"))
import tagged_stills  # noqa: E402
from PIL import Image  # noqa: E402

out = os.path.join(here, "corpus", "orientation")
os.makedirs(out, exist_ok=True)
picture = Image.new("RGB", (8, 6), (200, 40, 40))
picture.paste((20, 20, 220), (0, 0, 4, 3))
for k, way in enumerate(tagged_stills.WAYS):
    orientation = 2 + k % 7
    tagged_stills.save(picture, os.path.join(out, f"{way}-{orientation}"), orientation, way)
with open(os.path.join(out, "exif-le-6"), "wb") as f:
    f.write(tagged_stills.exif_block(6, little=True, prefix=True))
