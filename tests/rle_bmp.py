# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run-length encoded BMPs (RLE8, RLE4), which Pillow reads and does not write, for the tests."""


def rle_bmp(image, four):
    """image (mode P, 16 colours at most for RLE4) as a run-length encoded BMP, which Pillow
    reads and does not write: RLE8 with runs of one index and literal runs padded to an even
    length; RLE4 with runs of one index (its literal runs of odd length Pillow reads short)"""
    w, h = image.size
    pixels = image.load()
    body = bytearray()
    for y in range(h - 1, -1, -1):  # bottom up
        row = [pixels[x, y] for x in range(w)]
        while row and row[-1] == 0:  # a row's last pixels of index 0 left to its end of line
            row.pop()
        x = 0
        while x < len(row):
            n = 1
            while x + n < len(row) and n < 255 and row[x + n] == row[x]:
                n += 1
            literal = 0
            while not four and x + literal < len(row) and literal < 255 and (
                    x + literal + 1 >= len(row) or row[x + literal + 1] != row[x + literal]):
                literal += 1
            if literal >= 3:
                body += bytes([0, literal]) + bytes(row[x:x + literal]) + bytes(literal & 1)
                x += literal
            else:
                body += bytes([n, row[x] * 17 if four else row[x]])
                x += n
        body += b"\0\0"  # end of line
    body += b"\0\1"  # end of bitmap
    colours = min(len(image.getpalette()) // 3, 16 if four else 256)  # what the bits can index
    palette = b"".join(bytes([b, g, r, 0]) for r, g, b in
                       zip(*[iter(image.getpalette()[:3 * colours])] * 3))
    offset = 14 + 40 + len(palette)
    return (b"BM" + (offset + len(body)).to_bytes(4, "little") + bytes(4)
            + offset.to_bytes(4, "little") + (40).to_bytes(4, "little")
            + w.to_bytes(4, "little") + h.to_bytes(4, "little") + (1).to_bytes(2, "little")
            + (4 if four else 8).to_bytes(2, "little") + (2 if four else 1).to_bytes(4, "little")
            + len(body).to_bytes(4, "little") + bytes(8) + colours.to_bytes(4, "little")
            + bytes(4) + palette + bytes(body))
