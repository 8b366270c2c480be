#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyTorch side of `heed bench`: times the same checkpoint on the CPU and prints JSON.

By default it times both one thread and one per core and reports the faster, since on small
virtual machines PyTorch's OpenMP threads can make it slower, not faster.

With --serve it stays up to take turns with heed: after choosing the threads it prints one JSON
line ({"version", "threads", "forward_ms"}), then answers each line of its input:
  forward N   one untimed pass, then one line {"times": [N forward passes in ms]}
  ops N       one line {"ops": {op family: mean ms over N passes}} (last: its timers stay on)
and ends at the end of its input. heed bench alternates turns of its own forward passes with
these, so that a machine whose speed drifts (a shared VM) slows both sides of each turn alike."""

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


def op_ms(model, x, runs):
    """Per-op means over `runs` passes (the timers attached once, outside the timed passes)."""
    if not hasattr(model, "op_ms"):
        attach_op_timers(model)
    model.op_ms = {}
    attn_ms = 0.0
    for _ in range(runs):
        model(x)
        attn_ms += sum(b.attn.core_seconds for b in model.blocks) * 1e3
    ops = {k: v / runs for k, v in model.op_ms.items()}
    ops["attention"] = attn_ms / runs
    return ops


def serve(model, x):
    """Answers heed bench's turns, one JSON line per command line."""
    for line in sys.stdin:
        words = line.split()
        if len(words) != 2 or words[0] not in ("forward", "ops") or not words[1].isdigit():
            sys.exit("bench_torch.py --serve: unknown command %r" % line.strip())
        n = max(int(words[1]), 1)
        if words[0] == "forward":
            model(x)  # untimed: the first pass after heed's turn wakes the threads, warms the caches
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                model(x)
                times.append((time.perf_counter() - t0) * 1e3)
            print(json.dumps({"times": times}), flush=True)
        else:
            print(json.dumps({"ops": op_ms(model, x, n)}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0,
                    help="intra-op threads; 0 (default) tries 1 and one per core, keeps the faster")
    ap.add_argument("--serve", action="store_true",
                    help="after choosing the threads, answer 'forward N' and 'ops N' lines")
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
        if args.serve:
            print(json.dumps({"version": torch.__version__, "threads": best[0],
                              "forward_ms": best[1]}), flush=True)
            serve(model, x)
            return
        # per-op times in separate passes, so the hooks do not slow the timed runs
        ops = op_ms(model, x, args.runs)
    print(json.dumps({"version": torch.__version__, "threads": best[0],
                      "forward_ms": best[1], "ops": ops}))


if __name__ == "__main__":
    main()
