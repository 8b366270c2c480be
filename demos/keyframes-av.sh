#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Audio-visual keyframes on GStreamer's own Vulkan device (DESIGN.md's third pipeline): the
# frames go up with vulkanupload, heed shares that device, the sound feeds heedkeyframe's
# audio_sink; each keyframe is printed (gst-launch-1.0 -m shows heedkeyframe's messages).
#   demos/keyframes-av.sh in.mp4
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 IN" >&2; exit 2; }
gst-launch-1.0 -m filesrc location="$1" ! decodebin name=d \
  d. ! queue ! videoconvert ! vulkanupload ! heedclassify ! heedkeyframe name=k ! heedoverlay \
  ! vulkandownload ! fakesink \
  d. ! queue ! k.audio_sink \
  | grep -o 'heedkeyframe, .*' | sed -E 's/.*frame=\(guint64\)([0-9]+).*score=\(double\)([0-9.]+).*cause=\(string\)([a-z-]+).*/keyframe at frame \1: \3, score \2/'
