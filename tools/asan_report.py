#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reads the AddressSanitizer logs tools/check_asan.sh leaves (one file a process, named
log.PROGRAM.PID) and fails on:
  - any memory error (AddressSanitizer) in any process;
  - any leak in heed's own programs (the tests, the heed tool) with a frame of heed's code in
    its stack;
  - any other leak in them that ALLOWED below does not describe, each with why.
Leaks in programs heed does not make (gst-launch-1.0, python3, ffmpeg) are counted, not
judged: they do not free their state at exit by design, and the plugin they load runs,
checked, in the C tests too.
    tools/asan_report.py LOG_DIR"""
import collections
import os
import re
import sys

HEED_PROGRAMS = re.compile(r"^(test-[a-z0-9-]+|heed|heed-summary)$")
# a frame in heed's code: a source file of the tree, the plugin, a test program or the tool
HEED_FRAME = re.compile(r" \.\./(engine|elements|tools|tests)/|/libgstheed\.so|/tests/test-[a-z0-9-]+\+"
                        r"|/tools/heed\+")
LEAK = re.compile(r"^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\)")
SANITIZER_FRAME = re.compile(r"libsanitizer|/libasan\.so")

# Leaks with no frame of heed's in their stack that are known not to be heed's. The sanitizer's
# fast unwinder (the full one deadlocks under lavapipe's threads) stops in libraries built
# without frame pointers, so each rule is as narrow as the stacks allow.
ALLOWED = [
    ("GLib's first quark block (2,048 pointers, allocated by GLib's constructor). GLib drops "
     "it, unfreed, when the quark table grows, since readers take no lock; valgrind's stack "
     "for it ends in call_init (docs/reliability.md).",
     lambda size, count, libs: libs == ["libglib-2.0.so.0"] and size == 16384 and count == 1),
    ("Mesa's ralloc in lavapipe: empty ralloc contexts (one 48-byte header each, no parent; "
     "the allocator at libvulkan_lvp.so+0x6fe50 mallocs 0x30 bytes and links the header under "
     "the parent) that lavapipe makes while it compiles a pipeline and does not free.",
     lambda size, count, libs: libs[:1] == ["libvulkan_lvp.so"] and size == 48 * count),
]


def library(frame):
    m = re.search(r"\(([^()+]+)\+0x[0-9a-f]+\)\s*$", frame)
    return os.path.basename(m.group(1)) if m else "?"


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        sys.exit("usage: asan_report.py LOG_DIR")
    log_dir = sys.argv[1]
    processes = collections.Counter()
    allowed = collections.Counter()
    foreign_leaks = collections.Counter()
    failures = []
    for name in sorted(os.listdir(log_dir)):
        m = re.match(r"^log\.(.+)\.(\d+)$", name)
        if not m:
            continue
        program = m.group(1)
        processes[program] += 1
        with open(os.path.join(log_dir, name), errors="replace") as f:
            lines = f.read().splitlines()
        ours = bool(HEED_PROGRAMS.match(program))
        for i, line in enumerate(lines):
            if "ERROR: AddressSanitizer" in line:
                failures.append(f"{name}: {line.strip()}\n" + "\n".join(lines[i + 1:i + 25]))
            leak = LEAK.match(line)
            if not leak:
                continue
            if not ours:
                foreign_leaks[program] += int(leak.group(3))
                continue
            stack = []
            for frame in lines[i + 1:]:
                if not frame.strip():
                    break
                if not SANITIZER_FRAME.search(frame):
                    stack.append(frame)
            size, count = int(leak.group(2)), int(leak.group(3))
            libs = [library(f) for f in stack]
            rule = None
            if not any(HEED_FRAME.search(f) for f in stack):
                rule = next((why for why, match in ALLOWED if match(size, count, libs)), None)
            if rule:
                allowed[rule] += count
            else:
                failures.append(f"{name}: {line.strip()}\n" + "\n".join(stack))
    print(f"processes that logged: {sum(processes.values())} "
          f"({', '.join(f'{p} {n}' for p, n in sorted(processes.items()))})")
    for rule, n in allowed.items():
        print(f"allowed, {n} object(s): {rule}")
    for program, n in sorted(foreign_leaks.items()):
        print(f"not judged: {n} object(s) {program} left at exit")
    for f in failures:
        print(f"\nFAIL {f}")
    print(f"\n{len(failures)} finding(s): memory errors anywhere, or leaks in heed's programs")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
