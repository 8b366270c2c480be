# SPDX-License-Identifier: LGPL-2.1-or-later
"""TAP output for the Python tests: check() prints one numbered line per check as it runs (so a
test that hangs shows how far it got), plan() prints the plan last and gives the exit status."""
import sys

results = []


def check(name, ok, detail=""):
    """One check; detail (any text, folded onto one line) says what was seen."""
    ok = bool(ok)
    results.append(ok)
    detail = " | ".join(str(detail).splitlines())  # one TAP line, however long the output
    print(f"{'ok' if ok else 'not ok'} {len(results)} {name}{': ' + detail if detail else ''}")
    sys.stdout.flush()


def plan():
    """Prints the plan; the exit status: 0 when every check passed (and there was one)."""
    print(f"1..{len(results)}")
    return 0 if results and all(results) else 1
