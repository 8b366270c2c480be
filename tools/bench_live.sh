#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A live source never falls behind (issue 13): `videotestsrc is-live=true` at 30 fps, 640x480,
# `heedclassify` with a DeiT-Tiny-sized model too slow for every frame on lavapipe,
# `heedkeyframe ! heedoverlay`, into a sink that syncs in the same thread and drops frames more
# than 20 ms late. Prints what the sink rendered and dropped and how late frames came against
# their running time plus the pipeline's latency (tests/test_live.py, longer: N frames).
#   tools/bench_live.sh [N [MODEL [queue]]]      (300, tests/fixtures/deit_tiny_f16)
# `queue` puts a queue before the sink, as a live display usually has: the sink then waits for
# the clock in its own thread.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-300}
model=${2:-tests/fixtures/deit_tiny_f16/model.safetensors}
[ -f "$model" ] || { echo "bench_live.sh: no model file at $model" >&2; exit 1; }
case $n in ''|*[!0-9]*|0) echo "bench_live.sh: N must be a number of frames, not '$n'" >&2; exit 1;; esac
queue=${3:-}
case $queue in ''|queue) ;; *) echo "bench_live.sh: the third argument is 'queue' or nothing, not '$queue'" >&2; exit 1;; esac
[ -f build/plugin/libgstheed.so ] && export GST_PLUGIN_PATH="$PWD/build/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
/usr/bin/python3 tests/test_live.py "$model" "$n" $queue
