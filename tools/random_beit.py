#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes a BEiT checkpoint of BEiT-Base's shape (timm's beit_base_patch16_224: 224 px, patch 16,
12 blocks of 768 in 12 heads, a relative position bias table in each block, 1000 classes) with
seeded random weights, in timm's names with a config.json beside it, for benchmarks: the
beit_f32 parity fixture's case (tools/make_parity_fixtures.py) at that size, with PyTorch's
outputs beside it as the fixtures have them.

    /usr/bin/python3 tools/random_beit.py OUTDIR     (writes OUTDIR/beit_base/model.safetensors)"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_parity_fixtures  # noqa: E402


def main():
    case = dict(next(c for c in make_parity_fixtures.CASES if c["name"] == "beit_f32"))
    case.update(name="beit_base", img=224, dim=768, depth=12, heads=12, classes=1000,
                config={"architecture": "beit_base_patch16_224", "global_pool": "avg",
                        "num_classes": 1000})
    make_parity_fixtures.make(case, sys.argv[1])


if __name__ == "__main__":
    main()
