/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_HEED_KEYFRAME_H
#define GST_HEED_KEYFRAME_H

#include <gst/base/gstbasetransform.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define GST_TYPE_HEED_KEYFRAME (gst_heed_keyframe_get_type ())
G_DECLARE_FINAL_TYPE (GstHeedKeyframe, gst_heed_keyframe, GST, HEED_KEYFRAME, GstBaseTransform)

typedef enum {
  GST_HEED_KEYFRAME_MODE_PASS_ALL,
  GST_HEED_KEYFRAME_MODE_KEYFRAMES_ONLY,
} GstHeedKeyframeMode;

GST_ELEMENT_REGISTER_DECLARE (heedkeyframe);

G_END_DECLS

#endif
