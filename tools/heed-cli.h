/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the heed tool's command files. */
#ifndef HEED_CLI_H
#define HEED_CLI_H

#include <glib.h>

/* Prints "heed: <reason>" as one line on stderr (the error's message, else `what`), frees the
 * error and returns the exit status 1. */
int heed_cli_fail (const char *what, GError *error);

/* A download's progress on stderr, as one redrawn line, when stderr is a terminal. */
void heed_cli_progress (const char *file, guint64 done, guint64 total, gpointer data);
/* heed_hub_resolve with heed_cli_progress (the model path itself for a file). */
char *heed_cli_resolve_model (const char *model, GError **error);

int heed_cmd_bench (int argc, char **argv);
int heed_cmd_models (int argc, char **argv);
int heed_cmd_classify (int argc, char **argv);
int heed_cmd_annotate (int argc, char **argv);
int heed_cmd_live (int argc, char **argv);
/* The heed GStreamer plugin: installed, or the build tree's when the tool runs from there
 * (gst_init first). */
gboolean heed_cli_find_plugin (GError **error);

#endif
