/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: the safetensors loader (heed_model_load_from_data) on untrusted bytes. Every
 * input must load or fail with a GError; nothing may crash, leak or read out of bounds. */
#include "heed-engine.h"

#include <stdint.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
quiet (HeedLogLevel level, const char *message, void *user_data)
{
  /* warnings about odd but loadable files are expected here, millions of times */
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  heed_set_log_func (quiet, NULL);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  HeedModel *m = heed_model_load_from_data (data, size, NULL, NULL, "fuzz", &error);
  if (m)
    heed_model_destroy (&m);
  else if (!error || !error->message || !*error->message)
    __builtin_trap (); /* a failure must say why */
  g_clear_error (&error);
  return 0;
}
