#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The long run of issue 14: FRAMES (default 100,000) frames at 320x240 through heedclassify (the
# embedded default model), heedkeyframe with sound and heedoverlay in one pipeline; prints the
# resident memory every 1,000 frames and checks it grows less than 1 MiB after WARMUP (default
# 10,000) frames. About 25 minutes on a 2-core machine with lavapipe.
#   tools/bench_long_run.sh [FRAMES [WARMUP]]
set -euo pipefail
frames=${1:-100000}
warmup=${2:-10000}
case "$frames$warmup" in *[!0-9]*) echo "usage: $0 [FRAMES [WARMUP]]" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$here/build/plugin/libgstheed.so" ] || { echo "$here/build: build the tree first" >&2; exit 1; }
export GST_PLUGIN_PATH_1_0="$here/build/plugin"
export GST_REGISTRY_1_0="${GST_REGISTRY_1_0:-$here/build/tests/registry.bin}"
exec /usr/bin/python3 "$here/tests/test_long_run.py" "$frames" "$warmup"
