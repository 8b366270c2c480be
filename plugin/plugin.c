/* The heed plugin: registers every heed element. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gstheedclassify.h"

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean ret = FALSE;
  ret |= GST_ELEMENT_REGISTER (heedclassify, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, heed,
                   "Vision-transformer attention on Vulkan: classification and attention maps",
                   plugin_init, PACKAGE_VERSION, "LGPL", "heed", "https://example.invalid/heed")
