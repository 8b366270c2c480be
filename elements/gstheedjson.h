/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_HEED_JSON_H
#define GST_HEED_JSON_H

#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_HEED_JSON (gst_heed_json_get_type ())
G_DECLARE_FINAL_TYPE (GstHeedJson, gst_heed_json, GST, HEED_JSON, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (heedjson);

G_END_DECLS

#endif
