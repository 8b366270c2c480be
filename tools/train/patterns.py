# SPDX-License-Identifier: LGPL-2.1-or-later
"""The default model's world: GStreamer's videotestsrc patterns, the 19 labels DESIGN.md names,
random pattern parameters (with disjoint value sets for training and held-out frames), frames
rendered through real GStreamer pipelines, and the ball found in the frame itself."""

import random

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

import numpy as np  # noqa: E402

Gst.init(None)

LABELS = ["smpte", "smpte-rp-219", "snow", "black", "white", "red", "green", "blue", "checkers",
          "circular", "zone-plate", "chroma-zone-plate", "gamut", "ball", "bar", "pinwheel",
          "spokes", "gradient", "colors"]

# label -> videotestsrc pattern names that look like it
PATTERNS = {
    "smpte": ["smpte", "smpte75", "smpte100"],
    "checkers": ["checkers-2", "checkers-4", "checkers-8"],
}

FORMATS = ["RGBA", "BGRA", "RGBx", "BGRx", "xRGB", "xBGR", "RGB", "BGR", "I420", "NV12", "YUY2",
           "GRAY8"]
ASPECTS = [(4, 3), (16, 9), (1, 1), (3, 2), (9, 16), (21, 9), (5, 4)]

# patterns drawn in the foreground/background colours; the solid ones (white is drawn in the
# foreground colour) keep their defaults, or "white" would be any colour
COLOURED = {"ball", "bar", "pinwheel", "spokes", "gradient", "circular", "checkers-2",
            "checkers-4", "checkers-8"}


def _held_out(value):
    """Held-out frames use parameter values training never sees: this splits integers."""
    return value % 7 == 3


def _draw_int(rng, lo, hi, split):
    assert hi - lo >= 7, "a range of 7 holds values of both splits"
    while True:
        v = rng.randint(lo, hi)
        if _held_out(v) == (split == "heldout"):
            return v


def _colour(rng, split):
    """An opaque ARGB colour; the split decides by the sum of its components."""
    while True:
        r, g, b = (rng.randint(0, 255) for _ in range(3))
        if _held_out(r + g + b) == (split == "heldout"):
            return 0xff000000 | r << 16 | g << 8 | b, (r, g, b)


def sample_params(rng, label, split, max_width=1920):
    """Random videotestsrc parameters for one frame of `label`."""
    pattern = rng.choice(PATTERNS.get(label, [label]))
    # sizes from tiny to 1080p, most of them small (rendering 1080p is slow)
    aw, ah = rng.choice(ASPECTS)
    scale = rng.random() ** 2
    width = _draw_int(rng, 32, max(39, int(32 + scale * (max_width - 32))), split)
    height = max(16, min(1080, int(width * ah / aw)))
    props = {"pattern": pattern}
    if pattern in COLOURED and rng.random() < 0.8:
        while True:
            fg, fg_rgb = _colour(rng, split)
            bg, bg_rgb = _colour(rng, split)
            # the ball, bar or spokes must be visible against the background
            if sum((a - b) ** 2 for a, b in zip(fg_rgb, bg_rgb)) > 120 ** 2:
                break
        props["foreground-color"] = fg
        props["background-color"] = bg
    if pattern == "ball":
        props["motion"] = rng.choice(["wavy", "sweep", "hsweep"])
    if pattern in ("zone-plate", "chroma-zone-plate"):
        # the default k parameters draw a flat grey field: give it structure
        for k in ("kx2", "ky2"):
            props[k] = _draw_int(rng, 2, 40, split)
        for k in ("kx", "ky", "kt", "kxt", "kyt", "kxy", "kt2"):
            if rng.random() < 0.4:
                props[k] = _draw_int(rng, -20, 20, split)
    if pattern not in ("ball",) and rng.random() < 0.3:
        props["horizontal-speed"] = _draw_int(rng, -8, 8, split)
    return {
        "label": label,
        "props": props,
        "width": width,
        "height": height,
        "format": rng.choice(FORMATS),
        "frame": rng.randint(0, 59),
        "jpeg": _draw_int(rng, 30, 95, split) if rng.random() < 0.25 else 0,
    }


def source_description(p):
    """The videotestsrc ... ! caps part of a pipeline for these parameters."""
    props = " ".join(f"{k}={v}" for k, v in p["props"].items())
    desc = (f"videotestsrc num-buffers={p['frame'] + 1} {props} ! video/x-raw,format={p['format']},"
            f"width={p['width']},height={p['height']},framerate=30/1")
    if p["jpeg"]:
        desc += f" ! videoconvert ! jpegenc quality={p['jpeg']} ! jpegdec"
    return desc


