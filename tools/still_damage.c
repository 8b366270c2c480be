/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Whether a still picture is cut short (heed-still-damage.h). The decoders heed reads pictures
 * with give a picture for a file cut short (libjpeg fills the missing rows with grey, FFmpeg's
 * GIF and BMP decoders and libwebp leave them black), where Pillow, which timm and transformers
 * read pictures with, refuses it: a label for half a picture is a wrong answer, not an answer.
 * Each format's structure is walked to where its first picture ends; every offset and length
 * comes from the file, so each is checked against what is left before it is used. */
#include "heed-still-damage.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static guint32
read32_le (const guint8 *p)
{
  return (guint32) p[3] << 24 | (guint32) p[2] << 16 | (guint32) p[1] << 8 | p[0];
}

static guint16
read16_le (const guint8 *p)
{
  return (guint16) (p[1] << 8 | p[0]);
}

/* A JPEG ends at its EOI marker (trailing bytes after it, a phone maker's, are left alone).
 * Marker segments carry their length; a scan's entropy-coded data runs to the next marker that
 * is not a restart (a 0xFF in the data is stuffed as FF 00). Pillow refuses a JPEG cut anywhere
 * before its EOI (one missing only part of the marker it reads from some files, as the last
 * code's bits fall; heed calls that cut too). */
static gboolean
jpeg_is_cut (const guint8 *data, gsize size)
{
  /* a file that ends with EOI is whole, whatever a damaged segment's length says on the way
   * (entropy-coded data never holds FF D9) */
  if (size >= 4 && data[size - 2] == 0xFF && data[size - 1] == 0xD9)
    return FALSE;
  gsize at = 2; /* after SOI */
  while (at < size) {
    if (data[at] != 0xFF)
      return FALSE; /* not a marker: damage the decoder judges, not a cut */
    while (at < size && data[at] == 0xFF)
      at++; /* fill bytes */
    if (at >= size)
      return TRUE;
    guint8 marker = data[at++];
    if (marker == 0xD9)
      return FALSE; /* EOI */
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7))
      continue; /* no length */
    if (size - at < 2)
      return TRUE;
    gsize length = (gsize) data[at] << 8 | data[at + 1];
    if (length < 2)
      return FALSE;
    if (length > size - at)
      return TRUE;
    at += length;
    if (marker != 0xDA)
      continue;
    /* a scan's data: to the next marker other than a restart */
    for (;;) {
      const guint8 *ff = memchr (data + at, 0xFF, size - at);
      if (!ff)
        return TRUE;
      at = (gsize) (ff - data);
      gsize next = at + 1;
      while (next < size && data[next] == 0xFF)
        next++;
      if (next >= size)
        return TRUE;
      if (data[next] == 0x00 || (data[next] >= 0xD0 && data[next] <= 0xD7)) {
        at = next + 1;
        continue;
      }
      break; /* at: the marker's first 0xFF */
    }
  }
  return TRUE;
}

/* How far a GIF's blocks are whole: the header and screen descriptor, a global colour table,
 * then extensions and pictures (an image descriptor, a local colour table, the LZW code size),
 * each with its data in sub-blocks of up to 255 bytes ended by an empty one, and the trailer. */
typedef struct {
  gboolean picture;      /* its first picture is whole */
  gsize whole;           /* where its last whole block ends (0: not even its header) */
  gboolean unterminated; /* it ends after a picture's short last sub-block, the empty one missing */
  gboolean trailer;      /* it ends with its trailer */
  gboolean damaged;      /* a byte that starts no block stands where one should */
} GifWalk;

