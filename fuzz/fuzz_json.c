/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: a checkpoint's config.json and preprocessor_config.json, untrusted text read
 * beside a valid model. The input is the two files joined by a NUL byte (the second may be
 * absent); the model is a small seed checkpoint (HEED_FUZZ_MODEL, or
 * fuzz/corpus/model/vit.safetensors from the working directory), or for an OpenCLIP config
 * (one that says model_cfg) OpenCLIP's image tower (fuzz/corpus/model/open-clip.safetensors
 * beside it), or for one that names AIMv2 transformers' Aimv2Model (aimv2-hf.safetensors). */
#include "heed-engine.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
quiet (HeedLogLevel level, const char *message, void *user_data)
{
  /* warnings about odd but loadable files are expected here, millions of times */
}

static guint8 *model, *open_clip_model, *aimv2_model;
static gsize model_size, open_clip_size, aimv2_size;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  heed_set_log_func (quiet, NULL);
  const char *path = g_getenv ("HEED_FUZZ_MODEL");
  if (!g_file_get_contents (path ? path : "fuzz/corpus/model/vit.safetensors", (char **) &model,
                            &model_size, NULL)) {
    g_printerr ("fuzz_json: set HEED_FUZZ_MODEL to a small safetensors checkpoint\n");
    exit (2);
  }
  char *dir = g_path_get_dirname (path ? path : "fuzz/corpus/model/vit.safetensors");
  char *open_clip = g_build_filename (dir, "open-clip.safetensors", NULL);
  char *aimv2 = g_build_filename (dir, "aimv2-hf.safetensors", NULL);
  if (!g_file_get_contents (open_clip, (char **) &open_clip_model, &open_clip_size, NULL) ||
      !g_file_get_contents (aimv2, (char **) &aimv2_model, &aimv2_size, NULL)) {
    g_printerr ("fuzz_json: %s or %s is missing\n", open_clip, aimv2);
    exit (2);
  }
  g_free (open_clip), g_free (aimv2), g_free (dir);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (!model)
    LLVMFuzzerInitialize (NULL, NULL);
  char *text = g_malloc (size + 1);
  memcpy (text, data, size);
  text[size] = 0;
  size_t first = strlen (text);
  const char *preprocessor = first < size ? text + first + 1 : NULL;
  GError *error = NULL;
  gboolean oc = strstr (text, "model_cfg") != NULL, aim = !oc && strstr (text, "aimv2") != NULL;
  HeedModel *m = heed_model_load_from_data (oc    ? open_clip_model
                                            : aim ? aimv2_model
                                                  : model,
                                            oc    ? open_clip_size
                                            : aim ? aimv2_size
                                                  : model_size,
                                            text, preprocessor, "fuzz", &error);
  if (m)
    heed_model_destroy (&m);
  else if (!error || !error->message || !*error->message)
    __builtin_trap ();
  g_clear_error (&error);
  g_free (text);
  return 0;
}
