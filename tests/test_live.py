#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A live source with a model too slow for every frame (issue 13): videotestsrc is-live=true at
30 fps, 640x480, into heedclassify with a DeiT-Tiny-sized model whose whole forward pass takes
several frames' time on lavapipe, then heedkeyframe and heedoverlay, into a sink that syncs to
the clock in the same streaming thread and drops what comes more than 20 ms late (a display's
max-lateness).

Checks what does not depend on this machine's load: the model runs and, from its first result
on, every frame carries a result (its own or an earlier frame's), every frame reaches the sink,
and no frame is held in heedclassify for anything like a whole forward pass (it runs the pass
a slice a frame): at most one frame in 30 spends over half the pass's time in it (a stall of a
loaded machine; a pass in one piece would hold one frame in 8 that long), the pass's time
measured on the same frames beforehand by a run of the same pass in one piece.

Prints, for the benchmark (tools/bench_live.sh runs it longer): what the sink rendered and
dropped, and how late frames reached the sink against their running time plus the pipeline's
latency. Prints TAP.

With `queue` after FRAMES, a queue goes before the sink (the usual live-display pipeline): the
sink then waits for the clock in a thread of its own, not in the one the elements work in.

usage: test_live.py MODEL.safetensors [FRAMES [queue]]
"""
import os
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstBase", "1.0")
from gi.repository import GLib, Gst, GstBase  # noqa: E402,F401 (GstBase: the sink's get_latency)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import check, plan  # noqa: E402

MAX_LATENESS = 20 * Gst.MSECOND
CAPS = "video/x-raw,format=BGRA,width=640,height=480,framerate=30/1"


def whole_pass_ms(model):
    """The model's forward pass in one piece on these frames: heedclassify's time a frame when
    it runs every frame of a file-like (not live) stream, the median of 10."""
    Gst.init(None)
    pipe = Gst.parse_launch(f"videotestsrc num-buffers=12 pattern=ball ! {CAPS} "
                            f"! heedclassify name=c model={model} ! fakesink sync=false")
    c = pipe.get_by_name("c")
    entered, spent = {}, []

    def into(pad, info):
        entered[info.get_buffer().pts] = time.monotonic()
        return Gst.PadProbeReturn.OK

    def out(pad, info):
        spent.append(time.monotonic() - entered.pop(info.get_buffer().pts, time.monotonic()))
        return Gst.PadProbeReturn.OK

    c.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, into)
    c.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, out)
    pipe.set_state(Gst.State.PLAYING)
    pipe.get_bus().timed_pop_filtered(120 * Gst.SECOND,
                                      Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipe.set_state(Gst.State.NULL)
    spent = sorted(spent[2:])  # the first frames warm up
    return spent[len(spent) // 2] * 1000 if spent else 0.0


def run(model, frames, queue=False):
    pipe = Gst.parse_launch(
        f"videotestsrc is-live=true num-buffers={frames} pattern=ball ! {CAPS} "
        f"! heedclassify name=c model={model} post-messages=true ! heedkeyframe ! heedoverlay "
        f"{'! queue ' if queue else ''}"
        f"! fakesink name=sink sync=true qos=true max-lateness={MAX_LATENESS}")
    sink, c = pipe.get_by_name("sink"), pipe.get_by_name("c")
    lock = threading.Lock()
    late = []       # per frame at the sink: arrival - (running time + latency), ns
    entered, held = {}, []  # heedclassify: when each frame came in; how long each stayed

    def arrived(pad, info):
        clock = pipe.get_clock()
        latency = sink.get_latency()  # what the sink syncs to: the pipeline's latency
        if clock is None or latency == 0:  # before the pipeline's latency was set
            return Gst.PadProbeReturn.OK
        buf = info.get_buffer()
        now = clock.get_time() - pipe.get_base_time()
        seg = pad.get_sticky_event(Gst.EventType.SEGMENT, 0).parse_segment()
        with lock:
            late.append(now - (seg.to_running_time(Gst.Format.TIME, buf.pts) + latency))
        return Gst.PadProbeReturn.OK

    def into(pad, info):
        with lock:
            entered[info.get_buffer().pts] = time.monotonic()
        return Gst.PadProbeReturn.OK

    def out(pad, info):
        with lock:
            t = entered.pop(info.get_buffer().pts, None)
            if t is not None:
                held.append(time.monotonic() - t)
        return Gst.PadProbeReturn.OK

    sink.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, arrived)
    c.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, into)
    c.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, out)
    results, reported, errors = set(), [], []
    loop = GLib.MainLoop()

    def on_message(bus, msg):
        t = msg.type
        if t == Gst.MessageType.ELEMENT and msg.get_structure().get_name() == "heedclassify":
            results.add(msg.get_structure().get_value("result-frame"))
            reported.append(msg.get_structure().get_value("frame"))
        elif t == Gst.MessageType.LATENCY:
            pipe.recalculate_latency()
        elif t == Gst.MessageType.ERROR:
            errors.append(msg.parse_error()[0].message)
            loop.quit()
        elif t == Gst.MessageType.EOS:
            loop.quit()

    bus = pipe.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    pipe.set_state(Gst.State.PLAYING)
    GLib.timeout_add_seconds(60 + frames // 10, loop.quit)
    loop.run()
    stats = sink.get_property("stats")
    latency = sink.get_latency()
    added = own_latency(c)
    pipe.set_state(Gst.State.NULL)
    bus.remove_signal_watch()
    return errors, stats, results, reported, late, held, latency, added


def own_latency(element):
    """The latency an element adds: a latency query's minimum at its source pad less the one at
    its upstream peer's (None if either fails)."""
    mins = []
    for pad in (element.get_static_pad("src"), element.get_static_pad("sink").get_peer()):
        q = Gst.Query.new_latency()
        if not pad or not pad.query(q):
            return None
        mins.append(q.parse_latency()[1])
    return mins[0] - mins[1]


