#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An application that uses heed from Python (PyGObject), the twin of demos/heed-summary.c:
builds a pipeline around heed's elements, reads the metadata they attach to each buffer, listens
to heedkeyframe's messages on the bus, and prints its own summary as one JSON object.

    GST_PLUGIN_PATH=build/plugin demos/heed_summary.py VIDEO_FILE"""
import json
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


def summarise(path):
    pipeline = Gst.parse_launch("filesrc name=src ! decodebin ! videoconvert ! heedclassify "
                                "post-messages=false ! heedkeyframe ! fakesink name=sink")
    pipeline.get_by_name("src").set_property("location", path)
    s = {"frames": 0, "inferred": 0, "labels": {}, "keyframes": [], "peaks": []}

    def on_buffer(pad, info):
        # heedclassify's and heedkeyframe's metadata: GstCustomMeta structures
        # (elements/heedmeta.h documents their fields)
        s["frames"] += 1
        meta = info.get_buffer().get_custom_meta("HeedClassificationMeta")
        if meta:
            c = meta.get_structure()
            labels = c.get_value("labels")
            if labels:
                s["labels"][labels[0]] = s["labels"].get(labels[0], 0) + 1
            s["inferred"] += bool(c.get_value("inferred"))
            if c.has_field("attention-peak-x"):
                s["peaks"].append((c.get_value("attention-peak-x"), c.get_value("attention-peak-y")))
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name("sink").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER,
                                                                  on_buffer)
    loop = GLib.MainLoop()
    failed = []

    def on_message(bus, msg):
        if msg.type == Gst.MessageType.ELEMENT and msg.get_structure().get_name() == "heedkeyframe":
            st = msg.get_structure()
            s["keyframes"].append({"frame": st.get_value("frame"), "cause": st.get_value("cause"),
                                   "score": round(st.get_value("score"), 3)})
        elif msg.type == Gst.MessageType.ERROR:
            failed.append(msg.parse_error()[0].message)
            loop.quit()
        elif msg.type == Gst.MessageType.EOS:
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    pipeline.set_state(Gst.State.PLAYING)
    loop.run()
    pipeline.set_state(Gst.State.NULL)
    bus.remove_signal_watch()
    if failed:
        raise RuntimeError(failed[0])
    peaks = s.pop("peaks")
    s["mean_attention_peak"] = [round(sum(p[i] for p in peaks) / len(peaks), 4) if peaks else 0.0
                                for i in (0, 1)]
    return s


def main():
    Gst.init(None)
    if len(sys.argv) != 2:
        sys.exit("usage: heed_summary.py VIDEO_FILE")
    try:
        print(json.dumps(summarise(sys.argv[1])))
    except (RuntimeError, GLib.Error) as e:
        sys.exit(f"heed_summary: {e}")


if __name__ == "__main__":
    main()
