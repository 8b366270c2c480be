#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""fp16 weights (`heed run-tensor --weights fp16`, then `--weights fp16-matmul`) against PyTorch
on every committed parity fixture. heed then stores the matrix multiplies' weights (patch embedding, qkv, proj, fc1, fc2,
heads) as IEEE halves and computes in float32, so the reference is the fixture's own model with
those weights rounded to half (tools/make_parity_fixtures.py rebuilds it from its seed; the test
first checks that it rebuilt the committed input). Limits as in /cli/parity: logits and the CLS
embedding within 1e-3 x max(1, max |value|), the CLS attention within 1e-4.

Two more checks that the mode took effect and rounds as it should:
- for a float32 checkpoint, heed's result is at least ten times closer to the rounded reference
  than to the float32 one (the rounding moves results by ~1e-4, heed's float32 error is ~1e-6);
- for an F16 checkpoint, rounding changes no weight, and for F16 and BF16 ones the result
  matches the float32 reference too (BF16 values fit in half but for the tiniest).
fp16-matmul rounds those multiplies' other operand (the activations) to half as well, summing
in float32 (tensor cores, where the device has cooperative matrices): its reference is the
rounded model with every such module's input rounded to half too, within twice the limits. Twice,
because rounding is not continuous: where heed's float32 activation and PyTorch's (1e-7 apart)
straddle the midpoint between two halves they round half a step apart, and those steps add up
over the layers to as much as rounding the activations moves the result (EVA-02 CLIP's
attention: 1.02e-4). Where the model amplifies such steps further (Swin V2's cosine attention at
scales up to 100, then a norm after it), the reference itself is only known to within them: the
same rounded reference run in float64 moves by as much (swinv2_f32's attention: 1.95e-4), so
the limit is also at least twice that distance, measured for each case in the run. That the
kernels round as they should is /ops/gemm-half-rounding's check, to the bit.

HEED_WEIGHT_MODES (default "fp16 fp16-matmul") chooses the modes. It also prints how far each
mode moves each result from float32's. Prints TAP."""
import copy
import os
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.environ["HEED_TOOLS_DIR"])
from make_parity_fixtures import CASES, build_as_run  # noqa: E402

heed = os.environ["HEED_TOOL"]
fixtures = os.environ["HEED_FIXTURES"]


def outputs(model, x, case):
    """As make_parity_fixtures.py writes them."""
    with torch.no_grad():
        emb = model.forward_features(x)[0].clone()
        logits = model(x)[0].clone()
        return {"logits": logits if case["classes"] else None,
                "cls-attention": model.cls_attention().clone(), "embedding": emb}


def round_gemm_weights(model):
    """Rounds the weights heed stores in half; returns how many values changed. heed folds a
    LayerScale into the rows of the layer before it (engine/model.c), so there it is gamma W
    that is rounded, and attention pooling's query projection into a bias it keeps in float32,
    so that is not."""
    changed = 0
    scales = {}
    for blk in getattr(model, "blocks", []):  # Swin's blocks have no LayerScale
        if hasattr(getattr(blk, "ls1", None), "gamma"):
            scales[blk.attn.proj] = blk.ls1.gamma.detach()[:, None]
            scales[blk.mlp.fc2] = blk.ls2.gamma.detach()[:, None]
    with torch.no_grad():
        for name, m in model.named_modules():
            # attention pooling's query projection: heed folds it into a float32 bias at load;
            # Swin V2's position MLP makes its bias table at load, in float32
            if name == "attn_pool.q" or "cpb_mlp" in name:
                continue
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                g = scales.get(m, 1.0)
                stored = g * m.weight
                rounded = stored.half().float()
                changed += (rounded != stored).sum().item()
                m.weight.copy_(rounded / g)
    return changed


def round_gemm_inputs(model, dtype=torch.float32):
    """The fp16-matmul reference: every module whose weights heed stores in half (those
    round_gemm_weights rounds) takes its input rounded to half (and back to the model's dtype)."""
    def to_half(module, inputs):
        return (inputs[0].half().to(dtype),) + tuple(inputs[1:])
    for name, m in model.named_modules():
        if name != "attn_pool.q" and "cpb_mlp" not in name and \
                isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
            m.register_forward_pre_hook(to_half)


def limit(kind, want, scale=1.0):
    return scale * (1e-4 if kind == "cls-attention" else 1e-3 * max(1.0, want.abs().max().item()))


modes = os.environ.get("HEED_WEIGHT_MODES", "fp16 fp16-matmul").split()
print(f"1..{len(CASES) * len(modes)}")
failed = 0
n = 0


def run_heed(mode, d, kinds, tmp):
    args = [heed, "run-tensor", "--weights", mode, "--model",
            d, "--input", os.path.join(d, "input.f32")]
    for k in kinds:
        args += [f"--{k}", os.path.join(tmp, k)]
    r = subprocess.run(args, capture_output=True, text=True)
    return r.stderr.strip() if r.returncode or r.stderr else None


with tempfile.TemporaryDirectory() as tmp:
    for case in CASES:
        name, d = case["name"], os.path.join(fixtures, case["name"])
        model, x, _ = build_as_run(case)
        committed = torch.from_file(os.path.join(d, "input.f32"), size=x.numel(),
                                    dtype=torch.float32)
        if not torch.equal(committed, x.flatten()):
            for mode in modes:
                n += 1
                print(f"not ok {n} {name} {mode}: the rebuilt input differs from the committed one")
                failed += 1
            continue
        want32 = outputs(model, x, case)
        changed = round_gemm_weights(model)
        want16 = outputs(model, x, case)
        kinds = [k for k in want16 if want16[k] is not None]
        if "fp16-matmul" in modes:
            model64 = copy.deepcopy(model).double()
            round_gemm_inputs(model)
            want16mm = outputs(model, x, case)
            # how far float32's rounding noise alone moves the rounded reference: the same
            # reference in float64
            round_gemm_inputs(model64, torch.float64)
            want16mm64 = outputs(model64, x.double(), case)
            spread = {k: (want16mm[k].double() - want16mm64[k]).abs().max().item()
                      for k in want16mm if want16mm[k] is not None}
        for mode in modes:
            n += 1
            problems = []
            err = run_heed(mode, d, kinds, tmp)
            if err:
                print(f"not ok {n} {name} {mode}: heed failed: {err}")
                failed += 1
                continue
            for k in kinds:
                got = torch.from_file(os.path.join(tmp, k), size=want16[k].numel(),
                                      dtype=torch.float32)
                d16 = (got - want16[k]).abs().max().item()
                d32 = (got - want32[k]).abs().max().item()
                if mode == "fp16-matmul":
                    dmm = (got - want16mm[k]).abs().max().item()
                    moved = (want16mm[k] - want16[k]).abs().max().item()
                    allowed = max(limit(k, want16mm[k], 2), 2 * spread[k])
                    print(f"# {name} {mode} {k}: max |diff| {dmm:.3g} against the rounded "
                          f"reference (limit {allowed:.3g}; in float64 it moves by "
                          f"{spread[k]:.3g}); rounding the activations moved it by {moved:.3g}, "
                          f"from float32 {d32:.3g}")
                    if dmm > allowed:
                        problems.append(f"{k} off by {dmm:.3g}")
                    continue
                moved = (want16[k] - want32[k]).abs().max().item()
                print(f"# {name} {mode} {k}: max |diff| {d16:.3g} against the rounded reference "
                      f"(limit {limit(k, want16[k]):.3g}); fp16 weights moved it by {moved:.3g}")
                if d16 > limit(k, want16[k]):
                    problems.append(f"{k} off by {d16:.3g}")
                if case["dtype"] == "F32" and not (changed and 10 * d16 <= d32):
                    problems.append(f"{k} no closer to the rounded reference ({d16:.3g}) than to "
                                    f"the float32 one ({d32:.3g}): were the weights rounded?")
                # F16 weights are halves already; BF16 ones are too, but for values below half's
                # normal range (they lose bits there, within the limits)
                if case["dtype"] != "F32" and ((case["dtype"] == "F16" and changed)
                                               or d32 > limit(k, want32[k])):
                    problems.append(f"{case['dtype']} weights changed by rounding to half "
                                    f"({changed})")
            failed += bool(problems)
            print(f"{'not ok' if problems else 'ok'} {n} {name} {mode} ({case['dtype']}, "
                  f"{changed} weights rounded){': ' + '; '.join(problems) if problems else ''}")
sys.exit(1 if failed else 0)
