/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: whether a still picture is cut short, and a GIF's completed copy (heed classify
 * and heed annotate judge every picture they are given). The input is the file's bytes, judged
 * as a JPEG, GIF, BMP or WebP by their own signature. */
#include "heed-still-damage.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *damage = heed_still_damage (data, size);
  /* only the four formats are judged, each by its own signature */
  if (damage && !(size >= 3 && data[0] == 0xFF && data[1] == 0xD8) &&
      !(size >= 6 && memcmp (data, "GIF8", 4) == 0) &&
      !(size >= 2 && memcmp (data, "BM", 2) == 0) && !(size >= 12 && memcmp (data, "RIFF", 4) == 0))
    __builtin_trap ();
  /* a completed GIF is one whose first picture was whole; it ends with its trailer, is whole,
   * and needs no completing again */
  GBytes *completed = heed_gif_completed (data, size);
  if (completed) {
    gsize length;
    const guint8 *bytes = g_bytes_get_data (completed, &length);
    GBytes *again = heed_gif_completed (bytes, length);
    if (damage || length > size + 2 || bytes[length - 1] != 0x3B ||
        heed_still_damage (bytes, length) || again)
      __builtin_trap ();
    g_bytes_unref (completed);
  }
  return 0;
}
