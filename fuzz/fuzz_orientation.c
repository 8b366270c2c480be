/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: a PNG's or WebP's EXIF orientation (heed classify and heed annotate read it from
 * any picture they are given). The input is the file's bytes; they are read as a PNG or WebP by
 * their own signature, and also, whatever they start with, as a bare EXIF block. */
#include "heed-orientation.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  guint still = heed_still_orientation (data, size);
  guint exif = heed_exif_orientation (data, size);
  /* an orientation is one of EXIF's eight, or none; a direction is named for each */
  if (still > 8 || exif > 8 || (still > 1 && !heed_orientation_method (still)))
    __builtin_trap ();
  return 0;
}
