#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Streams that change under the full chain, heedclassify ! heedkeyframe ! heedoverlay, in one
real pipeline: videotestsrc renegotiates mid-stream (a capsfilter's caps changed from a pad
probe) to another resolution, format and frame rate, three times, while the sound on
heedkeyframe's audio pad starts 2 s late and has a 0.5 s gap (buffers dropped: the
timestamps jump). Every frame must reach the sink with its classification meta and the caps of its
part of the stream, the pipeline must reach EOS, and the Vulkan validation layer (the suite's
HEED_VALIDATION) must say nothing. The same stream then runs in Vulkan memory: vulkanupload before
the chain (heed takes its buffers) and Vulkan images after it (heed makes them, as for
vulkandownload). GStreamer 1.22's own vulkanupload-made images and vulkandownload do not survive a
change of frame size (both crash), so the images go to a fakesink there. Prints TAP."""
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402
import heed_validation
from tap import check, plan

Gst.init(None)

# (first frame, caps): each part of the stream
PARTS = [
    (0, "video/x-raw,format=BGRA,width=320,height=240,framerate=30/1"),
    (30, "video/x-raw,format=I420,width=161,height=97,framerate=15/1"),
    (60, "video/x-raw,format=NV12,width=64,height=48,framerate=60/1"),
    (90, "video/x-raw,format=RGBA,width=640,height=360,framerate=25/1"),
]
FRAMES = 120


def run(upload, download, where, memory):
    pipe = Gst.parse_launch(
        f"videotestsrc name=v num-buffers={FRAMES} pattern=ball ! capsfilter name=f "
        f"caps={PARTS[0][1]} ! {upload} heedclassify name=c ! heedkeyframe name=k ! heedoverlay ! "
        f"{download} fakesink name=sink "
        "audiotestsrc name=a wave=pink-noise timestamp-offset=2000000000 ! "
        "audio/x-raw,rate=16000,channels=1 ! identity name=gap ! k.audio_sink")
    caps_filter = pipe.get_by_name("f")
    sent = {"n": 0}

    def on_src(pad, info):
        for first, caps in PARTS[1:]:
            if sent["n"] == first:
                caps_filter.set_property("caps", Gst.Caps.from_string(caps))
        sent["n"] += 1
        return Gst.PadProbeReturn.OK

    gap = {"dropped": 0}

    def on_audio(pad, info):
        if 3 * Gst.SECOND <= info.get_buffer().pts < int(3.5 * Gst.SECOND):
            gap["dropped"] += 1
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    out = []  # (caps string, has the classification meta) per frame at the sink

    def on_sink(pad, info):
        caps = pad.get_current_caps().get_structure(0)
        meta = info.get_buffer().get_custom_meta("HeedClassificationMeta")
        out.append(((caps.get_value("format"), caps.get_value("width"),
                     caps.get_value("height"), caps.get_fraction("framerate")[1:]),
                    meta is not None))
        return Gst.PadProbeReturn.OK

    taken = set()  # the memory of the frames heedclassify took

    def on_classify(pad, info):
        taken.add(pad.get_current_caps().get_features(0).to_string())
        return Gst.PadProbeReturn.OK

    pipe.get_by_name("c").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_classify)
    pipe.get_by_name("v").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_src)
    pipe.get_by_name("gap").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_audio)
    pipe.get_by_name("sink").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_sink)
    pipe.set_state(Gst.State.PLAYING)
    msg = pipe.get_bus().timed_pop_filtered(300 * Gst.SECOND,
                                            Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipe.set_state(Gst.State.NULL)
    error = msg.parse_error()[0].message if msg and msg.type == Gst.MessageType.ERROR else ""
    check(f"{where}: the pipeline reaches EOS", msg is not None and msg.type == Gst.MessageType.EOS,
          error or ("timed out" if msg is None else ""))
    check(f"{where}: all {FRAMES} frames reach the sink, each with its classification",
          len(out) == FRAMES and all(has for _, has in out),
          f"{len(out)} frames, {sum(1 for _, has in out if not has)} without the meta")
    want = []
    for i, (first, caps) in enumerate(PARTS):
        s = Gst.Caps.from_string(caps).get_structure(0)
        last = PARTS[i + 1][0] if i + 1 < len(PARTS) else FRAMES
        want += [(s.get_value("format"), s.get_value("width"), s.get_value("height"),
                  s.get_fraction("framerate")[1:])] * (last - first)
    got = [c for c, _ in out]
    # the source takes new caps at its next negotiation, a frame or two after the request
    changes = [i for i in range(1, len(got)) if got[i] != got[i - 1]]
    parts = [got[0]] + [got[i] for i in changes]
    check(f"{where}: the stream leaves in each part's caps, in turn",
          parts == [want[first] for first, _ in PARTS]
          and all(0 <= i - first <= 3 for i, (first, _) in zip(changes, PARTS[1:])),
          f"caps changed at frames {changes}: {parts}")
    check(f"{where}: heedclassify took {memory}", taken == {memory}, f"{taken}")
    check(f"{where}: the sound had its gap", gap["dropped"] > 0,
          f"{gap['dropped']} buffers dropped")


def main():
    heed_validation.watch()
    run("", "", "system memory", "memory:SystemMemory")
    run("vulkanupload !", "video/x-raw(memory:VulkanImage) !", "Vulkan memory",
        "memory:VulkanBuffer")
    heed_validation.check_silent()
    return plan()


if __name__ == "__main__":
    sys.exit(main())
