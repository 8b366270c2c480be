/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: a PNG's or WebP's EXIF orientation, and whether a WebP is whole (heed classify
 * and heed annotate read both from any picture they are given). The input is the file's bytes; they
 * are read as a PNG or WebP by their own signature, and also, whatever they start with, as a bare
 * EXIF block. */
#include "heed-orientation.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  guint still = heed_still_orientation (data, size);
  guint exif = heed_exif_orientation (data, size);
  gboolean damaged = heed_webp_is_damaged (data, size);
  /* only a RIFF file of type WEBP is judged */
  if (damaged && (size < 12 || memcmp (data, "RIFF", 4) != 0 || memcmp (data + 8, "WEBP", 4) != 0))
    __builtin_trap ();
  /* an orientation is one of EXIF's eight, or none; a direction is named for each */
  if (still > 8 || exif > 8 || (still > 1 && !heed_orientation_method (still)))
    __builtin_trap ();
  return 0;
}
