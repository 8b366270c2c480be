/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* For tests/test_cut_stills.py: the file given, judged by heed_still_damage and
 * heed_gif_completed at every length from 1 byte to the whole: one line, a character for each
 * length ('c' cut short, 'g' a GIF to be completed, '.' whole), so a test can hold every prefix
 * against Pillow without a process for each. */
#include "heed-still-damage.h"

#include <stdio.h>

int
main (int argc, char **argv)
{
  gchar *data;
  gsize size;
  if (argc != 2 || !g_file_get_contents (argv[1], &data, &size, NULL)) {
    fprintf (stderr, "usage: still-damage-prefixes FILE\n");
    return 2;
  }
  for (gsize n = 1; n <= size; n++) {
    const guint8 *bytes = (const guint8 *) data;
    GBytes *completed = heed_gif_completed (bytes, n);
    putchar (heed_still_damage (bytes, n) ? 'c' : completed ? 'g' : '.');
    if (completed)
      g_bytes_unref (completed);
  }
  putchar ('\n');
  g_free (data);
  return 0;
}
