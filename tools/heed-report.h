/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The keyframe report of `heed annotate --report DIR` (report.c). */
#ifndef HEED_REPORT_H
#define HEED_REPORT_H

#include <gst/app/gstappsink.h>
#include <gst/gst.h>

typedef struct _HeedReport HeedReport;

/* Makes DIR and DIR/keyframes (removing an earlier report's thumbnails). */
HeedReport *heed_report_new (const char *dir, GError **error);
void heed_report_free (HeedReport *report);

/* A buffer probe after heedoverlay: keeps each frame's importance, keyframe flag, sound novelty
 * and top label (data: the report). */
GstPadProbeReturn heed_report_record_frame (GstPad *pad, GstPadProbeInfo *info, gpointer data);
/* A buffer probe at the head of the thumbnail branch: passes keyframes only. */
GstPadProbeReturn heed_report_keep_keyframes (GstPad *pad, GstPadProbeInfo *info, gpointer data);
/* The thumbnail branch's appsink new-sample callback: writes the JPEG it gets. */
GstFlowReturn heed_report_thumbnail (GstAppSink *sink, gpointer data);

typedef struct {
  const char *input; /* the annotated file, for the title */
  const char *model; /* where the labels come from, in words */
  double threshold;  /* heedkeyframe's, drawn on the timeline */
  gboolean sound;    /* the input has sound */
  gboolean interrupted;
} HeedReportSummary;

/* Writes DIR/index.html; FALSE when it, or a thumbnail, could not be written. */
gboolean heed_report_write (HeedReport *report, const HeedReportSummary *summary, GError **error);

#endif
