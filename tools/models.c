/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `heed models`: what the hub cache holds; and the download progress the other commands show
 * when they fetch hf: models. */
#include "heed-cli.h"
#include "heed-engine.h"

#include <stdio.h>
#include <unistd.h>

typedef struct {
  gint64 started, last_draw;
  char file[64];
} Progress;

void
heed_cli_progress (const char *file, guint64 done, guint64 total, gpointer data)
{
  Progress *p = data;
  gint64 now = g_get_monotonic_time ();
  gboolean finished = total && done >= total;
  if (g_strcmp0 (p->file, file) != 0) { /* a new file */
    g_strlcpy (p->file, file, sizeof p->file);
    p->started = now;
    p->last_draw = 0;
  }
  if (!finished && now - p->last_draw < 100000) /* ten redraws a second at most */
    return;
  p->last_draw = now;
  double secs = MAX ((now - p->started) / 1e6, 1e-3), mb = done / 1e6;
  /* kB for the small config files, MB for weights */
  double unit = total && total < 1000000 ? 1e3 : 1e6;
  const char *unit_name = unit == 1e3 ? "kB" : "MB";
  if (total) {
    guint width = 30, filled = (guint) (width * (double) done / (double) total);
    char bar[31];
    for (guint i = 0; i < width; i++)
      bar[i] = i < filled ? '#' : '-';
    bar[width] = '\0';
    fprintf (stderr, "\r%-24.24s [%s] %5.1f%% %8.1f/%.1f %s %6.1f MB/s", file, bar,
             100.0 * done / total, done / unit, total / unit, unit_name, mb / secs);
  } else {
    fprintf (stderr, "\r%-24.24s %8.1f MB %6.1f MB/s", file, mb, mb / secs);
  }
  if (finished)
    fputc ('\n', stderr);
  fflush (stderr);
}

char *
heed_cli_resolve_model (const char *model, GError **error)
{
  Progress progress = { 0 };
  gboolean tty = isatty (STDERR_FILENO);
  return heed_hub_resolve (model, tty ? heed_cli_progress : NULL, &progress, error);
}

int
heed_cmd_models (int argc, char **argv)
{
  gboolean paths = FALSE;
  GOptionEntry entries[] = {
    { "paths", 'p', 0, G_OPTION_ARG_NONE, &paths, "print each snapshot's folder too", NULL },
    { NULL },
  };
  GOptionContext *ctx = g_option_context_new (
      "- list the hub models in the cache (hf:OWNER/NAME@REVISION, commit, size)");
  GError *error = NULL;
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_option_context_free (ctx);
    return heed_cli_fail (NULL, error);
  }
  g_option_context_free (ctx);
  char *cache = heed_hub_cache_dir ();
  GPtrArray *list = heed_hub_list ();
  if (list->len == 0)
    fprintf (stderr, "heed: no models in %s\n", cache);
  for (guint i = 0; i < list->len; i++) {
    const HeedHubEntry *e = g_ptr_array_index (list, i);
    printf ("hf:%s@%s  %.12s  %.1f MB%s%s\n", e->name, e->revision, e->commit, e->bytes / 1e6,
            paths ? "  " : "", paths ? e->path : "");
  }
  g_ptr_array_unref (list);
  g_free (cache);
  return 0;
}
