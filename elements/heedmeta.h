/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The metadata heed elements attach, readable by applications without linking to heed.
 *
 * HeedClassificationMeta: a GstCustomMeta (gst_buffer_get_custom_meta (buffer,
 * "HeedClassificationMeta")) whose structure, named "heed-classification", holds:
 *   labels (GstValueArray of strings), label-ids (GstValueArray of guint), confidences
 *   (GstValueArray of double): the top-k, best first;
 *   attention (GBytes: float32, row-major attention-height x attention-width, sums to 1),
 *   attention-width, attention-height (guint): the map over the model's patch grid;
 *   attention-peak-x, attention-peak-y (double, 0..1 of the frame);
 *   embedding (GBytes: float32 x embedding-size), embedding-size (guint): the CLS embedding;
 *   inferred (gboolean): FALSE when carried forward from an earlier frame;
 *   result-frame (guint64): the frame the result was computed on (live with a slow model, an
 *   earlier one even for the frame a pass started on);
 *   frame (guint64), model (string: the model's file, or "default").
 * Each heedclassify in a pipeline adds its own (two models in a row: two metas, upstream's
 * first in gst_buffer_iterate_meta's order; gst_buffer_get_custom_meta gives that one).
 * The full-frame GstVideoRegionOfInterestMeta heedclassify adds has id 0.
 * The attention grid covers the model's input; resize (string: stretch, crop or letterbox)
 * says how that input was cut from the frame, and region-x, region-y, region-width,
 * region-height (double, fractions of the frame's width and height) where it lies: the whole
 * frame for stretch, the centred square for crop, past the frame's edges for letterbox (its
 * bars). Draw the grid over that rectangle.
 *
 * HeedKeyframeMeta (gst_buffer_get_custom_meta (buffer, "HeedKeyframeMeta")), structure
 * "heed-keyframe", on every frame heedkeyframe passes:
 *   score (double, 0..1): the frame's importance; keyframe (gboolean): whether it is one;
 *   novelty (double): how poorly the frames before it explain it (see engine/keyframe.c),
 *   head-novelty (GstValueArray of 3 doubles): the same per head (colour layout, colour
 *   histogram, edges), cls-novelty (double): the CLS embedding's, when heedclassify upstream
 *   gave them; audio-novelty (double): the spectral flux of its sound;
 *   frame (guint64): its index since the stream started; cause (string: visual, audio or
 *   audio-visual), keyframes only.
 */
#ifndef HEED_META_H
#define HEED_META_H

#include <gst/gst.h>

#define HEED_CLASSIFICATION_META_NAME "HeedClassificationMeta"
#define HEED_CLASSIFICATION_STRUCTURE_NAME "heed-classification"
#define HEED_KEYFRAME_META_NAME "HeedKeyframeMeta"
#define HEED_KEYFRAME_STRUCTURE_NAME "heed-keyframe"

/* Registers the custom meta (idempotent, thread-safe). */
void heed_meta_register (void);

/* Attaches a copy of the structure as a HeedClassificationMeta to a writable buffer. */
void heed_classification_meta_add (GstBuffer *buffer, const GstStructure *result);

/* The buffer's classification structure, or NULL; owned by the buffer. */
const GstStructure *heed_classification_meta_get (GstBuffer *buffer);

/* Every classification structure on the buffer in turn, upstream's first: start with *state
 * NULL; NULL after the last. */
const GstStructure *heed_classification_meta_next (GstBuffer *buffer, gpointer *state);

/* The same for HeedKeyframeMeta. */
void heed_keyframe_meta_add (GstBuffer *buffer, const GstStructure *result);
const GstStructure *heed_keyframe_meta_get (GstBuffer *buffer);

#endif
