#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Scores keyframe detectors on the corpus tools/keyframe_corpus.py writes, side by side in one
run: FFmpeg's scdet (threshold 10), GStreamer's scenechange, PySceneDetect's AdaptiveDetector
(re-implemented from its documentation: ../shared/reference/keyframe_attention.md 1.1) and,
when the plugin is found, heedkeyframe.

    /usr/bin/python3 tools/evaluate_keyframes.py CORPUS_DIR [--markdown] [--json OUT]

Metrics, micro-averaged over the clips (frames counted by decoded index):
  cut F1         a detection within 1 frame of a hard cut (the new shot's first frame)
  transition F1  a detection inside a dissolve or fade, widened by 1 frame each side
  audio F1       a detection whose cause involves sound within 2 frames of a sound onset
(the cut and transition scores count the detections whose cause involves the picture)
Each ground-truth event takes at most one detection (greedy, nearest first); a detection that
matches no event of any kind is a false positive for the cut and transition scores, one that
matches no sound onset is a false positive for the audio score."""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

import numpy as np


# ---- detectors ----------------------------------------------------------------------------

def decode_frames(path, width=None):
    """Every decoded frame as RGB uint8 [n][h][w][3] (FFmpeg, no frame dropped or repeated)."""
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "stream=width,height", "-of", "json", path],
                           capture_output=True, text=True, check=True)
    s = json.loads(probe.stdout)["streams"][0]
    w, h = s["width"], s["height"]
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-map", "0:v:0", "-fps_mode",
                          "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def scdet(path, threshold=10.0):
    """FFmpeg's scdet: frames whose score reaches the threshold."""
    r = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-map", "0:v:0", "-fps_mode",
                        "passthrough", "-vf", f"scdet=threshold={threshold},metadata=print:file=-",
                        "-f", "null", "-"], capture_output=True, text=True, check=True)
    found, frame = [], None
    for line in r.stdout.splitlines():
        m = re.match(r"frame:(\d+)", line)
        if m:
            frame = int(m.group(1))
        elif line.startswith("lavfi.scd.time") and frame is not None:
            found.append(frame)
    return [(f, "visual") for f in found]


def scenechange(path):
    """GStreamer's scenechange: the buffers after which it sends a force-key-unit event."""
    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstVideo", "1.0")
    from gi.repository import Gst, GstVideo
    Gst.init(None)
    pipe = Gst.parse_launch(f"filesrc location=\"{path}\" ! decodebin ! videoconvert ! "
                            "video/x-raw,format=I420 ! scenechange ! fakesink name=sink sync=false")
    pad = pipe.get_by_name("sink").get_static_pad("sink")
    state = {"buffers": 0, "found": []}

    def probe(pad, info):
        if info.type & Gst.PadProbeType.BUFFER:
            state["buffers"] += 1
        else:
            ev = info.get_event()
            if GstVideo.video_event_is_force_key_unit(ev):
                # the event goes out just before the frame it marks
                state["found"].append(state["buffers"])
        return Gst.PadProbeReturn.OK

    pad.add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.EVENT_DOWNSTREAM, probe)
    pipe.set_state(Gst.State.PLAYING)
    msg = pipe.get_bus().timed_pop_filtered(Gst.CLOCK_TIME_NONE,
                                            Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipe.set_state(Gst.State.NULL)
    if msg.type == Gst.MessageType.ERROR:
        raise RuntimeError(msg.parse_error()[0].message)
    return [(f, "visual") for f in state["found"]]


def rgb_to_hsv_opencv(rgb):
    """OpenCV's 8-bit HSV: H in 0..179 (degrees / 2), S and V in 0..255."""
    x = rgb.astype(np.float32)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    v = x.max(-1)
    mn = x.min(-1)
    d = v - mn
    s = np.where(v > 0, 255.0 * d / np.maximum(v, 1e-6), 0)
    dd = np.maximum(d, 1e-6)
    h = np.where(v == r, 60 * (g - b) / dd, np.where(v == g, 120 + 60 * (b - r) / dd,
                                                     240 + 60 * (r - g) / dd))
    h = np.where(d == 0, 0, h) % 360
    return np.round(h / 2), np.round(s), v


def adaptive(path, frames=None, threshold=3.0, min_content=15.0, window=2, min_len=15):
    """PySceneDetect's AdaptiveDetector on ContentDetector's score (default weights)."""
    frames = decode_frames(path) if frames is None else frames
    h, s, v = rgb_to_hsv_opencv(frames)
    content = np.zeros(len(frames))
    for c in (h, s, v):
        content[1:] += np.abs(np.diff(c, axis=0)).mean(axis=(1, 2)) / 3
    found, last = [], -min_len
    for t in range(1, len(frames)):
        lo, hi = max(1, t - window), min(len(frames), t + window + 1)
        nb = [content[i] for i in range(lo, hi) if i != t]
        if len(nb) < 2 * window:
            continue
        avg = sum(nb) / len(nb)
        ratio = 255.0 if avg < 1e-5 else min(content[t] / avg, 255.0)
        if ratio >= threshold and content[t] >= min_content and t - last >= min_len:
            found.append(t)
            last = t
    return [(f, "visual") for f in found]


def heedkeyframe(path, extra="", upstream=""):
    """heedkeyframe's messages (frame, cause) over the clip, video and sound; upstream: elements
    before it (heedclassify: its CLS embeddings become a fourth head)."""
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)
    factory = Gst.ElementFactory.find("heedkeyframe")
    if factory is None:
        raise RuntimeError("heedkeyframe not found: set GST_PLUGIN_PATH to build/plugin")
    with_audio = any(t.name_template == "audio_sink" for t in factory.get_static_pad_templates())
    before = f"{upstream} ! " if upstream else ""
    desc = (f"filesrc location=\"{path}\" ! decodebin name=d d. ! queue ! videoconvert ! "
            f"{before}heedkeyframe name=k {extra} ! fakesink sync=false")
    if with_audio:
        desc += " d. ! queue ! audioconvert ! k.audio_sink"
    pipe = Gst.parse_launch(desc)
    bus = pipe.get_bus()
    found = []
    pipe.set_state(Gst.State.PLAYING)
    while True:
        msg = bus.timed_pop_filtered(Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS |
                                     Gst.MessageType.ERROR | Gst.MessageType.ELEMENT)
        if msg.type == Gst.MessageType.ERROR:
            pipe.set_state(Gst.State.NULL)
            raise RuntimeError(msg.parse_error()[0].message)
        if msg.type == Gst.MessageType.EOS:
            break
        st = msg.get_structure()
        if st and st.get_name() == "heedkeyframe":
            found.append((st.get_value("frame"), st.get_value("cause")))
    pipe.set_state(Gst.State.NULL)
    return found


