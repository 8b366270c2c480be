/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Whether a still picture is cut short (a download stopped, a copy cut off), which the decoders
 * heed reads pictures with do not say, where Pillow refuses the file. Read from untrusted bytes,
 * so bounded everywhere (fuzz/fuzz_still_damage.c). */
#ifndef HEED_STILL_DAMAGE_H
#define HEED_STILL_DAMAGE_H

#include <glib.h>

/* Why data, a JPEG, GIF, BMP or WebP, is cut short: its first picture ends past the file's end
 * (a JPEG without its end marker, a GIF inside its first picture's data, a BMP with fewer
 * pixels than its header gives, in rows or in runs), or a WebP's chunks do not fill the length its
 * RIFF header gives. A sentence for an error message; NULL where the picture is whole, and for any
 * other file (PNG and TIFF decoders refuse a cut file themselves). */
const char *heed_still_damage (const guint8 *data, gsize size);
/* heed_still_damage of the file at path (mapped); NULL where it cannot be read. */
const char *heed_still_damage_of_file (const char *path);
/* A GIF that ends without its trailer (cut short after its first picture, or written without
 * one) as its whole blocks followed by the trailer (and a picture's missing empty sub-block):
 * FFmpeg's GIF demuxer, through GStreamer, reads past the end of such a file for a minute or more.
 * NULL where the file ends with its trailer, its first picture is not whole, or it is no GIF. */
GBytes *heed_gif_completed (const guint8 *data, gsize size);
/* heed_gif_completed of the file at path written to a temporary file, whose name is returned (the
 * caller unlinks it); NULL where none is needed or it cannot be written. */
char *heed_gif_completed_copy (const char *path);

#endif
