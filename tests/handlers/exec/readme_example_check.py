#!/usr/bin/env python3
"""The Python program shown in handlers/exec/README.md is examples/campaign.py as it is (the
tested one): exits 1 naming the first differing line otherwise.

Usage: readme_example_check.py README.md campaign.py
"""
import sys

readme = open(sys.argv[1], encoding="utf-8").read()
program = open(sys.argv[2], encoding="utf-8").read()
start = readme.rfind("```python\n")
end = readme.find("```\n", start + 10)
shown = readme[start + len("```python\n"):end] if start >= 0 and end > start else ""
if shown != program:
    a, b = shown.splitlines(), program.splitlines()
    for i, (x, y) in enumerate(zip(a + [""] * len(b), b + [""] * len(a))):
        if x != y:
            print("README line %d of the example differs from campaign.py:\n  README: %r\n  file:   %r"
                  % (i + 1, x, y))
            break
    sys.exit(1)
print("README example matches %s" % sys.argv[2])
