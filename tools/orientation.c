/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A PNG's and a WebP's EXIF orientation (heed-orientation.h). GdkPixbuf's JPEG and TIFF loaders
 * read the tag and its PNG and WebP loaders read none, where Pillow reads it from both: a phone's
 * or an editor's photo saved as PNG or WebP keeps the tag, and transformers' load_image turns the
 * picture by it. Every offset and length here comes from the file, so each is checked against
 * what is left before it is used. */
#include "heed-orientation.h"

#include <string.h>
#include <zlib.h>

/* Pillow's bound on a decompressed text chunk (ImageFile.SAFEBLOCK, 1 MiB): past it, it gives no
 * text, and neither do we */
#define TEXT_MAX (1u << 20)

static guint32
read32 (const guint8 *p, gboolean big)
{
  return big ? (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3]
             : (guint32) p[3] << 24 | (guint32) p[2] << 16 | (guint32) p[1] << 8 | p[0];
}

static guint16
read16 (const guint8 *p, gboolean big)
{
  return big ? (guint16) (p[0] << 8 | p[1]) : (guint16) (p[1] << 8 | p[0]);
}

guint
heed_exif_orientation (const guint8 *exif, gsize size)
{
  if (size >= 6 && memcmp (exif, "Exif\0\0", 6) == 0)
    exif += 6, size -= 6;
  if (size < 8)
    return 0;
  gboolean big;
  if (memcmp (exif, "II*\0", 4) == 0)
    big = FALSE;
  else if (memcmp (exif, "MM\0*", 4) == 0)
    big = TRUE;
  else
    return 0;
  /* the first directory: a count, then 12-byte entries (tag, type, count, value or offset) */
  guint32 at = read32 (exif + 4, big);
  if (at > size || size - at < 2)
    return 0;
  guint entries = read16 (exif + at, big);
  for (guint i = 0; i < entries && (size - at - 2) / 12 > i; i++) {
    const guint8 *entry = exif + at + 2 + 12 * (gsize) i;
    if (read16 (entry, big) != 0x0112)
      continue;
    /* one SHORT, as EXIF writes it, or one LONG (Pillow reads either; a count of two is a
     * tuple to it, no orientation), its value in the entry itself */
    guint type = read16 (entry + 2, big);
    guint32 value = read32 (entry + 4, big) != 1 ? 0
                    : type == 3                  ? read16 (entry + 8, big)
                    : type == 4                  ? read32 (entry + 8, big)
                                                 : 0;
    return value >= 1 && value <= 8 ? value : 0;
  }
  return 0;
}

/* The text of a PNG text chunk (tEXt, zTXt or iTXt) whose keyword is key, NUL-terminated in
 * *text (freed by the caller) with its length in *length; FALSE for another key, for a damaged
 * chunk and for compressed text that does not inflate within TEXT_MAX (as Pillow gives none). */
static gboolean
png_text (const guint8 *type, const guint8 *data, gsize size, const char *key, char **text,
          gsize *length)
{
  gsize key_len = strlen (key);
  if (size <= key_len || memcmp (data, key, key_len) != 0 || data[key_len] != 0)
    return FALSE;
  const guint8 *rest = data + key_len + 1;
  gsize left = size - key_len - 1;
  gboolean compressed = memcmp (type, "zTXt", 4) == 0;
  if (compressed) {
    if (left < 1 || rest[0] != 0) /* method 0, deflate, is the only one */
      return FALSE;
    rest++, left--;
  } else if (memcmp (type, "iTXt", 4) == 0) {
    /* compressed or not (any byte but 0 is compressed, by deflate, method 0, the only one),
     * the method, then a language tag and a translated keyword, each ending in a NUL */
    if (left < 2 || (rest[0] != 0 && rest[1] != 0))
      return FALSE;
    compressed = rest[0] != 0;
    rest += 2, left -= 2;
    for (guint field = 0; field < 2; field++) {
      const guint8 *end = memchr (rest, 0, left);
      if (!end)
        return FALSE;
      left -= (gsize) (end - rest) + 1;
      rest = end + 1;
    }
  }
  if (!compressed) {
    /* the bytes as they are, a NUL among them included (which is no hex digit, nor XMP) */
    *text = g_malloc (left + 1);
    memcpy (*text, rest, left);
    (*text)[left] = 0;
    *length = left;
    return TRUE;
  }
  z_stream z = { 0 };
  if (inflateInit (&z) != Z_OK)
    return FALSE;
  z.next_in = (Bytef *) rest;
  z.avail_in = (uInt) left;
  /* room that doubles as it fills, up to TEXT_MAX (a text chunk is mostly far smaller) */
  gsize room = MIN (TEXT_MAX, MAX (left * 4, 4096)), got = 0;
  guint8 *out = g_malloc (room + 1);
  int result;
  for (;;) {
    z.next_out = out + got;
    z.avail_out = (uInt) (room - got);
    result = inflate (&z, Z_FINISH);
    got = room - z.avail_out;
    if ((result != Z_OK && result != Z_BUF_ERROR) || z.avail_out > 0 || room == TEXT_MAX)
      break;
    room = MIN (TEXT_MAX, room * 2);
    out = g_realloc (out, room + 1);
  }
  /* a stream cut short gives what it held, as Python's zlib gives it to Pillow */
  gboolean cut_short = result == Z_BUF_ERROR && z.avail_in == 0 && z.avail_out > 0;
  inflateEnd (&z);
  if (result != Z_STREAM_END && !cut_short) {
    g_free (out);
    return FALSE;
  }
  out[got] = 0;
  *text = (char *) out;
  *length = got;
  return TRUE;
}

