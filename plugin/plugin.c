/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The heed plugin: registers every heed element. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "heed-engine.h"

#include "gstheedclassify.h"
#include "gstheedjson.h"
#include "gstheedkeyframe.h"
#include "gstheedoverlay.h"

GST_DEBUG_CATEGORY_STATIC (heed_engine_debug);

/* The engine's log (device choice, Vulkan validation messages) goes to the "heed" category. */
static void
engine_log (HeedLogLevel level, const char *message, void *user_data)
{
  static const GstDebugLevel levels[] = { GST_LEVEL_ERROR, GST_LEVEL_WARNING, GST_LEVEL_INFO,
                                          GST_LEVEL_DEBUG };
  GST_CAT_LEVEL_LOG (heed_engine_debug, levels[level], NULL, "engine: %s", message);
}

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean ret = FALSE;
  GST_DEBUG_CATEGORY_INIT (heed_engine_debug, "heed", 0, "heed's Vulkan engine");
  heed_set_log_func (engine_log, NULL);
  ret |= GST_ELEMENT_REGISTER (heedclassify, plugin);
  ret |= GST_ELEMENT_REGISTER (heedoverlay, plugin);
  ret |= GST_ELEMENT_REGISTER (heedkeyframe, plugin);
  ret |= GST_ELEMENT_REGISTER (heedjson, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (
    GST_VERSION_MAJOR, GST_VERSION_MINOR, heed,
    "Vision-transformer attention on Vulkan: classification, attention maps and overlays",
    plugin_init, PACKAGE_VERSION, "LGPL", "heed", "https://example.invalid/heed")
