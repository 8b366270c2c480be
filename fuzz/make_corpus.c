/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes the fuzz targets' seed corpus (fuzz/corpus/, committed): small checkpoints heed itself
 * saves (a plain ViT, one with a distillation token and registers, one with average pooling),
 * the test fixtures' config.json and preprocessor_config.json files, and labels files.
 *   make-corpus FIXTURES_DIR OUT_DIR */
#include "heed-engine.h"

#include <stdio.h>
#include <string.h>

static void
save_model (const HeedModelConfig *shape, guint seed, const char *out, const char *name)
{
  GError *error = NULL;
  HeedModel *m = heed_model_new_random (shape, seed, &error);
  char *path = g_build_filename (out, "model", name, NULL);
  if (!m || !heed_model_save (m, path, &error))
    g_error ("%s: %s", path, error->message);
  heed_model_destroy (&m);
  g_free (path);
}

/* config.json, a NUL, then preprocessor_config.json (either may be missing) */
static void
save_json (const char *fixtures, const char *model, const char *out)
{
  char *config = g_build_filename (fixtures, model, "config.json", NULL);
  char *pre = g_build_filename (fixtures, model, "preprocessor_config.json", NULL);
  char *a = NULL, *b = NULL;
  gsize na = 0, nb = 0;
  g_file_get_contents (config, &a, &na, NULL);
  gboolean have_pre = g_file_get_contents (pre, &b, &nb, NULL);
  GString *s = g_string_new_len (a ? a : "", na);
  if (have_pre) {
    g_string_append_c (s, 0);
    g_string_append_len (s, b, nb);
  }
  char *path = g_build_filename (out, "json", model, NULL);
  if (!g_file_set_contents (path, s->str, s->len, NULL))
    g_error ("cannot write %s", path);
  g_string_free (s, TRUE);
  g_free (path), g_free (config), g_free (pre), g_free (a), g_free (b);
}

static void
save_labels (const char *out, const char *name, guint8 classes_minus_1, const char *text)
{
  char *path = g_build_filename (out, "labels", name, NULL);
  GString *s = g_string_new_len ((const char *) &classes_minus_1, 1);
  g_string_append (s, text);
  if (!g_file_set_contents (path, s->str, s->len, NULL))
    g_error ("cannot write %s", path);
  g_string_free (s, TRUE);
  g_free (path);
}

int
main (int argc, char **argv)
{
  if (argc != 3) {
    g_printerr ("usage: make-corpus FIXTURES_DIR OUT_DIR\n");
    return 2;
  }
  const char *dirs[] = { "model", "json", "labels" };
  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++) {
    char *d = g_build_filename (argv[2], dirs[i], NULL);
    g_mkdir_with_parents (d, 0755);
    g_free (d);
  }
  HeedModelConfig vit = { .img_size = 8,
                          .patch_size = 4,
                          .dim = 8,
                          .depth = 1,
                          .num_heads = 2,
                          .mlp_hidden = 16,
                          .num_classes = 3 };
  save_model (&vit, 1, argv[2], "vit.safetensors");
  HeedModelConfig deit = vit;
  deit.distilled = TRUE;
  save_model (&deit, 2, argv[2], "distilled.safetensors");
  HeedModelConfig gap = vit;
  gap.avg_pool = TRUE;
  gap.num_classes = 0;
  save_model (&gap, 3, argv[2], "avg-pool-headless.safetensors");
  const char *models[] = { "hub_hf_vit", "hub_timm_vit", "clip_quickgelu_f32", "p14_hd32_bf16",
                           "hf_vit_f32" };
  for (guint i = 0; i < G_N_ELEMENTS (models); i++)
    save_json (argv[1], models[i], argv[2]);
  save_labels (argv[2], "three", 2, "cat\ndog\nbird\n");
  save_labels (argv[2], "crlf-blank-lines", 1, "first class\r\n\r\nsecond class\r\n");
  save_labels (argv[2], "utf8", 2, "chat \xc3\xa0 poils\n\xe7\x8c\xab\nsmpte \xe2\x80\x94 bars");
  return 0;
}
