#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What drawing costs per frame: heedoverlay (heatmap + label box) next to GStreamer's
# textoverlay drawing one label on the same frames, start-up excluded. Every pipeline carries
# heedclassify with one inference (inference-interval larger than the run), so the frames hold
# the same metadata and the difference to the pipeline without an overlay is the drawing.
#   tools/bench_overlay.sh [WIDTH HEIGHT [N [FORMAT]]]     (default 1920 1080 200 I420)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/plugin/libgstheed.so ] && export GST_PLUGIN_PATH="$PWD/build/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
w=${1:-1920} h=${2:-1080} n=${3:-200} format=${4:-I420}
# seconds for a pipeline with $2 frames, the overlay (or nothing) being $1
run () {
  local start end
  start=$(date +%s.%N)
  gst-launch-1.0 -q videotestsrc num-buffers="$2" pattern=ball \
    ! "video/x-raw,format=$format,width=$w,height=$h,framerate=30/1" \
    ! heedclassify inference-interval=1000000 ! $1 fakesink sync=false \
    || { echo "the pipeline failed: $1" >&2; exit 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
# milliseconds per frame: the extra N frames' time over N
per_frame () {
  local t1 t2
  t1=$(run "$1" "$n") && t2=$(run "$1" $((2 * n))) || exit 1
  echo "($t2 - $t1) * 1000 / $n" | bc -l
}
base=$(per_frame "")
heed=$(per_frame "heedoverlay !")
labels=$(per_frame "heedoverlay heatmap-mode=none !")
text=$(per_frame "textoverlay text=\"ball 97%\" shaded-background=true font-desc=\"Sans 24\" !")
printf '%s %sx%s, %s frames: no overlay %.2f ms/frame\n' "$format" "$w" "$h" "$n" "$base"
printf '  heedoverlay (heatmap + labels): %.2f ms/frame\n' "$(echo "$heed - $base" | bc -l)"
printf '  heedoverlay heatmap-mode=none:  %.2f ms/frame\n' "$(echo "$labels - $base" | bc -l)"
printf '  textoverlay (one label):        %.2f ms/frame\n' "$(echo "$text - $base" | bc -l)"
