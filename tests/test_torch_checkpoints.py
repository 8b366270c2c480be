#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyTorch checkpoints (pytorch_model.bin, *.pth) as torch.save writes them, read by heed's own
zip and pickle reader (engine/torch_file.c).

Every committed parity fixture is saved again with torch.save, each in one of the forms real
checkpoints come in (round robin): a plain state dict; pickle protocol 4; nn.Parameter values;
transposed, channels-last and sliced views sharing storages; a training checkpoint with the
weights under "model" beside an optimizer and an argparse.Namespace; a tensor with Python
attributes and the state dict's _metadata; a wrapped model's names (DistributedDataParallel's
"module.", torch.compile's "_orig_mod."); a Lightning checkpoint (state_dict, every name under
"model."); timm's train.py checkpoint (state_dict beside the model's name as "arch", which
stands for config.json's architecture: the fixture's goes there instead); every float tensor
in double. `heed run-tensor` on each must give the same bytes as on the safetensors file, and
so must the weights in a safetensors file of F64 tensors, and the right copy where a training
checkpoint holds two: the EMA weights (timm's train.py's state_dict_ema, DeiT's model_ema, as
timm's load_checkpoint takes them) and DINO's teacher (its ViT under "backbone.", its
projection head left unread). Settings the fixture keeps in the
safetensors __metadata__ (num_heads) go into a config.json beside the checkpoint, as a
checkpoint without metadata would need. timm's "arch" alone also gives a model its heads, or
its rotary embedding (timm's hf-hub:timm/NAME.TAG form too), where no config.json does; its
class name without args ("visiontransformer") gives nothing.

The same weights in zip64's records (torch.save's archives over 4 GB) give the same bytes too.
Then what must be refused with a one-line error: torch.save's format from before PyTorch 1.6,
a pickled module instead of a state dict, an archive re-packed with compression, one cut
short, one written on a big-endian machine, a zip without a pickle, and an integer tensor
where a weight goes. A pickle that calls os.system loads (heed never calls what a pickle
names) and the command never runs. Prints TAP."""
import argparse
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections import OrderedDict

import torch

sys.path.insert(0, os.environ["HEED_TOOLS_DIR"])
from heed_torch import load_safetensors  # noqa: E402
from run_tensor import refused, run_tensor  # noqa: E402
from tap import check, plan  # noqa: E402

heed = os.environ["HEED_TOOL"]
fixtures = os.environ["HEED_FIXTURES"]

def plain(sd):
    return sd


def as_parameters(sd):
    return OrderedDict((k, torch.nn.Parameter(v, requires_grad=False)) for k, v in sd.items())


def as_views(sd):
    """Matrices column-major, convolutions channels-last, vectors slices of one storage per
    dtype: tensors whose strides are not row-major, and storages shared at offsets."""
    flat = {}
    for v in sd.values():
        if v.dim() == 1:
            flat.setdefault(v.dtype, []).append(v)
    flat = {dt: torch.cat(vs) for dt, vs in flat.items()}
    offsets = {dt: 0 for dt in flat}
    out = OrderedDict()
    for k, v in sd.items():
        if v.dim() == 2:
            out[k] = v.t().contiguous().t()
        elif v.dim() == 4:
            out[k] = v.contiguous(memory_format=torch.channels_last)
        elif v.dim() == 1:
            at = offsets[v.dtype]
            out[k] = flat[v.dtype][at:at + v.numel()]
            offsets[v.dtype] = at + v.numel()
        else:
            out[k] = v
    return out


def as_double(sd):
    """Every float tensor in double (a checkpoint saved in double, or MAE's NumPy sin-cos
    position embedding kept as it came): widening is exact, so the outputs must not move."""
    return OrderedDict((k, v.double() if v.is_floating_point() else v) for k, v in sd.items())


def ddp(sd):
    return OrderedDict((f"module.{k}", v) for k, v in sd.items())


def compiled(sd):
    return OrderedDict((f"_orig_mod.{k}", v) for k, v in sd.items())


def lightning(sd):
    return {"state_dict": OrderedDict((f"model.{k}", v) for k, v in sd.items()), "epoch": 2,
            "global_step": 40, "pytorch-lightning_version": "2.1.0",
            "hyper_parameters": {"lr": 1e-3}}


def timm_train(sd, arch=None):
    """As timm's train.py (CheckpointSaver) saves: the model's name as arch (its class name
    where there are no args), the state dict, the optimizer, the args."""
    return {"epoch": 3, "arch": arch or "visiontransformer", "state_dict": sd,
            "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0]}]},
            "version": 2, "args": argparse.Namespace(model=arch, lr=0.1), "metric": 81.5}


def training_checkpoint(sd):
    first = next(iter(sd.values()))
    return {"model": sd, "epoch": 3, "args": argparse.Namespace(lr=0.1, model="vit"),
            "optimizer": {"state": {0: {"step": torch.tensor(5.0),
                                        "exp_avg": torch.zeros_like(first)}},
                          "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0]}]}}


def with_attributes(sd):
    out = OrderedDict(sd)
    name = next(iter(out))
    t = out[name].clone()
    t.note = "a tensor with Python state pickles through _rebuild_from_type_v2"
    out[name] = t
    out._metadata = OrderedDict({"": {"version": 1}})
    return out


FORMS = [("a plain state dict", plain, 2), ("pickle protocol 4", plain, 4),
         ("nn.Parameter values", as_parameters, 2), ("views sharing storages", as_views, 2),
         ("a training checkpoint", training_checkpoint, 2),
         ("a tensor with attributes", with_attributes, 2), ("doubles", as_double, 2),
         ("a DDP model's names", ddp, 2), ("a compiled model's names", compiled, 2),
         ("a Lightning checkpoint", lightning, 2), ("timm's train.py checkpoint", timm_train, 2)]


def state_dict(fixture):
    tensors, meta = load_safetensors(os.path.join(fixtures, fixture, "model.safetensors"),
                                     keep_dtype=True)
    return OrderedDict(tensors), meta


def write_folder(folder, fixture, meta, arch_beside=True):
    """The fixture's config files, with its metadata's num_heads, as a config.json says it;
    returns config.json's architecture, which arch_beside=False leaves out of it."""
    os.makedirs(folder)
    src = os.path.join(fixtures, fixture)
    config = {}
    if os.path.exists(os.path.join(src, "config.json")):
        config = json.load(open(os.path.join(src, "config.json")))
    arch = config.get("architecture") if arch_beside else config.pop("architecture", None)
    if "num_heads" in meta:
        config["num_heads"] = int(meta["num_heads"])
    if config:
        json.dump(config, open(os.path.join(folder, "config.json"), "w"))
    if os.path.exists(os.path.join(src, "preprocessor_config.json")):
        with open(os.path.join(src, "preprocessor_config.json"), "rb") as f:
            open(os.path.join(folder, "preprocessor_config.json"), "wb").write(f.read())
    return arch


def rewrite_zip(src, dst, change=None, compression=zipfile.ZIP_STORED):
    """The archive's entries again, through change(name, bytes) -> bytes (None drops one)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            data = change(info.filename, data) if change else data
            if data is not None:
                zout.writestr(info.filename, data)


def write_zip64(src, dst):
    """The archive again in zip64's records, as torch.save writes an archive over 4 GB: every
    size and offset in the zip64 extra fields, the 32-bit ones all ones, and the zip64 end
    record that the plain one points to."""
    with zipfile.ZipFile(src) as z:
        entries = [(i.filename.encode(), z.read(i.filename)) for i in z.infolist()]
    out, central = bytearray(), bytearray()
    for name, data in entries:
        offset, crc, n = len(out), zlib.crc32(data), len(data)
        extra = struct.pack("<HHQQ", 1, 16, n, n)
        out += struct.pack("<IHHHHHIIIHH", 0x04034b50, 45, 0, 0, 0, 0, crc, 0xffffffff,
                           0xffffffff, len(name), len(extra)) + name + extra + data
        extra = struct.pack("<HHQQQ", 1, 24, n, n, offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 45, 45, 0, 0, 0, 0, crc,
                               0xffffffff, 0xffffffff, len(name), len(extra), 0, 0, 0, 0,
                               0xffffffff) + name + extra
    cd_offset, end64 = len(out), len(out) + len(central)
    out += central
    out += struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, len(entries), len(entries),
                       len(central), cd_offset)
    out += struct.pack("<IIQI", 0x07064b50, 0, end64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 0xffff, 0xffff, 0xffffffff, 0xffffffff, 0)
    open(dst, "wb").write(out)
    with zipfile.ZipFile(dst) as z:  # Python's reader agrees it is a valid archive
        assert [(i.filename.encode(), z.read(i.filename)) for i in z.infolist()] == entries


class Evil:
    """Unpickled by Python, this runs a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def main():
    tmp = tempfile.mkdtemp(prefix="heed-torch-")  # removed at the end when every check passed
    names = sorted(d for d in os.listdir(fixtures)
                   if os.path.exists(os.path.join(fixtures, d, "model.safetensors")))
    for i, fixture in enumerate(names):
        form, make, protocol = FORMS[i % len(FORMS)]
        sd, meta = state_dict(fixture)
        folder = os.path.join(tmp, fixture)
        arch = write_folder(folder, fixture, meta, arch_beside=make is not timm_train)
        path = os.path.join(folder, "pytorch_model.bin")
        torch.save(timm_train(sd, arch) if make is timm_train else make(sd), path,
                   pickle_protocol=protocol)
        want, err_want = run_tensor(os.path.join(fixtures, fixture, "model.safetensors"),
                                    fixture, os.path.join(tmp, "out", fixture, "st"))
        got, err = run_tensor(path, fixture, os.path.join(tmp, "out", fixture, "bin"))
        check(f"{fixture} as {form}: the same outputs as its safetensors file",
              want is not None and got == want,
              err_want or err or ("outputs differ" if got != want else ""))

    # timm's arch alone: dinov2_ls_f32 (96 wide, 3 heads in its metadata) with no config.json
    # runs with the 3 heads of test_vit3, and is refused without it (96 is no multiple of 64);
    # eva02_base_f32's rotary embedding is told by hf-hub:timm/eva02_base_patch14_224.TAG
    for fixture, arch, needle in (
            ("dinov2_ls_f32", "test_vit3", None),
            ("dinov2_ls_f32", None, "dim 96 is not a multiple of 64"),
            ("eva02_base_f32", "hf-hub:timm/eva02_base_patch14_224.mim_in22k", None),
            ("eva02_base_f32", None, "EVA layout")):
        sd, meta = state_dict(fixture)
        folder = os.path.join(tmp, f"arch-{fixture}-{bool(arch)}")
        os.makedirs(folder)
        config = json.load(open(os.path.join(fixtures, fixture, "config.json"))) \
            if os.path.exists(os.path.join(fixtures, fixture, "config.json")) else {}
        config.pop("architecture", None)
        if config:  # eva02_base_f32's num_heads and global_pool, without the architecture
            json.dump(config, open(os.path.join(folder, "config.json"), "w"))
        path = os.path.join(folder, "model_best.pth.tar")
        torch.save(timm_train(sd, arch), path)
        if needle:
            check(f"{fixture} from timm's train.py with no arch is refused",
                  *refused(path, needle, fixture))
            continue
        want, err_want = run_tensor(os.path.join(fixtures, fixture, "model.safetensors"),
                                    fixture, os.path.join(folder, "st"))
        got, err = run_tensor(path, fixture, os.path.join(folder, "bin"))
        check(f"{fixture} from timm's train.py, its arch {arch} standing for config.json's "
              "architecture: the same outputs as its safetensors file",
              want is not None and got == want,
              err_want or err or ("outputs differ" if got != want else ""))

    # which weights a training checkpoint holds twice: timm's load_checkpoint takes the EMA
    # weights (train.py's state_dict_ema, DeiT's model_ema) over the others; DINO's evaluation
    # takes the teacher, its ViT under the multi-crop wrapper's "backbone." beside a projection
    # head that is no classifier. Each time the other copy is moved by 0.5, so only the right
    # one gives the safetensors file's outputs.
    def moved(sd):
        return OrderedDict((k, v + 0.5 if v.is_floating_point() else v) for k, v in sd.items())

    def dino_teacher(sd):
        out = OrderedDict((f"backbone.{k}", v) for k, v in sd.items())
        dim = sd["cls_token"].shape[-1]
        out["head.mlp.0.weight"] = torch.randn(64, dim)
        out["head.mlp.0.bias"] = torch.randn(64)
        out["head.last_layer.weight_g"] = torch.ones(100, 1)
        out["head.last_layer.weight_v"] = torch.randn(100, 64)
        return out

    for fixture, what, make in (
            ("hub_timm_vit", "timm's train.py checkpoint with EMA weights: state_dict_ema",
             lambda sd: {"epoch": 3, "arch": "vit", "state_dict": moved(sd),
                         "state_dict_ema": sd, "optimizer": {}}),
            ("deit_distilled_f32", "DeiT's checkpoint with EMA weights: model_ema",
             lambda sd: {"model": moved(sd), "model_ema": sd, "epoch": 299,
                         "args": argparse.Namespace(model="deit_tiny_distilled_patch16_224")}),
            ("headless_f32", "DINO's full checkpoint: the teacher's backbone",
             lambda sd: {"student": OrderedDict((f"module.{k}", v)
                                                for k, v in moved(dino_teacher(sd)).items()),
                         "teacher": dino_teacher(sd), "epoch": 100,
                         "dino_loss": {"center": torch.zeros(1, 100)}})):
        sd, meta = state_dict(fixture)
        folder = os.path.join(tmp, f"twice-{fixture}")
        write_folder(folder, fixture, meta)
        path = os.path.join(folder, "checkpoint.pth")
        torch.save(make(sd), path)
        want, err_want = run_tensor(os.path.join(fixtures, fixture, "model.safetensors"),
                                    fixture, os.path.join(folder, "st"))
        got, err = run_tensor(path, fixture, os.path.join(folder, "bin"))
        check(f"{fixture} in {what}, the same outputs as its safetensors file",
              want is not None and got == want,
              err_want or err or ("outputs differ" if got != want else ""))

    # what is refused, each from hf_vit_f32's weights
    sd, meta = state_dict("hf_vit_f32")
    base = os.path.join(tmp, "refused")
    write_folder(base, "hf_vit_f32", meta)
    good = os.path.join(base, "good.bin")
    torch.save(sd, good)

    path = os.path.join(base, "zip64.bin")
    write_zip64(good, path)
    want, _ = run_tensor(good, "hf_vit_f32", os.path.join(base, "good-out"))
    got, err = run_tensor(path, "hf_vit_f32", os.path.join(base, "zip64-out"))
    check("the same checkpoint in zip64's records: the same outputs",
          want is not None and got == want, err or ("" if got == want else "outputs differ"))

    path = os.path.join(base, "legacy.bin")
    torch.save(sd, path, _use_new_zipfile_serialization=False)
    check("torch.save's format from before PyTorch 1.6 is refused, by name",
          *refused(path, "before PyTorch 1.6"))

    path = os.path.join(base, "module.bin")
    torch.save(torch.nn.Linear(4, 2), path)
    check("a pickled module instead of a state dict is refused, naming its class",
          *refused(path, "torch.nn.modules.linear.Linear object, not a state dict"))

    path = os.path.join(base, "deflated.bin")
    rewrite_zip(good, path, compression=zipfile.ZIP_DEFLATED)
    check("an archive re-packed with compression is refused", *refused(path, "is compressed"))

    path = os.path.join(base, "cut.bin")
    data = open(good, "rb").read()
    open(path, "wb").write(data[:len(data) // 2])
    check("an archive cut short is refused", *refused(path, "truncated"))

    path = os.path.join(base, "big-endian.bin")
    with zipfile.ZipFile(good) as z:
        prefix = next(n for n in z.namelist() if n.endswith("/data.pkl"))[:-len("data.pkl")]
    rewrite_zip(good, path)
    with zipfile.ZipFile(path, "a") as z:
        if prefix + "byteorder" in z.namelist():
            raise SystemExit("unexpected: torch.save wrote a byteorder entry; change this test")
        z.writestr(prefix + "byteorder", "big")
    check("a checkpoint written on a big-endian machine is refused", *refused(path, "big-endian"))

    path = os.path.join(base, "no-pickle.bin")
    rewrite_zip(good, path, lambda name, d: None if name.endswith("data.pkl") else d)
    check("a zip archive without data.pkl is refused", *refused(path, "without a data.pkl"))

    path = os.path.join(base, "integer.bin")
    weight = next(k for k in sd if k.endswith("query.weight"))
    torch.save(OrderedDict((k, v.long() if k == weight else v) for k, v in sd.items()), path)
    check("an integer tensor where a weight goes is refused, by name and dtype",
          *refused(path, f"tensor '{weight}' has dtype I64"))

    # safetensors' F64 (what safetensors.torch.save_file writes for double tensors): the same
    # outputs as the float32 file, as widening is exact
    path = os.path.join(base, "double.safetensors")
    header, chunks, at = {}, [], 0
    for k, v in sd.items():
        raw = v.double().numpy().astype("<f8").tobytes() if v.is_floating_point() \
            else v.numpy().tobytes()
        dtype = "F64" if v.is_floating_point() else {torch.int64: "I64"}[v.dtype]
        header[k] = {"dtype": dtype, "shape": list(v.shape), "data_offsets": [at, at + len(raw)]}
        chunks.append(raw)
        at += len(raw)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
    got, err = run_tensor(path, "hf_vit_f32", os.path.join(base, "double-out"))
    check("safetensors in F64: the same outputs as the float32 file",
          want is not None and got == want, err or ("outputs differ" if got != want else ""))

    marker = os.path.join(base, "pickle-ran-code")
    path = os.path.join(base, "evil.bin")
    torch.save(OrderedDict(sd, evil=Evil(marker)), path)
    got, err = run_tensor(path, "hf_vit_f32", os.path.join(base, "evil-out"))
    check("a pickle that calls os.system loads without running it",
          got is not None and got == want and not os.path.exists(marker),
          err or ("the command ran" if os.path.exists(marker) else ""))
    status = plan()
    if status == 0:
        shutil.rmtree(tmp)
    return status


if __name__ == "__main__":
    sys.exit(main())
