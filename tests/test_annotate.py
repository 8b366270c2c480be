#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`heed annotate` and heedjson on real encoded media that FFmpeg makes here (a cut at frame 25
in each clip):
  - H.264 + AAC in MP4, VP9 + Opus in WebM, MPEG-4 Part 2 in Matroska with no sound, H.264 with
    a rotation tag, H.264 with a variable frame rate, HEVC Main 10 + AAC in QuickTime with a
    rotation tag (a phone's recording): each output decodes, has the input's
    frame count and duration, keeps the sound when there is sound, and is upright; its JSON
    lines validate against docs/heed-jsonl.schema.json, one per frame;
  - the keyframe heedkeyframe found is a key frame of the H.264 output (its force-key-unit);
  - an address over HTTP (a web server on the loopback) is annotated as the file is, the output
    named after its file; a file:// URI is the file; a missing page and an address no source
    reads are one-line errors; an RTSP stream with sound (a local RTSP server) is written whole,
    the run ending with the stream; `heed classify` on a picture over HTTP gives the file's line,
    on a missing page a one-line reason, on an RTSP stream (with sound and without) its first
    frame's line;
  - an output named .mkv, .webm, .mov or .ts is that container (WebM with VP9 and Opus), every
    frame and the sound in it, the keyframe a key frame; one named .avi is refused; -o a folder
    writes the default name in it;
  - several videos, a folder's among them, one after another: each named after its input in the
    -o and --jsonl folders, the folder's in a file manager's order, its other files passed over;
    one that is not a video is said and the others written (exit status 1); -o a file, or two
    videos written to one name, refused before anything is written;
  - Ctrl-C (SIGINT) halfway leaves a file that plays, holding the frames heed says it wrote,
    as long as they last, with as many JSON lines, and a report of those frames; exit status
    130;
  - a clip under 16 pixels a side (MP4's least) is written whole, scaled up; an animated GIF
    (every frame stamped 0 by gst-libav, and a demuxer that never ends) is written whole, and a
    NUT file (its demuxer never ends either, and its decoder holds two frames back); so is
    a TS whose sound changes rate and channels halfway, the sound kept, and a clip with no
    keyframe annotated with --report;
  - a photo with each of EXIF's eight orientations, from a file and (three of them) over HTTP,
    is turned upright as Pillow's exif_transpose turns it, and so are PNGs and WebPs with one
    (an eXIf chunk, ImageMagick's raw profile, XMP, a WebP's EXIF chunk);
  - a HEIC and an AVIF picture (which GStreamer 1.22 does not read), and the HEIC over HTTP, are
    annotated as libheif's heif-convert decodes them; a damaged HEIC is a one-line reason,
    nothing written;
  - an unwritable output, a full disk (/dev/full), a missing input, a folder with no video, an
    animated WebP and an
    output that is the input (by a link too) end at once with a one-line reason and a non-zero
    exit status; the input is left as it was;
  - the options that stand for the elements' properties (--labels, --top-k, --interval,
    --threshold, --attention) reach them, and a value a property does not take is refused with
    what it takes;
  - heedjson from gst-launch-1.0 writes one valid line per frame, the attention map on request,
    and with two heedclassify in a row both results, each as its model alone gives it;
    a full disk is an element error from heedjson; file and model folder names that are not
    UTF-8 are written as valid UTF-8 (U+FFFD for the bytes that cannot be read), in JSON lines
    and in the report;
  - `heed live --headless` on a live test source with a live sound source: every frame reaches
    the sink, a line a second with the measured rate and the label (a labels file's, with
    --labels); an RTSP address as the source, its picture and sound (a tick heard) through to
    the stream's end; a source that cannot start, or an address no source reads, is a one-line
    error.
Prints TAP."""
import http.server
import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

import gi
import jsonschema
import tagged_stills
from rle_bmp import rle_bmp
from terminal import stderr_on_terminal
from tap import check, plan

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

HEED = os.environ["HEED_TOOL"]
SCHEMA = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs",
                                     "heed-jsonl.schema.json")))


def ffmpeg(args):
    subprocess.run(["ffmpeg", "-v", "error", "-y"] + args, check=True)


def make_clips(tmp):
    """{name: (path, has sound, rotated)}: 2 s at 25 fps, 160x120, a cut at frame 25."""
    video = ("testsrc2=s=160x120:r=25:d=1[a];mandelbrot=s=160x120:r=25,trim=end_frame=25,"
             "setpts=PTS-STARTPTS[b];[a][b]concat=n=2:v=1:a=0,format=yuv420p")
    sound = "sine=f=440:d=2:r=48000:samples_per_frame=960"  # Opus takes 20 ms frames
    clips = {}
    p = os.path.join(tmp, "h264_aac.mp4")
    ffmpeg(["-filter_complex", f"{video}[v];{sound}[s]", "-map", "[v]", "-map", "[s]",
            "-c:v", "libx264", "-c:a", "aac", p])
    clips["H.264 + AAC in MP4"] = (p, True, False)
    p = os.path.join(tmp, "vp9_opus.webm")
    ffmpeg(["-filter_complex", f"{video}[v];{sound}[s]", "-map", "[v]", "-map", "[s]",
            "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus",
            p])
    clips["VP9 + Opus in WebM"] = (p, True, False)
    p = os.path.join(tmp, "mpeg4.mkv")
    ffmpeg(["-filter_complex", f"{video}[v]", "-map", "[v]", "-c:v", "mpeg4", p])
    clips["MPEG-4 Part 2 in Matroska, no sound"] = (p, False, False)
    plain = os.path.join(tmp, "plain.mp4")
    ffmpeg(["-filter_complex", f"{video}[v]", "-map", "[v]", "-c:v", "libx264", plain])
    p = os.path.join(tmp, "rotated.mp4")  # FFmpeg 5.1 writes the tag when copying
    ffmpeg(["-i", plain, "-c", "copy", "-metadata:s:v:0", "rotate=90", p])
    clips["H.264 with a rotation tag"] = (p, False, True)
    p = os.path.join(tmp, "vfr.mp4")
    ffmpeg(["-filter_complex", f"{video},settb=1/1000,setpts='(N+1.2*sin(N/4))/(25*TB)'[v]",
            "-map", "[v]", "-fps_mode", "passthrough", "-video_track_timescale", "1000",
            "-c:v", "libx264", p])
    clips["H.264 with a variable frame rate"] = (p, False, False)
    # as a phone records: HEVC Main 10 (10-bit 4:2:0) and AAC in QuickTime, turned by its tag
    hevc = os.path.join(tmp, "hevc10.mov")
    ffmpeg(["-filter_complex", f"{video},format=yuv420p10le[v];{sound}[s]", "-map", "[v]",
            "-map", "[s]", "-c:v", "libx265", "-x265-params", "log-level=error", "-tag:v", "hvc1",
            "-c:a", "aac", hevc])
    p = os.path.join(tmp, "hevc10_rotated.mov")
    ffmpeg(["-i", hevc, "-c", "copy", "-tag:v", "hvc1", "-metadata:s:v:0", "rotate=90", p])
    clips["HEVC Main 10 + AAC in QuickTime with a rotation tag"] = (p, True, True)
    return clips


def probe(path):
    """Video frames, width, height, key frames (decoded indices), sound streams, duration."""
    r = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                        "stream=codec_type,width,height:format=duration", "-of", "json", path],
                       capture_output=True, text=True, check=True)
    info = json.loads(r.stdout)
    video = [s for s in info["streams"] if s["codec_type"] == "video"][0]
    frames = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                             "frame=key_frame", "-of", "json", path],
                            capture_output=True, text=True, check=True)
    keys = json.loads(frames.stdout)["frames"]
    return {"frames": len(keys), "width": video["width"], "height": video["height"],
            "keys": [i for i, f in enumerate(keys) if f["key_frame"]],
            "sound": sum(s["codec_type"] == "audio" for s in info["streams"]),
            "duration": float(info["format"]["duration"])}


def valid_lines(path):
    """(number of lines, the first schema error or None, the parsed objects)."""
    objs, error = [], None
    with open(path) as f:
        for line in f:
            obj = json.loads(line)
            objs.append(obj)
            if error is None:
                try:
                    jsonschema.validate(obj, SCHEMA)
                except jsonschema.ValidationError as e:
                    error = e.message
    return len(objs), error, objs


def annotate(args, timeout=300, **kw):
    """`heed annotate` with args; one that runs past timeout is killed and reported as failed"""
    try:
        return subprocess.run([HEED, "annotate"] + args, capture_output=True, text=True,
                              timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, -1, "", f"still running after {timeout} s")


def annotated_with_lines(path, name, timeout):
    """`heed annotate` on path with its JSON lines beside it: (the run, probe() of the output,
    valid_lines() of the lines), or None after a failed check named name when the run failed"""
    out, jsonl = path + ".out.mp4", path + ".jsonl"
    r = annotate([path, "-o", out, "--jsonl", jsonl], timeout=timeout)
    if r.returncode != 0:
        check(f"{name}: annotated", False, " ".join(r.stderr.strip().splitlines()[-1:]))
        return None
    return r, probe(out), valid_lines(jsonl)


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Files as a web server serves them: with byte ranges, which a demuxer that reads an MP4's
    index at its end needs (Python's own handler has none)"""

    def log_message(self, *args):
        pass

    def send_head(self):
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self.send_error(404)
            return None
        size = os.path.getsize(path)
        start, end = 0, size - 1
        m = re.match(r"bytes=(\d*)-(\d*)$", self.headers.get("Range", ""))
        if m and m.group(1):
            start = int(m.group(1))
            end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
        if start >= size and size:
            self.send_error(416)
            return None
        self.send_response(206 if m else 200)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Accept-Ranges", "bytes")
        if m:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        with open(path, "rb") as f:
            f.seek(start)
            return io.BytesIO(f.read(end - start + 1))


def serve(folder):
    """A web server on the loopback serving folder: (its address, the server)"""
    handler = lambda *a: RangeHandler(*a, directory=folder)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def serve_rtsp(launch):
    """An RTSP server on the loopback (over TCP, so no packet is lost), each client its own stream
    made by launch: (its address, the main loop it runs in)"""
    gi.require_version("GstRtspServer", "1.0")
    gi.require_version("GstRtsp", "1.0")
    from gi.repository import GLib, GstRtsp, GstRtspServer
    context = GLib.MainContext()
    server = GstRtspServer.RTSPServer()
    server.set_service("0")
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
    server.get_mount_points().add_factory("/cam", factory)
    server.attach(context)
    loop = GLib.MainLoop(context)
    threading.Thread(target=loop.run, daemon=True).start()
    return f"rtsp://127.0.0.1:{server.get_bound_port()}/cam", loop


def main():
    Gst.init(None)
    tmp = tempfile.mkdtemp(prefix="heed-annotate-")
    clips = make_clips(tmp)
    for name, (path, sound, rotated) in clips.items():
        out, jsonl = path + ".out.mp4", path + ".jsonl"
        r = annotate([path, "-o", out, "--jsonl", jsonl])
        if r.returncode != 0:
            check(f"{name}: annotated", False, " ".join(r.stderr.strip().splitlines()[-1:]))
            continue
        a, b = probe(path), probe(out)
        n, error, objs = valid_lines(jsonl)
        upright = ((b["width"], b["height"]) == (a["height"], a["width"]) if rotated
                   else (b["width"], b["height"]) == (a["width"], a["height"]))
        check(f"{name}: same frames and duration, sound kept, upright, JSON lines valid",
              b["frames"] == a["frames"] == 50 and abs(b["duration"] - a["duration"]) <= 0.05
              and b["sound"] == (1 if sound else 0) and upright and n == 50 and error is None,
              f"frames {a['frames']} -> {b['frames']}, duration {a['duration']:.3f} -> "
              f"{b['duration']:.3f}, sound {b['sound']}, {a['width']}x{a['height']} -> "
              f"{b['width']}x{b['height']}, {n} lines, schema: {error}")
        if name == "H.264 + AAC in MP4":
            default_lines = objs
            keyframes = [o["frame"] for o in objs if o.get("keyframe")]
            check("the cut is a keyframe, and a key frame of the output",
                  len(keyframes) == 1 and abs(keyframes[0] - 25) <= 1 and keyframes[0] in b["keys"],
                  f"keyframes {keyframes}, key frames of the output {b['keys']}")
            check("the embedded model is named once, with how to name a checkpoint",
                  r.stderr.count("embedded test-pattern model") == 1 and "--model hf:" in r.stderr,
                  r.stderr.strip().splitlines()[0])

    # the container the output's name asks for: its codecs, every frame, the sound, a key frame
    # at the keyframe; a name that asks for another is refused, nothing written
    source = clips["H.264 + AAC in MP4"][0]
    for ext, container, codecs in ((".mkv", "matroska,webm", ["h264", "aac"]),
                                   (".webm", "matroska,webm", ["vp9", "opus"]),
                                   (".MOV", "mov,mp4,m4a,3gp,3g2,mj2", ["h264", "aac"]),
                                   (".ts", "mpegts", ["h264", "aac"])):
        out = os.path.join(tmp, "container" + ext)
        r = annotate([source, "-o", out])
        if r.returncode != 0:
            check(f"-o {ext}: annotated", False, " ".join(r.stderr.strip().splitlines()[-1:]))
            continue
        info = json.loads(subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name:format=format_name",
             "-of", "json", out], capture_output=True, text=True, check=True).stdout)
        written = sorted({s["codec_name"] for s in info["streams"]})
        b = probe(out)
        check(f"-o {ext}: {container} with {' and '.join(codecs)}, every frame, the keyframe a "
              "key frame",
              info["format"]["format_name"] == container and written == sorted(codecs)
              and b["frames"] == 50 and keyframes and keyframes[0] in b["keys"],
              f"{info['format']['format_name']}, {written}, {b['frames']} frames, key frames "
              f"{b['keys']}, keyframes {keyframes}")
    # -o a folder: the default name in it
    folder = os.path.join(tmp, "out-folder")
    os.mkdir(folder)
    r = annotate([source, "-o", folder])
    into = os.path.join(folder, "h264_aac-annotated.mp4")
    check("-o a folder: the default name in it", r.returncode == 0 and os.path.isfile(into)
          and probe(into)["frames"] == 50, f"status {r.returncode}: {os.listdir(folder)}")
    # several videos, and a folder of them, one after another: each named after its input in
    # the -o and --jsonl folders (made where missing), a folder's videos in a file manager's
    # order and its other files passed over; one that is not a video is said, and the others
    # are still written (exit status 1); -o a file, or two videos written to one name, refused
    # before anything is written
    several = os.path.join(tmp, "several")
    shelf = os.path.join(several, "clips")
    os.makedirs(shelf)
    for name in ("walk10.mp4", "walk2.mp4"):
        shutil.copy(source, os.path.join(shelf, name))
    with open(os.path.join(shelf, "notes.txt"), "w") as f:
        f.write("not a video\n")
    shutil.copy(SCHEMA_PATH, os.path.join(shelf, "walk2.json"))  # a sidecar
    webm = clips["VP9 + Opus in WebM"][0]
    outs, lines = os.path.join(several, "out"), os.path.join(several, "lines")
    r = annotate([shelf, webm, "-o", outs, "--jsonl", lines], cwd=several)
    stems = ["walk2", "walk10", "vp9_opus"]
    order = re.findall(r"video (\d) of 3: (\S+)", r.stderr)
    results = [(probe(os.path.join(outs, f"{n}-annotated.mp4"))["frames"],
                valid_lines(os.path.join(lines, f"{n}.jsonl"))[:2])
               if os.path.exists(os.path.join(lines, f"{n}.jsonl")) else None for n in stems]
    check("a folder and a file: every video written, named after it in the -o and --jsonl "
          "folders, the folder's in a file manager's order, its other files passed over",
          r.returncode == 0 and [os.path.basename(p) for _, p in order]
          == ["walk2.mp4", "walk10.mp4", "vp9_opus.webm"]
          and results == [(50, (50, None))] * 3 and sorted(os.listdir(outs))
          == sorted(f"{n}-annotated.mp4" for n in stems)
          and "3 of 3 videos written" in r.stderr,
          f"status {r.returncode}: {order}, {results}, {r.stderr.strip()[-200:]}")
    broken = os.path.join(several, "broken.mp4")
    with open(broken, "wb") as f:
        f.write(b"\0\0\0\x18ftypmp42" + bytes(range(256)) * 8)
    outs2 = os.path.join(several, "out2")
    r = annotate([broken, source, "-o", outs2], cwd=several)
    written = os.path.join(outs2, "h264_aac-annotated.mp4")
    check("one that is not a video among them: said, the others written, exit status 1",
          r.returncode == 1 and "broken.mp4 is not a video heed can read" in r.stderr
          and os.path.isfile(written) and probe(written)["frames"] == 50
          and "1 of 2 videos written; not written (the reason above each): " in r.stderr
          and r.stderr.rstrip().endswith("broken.mp4")
          and not os.path.exists(os.path.join(outs2, "broken-annotated.mp4")),
          f"status {r.returncode}: {r.stderr.strip()[-300:]}")
    twin = os.path.join(several, "twin")
    os.mkdir(twin)
    shutil.copy(source, twin)
    for what, args, says in (
            ("-o a file", [source, webm, "-o", "both.mp4"],
             "-o both.mp4: with 2 videos, -o names a folder"),
            ("two videos written to one name", [source, os.path.join(twin, "h264_aac.mp4")],
             "would both be written to h264_aac-annotated.mp4")):
        before = sorted(os.listdir(several))
        r = annotate(args, cwd=several)
        check(f"several videos, {what}: refused with a one-line reason, nothing written",
              r.returncode == 1 and says in r.stderr and sorted(os.listdir(several)) == before,
              f"status {r.returncode}: {r.stderr.strip()[-200:]}")

    out = os.path.join(tmp, "container.avi")
    r = annotate([source, "-o", out])
    check("-o .avi: refused with the containers heed writes, nothing written",
          r.returncode != 0 and "writes MP4 (.mp4, .m4v), QuickTime (.mov), Matroska (.mkv), "
          "WebM (.webm) or MPEG-TS (.ts)" in r.stderr and not os.path.exists(out),
          f"status {r.returncode}: {r.stderr.strip()[-200:]}")

    # the elements' settings from annotate's options: a labels file, top-k, an interval, the
    # keyframe threshold, no attention map; what a property does not take is refused with what
    # it takes, and nothing is written
    labels_file = os.path.join(tmp, "labels.txt")
    with open(labels_file, "w") as f:
        f.write("".join(f"pattern {i}\n" for i in range(19)))
    set_lines, set_out = os.path.join(tmp, "options.jsonl"), os.path.join(tmp, "options.mp4")
    r = annotate([clips["H.264 + AAC in MP4"][0], "-o", set_out, "--jsonl", set_lines, "--labels",
                  labels_file, "--top-k", "2", "--interval", "3", "--threshold", "1",
                  "--attention", "none"])
    n, error, objs = valid_lines(set_lines) if r.returncode == 0 else (0, r.stderr, [])

    def top2(o):
        return [(x["label"], x["label_id"]) for x in o["tensors"][0]["labels"]]

    check("--labels, --top-k, --interval, --threshold and --attention reach the elements",
          n == 50 and error is None
          and all(top2(o) == [(f"pattern {x['label_id']}", x["label_id"])
                              for x in d["tensors"][0]["labels"][:2]]
                  for o, d in zip(objs[::3], default_lines[::3]))
          and [o["inferred"] for o in objs] == [f % 3 == 0 for f in range(50)]
          and not any(o["keyframe"] for o in objs)
          and not any("attention_peak" in o for o in objs),
          f"{n} lines, schema: {error}, first {top2(objs[0]) if objs else None}, inferred "
          f"{''.join('T' if o['inferred'] else '.' for o in objs[:12])}, keyframes "
          f"{[o['frame'] for o in objs if o['keyframe']]}")
    for option, value, takes in (("--resize", "sideways", "one of stretch, crop, checkpoint"),
                                 ("--top-k", "0", "a whole number from 1 to 1000"),
                                 ("--interval", "-1", "a whole number from 0"),
                                 ("--threshold", "2", "a number from 0 to 1")):
        bad_out = os.path.join(tmp, f"bad{option}.mp4")
        r = annotate([clips["H.264 + AAC in MP4"][0], "-o", bad_out, option, value])
        last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
        check(f"annotate {option} {value}: refused with what it takes, nothing written",
              r.returncode != 0 and f"{option} {value}: it takes {takes}" in last
              and not os.path.exists(bad_out), f"status {r.returncode}: {last}")

    # addresses: over HTTP (a web server on the loopback), the output named after the address's
    # file; a file:// URI is the file; a missing page and an address nothing reads are one-line
    # errors, nothing written
    address, server = serve(tmp)
    web = os.path.join(tmp, "web")
    os.mkdir(web)
    r = annotate([f"{address}/h264_aac.mp4?session=1", "--jsonl", "web.jsonl"], cwd=web)
    written = os.path.join(web, "h264_aac-annotated.mp4")
    if r.returncode == 0 and os.path.exists(written):
        b = probe(written)
        n, error, objs = valid_lines(os.path.join(web, "web.jsonl"))
        check("over HTTP: every frame and the sound, the output named after the address's file, "
              "the JSON lines as from the file",
              b["frames"] == 50 and b["sound"] == 1 and objs == default_lines,
              f"{b['frames']} frames, sound {b['sound']}, {n} lines, as from the file: "
              f"{objs == default_lines}")
    else:
        check("over HTTP: annotated", False,
              f"status {r.returncode}: {r.stderr.strip()[-300:]}; {sorted(os.listdir(web))}")
    file_out = os.path.join(tmp, "from-uri.mp4")
    r = annotate(["file://" + clips["H.264 + AAC in MP4"][0], "-o", file_out])
    check("a file:// URI: the file", r.returncode == 0 and probe(file_out)["frames"] == 50,
          f"status {r.returncode}: {r.stderr.strip()[-200:]}")
    for bad, reason in ((f"{address}/missing.mp4", "is not a video heed can read"),
                        ("nosuch://host/clip.mp4", "no GStreamer source reads nosuch: addresses")):
        before = sorted(os.listdir(web))
        r = annotate([bad], cwd=web)
        last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
        check(f"{bad.split(':')[0]}: {reason}: a one-line reason, nothing written",
              r.returncode != 0 and reason in last and last.startswith("heed: ")
              and sorted(os.listdir(web)) == before, f"status {r.returncode}: {last}")
    # heed classify on addresses: a picture over HTTP is fetched whole and read as the same
    # file is (its line the file's, but for the name); a missing one is a one-line reason
    photo = os.path.join(tmp, "photo.jpg")
    ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=320x240", "-frames:v", "1", photo])
    local = subprocess.run([HEED, "classify", photo], capture_output=True, text=True)
    web_photo = subprocess.run([HEED, "classify", f"{address}/photo.jpg"], capture_output=True,
                               text=True)
    check("heed classify over HTTP: the file's line, named by its address",
          local.returncode == web_photo.returncode == 0 and local.stdout and
          web_photo.stdout == local.stdout.replace(json.dumps(photo), json.dumps(
              f"{address}/photo.jpg")), f"{web_photo.stdout[:160]} against {local.stdout[:160]}")
    r = subprocess.run([HEED, "classify", f"{address}/missing.jpg"], capture_output=True,
                       text=True)
    check("heed classify, a missing page: a one-line reason",
          r.returncode == 1 and r.stderr.strip() == f"heed: {address}/missing.jpg: cannot fetch: "
          "Not Found", r.stderr.strip())
    server.shutdown()
    # and a live stream's first frame, with sound beside the picture and without
    for pattern, sound in (("smpte", ""), ("ball", " audiotestsrc is-live=true ! opusenc ! "
                                                   "rtpopuspay name=pay1 pt=97")):
        stream, loop = serve_rtsp(
            f"( videotestsrc is-live=true pattern={pattern} ! video/x-raw,width=160,height=120,"
            "framerate=30/1 ! x264enc tune=zerolatency speed-preset=ultrafast ! rtph264pay "
            f"name=pay0 pt=96{sound} )")
        r = subprocess.run([HEED, "classify", stream], capture_output=True, text=True,
                           timeout=120)
        loop.quit()
        line = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else {}
        check(f"heed classify rtsp://, {'with' if sound else 'no'} sound: the first frame "
              f"classified ({pattern})",
              line.get("file") == stream and line["labels"][0]["label"] == pattern,
              f"status {r.returncode}: {r.stdout[:150]} {r.stderr.strip()[-150:]}")
    # RTSP: a camera's stream with its sound (two streams from one source), ending after 2 s;
    # the run ends with it, every frame and the sound written (a source with several streams
    # left its sound unlinked, and the run stood still, before uridecodebin)
    rtsp, loop = serve_rtsp(
        "( videotestsrc is-live=true pattern=ball num-buffers=50 ! video/x-raw,width=160,"
        "height=120,framerate=25/1 ! x264enc tune=zerolatency speed-preset=ultrafast "
        "! rtph264pay name=pay0 pt=96 audiotestsrc is-live=true num-buffers=100 "
        "samplesperbuffer=960 ! audio/x-raw,rate=48000 ! opusenc ! rtpopuspay name=pay1 pt=97 )")
    camera_out = os.path.join(tmp, "camera.mp4")
    r = annotate([rtsp, "-o", camera_out], timeout=120)
    b = probe(camera_out) if r.returncode == 0 else {"frames": 0, "sound": 0}
    check("RTSP with sound: the run ends with the stream, every frame and the sound written",
          r.returncode == 0 and b["frames"] == 50 and b["sound"] == 1,
          f"status {r.returncode}: {b['frames']} frames, sound {b['sound']}; "
          f"{r.stderr.strip()[-200:]}")
    loop.quit()

    # MP4 takes no picture under 16 pixels a side: such a clip is scaled up, its shape kept by
    # the pixel aspect ratio, every frame written (it used to stop on a negotiation error, and
    # at times hang in it)
    for size, codec in (("18x10", ["-c:v", "libx264"]),
                        ("17x9", ["-vf", "scale=17:9,format=yuv444p", "-c:v", "ffv1"])):
        tiny = os.path.join(tmp, f"tiny-{size}.mkv")
        ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=18x10:r=25:d=0.4"] + codec + [tiny])
        out = tiny + ".out.mp4"
        r = annotate([tiny, "-o", out])
        if r.returncode != 0:
            check(f"a {size} clip: annotated", False, " ".join(r.stderr.strip().splitlines()[-1:]))
            continue
        def shape(path):
            """(width, height, the picture's width / height as shown: its pixels' aspect in)"""
            v = json.loads(subprocess.run(
                ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                 "stream=width,height,sample_aspect_ratio", "-of", "json", path],
                capture_output=True, text=True, check=True).stdout)["streams"][0]
            sar = [int(x) for x in v.get("sample_aspect_ratio", "1:1").split(":")]
            return v["width"], v["height"], v["width"] * sar[0] / max(sar[1], 1) / v["height"]
        (w0, h0, shown0), (w1, h1, shown1) = shape(tiny), shape(out)
        frames0, frames1 = probe(tiny)["frames"], probe(out)["frames"]
        check(f"a {size} clip: every frame, at least 16 px a side, its shape kept",
              frames1 == frames0 == 10 and min(w1, h1) >= 16 and abs(shown1 / shown0 - 1) < 0.01,
              f"frames {frames0} -> {frames1}, {w0}x{h0} -> {w1}x{h1}, shown {shown0:.3f} wide "
              f"a unit of height -> {shown1:.3f}")

    # an animated GIF: gst-libav 1.22 stamps every frame 0 and its demuxer never ends the
    # stream (it spins at the end of the file); heed stamps each frame at the end of the one
    # before and ends the stream once the last frame is decoded
    gif = os.path.join(tmp, "animated.gif")
    ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=96x64:r=10:d=2", gif])
    # it hung for ever before: 2 minutes is forty times what it takes
    done = annotated_with_lines(gif, "an animated GIF", timeout=120)
    if done:
        r, b, (n, error, objs) = done
        stamps = [o["timestamp"] for o in objs]
        check("an animated GIF: its 20 frames, 2 s, one JSON line each at its own time",
              b["frames"] == 20 and abs(b["duration"] - 2.0) <= 0.05 and n == 20
              and error is None and stamps == [k * 100000000 for k in range(20)],
              f"{b['frames']} frames, {b['duration']:.3f} s, {n} lines, times {stamps[:4]}..., "
              f"schema: {error}")

    # NUT (MPEG-4 Part 2 and PCM): gst-libav 1.22's demuxer never ends this stream either, and
    # the decoder holds its last two frames back until it ends; heed ends the stream right after
    # the demuxer, so that they come out (it hung before; ended after the decoders, they were lost)
    nut = os.path.join(tmp, "clip.nut")
    ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=96x64:r=25:d=2", "-f", "lavfi", "-i",
            "sine=d=2:r=48000", "-c:v", "mpeg4", "-c:a", "pcm_s16le", nut])
    done = annotated_with_lines(nut, "a NUT file", timeout=120)
    if done:
        r, b, (n, error, objs) = done
        check("a NUT file whose demuxer never ends the stream: all 50 frames, the sound, 2 s, "
              "said once",
              b["frames"] == 50 and b["sound"] == 1 and abs(b["duration"] - 2.0) <= 0.05
              and n == 50 and error is None and r.stderr.count("ending it") == 1,
              f"{b['frames']} frames, sound {b['sound']}, {b['duration']:.3f} s, {n} lines, "
              f"schema: {error}")

    # Matroska whose first video track is a still picture (a cover, 1 frame) that is not marked
    # default, and whose second, the 50-frame video, is: players show the default, and so does
    # heed (it annotated the picture alone, one frame, before). Marked the other way round, the
    # file's default is the picture, and that is what is annotated.
    cover = os.path.join(tmp, "cover.png")
    ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=96x64", "-frames:v", "1", cover])
    for marked, want in ((1, 50), (0, 1)):
        mkv = os.path.join(tmp, f"cover-first-{marked}.mkv")
        ffmpeg(["-loop", "1", "-framerate", "1", "-t", "1", "-i", cover,
                "-f", "lavfi", "-i", "testsrc2=s=96x64:r=25:d=2", "-f", "lavfi", "-i", "sine=d=2",
                "-map", "0:v", "-map", "1:v", "-map", "2:a", "-c:v:0", "mjpeg", "-c:v:1", "libx264",
                "-c:a", "aac", "-disposition:v:0", "0" if marked else "default",
                "-disposition:v:1", "default" if marked else "0", mkv])
        out = mkv + ".out.mp4"
        r = annotate([mkv, "-o", out], timeout=120)
        b = probe(out) if r.returncode == 0 else None
        check(f"Matroska, the still picture first and the {'video' if marked else 'picture'} "
              f"marked default: the default track's {want} frame(s), with the sound",
              b is not None and b["frames"] == want and b["sound"] == 1,
              f"frames {b['frames']}, sound {b['sound']}" if b
              else " ".join(r.stderr.strip().splitlines()[-1:]))

    # Matroska with two sound tracks, the first (1 s, 22.05 kHz mono) not marked default and the
    # second (2 s, 48 kHz stereo) marked: the default one is what heedkeyframe hears and the
    # output keeps, at its own rate and channels (the first was taken before)
    two = os.path.join(tmp, "two-sounds.mkv")
    ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=96x64:r=25:d=2", "-f", "lavfi", "-i",
            "sine=f=300:d=1:r=22050", "-f", "lavfi", "-i", "sine=f=900:d=2:r=48000",
            "-filter_complex", "[2:a]pan=stereo|c0=c0|c1=c0[st]", "-map", "0:v", "-map", "1:a",
            "-map", "[st]", "-c:v", "libx264", "-c:a", "aac", "-disposition:a:0", "0",
            "-disposition:a:1", "default", two])
    r = annotate([two, "-o", two + ".mp4"], timeout=120)
    kept = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a", "-show_entries",
                           "stream=sample_rate,channels,duration", "-of", "json", two + ".mp4"],
                          capture_output=True, text=True)
    sounds = json.loads(kept.stdout)["streams"] if r.returncode == 0 and kept.returncode == 0 \
        else []
    check("Matroska, the second sound track marked default: that one kept (48 kHz, stereo, 2 s)",
          len(sounds) == 1 and sounds[0]["sample_rate"] == "48000" and sounds[0]["channels"] == 2
          and abs(float(sounds[0]["duration"]) - 2.0) <= 0.1,
          str(sounds) if sounds else " ".join(r.stderr.strip().splitlines()[-1:]))

    # an MP4 cut short (its index at the front, a download stopped mid-file): the decoder loses
    # frames near the cut, and mp4mux's edit list, the sum of the frames' durations in decode
    # order, then ended before the last frames written (30 written, 29 shown). Every frame
    # written is shown now, wherever the file is cut.
    whole = os.path.join(tmp, "whole.mp4")
    ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=3", "-c:v", "libx264",
            "-movflags", "+faststart", whole])
    with open(whole, "rb") as f:
        data = f.read()
    shown = []
    for fraction in (0.45, 0.55, 0.68, 0.83):
        cut = os.path.join(tmp, f"cut-{fraction}.mp4")
        with open(cut, "wb") as f:
            f.write(data[:int(len(data) * fraction)])
        done = annotated_with_lines(cut, f"an MP4 cut at {fraction}", timeout=120)
        if done:
            r, b, (n, error, objs) = done
            shown.append((fraction, n, b["frames"]))
    check("an MP4 cut short at four points: every frame written is shown (a JSON line each)",
          len(shown) == 4 and all(n == frames > 0 for _, n, frames in shown),
          ", ".join(f"{fr}: {n} lines, {frames} shown" for fr, n, frames in shown))

    # sound whose format changes mid-stream, as a broadcast's TS may (two recordings joined:
    # 44.1 kHz mono, then 48 kHz stereo): the AAC encoder takes no change, so the later part is
    # converted to the first's format (it stopped on a negotiation error before)
    parts = [os.path.join(tmp, f"part{k}.ts") for k in (1, 2)]
    for k, (part, sound_args) in enumerate(zip(parts, (["-ar", "44100", "-ac", "1"],
                                                       ["-ar", "48000", "-ac", "2"]))):
        ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=96x64:r=25:d=2", "-f", "lavfi", "-i",
                "sine=d=2", "-c:v", "libx264", "-c:a", "aac"] + sound_args
               + ["-output_ts_offset", str(2 * k), "-f", "mpegts", part])
    joined = os.path.join(tmp, "joined.ts")
    with open(joined, "wb") as f:
        for part in parts:
            with open(part, "rb") as g:
                f.write(g.read())
    out = joined + ".out.mp4"
    r = annotate([joined, "-o", out])
    b = probe(out) if r.returncode == 0 else None
    check("sound changing from 44.1 kHz mono to 48 kHz stereo: every frame, the sound kept",
          b is not None and b["frames"] == 100 and b["sound"] == 1
          and abs(b["duration"] - 4.0) <= 0.1,
          f"frames {b['frames']}, sound {b['sound']}, {b['duration']:.3f} s" if b
          else " ".join(r.stderr.strip().splitlines()[-1:]))

    # --report on a clip with no keyframe: the thumbnails' sink gets no frame, and held the
    # pipeline's start for one; the queue before the muxer (200 frames) filled, and the run
    # stopped for ever at 202 frames
    still = os.path.join(tmp, "no-cut.mp4")
    ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=96x64:r=25:d=12", "-c:v", "libx264", still])
    out = still + ".out.mp4"
    r = annotate([still, "-o", out, "--report", os.path.join(tmp, "no-cut-report")], timeout=120)
    b = probe(out) if r.returncode == 0 else None
    check("--report on 300 frames with no keyframe: every frame written",
          b is not None and b["frames"] == 300,
          f"{b['frames']} frames" if b else " ".join(r.stderr.strip().splitlines()[-1:]))

    # on a terminal: a bar redrawn in place instead of lines. The bar is drawn every 250 ms
    # once the pipeline runs, so the clip must last longer than that on the fastest machine:
    # the 2 s clips took 1.5 s in all there, start-up included, and showed no bar.
    tty_in = os.path.join(tmp, "tty-in.mp4")
    ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=10", "-c:v", "libx264", tty_in])
    status, text = stderr_on_terminal([HEED, "annotate", tty_in, "-o",
                                       os.path.join(tmp, "tty.mp4")])
    check("on a terminal: a progress bar redrawn in place, no progress lines",
          status == 0 and re.search(r"\r\[[#-]{30}\] +\d+%", text) is not None
          and "heed annotate: 10%" not in text, repr(text[-160:]))

    # Ctrl-C halfway through a longer clip
    long_in = os.path.join(tmp, "long.mp4")
    ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=30", "-f", "lavfi", "-i",
            "sine=f=300:d=30", "-c:v", "libx264", "-c:a", "aac", long_in])
    out, jsonl = os.path.join(tmp, "long.out.mp4"), os.path.join(tmp, "long.jsonl")
    report = os.path.join(tmp, "long-report")
    p = subprocess.Popen([HEED, "annotate", long_in, "-o", out, "--jsonl", jsonl, "--report",
                          report], stderr=subprocess.PIPE, text=True)
    lines = []
    for line in p.stderr:  # progress lines: interrupt once frames are being written
        lines.append(line)
        if re.search(r"annotate: \d+%, [1-9]\d* frames", line):
            p.send_signal(signal.SIGINT)
            break
    lines += p.stderr.readlines()
    status = p.wait(timeout=120)
    said = re.search(r"holds the first (\d+) frames", "".join(lines))
    b = probe(out) if os.path.exists(out) else None
    n, error, _ = valid_lines(jsonl) if os.path.exists(jsonl) else (0, "missing", [])
    written = int(said.group(1)) if said else -1
    check("Ctrl-C: exit status 130, a file that plays with the frames written, as long as they "
          "last, and as many JSON lines",
          status == 130 and b is not None and 0 < b["frames"] == written == n and error is None
          and b["frames"] < 750 and abs(b["duration"] - written / 25) <= 0.1,
          f"status {status}, said {written}, file {b and b['frames']} frames "
          f"{b and round(b['duration'], 3)} s, {n} lines")
    page = os.path.join(report, "index.html")
    page = open(page).read() if os.path.exists(page) else ""
    check("Ctrl-C: the report is written for the frames annotated, and says it was interrupted",
          f"<p class=\"meta\">{written} frames" in page and "interrupted" in page,
          re.sub(r"<[^>]+>", "", page[page.find('<p class="meta">'):][:160]))

    # bad outputs and inputs: one line, non-zero, quickly
    h264 = clips["H.264 + AAC in MP4"][0]
    webp = os.path.join(tmp, "animated.webp")  # GStreamer 1.22 reads still WebP only
    ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=96x64:r=10:d=0.5", "-c:v", "libwebp", "-loop", "0",
            webp])
    apng = os.path.join(tmp, "animated.png")  # GStreamer 1.22 reads its first frame only
    ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=96x64:r=10:d=0.5", "-plays", "0", "-f", "apng",
            apng])
    precious, link = os.path.join(tmp, "precious.mp4"), os.path.join(tmp, "link.mp4")
    with open(h264, "rb") as f:
        kept = f.read()
    with open(precious, "wb") as f:
        f.write(kept)
    os.symlink(precious, link)
    # a Matroska file cut right before its first cluster: its header reads, no frame decodes (it
    # wrote an empty MP4 and said "0 frames" with exit status 0 before)
    header = os.path.join(tmp, "header-only.mkv")
    ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=96x64:r=25:d=1", "-c:v", "libx264", header])
    with open(header, "rb") as f:
        whole_mkv = f.read()
    with open(header, "wb") as f:
        f.write(whole_mkv[:whole_mkv.find(b"\x1f\x43\xb6\x75")])  # the first Cluster's ID
    # a still WebP cut short (a download stopped): webpdec decodes it as far as it goes, where
    # Pillow refuses it
    cut_webp = os.path.join(tmp, "cut.webp")
    ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=96x64", "-frames:v", "1", "-c:v", "libwebp",
            cut_webp])
    with open(cut_webp, "rb") as f:
        whole_webp = f.read()
    with open(cut_webp, "wb") as f:
        f.write(whole_webp[:len(whole_webp) * 2 // 3])
    no_videos = os.path.join(tmp, "no-videos")
    os.mkdir(no_videos)
    with open(os.path.join(no_videos, "notes.txt"), "w") as f:
        f.write("not a video\n")
    for what, args, says in (
            ("an unwritable output", [h264, "-o", "/nonexistent/dir/out.mp4"], ""),
            ("a full disk", [h264, "-o", "/dev/full"], ""),
            ("a full disk for the JSON lines", [h264, "-o", os.path.join(tmp, "x.mp4"),
                                                "--jsonl", "/dev/full"], ""),
            ("a missing input", [os.path.join(tmp, "missing.mp4")], ""),
            ("a folder with no video", [no_videos],
             "no videos in this folder"),
            ("a file that is not a video", [SCHEMA_PATH], ""),
            ("a video whose header holds no frame after it", [header, "-o", header + ".mp4"],
             "no frame could be decoded"),
            ("an animated WebP", [webp], "is an animated WebP"),
            ("a still WebP cut short", [cut_webp], "the WebP is cut short or damaged"),
            ("an animated PNG", [apng], "is an animated PNG"),
            ("the input as the output, by a link", [precious, "-o", link], "is the input itself"),
            ("the input as the JSON lines", [precious, "--jsonl", precious],
             "is the input itself")):
        start = time.monotonic()
        r = annotate(args, cwd=tmp)
        err = r.stderr.strip().splitlines()
        last = err[-1] if err else ""
        check(f"{what}: a one-line reason, exit status non-zero",
              r.returncode not in (0, 130) and last.startswith("heed:") and "\n" not in last
              and says in last and time.monotonic() - start < 60, f"status {r.returncode}: {last}")
    with open(precious, "rb") as f:
        check("the input named as an output is left as it was", f.read() == kept)
    # a PNG that is not animated is a one-frame video, as any still picture, shown for 1 s (its
    # frame had no duration, so the MP4 lasted 0 s and ffprobe, as players, showed no frame)
    for picture in ("still.png", "still.jpg"):
        picture = os.path.join(tmp, picture)
        ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=96x64", "-frames:v", "1", picture])
        r = annotate([picture, "-o", picture + ".mp4"])
        b = probe(picture + ".mp4") if r.returncode == 0 else None
        check(f"a still picture ({picture[-3:]}): annotated, one frame shown for 1 s",
              b is not None and b["frames"] == 1 and abs(b["duration"] - 1.0) <= 0.05,
              f"frames {b['frames']}, {b['duration']:.3f} s" if b
              else " ".join(r.stderr.strip().splitlines()[-1:]))
    # an animated GIF cut short (a download stopped): its whole pictures annotated, as many as
    # Pillow loads; FFmpeg's GIF demuxer, through GStreamer, read past the end of a GIF without
    # its trailer for a minute or more, and heed said it was no video it could read
    from PIL import Image
    gif = os.path.join(tmp, "cut-animated.gif")
    ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=96x64:r=10:d=1", gif])
    with open(gif, "rb") as f:
        whole_gif = f.read()
    with open(gif, "wb") as f:
        f.write(whole_gif[:len(whole_gif) * 6 // 10])
    pillow_frames, image = 0, Image.open(gif)
    try:
        while True:
            image.seek(pillow_frames)
            image.load()
            pillow_frames += 1
    except (EOFError, OSError):
        pass
    start = time.monotonic()
    r = annotate([gif, "-o", gif + ".mp4"], timeout=120)
    took = time.monotonic() - start
    b = probe(gif + ".mp4") if r.returncode == 0 else None
    check("an animated GIF cut short: its whole pictures annotated, as many as Pillow loads, in "
          "under 60 s", b is not None and 0 < b["frames"] == pillow_frames and took < 60,
          f"{b['frames']} frames, Pillow {pillow_frames}, {took:.1f} s" if b
          else " ".join(r.stderr.strip().splitlines()[-1:]))
    # a photo as a phone stores it: the sensor's rows, with an EXIF orientation. Each of the
    # eight is turned upright as Pillow's exif_transpose turns it (as transformers' load_image
    # and heed classify do): the output's shape, and the quadrant where the white block lands
    # (the labels drawn over the top left darken it, not enough to move the brightest). A photo
    # given by its address too, as heed classify takes one
    from PIL import ImageOps
    block = Image.new("RGB", (120, 80), (0, 0, 0))
    block.paste((255, 255, 255), (0, 0, 60, 40))

    def brightest(im):
        w, h = im.size
        quads = [(0, 0, w // 2, h // 2), (w // 2, 0, w, h // 2), (0, h // 2, w // 2, h),
                 (w // 2, h // 2, w, h)]
        means = [sum(im.crop(q).getdata()) / ((q[2] - q[0]) * (q[3] - q[1])) for q in quads]
        return means.index(max(means))

    def not_upright(photo, source, out):
        """None where source annotated into out comes out as exif_transpose turns photo, else
        what came out"""
        upright = ImageOps.exif_transpose(Image.open(photo)).convert("L")
        r = annotate([source, "-o", out])
        got = None
        if r.returncode == 0:
            size = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=width,height",
                                   "-of", "csv=p=0", out],
                                  capture_output=True, text=True).stdout.strip().split(",")
            w, h = int(size[0]), int(size[1])
            raw = subprocess.run(["ffmpeg", "-v", "error", "-i", out, "-frames:v", "1",
                                  "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                                 capture_output=True).stdout
            got = Image.frombytes("L", (w, h), raw) if len(raw) == w * h else None
        if got is not None and got.size == upright.size and brightest(got) == brightest(upright):
            return None
        return f"{got.size}, quadrant {brightest(got)}" if got else "not annotated"
    wrong = []
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        photo = os.path.join(tmp, f"orientation{orientation}.jpg")
        block.save(photo, exif=exif.tobytes(), quality=95)
        why = not_upright(photo, photo, photo + ".mp4")
        if why:
            wrong.append(f"{orientation}: {why}")
    check("a photo with an EXIF orientation: each of the eight turned upright as Pillow turns it",
          not wrong, "; ".join(wrong))
    # a run-length encoded BMP, stored bottom row first: GdkPixbuf reads it as Pillow does, where
    # through decodebin FFmpeg's decoder got its first 4 kB as the whole picture, the top rows
    # (the white block) black. Noise keeps it over 4 kB
    noisy = Image.effect_noise(block.size, 40).point(lambda v: v // 4)
    noisy.paste(255, (0, 0, 60, 40))
    noisy = noisy.convert("RGB").quantize(64)
    reference, rle = os.path.join(tmp, "rle8.png"), os.path.join(tmp, "rle8.bmp")
    noisy.save(reference)
    with open(rle, "wb") as f:
        f.write(rle_bmp(noisy, four=False))
    why = not_upright(reference, rle, rle + ".mp4")
    check(f"a run-length encoded BMP ({os.path.getsize(rle)} bytes): annotated as Pillow reads "
          "it", not why, why or "")
    address, server = serve(tmp)
    wrong = []
    for orientation in (3, 6, 8):
        photo = os.path.join(tmp, f"orientation{orientation}.jpg")
        why = not_upright(photo, f"{address}/orientation{orientation}.jpg",
                          os.path.join(tmp, f"web-orientation{orientation}.mp4"))
        if why:
            wrong.append(f"{orientation}: {why}")
    server.shutdown()
    check("a photo with an EXIF orientation at an address (HTTP): turned upright as the file is",
          not wrong, "; ".join(wrong))
    # a PNG and a WebP with one: neither GdkPixbuf nor GStreamer reads it from them, Pillow does
    wrong = []
    for way, orientation in (("png-exif", 6), ("png-raw-profile-ztxt", 8), ("png-xmp", 3),
                             ("webp-exif", 5), ("webp-lossy-exif", 7)):
        photo = os.path.join(tmp, f"{way}-{orientation}." + way.split("-")[0])
        tagged_stills.save(block, photo, orientation, way)
        why = not_upright(photo, photo, photo + ".mp4")
        if why:
            wrong.append(f"{way} {orientation}: {why}")
    check("a PNG and a WebP with an EXIF orientation (eXIf, raw profile, XMP, WebP EXIF): "
          "turned upright as Pillow turns them", not wrong, "; ".join(wrong))
    # a phone's HEIC and an AVIF, which GStreamer 1.22 reads no frame of: annotated as GdkPixbuf
    # reads them through libheif (as heed classify reads them), against libheif's own
    # heif-convert; a damaged one is a one-line reason, nothing written
    source = os.path.join(tmp, "heif-block.png")
    block.save(source)
    heif = {"HEIC": os.path.join(tmp, "photo.heic"), "AVIF": os.path.join(tmp, "photo.avif")}
    subprocess.run(["heif-enc", "-q", "90", "-o", heif["HEIC"], source], check=True,
                   capture_output=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", source, "-c:v", "libaom-av1",
                    "-still-picture", "1", "-pix_fmt", "yuv420p", heif["AVIF"]], check=True)
    for kind, photo in heif.items():
        decoded = photo + ".png"
        subprocess.run(["heif-convert", photo, decoded], check=True, capture_output=True)
        out = photo + ".mp4"
        why = not_upright(decoded, photo, out)
        b = probe(out) if why is None else None
        check(f"{'an' if kind == 'AVIF' else 'a'} {kind} picture: annotated, one frame, as libheif "
              "decodes it",
              why is None and b is not None and b["frames"] == 1, why or f"{b}")
    address, server = serve(tmp)
    why = not_upright(heif["HEIC"] + ".png", f"{address}/photo.heic",
                      os.path.join(tmp, "web-photo.mp4"))
    server.shutdown()
    check("a HEIC picture at an address (HTTP): annotated as the file is", why is None, why)
    damaged = os.path.join(tmp, "damaged.heic")
    with open(heif["HEIC"], "rb") as f, open(damaged, "wb") as g:
        g.write(f.read(400))
    out = damaged + ".mp4"
    r = annotate([damaged, "-o", out])
    lines = r.stderr.strip().splitlines()
    check("a damaged HEIC: a one-line reason, exit status 1, nothing written",
          r.returncode == 1 and len(lines) == 1 and not os.path.exists(out),
          f"status {r.returncode}: {lines}")

    # heedjson from gst-launch-1.0
    jl = os.path.join(tmp, "gst.jsonl")
    r = subprocess.run(["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=5", "!",
                        "video/x-raw,width=160,height=120", "!", "heedclassify", "!",
                        "heedkeyframe", "!", "heedjson", f"location={jl}", "attention-map=true",
                        "!", "fakesink"], capture_output=True, text=True, timeout=120)
    n, error, objs = valid_lines(jl) if r.returncode == 0 else (0, r.stderr, [])
    maps = [o.get("attention_map") for o in objs]
    check("heedjson: a valid line per frame, with the attention map on request",
          n == 5 and error is None and all(m and len(m["data"]) == m["width"] * m["height"]
                                            and abs(sum(m["data"]) - 1) < 1e-3 for m in maps)
          and [o["frame"] for o in objs] == list(range(5))
          and objs[0]["tensors"][0]["label"] == "smpte",
          f"{n} lines, schema: {error}")
    # two models in a row: one entry in "tensors" each, in pipeline order, each as that model
    # alone gives it
    vit = os.path.join(os.environ["HEED_FIXTURES"], "hub_timm_vit")

    def json_lines(classifiers, name):
        path = os.path.join(tmp, name)
        r = subprocess.run(["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=3",
                            "pattern=ball", "!", "video/x-raw,width=160,height=120", "!",
                            *classifiers, "heedjson", f"location={path}", "!", "fakesink"],
                           capture_output=True, text=True, timeout=120)
        return valid_lines(path) if r.returncode == 0 else (0, r.stderr, [])

    n, error, objs = json_lines(["heedclassify", "!", "heedclassify", f"model={vit}", "!"],
                                "two.jsonl")
    _, _, alone = json_lines(["heedclassify", f"model={vit}", "!"], "vit.jsonl")
    check("heedjson: two heedclassify in a row give a valid line per frame with both results, "
          "upstream's first, each as its model alone gives it",
          n == 3 and error is None and len(alone) == 3
          and all([t["model_name"] for t in o["tensors"]] == ["default", "hub_timm_vit"]
                  for o in objs)
          and all(o["tensors"][0]["label"] == "ball" for o in objs)
          and all(o["tensors"][1] == a["tensors"][0] for o, a in zip(objs, alone)),
          f"{n} lines, schema: {error}, "
          f"{[[(t['model_name'], t['label']) for t in o['tensors']] for o in objs]}")
    # In this process, not gst-launch-1.0: GStreamer 1.22's gst-launch quits its main loop from
    # the streaming thread on an error, and an error posted before that loop starts is lost and
    # gst-launch hangs (identity error-after=1 does the same; docs/reliability.md).
    pipe = Gst.parse_launch("videotestsrc num-buffers=5 ! heedjson name=j location=/dev/full ! "
                            "fakesink")
    pipe.set_state(Gst.State.PLAYING)
    msg = pipe.get_bus().timed_pop_filtered(60 * Gst.SECOND,
                                            Gst.MessageType.ERROR | Gst.MessageType.EOS)
    said = (msg.src.get_name(), msg.parse_error()[0].message) \
        if msg and msg.type == Gst.MessageType.ERROR else (msg and msg.type, None)
    pipe.set_state(Gst.State.NULL)
    check("heedjson: a full disk is an element error",
          said[0] == "j" and said[1].startswith("Cannot write the JSON lines: "), str(said))
    check("/dev/full is still the device it was (a failed run removes only plain files)",
          stat.S_ISCHR(os.stat("/dev/full").st_mode))
    # names that are not UTF-8 (Latin-1 names on a UTF-8 system): JSON is UTF-8, so they are
    # written with U+FFFD for the bytes that cannot be read, where the raw bytes made invalid
    # JSON (heed classify's "file") or no string at all (model_name was null)
    btmp = os.fsencode(tmp)
    odd_model, odd_image = os.path.join(btmp, b"mod\xe8le"), os.path.join(btmp, b"caf\xe9.png")
    shutil.copytree(os.fsencode(vit), odd_model)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=96x64",
                    "-frames:v", "1", odd_image], check=True)
    r = subprocess.run([HEED, "classify", "--model", odd_model, odd_image], capture_output=True,
                       timeout=120)
    try:
        file = json.loads(r.stdout.decode("utf-8"))["file"]
    except (ValueError, KeyError) as e:
        file = f"{type(e).__name__}: {r.stdout[:80]!r} {r.stderr[-200:]!r}"
    check("heed classify: a file name that is not UTF-8 is valid JSON", r.returncode == 0 and
          file == os.path.join(tmp, "caf\ufffd.png"), str(file))
    odd_lines, odd_report = os.path.join(tmp, "odd.jsonl"), os.path.join(tmp, "odd-report")
    odd_clip = os.path.join(btmp, b"clip\xe9.mp4")
    shutil.copy(h264, odd_clip)
    r = annotate([os.fsdecode(odd_clip), "--model", os.fsdecode(odd_model), "-o",
                  os.path.join(tmp, "odd.mp4"), "--jsonl", odd_lines, "--report", odd_report])
    n, error, objs = valid_lines(odd_lines) if r.returncode == 0 else (0, r.stderr, [])
    check("heedjson: a model folder whose name is not UTF-8 is named in valid UTF-8",
          n == 50 and error is None and objs[0]["tensors"][0]["model_name"] == "mod\ufffdle",
          f"{n} lines, schema: {error}")
    try:
        with open(os.path.join(odd_report, "index.html"), encoding="utf-8") as f:
            page = f.read()
    except (OSError, ValueError) as e:
        page = f"{type(e).__name__}: {e}"
    check("the report names such an input and model in valid UTF-8",
          "<title>heed: clip\ufffd.mp4</title>" in page
          and re.search("labels from [^<]*/mod\ufffdle<", page) is not None,
          page[:300])

    # heed live, headless, on live sources
    r = subprocess.run([HEED, "live", "--headless", "--source",
                        "videotestsrc is-live=true pattern=ball num-buffers=60 ! "
                        "video/x-raw,width=160,height=120,framerate=30/1", "--audio-source",
                        "audiotestsrc is-live=true wave=pink-noise volume=0.01"],
                       capture_output=True, text=True, timeout=120)
    reports = re.findall(r"heed live: ([\d.]+) fps, (\d+) frames, (\S+)", r.stdout)
    check("heed live --headless: every frame of a live source shown, rate and label reported",
          r.returncode == 0 and reports and int(reports[-1][1]) == 60 and
          all(label == "ball" for _, _, label in reports),
          f"status {r.returncode}: {reports[-3:]} {r.stderr.strip()[-200:]}")
    live_labels = os.path.join(tmp, "live-labels.txt")
    with open(live_labels, "w") as f:
        f.write("".join(f"p{i}\n" for i in range(19)))
    r = subprocess.run([HEED, "live", "--headless", "--source",
                        "videotestsrc is-live=true pattern=ball num-buffers=30 ! "
                        "video/x-raw,width=160,height=120,framerate=30/1", "--labels", live_labels,
                        "--interval", "2"], capture_output=True, text=True, timeout=120)
    reports = re.findall(r"heed live: ([\d.]+) fps, (\d+) frames, (\S+)", r.stdout)
    check("heed live --labels --interval: the labels file's names",
          r.returncode == 0 and reports and int(reports[-1][1]) == 30 and
          all(label == "p13" for _, _, label in reports),
          f"status {r.returncode}: {reports[-3:]} {r.stderr.strip()[-200:]}")
    # an RTSP address as the source: the picture through the elements, its sound (a tick a
    # second) to heedkeyframe, the run ending with the stream
    rtsp, loop = serve_rtsp(
        "( videotestsrc is-live=true pattern=ball num-buffers=60 ! video/x-raw,width=160,"
        "height=120,framerate=30/1 ! x264enc tune=zerolatency speed-preset=ultrafast "
        "! rtph264pay name=pay0 pt=96 audiotestsrc is-live=true wave=ticks num-buffers=100 "
        "samplesperbuffer=960 ! audio/x-raw,rate=48000 ! opusenc ! rtpopuspay name=pay1 pt=97 )")
    # (a hang is a failed check with what heed printed until then, GStreamer's warnings among
    # it, not the test's end: it hung once in a fresh-clone CI run on 2026-12-07, and 65 runs
    # since, with and without CPU hogs beside them, did not)
    try:
        r = subprocess.run([HEED, "live", "--headless", "--source", rtsp], capture_output=True,
                           text=True, timeout=120,
                           env=dict(os.environ, GST_DEBUG="2", GST_DEBUG_NO_COLOR="1"))
        status, out, err = r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        status, out, err = ("hung (120 s)",) + tuple(
            x if isinstance(x, str) else (x or b"").decode(errors="replace")
            for x in (e.stdout, e.stderr))
    loop.quit()
    reports = re.findall(r"heed live: ([\d.]+) fps, (\d+) frames, (\S+)", out)
    heard = re.findall(r"keyframe at frame (\d+) \((audio|audio-visual)\)", out)
    ok = status == 0 and reports and int(reports[-1][1]) == 60 and heard
    check("heed live --source rtsp://: every frame, a tick of its sound heard, ended with it", ok,
          f"status {status}: {reports[-2:]}, sound keyframes {heard}"
          + ("" if ok else f"; {err.strip()[-1500:]}"))
    r = subprocess.run([HEED, "live", "--headless", "--source", "nosuch://host/cam"],
                       capture_output=True, text=True, timeout=60)
    check("heed live --source nosuch://: a one-line reason, non-zero",
          r.returncode == 1 and r.stderr.strip() == "heed: --source nosuch://host/cam: no "
          "GStreamer source reads such addresses", r.stderr.strip())
    for what, source in (("no such element", "nosuchsrc"),
                         ("a camera that is not there", None)):
        args = ["--source", source] if source else ["--device", "/nonexistent/video9"]
        r = subprocess.run([HEED, "live", "--headless"] + args, capture_output=True, text=True,
                           timeout=60)
        err = r.stderr.strip().splitlines()
        check(f"heed live, {what}: a one-line reason, non-zero",
              r.returncode == 1 and len(err) == 1 and err[0].startswith("heed:"),
              err[-1] if err else "")
    return plan()


SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs",
                           "heed-jsonl.schema.json")

if __name__ == "__main__":
    sys.exit(main())
