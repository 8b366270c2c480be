/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "heedmeta.h"

/* Carried through copies and through scaling or conversion: the results are in frame-relative
 * coordinates, so they stay true when the frame is resized. */
static void add_meta (GstBuffer *buffer, const char *meta_name, const char *structure_name,
                      const GstStructure *result);

static gboolean
transform (GstBuffer *dest, GstCustomMeta *meta, GstBuffer *buffer, GQuark type, gpointer data,
           gpointer user_data)
{
  const GstStructure *s = gst_custom_meta_get_structure (meta);
  add_meta (dest, user_data, gst_structure_get_name (s), s);
  return TRUE;
}

void
heed_meta_register (void)
{
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    static const gchar *tags[] = { NULL };
    gst_meta_register_custom (HEED_CLASSIFICATION_META_NAME, tags, transform,
                              (gpointer) HEED_CLASSIFICATION_META_NAME, NULL);
    gst_meta_register_custom (HEED_KEYFRAME_META_NAME, tags, transform,
                              (gpointer) HEED_KEYFRAME_META_NAME, NULL);
    g_once_init_leave (&once, 1);
  }
}

void
heed_classification_meta_add (GstBuffer *buffer, const GstStructure *result)
{
  add_meta (buffer, HEED_CLASSIFICATION_META_NAME, HEED_CLASSIFICATION_STRUCTURE_NAME, result);
}

void
heed_keyframe_meta_add (GstBuffer *buffer, const GstStructure *result)
{
  add_meta (buffer, HEED_KEYFRAME_META_NAME, HEED_KEYFRAME_STRUCTURE_NAME, result);
}

const GstStructure *
heed_keyframe_meta_get (GstBuffer *buffer)
{
  GstCustomMeta *meta = gst_buffer_get_custom_meta (buffer, HEED_KEYFRAME_META_NAME);
  return meta ? gst_custom_meta_get_structure (meta) : NULL;
}

static void
add_meta (GstBuffer *buffer, const char *meta_name, const char *structure_name,
          const GstStructure *result)
{
  heed_meta_register ();
  GstCustomMeta *meta = gst_buffer_add_custom_meta (buffer, meta_name);
  if (!meta)
    return;
  GstStructure *s = gst_custom_meta_get_structure (meta);
  gst_structure_set_name (s, structure_name);
  for (gint i = 0; i < gst_structure_n_fields (result); i++) {
    const gchar *field = gst_structure_nth_field_name (result, i);
    gst_structure_set_value (s, field, gst_structure_get_value (result, field));
  }
}

const GstStructure *
heed_classification_meta_get (GstBuffer *buffer)
{
  GstCustomMeta *meta = gst_buffer_get_custom_meta (buffer, HEED_CLASSIFICATION_META_NAME);
  return meta ? gst_custom_meta_get_structure (meta) : NULL;
}

const GstStructure *
heed_classification_meta_next (GstBuffer *buffer, gpointer *state)
{
  heed_meta_register ();
  const GstMetaInfo *info = gst_meta_get_info (HEED_CLASSIFICATION_META_NAME);
  GstMeta *meta = gst_buffer_iterate_meta_filtered (buffer, state, info->api);
  return meta ? gst_custom_meta_get_structure ((GstCustomMeta *) meta) : NULL;
}
