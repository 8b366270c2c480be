/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs a fuzz target without libFuzzer (any compiler; the suite runs it under valgrind): every
 * file given (or every file in a folder given) as it is, then cut short at 1/16 steps and with
 * single bytes changed at 64 evenly spread places (0x00, 0xff, and the byte + 1), so the
 * broken cases near each seed are tried on every run, not only in a fuzzing session
 * (tools/fuzz.sh). Prints how many inputs ran. */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv) __attribute__ ((weak));

static guint64 runs;

static void
run (const guint8 *data, gsize size)
{
  /* a copy of exactly `size` bytes, so a read past the end is caught */
  guint8 *copy = g_memdup2 (data, size);
  LLVMFuzzerTestOneInput (copy, size);
  g_free (copy);
  runs++;
}

static void
replay_file (const char *path)
{
  guint8 *data;
  gsize size;
  if (!g_file_get_contents (path, (char **) &data, &size, NULL)) {
    g_printerr ("cannot read %s\n", path);
    return;
  }
  run (data, size);
  for (guint k = 1; k < 16; k++)
    run (data, size * k / 16);
  for (guint k = 0; k < 64 && size; k++) {
    gsize at = size * k / 64;
    guint8 was = data[at];
    const guint8 values[3] = { 0x00, 0xff, (guint8) (was + 1) };
    for (guint v = 0; v < 3; v++) {
      data[at] = values[v];
      run (data, size);
    }
    data[at] = was;
  }
  g_free (data);
}

int
main (int argc, char **argv)
{
  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize (&argc, &argv);
  for (int i = 1; i < argc; i++) {
    GDir *dir = g_dir_open (argv[i], 0, NULL);
    if (!dir) {
      replay_file (argv[i]);
      continue;
    }
    const char *name;
    GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
    while ((name = g_dir_read_name (dir)))
      g_ptr_array_add (names, g_build_filename (argv[i], name, NULL));
    g_dir_close (dir);
    for (guint j = 0; j < names->len; j++)
      replay_file (names->pdata[j]);
    g_ptr_array_unref (names);
  }
  printf ("%" G_GUINT64_FORMAT " inputs\n", runs);
  return runs ? 0 : 1;
}
