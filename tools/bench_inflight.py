#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""File throughput of heedclassify with frames in flight and batches.

    /usr/bin/python3 tools/bench_inflight.py [--frames N] [--deit-frames N] [--repeat R]

Encodes a 640x480 H.264 clip with FFmpeg (testsrc2, 30 fps), then times
`filesrc ! decodebin ! videoconvert ! heedclassify ... ! fakesink sync=false` from the first
buffer leaving heedclassify to EOS, for the embedded default model and for a DeiT-Tiny-shaped
checkpoint (tests/fixtures/deit_tiny_f16: 224 px, patch 16, dim 192, 12 blocks), with
frames-in-flight 1, 2, 3 and batch-size 1 and 4. Prints frames per second and the ratio to
frames-in-flight=1 batch-size=1 of the same model, all measured in this one run. Needs the
plugin on GST_PLUGIN_PATH (`meson devenv -C build`, or GST_PLUGIN_PATH=build/plugin).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = [(f, b) for b in (1, 4) for f in (1, 2, 3)]


def make_clip(path, frames):
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    f"testsrc2=size=640x480:rate=30:duration={frames / 30:.3f}",
                    "-c:v", "libx264", "-g", "30", "-pix_fmt", "yuv420p", path], check=True)


def run(clip, props):
    """Frames per second from the first classified frame to EOS, and the frame count."""
    pipe = Gst.parse_launch(f"filesrc location={clip} ! decodebin ! videoconvert ! "
                            f"heedclassify name=c post-messages=false {props} ! "
                            "fakesink sync=false")
    times = []

    def probe(pad, info):
        times.append(time.monotonic())
        return Gst.PadProbeReturn.OK

    pipe.get_by_name("c").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe)
    pipe.set_state(Gst.State.PLAYING)
    msg = pipe.get_bus().timed_pop_filtered(600 * Gst.SECOND,
                                            Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipe.set_state(Gst.State.NULL)
    if not msg or msg.type != Gst.MessageType.EOS:
        sys.exit(f"pipeline with {props} failed: {msg.parse_error()[0].message if msg else 'timeout'}")
    # the first frame's time includes the pipeline start; count the frames after it
    return (len(times) - 1) / (times[-1] - times[0]), len(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=300, help="frames for the default model")
    ap.add_argument("--deit-frames", type=int, default=60, help="frames for DeiT-Tiny")
    ap.add_argument("--repeat", type=int, default=2, help="runs per configuration (best kept)")
    args = ap.parse_args()
    Gst.init(None)
    if not Gst.ElementFactory.find("heedclassify"):
        sys.exit("heedclassify not found: run inside `meson devenv -C build` or set GST_PLUGIN_PATH")
    deit = os.path.join(ROOT, "tests", "fixtures", "deit_tiny_f16", "model.safetensors")
    with tempfile.TemporaryDirectory() as tmp:
        models = [("default model (128 px, dim 64, 4 blocks)", "", args.frames),
                  ("DeiT-Tiny shape (224 px, dim 192, 12 blocks)", f"model={deit}",
                   args.deit_frames)]
        print(f"{time.strftime('%Y-%m-%d')}, 640x480 H.264 through decodebin, "
              f"best of {args.repeat} runs per row\n")
        print(f"| model | frames-in-flight | batch-size | frames/s | vs 1 in flight, batch 1 |")
        print(f"|---|---|---|---|---|")
        for name, model_prop, frames in models:
            clip = os.path.join(tmp, f"clip{frames}.mp4")
            if not os.path.exists(clip):
                make_clip(clip, frames)
            base = None
            for fif, batch in CONFIGS:
                fps = max(run(clip, f"{model_prop} frames-in-flight={fif} batch-size={batch}")[0]
                          for _ in range(args.repeat))
                base = base or fps
                print(f"| {name} | {fif} | {batch} | {fps:.1f} | {fps / base:.2f} |", flush=True)


if __name__ == "__main__":
    main()
