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
time build/tests/test-leaks "${1:-1000}" full
