/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Class names for a model's outputs. */
#ifndef HEED_LABELS_H
#define HEED_LABELS_H

#include <glib.h>

extern const char *const heed_imagenet_labels[1000];

/* Names for num_classes outputs: the lines of labels_file when given (it must hold exactly
 * num_classes non-empty lines), else the model's own labels, else ImageNet-1k's when
 * num_classes is 1000, else "class N". Returns a NULL-terminated array to g_strfreev, or NULL
 * with error set when labels_file cannot be read or does not fit. */
char **heed_labels_resolve (const char *labels_file, char **model_labels, guint num_classes,
                            GError **error);

#endif
