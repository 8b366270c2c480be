# SPDX-License-Identifier: LGPL-2.1-or-later
"""`heed run-tensor` on a parity fixture's input, for the tests that load one model in several
forms (tests/test_torch_checkpoints.py, tests/test_sharded.py)."""
import os
import subprocess

heed = os.environ["HEED_TOOL"]
fixtures = os.environ["HEED_FIXTURES"]
OUTPUTS = {"logits": "logits.f32", "cls-attention": "cls_attention.f32",
           "embedding": "embedding.f32"}


def run_tensor(model, fixture, out_dir):
    """The outputs' bytes (those the fixture has), or None and the error."""
    os.makedirs(out_dir, exist_ok=True)
    args = [heed, "run-tensor", "--model", model, "--input",
            os.path.join(fixtures, fixture, "input.f32")]
    kinds = [k for k, f in OUTPUTS.items() if os.path.exists(os.path.join(fixtures, fixture, f))]
    for k in kinds:
        args += [f"--{k}", os.path.join(out_dir, k)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        return None, r.stderr.strip()
    return {k: open(os.path.join(out_dir, k), "rb").read() for k in kinds}, ""


def refused(model, needle, fixture="hf_vit_f32"):
    """(ok, what was seen): heed run-tensor on the fixture's input fails with one line that
    contains needle."""
    r = subprocess.run([heed, "run-tensor", "--model", model, "--input",
                        os.path.join(fixtures, fixture, "input.f32")],
                       capture_output=True, text=True, timeout=120)
    lines = r.stderr.strip().splitlines()
    return (r.returncode != 0 and len(lines) == 1 and needle in lines[0],
            f"exit {r.returncode}: {r.stderr.strip()}")
