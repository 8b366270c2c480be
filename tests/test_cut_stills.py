#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Pictures cut short (tools/still_damage.c) against Pillow, which timm and transformers read
pictures with, on every prefix of each file, from 1 byte to the whole: heed_still_damage calls
a prefix cut short exactly where Pillow refuses it, for JPEGs, GIFs, BMPs and WebPs from Pillow,
FFmpeg and GStreamer's encoders. Two differences are allowed, and counted: prefixes too short to
tell the format (under 13 bytes: no decoder reads them), and a JPEG missing only part of its
2-byte end marker, which Pillow reads from some files (as the last code's bits fall) and heed
calls cut. A prefix heed would complete (a GIF whose first picture is whole, its trailer missing)
counts as read. Run-length encoded BMPs, which Pillow reads and does not write, are encoded
by tests/rle_bmp.py and checked to decode as the picture they hold. Prints TAP."""
import io
import os
import subprocess
import sys
import tempfile

from PIL import Image

sys.path.insert(0, os.environ["HEED_TOOLS_DIR"])
from heed_torch import synthetic_photo  # noqa: E402
from rle_bmp import rle_bmp  # noqa: E402

prefixes = os.environ["HEED_STILL_DAMAGE_PREFIXES"]
SHORTEST = 13  # a GIF's header and screen descriptor; no picture is shorter


def pillow_reads(data):
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
        return True
    except Exception:
        return False


def pictures(tmp):
    """{name: bytes}: small pictures (each prefix is decoded once) in each format's variants"""
    photo, other = synthetic_photo(48, 32, seed=1), synthetic_photo(48, 32, seed=2)
    exif = photo.getexif()
    exif[0x0112] = 6
    made = {}
    for name, image, fmt, how in (
            ("baseline.jpg", photo, "JPEG", dict(quality=90)),
            ("progressive.jpg", photo, "JPEG", dict(quality=90, progressive=True)),
            ("444.jpg", photo, "JPEG", dict(quality=90, subsampling=0)),
            ("grey.jpg", photo.convert("L"), "JPEG", dict(quality=90)),
            ("cmyk.jpg", photo.convert("CMYK"), "JPEG", dict(quality=90)),
            ("exif.jpg", photo, "JPEG", dict(quality=90, exif=exif.tobytes())),
            ("still.gif", photo, "GIF", {}),
            ("interlaced.gif", photo, "GIF", dict(interlace=True)),
            ("animated.gif", photo, "GIF", dict(save_all=True, append_images=[other],
                                                duration=100)),
            ("rgb.bmp", photo, "BMP", {}),
            ("palette-odd-width.bmp", photo.crop((0, 0, 45, 32)).convert("P"), "BMP", {}),
            ("1-bit.bmp", photo.convert("1"), "BMP", {}),
            ("rgba.bmp", photo.convert("RGBA"), "BMP", {}),
            ("lossy.webp", photo, "WEBP", dict(quality=80)),
            ("lossless.webp", photo, "WEBP", dict(lossless=True)),
            ("extended.webp", photo, "WEBP", dict(quality=80, exif=exif.tobytes())),
            ("animated.webp", photo, "WEBP", dict(save_all=True, append_images=[other],
                                                  duration=100))):
        out = io.BytesIO()
        image.save(out, fmt, **how)
        made[name] = out.getvalue()
    # a top-down BMP (a negative height), which Pillow does not write
    bmp = bytearray(made["palette-odd-width.bmp"])
    bmp[22:26] = (-32).to_bytes(4, "little", signed=True)
    made["top-down.bmp"] = bytes(bmp)
    # run-length encoded BMPs, RLE8 (runs and literals) and RLE4
    for name, colours, four in (("rle8.bmp", 64, False), ("rle4.bmp", 16, True)):
        quantized = photo.quantize(colours)
        quantized.paste(0, (40, 0, 48, 32))  # index 0 at each row's end, left to its end of line
        made[name] = rle_bmp(quantized, four)
        with Image.open(io.BytesIO(made[name])) as decoded:
            assert decoded.convert("RGB").tobytes() == quantized.convert("RGB").tobytes(), name
    # other encoders: FFmpeg's JPEG, GIF and 16-bit BMP, GStreamer's jpegenc
    for name, args in (("ffmpeg.jpg", []), ("ffmpeg.gif", []),
                       ("ffmpeg-rgb565.bmp", ["-pix_fmt", "rgb565le"])):
        path = os.path.join(tmp, name)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=47x31",
                        "-frames:v", "1"] + args + [path], check=True)
        made[name] = open(path, "rb").read()
    path = os.path.join(tmp, "jpegenc.jpg")
    subprocess.run(["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=1", "!",
                    "video/x-raw,width=47,height=31", "!", "jpegenc", "!", "filesink",
                    f"location={path}"], check=True)
    made["jpegenc.jpg"] = open(path, "rb").read()
    return made


def main():
    with tempfile.TemporaryDirectory() as tmp:
        made = pictures(tmp)
        print(f"1..{len(made)}")
        failed = 0
        for n, (name, data) in enumerate(made.items(), 1):
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(data)
            r = subprocess.run([prefixes, path], capture_output=True, text=True, check=True)
            judged = r.stdout.strip()
            assert len(judged) == len(data), (len(judged), len(data))
            short = end_marker = 0
            apart = []
            for length in range(1, len(data) + 1):
                heed_reads = judged[length - 1] != "c"
                if heed_reads == pillow_reads(data[:length]):
                    continue
                if length < SHORTEST and heed_reads:
                    short += 1
                elif (name.endswith(".jpg") and len(data) - 2 <= length < len(data)
                      and not heed_reads):
                    end_marker += 1
                else:
                    apart.append(length)
            cut = judged.count("c")
            print(f"{'ok' if not apart else 'not ok'} {n} {name}: {len(data)} prefixes, {cut} cut "
                  f"short, {judged.count('g')} GIFs to complete; apart from Pillow: "
                  f"{short} too short to tell, {end_marker} missing part of the end marker"
                  + (f", {len(apart)} others (lengths {apart[:8]})" if apart else ""))
            failed += bool(apart)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
