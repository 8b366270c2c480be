#!/usr/bin/python3
"""PyTorch side of `heed bench`: times the same checkpoint on the CPU and prints JSON."""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

from heed_torch import VisionTransformer, attach_op_timers, config_from_state_dict, load_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count(),
                    help="intra-op threads (default: every core, as lavapipe uses)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    sd, meta = load_safetensors(args.model)
    if "patch_embed.proj.weight" not in sd:
        sys.exit("bench_torch.py compares timm-named checkpoints only")
    heads = int(meta["num_heads"]) if "num_heads" in meta else None
    cfg = config_from_state_dict(sd, heads)
    model = VisionTransformer(**cfg).eval()
    model.load_state_dict(sd, strict=True)
    x = torch.randn(1, 3, cfg["img_size"], cfg["img_size"])

    times, ops = [], []
    with torch.inference_mode():
        for i in range(args.warmup + args.runs):
            t0 = time.perf_counter()
            model(x)
            if i >= args.warmup:
                times.append((time.perf_counter() - t0) * 1e3)
        # per-op timing in a separate pass so the hooks do not slow the timed runs
        attach_op_timers(model)
        model(x)
        attn_ms = sum(b.attn.core_seconds for b in model.blocks) * 1e3
        ops = dict(model.op_ms, attention=attn_ms)
    print(json.dumps({"version": torch.__version__, "threads": torch.get_num_threads(),
                      "forward_ms": statistics.median(times), "ops": ops}))


if __name__ == "__main__":
    main()