def last_sample(p, convert=""):
    """The last frame of the parameters' pipeline (followed by `convert`, e.g. a videoconvert to
    RGB) as a GstSample."""
    desc = source_description(p) + (f" ! {convert}" if convert else "")
    pipe = Gst.parse_launch(desc + " ! appsink name=sink sync=false")
    sink = pipe.get_by_name("sink")
    pipe.set_state(Gst.State.PLAYING)
    frame = None
    while True:
        sample = sink.emit("try-pull-sample", 30 * Gst.SECOND)
        if sample is None:
            break
        frame = sample
    pipe.set_state(Gst.State.NULL)
    if frame is None:
        raise RuntimeError("no frame from " + desc)
    return frame


def render(p):
    """The last frame of the parameters' pipeline as an RGB uint8 array [h][w][3]."""
    frame = last_sample(p, "videoconvert ! video/x-raw,format=RGB")
    caps = frame.get_caps().get_structure(0)
    w, h = caps.get_value("width"), caps.get_value("height")
    buf = frame.get_buffer()
    ok, info = buf.map(Gst.MapFlags.READ)
    stride = len(info.data) // h  # RGB rows are padded to 4 bytes
    rgb = np.frombuffer(info.data, np.uint8).reshape(h, stride)[:, :w * 3].reshape(h, w, 3).copy()
    buf.unmap(info)
    return rgb


def ball_mask(rgb, p):
    """The pixels nearer the foreground colour than the background colour (videotestsrc draws
    a white ball on black by default)."""
    fg = p["props"].get("foreground-color", 0xffffffff)
    bg = p["props"].get("background-color", 0xff000000)
    f = np.array([(fg >> 16) & 255, (fg >> 8) & 255, fg & 255], np.float32)
    b = np.array([(bg >> 16) & 255, (bg >> 8) & 255, bg & 255], np.float32)
    x = rgb.astype(np.float32)
    return ((x - f) ** 2).sum(-1) < ((x - b) ** 2).sum(-1)


def ball_centre(rgb, p):
    """Where the ball is, from the frame: the centroid of ball_mask, 0..1 of width and height."""
    ys, xs = np.nonzero(ball_mask(rgb, p))
    if len(xs) == 0:
        return None
    return (xs.mean() + 0.5) / rgb.shape[1], (ys.mean() + 0.5) / rgb.shape[0]


def _taps(size_in, size_out):
    """heed's resampling taps per output index (engine/ref.c, shaders/preprocess.comp):
    box filter of min(ceil(step), 8) point samples when shrinking, else linear."""
    step = size_in / size_out
    pos = (np.arange(size_out) + 0.5) * step
    if step > 1:
        n = min(int(np.ceil(step - 1e-4)), 8)
        first = pos - 0.5 * step
        idx = np.floor(first[:, None] + (np.arange(n)[None, :] + 0.5) * step / n)
        idx = np.clip(idx, 0, size_in - 1).astype(np.int64)
        wt = np.full((size_out, n), 1.0 / n, np.float32)
    else:
        c = np.clip(pos - 0.5, 0, size_in - 1)
        i0 = np.floor(c)
        t = (c - i0).astype(np.float32)
        idx = np.stack([i0, np.minimum(i0 + 1, size_in - 1)], 1).astype(np.int64)
        wt = np.stack([1 - t, t], 1)
    return idx, wt


def resize(rgb, size):
    """RGB uint8 [h][w][3] -> float32 [3][size][size] in 0..1, stretched as heed does."""
    h, w, _ = rgb.shape
    xi, xw = _taps(w, size)
    yi, yw = _taps(h, size)
    x = rgb.astype(np.float32) / 255.0
    rows = (x[:, xi, :] * xw[None, :, :, None]).sum(2)          # h, size, 3
    out = (rows[yi, :, :] * yw[:, :, None, None]).sum(1)        # size, size, 3
    return out.transpose(2, 0, 1).copy()


def render_all(params, size):
    """Renders parameter sets: inputs [N][3][size][size] (0..1), label indices, ball centres
    (NaN for other labels)."""
    xs, ys, balls = [], [], []
    for p in params:
        rgb = render(p)
        xs.append(resize(rgb, size))
        ys.append(LABELS.index(p["label"]))
        c = ball_centre(rgb, p) if p["label"] == "ball" else None
        balls.append(c if c else (np.nan, np.nan))
    return np.stack(xs).astype(np.float32), np.array(ys, np.int64), np.array(balls, np.float32)


def default_ball_params(rng, split, min_width=400):
    """The ball in videotestsrc's default colours (white on black) on larger frames, where it
    covers little of the frame."""
    p = sample_params(rng, "ball", split)
    p["props"] = {k: v for k, v in p["props"].items() if not k.endswith("-color")}
    p["width"] = _draw_int(rng, min_width, 1920, split)
    aw, ah = rng.choice(ASPECTS)
    p["height"] = max(16, min(1080, int(p["width"] * ah / aw)))
    return p


def dataset(n_per_label, split, seed, size, max_width=1920):
    """Renders n_per_label frames of every label (render_all's arrays) and their parameters."""
    rng = random.Random(seed)
    params = [sample_params(rng, label, split, max_width)
              for _ in range(n_per_label) for label in LABELS]
    return render_all(params, size) + (params,)
