#!/usr/bin/env python3
"""Sums test results from meson test logs into one closing line.

Each Check test program prints "NN%: Checks: N, Failures: F, Errors: E";
those are counted test by test. A test program without such a line (a
corpus replay) counts as one test. Programs that exit 77 are skipped.
Prints "N passed, N failed, N skipped" and exits 1 when anything failed.
"""
import json
import re
import sys

CHECK = re.compile(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)")

passed = failed = skipped = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            t = json.loads(line)
            result = t.get("result", "")
            out = (t.get("stdout") or "") + (t.get("stderr") or "")
            m = CHECK.findall(out)
            if result == "SKIP":
                skipped += 1
                continue
            if m:
                for total, fails, errors in m:
                    bad = int(fails) + int(errors)
                    passed += int(total) - bad
                    failed += bad
                if result not in ("OK", "EXPECTEDFAIL") and not any(int(a) + int(b) for _, a, b in m):
                    failed += 1  # crashed or timed out after its summary
            elif result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            else:
                failed += 1

print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