static void
gif_walk (const guint8 *data, gsize size, GifWalk *w)
{
  *w = (GifWalk){ 0 };
  if (size < 13)
    return;
  gsize at = 13;
  if (data[10] & 0x80)
    at += (gsize) 3 << ((data[10] & 7) + 1);
  if (at > size)
    return;
  w->whole = at;
  while (at < size) {
    guint8 kind = data[at++];
    gboolean image = kind == 0x2C;
    if (kind == 0x3B) {
      w->trailer = TRUE;
      return;
    }
    if (kind == 0x21) {
      at++; /* the extension's label */
    } else if (image) {
      if (size - at < 9)
        return;
      guint8 flags = data[at + 8];
      at += 9;
      if (flags & 0x80)
        at += (gsize) 3 << ((flags & 7) + 1);
      at++; /* the LZW minimum code size */
    } else {
      w->damaged = TRUE;
      return;
    }
    guint8 last = 255;
    for (;;) {
      if (at >= size) {
        /* Pillow stops at the LZW end code in a picture's last sub-block, so a picture whose
         * file ends right after a short one (an encoder fills every sub-block but the last)
         * lacks only the empty one */
        if (image && last < 255 && at == size)
          w->picture = TRUE, w->whole = size, w->unterminated = TRUE;
        return;
      }
      guint8 length = data[at++];
      if (length == 0)
        break;
      if (length > size - at)
        return;
      at += length;
      last = length;
    }
    w->whole = at;
    w->picture |= image;
  }
}

/* A run-length encoded BMP's pixels (compression 1: RLE8, 2: RLE4), from at, counted as Pillow
 * counts them: a run fills at most the rest of its row, an end of line pads the row out, a delta
 * skips pixels. A file that ends before they fill the picture is cut short; an end-of-bitmap code
 * before that is no cut (decoders leave the rest as background). */
static gboolean
bmp_rle_is_cut (const guint8 *data, gsize size, gsize at, guint64 w, guint64 h, gboolean four)
{
  guint64 total = w * h, filled = 0, x = 0;
  while (filled < total) {
    if (at > size || size - at < 2)
      return TRUE;
    guint8 count = data[at], code = data[at + 1];
    at += 2;
    if (count) { /* count pixels of one index (RLE4: of two, in turn) */
      guint64 n = x >= w ? 0 : MIN (count, w - x);
      filled += n;
      x += n;
    } else if (code == 0) { /* end of line */
      filled = (filled + w - 1) / w * w;
      x = 0;
    } else if (code == 1) { /* end of bitmap */
      return FALSE;
    } else if (code == 2) { /* delta: right, then up rows */
      if (size - at < 2)
        return TRUE;
      filled += data[at] + (guint64) data[at + 1] * w;
      x = filled % w;
      at += 2;
    } else { /* code pixels as they are, their bytes padded to an even count */
      gsize bytes = four ? (code + 1u) / 2 : code;
      bytes += bytes & 1;
      if (size - at < bytes)
        return TRUE;
      filled += code;
      x += code;
      at += bytes;
    }
  }
  return FALSE;
}

/* An uncompressed BMP's rows, each padded to 4 bytes, from the offset its header gives (bottom
 * up, or top down where the height is negative); a run-length encoded one's runs. */
static gboolean
bmp_is_cut (const guint8 *data, gsize size)
{
  if (size < 30)
    return TRUE;
  guint32 offset = read32_le (data + 10), header = read32_le (data + 14);
  guint64 w, h, bits;
  guint32 compression = 0;
  if (header == 12) { /* OS/2's core header: 16-bit sides */
    w = read16_le (data + 18);
    h = read16_le (data + 20);
    bits = read16_le (data + 24);
  } else {
    if (size < 34)
      return TRUE;
    gint32 width = (gint32) read32_le (data + 18), height = (gint32) read32_le (data + 22);
    w = width < 0 ? 0 : (guint64) width;
    h = height < 0 ? (guint64) - (gint64) height : (guint64) height; /* negative: top-down */
    bits = read16_le (data + 28);
    compression = read32_le (data + 30);
  }
  if ((compression == 1 || compression == 2) && w && h)
    return offset > size || bmp_rle_is_cut (data, size, offset, w, h, compression == 2);
  /* uncompressed, or with bit fields (masks for 16 and 32 bits) */
  if (compression != 0 && compression != 3 && compression != 6)
    return FALSE;
  /* the last row's padding may be missing: Pillow reads the pixels alone */
  guint64 stride = (w * bits + 31) / 32 * 4;
  return h && (guint64) offset + stride * (h - 1) + (w * bits + 7) / 8 > size;
}

