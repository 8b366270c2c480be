# SPDX-License-Identifier: LGPL-2.1-or-later
"""For tests of what a command shows on a terminal."""
import os
import pty
import subprocess


def stderr_on_terminal(argv, env=None, timeout=120):
    """Runs argv with its stderr on a pseudo-terminal; (exit status, what it wrote there)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        shown += chunk
    p.wait(timeout=timeout)
    os.close(master)
    return p.returncode, shown.decode(errors="replace")
