#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs, from Debian 12's own packages, everything heed needs to build, run and benchmark;
# with --tests, also what only the tests use (Chromium, to open the keyframe report headless;
# libheif's heif-enc and heif-convert, to make and read HEIC pictures; GStreamer's RTSP server, to
# serve a stream to heed annotate).
#   bash tools/install-deps.sh [--tests]
set -euo pipefail
extra=()
for arg in "$@"; do
  case $arg in
    --tests) extra+=(chromium libheif-examples gir1.2-gst-rtsp-server-1.0) ;;
    *) echo "usage: $0 [--tests]" >&2; exit 2 ;;
  esac
done
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends \
  ca-certificates gcc libc6-dev meson ninja-build pkg-config libcurl4-openssl-dev \
  glslc spirv-tools \
  libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers \
  libglib2.0-dev libjson-glib-dev \
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev \
  libxkbcommon-dev libxkbcommon-x11-dev \
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x \
  python3 python3-torch python3-numpy libopenblas0-pthread python3-gi python3-gst-1.0 \
  python3-pil python3-torchvision python3-jsonschema \
  gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 \
  libpango1.0-dev libcairo2-dev libfontconfig-dev libgdk-pixbuf-2.0-dev webp-pixbuf-loader heif-gdk-pixbuf \
  shared-mime-info glib-networking \
  fonts-dejavu-core fonts-noto-cjk \
  zlib1g-dev ffmpeg valgrind clang-format bc "${extra[@]}"
