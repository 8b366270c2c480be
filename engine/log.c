/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Errors, logging and validation-message accounting. */
#include "heed-private.h"

#include <stdarg.h>
#include <stdio.h>

G_DEFINE_QUARK (heed - error - quark, heed_error)

static HeedLogFunc log_func;
static void *log_data;
static GMutex log_mutex;

void
heed_set_log_func (HeedLogFunc func, void *user_data)
{
  g_mutex_lock (&log_mutex);
  log_func = func;
  log_data = user_data;
  g_mutex_unlock (&log_mutex);
}

void
heed_log (HeedLogLevel level, const char *format, ...)
{
  static const char *names[] = { "ERROR", "WARNING", "INFO", "DEBUG" };
  va_list args;
  char *msg;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);

  g_mutex_lock (&log_mutex);
  if (log_func)
    log_func (level, msg, log_data);
  else if (level <= HEED_LOG_WARNING || g_getenv ("HEED_DEBUG"))
    fprintf (stderr, "heed %s: %s\n", names[level], msg);
  g_mutex_unlock (&log_mutex);
  g_free (msg);
}

const char *
heed_vk_result_name (VkResult r)
{
  switch (r) {
#define CASE(x)                                                                                    \
  case x: return #x
    CASE (VK_SUCCESS);
    CASE (VK_NOT_READY);
    CASE (VK_TIMEOUT);
    CASE (VK_INCOMPLETE);
    CASE (VK_ERROR_OUT_OF_HOST_MEMORY);
    CASE (VK_ERROR_OUT_OF_DEVICE_MEMORY);
    CASE (VK_ERROR_INITIALIZATION_FAILED);
    CASE (VK_ERROR_DEVICE_LOST);
    CASE (VK_ERROR_MEMORY_MAP_FAILED);
    CASE (VK_ERROR_LAYER_NOT_PRESENT);
    CASE (VK_ERROR_EXTENSION_NOT_PRESENT);
    CASE (VK_ERROR_FEATURE_NOT_PRESENT);
    CASE (VK_ERROR_INCOMPATIBLE_DRIVER);
    CASE (VK_ERROR_TOO_MANY_OBJECTS);
    CASE (VK_ERROR_FORMAT_NOT_SUPPORTED);
    CASE (VK_ERROR_FRAGMENTED_POOL);
    CASE (VK_ERROR_OUT_OF_POOL_MEMORY);
    CASE (VK_ERROR_INVALID_EXTERNAL_HANDLE);
    CASE (VK_ERROR_UNKNOWN);
#undef CASE
  default: return "VkResult (unknown)";
  }
}
