/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_HEED_CLASSIFY_H
#define GST_HEED_CLASSIFY_H

#include <gst/base/gstbasetransform.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define GST_TYPE_HEED_CLASSIFY (gst_heed_classify_get_type ())
G_DECLARE_FINAL_TYPE (GstHeedClassify, gst_heed_classify, GST, HEED_CLASSIFY, GstBaseTransform)

typedef enum {
  GST_HEED_ATTENTION_NONE,
  GST_HEED_ATTENTION_CLS,
  GST_HEED_ATTENTION_ROLLOUT,
} GstHeedAttention;

GST_ELEMENT_REGISTER_DECLARE (heedclassify);

G_END_DECLS

#endif
