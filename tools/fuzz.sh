#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fuzzes what heed reads from untrusted files with libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer (clang): the safetensors loader (model), config.json and
# preprocessor_config.json (json), labels files (labels), a PNG's or WebP's EXIF orientation
# (orientation), whether a still picture is cut short and a GIF's completed copy (still-damage).
# Builds build-fuzz/ once, then runs each target RUNS times (1,000,000) from
# fuzz/corpus/TARGET, new inputs kept in build-fuzz/corpus/TARGET (the repository's seeds stay
# as they are). Any crash, leak or undefined behaviour stops the run with the input that caused
# it (build-fuzz/crash-*).
#   tools/fuzz.sh [RUNS [TARGET...]]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000000}
shift $(( $# > 0 ? 1 : 0 ))
targets=${*:-model json labels orientation still-damage}
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang meson setup build-fuzz -Dfuzzing=true -Dtests=false -Db_sanitize=address,undefined \
    -Db_lundef=false -Dc_args='-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined'
fi
ninja -C build-fuzz $(for t in $targets; do printf 'fuzz/fuzz-%s ' "$t"; done)
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# a smaller quarantine of freed memory than ASan's 256 MB: the leak check after an input scans
# it, and with the default the runs went 3 times slower (measured on the model target)
export ASAN_OPTIONS=quarantine_size_mb=16
export HEED_FUZZ_MODEL="$PWD/fuzz/corpus/model/vit.safetensors"
for t in $targets; do
  mkdir -p "build-fuzz/corpus/$t"
  start=$(date +%s)
  (cd build-fuzz && "./fuzz/fuzz-$t" -runs="$runs" -max_len=65536 -detect_leaks=1 \
    -print_final_stats=1 "corpus/$t" "../fuzz/corpus/$t" 2>&1 | tail -12)
  echo "$t: $runs runs in $(( $(date +%s) - start )) s, no crash, leak or undefined behaviour"
done
