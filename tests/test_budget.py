#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""heedclassify inference-interval=0 (attention as a budget) in a real pipeline: videotestsrc
shots switched mid-stream (a still smpte shot of 40 frames, 10 frames of snow, 30 of white,
30 of black), the embedded default model. The model must run on the first frame, on every
frame of snow (each one new), on the first white frame and on the first black one (same
structure, another colour), and nowhere else, with max-interval out of the way; on every other
frame the result is carried forward (inferred=FALSE) and its top-1 label is the one
classifying every frame gives. On a still shot, max-interval=16 runs it every 16th frame.
Frames in Vulkan memory (vulkanupload) get the same decisions, with the validation layer on
GStreamer's device too. Prints TAP."""
import json
import os
import subprocess
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402
from tap import check, plan

Gst.init(None)


def run(shots, props, vulkan=False):
    """(top-1 label, inferred) per frame of the shots [(frames, pattern)] through heedclassify
    (vulkan: from vulkanupload, in Vulkan memory)."""
    total = sum(n for n, _ in shots)
    upload = "vulkanupload ! video/x-raw(memory:VulkanImage) ! " if vulkan else ""
    pipe = Gst.parse_launch(
        f"videotestsrc name=v num-buffers={total} pattern={shots[0][1]} ! video/x-raw,"
        f"format=I420,width=320,height=240,framerate=25/1 ! {upload}heedclassify {props} ! "
        "fakesink name=sink sync=false")
    src = pipe.get_by_name("v")
    starts, first = {}, 0
    for n, pattern in shots:
        starts[first] = pattern
        first += n
    made = {"n": 0}
    out = []

    def on_src(pad, info):
        made["n"] += 1  # the next buffer is frame made["n"]
        if made["n"] in starts:
            src.set_property("pattern", starts[made["n"]])
        return Gst.PadProbeReturn.OK

    def on_sink(pad, info):
        s = info.get_buffer().get_custom_meta("HeedClassificationMeta").get_structure()
        out.append((s.get_value("labels")[0], s.get_value("inferred")))
        return Gst.PadProbeReturn.OK

    src.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_src)
    pipe.get_by_name("sink").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_sink)
    pipe.set_state(Gst.State.PLAYING)
    msg = pipe.get_bus().timed_pop_filtered(300 * Gst.SECOND,
                                            Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipe.set_state(Gst.State.NULL)
    if msg is None or msg.type != Gst.MessageType.EOS:
        raise RuntimeError(msg.parse_error()[0].message if msg else "timed out")
    return out


SHOTS = [(40, "smpte"), (10, "snow"), (30, "white"), (30, "black")]


def main():
    if sys.argv[1:] == ["--vulkan"]:  # the child below: the frames the model ran on, as JSON
        budget = run(SHOTS, "inference-interval=0 max-interval=1000", vulkan=True)
        print(json.dumps([i for i, (_, inferred) in enumerate(budget) if inferred]))
        return 0
    shots = SHOTS
    every = run(shots, "inference-interval=1")
    budget = run(shots, "inference-interval=0 max-interval=1000")
    ran = [i for i, (_, inferred) in enumerate(budget) if inferred]
    expected = [0] + list(range(40, 50)) + [50, 80]
    check("the model runs where the picture changed, and only there",
          ran == expected, f"ran on {ran}")
    differ = [i for i, (a, b) in enumerate(zip(every, budget)) if a[0] != b[0]]
    check("every frame's label is the one classifying every frame gives",
          len(every) == len(budget) == 110 and not differ,
          f"{len(budget)} frames; differ at {differ[:10]}; labels {sorted(set(l for l, _ in every))}")
    # Vulkan memory, in a child with the validation layer on GStreamer's instance as well
    env = dict(os.environ, VK_INSTANCE_LAYERS="VK_LAYER_KHRONOS_validation")
    r = subprocess.run([sys.executable, __file__, "--vulkan"], env=env, capture_output=True,
                       text=True, timeout=300)
    lines = r.stdout.strip().splitlines()
    vk_ran = json.loads(lines[-1]) if r.returncode == 0 and lines else None
    # the layer writes its findings to stdout or stderr
    complaints = [l for l in (r.stdout + r.stderr).splitlines() if "Validation" in l]
    check("frames in Vulkan memory: the model runs on the same frames, validation clean",
          vk_ran == ran and not complaints,
          f"ran on {vk_ran}; {complaints[:2] or r.stderr.strip()[-300:]}")
    still = run([(60, "smpte")], "inference-interval=0 max-interval=16")
    ran = [i for i, (_, inferred) in enumerate(still) if inferred]
    check("a still shot: the model runs every max-interval frames", ran == [0, 16, 32, 48],
          f"ran on {ran}")
    return plan()


if __name__ == "__main__":
    sys.exit(main())