# ---- scoring ------------------------------------------------------------------------------

def match(events, detections, tolerance):
    """Greedy one-to-one matching, nearest first: events are (lo, hi) frame intervals."""
    pairs = []
    for i, (lo, hi) in enumerate(events):
        for j, f in enumerate(detections):
            gap = 0 if lo - tolerance <= f <= hi + tolerance else None
            if gap is not None:
                pairs.append((abs(f - (lo + hi) / 2), i, j))
    used_e, used_d = set(), set()
    for _, i, j in sorted(pairs):
        if i not in used_e and j not in used_d:
            used_e.add(i)
            used_d.add(j)
    return used_e, used_d


def score_clip(truth, found):
    # shot changes are scored on what the picture says, sound events on what the sound says
    frames = [f for f, cause in found if cause in ("visual", "audio-visual")]
    cuts = [(c, c) for c in truth["cuts"]]
    trans = [(a, b) for a, b, *_ in truth["transitions"]]
    te, td = match(trans, frames, 1)
    rest = [f for j, f in enumerate(frames) if j not in td]
    ce, cd = match(cuts, rest, 1)
    unmatched = len(rest) - len(cd)
    sound = [f for f, cause in found if cause in ("audio", "audio-visual")]
    ae, ad = match([(a, a) for a in truth["audio_events"]], sound, 2)
    return {"cut": (len(ce), unmatched, len(cuts) - len(ce)),
            "transition": (len(te), unmatched, len(trans) - len(te)),
            "audio": (len(ae), len(sound) - len(ad), len(truth["audio_events"]) - len(ae))}


def f1(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--json", help="write the scores here")
    ap.add_argument("--heed-props", default="", help="extra heedkeyframe properties")
    ap.add_argument("--skip-heed", action="store_true")
    ap.add_argument("--with-classify", action="store_true",
                    help="also heedclassify ! heedkeyframe (the CLS head, default model)")
    args = ap.parse_args()
    clips = sorted(glob.glob(os.path.join(args.corpus, "*.mp4")))
    if not clips:
        sys.exit(f"evaluate_keyframes: no .mp4 clips in {args.corpus} "
                 "(tools/keyframe_corpus.py makes them)")
    detectors = {"scdet (threshold 10)": scdet, "scenechange": scenechange,
                 "AdaptiveDetector": adaptive}
    if not args.skip_heed:
        detectors["heedkeyframe"] = lambda p: heedkeyframe(p, args.heed_props)
        if args.with_classify:
            detectors["heedclassify ! heedkeyframe"] = lambda p: heedkeyframe(
                p, args.heed_props, "heedclassify post-messages=false")
    totals = {name: {k: [0, 0, 0] for k in ("cut", "transition", "audio")} for name in detectors}
    for clip in clips:
        truth = json.load(open(os.path.splitext(clip)[0] + ".json"))
        for name, detect in detectors.items():
            s = score_clip(truth, detect(clip))
            for k, v in s.items():
                totals[name][k] = [a + b for a, b in zip(totals[name][k], v)]
        print(f"{os.path.basename(clip)}: done", file=sys.stderr)
    result = {name: {k: {"tp": v[0], "fp": v[1], "fn": v[2], "f1": f1(*v)}
                     for k, v in t.items()} for name, t in totals.items()}
    if args.markdown:
        print("| detector | cut F1 | transition F1 | audio-event F1 |\n|---|---|---|---|")
        for name, r in result.items():
            print(f"| {name} | " + " | ".join(
                f"{r[k]['f1']:.3f} ({r[k]['tp']}/{r[k]['tp'] + r[k]['fn']}, {r[k]['fp']} FP)"
                for k in ("cut", "transition", "audio")) + " |")
    else:
        for name, r in result.items():
            print(f"{name:22s} " + "  ".join(f"{k} F1 {r[k]['f1']:.3f}" for k in r))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
