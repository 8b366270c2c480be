#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes heedkeyframe's evaluation corpus: seeded FFmpeg lavfi clips with known shot changes
and sound events, encoded as H.264 + AAC in MP4, each with its ground truth beside it.

    /usr/bin/python3 tools/keyframe_corpus.py OUTDIR [--clips N] [--seed S]

Each clip joins 5 to 8 shots of lavfi sources (testsrc2, mandelbrot, life, cellauto,
smptehdbars, rgbtestsrc, gradients) that move inside the shot (their own animation,
scrolling, zoom, handheld-like shake), by hard cuts, dissolves and fades through black or white
of 5 to 30 frames. Distractors that must not fire: one-to-two-frame flashes and slow
brightness changes inside shots. The sound is quiet noise with beeps and noise bursts at
known times, and stretches of silence. The last clip has a variable frame rate.

OUTDIR/clipNN.mp4 and OUTDIR/clipNN.json:
  {"frames": N, "fps": 25, "vfr": false,
   "cuts": [f, ...],                  first frame of each new shot after a hard cut
   "transitions": [[a, b], ...],      frames of each dissolve or fade, inclusive
   "audio_events": [f, ...],          frame at each sound event's onset
   "flashes": [f, ...], "brightness_changes": [[a, b], ...]}    distractors
