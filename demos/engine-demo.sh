#!/usr/bin/env bash
# heed's main job today (the engine; the GStreamer elements come next): install from Debian's
# packages, build, list the Vulkan devices, run a DeiT-Tiny-shaped ViT through `heed run-tensor`
# and check it against the logits and attention PyTorch computed for the same checkpoint, then
# benchmark the forward pass beside PyTorch.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
[ -f build/build.ninja ] || meson setup build
ninja -C build

./build/tools/heed devices

fixture=tests/fixtures/deit_tiny_f16
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
./build/tools/heed run-tensor --model "$fixture/model.safetensors" --input "$fixture/input.f32" \
  --logits "$out/logits.f32" --cls-attention "$out/attention.f32"
/usr/bin/python3 - "$fixture" "$out" <<'PY'
import sys
import numpy as np
fixture, out = sys.argv[1:]
logits = np.fromfile(f"{out}/logits.f32", "<f4")
attn = np.fromfile(f"{out}/attention.f32", "<f4")
ref_logits = np.fromfile(f"{fixture}/logits.f32", "<f4")
ref_attn = np.fromfile(f"{fixture}/cls_attention.f32", "<f4")
top = np.argsort(-logits)[:5]
grid = int(round(len(attn) ** 0.5))
peak = int(np.argmax(attn))
print("top-5 classes (heed):   ", top.tolist())
print("top-5 classes (PyTorch):", np.argsort(-ref_logits)[:5].tolist())
print(f"max |logit difference|: {np.abs(logits - ref_logits).max():.2e} "
      f"(limit {1e-3 * max(1, np.abs(ref_logits).max()):.1e})")
print(f"max |attention difference|: {np.abs(attn - ref_attn).max():.2e} (limit 1e-4)")
print(f"attention peak: patch ({peak % grid}, {peak // grid}) of {grid}x{grid}")
PY

./build/tools/heed bench --shape deit-tiny --runs 10
