#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Packs a build of heed for a machine that has a Vulkan driver but none of Debian's packages
# (the GPU machine whose figures docs/benchmarks.md gives): the heed tool, the plugin, the engine's
# test programs and bench-compositor, with every shared library they load (the C library's own
# and the C++ runtime excepted, which that machine has, newer), the Vulkan loader, the Khronos
# validation layer, GStreamer's core, videotestsrc and videoconvertscale plugins, and a font for
# heedoverlay's labels. tools/gpu_checks.sh unpacks it there and runs the checks.
#
#   tools/portable_bundle.sh [BUILD_DIR] [OUT.tar.xz] [ASAN_BUILD_DIR]
#
# (defaults: build, heed-bundle.tar.xz, none). With an AddressSanitizer build (tools/check_asan.sh
# makes build-asan) its heed tool and plugin come too, as bin/heed-asan and gst-asan/, with gcc's
# runtime: for a memory error that only a GPU shows.
set -euo pipefail
build=${1:-build}
out=${2:-heed-bundle.tar.xz}
asan_build=${3:-}
libdir=/usr/lib/x86_64-linux-gnu
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,lib,gst,layers,fonts}

cp "$build"/tools/heed "$build"/tools/bench-compositor "$stage"/bin/
for t in test-ops test-compositor test-cli test-threads; do cp "$build/tests/$t" "$stage"/bin/; done
cp "$build"/plugin/libgstheed.so "$stage"/gst/
for p in coreelements videotestsrc videoconvertscale; do
  cp "$libdir/gstreamer-1.0/libgst$p.so" "$stage"/gst/
done
if [ -n "$asan_build" ]; then
  mkdir -p "$stage"/gst-asan
  cp "$asan_build"/tools/heed "$stage"/bin/heed-asan
  cp "$asan_build"/plugin/libgstheed.so "$stage"/gst-asan/
  cp "$stage"/gst/libgst{coreelements,videotestsrc,videoconvertscale}.so "$stage"/gst-asan/
fi
cp "$libdir"/libVkLayer_khronos_validation.so "$stage"/layers/
# the layer's manifest names its library by file name: point it at the copy beside it
sed 's|"library_path": *"[^"]*"|"library_path": "./libVkLayer_khronos_validation.so"|' \
  /usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json \
  >"$stage"/layers/VkLayer_khronos_validation.json
# the Vulkan loader is Debian's own; NVIDIA's driver, headless, goes through glvnd's libraries
for l in libvulkan.so.1 libGLdispatch.so.0 libGLX.so.0 libGL.so.1 libEGL.so.1 libOpenGL.so.0 \
  libGLESv2.so.2; do
  cp -L "$libdir/$l" "$stage"/lib/
done

# every library the programs and plugins load, but the C library's and the C++ runtime
ldd "$stage"/bin/* "$stage"/gst*/*.so "$stage"/layers/*.so "$stage"/lib/*.so* 2>/dev/null |
  awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u |
  grep -Ev '/(libc|libm|libdl|libpthread|librt|libresolv|ld-linux-x86-64|libstdc\+\+|libgcc_s)\.so' |
  while read -r lib; do cp -Ln "$lib" "$stage"/lib/; done

cp -L /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf \
  "$stage"/fonts/ 2>/dev/null || true
cat >"$stage"/fonts/fonts.conf <<'EOF'
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <dir prefix="relative">.</dir>
  <cachedir>/tmp/heed-fontconfig</cachedir>
</fontconfig>
EOF
# PyTorch's Python must not see the bundle's libraries (its own are newer)
cat >"$stage"/bin/python-clean <<'EOF'
#!/bin/sh
unset LD_LIBRARY_PATH
exec python3 "$@"
EOF
chmod +x "$stage"/bin/python-clean

tar -C "$stage" -cJf "$out" .
echo "$out: $(du -h "$out" | cut -f1), $(ls "$stage"/lib | wc -l) libraries"