/* ImageMagick's "Raw profile type exif": a line break, "exif", the byte count, then the bytes in
 * hexadecimal over many lines. Pillow takes what follows the third line break as hex digits and
 * white space; anything else there, or an odd count of digits, is no EXIF block. */
static guint
raw_profile_orientation (const char *text, gsize length)
{
  const char *p = text, *end = text + length;
  for (guint breaks = 0; breaks < 3; breaks++) {
    p = memchr (p, '\n', end - p);
    if (!p)
      return 0;
    p++;
  }
  guint8 *bytes = g_malloc ((end - p) / 2 + 1);
  gsize n = 0;
  int high = -1;
  gboolean ok = TRUE;
  for (; p < end && ok; p++) {
    if (g_ascii_isspace (*p))
      continue;
    int digit = g_ascii_xdigit_value (*p);
    ok = digit >= 0;
    if (ok && high < 0)
      high = digit;
    else if (ok)
      bytes[n++] = (guint8) (high << 4 | digit), high = -1;
  }
  guint orientation = ok && high < 0 ? heed_exif_orientation (bytes, n) : 0;
  g_free (bytes);
  return orientation;
}

/* The first tiff:Orientation in XMP text that an '="' or a '>' and a digit follow, as Pillow's
 * regular expression finds it (the digit, if 1 to 8) */
static guint
xmp_orientation (const char *text, gsize length)
{
  static const char name[] = "tiff:Orientation";
  const gsize name_len = sizeof name - 1;
  for (const char *p = text; (gsize) (text + length - p) >= name_len + 2; p++) {
    if (memcmp (p, name, name_len) != 0)
      continue;
    const char *after = p + name_len;
    gsize left = text + length - after;
    const char *digit = after[0] == '>'                                   ? after + 1
                        : left >= 3 && after[0] == '=' && after[1] == '"' ? after + 2
                                                                          : NULL;
    if (digit && g_ascii_isdigit (*digit))
      return *digit >= '1' && *digit <= '8' ? (guint) (*digit - '0') : 0;
  }
  return 0;
}

static guint
png_orientation (const guint8 *data, gsize size)
{
  /* the last of each, as Pillow keeps them (its info dictionary), chunks after the image data
   * included (it reads them when it loads the picture, and getexif loads it) */
  guint exif = 0, raw = 0, xmp = 0;
  gboolean have_exif = FALSE, have_raw = FALSE;
  for (gsize at = 8; size - at >= 12;) {
    guint32 length = read32 (data + at, TRUE);
    const guint8 *type = data + at + 4, *body = data + at + 8;
    if (length > size - at - 12 || memcmp (type, "IEND", 4) == 0)
      break;
    gboolean is_text = memcmp (type, "tEXt", 4) == 0 || memcmp (type, "zTXt", 4) == 0 ||
                       memcmp (type, "iTXt", 4) == 0;
    char *text = NULL;
    gsize text_len = 0;
    if (memcmp (type, "eXIf", 4) == 0) {
      exif = heed_exif_orientation (body, length);
      have_exif = TRUE;
    } else if (is_text &&
               png_text (type, body, length, "Raw profile type exif", &text, &text_len)) {
      raw = raw_profile_orientation (text, text_len);
      have_raw = TRUE;
    } else if (is_text && png_text (type, body, length, "XML:com.adobe.xmp", &text, &text_len)) {
      xmp = xmp_orientation (text, text_len);
    }
    g_free (text);
    at += 12 + (gsize) length;
  }
  guint tagged = have_exif ? exif : have_raw ? raw : 0;
  return tagged ? tagged : xmp;
}

static guint
webp_orientation (const guint8 *data, gsize size)
{
  /* libwebp's demuxer (Pillow's reader) keeps other chunks only in the extended format, whose
   * first chunk is VP8X; each chunk's data is padded to an even length */
  if (size < 20 || memcmp (data + 12, "VP8X", 4) != 0)
    return 0;
  /* (the padding byte of a chunk that ends the file may be missing: at can pass size) */
  for (gsize at = 12; at <= size && size - at >= 8;) {
    guint32 length = read32 (data + at + 4, FALSE);
    if (length > size - at - 8)
      break;
    if (memcmp (data + at, "EXIF", 4) == 0)
      return heed_exif_orientation (data + at + 8, length);
    at += 8 + (gsize) length + (length & 1);
  }
  return 0;
}

guint
heed_still_orientation (const guint8 *data, gsize size)
{
  if (size >= 8 && memcmp (data, "\x89PNG\r\n\x1a\n", 8) == 0)
    return png_orientation (data, size);
  if (size >= 12 && memcmp (data, "RIFF", 4) == 0 && memcmp (data + 8, "WEBP", 4) == 0)
    return webp_orientation (data, size);
  return 0;
}

guint
heed_still_orientation_of_file (const char *path)
{
  GMappedFile *file = g_mapped_file_new (path, FALSE, NULL);
  if (!file)
    return 0;
  guint orientation = heed_still_orientation ((const guint8 *) g_mapped_file_get_contents (file),
                                              g_mapped_file_get_length (file));
  g_mapped_file_unref (file);
  return orientation;
}

const char *
heed_orientation_method (guint orientation)
{
  /* EXIF's orientations 1 to 8: as stored, mirrored, turned 180 degrees, flipped, transposed,
   * turned a quarter clockwise, transversed, a quarter anticlockwise */
  static const char *const methods[] = { NULL,    NULL,  "horiz", "180", "vert",
                                         "ul-lr", "90r", "ur-ll", "90l" };
  return orientation <= 8 ? methods[orientation] : NULL;
}
