# SPDX-License-Identifier: LGPL-2.1-or-later
"""A picture saved as a PNG or a WebP with an EXIF orientation, in each of the ways those files
carry one and Pillow 9.4's getexif reads it (for exif_transpose, which transformers' load_image
turns pictures with): a PNG's eXIf chunk (before the image data, where Pillow writes it, or
after it), ImageMagick's "Raw profile type exif" text (compressed, zTXt, or plain, tEXt), XMP's
tiff:Orientation (iTXt, plain or compressed with 20 kB of padding, as an attribute or an
element); a WebP's EXIF chunk (as Pillow writes it, and with the "Exif\\0\\0" that some
writers put before it), big- and little-endian. Used by the tests and by
fuzz/make_orientation_seeds.py."""
import io
import struct
import zlib

WAYS = ("png-exif", "png-exif-le", "png-exif-after-data", "png-raw-profile-ztxt",
        "png-raw-profile-text", "png-xmp", "png-xmp-compressed", "png-xmp-element",
        "webp-exif", "webp-exif-le-prefixed", "webp-lossy-exif")


def exif_block(orientation, little=False, prefix=False):
    """A TIFF header and one directory holding the orientation as one SHORT"""
    e = "<" if little else ">"
    block = ((b"II*\0" if little else b"MM\0*") + struct.pack(e + "I", 8)
             + struct.pack(e + "H", 1) + struct.pack(e + "HHIHH", 0x0112, 3, 1, orientation, 0)
             + struct.pack(e + "I", 0))
    return (b"Exif\0\0" if prefix else b"") + block


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def raw_profile(block):
    """ImageMagick's text for an EXIF block: a line break, the profile's name, its length, and
    the bytes in hexadecimal, 36 a line"""
    digits = block.hex()
    lines = "\n".join(digits[i:i + 72] for i in range(0, len(digits), 72))
    return f"\nexif\n{len(block):8d}\n{lines}\n".encode("latin-1")


def xmp(orientation, element=False, padding=0):
    """An XMP packet with the orientation, and the padding of spaces editors leave for changes"""
    value = (f"<tiff:Orientation>{orientation}</tiff:Orientation>" if element
             else f'tiff:Orientation="{orientation}"')
    inner = (f'<rdf:Description rdf:about="" xmlns:tiff="http://ns.adobe.com/tiff/1.0/">{value}'
             "</rdf:Description>" if element else
             f'<rdf:Description rdf:about="" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
             f"{value}/>")
    return ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f"{inner}</rdf:RDF></x:xmpmeta>" + " " * padding).encode()


def save(image, path, orientation, way):
    """image saved at path with the orientation, carried the way named (one of WAYS)"""
    if way.startswith("webp"):
        out = io.BytesIO()
        image.save(out, "WEBP", lossless=way != "webp-lossy-exif", quality=90,
                   exif=exif_block(orientation))
        data = out.getvalue()
        if way == "webp-exif-le-prefixed":
            at = data.index(b"EXIF")
            length = struct.unpack("<I", data[at + 4:at + 8])[0]
            block = exif_block(orientation, little=True, prefix=True)
            pad = b"\0" if len(block) % 2 else b""
            data = (data[:at] + b"EXIF" + struct.pack("<I", len(block)) + block + pad
                    + data[at + 8 + length + length % 2:])
            data = data[:4] + struct.pack("<I", len(data) - 8) + data[8:]
        with open(path, "wb") as f:
            f.write(data)
        return
    out = io.BytesIO()
    image.save(out, "PNG")
    data = out.getvalue()
    if way.startswith("png-exif"):
        chunk = png_chunk(b"eXIf", exif_block(orientation, little=way == "png-exif-le"))
    elif way.startswith("png-raw-profile"):
        profile = raw_profile(exif_block(orientation, prefix=True))
        chunk = (png_chunk(b"zTXt", b"Raw profile type exif\0\0" + zlib.compress(profile))
                 if way == "png-raw-profile-ztxt" else
                 png_chunk(b"tEXt", b"Raw profile type exif\0" + profile))
    elif way == "png-xmp-compressed":
        chunk = png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\1\0\0\0"
                          + zlib.compress(xmp(orientation, padding=20000)))
    else:
        chunk = png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0"
                          + xmp(orientation, element=way == "png-xmp-element"))
    # after the header, or (after-data) just before the end
    at = data.index(b"IEND") - 4 if way == "png-exif-after-data" else 8 + 25
    with open(path, "wb") as f:
        f.write(data[:at] + chunk + data[at:])
