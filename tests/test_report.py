#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`heed annotate --report DIR` on clips FFmpeg makes here (three shots joined by cuts, a beep
in the sound; and one shot with no sound):
  - DIR/index.html and one thumbnail per keyframe of the JSON lines, named by its frame, each
    the annotated output's frame (heatmap and labels drawn), not the input's;
  - the page names no file outside DIR and nothing on the network; its label legend holds the
    JSON lines' labels; its timeline has a mark per keyframe;
  - opened from the folder in headless Chromium (Debian's chromium package) with every host
    name unresolvable: every thumbnail loads, and the screenshot shows the importance curve,
    the keyframe marks and the thumbnails;
  - a clip with no sound says so; a report folder that cannot be made is a one-line error
    before anything runs.
Prints TAP."""
import html.parser
import json
import os
import re
import shutil
import subprocess
import tempfile

from PIL import Image, ImageChops, ImageStat
from tap import check, plan

HEED = os.environ["HEED_TOOL"]


def ffmpeg(args):
    subprocess.run(["ffmpeg", "-v", "error", "-y"] + args, check=True)


def make_clips(tmp):
    """Three 1 s shots at 25 fps, 160x120, cuts at frames 25 and 50, a beep at 2.2 s; and one
    shot without sound."""
    shots = ["testsrc2=s=160x120:r=25:d=1", "mandelbrot=s=160x120:r=25,trim=end_frame=25",
             "smptehdbars=s=160x120:r=25:d=1"]
    video = ";".join(f"{s},setpts=PTS-STARTPTS[s{i}]" for i, s in enumerate(shots))
    video += ";[s0][s1][s2]concat=n=3:v=1:a=0,format=yuv420p[v]"
    sound = ("sine=f=300:d=3:r=48000,volume=0.05[quiet];sine=f=2000:d=0.3:r=48000,"
             "adelay=2200|2200[beep];[quiet][beep]amix=inputs=2:duration=first[a]")
    with_sound = os.path.join(tmp, "shots.mp4")
    ffmpeg(["-filter_complex", f"{video};{sound}", "-map", "[v]", "-map", "[a]",
            "-c:v", "libx264", "-c:a", "aac", with_sound])
    silent = os.path.join(tmp, "silent.mp4")
    ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=1", "-c:v", "libx264", silent])
    return with_sound, silent


class Refs(html.parser.HTMLParser):
    """Every src and href of the page, and the text of its label legend."""

    def __init__(self):
        super().__init__()
        self.refs, self.legend, self._in_legend = [], [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.refs += [a[k] for k in ("src", "href") if k in a]
        if tag == "ul" and a.get("class") == "legend":
            self._in_legend = 1
        elif tag == "li" and self._in_legend:
            self.legend.append("")

    def handle_endtag(self, tag):
        if tag == "ul":
            self._in_legend = 0

    def handle_data(self, data):
        if self._in_legend and self.legend and not self.legend[-1]:
            self.legend[-1] = data.strip()


def frame_of(video, n, width=320):
    """Frame n (decoded index) of a video, scaled to the thumbnails' width, as RGB."""
    out = video + f".{n}.png"
    ffmpeg(["-i", video, "-vf", f"select=eq(n\\,{n}),scale={width}:-1", "-frames:v", "1", out])
    return Image.open(out).convert("RGB")


def mean_difference(a, b):
    return sum(ImageStat.Stat(ImageChops.difference(a, b.resize(a.size))).mean) / 3


def chromium(args, profile, timeout=120):
    return subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", f"--user-data-dir={profile}",
                           "--host-resolver-rules=MAP * ~NOTFOUND"] + args,
                          capture_output=True, text=True, timeout=timeout)


def near(pixel, colour, tolerance=40):
    return all(abs(p - c) <= tolerance for p, c in zip(pixel, colour))


