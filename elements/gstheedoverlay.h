/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_HEED_OVERLAY_H
#define GST_HEED_OVERLAY_H

#include <gst/base/gstbasetransform.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define GST_TYPE_HEED_OVERLAY (gst_heed_overlay_get_type ())
G_DECLARE_FINAL_TYPE (GstHeedOverlay, gst_heed_overlay, GST, HEED_OVERLAY, GstBaseTransform)

typedef enum {
  GST_HEED_HEATMAP_WHOLE,
  GST_HEED_HEATMAP_MASK,
  GST_HEED_HEATMAP_NONE,
} GstHeedHeatmapMode;

typedef enum {
  GST_HEED_LABEL_TOP_LEFT,
  GST_HEED_LABEL_TOP_RIGHT,
  GST_HEED_LABEL_BOTTOM_LEFT,
  GST_HEED_LABEL_BOTTOM_RIGHT,
} GstHeedLabelPosition;

GST_ELEMENT_REGISTER_DECLARE (heedoverlay);

G_END_DECLS

#endif