/* A WebP's chunks fill the length its RIFF header gives, to the byte (trailing bytes after the
 * RIFF chunk left out, as libwebp's demuxer leaves them). */
static gboolean
webp_is_damaged (const guint8 *data, gsize size)
{
  guint64 end = (guint64) read32_le (data + 4) + 8;
  if (end > size)
    return TRUE;
  /* each chunk a header and its data padded to an even length; a length run past the end, or a
   * few bytes too few for a header, is damage that the demuxer refuses */
  guint64 at = 12;
  while (at < end) {
    if (end - at < 8)
      return TRUE;
    guint64 length = read32_le (data + at + 4);
    at += 8 + length + (length & 1);
  }
  return at != end || end == 12;
}

static gboolean
is_gif (const guint8 *data, gsize size)
{
  return size >= 6 && (memcmp (data, "GIF87a", 6) == 0 || memcmp (data, "GIF89a", 6) == 0);
}

const char *
heed_still_damage (const guint8 *data, gsize size)
{
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
    return jpeg_is_cut (data, size) ? "the JPEG is cut short (it ends before its end marker)"
                                    : NULL;
  if (is_gif (data, size)) {
    GifWalk w;
    gif_walk (data, size, &w);
    return !w.picture && !w.trailer && !w.damaged
               ? "the GIF is cut short (it ends inside its first picture)"
               : NULL;
  }
  if (size >= 2 && memcmp (data, "BM", 2) == 0)
    return bmp_is_cut (data, size)
               ? "the BMP is cut short (it holds fewer pixels than its header gives)"
               : NULL;
  if (size >= 12 && memcmp (data, "RIFF", 4) == 0 && memcmp (data + 8, "WEBP", 4) == 0)
    return webp_is_damaged (data, size) ? "the WebP is cut short or damaged (its chunks do not "
                                          "fill the length its header gives)"
                                        : NULL;
  return NULL;
}

GBytes *
heed_gif_completed (const guint8 *data, gsize size)
{
  if (!is_gif (data, size))
    return NULL;
  GifWalk w;
  gif_walk (data, size, &w);
  if (!w.picture || w.trailer)
    return NULL;
  gsize length = w.whole + (w.unterminated ? 2 : 1);
  guint8 *completed = g_malloc (length);
  memcpy (completed, data, w.whole);
  if (w.unterminated)
    completed[w.whole] = 0x00;
  completed[length - 1] = 0x3B;
  return g_bytes_new_take (completed, length);
}

char *
heed_gif_completed_copy (const char *path)
{
  GMappedFile *file = g_mapped_file_new (path, FALSE, NULL);
  if (!file)
    return NULL;
  GBytes *completed = heed_gif_completed ((const guint8 *) g_mapped_file_get_contents (file),
                                          g_mapped_file_get_length (file));
  g_mapped_file_unref (file);
  char *copy = NULL;
  int fd = completed ? g_file_open_tmp ("heed-completed-XXXXXX.gif", &copy, NULL) : -1;
  if (fd >= 0)
    close (fd);
  gsize length;
  const char *bytes = completed ? g_bytes_get_data (completed, &length) : NULL;
  if (copy && !g_file_set_contents (copy, bytes, (gssize) length, NULL)) {
    g_unlink (copy);
    g_clear_pointer (&copy, g_free);
  }
  if (completed)
    g_bytes_unref (completed);
  return copy;
}

const char *
heed_still_damage_of_file (const char *path)
{
  GMappedFile *file = g_mapped_file_new (path, FALSE, NULL);
  if (!file)
    return NULL;
  const char *damage = heed_still_damage ((const guint8 *) g_mapped_file_get_contents (file),
                                          g_mapped_file_get_length (file));
  g_mapped_file_unref (file);
  return damage;
}
