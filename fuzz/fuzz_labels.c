/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: a labels file (heedclassify labels-file, heed classify --labels), untrusted
 * text read through the file system with its bound. The first byte picks the model's class
 * count (1 to 256); the rest is the file. */
#include "heedlabels.h"
#include "heed-engine.h"

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  guint classes = data[0] + 1u;
  char *path = NULL;
  GError *error = NULL;
  int fd = g_file_open_tmp ("heed-fuzz-labels-XXXXXX", &path, NULL);
  if (fd < 0 || write (fd, data + 1, size - 1) != (ssize_t) (size - 1))
    __builtin_trap ();
  close (fd);
  char **labels = heed_labels_resolve (path, NULL, classes, &error);
  if (labels) {
    if (g_strv_length (labels) != classes)
      __builtin_trap (); /* a list that is not one name a class is an error, not a result */
    for (guint i = 0; i < classes; i++)
      if (!*labels[i] || !g_utf8_validate (labels[i], -1, NULL))
        __builtin_trap (); /* names are text */
    g_strfreev (labels);
  } else if (!error || !error->message || !*error->message) {
    __builtin_trap ();
  }
  g_clear_error (&error);
  unlink (path);
  g_free (path);
  return 0;
}
