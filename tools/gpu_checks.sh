#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# heed's checks and benchmarks on a GPU machine without Debian's packages, from the bundle
# tools/portable_bundle.sh makes: the op tests against the C reference, the compositor against its
# reference and the committed checkpoints against PyTorch's outputs, all with the Khronos
# validation layer (synchronisation included); then `heed bench` at batch 1 and batch 64 beside
# PyTorch on CUDA (and on the CPU at batch 1), with fp16 weights too, Swin-T and BEiT-Base at
# batch 64, and bench-compositor at 1080p.
# With an AddressSanitizer build in the bundle, the element pipelines run under it first.
# Each step has its own time limit and writes OUT/NAME.log; the last line of each says how it
# ended. Run from the source tree's root:
#
#   bash tools/gpu_checks.sh heed-bundle.tar.xz OUT_DIR [STEPS]
#
# STEPS, a bash regular expression, keeps only the steps whose names match (the device listing
# always runs), e.g. 'test-|b1-cuda|b64-cuda'.
set -u
bundle=$1
out=$2
only=${3:-}
root=$PWD
b=/tmp/heed-bundle
mkdir -p "$b" "$out"
tar -C "$b" -xJf "$bundle" || exit 1

export LD_LIBRARY_PATH=$b/lib:/usr/local/nvidia/lib64:/usr/local/nvidia/lib
icd=${HEED_GPU_ICD:-}
[ -n "$icd" ] || icd=$(ls /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd*.json /usr/share/vulkan/icd.d/nvidia_icd*.json \
  /etc/vulkan/icd.d/nvidia_icd*.json 2>/dev/null | head -1)
if [ -z "$icd" ]; then # the driver's library is there without its manifest: write one
  icd=$b/nvidia_icd.json
  echo '{"file_format_version":"1.0.0","ICD":{"library_path":"libGLX_nvidia.so.0","api_version":"1.3.0"}}' >"$icd"
fi
export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
[ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
export VK_LAYER_PATH=$b/layers
export GST_PLUGIN_SYSTEM_PATH_1_0=$b/gst GST_PLUGIN_PATH_1_0= GST_REGISTRY_1_0=/tmp/heed-registry.bin
export GST_REGISTRY_FORK=no
export FONTCONFIG_FILE=$b/fonts/fonts.conf
export HEED_TOOLS_DIR=$root/tools HEED_FIXTURES=$root/tests/fixtures HEED_TOOL=$b/bin/heed
export HEED_PYTHON=$b/bin/python-clean
# the cooperative-matrix GEMM (fp16-matmul on tensor cores), opt-in until a GPU has checked it
export HEED_COOPMAT=1
heed=$b/bin/heed

# step NAME LIMIT_S COMMAND...: runs it into OUT/NAME.log, and says how it ended
step() {
  local name=$1 limit=$2
  shift 2
  [[ -z "$only" || "$name" =~ $only ]] || return 0
  local t0=$SECONDS
  timeout -k 5 "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  echo "== $name: rc $rc after $((SECONDS - t0)) s" | tee -a "$out/$name.log"
}

{
  date -u
  cat /etc/os-release 2>/dev/null | head -2
  ldd --version | head -1
  grep -m1 "model name" /proc/cpuinfo
  grep -o -w 'avx2\|avx512f\|avx512bw\|avx512vl\|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' '
  echo
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,memory.total --format=csv
  echo "ICD: $icd"
  ldd "$heed" "$b"/gst/libgstheed.so | grep "not found"
  "$b"/bin/python-clean -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name())'
} >"$out/info.log" 2>&1
only= step devices 30 "$heed" devices
if ! grep -q "heed uses device" "$out/devices.log"; then
  # the loader's own account of why no driver loaded, then nothing else can run
  VK_LOADER_DEBUG=error,warn,driver "$heed" devices >"$out/loader.log" 2>&1
  tail -20 "$out/loader.log"
  exit 1
fi

# correctness first, with the validation layer: any message from it fails the test
export HEED_VALIDATION=sync
step test-ops 90 "$b"/bin/test-ops --tap
step test-threads 90 "$b"/bin/test-threads --tap
step parity 90 "$b"/bin/test-cli --tap -p /cli/parity
step test-compositor 45 "$b"/bin/test-compositor --tap
unset HEED_VALIDATION

