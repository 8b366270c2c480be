#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Segment seeks, EOS and reuse of one pipeline with the full chain and sound:
videotestsrc and audiotestsrc (into heedkeyframe's audio pad) through heedclassify !
heedkeyframe ! heedoverlay. In turn: a flushing segment seek to 1..2 s (SEGMENT_DONE, the
second's 30 frames), a non-flushing segment seek back to 0..1 s (SEGMENT_DONE again, 30 more),
a flushing seek to 2.5..3 s (EOS); then the same pipeline stopped, started again and sought to
0..1 s plays to EOS once more. No step may end in an error or wait past a minute, every frame
carries its classification, each segment's frames reach the sink before its SEGMENT_DONE
event (none is kept back for the next segment), and the validation layer (the suite's
HEED_VALIDATION) says nothing. Prints TAP."""
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402
import heed_validation
from tap import check, plan

Gst.init(None)


def run(props):
    """The whole sequence with heedclassify's properties props."""
    pipe = Gst.parse_launch(
        "videotestsrc pattern=ball ! video/x-raw,width=160,height=120,framerate=30/1 ! "
        f"heedclassify {props} ! heedkeyframe name=k ! heedoverlay ! fakesink name=sink "
        "sync=false audiotestsrc wave=pink-noise ! audio/x-raw,rate=16000,channels=1 ! "
        "k.audio_sink")
    bus = pipe.get_bus()
    frames = []  # (pts, has the classification meta)

    def on_sink(pad, info):
        buf = info.get_buffer()
        frames.append((buf.pts, buf.get_custom_meta("HeedClassificationMeta") is not None))
        return Gst.PadProbeReturn.OK

    done_at_sink = []

    def on_sink_event(pad, info):
        if info.get_event().type == Gst.EventType.SEGMENT_DONE:
            done_at_sink.append(len(frames))
        return Gst.PadProbeReturn.OK

    sink_pad = pipe.get_by_name("sink").get_static_pad("sink")
    sink_pad.add_probe(Gst.PadProbeType.BUFFER, on_sink)
    sink_pad.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, on_sink_event)

    def wait(types):
        msg = bus.timed_pop_filtered(60 * Gst.SECOND, types | Gst.MessageType.ERROR)
        if msg is None:
            return "nothing within a minute"
        if msg.type == Gst.MessageType.ERROR:
            return msg.parse_error()[0].message
        if msg.type == Gst.MessageType.SEGMENT_DONE:
            # the source posts it when it has sent the segment; the frames the elements still
            # hold must follow it to the sink, ahead of the SEGMENT_DONE event, without waiting
            # for the next segment
            for _ in range(600):
                if done_at_sink:
                    return None
                bus.timed_pop_filtered(100 * Gst.MSECOND, Gst.MessageType.ERROR)
            return "the SEGMENT_DONE event did not reach the sink within a minute"
        return None

    def seek(flags, start, stop):
        return pipe.seek(1.0, Gst.Format.TIME, flags, Gst.SeekType.SET, start, Gst.SeekType.SET,
                         stop)

    def step(name, flags, start, stop, until, want_frames):
        del frames[:]
        del done_at_sink[:]
        sent = seek(flags, start, stop)
        if pipe.get_state(0)[1] != Gst.State.PLAYING:
            pipe.set_state(Gst.State.PLAYING)
        problem = wait(until) if sent else "the seek was refused"
        pts = [p for p, _ in frames]
        inside = all(start <= p < stop for p in pts)
        check(f"{name} ({props or 'defaults'})", problem is None and len(frames) == want_frames and inside
              and all(has for _, has in frames),
              problem or f"{len(frames)} frames, pts {pts[:1]}..{pts[-1:]}, all inside: {inside}")

    S = Gst.SECOND
    flush_segment = Gst.SeekFlags.FLUSH | Gst.SeekFlags.SEGMENT | Gst.SeekFlags.ACCURATE
    pipe.set_state(Gst.State.PAUSED)
    pipe.get_state(60 * S)
    step("a flushing segment seek to 1..2 s ends in SEGMENT_DONE", flush_segment, 1 * S, 2 * S,
         Gst.MessageType.SEGMENT_DONE, 30)
    step("a segment seek back to 0..1 s without a flush, SEGMENT_DONE again",
         Gst.SeekFlags.SEGMENT | Gst.SeekFlags.ACCURATE, 0, 1 * S,
         Gst.MessageType.SEGMENT_DONE, 30)
    step("a flushing seek to 2.5..3 s ends in EOS", Gst.SeekFlags.FLUSH | Gst.SeekFlags.ACCURATE,
         int(2.5 * S), 3 * S, Gst.MessageType.EOS, 15)
    # EOS, then the same pipeline again
    pipe.set_state(Gst.State.NULL)
    pipe.set_state(Gst.State.PAUSED)
    pipe.get_state(60 * S)
    step("after EOS the same pipeline, stopped and started again, plays 0..1 s to EOS",
         Gst.SeekFlags.FLUSH | Gst.SeekFlags.ACCURATE, 0, 1 * S, Gst.MessageType.EOS, 30)
    pipe.set_state(Gst.State.NULL)


def main():
    heed_validation.watch()
    run("")
    run("frames-in-flight=3")  # frames held in heedclassify as well as in heedkeyframe
    heed_validation.check_silent()
    return plan()


if __name__ == "__main__":
    sys.exit(main())
