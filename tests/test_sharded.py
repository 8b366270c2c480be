#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checkpoints sharded over several files as transformers writes them (save_pretrained with a
max_shard_size): model-0000N-of-0000M.safetensors beside model.safetensors.index.json, or
pytorch_model-0000N-of-0000M.bin beside pytorch_model.bin.index.json, each index mapping every
tensor to its file. `heed run-tensor --model INDEX` must give the same bytes as the fixture's
single file: hf_clip_f32 (transformers' CLIP names, the layout of the large CLIP towers the hub
shards) in three safetensors shards, dinov2_swiglu_f32 (timm's names) in two PyTorch shards;
so must the folder that holds them, named instead of the index. A vision-language model's
shards that hold only its language model may be missing (the hub does not fetch them): the
same outputs; the shard with its tower may not.

Then what must be refused with one line that names the fault: an index naming a file outside
its folder, a shard that is not there, one cut short, a tensor in two shards, an index that
puts a tensor in the wrong shard or leaves one out, shards in two formats, a folder without
weights, an index without a weight_map and one that is not JSON. Prints TAP."""
import json
import os
import shutil
import sys
import tempfile
from collections import OrderedDict

import torch

sys.path.insert(0, os.environ["HEED_TOOLS_DIR"])
from heed_torch import load_safetensors, save_safetensors  # noqa: E402
from run_tensor import refused, run_tensor  # noqa: E402
from tap import check, plan  # noqa: E402

fixtures = os.environ["HEED_FIXTURES"]


def shard(fixture, folder, n, torch_format=False, part_of=None):
    """The fixture's tensors in n files of whole tensors (in order, or the shard part_of(name)
    gives) and the index transformers writes; returns the index's path. Its config files go
    beside them."""
    os.makedirs(folder)
    for extra in ("config.json", "preprocessor_config.json"):
        if os.path.exists(os.path.join(fixtures, fixture, extra)):
            shutil.copy(os.path.join(fixtures, fixture, extra), folder)
    sd, meta = load_safetensors(os.path.join(fixtures, fixture, "model.safetensors"))
    names, weight_map = list(sd), {}
    for i in range(n):
        part = ([k for k in names if part_of(k) == i] if part_of else
                names[i * len(names) // n:(i + 1) * len(names) // n])
        if torch_format:
            name = f"pytorch_model-{i + 1:05d}-of-{n:05d}.bin"
            torch.save(OrderedDict((k, sd[k]) for k in part), os.path.join(folder, name))
        else:
            name = f"model-{i + 1:05d}-of-{n:05d}.safetensors"
            save_safetensors(os.path.join(folder, name), {k: sd[k] for k in part}, "F32", meta)
        weight_map.update({k: name for k in part})
    index = os.path.join(folder, ("pytorch_model.bin" if torch_format else "model.safetensors")
                         + ".index.json")
    write_index(index, weight_map)
    return index


def write_index(path, weight_map):
    with open(path, "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=2)


def main():
    tmp = tempfile.mkdtemp(prefix="heed-sharded-")  # removed at the end when every check passed
    for fixture, n, torch_format in (("hf_clip_f32", 3, False), ("dinov2_swiglu_f32", 2, True)):
        index = shard(fixture, os.path.join(tmp, fixture), n, torch_format)
        want, err_want = run_tensor(os.path.join(fixtures, fixture, "model.safetensors"), fixture,
                                    os.path.join(tmp, "out", fixture, "single"))
        got, err = run_tensor(index, fixture, os.path.join(tmp, "out", fixture, "sharded"))
        check(f"{fixture} in {n} {'PyTorch' if torch_format else 'safetensors'} shards: the same "
              "outputs as its single file", want is not None and got == want,
              err_want or err or ("outputs differ" if got != want else ""))
        # the folder itself, as a clone or download of the hub's repository holds it
        got, err = run_tensor(os.path.dirname(index), fixture,
                              os.path.join(tmp, "out", fixture, "folder"))
        check(f"{fixture}'s folder named instead of its index: the same outputs",
              want is not None and got == want, err or ("outputs differ" if got != want else ""))

    # a vision-language model as transformers shards it: the tower first, with the projector and
    # the start of the language model; then shards of the language model alone, which the hub
    # does not fetch and the loader passes over where they are not there
    fixture = "hf_paligemma_f32"
    want, err_want = run_tensor(os.path.join(fixtures, fixture, "model.safetensors"), fixture,
                                os.path.join(tmp, "out", fixture, "single"))

    def vlm_part(name):
        return (1 if name.startswith("language_model.model.layers.") else
                2 if name == "language_model.model.norm.weight" else 0)

    vlm = os.path.dirname(shard(fixture, os.path.join(tmp, "vlm"), 3, part_of=vlm_part))
    got, err = run_tensor(vlm, fixture, os.path.join(tmp, "out", fixture, "all"))
    check("a vision-language model in 3 shards, 2 of them its language model's: the same outputs",
          want is not None and got == want,
          err_want or err or ("outputs differ" if got != want else ""))
    for k in (2, 3):
        os.unlink(os.path.join(vlm, f"model-0000{k}-of-00003.safetensors"))
    got, err = run_tensor(vlm, fixture, os.path.join(tmp, "out", fixture, "tower-only"))
    check("its language model's 2 shards not there: the same outputs",
          want is not None and got == want, err or ("outputs differ" if got != want else ""))
    os.unlink(os.path.join(vlm, "model-00001-of-00003.safetensors"))
    check("the shard with the tower not there is refused",
          *refused(vlm, "cannot read shard model-00001-of-00003.safetensors"))
    write_index(os.path.join(vlm, "model.safetensors.index.json"),
                {"language_model.model.norm.weight": "model-00003-of-00003.safetensors"})
    check("an index of a language model's shards alone, none there, is refused",
          *refused(vlm, "its shards hold only a language model, text tower or projector"))

    # what is refused, each from hf_clip_f32 in two shards
    def broken(name, change=None):
        """hf_clip_f32 in two shards under tmp/name; change(folder, weight_map) breaks it"""
        index = shard("hf_clip_f32", os.path.join(tmp, name), 2)
        weight_map = json.load(open(index))["weight_map"]
        if change:
            change(os.path.dirname(index), weight_map)
            write_index(index, weight_map)
        return index

    first, second = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"

    def outside(folder, wm):
        shutil.copy(os.path.join(folder, second), os.path.join(tmp, second))
        wm.update({k: f"../{second}" for k, v in wm.items() if v == second})

    check("an index naming a file outside its folder is refused",
          *refused(broken("outside", outside), f"the weight_map names '../{second}'"))

    check("a shard that is not there is refused",
          *refused(broken("missing", lambda f, wm: os.unlink(os.path.join(f, second))),
                   f"cannot read shard {second}"))

    def cut(folder, wm):
        path = os.path.join(folder, second)
        data = open(path, "rb").read()
        open(path, "wb").write(data[:len(data) // 2])

    check("a shard cut short is refused, by its name",
          *refused(broken("cut", cut), f"{second}: tensor '"))

    def twice(folder, wm):
        """the first shard's tensors saved again into the second"""
        a, meta = load_safetensors(os.path.join(folder, first))
        b, _ = load_safetensors(os.path.join(folder, second))
        b.update({next(iter(a)): next(iter(a.values()))})
        save_safetensors(os.path.join(folder, second), b, "F32", meta)

    check("a tensor in two shards is refused", *refused(broken("twice", twice),
                                                        "is in more than one shard"))

    def misplaced(folder, wm):
        wm[next(k for k, v in wm.items() if v == first)] = second

    check("an index that puts a tensor in the wrong shard is refused",
          *refused(broken("misplaced", misplaced), f"in {second}, which does not hold it"))

    def unlisted(folder, wm):
        del wm[next(k for k, v in wm.items() if v == second)]

    check("a tensor the index leaves out is refused",
          *refused(broken("unlisted", unlisted), "is not in the index's weight_map"))

    def mixed(folder, wm):
        b, _ = load_safetensors(os.path.join(folder, second))
        os.unlink(os.path.join(folder, second))
        torch.save(b, os.path.join(folder, "pytorch_model-00002-of-00002.bin"))
        wm.update({k: "pytorch_model-00002-of-00002.bin" for k, v in wm.items() if v == second})

    check("shards in two formats are refused",
          *refused(broken("mixed", mixed), "a shard in another format than the first"))

    empty = os.path.join(tmp, "empty")
    os.makedirs(empty)
    check("a folder without weights is refused",
          *refused(empty, "holds no model.safetensors, pytorch_model.bin, sharded"))

    index = broken("no-map")
    json.dump({"metadata": {}}, open(index, "w"))
    check("an index without a weight_map is refused",
          *refused(index, "not a sharded checkpoint's index"))
    open(index, "w").write("{\"weight_map\": ")
    check("an index that is not JSON is refused",
          *refused(index, "not a sharded checkpoint's index"))
    if plan() == 0:
        shutil.rmtree(tmp)
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
