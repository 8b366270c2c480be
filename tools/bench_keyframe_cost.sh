#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What heedkeyframe and heedclassify (the default model) each add to a frame, side by side in
# one run: `videotestsrc pattern=ball ! FORMAT WIDTHxHEIGHT ! ELEMENT ! fakesink`, timed inside
# the process at the sink from frame 60 to frame 60 + N (start-up and the first frames excluded:
# the difference of two whole runs' wall times, as before, carried the start-up's swing of a
# tenth of a second, a third of a millisecond a frame at N=300), the median of 5 rounds that
# take the three in turn (this machine's neighbours make single runs noisy); identity is the
# pipeline without heed, subtracted.
#   tools/bench_keyframe_cost.sh [WIDTH HEIGHT [N [FORMAT...]]]      (640 480 300 BGRA I420)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/plugin/libgstheed.so ] &&
  export GST_PLUGIN_PATH="$PWD/build/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
w=${1:-640} h=${2:-480} n=${3:-300}
shift $(( $# < 3 ? $# : 3 ))
formats=${*:-BGRA I420}
case "$w$h$n" in *[!0-9]*) echo "usage: $0 [WIDTH HEIGHT [N [FORMAT...]]]" >&2; exit 2 ;; esac
exec /usr/bin/python3 - "$w" "$h" "$n" $formats <<'EOF'
import statistics, sys, time
import gi
gi.require_version('Gst', '1.0')
from gi.repository import GLib, Gst

Gst.init(None)
w, h, n = (int(a) for a in sys.argv[1:4])
formats = sys.argv[4:]
SKIP = 60  # frames before the timing starts: the kernels' compilation, the first submissions

def per_frame(element, fmt):
    """ms a frame at the sink, frames SKIP to SKIP + n of one run"""
    try:
        pipeline = Gst.parse_launch(
            'videotestsrc num-buffers=%d pattern=ball ! video/x-raw,format=%s,width=%d,height=%d,'
            'framerate=30/1 ! %s ! fakesink name=sink sync=false signal-handoffs=true'
            % (SKIP + n + 1, fmt, w, h, element))
    except GLib.Error as e:  # a format or size videotestsrc cannot make
        sys.exit('bench_keyframe_cost.sh: %s %dx%d: %s' % (fmt, w, h, e.message))
    stamps = []
    pipeline.get_by_name('sink').connect(
        'handoff', lambda sink, buf, pad: stamps.append(time.perf_counter()))
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        600 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if not msg or msg.type != Gst.MessageType.EOS or len(stamps) < SKIP + n + 1:
        sys.exit('%s: the pipeline failed (%s)' % (element, msg.parse_error()[0].message
                                                  if msg and msg.type == Gst.MessageType.ERROR
                                                  else '%d frames' % len(stamps)))
    return (stamps[SKIP + n] - stamps[SKIP]) * 1000 / n

for fmt in formats:
    # the three in turn, 5 rounds, each figure the median of its rounds: a busy spell of this
    # machine's neighbours then slows all three alike, and one spell cannot decide a figure
    times = {e: [] for e in ('identity', 'heedkeyframe', 'heedclassify')}
    for _ in range(5):
        for e in times:
            times[e].append(per_frame(e, fmt))
    base, kf, cl = (statistics.median(times[e]) for e in times)
    print('%s %dx%d: identity %.2f ms; heedkeyframe adds %.2f ms, heedclassify adds %.2f ms: '
          '%.1f%%' % (fmt, w, h, base, kf - base, cl - base, 100 * (kf - base) / (cl - base)),
          flush=True)
EOF
