#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyTorch side of `heed bench`: times the same checkpoint on the CPU and prints JSON.

By default it times both one thread and one per core and reports the faster, since on small
virtual machines PyTorch's OpenMP threads can make it slower, not faster."""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

from heed_torch import VisionTransformer, attach_op_timers, config_from_state_dict, load_safetensors  # noqa: E402


def median_forward_ms(model, x, runs, warmup):
    times = []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        model(x)
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0,
                    help="intra-op threads; 0 (default) tries 1 and one per core, keeps the faster")
    args = ap.parse_args()

    sd, meta = load_safetensors(args.model)
    if "patch_embed.proj.weight" not in sd:
        sys.exit("bench_torch.py compares timm-named checkpoints only")
    heads = int(meta["num_heads"]) if "num_heads" in meta else None
    cfg = config_from_state_dict(sd, heads)
    model = VisionTransformer(**cfg).eval()
    model.load_state_dict(sd, strict=True)
    x = torch.randn(1, 3, cfg["img_size"], cfg["img_size"])

    candidates = [args.threads] if args.threads else sorted({1, os.cpu_count() or 1})
    best = None
    with torch.inference_mode():
        for threads in candidates:
            torch.set_num_threads(threads)
            ms = median_forward_ms(model, x, args.runs, args.warmup)
            if best is None or ms < best[1]:
                best = (threads, ms)
        torch.set_num_threads(best[0])
        # per-op times in separate passes, so the hooks do not slow the timed runs
        attach_op_timers(model)
        attn_ms = 0.0
        for _ in range(args.runs):
            model(x)
            attn_ms += sum(b.attn.core_seconds for b in model.blocks) * 1e3
        ops = {k: v / args.runs for k, v in model.op_ms.items()}
        ops["attention"] = attn_ms / args.runs
    print(json.dumps({"version": torch.__version__, "threads": best[0],
                      "forward_ms": best[1], "ops": ops}))


if __name__ == "__main__":
    main()
