#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# heed's main job today: install from Debian's packages, build, then make a sample clip
# (shots, transitions, sound) and annotate it with `heed annotate` and the embedded default
# model (heedclassify ! heedkeyframe ! heedoverlay: attention heatmap, labels and the keyframe
# timeline drawn in, H.264 + AAC in MP4, with its JSON lines, its keyframe report and a PNG of
# one frame), classify video in real GStreamer pipelines (system memory, and Vulkan memory on
# GStreamer's shared device), classify an image with `heed classify`, check the engine against PyTorch, and benchmark it.
#
# The sample clip and its ground truth, the annotated video (annotated.mp4), its JSON lines
# (annotated.jsonl), the keyframe report (report/index.html) and the PNG are left in
# ANNOTATED_DIR (default: ./annotated).
#
# With no MODEL the pipelines use the embedded default model, which recognises videotestsrc's
# patterns; MODEL=path/to/checkpoint.safetensors runs another (see README: a timm ImageNet ViT
# from the Hugging Face hub).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
[ -f build/build.ninja ] || meson setup build
ninja -C build
export GST_PLUGIN_PATH="$PWD/build/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
model_prop=${MODEL:+model=$MODEL}
model_opt=${MODEL:+--model $MODEL}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

./build/tools/heed devices

annotated=${ANNOTATED_DIR:-annotated}
echo "== heed annotate: a sample clip made here (lavfi shots joined by cuts, dissolves and fades,"
echo "   with beeps and noise bursts; H.264 + AAC), annotated (demos/annotate-sample.sh):"
bash demos/annotate-sample.sh "$annotated" $model_opt
sample="$annotated/sample.mp4"

echo "== heedclassify (default model) on videotestsrc pattern=ball, one message per frame:"
gst-launch-1.0 -m videotestsrc num-buffers=3 pattern=ball ! video/x-raw,width=640,height=480 \
  ! heedclassify $model_prop top-k=3 ! fakesink | grep 'heedclassify,' | cut -c1-400

echo "== the same through Vulkan memory on GStreamer's shared device:"
gst-launch-1.0 -m videotestsrc num-buffers=3 pattern=ball ! video/x-raw,width=640,height=480 \
  ! vulkanupload ! 'video/x-raw(memory:VulkanImage)' ! heedclassify $model_prop top-k=3 \
  ! vulkandownload ! fakesink | grep 'heedclassify,' | cut -c1-400

echo "== an encoded file through decodebin, every 5th frame inferred:"
gst-launch-1.0 -q videotestsrc num-buffers=30 pattern=ball ! video/x-raw,width=320,height=240 \
  ! avenc_mpeg4 ! mp4mux ! filesink location="$out/clip.mp4"
gst-launch-1.0 -m filesrc location="$out/clip.mp4" ! decodebin ! videoconvert \
  ! heedclassify $model_prop inference-interval=5 ! fakesink \
  | grep -c 'heedclassify,' | xargs echo "frames classified:"

echo "== heed classify on an image:"
gst-launch-1.0 -q videotestsrc num-buffers=1 pattern=ball ! video/x-raw,width=300,height=200 \
  ! pngenc ! filesink location="$out/ball.png"
./build/tools/heed classify $model_opt --top-k 3 "$out/ball.png"

echo "== heedkeyframe alone on the sample clip, and the truth written beside it:"
gst-launch-1.0 -m filesrc location="$sample" ! decodebin name=d \
  d. ! queue ! videoconvert ! heedkeyframe name=k ! fakesink \
  d. ! queue ! k.audio_sink \
  | grep -o 'heedkeyframe,.*frame=(guint64)[0-9]*.*cause=(string)[a-z-]*' \
  | sed 's/.*frame=(guint64)\([0-9]*\).*cause=(string)\([a-z-]*\)/  keyframe at frame \1 (\2)/'
/usr/bin/python3 -c "import json, sys; t = json.load(open(sys.argv[1])); \
print('  the truth: cuts', t['cuts'], 'transitions', [x[:2] for x in t['transitions']], \
'sounds', t['audio_events'])" "$annotated/sample.json"

echo "== the engine against PyTorch, and its speed:"
fixture=tests/fixtures/deit_tiny_f16
./build/tools/heed run-tensor --model "$fixture/model.safetensors" --input "$fixture/input.f32" \
  --logits "$out/logits.f32" --cls-attention "$out/attention.f32"
/usr/bin/python3 - "$fixture" "$out" <<'PY'
import sys
import numpy as np
fixture, out = sys.argv[1:]
logits = np.fromfile(f"{out}/logits.f32", "<f4")
ref = np.fromfile(f"{fixture}/logits.f32", "<f4")
attn = np.fromfile(f"{out}/attention.f32", "<f4")
ref_attn = np.fromfile(f"{fixture}/cls_attention.f32", "<f4")
print("top-5 (heed):   ", np.argsort(-logits)[:5].tolist())
print("top-5 (PyTorch):", np.argsort(-ref)[:5].tolist())
print(f"max |logit difference| {np.abs(logits - ref).max():.2e}, "
      f"max |attention difference| {np.abs(attn - ref_attn).max():.2e}")
PY
./build/tools/heed bench --shape deit-tiny --runs 10 --pipeline-frames 0
echo "== the element pipelines' frames per second and per-frame latency (the model's rows first):"
./build/tools/heed bench --model "${MODEL:-models/default.safetensors}" --runs 10 --no-torch
