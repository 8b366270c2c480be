#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The leaks test at length: the full chain (heedclassify, heedkeyframe with sound, heedoverlay)
# through NULL -> PLAYING -> NULL, GStreamer's leaks tracer following every GstObject and
# GstMiniObject over N cycles (1,000), after the test's own warm-up and memory windows
# (tests/test-leaks.c; the suite runs heedclassify and heedoverlay alone with N = 200).
#   tools/bench_leaks.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
export GST_PLUGIN_PATH_1_0="$PWD/build/plugin" GST_REGISTRY_1_0="$PWD/build/tests/registry.bin"
export GST_TRACERS=leaks MALLOC_ARENA_MAX=1 HEED_FIXTURES="$PWD/tests/fixtures"
n=${1:-1000}
case $n in ''|*[!0-9]*|0) echo "bench_leaks.sh: N must be a number of cycles, not '$n'" >&2; exit 1;; esac
[ -x build/tests/test-leaks ] || { echo "bench_leaks.sh: build the project first (ninja -C build)" >&2; exit 1; }
time build/tests/test-leaks "$n" full
