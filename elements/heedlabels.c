/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "heedlabels.h"

#include "heed-engine.h"

#include <string.h>

char **
heed_labels_resolve (const char *labels_file, char **model_labels, guint num_classes,
                     GError **error)
{
  GPtrArray *out = g_ptr_array_new ();
  if (labels_file && *labels_file) {
    char *text = NULL;
    /* a label is a line: 4 KiB a class bounds any real file, and an endless one stops there */
    if (!heed_file_read (labels_file, MAX (num_classes, 1) * (gsize) 4096, &text, NULL, error)) {
      g_ptr_array_free (out, TRUE);
      return NULL;
    }
    /* names go into messages, metadata and JSON: text, not bytes */
    const char *bad;
    if (!g_utf8_validate (text, -1, &bad)) {
      guint line = 1;
      for (const char *c = text; c < bad; c++)
        line += *c == '\n';
      g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "%s: line %u is not UTF-8 text",
                   labels_file, line);
      g_free (text);
      g_ptr_array_free (out, TRUE);
      return NULL;
    }
    /* as Windows' Notepad saves a file: a byte order mark before the first name, and CR LF
     * line ends (the CRs go with the trailing space below) */
    const char *start = g_str_has_prefix (text, "\xef\xbb\xbf") ? text + 3 : text;
    char **lines = g_strsplit (start, "\n", -1);
    for (char **l = lines; *l; l++) {
      g_strchomp (*l);
      if (**l)
        g_ptr_array_add (out, g_strdup (*l));
    }
    g_strfreev (lines);
    g_free (text);
    if (out->len != num_classes) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                   "%s has %u labels but the model has %u classes", labels_file, out->len,
                   num_classes);
      g_ptr_array_set_free_func (out, g_free);
      g_ptr_array_free (out, TRUE);
      return NULL;
    }
  } else if (model_labels && g_strv_length (model_labels) == num_classes) {
    for (guint i = 0; i < num_classes; i++)
      g_ptr_array_add (out, g_strdup (model_labels[i]));
  } else {
    for (guint i = 0; i < num_classes; i++)
      g_ptr_array_add (out, num_classes == 1000 ? g_strdup (heed_imagenet_labels[i])
                                                : g_strdup_printf ("class %u", i));
  }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}
