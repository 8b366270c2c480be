#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Attention as a budget: heedclassify inference-interval=0 (the model runs only where the
picture's compact embedding changed, or max-interval frames after the last run) against
classifying every frame, on the clips of a corpus (tools/keyframe_corpus.py), in one run.

    GST_PLUGIN_PATH=build/plugin /usr/bin/python3 tools/evaluate_budget.py CORPUS_DIR \
        [--model M] [--markdown] [--props 'change-threshold=0.05 max-interval=30']

Per clip and in total: the share of frames the model ran on with inference-interval=0, the
share of frames whose top-1 label agrees with the every-frame run's (the frames carried
forward are the ones that can differ), and how often the every-frame run's own top-1 label
changes from one frame to the next (a model unsure of what it sees changes its mind from frame
to frame, and no budget can follow that)."""
import argparse
import glob
import os
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402


def labels(path, props):
    """(top-1 label, inferred) of every frame of the clip through heedclassify PROPS."""
    pipe = Gst.parse_launch(f"filesrc location={path} ! decodebin ! videoconvert ! "
                            f"heedclassify name=c post-messages=false {props} ! "
                            "fakesink name=sink sync=false")
    out = []

    def probe(pad, info):
        meta = info.get_buffer().get_custom_meta("HeedClassificationMeta")
        s = meta.get_structure()
        top = s.get_value("labels")
        out.append((top[0] if top else "", s.get_value("inferred")))
        return Gst.PadProbeReturn.OK

    pipe.get_by_name("sink").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, probe)
    pipe.set_state(Gst.State.PLAYING)
    msg = pipe.get_bus().timed_pop_filtered(600 * Gst.SECOND,
                                            Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipe.set_state(Gst.State.NULL)
    if msg is None or msg.type != Gst.MessageType.EOS:
        raise RuntimeError(f"{path}: " + (msg.parse_error()[0].message if msg else "timed out"))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus")
    ap.add_argument("--model", default="")
    ap.add_argument("--props", default="", help="extra heedclassify properties for the budget run")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    Gst.init(None)
    model = f"model={args.model}" if args.model else ""
    rows, total = [], [0, 0, 0, 0]
    clips = sorted(glob.glob(os.path.join(args.corpus, "*.mp4")))
    if not clips:
        sys.exit(f"evaluate_budget: no .mp4 clips in {args.corpus} (tools/pattern_corpus.py or "
                 "tools/keyframe_corpus.py makes them)")
    for clip in clips:
        every = labels(clip, f"{model} inference-interval=1")
        budget = labels(clip, f"{model} inference-interval=0 {args.props}")
        if len(every) != len(budget):
            raise RuntimeError(f"{clip}: {len(every)} frames against {len(budget)}")
        ran = sum(1 for _, inferred in budget if inferred)
        agree = sum(1 for a, b in zip(every, budget) if a[0] == b[0])
        flips = sum(1 for a, b in zip(every, every[1:]) if a[0] != b[0])
        rows.append((os.path.basename(clip), len(every), ran, agree, flips))
        total = [total[0] + len(every), total[1] + ran, total[2] + agree, total[3] + flips]
        print(f"{rows[-1][0]}: {len(every)} frames, model ran on {ran} ({100 * ran / len(every):.1f}%),"
              f" labels agree on {agree} ({100 * agree / len(every):.2f}%), every-frame labels "
              f"change {flips} times", file=sys.stderr)
    n, ran, agree, flips = total
    if args.markdown:
        print("| clip | frames | model ran on | labels agree | every-frame label changes |")
        print("|---|---|---|---|---|")
        for name, frames, r, a, fl in rows + [("all", n, ran, agree, flips)]:
            print(f"| {name} | {frames} | {r} ({100 * r / frames:.1f}%) | "
                  f"{a} ({100 * a / frames:.2f}%) | {fl} ({100 * fl / frames:.1f}%) |")
    else:
        print(f"model ran on {ran}/{n} frames ({100 * ran / n:.1f}%), labels agree on "
              f"{agree}/{n} ({100 * agree / n:.2f}%), every-frame labels change on "
              f"{flips} frames ({100 * flips / n:.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
