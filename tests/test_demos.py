#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The demo applications: demos/heed-summary.c (built by meson) and demos/heed_summary.py
(PyGObject) read heed's metadata from buffers and its messages from the bus. On a clip FFmpeg
makes here (H.264, testsrc2 then a cut to smptehdbars at frame 25) each must count all 50
frames, see the model run on each, give each frame a top-1 label, find one keyframe at the cut
(cause visual), and both must print the same summary. The gst-launch scripts for DESIGN.md's
three pipelines run too: a live source with the overlay, a file annotated to H.264 in MP4 (a key
frame at the cut), and audio-visual keyframes on GStreamer's Vulkan device. Prints TAP."""
import json
import os
import subprocess
import sys
import tempfile
from tap import check, plan


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    try:
        return json.loads(r.stdout), r
    except json.JSONDecodeError:
        return None, r


def main():
    tmp = tempfile.mkdtemp(prefix="heed-demos-")
    clip = os.path.join(tmp, "cut.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-filter_complex",
                    "testsrc2=s=160x120:r=25:d=1[a];smptehdbars=s=160x120:r=25:d=1[b];"
                    "[a][b]concat=n=2:v=1:a=0,format=yuv420p[v]", "-map", "[v]", "-c:v",
                    "libx264", clip], check=True)
    here = os.path.dirname(os.path.abspath(__file__))
    c, rc = run([os.environ["HEED_SUMMARY"], clip])
    py, rp = run(["/usr/bin/python3", os.path.join(here, "..", "demos", "heed_summary.py"), clip])
    for name, s, r in (("C", c, rc), ("Python", py, rp)):
        ok = (s is not None and s["frames"] == 50 and s["inferred"] == 50 and
              sum(s["labels"].values()) == 50 and len(s["keyframes"]) == 1 and
              abs(s["keyframes"][0]["frame"] - 25) <= 1 and s["keyframes"][0]["cause"] == "visual"
              and all(0 <= v <= 1 for v in s["mean_attention_peak"]))
        check(f"the {name} application: every frame, labelled, the cut as its keyframe", ok,
              json.dumps(s) if s else (r.stderr.strip().splitlines() or ["no output"])[-1])
    same = (c is not None and py is not None and
            {k: c[k] for k in ("frames", "inferred", "labels")} ==
            {k: py[k] for k in ("frames", "inferred", "labels")} and
            [(k["frame"], k["cause"]) for k in c["keyframes"]] ==
            [(k["frame"], k["cause"]) for k in py["keyframes"]] and
            all(abs(a - b) < 1e-3 for a, b in zip(c["mean_attention_peak"],
                                                  py["mean_attention_peak"])))
    check("C and Python print the same summary", same)
    demos = os.path.join(here, "..", "demos")
    env = dict(os.environ, SOURCE="videotestsrc is-live=true pattern=ball num-buffers=30",
               SINK="fakesink")
    r = subprocess.run(["bash", os.path.join(demos, "live-camera.sh")], env=env,
                       capture_output=True, text=True, timeout=120)
    check("live-camera.sh with a live test source", r.returncode == 0,
          (r.stdout + r.stderr).strip().splitlines()[-1] if r.returncode else "")
    out = os.path.join(tmp, "annotated.mp4")
    r = subprocess.run(["bash", os.path.join(demos, "annotate-file.sh"), clip, out],
                       capture_output=True, text=True, timeout=240)
    keys = []
    if r.returncode == 0:
        f = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "frame=key_frame", "-of", "json", out], capture_output=True, text=True)
        frames = json.loads(f.stdout)["frames"]
        keys = [i for i, fr in enumerate(frames) if fr["key_frame"]]
    check("annotate-file.sh: H.264 in MP4, all 50 frames, a key frame at the cut",
          r.returncode == 0 and len(frames) == 50 and 25 in keys,
          f"key frames {keys}" if r.returncode == 0 else r.stderr.strip()[-200:])
    av = os.path.join(tmp, "av.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", clip, "-f", "lavfi", "-i",
                    "anoisesrc=a=0.01:d=2:r=48000,volume=enable='between(t,1.4,1.6)':volume=40",
                    "-c:v", "copy", "-c:a", "aac", "-shortest", av], check=True)
    r = subprocess.run(["bash", os.path.join(demos, "keyframes-av.sh"), av], capture_output=True,
                       text=True, timeout=240)
    lines = r.stdout.strip().splitlines()
    check("keyframes-av.sh: the cut through Vulkan memory, the burst of sound at 1.4 s",
          r.returncode == 0 and any("frame 25: visual" in l or "frame 24: visual" in l or
                                    "frame 26: visual" in l for l in lines) and
          any(": audio" in l for l in lines), "; ".join(lines) or r.stderr.strip()[-200:])
    # the main job's outputs (README's first command, after installing and building)
    job = os.path.join(tmp, "job")
    r = subprocess.run(["bash", os.path.join(demos, "annotate-sample.sh"), job],
                       capture_output=True, text=True, timeout=400)
    ok, detail = r.returncode == 0, r.stderr.strip()[-300:]
    if ok:
        import jsonschema
        schema = json.load(open(os.path.join(here, "..", "docs", "heed-jsonl.schema.json")))
        truth = json.load(open(os.path.join(job, "sample.json")))
        lines = [json.loads(l) for l in open(os.path.join(job, "annotated.jsonl"))]
        for obj in lines:
            jsonschema.validate(obj, schema)
        probe = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries",
                                "stream=codec_type,nb_read_frames", "-of", "json",
                                os.path.join(job, "annotated.mp4")], capture_output=True,
                               text=True)
        streams = json.loads(probe.stdout)["streams"]
        video = [int(s["nb_read_frames"]) for s in streams if s["codec_type"] == "video"]
        sound = [s for s in streams if s["codec_type"] == "audio"]
        keys = [o["frame"] for o in lines if o.get("keyframe") and o["cause"] != "audio"]
        cuts_found = [c for c in truth["cuts"] if any(abs(k - c) <= 1 for k in keys)]
        all_keys = [o["frame"] for o in lines if o.get("keyframe")]
        report = os.path.join(job, "report")
        thumbs = sorted(os.listdir(os.path.join(report, "keyframes")))
        ok = (video == [truth["frames"]] and len(lines) == truth["frames"] and sound and
              cuts_found == truth["cuts"] and os.path.getsize(os.path.join(job,
                                                                           "annotated-frame.png"))
              and os.path.getsize(os.path.join(report, "index.html"))
              and thumbs == [f"frame-{k:06d}.jpg" for k in all_keys])
        detail = (f"{video} frames of {truth['frames']}, {len(lines)} lines, sound {len(sound)}, "
                  f"cuts {truth['cuts']} found {cuts_found}, {len(thumbs)} thumbnails in the "
                  f"report for {len(all_keys)} keyframes")
    check("the main job: the sample annotated, its JSON lines valid, its cuts found, its report "
          "made", ok, detail)
    r = subprocess.run([os.environ["HEED_SUMMARY"], os.path.join(tmp, "missing.mp4")],
                       capture_output=True, text=True, timeout=60)
    check("a missing file: a one-line error, non-zero", r.returncode != 0 and
          len(r.stderr.strip().splitlines()) == 1, r.stderr.strip())
    return plan()


if __name__ == "__main__":
    sys.exit(main())