def main():
    tmp = tempfile.mkdtemp(prefix="heed-report-")
    with_sound, silent = make_clips(tmp)
    out, jsonl, report = (os.path.join(tmp, n) for n in ("out.mp4", "out.jsonl", "report"))
    r = subprocess.run([HEED, "annotate", with_sound, "-o", out, "--jsonl", jsonl,
                        "--report", report], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        check("heed annotate --report", False, r.stderr.strip())
        return plan()
    objs = [json.loads(line) for line in open(jsonl)]
    keyframes = [o["frame"] for o in objs if o.get("keyframe")]
    labels = {o["tensors"][0]["label"] for o in objs if o["tensors"]}
    page = open(os.path.join(report, "index.html")).read()
    thumbs = sorted(os.listdir(os.path.join(report, "keyframes")))
    check("the cuts are keyframes", len(keyframes) >= 2
          and all(any(abs(k - cut) <= 1 for k in keyframes) for cut in (25, 50)),
          f"keyframes {keyframes}")
    check("a thumbnail per keyframe, named by its frame",
          thumbs == [f"frame-{k:06d}.jpg" for k in keyframes], f"{thumbs} for {keyframes}")

    # the thumbnails are what heed annotate wrote (heatmap, labels), not the input's frames;
    # the output went through H.264 and both were scaled, so "the same" is within 15 of 255
    for k in keyframes:
        thumb = Image.open(os.path.join(report, "keyframes", f"frame-{k:06d}.jpg")).convert("RGB")
        to_output = mean_difference(thumb, frame_of(out, k))
        to_input = mean_difference(thumb, frame_of(with_sound, k))
        check(f"the thumbnail of frame {k} is the annotated frame, 320 wide",
              thumb.width == 320 and to_output < 15 and to_input > 3 * to_output,
              f"{thumb.width}x{thumb.height}, mean difference to the output's frame "
              f"{to_output:.1f}, to the input's {to_input:.1f}")

    refs = Refs()
    refs.feed(page)
    outside = [u for u in refs.refs if not (u.startswith("#") or u.startswith("keyframes/"))]
    check("the page links only to its own thumbnails and anchors", refs.refs and not outside
          and not re.search(r"https?://|url\(|@import", page), f"outside: {outside}")
    check("the label legend holds the JSON lines' labels", set(refs.legend) == labels,
          f"legend {sorted(refs.legend)}, JSON lines {sorted(labels)}")
    check("the timeline marks every keyframe",
          page.count('<circle') == len(keyframes)
          and all(f'href="#f{k}"' in page for k in keyframes), f"{page.count('<circle')} marks")

    # Chromium, from the folder, with no name resolving
    profile = os.path.join(tmp, "chromium")
    url = "file://" + os.path.join(report, "index.html")
    dom = chromium(["--dump-dom", url], profile)
    loaded = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom.stdout)
    check("Chromium loads every thumbnail", loaded and loaded.group(1) == loaded.group(2)
          == str(len(keyframes)), loaded.group(0) if loaded else dom.stderr.strip()[-300:])
    shot = os.path.join(os.environ.get("HEED_REPORT_SCREENSHOT_DIR", tmp), "report.png")
    r = chromium(["--window-size=1280,1200", f"--screenshot={shot}", url], profile)
    if not os.path.exists(shot):
        check("Chromium takes a screenshot", False, r.stderr.strip()[-300:])
    else:
        img = Image.open(shot).convert("RGB")
        pixels = list(img.getdata())
        blue = sum(near(p, (37, 99, 235)) for p in pixels)    # the importance curve
        red = sum(near(p, (220, 38, 38), 30) for p in pixels)  # the keyframe marks
        colours = len(img.getcolors(1 << 24))                   # the thumbnails' pictures
        check("the screenshot shows the curve, the marks and the thumbnails",
              img.size == (1280, 1200) and blue > 300 and red > 30 * len(keyframes)
              and colours > 2000, f"{img.size}, {blue} curve pixels, {red} mark pixels, "
              f"{colours} colours")

    # no sound
    report2 = os.path.join(tmp, "report-silent")
    r = subprocess.run([HEED, "annotate", silent, "-o", os.path.join(tmp, "silent-out.mp4"),
                        "--report", report2], capture_output=True, text=True, timeout=300)
    page = open(os.path.join(report2, "index.html")).read() if r.returncode == 0 else ""
    check("a clip with no sound: the report says so", "the input has no sound" in page
          and "no sound" in page, r.stderr.strip().splitlines()[-1] if r.stderr else "")

    # a folder that cannot be made: a file stands in its way
    blocker = os.path.join(tmp, "not-a-folder")
    open(blocker, "w").close()
    target = os.path.join(tmp, "never.mp4")
    r = subprocess.run([HEED, "annotate", silent, "-o", target, "--report",
                        os.path.join(blocker, "report")], capture_output=True, text=True,
                       timeout=60)
    err = r.stderr.strip().splitlines()
    check("a report folder that cannot be made: one line, non-zero, nothing written",
          r.returncode == 1 and len(err) == 1 and "report folder" in err[0]
          and not os.path.exists(target), " | ".join(err))

    shutil.rmtree(tmp, ignore_errors=True)
    return plan()


if __name__ == "__main__":
    raise SystemExit(main())
