#!/usr/bin/env python
"""Writes constraints.txt: the exact versions of semjax's whole dependency closure (every extra)
as installed in the running environment. Run it after the suite passes:

    python .ci/freeze_constraints.py > constraints.txt
"""

from __future__ import annotations

import re
import sys
from importlib import metadata

from packaging.markers import default_environment
from packaging.requirements import Requirement


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(root: str, extras: tuple[str, ...]) -> dict[str, str]:
    seen: dict[str, str] = {}
    todo = [(root, extras)]
    while todo:
        name, wanted = todo.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is not None and not any(
                    req.marker.evaluate(default_environment() | {"extra": e}) for e in ("", *wanted)):
                continue
            key = _canon(req.name)
            if key in seen:
                continue
            try:
                seen[key] = metadata.version(req.name)
            except metadata.PackageNotFoundError:
                continue
            todo.append((req.name, tuple(req.extras)))
    return seen


def main() -> int:
    pins = closure("semjax", ("dev", "codecs", "adapters", "docs"))
    print("# The versions the test suite last passed with (Python "
          f"{sys.version_info.major}.{sys.version_info.minor}); CI installs with them:")
    print('#   pip install -e ".[dev,codecs,adapters,docs]" -c constraints.txt')
    print("# Regenerate after a passing run: python .ci/freeze_constraints.py > constraints.txt")
    for name in sorted(pins):
        print(f"{name}=={pins[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
