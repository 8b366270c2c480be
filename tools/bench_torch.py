#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyTorch side of `heed bench`: times the same checkpoint on the CPU (or with --device cuda on
an NVIDIA GPU, in float32 without TF32, as heed computes) and prints JSON.

On the CPU it times both one thread and one per core and reports the faster, since on small
virtual machines PyTorch's OpenMP threads can make it slower, not faster. --batch N times
batches of N images, as `heed bench --batch N` does.

With --serve it stays up to take turns with heed: after choosing the threads it prints one JSON
line ({"version", "threads", "device", "batch", "forward_ms", and on a GPU "upload_ms": the
batch's copy from host memory, which forward_ms leaves out}), then answers each line of its input:
  forward N   one untimed pass, then one line {"times": [N forward passes in ms]}
  ops N       one line {"ops": {op family: median ms over N passes}} (timed around each op)
and ends at the end of its input. heed bench alternates turns of its own forward passes with
these, so that a machine whose speed drifts (a shared VM) slows both sides of each turn alike."""

import argparse
import json
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

from heed_torch import (VisionTransformer, attach_op_timers, config_from_state_dict,  # noqa: E402
                        load_checkpoint, swin_from_state_dict, timer_now, timing_device)


def openblas_threads():
    """The threads OpenBLAS (Debian's BLAS under PyTorch) runs its GEMMs on: its own pool,
    which torch.set_num_threads leaves as it is (one per core); None where it is not loaded."""
    import ctypes
    for lib in sorted({line.split()[-1] for line in open("/proc/self/maps")
                       if "openblas" in line and line.split()[-1].startswith("/")}):
        try:
            count = getattr(ctypes.CDLL(lib), "openblas_get_num_threads", None)
        except OSError:
            continue
        if count:
            return count()
    return None


def timed_ms(work):
    """work() in ms, the device's queue drained before and after."""
    t0 = timer_now()
    work()
    return (timer_now() - t0) * 1e3


def forward_ms(model, x):
    return timed_ms(lambda: model(x))


def median_ms(work, runs, warmup):
    times = [timed_ms(work) for _ in range(warmup + runs)]
    return statistics.median(times[warmup:])


def op_ms(model, x, runs):
    """Per-op medians over `runs` passes, each op family's time summed over a pass. The timers
    are on for these passes alone, so the forward passes of later turns run without them."""
    handles = attach_op_timers(model)
    passes = []
    try:
        for _ in range(runs):
            model.op_ms = {}
            model(x)
            ops = dict(model.op_ms)
            ops["attention"] = sum(b.attn.core_seconds for b in model.blocks) * 1e3
            passes.append(ops)
    finally:
        for h in handles:
            h.remove()
    return {k: statistics.median(p.get(k, 0.0) for p in passes) for k in passes[0]}


def serve(model, x):
    """Answers heed bench's turns, one JSON line per command line."""
    for line in sys.stdin:
        words = line.split()
        if len(words) != 2 or words[0] not in ("forward", "ops") or not words[1].isdigit():
            sys.exit("bench_torch.py --serve: unknown command %r" % line.strip())
        n = max(int(words[1]), 1)
        if words[0] == "forward":
            forward_ms(model, x)  # untimed: the first pass after heed's turn wakes the threads
            times = [forward_ms(model, x) for _ in range(n)]
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
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="where the model runs (cuda: float32 without TF32, as heed computes)")
    ap.add_argument("--batch", type=int, default=1, help="images per forward pass")
    ap.add_argument("--fp16-matmul", action="store_true",
                    help="cuda only: the matrix multiplies in halves on tensor cores "
                         "(torch.autocast float16), as heed's --weights fp16-matmul")
    ap.add_argument("--serve", action="store_true",
                    help="after choosing the threads, answer 'forward N' and 'ops N' lines")
    args = ap.parse_args()

    sd, meta = load_checkpoint(args.model)
    if "patch_embed.proj.weight" not in sd:
        sys.exit("bench_torch.py compares timm-named checkpoints only")
    v2 = "layers.0.blocks.0.attn.logit_scale" in sd
    swin = v2 or "layers.0.blocks.0.attn.relative_position_bias_table" in sd
    if swin:  # timm's Swin at its config.json's size (224 px where none says)
        config = os.path.join(os.path.dirname(os.path.abspath(args.model)), "config.json")
        settings = json.load(open(config)) if os.path.isfile(config) else {}
        img = settings.get("pretrained_cfg", {}).get("input_size", [3, 224])[-1]
        cfg = {"img_size": img, "window": None, "pretrained": None}
        # a Swin V2's window is in its architecture's name (swinv2_*_windowW_* or, fine-tuned
        # from a smaller window P at PSIZE px, _windowPtoW_PSIZEto*)
        named = re.search(r"_window(\d+)(?:to(\d+)_(\d+))?", settings.get("architecture", ""))
        if v2 and not named:
            sys.exit("bench_torch.py: a Swin V2 whose config.json's architecture names no window")
        if v2:
            cfg["window"] = int(named.group(2) or named.group(1))
            if named.group(2):
                patch = sd["patch_embed.proj.weight"].shape[-1]
                cfg["pretrained"] = [min(int(named.group(1)), max(int(named.group(3)) // patch
                                                                 >> s, 1)) for s in range(8)]
        if "layers.0.downsample.reduction.weight" in sd:
            sys.exit("bench_torch.py compares timm's Swin in its layout since timm 0.9 only")
        sd = {k: v for k, v in sd.items() if not k.endswith(("relative_position_index",
                                                             "relative_coords_table",
                                                             "attn_mask"))}
    else:
        heads = int(meta["num_heads"]) if "num_heads" in meta else None
        cfg = config_from_state_dict(sd, heads)
    if args.batch < 1:
        sys.exit("bench_torch.py: --batch must be at least 1")
    if args.fp16_matmul and args.device != "cuda":
        sys.exit("bench_torch.py: --fp16-matmul runs on cuda only")
    if args.device == "cuda":
        if not torch.cuda.is_available():
            sys.exit("bench_torch.py: PyTorch sees no CUDA device")
        # heed multiplies in float32: no TF32 in PyTorch's matrix multiplies or convolutions
        torch.set_float32_matmul_precision("highest")
        torch.backends.cudnn.allow_tf32 = False
    timing_device(args.device)
    model = (swin_from_state_dict(sd, cfg["img_size"], cfg["window"], cfg["pretrained"])
             if swin else
             VisionTransformer(**cfg)).eval().to(args.device)
    model.load_state_dict(sd, strict=True)
    x = torch.randn(args.batch, 3, cfg["img_size"], cfg["img_size"], device=args.device)

    # the CPU's threads: one, or one per core, whichever is faster; CUDA's are not ours to choose
    candidates = [args.threads] if args.threads else sorted({1, os.cpu_count() or 1})
    if args.device == "cuda":
        candidates = [torch.get_num_threads()]
    best = None
    half = torch.autocast("cuda", dtype=torch.float16, enabled=args.fp16_matmul)
    with torch.inference_mode(), half:
        for threads in candidates:
            torch.set_num_threads(threads)
            ms = median_ms(lambda: model(x), args.runs, args.warmup)
            if best is None or ms < best[1]:
                best = (threads, ms)
        torch.set_num_threads(best[0])
        where = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
        first = {"version": torch.__version__, "threads": best[0], "device": where,
                 "batch": args.batch, "forward_ms": best[1], "fp16_matmul": args.fp16_matmul}
        if args.device == "cpu" and openblas_threads():
            first["blas_threads"] = openblas_threads()
        if args.device == "cuda":
            # the batch copied from (pageable) host memory, as a user's frames arrive
            host = x.cpu()
            first["upload_ms"] = median_ms(lambda: host.to(args.device), args.runs, 1)
        if args.serve:
            print(json.dumps(first), flush=True)
            serve(model, x)
            return
        # per-op times in separate passes, so the hooks do not slow the timed runs
        ops = op_ms(model, x, args.runs)
    print(json.dumps(dict(first, ops=ops)))


if __name__ == "__main__":
    main()
