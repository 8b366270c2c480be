#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Clips of the embedded default model's own world, for measuring heedclassify's budget
(tools/evaluate_budget.py) where its every-frame labels mean something: shots of the 19
videotestsrc patterns DESIGN.md's default labels name, each with held-out parameters
(tools/train/patterns.py: values training never saw) and moving (the ball's motion, scrolling,
zone plates' time terms), joined by hard cuts, rendered by a real videotestsrc and encoded
by FFmpeg (libx264) into MP4 at 320x240, 25 fps. Seeded: the same seed gives the same clips.

    /usr/bin/python3 tools/pattern_corpus.py OUT_DIR [--clips 4] [--seed 1]

Writes OUT_DIR/patternNN.mp4 and, beside each, patternNN.json: the shots' first frames
(decoded index) and labels."""
import argparse
import json
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "train"))

import patterns  # noqa: E402
from patterns import Gst  # noqa: E402

# what every shot starts from, so a property one shot sets does not leak into the next
DEFAULTS = {"foreground-color": 0xffffffff, "background-color": 0xff000000,
            "horizontal-speed": 0, "motion": "wavy", "kx2": 0, "ky2": 0, "kx": 0, "ky": 0,
            "kt": 0, "kxt": 0, "kyt": 0, "kxy": 0, "kt2": 0}


def make_clip(path, shots):
    """shots: [(frames, videotestsrc properties)], rendered back to back into path."""
    total = sum(n for n, _ in shots)
    pipe = Gst.parse_launch(
        f"videotestsrc name=v num-buffers={total} ! video/x-raw,format=I420,width=320,height=240,"
        f"framerate=25/1 ! y4menc ! filesink location={path}.y4m")
    src = pipe.get_by_name("v")
    starts = {}
    first = 0
    for n, props in shots:
        starts[first] = props
        first += n

    def apply(props):
        for k, v in {**DEFAULTS, **props}.items():
            src.set_property(k, v)

    apply(shots[0][1])
    made = {"n": 0}

    def on_buffer(pad, info):
        made["n"] += 1  # the next buffer is frame made["n"]
        if made["n"] in starts:
            apply(starts[made["n"]])
        return Gst.PadProbeReturn.OK

    src.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_buffer)
    pipe.set_state(Gst.State.PLAYING)
    msg = pipe.get_bus().timed_pop_filtered(300 * Gst.SECOND,
                                            Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipe.set_state(Gst.State.NULL)
    if msg is None or msg.type != Gst.MessageType.EOS:
        raise RuntimeError(f"{path}: " + (msg.parse_error()[0].message if msg else "timed out"))
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", f"{path}.y4m", "-c:v", "libx264",
                    "-preset", "veryfast", "-bf", "0", "-g", "250", path], check=True)
    os.remove(f"{path}.y4m")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        sys.exit(f"pattern_corpus: cannot write to {args.out}: {e.strerror}")
    rng = random.Random(args.seed)
    for c in range(args.clips):
        shots, truth, first = [], [], 0
        for label in rng.sample(patterns.LABELS, 6):
            props = patterns.sample_params(rng, label, "heldout")["props"]
            n = rng.randint(30, 90)
            shots.append((n, props))
            truth.append({"frame": first, "label": label,
                          "props": {k: str(v) for k, v in props.items()}})
            first += n
        path = os.path.join(args.out, f"pattern{c:02d}.mp4")
        make_clip(path, shots)
        with open(path[:-4] + ".json", "w") as f:
            json.dump({"frames": first, "shots": truth}, f, indent=1)
        print(f"{path}: {first} frames, {len(shots)} shots", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