def main():
    model = sys.argv[1]
    frames = int(sys.argv[2]) if len(sys.argv) > 2 else 90
    queue = len(sys.argv) > 3 and sys.argv[3] == "queue"
    whole = whole_pass_ms(model)
    errors, stats, results, reported, late, held, latency, added = run(model, frames, queue)
    rendered, dropped = stats.get_value("rendered"), stats.get_value("dropped")
    check("the pipeline ran to EOS", not errors, "; ".join(errors))
    # How many passes finish depends on the machine's load: the sink's QoS makes heedclassify
    # skip slices while frames are late (seen: one result in 90 frames beside a CI run, a busy
    # loop and a sanitizer run, the pass taking 710 ms); tools/bench_live.sh reports it.
    first = reported[0] if reported else frames
    check("the model ran, and every frame from its first result on carries one",
          results and reported == list(range(first, frames)),
          f"results from {len(results)} frames, carried by frames {first} to "
          f"{reported[-1] if reported else None} ({len(reported)} messages); the pass in one "
          f"piece takes {whole:.0f} ms, {whole * 30 / 1000:.1f} frames' time")
    check("every frame reached the sink", rendered + dropped == frames,
          f"rendered {rendered}, dropped {dropped} of {frames}")
    # A pass run in one piece would hold one frame in every whole * 30 / 1000 (about 8 here)
    # for all of it. Sliced, a frame waits some 10-15 ms, but on a loaded machine a stall of
    # the process can still hold one for 100 ms or more (seen: 127 ms of a 261 ms pass, beside
    # a CI run and a busy loop), so a frame or two over half a pass is allowed in 90 (one in 30).
    held_ms = [x * 1000 for x in held]
    over = [round(x) for x in held_ms if x >= whole / 2]
    in_one_piece = frames / max(1.0, whole * 30 / 1000)
    check("no frame waited in heedclassify for a whole pass",
          held and len(over) <= frames // 30,
          f"{len(over)} of {len(held)} frames held over half the pass ({whole:.0f} ms) {over}, "
          f"where a pass in one piece would hold about {in_one_piece:.0f}; the longest "
          f"{max(held_ms, default=0):.1f} ms")
    late_ms = sorted(x / Gst.MSECOND for x in late)
    if late_ms:
        print(f"# sink: {rendered} rendered, {dropped} dropped (max-lateness 20 ms); latency "
              f"{latency / Gst.MSECOND:.0f} ms; arrival against running time + latency: median "
              f"{late_ms[len(late_ms) // 2]:+.1f} ms, latest {late_ms[-1]:+.1f} ms, "
              f"{sum(x > 0 for x in late_ms)} of {len(late_ms)} frames after it")
    if added is not None and held_ms:
        print(f"# heedclassify adds {added / Gst.MSECOND:.1f} ms of latency (at the end); frames "
              f"held in it longer: {sum(x > added / Gst.MSECOND for x in held_ms)} of "
              f"{len(held_ms)}, the longest {max(held_ms):.1f} ms")
    if os.environ.get("LIVE_DEBUG"):  # per frame, in order: at the sink, in heedclassify (ms)
        print("# late", [round(x / Gst.MSECOND) for x in late])
        print("# held", [round(x * 1000) for x in held])
    sys.exit(plan())


if __name__ == "__main__":
    main()