# with an AddressSanitizer build in the bundle: the element pipelines under it (the GPU's own
# timing and memory types), its report in OUT/asan.*
if [ -x "$b"/bin/heed-asan ]; then
  GST_PLUGIN_SYSTEM_PATH_1_0=$b/gst-asan GST_REGISTRY_1_0=/tmp/heed-registry-asan.bin \
    ASAN_OPTIONS=detect_leaks=0:protect_shadow_gap=0:log_path=$out/asan \
    step pipelines-asan 120 "$b"/bin/heed-asan bench --shape deit-tiny --runs 2 --warmup 1 \
    --no-torch --pipeline-frames 150
fi

step bench-b1-cuda 120 "$heed" bench --shape deit-tiny --runs 50 --warmup 5 --torch-device cuda \
  --dispatches --pipeline-frames 300
step bench-b8-cuda 60 "$heed" bench --shape deit-tiny --runs 20 --warmup 3 --batch 8 \
  --torch-device cuda --pipeline-frames 0
step bench-b64-cuda 100 "$heed" bench --shape deit-tiny --runs 20 --warmup 3 --batch 64 \
  --torch-device cuda --pipeline-frames 0
# Swin-T (random weights in its shape): every window of a block in one dispatch, at batch 64
step bench-swin-b64-cuda 120 bash -c '"$0" "$1"/tools/random_swin.py /tmp/swin-tiny swin-tiny &&
  "$2" bench --model /tmp/swin-tiny/model.safetensors --runs 10 --warmup 2 --batch 64 \
  --torch-device cuda --pipeline-frames 0' "$b"/bin/python-clean "$root" "$heed"
# BEiT-Base's shape: every frame's attention with its relative position bias in one dispatch a
# block, at batch 64
step bench-beit-b64-cuda 120 bash -c '"$0" "$1"/tools/random_beit.py /tmp/beit-base &&
  "$2" bench --model /tmp/beit-base/beit_base/model.safetensors --runs 10 --warmup 2 --batch 64 \
  --torch-device cuda --pipeline-frames 0' "$b"/bin/python-clean "$root" "$heed"
step bench-b1-fp16 45 "$heed" bench --shape deit-tiny --runs 50 --warmup 5 --weights fp16 \
  --torch-device cuda --pipeline-frames 0
step bench-b64-fp16 45 "$heed" bench --shape deit-tiny --runs 20 --warmup 3 --batch 64 \
  --weights fp16 --torch-device cuda --pipeline-frames 0
# fp16-matmul: tensor cores (cooperative matrices; test-ops above checked the kernel) beside
# PyTorch's autocast float16, then the same rounding without them (HEED_COOPMAT=0), and every
# checkpoint against PyTorch in that mode
step bench-b1-fp16mm 45 "$heed" bench --shape deit-tiny --runs 50 --warmup 5 --weights fp16-matmul \
  --torch-device cuda --dispatches --pipeline-frames 0
step bench-b64-fp16mm 60 "$heed" bench --shape deit-tiny --runs 20 --warmup 3 --batch 64 \
  --weights fp16-matmul --torch-device cuda --pipeline-frames 0
HEED_COOPMAT=0 step bench-b64-fp16mm-nocoopmat 45 "$heed" bench --shape deit-tiny --runs 20 \
  --warmup 3 --batch 64 --weights fp16-matmul --no-torch --pipeline-frames 0
HEED_WEIGHT_MODES=fp16-matmul step weights-fp16mm 120 "$b"/bin/python-clean \
  "$root"/tests/test_weights_fp16.py
step bench-b1-cpu 60 "$heed" bench --shape deit-tiny --runs 20 --warmup 3 --pipeline-frames 0
step compositor-bgrx 20 "$b"/bin/bench-compositor 1920 1080 200 bgrx
step compositor-i420 20 "$b"/bin/bench-compositor 1920 1080 200 i420
nvidia-smi --query-gpu=clocks.sm,temperature.gpu,power.draw --format=csv >>"$out/info.log" 2>&1
