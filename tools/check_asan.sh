#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# heed's C tests (engine, CLI, elements and pipelines) in an AddressSanitizer build, with
# LeakSanitizer checking every process at exit: any memory error in any process fails, and so
# does any leak in heed's own programs (the tests and the heed tool) that tools/asan_report.py
# does not describe. tools/asan_report.py reads the logs and says what was found.
#   tools/check_asan.sh [TEST ...]      (meson test names; all the C tests by default)
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-asan
if [ ! -d "$build" ]; then
  # gcc's runtime, preloaded below; frame pointers in heed's code, so that the fast unwinder
  # (the slow one deadlocks in libgcc's unwinder under lavapipe's threads) finds heed's frames
  CC=gcc meson setup "$build" --buildtype=debugoptimized -Db_sanitize=address \
    -Db_lundef=false -Dc_args=-fno-omit-frame-pointer
fi
ninja -C "$build"
cc -shared -fPIC -O2 -o "$build/asan-keep-loaded.so" tests/asan-keep-loaded.c
logs="$PWD/$build/asan-logs"
rm -rf "$logs" && mkdir -p "$logs"
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(ops compositor threads model-loader faults device cli classify
                                 overlay pipeline leaks)
# a name meson does not know would run nothing and pass
known=$(meson test -C "$build" --list 2>/dev/null | sed 's|.* / ||')
for t in "${tests[@]}"; do
  grep -qxF "$t" <<< "$known" || { echo "check_asan.sh: no test named '$t'" \
    "(meson test -C $build --list)" >&2; exit 2; }
done
# The runtime goes first into every process, gst-launch-1.0 and the plugin scanner included
# (they load the instrumented plugin); each process logs to its own file, named after its
# program. The validation layer is off (test-device's own instance follows HEED_VALIDATION too):
# it is a test tool of its own (the suite runs it on every test), and its leaks at exit are not
# heed's.
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $PWD/$build/asan-keep-loaded.so"
# exitcode=0: a leak does not fail the process (asan_report.py judges them), a memory error
# still aborts it. intercept_tls_get_addr=0: gcc 12's runtime takes a dynamic TLS block whose
# start lands 16 bytes past a page boundary for glibc 2.19's layout and reads a bogus range
# before it, and LeakSanitizer's tracer then dies of a segfault at exit ("Tracer caught signal
# 11", seen in test-overlay and test-pipeline; google/sanitizers#1322). Without the interceptor
# dynamic TLS is not scanned for pointers: that can only add leaks to the report, never hide one.
export ASAN_OPTIONS="detect_leaks=1:log_path=$logs/log:log_exe_name=1:malloc_context_size=30:exitcode=0:abort_on_error=1:intercept_tls_get_addr=0"
# heed bench's PyTorch side (test-cli) runs in a Python without the runtime: PyTorch is not
# built for it, and it is not heed's code
printf '#!/bin/sh\nexec env -u LD_PRELOAD /usr/bin/python3 "$@"\n' > "$build/python-without-asan"
chmod +x "$build/python-without-asan"
export HEED_PYTHON="$PWD/$build/python-without-asan"
status=0
meson test -C "$build" --no-rebuild --print-errorlogs --wrapper 'env HEED_VALIDATION=0' \
  "${tests[@]}" || status=$?
unset LD_PRELOAD
/usr/bin/python3 tools/asan_report.py "$logs" || status=$?
exit $status
