"""Code blocks of README.md and docs/*.md that claim to run, and running them.

A page marks a fenced block as one that runs by an HTML comment on the line right before the
fence (invisible on GitHub and in the built site)::

    <!-- runs -->
    ```python
    env = semjax.SemanticMEC()
    ```

Options follow a colon, separated by commas or spaces:

* ``tmpdir``: run in a fresh temporary directory instead of the repository root (for a block
  that writes files);
* ``timeout=SECONDS``: the block's time limit (default ``DEFAULT_TIMEOUT``).

``python`` blocks run in a fresh interpreter with ``import semjax`` first (it sets XLA's CPU
options, which must happen before anything starts JAX); ``bash`` blocks run under
``bash -euo pipefail``, so a failing command fails the block. Any other language, a marker
that no fence follows, or an unknown option is an error naming the page and line, so a typo
never silently skips a block. ``tests/test_docs.py`` runs every marked block;
``python docs/runnable.py`` does the same by hand (``--list`` only lists them).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TIMEOUT = 180.0
LANGUAGES = ("python", "bash")

MARKER = re.compile(r"^<!--\s*runs\s*(?::(?P<options>[^>]*?))?\s*-->\s*$")
FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
PREAMBLE = "import semjax  # first: it sets XLA's CPU options before anything starts JAX\n"


class BlockError(ValueError):
    """A marker that does not mark a runnable block as the convention describes."""


@dataclasses.dataclass(frozen=True)
class Block:
    """A marked code block: where it is, its language, its code and how to run it."""

    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    tmpdir: bool = False
    timeout: float = DEFAULT_TIMEOUT

    @property
    def label(self) -> str:
        return f"{self.path}:{self.line}"


def _options(text: str | None, where: str) -> dict:
    out: dict = {}
    for word in (text or "").replace(",", " ").split():
        if word == "tmpdir":
            out["tmpdir"] = True
        elif word.startswith("timeout="):
            try:
                out["timeout"] = float(word.split("=", 1)[1])
            except ValueError:
                raise BlockError(f"{where}: timeout must be a number of seconds (got {word!r})") from None
            if not out["timeout"] > 0:
                raise BlockError(f"{where}: timeout must be > 0 seconds (got {word!r})")
        else:
            raise BlockError(f"{where}: unknown option {word!r} of <!-- runs -->; accepted: tmpdir, timeout=SECONDS")
    return out


def find_blocks(path: Path, text: str) -> list[Block]:
    """Every marked block of one page, in order (``path`` is only used in labels and errors)."""
    lines = text.split("\n")
    blocks = []
    fence_open = None  # the fence of the code block we are in, if any: a marker there is text
    for i, line in enumerate(lines):
        fence = FENCE.match(line)
        if fence_open is not None:
            if fence and fence["fence"][0] == fence_open[0] and len(fence["fence"]) >= len(fence_open) \
                    and not fence["lang"]:
                fence_open = None
            continue
        if fence:
            fence_open = fence["fence"]
            continue
        marker = MARKER.match(line)
        if not marker:
            continue
        where = f"{path}:{i + 1}"
        options = _options(marker["options"], where)
        fence = FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
        if not fence:
            raise BlockError(f"{where}: <!-- runs --> must be followed on the next line by a ``` fence")
        if fence["lang"] not in LANGUAGES:
            raise BlockError(f"{where}: a block that runs must be one of {', '.join(LANGUAGES)} "
                             f"(got {fence['lang'] or 'no language'!r})")
        close = re.compile(rf"^{re.escape(fence['fence'][0])}{{{len(fence['fence'])},}}\s*$")
        end = next((j for j in range(i + 2, len(lines)) if close.match(lines[j])), None)
        if end is None:
            raise BlockError(f"{where}: the fenced block is never closed")
        blocks.append(Block(path, i + 2, fence["lang"], "\n".join(lines[i + 2:end]) + "\n", **options))
    return blocks


def documents(root: Path) -> list[Path]:
    """The pages searched for marked blocks: README.md and docs/*.md."""
    pages = [root / "README.md"] if (root / "README.md").is_file() else []
    return pages + sorted((root / "docs").glob("*.md"))


def all_blocks(root: Path = ROOT) -> list[Block]:
    return [b for page in documents(root) for b in find_blocks(page.relative_to(root), page.read_text())]


def run_block(block: Block, root: Path = ROOT) -> subprocess.CompletedProcess:
    """Runs one block in a fresh process (repository root, or a temporary directory); returns
    the finished process, stdout and stderr captured. Raises subprocess.TimeoutExpired past the
    block's timeout."""
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": os.pathsep.join(
        p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)}
    with tempfile.TemporaryDirectory(prefix="semjax-block-") as scratch:
        script = Path(scratch) / ("block.py" if block.language == "python" else "block.sh")
        if block.language == "python":
            script.write_text(PREAMBLE + block.code)
            command = [sys.executable, str(script)]
        else:
            script.write_text(block.code)
            command = ["bash", "-euo", "pipefail", str(script)]
        cwd = scratch if block.tmpdir else root
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=block.timeout, check=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the marked blocks; run nothing")
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    try:
        blocks = all_blocks(args.root.resolve())
    except BlockError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for block in blocks:
        if args.list:
            print(f"{block.label}: {block.language}, timeout {block.timeout:g} s{', tmpdir' if block.tmpdir else ''}")
            continue
        try:
            proc = run_block(block, args.root.resolve())
        except subprocess.TimeoutExpired:
            print(f"{block.label}: TIMEOUT after {block.timeout:g} s", file=sys.stderr)
            failed += 1
            continue
        print(f"{block.label}: {'ok' if proc.returncode == 0 else f'FAILED (exit {proc.returncode})'}")
        if proc.returncode:
            print(proc.stdout[-2000:] + proc.stderr[-4000:], file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
