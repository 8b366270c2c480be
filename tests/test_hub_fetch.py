#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Models by name against a local stand-in for the Hugging Face hub (tests/hub_server.py,
named by HEED_HUB_ENDPOINT; these machines cannot reach the hub): fetched into the cache with
the config files, resumed after an interruption, checked against the published SHA-256, used
offline afterwards (also as timm, huggingface_hub and a browser write the name: hf-hub:,
hf://, https://huggingface.co/OWNER/NAME), listed by `heed models`, a progress bar on a terminal only, and a one-line
error for a bad name, a missing network, a missing revision, a corrupted transfer, a
repository without weights heed reads and a sharded checkpoint whose index names a shard the
repository lacks. A repository with only pytorch_model.bin, and one with its weights sharded
over two files (transformers' model.safetensors.index.json), are fetched and classified as
their single safetensors twin; an OpenCLIP repository brings open_clip_config.json with its
weights, and one with transformers' weights beside OpenCLIP's brings transformers'. Of a
vision-language model's shards, only those with more than its language model's tensors are
fetched. Prints TAP."""
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.environ["HEED_TOOLS_DIR"])
from hub_server import HubServer  # noqa: E402
from heed_torch import load_safetensors, save_safetensors, synthetic_photo  # noqa: E402
from terminal import stderr_on_terminal  # noqa: E402
from tap import check, plan

heed = os.environ["HEED_TOOL"]
fixtures = os.environ["HEED_FIXTURES"]


def read(fixture, *names):
    return {n: open(os.path.join(fixtures, fixture, n), "rb").read() for n in names}


def torch_checkpoint(fixture):
    """The fixture's weights as torch.save writes a state dict"""
    sd, _ = load_safetensors(os.path.join(fixtures, fixture, "model.safetensors"),
                             keep_dtype=True)
    buf = io.BytesIO()
    torch.save(sd, buf)
    return buf.getvalue()


def sharded(fixture, tmp, n=2, part_of=None):
    """The fixture's model.safetensors as transformers shards it: n files of whole tensors (in
    order, or the shard part_of(name) gives) and model.safetensors.index.json mapping each
    tensor to its file"""
    sd, meta = load_safetensors(os.path.join(fixtures, fixture, "model.safetensors"))
    names, files, weight_map = list(sd), {}, {}
    for i in range(n):
        shard = f"model-{i + 1:05d}-of-{n:05d}.safetensors"
        part = ([k for k in names if part_of(k) == i] if part_of else
                names[i * len(names) // n:(i + 1) * len(names) // n])
        path = os.path.join(tmp, shard)
        save_safetensors(path, {k: sd[k] for k in part}, "F32", meta)
        files[shard] = open(path, "rb").read()
        weight_map.update({k: shard for k in part})
    index = {"metadata": {"total_size": sum(t.numel() * 4 for t in sd.values())},
             "weight_map": weight_map}
    files["model.safetensors.index.json"] = json.dumps(index, indent=2).encode()
    return files


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(args, env, **kw):
    t = time.monotonic()
    r = subprocess.run([heed] + args, env=env, capture_output=True, text=True, timeout=120, **kw)
    r.seconds = time.monotonic() - t
    return r


def one_line_error(r, needle):
    err = r.stderr.strip()
    return r.returncode != 0 and "\n" not in err and needle in err, err


def main():
    tmp = tempfile.mkdtemp(prefix="heed-hub-")
    cache = os.path.join(tmp, "cache")
    image = os.path.join(tmp, "photo.png")
    synthetic_photo(320, 240, seed=7).save(image)
    env = dict(os.environ, HEED_HUB_CACHE=cache)
    for k in ("HEED_HUB_OFFLINE", "HF_HUB_OFFLINE", "HF_TOKEN"):
        env.pop(k, None)
    timm_files = read("hub_timm_vit", "model.safetensors", "config.json")
    hf_files = read("hub_hf_vit", "model.safetensors", "config.json", "preprocessor_config.json")
    local = run(["classify", "--model", os.path.join(fixtures, "hub_timm_vit",
                                                     "model.safetensors"), image], env)
    local_hf = run(["classify", "--model", os.path.join(fixtures, "hub_hf_vit",
                                                        "model.safetensors"), image], env)

    with HubServer() as hub:
        commit = hub.add("test/vit", timm_files)
        hub.add("test/hfvit", hf_files)
        hub.add("test/corrupt", read("hub_hf_vit", "model.safetensors", "config.json"))
        hub.add("test/bin-only", dict(read("hub_hf_vit", "config.json",
                                           "preprocessor_config.json"),
                                      **{"pytorch_model.bin": torch_checkpoint("hub_hf_vit")}))
        hf_configs = read("hub_hf_vit", "config.json", "preprocessor_config.json")
        shards = sharded("hub_hf_vit", tmp)
        hub.add("test/sharded", dict(hf_configs, **shards))
        hub.add("test/shard-missing", dict(hf_configs, **{
            k: v for k, v in shards.items() if k != "model-00002-of-00002.safetensors"}))
        hub.add("test/no-weights", {"config.json": b"{}"})
        # a vision-language model: its tower in the first shard with the projector and the
        # start of the language model, two more shards of the language model alone
        vlm_configs = read("hf_paligemma_f32", "config.json", "preprocessor_config.json")
        vlm_shards = sharded("hf_paligemma_f32", tmp, 3, lambda name: (
            1 if name.startswith("language_model.model.layers.") else
            2 if name == "language_model.model.norm.weight" else 0))
        hub.add("test/vlm", dict(vlm_configs, **vlm_shards))
        lm_index = {"weight_map": {"language_model.model.norm.weight":
                                   "model-00001-of-00001.safetensors"}}
        hub.add("test/lm-only", dict(vlm_configs, **{
            "model.safetensors.index.json": json.dumps(lm_index).encode(),
            "model-00001-of-00001.safetensors": vlm_shards["model-00003-of-00003.safetensors"]}))
        # OpenCLIP's repositories: its weights (both kinds) beside open_clip_config.json and a
        # tokenizer; and a repository with transformers' weights beside OpenCLIP's (laion's)
        open_clip = read("open_clip_f32", "open_clip_model.safetensors", "open_clip_config.json")
        hub.add("test/openclip", dict(open_clip, **{
            "open_clip_pytorch_model.bin": b"not read: the safetensors come first",
            "tokenizer.json": b"{}"}))
        hub.add("test/hfvit-and-openclip", dict(hf_files, **open_clip))
        env["HEED_HUB_ENDPOINT"] = hub.endpoint

        # names that could climb out of the cache never reach the network
        for bad in ("hf:../etc", "hf:a/b/c", "hf:owner", "hf:a/..", "hf:a/b@../x", "hf:a--b/c"):
            r = run(["classify", "--model", bad, image], env)
            ok, err = one_line_error(r, "is not a hub model name")
            check(f"refuses {bad}", ok and not hub.requests, err)

        # fetched, with an interruption in the weights: resumed where it stopped
        hub.cut_after = 300000
        r = run(["classify", "--model", "hf:test/vit", image], env)
        ranges = [rng for path, rng in hub.requests if path.startswith("/cdn/")]
        check("fetches and classifies hf:test/vit as the local file does",
              r.returncode == 0 and r.stdout.replace("hf:test/vit", "") == local.stdout,
              r.stderr.strip())
        check("resumes the interrupted download with a Range request",
              ranges == [None, "bytes=300000-"], f"CDN requests' Range headers: {ranges}")
        snapshot = os.path.join(cache, "test--vit", "snapshots", commit)
        check("the cache holds the weights, config.json and the ref; nothing partial",
              sorted(os.listdir(snapshot)) == [".complete", "config.json", "model.safetensors"]
              and open(os.path.join(cache, "test--vit", "refs", "main")).read().strip() == commit
              and os.listdir(os.path.join(cache, "test--vit", "partial")) == [],
              str(sorted(os.listdir(snapshot))))
        check("no progress bar when stderr is not a terminal", "\r" not in r.stderr,
              repr(r.stderr[:80]))

        # transformers' layout: preprocessor_config.json comes too, and is used
        r = run(["classify", "-v", "--model", "hf:test/hfvit", image], env)
        check("fetches transformers' three files and prepares frames as they say",
              r.returncode == 0 and "from preprocessor_config.json" in r.stderr
              and os.path.exists(os.path.join(cache, "test--hfvit", "snapshots",
                                              hub.repos["test/hfvit"].commit,
                                              "preprocessor_config.json")), r.stderr.strip())

        # a corrupted transfer is refused and leaves nothing a later run could take
        hub.corrupt = True
        r = run(["classify", "--model", "hf:test/corrupt", image], env)
        hub.corrupt = False
        ok, err = one_line_error(r, "does not match the hub's SHA-256")
        corrupt_dir = os.path.join(cache, "test--corrupt")
        leftovers = [f for d, _, fs in os.walk(corrupt_dir) for f in fs
                     if f.endswith((".safetensors", ".part"))]
        check("a corrupted download is refused", ok and not leftovers
              and not os.path.exists(os.path.join(corrupt_dir, "refs")), f"{err}; {leftovers}")

        r = run(["classify", "--model", "hf:test/vit@nosuchbranch", image], env)
        ok, err = one_line_error(r, "has no model hf:test/vit at revision nosuchbranch")
        check("a missing revision is a one-line error", ok, err)
        r = run(["classify", "--model", "hf:test/no-weights", image], env)
        ok, err = one_line_error(r, "has no model.safetensors, pytorch_model.bin, sharded")
        check("a repository without weights is a one-line error", ok, err)
        r = run(["classify", "--model", "hf:test/sharded", image], env)
        sharded_snapshot = os.path.join(cache, "test--sharded", "snapshots",
                                        hub.repos["test/sharded"].commit)
        check("a sharded checkpoint: its index and both shards fetched, and classified as the "
              "single file", r.returncode == 0
              and r.stdout.replace("hf:test/sharded", "") == local_hf.stdout
              and sorted(os.listdir(sharded_snapshot)) == [
                  ".complete", "config.json", "model-00001-of-00002.safetensors",
                  "model-00002-of-00002.safetensors", "model.safetensors.index.json",
                  "preprocessor_config.json"], r.stderr.strip() or r.stdout)
        local_vlm = run(["classify", "--model", os.path.join(fixtures, "hf_paligemma_f32"),
                         image], env)
        hub.requests.clear()
        r = run(["classify", "-v", "--model", "hf:test/vlm", image], env)
        vlm_snapshot = os.path.join(cache, "test--vlm", "snapshots", hub.repos["test/vlm"].commit)
        fetched = sorted({os.path.basename(path) for path, _ in hub.requests
                          if "model-0000" in path})
        check("a vision-language model: only the shard with its tower fetched, of 3, and "
              "classified as the single file", r.returncode == 0 and local_vlm.returncode == 0
              and r.stdout.replace("hf:test/vlm", "") == local_vlm.stdout.replace(
                  os.path.join(fixtures, "hf_paligemma_f32"), "")
              and fetched == ["model-00001-of-00003.safetensors"]
              and sorted(os.listdir(vlm_snapshot)) == [
                  ".complete", "config.json", "model-00001-of-00003.safetensors",
                  "model.safetensors.index.json", "preprocessor_config.json"]
              and "2 shards of what is beside the tower not there" in r.stderr,
              f"{r.stderr.strip()}; fetched {fetched}")
        hub.requests.clear()
        r = run(["classify", "--model", "hf:test/lm-only", image], env)
        ok, err = one_line_error(r, "model.safetensors.index.json names hold only a language "
                                 "model, text tower or projector (no image tower): none fetched")
        check("a repository of a language model's shards alone: none fetched, a one-line error, "
              "nothing cached", ok and not [p for p, _ in hub.requests if "model-0000" in p]
              and not os.path.exists(os.path.join(cache, "test--lm-only", "refs")), err)
        r = run(["classify", "--model", "hf:test/shard-missing", image], env)
        ok, err = one_line_error(r, "names the shard model-00002-of-00002.safetensors, which the "
                                 "repository does not have")
        check("an index naming a shard the repository lacks is a one-line error", ok
              and not os.path.exists(os.path.join(cache, "test--shard-missing", "refs")), err)
        r = run(["classify", "--model", "hf:test/bin-only", image], env)
        bin_snapshot = os.path.join(cache, "test--bin-only", "snapshots",
                                    hub.repos["test/bin-only"].commit)
        check("a repository with only pytorch_model.bin: fetched, and classified as its "
              "safetensors twin", r.returncode == 0
              and r.stdout.replace("hf:test/bin-only", "") == local_hf.stdout
              and sorted(os.listdir(bin_snapshot)) == [".complete", "config.json",
                                                       "preprocessor_config.json",
                                                       "pytorch_model.bin"],
              r.stderr.strip() or r.stdout)

        r = run(["classify", "--model", "hf:test/openclip", image], env)
        local_oc = run(["classify", "--model", os.path.join(fixtures, "open_clip_f32"), image], env)
        oc_snapshot = os.path.join(cache, "test--openclip", "snapshots",
                                   hub.repos["test/openclip"].commit)
        check("an OpenCLIP repository: open_clip_model.safetensors and open_clip_config.json "
              "fetched, and classified as the local folder", r.returncode == 0
              and local_oc.returncode == 0
              and r.stdout.replace("hf:test/openclip", "") == local_oc.stdout.replace(
                  os.path.join(fixtures, "open_clip_f32"), "")
              and sorted(os.listdir(oc_snapshot)) == [".complete", "open_clip_config.json",
                                                      "open_clip_model.safetensors"],
              r.stderr.strip() or r.stdout)
        r = run(["classify", "--model", "hf:test/hfvit-and-openclip", image], env)
        both_snapshot = os.path.join(cache, "test--hfvit-and-openclip", "snapshots",
                                     hub.repos["test/hfvit-and-openclip"].commit)
        check("transformers' weights beside OpenCLIP's: model.safetensors and its configs only",
              r.returncode == 0
              and r.stdout.replace("hf:test/hfvit-and-openclip", "") == local_hf.stdout
              and sorted(os.listdir(both_snapshot)) == [".complete", "config.json",
                                                        "model.safetensors",
                                                        "preprocessor_config.json"],
              r.stderr.strip() or r.stdout)

        # two fetches of one repository at once (two elements, two processes): one waits
        both_env = dict(env, HEED_HUB_CACHE=os.path.join(tmp, "cache-both"))
        procs = [subprocess.Popen([heed, "classify", "--model", "hf:test/hfvit", image],
                                  env=both_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
        check("two fetches of one model at once both succeed",
              all(p.returncode == 0 for p in procs) and outs[0][0] == outs[1][0],
              " / ".join(o[1].strip() for o in outs))

        # a progress bar on a terminal
        status, text = stderr_on_terminal(
            [heed, "run-tensor", "--model", "hf:test/hfvit@main", "--input",
             os.path.join(fixtures, "hub_hf_vit", "input.f32")],
            env=dict(env, HEED_HUB_CACHE=os.path.join(tmp, "cache2")))
        check("a progress bar on a terminal", status == 0 and "\r" in text
              and "model.safetensors" in text and "100.0%" in text, repr(text[-160:]))

    # the server is gone: what is cached still works, by branch and by commit
    env["HEED_HUB_ENDPOINT"] = f"http://127.0.0.1:{free_port()}"
    r = run(["classify", "--model", "hf:test/vit", image], env)
    check("classifies from the cache without a network",
          r.returncode == 0 and r.stdout.replace("hf:test/vit", "") == local.stdout,
          r.stderr.strip())
    r = run(["classify", "--model", f"hf:test/vit@{commit}", image], env)
    check("and by commit", r.returncode == 0, r.stderr.strip())
    # the same model as timm (hf-hub:), huggingface_hub (hf://) and a browser write it: the same
    # cached weights; another page of the site is no model
    for alias in ("hf-hub:test/vit", "hf://test/vit", "https://huggingface.co/test/vit",
                  "https://huggingface.co/test/vit/", f"https://huggingface.co/test/vit/tree/{commit}",
                  "https://huggingface.co/test/vit/blob/main/model.safetensors",
                  "https://hf.co/test/vit?library=timm"):
        r = run(["classify", "--model", alias, image], env)
        check(f"{alias}: hf:test/vit, from the cache",
              r.returncode == 0 and r.stdout.replace(alias, "") == local.stdout, r.stderr.strip())
    # OWNER/NAME alone, as transformers and timm take it, is a path to heed: where there is no
    # such file, the error says how to name the hub's model; a plain missing file gets no hint
    r = run(["classify", "--model", "test/vit", image], env)
    ok, err = one_line_error(r, "a Hugging Face hub model is named hf:test/vit")
    check("test/vit, no such file: the error names hf:test/vit", ok, err)
    r = run(["classify", "--model", "missing.safetensors", image], env)
    ok, err = one_line_error(r, "No such file")
    check("a missing file: no hub hint", ok and "hf:" not in err, err)
    for page in ("https://huggingface.co/test/vit/discussions", "https://huggingface.co/test"):
        r = run(["classify", "--model", page, image], env)
        ok, err = one_line_error(r, "is not a hub model name")
        check(f"{page}: refused as no model", ok, err)
    r = run(["classify", "--model", "hf:test/other", image], env)
    ok, err = one_line_error(r, "cannot reach")
    check("a model not cached, without a network: a one-line error at once",
          ok and "not in the cache" in err and r.seconds < 20, f"{err} ({r.seconds:.1f} s)")
    r = run(["classify", "--model", "hf:test/other", image], dict(env, HEED_HUB_OFFLINE="1"))
    ok, err = one_line_error(r, "HEED_HUB_OFFLINE")
    check("HEED_HUB_OFFLINE=1 uses only the cache", ok, err)

    r = run(["models"], env)
    lines = r.stdout.splitlines()
    check("heed models lists what is cached",
          r.returncode == 0 and [line.split("@")[0] for line in lines] == [
              "hf:test/bin-only", "hf:test/hfvit", "hf:test/hfvit-and-openclip",
              "hf:test/openclip", "hf:test/sharded", "hf:test/vit", "hf:test/vlm"]
          and lines[5].startswith(f"hf:test/vit@main  {commit[:12]}  2.5 MB"), r.stdout)

    # the element takes the same names
    gst = shutil.which("gst-launch-1.0")
    r = subprocess.run([gst, "-q", "videotestsrc", "num-buffers=2", "!", "heedclassify",
                        "model=hf:test/vit", "!", "fakesink"], env=env, capture_output=True,
                       text=True, timeout=120)
    check("heedclassify model=hf:test/vit runs from the cache", r.returncode == 0,
          r.stderr.strip()[-300:])
    shutil.rmtree(tmp)
    return plan()


if __name__ == "__main__":
    sys.exit(main())
