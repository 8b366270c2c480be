#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# File annotation as one gst-launch-1.0 pipeline (DESIGN.md's second): labels, heatmap and the
# keyframe timeline drawn in, H.264 in MP4 with a key frame at each keyframe. `heed annotate`
# does the same with the sound kept, progress and Ctrl-C handling (docs/annotate.md).
#   demos/annotate-file.sh in.mp4 out.mp4 [MODEL]
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 IN OUT [MODEL]" >&2; exit 2; }
exec gst-launch-1.0 -q filesrc location="$1" ! decodebin ! videoconvert \
  ! heedclassify ${3:+model="$3"} ! heedkeyframe ! heedoverlay ! videoconvert \
  ! x264enc speed-preset=veryfast ! mp4mux ! filesink location="$2"