Frames are counted by decoded index from 0, never by timestamp."""
import argparse
import json
import math
import os
import random
import subprocess
import sys

FPS = 25
W, H = 320, 240
RATE = 48000


def source(kind, n, rng):
    """A lavfi video source for one shot of n frames, moving inside the shot."""
    seed = rng.randrange(1 << 30)
    hue = rng.randrange(0, 360)
    if kind == "testsrc2":
        v = f"testsrc2=s={W}x{H}:r={FPS}"
    elif kind == "mandelbrot":
        v = (f"mandelbrot=s={W}x{H}:r={FPS}:start_scale={rng.uniform(1.5, 3):.3f}:"
             f"end_scale=0.3:end_pts={n / FPS * rng.uniform(2, 6):.2f}")
    elif kind == "life":
        v = (f"life=s={W // 4}x{H // 4}:r={FPS}:seed={seed}:ratio={rng.uniform(0.05, 0.3):.2f}:"
             f"mold=10:life_color=#{rng.randrange(1 << 24):06x}:"
             f"death_color=#{rng.randrange(1 << 24):06x},scale={W}:{H}:flags=neighbor")
    elif kind == "cellauto":
        v = (f"cellauto=s={W // 2}x{H // 2}:r={FPS}:seed={seed}:rule={rng.choice([18, 30, 90, 110])}"
             f":random_fill_ratio={rng.uniform(0.3, 0.7):.2f},scale={W}:{H}:flags=neighbor")
    elif kind == "smptehdbars":
        v = f"smptehdbars=s={W}x{H}:r={FPS},scroll=h={rng.uniform(0.002, 0.01):.4f}"
    elif kind == "rgbtestsrc":
        v = f"rgbtestsrc=s={W}x{H}:r={FPS}"
    else:  # gradients
        # its colours are random unless given (its seed only places the lines)
        colours = ":".join(f"c{i}=0x{rng.randrange(1 << 24):06x}" for i in range(3))
        v = (f"gradients=s={W}x{H}:r={FPS}:seed={seed}:n=3:{colours}:"
             f"speed={rng.uniform(0.01, 0.05):.3f}")
    v += f",format=rgb24,hue=h={hue}"
    motion = rng.choice(["none", "shake", "zoom", "pan"])
    if motion == "shake":  # handheld: a few pixels of jitter at several frequencies
        a, b = rng.uniform(0.7, 2.1), rng.uniform(0.5, 1.9)
        v += (f",scale={W + 24}:{H + 24},crop={W}:{H}:"
              f"'12+6*sin(n*{a:.2f})+4*sin(n*{b * 2.3:.2f})':'12+6*cos(n*{b:.2f})+3*sin(n*{a * 1.7:.2f})'")
    elif motion == "zoom":
        z = rng.uniform(0.002, 0.006)
        v += (f",zoompan=z='1+{z:.4f}*on':d=1:s={W}x{H}:fps={FPS}:"
              f"x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2'")
    elif motion == "pan":
        v += f",scale={W * 3 // 2}:{H * 3 // 2},crop={W}:{H}:'min(n*{rng.uniform(0.5, 2):.2f},{W // 2})':{H // 4}"
    return v, motion, seed


def clip_graph(rng, n_shots, vfr):
    """The filter graph of one clip and its ground truth."""
    kinds = ["testsrc2", "mandelbrot", "life", "cellauto", "smptehdbars", "rgbtestsrc",
             "gradients"]
    inputs, chains, truth = [], [], {"cuts": [], "transitions": [], "audio_events": [],
                                     "flashes": [], "brightness_changes": [], "shots": []}
    length = 0  # frames joined so far
    prev_kind = None
    # half hard cuts, half gradual transitions of each kind, in a seeded order
    joins = ["cut"] * 4 + ["dissolve", "fadeblack", "fadewhite", "dissolve"]
    rng.shuffle(joins)
    joins = joins[:n_shots - 1]
    label = None
    for i in range(n_shots):
        kind = rng.choice([k for k in kinds if k != prev_kind])
        prev_kind = kind
        n = rng.randrange(50, 110)
        v, motion, seed = source(kind, n, rng)
        distract = rng.random()
        if distract < 0.3 and n > 30:  # a flash of one or two frames
            a = rng.randrange(10, n - 15)
            d = rng.choice([1, 2])
            v += f",eq=brightness={rng.uniform(0.4, 0.7):.2f}:enable='between(n,{a},{a + d - 1})'"
            truth["flashes"].append(("shot", i, a))
        elif distract < 0.5 and n > 40:  # a slow brightness change
            a = rng.randrange(5, n - 30)
            d = rng.randrange(15, 25)
            amount = rng.choice([-1, 1]) * rng.uniform(0.15, 0.3)
            v += (f",eq=eval=frame:brightness='{amount:.2f}*clip((n-{a})/{d},0,1)'")
            truth["brightness_changes"].append(("shot", i, a, a + d))
        chains.append(f"{v},trim=end_frame={n},setpts=PTS-STARTPTS,settb=1/{FPS},"
                      f"setsar=1,format=yuv420p[s{i}]")
        truth["shots"].append({"source": kind, "motion": motion, "seed": seed, "frames": n})
        if i == 0:
            label, length = "s0", n
            truth["shots"][-1]["start"] = 0
            continue
        how = joins[i - 1]
        out = f"j{i}"
        if how == "cut":
            chains.append(f"[{label}][s{i}]concat=n=2:v=1:a=0,settb=1/{FPS}[{out}]")
            truth["cuts"].append(length)
            truth["shots"][-1]["start"] = length
            length += n
        else:
            d = rng.randrange(5, 31)
            d = min(d, n - 10)
            offset = length - d
            xfade = "fade" if how == "dissolve" else how
            chains.append(f"[{label}][s{i}]xfade=transition={xfade}:duration={d / FPS:.4f}:"
                          f"offset={offset / FPS:.4f}[{out}]")
            truth["transitions"].append([offset, offset + d - 1, how])
            truth["shots"][-1]["start"] = offset
            length = offset + n
        label = out
    # distractor frames, now in clip frames
    for key in ("flashes", "brightness_changes"):
        placed = []
        for entry in truth[key]:
            start = truth["shots"][entry[1]]["start"]
            placed.append(start + entry[2] if key == "flashes"
                          else [start + entry[2], start + entry[3]])
        truth[key] = placed
    if vfr:  # the same frames, timestamps that wander: 20 to 30 frames a second
        chains.append(f"[{label}]settb=1/1000,setpts='(N+1.2*sin(N/4))/({FPS}*TB)'[vout]")
    else:
        chains.append(f"[{label}]null[vout]")
    truth["frames"] = length
    return chains, truth


def frame_time(i, vfr):
    return (i + 1.2 * math.sin(i / 4)) / FPS if vfr else i / FPS


def audio_graph(rng, frames, vfr, truth):
    """Quiet noise with beeps and bursts at known times, and silent stretches."""
    total = frame_time(frames - 1, vfr) + 1.0 / FPS
    parts = [f"anoisesrc=r={RATE}:a=0.01:c=pink:seed={rng.randrange(1 << 30)}:d={total:.3f}"]
    silent = []
    t = rng.uniform(0.5, 2.0)
    events = []
    while t < total - 0.6:
        events.append(t)
        t += rng.uniform(0.9, 2.5)
    if len(events) > 3:  # one silence (background off) between two events
        a = events[1] + 0.4
        silent = [a, min(a + rng.uniform(0.5, 1.5), events[2] - 0.1)]
        parts[0] += f",volume=enable='between(t,{silent[0]:.3f},{silent[1]:.3f})':volume=0"
    labels = ["bg"]
    chains = [f"{parts[0]}[bg]"]
    for k, t in enumerate(events):
        dur = rng.uniform(0.12, 0.35)
        ms = int(round(t * 1000))
        if rng.random() < 0.6:
            src = f"sine=f={rng.randrange(300, 3000)}:r={RATE}:d={dur:.3f},volume={rng.uniform(0.2, 0.6):.2f}"
        else:
            src = (f"anoisesrc=r={RATE}:a={rng.uniform(0.2, 0.5):.2f}:c=white:d={dur:.3f}:"
                   f"seed={rng.randrange(1 << 30)}")
        chains.append(f"{src},adelay={ms}:all=1[e{k}]")
        labels.append(f"e{k}")
        # the onset's frame: the last frame shown at or before it
        f = max(i for i in range(frames) if frame_time(i, vfr) <= t + 1e-6)
        truth["audio_events"].append(f)
    chains.append("".join(f"[{l}]" for l in labels) +
                  f"amix=inputs={len(labels)}:normalize=0:duration=first,"
                  f"aformat=channel_layouts=stereo,atrim=end={total:.3f}[aout]")
    truth["silence_seconds"] = silent
    return chains


def make_clip(path, rng, vfr):
    chains, truth = clip_graph(rng, rng.randrange(5, 9), vfr)
    chains += audio_graph(rng, truth["frames"], vfr, truth)
    graph = ";".join(chains)
    cmd = ["ffmpeg", "-v", "error", "-y", "-filter_complex", graph, "-map", "[vout]",
           "-map", "[aout]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
           "-pix_fmt", "yuv420p", "-threads", "1", "-c:a", "aac", "-b:a", "96k"]
    cmd += ["-fps_mode", "passthrough", "-video_track_timescale", "1000"] if vfr else ["-r", str(FPS)]
    subprocess.run(cmd + [path], check=True)
    truth.update(fps=FPS, vfr=vfr, width=W, height=H)
    with open(os.path.splitext(path)[0] + ".json", "w") as f:
        json.dump(truth, f, indent=1)
    return truth


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    for c in range(args.clips):
        rng = random.Random(args.seed * 1000 + c)
        path = os.path.join(args.outdir, f"clip{c:02d}.mp4")
        t = make_clip(path, rng, vfr=(c == args.clips - 1))
        print(f"{path}: {t['frames']} frames, {len(t['cuts'])} cuts, "
              f"{len(t['transitions'])} transitions, {len(t['audio_events'])} sound events, "
              f"{len(t['flashes'])} flashes{' (VFR)' if t['vfr'] else ''}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
