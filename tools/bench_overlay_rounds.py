#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""heedoverlay's cost per frame in this tree against another built tree, taking turns.

Each turn runs `videotestsrc ! heedclassify inference-interval=1000000 [! heedoverlay] !
fakesink` for N and 2N frames, with and without the overlay; the overlay's cost per frame is
the extra N frames' difference. It is given as CPU time (user + sys, which time stolen by
other tenants of the machine does not inflate) and as wall time.

    tools/bench_overlay_rounds.py BASE_TREE [ROUNDS [FORMAT [WIDTHxHEIGHT]]]
    (defaults: 4 rounds, BGRA, 640x480)
"""
import os
import resource
import statistics
import subprocess
import sys
import time

N = 150


def run(tree, frames, fmt, size, overlay):
    w, h = size.split("x")
    registry = "/tmp/heed-overlay-rounds-%d-%s.bin" % (os.getpid(), tree.replace("/", "_"))
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(tree, "build", "plugin"),
               GST_REGISTRY_1_0=registry)
    cmd = ["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=%d" % frames, "pattern=ball", "!",
           "video/x-raw,format=%s,width=%s,height=%s,framerate=30/1" % (fmt, w, h), "!",
           "heedclassify", "inference-interval=1000000", "!"]
    cmd += (["heedoverlay", "!"] if overlay else []) + ["fakesink", "sync=false"]
    r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r1, t1 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    return (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime, t1 - t0)


def per_frame(tree, fmt, size, overlay):
    a, b = run(tree, N, fmt, size, overlay), run(tree, 2 * N, fmt, size, overlay)
    return [(y - x) / N * 1000 for x, y in zip(a, b)]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    trees = {"base": os.path.abspath(sys.argv[1]), "this": here}
    rounds = sys.argv[2] if len(sys.argv) > 2 else "4"
    if not rounds.isdigit() or int(rounds) < 1:
        sys.exit("ROUNDS must be a number of rounds, not '%s'" % rounds)
    rounds = int(rounds)
    fmt = sys.argv[3] if len(sys.argv) > 3 else "BGRA"
    size = sys.argv[4] if len(sys.argv) > 4 else "640x480"
    for tree in trees.values():
        if not os.path.exists(os.path.join(tree, "build", "plugin", "libgstheed.so")):
            sys.exit("%s: build that tree first" % tree)
    costs = {name: [] for name in trees}
    for r in range(rounds):
        for name, tree in trees.items():
            with_overlay = per_frame(tree, fmt, size, True)
            without = per_frame(tree, fmt, size, False)
            cpu, wall = with_overlay[0] - without[0], with_overlay[1] - without[1]
            costs[name].append((cpu, wall))
            print("round %d %s: heedoverlay %.2f ms CPU, %.2f ms wall a frame"
                  % (r + 1, name, cpu, wall), flush=True)
    for name in trees:
        cpu, wall = (statistics.median(x) for x in zip(*costs[name]))
        print("median %s: heedoverlay %.2f ms CPU, %.2f ms wall a frame (%s %s)"
              % (name, cpu, wall, fmt, size))


if __name__ == "__main__":
    main()
