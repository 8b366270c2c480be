#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A live camera with heed's labels and attention heatmap on screen (DESIGN.md's first
# pipeline). DEVICE picks the camera (default /dev/video0); SOURCE replaces the camera with any
# live source fragment, SINK the window (the tests run it with a test source and fakesink):
#   demos/live-camera.sh
#   SOURCE="videotestsrc is-live=true pattern=ball num-buffers=60" SINK=fakesink demos/live-camera.sh
set -euo pipefail
source=${SOURCE:-v4l2src device=${DEVICE:-/dev/video0}}
exec gst-launch-1.0 $source ! videoconvert ! heedclassify ${MODEL:+model=$MODEL} \
  ! heedoverlay ! queue ! videoconvert ! ${SINK:-autovideosink}
