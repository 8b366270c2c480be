/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A still picture's EXIF orientation where GdkPixbuf's loaders read none: a PNG's and a WebP's.
 * Read from untrusted bytes, so bounded everywhere (fuzz/fuzz_orientation.c). */
#ifndef HEED_ORIENTATION_H
#define HEED_ORIENTATION_H

#include <glib.h>

/* The orientation, 1 to 8, an EXIF block (a TIFF header and its first directory, with or without
 * the "Exif\0\0" that a JPEG's APP1 puts before it) gives in its tag 0x0112; 0 where it gives
 * none, or one outside 1 to 8. */
guint heed_exif_orientation (const guint8 *exif, gsize size);
/* The orientation, 1 to 8, that a PNG or a WebP file's bytes give, as Pillow's getexif (9.4)
 * reads it for exif_transpose, which transformers' load_image turns pictures with: a PNG's eXIf
 * chunk, else its "Raw profile type exif" text (ImageMagick's), and where neither gives one, the
 * tiff:Orientation of its XMP ("XML:com.adobe.xmp"); a WebP's EXIF chunk. 0 for any other file,
 * and where the file gives none. */
guint heed_still_orientation (const guint8 *data, gsize size);
/* heed_still_orientation of the file at path (mapped, not read whole); 0 where it cannot be
 * read. */
guint heed_still_orientation_of_file (const char *path);
/* The GstVideoOrientationMethod nick (videoflip's video-direction) that turns a picture stored
 * with the given orientation upright; NULL for 1 (as stored) and for none. */
const char *heed_orientation_method (guint orientation);

#endif
