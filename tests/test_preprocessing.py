#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The checkpoint's own preprocessing against the libraries its authors use: the tensor `heed
classify --dump-tensor` feeds the model, for a checkpoint beside a timm config.json or a
transformers preprocessor_config.json, against timm's eval transform (built from torchvision
as timm builds it) and against transformers' image processors (tools/heed_torch.py), on images
of several sizes and aspect ratios, shrunk and enlarged; and a phone's pictures: JPEGs decoded
as Pillow decodes them and turned upright by their EXIF orientation as transformers' load_image
turns them, PNGs and WebPs turned by theirs in each way those files carry one (tagged_stills),
TIFFs by their orientation tag, a 16-bit grey PNG read as its high bytes (Pillow clips it to
white), and a video's first frame turned by its rotation tag as FFmpeg turns it; a
panorama wider than heed's 16384 pixels, shrunk to that first (a looser bound, given there).

The bound: no value more than one 8-bit code apart (1 / 255 / std once normalised), and at
most 0.5 % of values apart at all. heed resamples as Pillow does (the same filters, taps and
two passes, each rounded to 8 bits), but with float32 weights where Pillow uses fixed point
with 22 fractional bits, so a sum that lands within rounding error of a half code can round
the other way; anything else (a wrong filter, scale, crop offset or normalisation) differs by
many codes over many pixels. Prints TAP."""
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np
import torch

sys.path.insert(0, os.environ["HEED_TOOLS_DIR"])
from heed_torch import hf_preprocess, synthetic_photo, timm_eval_transform  # noqa: E402
import tagged_stills  # noqa: E402
from rle_bmp import rle_bmp  # noqa: E402

heed = os.environ["HEED_TOOL"]
weights = os.path.join(os.environ["HEED_FIXTURES"], "hub_timm_vit", "model.safetensors")
IMAGENET = dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
HALF = dict(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])
CLIP = dict(mean=[0.48145466, 0.4578275, 0.40821073], std=[0.26862954, 0.26130258, 0.27577711])


def timm(crop_pct, interpolation, norm, crop_mode="center"):
    cfg = dict(input_size=[3, 224, 224], crop_pct=crop_pct, interpolation=interpolation,
               crop_mode=crop_mode, **norm)
    return {"config.json": {"architecture": "vit_tiny_patch16_224", "pretrained_cfg": cfg}}


def hf(norm, resample, size, **extra):
    cfg = dict(do_normalize=True, do_rescale=True, do_resize=True, image_mean=norm["mean"],
               image_std=norm["std"], resample=resample, rescale_factor=1 / 255, size=size,
               **extra)
    return {"preprocessor_config.json": cfg}


CASES = [  # (name, files beside the weights)
    ("timm crop_pct 0.875 bicubic ImageNet (DeiT)", timm(0.875, "bicubic", IMAGENET)),
    ("timm crop_pct 0.9 bicubic 0.5 (augreg)", timm(0.9, "bicubic", HALF)),
    ("timm crop_pct 1.0 bilinear ImageNet", timm(1.0, "bilinear", IMAGENET)),
    ("timm crop_pct 0.95 squash bicubic 0.5", timm(0.95, "bicubic", HALF, "squash")),
    ("transformers ViT 224x224 bilinear 0.5",
     hf(HALF, 2, {"height": 224, "width": 224}, image_processor_type="ViTImageProcessor")),
    ("transformers DeiT 256 crop 224 bicubic ImageNet",
     hf(IMAGENET, 3, 256, crop_size=224, do_center_crop=True,
        feature_extractor_type="DeiTFeatureExtractor")),
    ("transformers BiT (DINOv2) shortest 256 crop 224 bicubic ImageNet",
     hf(IMAGENET, 3, {"shortest_edge": 256}, crop_size={"height": 224, "width": 224},
        do_center_crop=True, image_processor_type="BitImageProcessor")),
    ("transformers CLIP shortest 224 crop 224 bicubic",
     hf(CLIP, 3, 224, crop_size=224, do_center_crop=True,
        feature_extractor_type="CLIPFeatureExtractor")),
]
# shrunk (4:3, portrait with odd sides, 1080p: an odd crop margin that timm and transformers
# round apart), enlarged, and square
SIZES = [(640, 480), (563, 1000), (1920, 1080), (150, 97), (224, 224)]


def reference(files, image):
    if "config.json" in files:
        return timm_eval_transform(files["config.json"]["pretrained_cfg"])(image)
    return hf_preprocess(files["preprocessor_config.json"], image)


def compare(got, files, images, convert=False, upright=False):
    """heed's tensors against the reference on each image: (problems, worst, share apart).
    upright: turned by its EXIF orientation first, as transformers' load_image turns it."""
    from PIL import Image, ImageOps
    norm = files.get("config.json", {}).get("pretrained_cfg") or {}
    std = np.array(norm.get("std") or files["preprocessor_config.json"]["image_std"])
    worst, apart, total, problems = 0.0, 0, 0, []
    for k, path in enumerate(images):
        image = Image.open(path)
        if upright:
            image = ImageOps.exif_transpose(image)
        # timm's and transformers' loaders read an image as RGB whatever it holds (CMYK too)
        want = reference(files, image.convert("RGB") if convert else image).numpy()
        codes = np.abs(got[k] - want) * std[:, None, None] * 255
        worst = max(worst, float(codes.max()))
        apart += int((codes > 0.01).sum())
        total += codes.size
        if codes.max() > 1.01:
            problems.append(f"{os.path.basename(path)} {codes.max():.2f} codes")
    return problems, worst, apart / total


def run_case(n, name, model, images, files, tmp, references=None, within=None, **how):
    """`heed classify --dump-tensor` on images against compare() on references (the images
    themselves where not given); within: a bound in seconds on the classify, a hang guard far
    above its time. Prints the TAP line, returns whether it held."""
    dump = os.path.join(tmp, f"case{n}.f32")
    start = time.monotonic()
    r = subprocess.run([heed, "classify", "--model", model, "--dump-tensor", dump] + images,
                       capture_output=True, text=True)
    took = time.monotonic() - start
    if within and took > within:
        print(f"not ok {n} {name}: heed took {took:.0f} s, more than {within} s")
        return False
    if r.returncode:
        print(f"not ok {n} {name}: heed failed: {r.stderr.strip()}")
        return False
    got = np.fromfile(dump, dtype="<f4").reshape(len(images), 3, 224, 224)
    problems, worst, share = compare(got, files, references or images, **how)
    detail = (f"worst {worst:.3f} codes, {100 * share:.4f} % of values apart"
              + (f"; {', '.join(problems)}" if problems else ""))
    ok = not problems and share <= 0.005
    print(f"{'ok' if ok else 'not ok'} {n} {name}: {detail}")
    return ok


def save_png16(image, path, seed):
    """image (8-bit grey, grey and alpha, RGB or RGBA) as a 16-bit PNG (Pillow writes none):
    each sample's high byte the image's, its low byte random, so a decoder that does not keep
    the high bytes shows."""
    pixels = np.asarray(image).astype(np.uint16) << 8
    pixels |= np.random.default_rng(seed).integers(0, 256, pixels.shape, dtype=np.uint16)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    h, w, channels = pixels.shape
    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in pixels)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", w, h, 16, {1: 0, 2: 4, 3: 2, 4: 6}[channels], 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
                + chunk(b"IEND", b""))


def photos_turned(tmp):
    """A phone's pictures: JPEGs (4:2:0, and 4:4:4, which jpegdec would hand on at 4:2:0) with
    each EXIF orientation, 1 to 8, and the first frame of a video with a rotation tag (lossless
    RGB H.264, so the colours are the picture's own), with that frame as FFmpeg turns it upright
    (a PNG) beside it: (paths, the video's path, its reference's path)."""
    from PIL import Image
    photo = synthetic_photo(320, 240, seed=3)
    paths = []
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        path = os.path.join(tmp, f"orientation{orientation}.jpg")
        photo.save(path, quality=92, subsampling=0 if orientation % 2 else 2, exif=exif.tobytes())
        paths.append(path)
    source, plain, video, upright = (os.path.join(tmp, f) for f in
                                     ("frame.png", "plain.mp4", "rotated.mp4", "upright.png"))
    synthetic_photo(320, 240, seed=5).save(source)
    for args in (["-loop", "1", "-i", source, "-frames:v", "3", "-r", "25", "-c:v", "libx264rgb",
                  "-qp", "0", "-pix_fmt", "bgr24", plain],
                 ["-i", plain, "-c", "copy", "-metadata:s:v:0", "rotate=90", video],
                 ["-i", video, "-frames:v", "1", upright]):
        subprocess.run(["ffmpeg", "-v", "error", "-y"] + args, check=True)
    return paths, video, upright


def main():
    print(f"1..{len(CASES) + 11}")
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        images = []
        for i, (w, h) in enumerate(SIZES):
            path = os.path.join(tmp, f"photo_{w}x{h}.png")
            synthetic_photo(w, h, seed=i).save(path)
            images.append(path)
        for n, (name, files) in enumerate(CASES, 1):
            d = os.path.join(tmp, f"case{n}")
            os.makedirs(d)
            os.symlink(weights, os.path.join(d, "model.safetensors"))
            for fname, content in files.items():
                with open(os.path.join(d, fname), "w") as f:
                    json.dump(content, f)
            dump = os.path.join(d, "inputs.f32")
            r = subprocess.run([heed, "classify", "--model", os.path.join(d, "model.safetensors"),
                                "--dump-tensor", dump] + images, capture_output=True, text=True)
            if r.returncode:
                print(f"not ok {n} {name}: heed failed: {r.stderr.strip()}")
                failed += 1
                continue
            got = np.fromfile(dump, dtype="<f4").reshape(len(images), 3, 224, 224)
            problems, worst, share = compare(got, files, images)
            detail = (f"worst {worst:.3f} codes, {100 * share:.4f} % of values apart"
                      + (f"; {', '.join(problems)}" if problems else ""))
            if problems or share > 0.005:
                print(f"not ok {n} {name}: {detail}")
                failed += 1
            else:
                print(f"ok {n} {name}: {detail}")

        # files GStreamer's decodebin cannot read and heed hands to GdkPixbuf: a CMYK JPEG
        # (jpegdec takes 3 components at most), BMP and TIFF (libav's decoders get them in 4 kB
        # pieces, with no parser), a 16-bit RGB PNG (GStreamer 1.22's pngdec scrambles it) and
        # an animated WebP; beside them 16-bit RGBA and grey-and-alpha PNGs, and a still WebP;
        # and pictures with transparent pixels (PNG, WebP, 32-bit BMP), whose stored colours count
        # as Pillow's convert("RGB") keeps them. Against Pillow reading them as timm does (a
        # 16-bit PNG's high bytes)
        from PIL import Image
        n, files = len(CASES) + 1, CASES[0][1]
        model = os.path.join(tmp, "case1", "model.safetensors")
        photo = synthetic_photo(320, 240, seed=7)
        others = [os.path.join(tmp, f) for f in ("cmyk.jpg", "photo.bmp", "photo.tiff",
                                                 "photo-rgb16.png", "photo-rgba16.png",
                                                 "photo.webp", "animated.webp",
                                                 "photo-la16.png", "clear.png", "clear.webp",
                                                 "clear.bmp", "rle8.bmp", "rle4.bmp")]
        photo.convert("CMYK").save(others[0], quality=90)
        photo.save(others[1])
        photo.save(others[2])
        save_png16(photo.convert("RGB"), others[3], seed=1)
        save_png16(photo.convert("RGBA"), others[4], seed=2)
        # WebP: a still one (GStreamer's webpdec), and an animated one (its first frame, from
        # GdkPixbuf's WebP loader: webpdec takes still pictures only)
        photo.save(others[5], quality=90)
        photo.save(others[6], save_all=True, quality=90, duration=100, loop=0,
                   append_images=[synthetic_photo(320, 240, seed=8)])
        save_png16(photo.convert("LA"), others[7], seed=3)
        clear = np.asarray(photo.convert("RGBA")).copy()
        clear[:120, :, 3] = 0  # the top half transparent, its colours kept
        clear[120:, :80, 3] = 128
        # run-length encoded BMPs (decodebin decoded their first 4 kB, the rest black)
        with open(others[11], "wb") as f:
            f.write(rle_bmp(photo.quantize(64), four=False))
        with open(others[12], "wb") as f:
            f.write(rle_bmp(photo.quantize(16), four=True))
        for path in others[8:11]:
            Image.fromarray(clear, "RGBA").save(path, **({"lossless": True}
                                                         if path.endswith(".webp") else {}))
        failed += not run_case(n, "CMYK JPEG, BMP (RLE too), TIFF, 16-bit PNGs, WebP (still "
                               "and animated), transparent pixels as Pillow reads them", model,
                               others, files, tmp, convert=True)
        # JPEGs decoded as Pillow decodes them, and turned upright as transformers' load_image
        # turns them; a video's first frame as FFmpeg turns it
        photos, video, upright = photos_turned(tmp)
        failed += not run_case(n + 1, "JPEG (4:2:0 and 4:4:4) with EXIF orientations 1-8, "
                               "upright as transformers' load_image reads it", model, photos,
                               files, tmp, upright=True)
        failed += not run_case(n + 2, "a video's first frame, upright by its rotation tag as "
                               "FFmpeg turns it", model, [video], files, tmp, [upright])
        # PNGs (GdkPixbuf reads no orientation from them) with each of the eight in an eXIf
        # chunk, and each other way PNGs and WebPs carry one (GStreamer's webpdec reads none),
        # their orientations taken in turn: upright as transformers' load_image reads them
        photo = synthetic_photo(320, 240, seed=12)
        tagged = [("png-exif", o) for o in range(1, 9)]
        tagged += [(way, 2 + k % 7) for k, way in enumerate(tagged_stills.WAYS[1:])]
        stills = []
        for way, orientation in tagged:
            path = os.path.join(tmp, f"{way}-{orientation}." + way.split("-")[0])
            tagged_stills.save(photo, path, orientation, way)
            stills.append(path)
        failed += not run_case(n + 3, "PNG and WebP with an EXIF orientation (eXIf 1-8, raw "
                               "profile, XMP, WebP EXIF), upright as load_image reads them",
                               model, stills, files, tmp, upright=True)
        # TIFFs with each orientation tag (GdkPixbuf's TIFF loader, through libtiff): against the
        # picture turned as the tag defines it (exif_transpose's turn of the stored rows), not
        # against Pillow 9.4 reading the file, whose decoder hands on rows libtiff already
        # turned, which exif_transpose then turns again
        turns = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                 4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
                 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                 8: Image.Transpose.ROTATE_90}
        tiffs, turned = [], []
        for orientation in range(1, 9):
            tiffs.append(os.path.join(tmp, f"orientation{orientation}.tiff"))
            turned.append(os.path.join(tmp, f"orientation{orientation}-turned.png"))
            photo.save(tiffs[-1], tiffinfo={0x0112: orientation})
            (photo.transpose(turns[orientation]) if orientation > 1 else photo).save(turned[-1])
        failed += not run_case(n + 4, "TIFF with orientation tags 1-8, turned as the tag defines",
                               model, tiffs, files, tmp, turned)
        # a phone's HEIC and an AVIF (GdkPixbuf's HEIF loader, libheif), which Pillow does not
        # read: against libheif's own heif-convert writing them out as PNGs
        heif = [os.path.join(tmp, f) for f in ("photo.heic", "photo.avif")]
        decoded = [p + ".png" for p in heif]
        source = os.path.join(tmp, "heif-source.png")
        synthetic_photo(320, 240, seed=9).save(source)
        subprocess.run(["heif-enc", "-q", "90", "-o", heif[0], source], check=True,
                       capture_output=True)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", source, "-c:v", "libaom-av1",
                        "-still-picture", "1", "-pix_fmt", "yuv420p", heif[1]], check=True)
        for p, png in zip(heif, decoded):
            subprocess.run(["heif-convert", p, png], check=True, capture_output=True)
        failed += not run_case(n + 5, "HEIC and AVIF as libheif decodes them", model, heif,
                               files, tmp, decoded)
        # a 16-bit grey PNG (a scan, a depth map): its high bytes, as every 16-bit PNG above,
        # against the 8-bit grey picture they are. Pillow differs here on purpose: its
        # convert("RGB") clips each 16-bit grey value to 255 (python-pillow/Pillow#3011), so
        # transformers' load_image sees a white picture
        grey16, grey8 = (os.path.join(tmp, f) for f in ("grey16.png", "grey8.png"))
        photo.convert("L").save(grey8)
        save_png16(photo.convert("L"), grey16, seed=4)
        failed += not run_case(n + 6, "a 16-bit grey PNG, its high bytes (where Pillow clips it "
                               "to white)", model, [grey16], files, tmp, [grey8], convert=True)
        # a panorama wider than heed's 16384 pixels (it was refused): shrunk to that by area
        # averaging, rounded to 8 bits, then the checkpoint's own resize, against Pillow's one
        # resize. The extra rounding puts up to half a code on each pixel before the model's
        # resize, and the crop, measured on the shrunk picture, may sit a source pixel apart;
        # a wrong scale, crop or bias would be tens of codes over most values.
        pano = os.path.join(tmp, "panorama.jpg")
        synthetic_photo(17000, 1200, seed=11).save(pano, quality=90)
        for k, (name, files) in enumerate((CASES[0], CASES[4])):
            d = os.path.join(tmp, f"case{1 + 4 * k}")
            dump = os.path.join(tmp, f"pano{k}.f32")
            r = subprocess.run([heed, "classify", "--model", os.path.join(d, "model.safetensors"),
                                "--dump-tensor", dump, pano], capture_output=True, text=True)
            tag = f"{n + 7 + k} a 17000 x 1200 panorama, {name}"
            if r.returncode:
                print(f"not ok {tag}: heed failed: {r.stderr.strip()}")
                failed += 1
                continue
            got = np.fromfile(dump, dtype="<f4").reshape(3, 224, 224)
            norm = files.get("config.json", {}).get("pretrained_cfg") or {}
            std = np.array(norm.get("std") or files["preprocessor_config.json"]["image_std"])
            codes = (got - reference(files, Image.open(pano)).numpy()) * std[:, None, None] * 255
            worst, mean, bias = np.abs(codes).max(), np.abs(codes).mean(), codes.mean()
            ok = worst <= 6 and mean <= 1 and abs(bias) <= 0.1
            print(f"{'ok' if ok else 'not ok'} {tag}: worst {worst:.2f} codes, mean {mean:.3f}, "
                  f"bias {bias:+.3f}")
            failed += not ok
        failed += not cut_stills_refused(n + 9, model, tmp)
        # GIFs that end without their trailer: written without one, or cut short after their
        # first picture (a download stopped). FFmpeg's GIF demuxer, through decodebin, read past
        # the end of such a file for 65 s of CPU time; heed reads a copy with the trailer
        # added, as Pillow reads the first picture
        gifs = []
        for k, (name, how) in enumerate((
                ("still", {}), ("animated", dict(save_all=True, duration=100, append_images=[
                    synthetic_photo(160, 120, seed=16), synthetic_photo(160, 120, seed=17)])))):
            whole = os.path.join(tmp, f"whole-{name}.gif")
            synthetic_photo(160, 120, seed=15).save(whole, **how)
            data = open(whole, "rb").read()
            cuts = {"no-trailer": data[:-1], "no-terminator": data[:-2],
                    "junk-for-trailer": data[:-1] + b"\x00"}
            if name == "animated":  # three pictures of about a third each: in its second
                cuts = {"cut-at-60%": data[:len(data) * 6 // 10]}
            for cut, content in cuts.items():
                gifs.append(os.path.join(tmp, f"{cut}-{name}.gif"))
                with open(gifs[-1], "wb") as f:
                    f.write(content)
        failed += not run_case(n + 10, "GIFs without their trailer (cut short after the first "
                               "picture) as Pillow reads them, in under 60 s", model, gifs,
                               CASES[0][1], tmp, within=60, convert=True)
    return 1 if failed else 0


def cut_stills_refused(n, model, tmp):
    """Still pictures cut short (a download stopped, a copy cut off) or damaged refused by heed
    classify exactly where Pillow refuses them, and whole ones, trailing bytes and all, read:
    libjpeg fills a cut JPEG's missing rows with grey, FFmpeg's GIF and BMP decoders, webpdec
    and GdkPixbuf's WebP loader leave them black, and a label came out for each. Prints the TAP
    line, returns whether it held."""
    from PIL import Image
    photo, other = synthetic_photo(96, 64, seed=13), synthetic_photo(96, 64, seed=14)
    exif = tagged_stills.exif_block(6, little=True, prefix=True)
    encodings = {
        "baseline.jpg": (photo, dict(quality=90)),
        "progressive.jpg": (photo, dict(quality=90, progressive=True)),
        "still.gif": (photo, {}),
        "animated.gif": (photo, dict(save_all=True, duration=100, append_images=[other])),
        "rgb.bmp": (photo, {}),
        "odd-width-palette.bmp": (photo.crop((0, 0, 93, 64)).convert("P"), {}),
        "lossy.webp": (photo, dict(quality=80)),
        "lossless.webp": (photo, dict(lossless=True)),
        "extended.webp": (photo, dict(quality=80, exif=exif)),
        "animated.webp": (photo, dict(save_all=True, quality=80, duration=100,
                                      append_images=[other]))}
    paths = []
    for name, (image, how) in encodings.items():
        whole = os.path.join(tmp, f"whole-{name}")
        image.save(whole, **how)
        data = open(whole, "rb").read()
        variants = {"whole": data, "cut-40": data[:40], "cut-third": data[:len(data) // 3],
                    "cut-2": data[:-2], "cut-1": data[:-1], "trailing": data + bytes(7)}
        if name.endswith(".webp"):  # its RIFF length edited
            riff = struct.unpack("<I", data[4:8])[0]
            variants["riff-longer"] = data[:4] + struct.pack("<I", riff + 2) + data[8:] + bytes(2)
            variants["riff-shorter"] = data[:4] + struct.pack("<I", riff - 2) + data[8:]
        for variant, content in variants.items():
            paths.append(os.path.join(tmp, f"{variant}-{name}"))
            with open(paths[-1], "wb") as f:
                f.write(content)

    def pillow_reads(path):
        try:
            with Image.open(path) as image:
                image.load()
            return True
        except Exception:
            return False

    r = subprocess.run([heed, "classify", "--model", model] + paths, capture_output=True,
                       text=True)
    read = {json.loads(line)["file"] for line in r.stdout.splitlines()}
    refused = {path for path in paths if f"{path}: cannot decode: the " in r.stderr
               and "cut short" in r.stderr.split(f"{path}: cannot decode: ")[1].split("\n")[0]}
    wrong = [os.path.basename(p) for p in paths
             if (p in read, p in refused) != ((True, False) if pillow_reads(p) else (False, True))]
    print(f"{'ok' if not wrong else 'not ok'} {n} JPEG, GIF, BMP and WebP cut short or damaged "
          f"refused where Pillow refuses them ({len(refused)} of {len(paths)}), the others read"
          + (f"; apart: {', '.join(wrong)}" if wrong else ""))
    return not wrong


if __name__ == "__main__":
    sys.exit(main())
