"""The documentation: it builds offline with no warnings, documents every module, has every
guide, its generated tables equal what their sources give, and its marked code blocks run.

The build is the CI one: Sphinx with warnings as errors and nitpicky cross-reference
checks (``python -m sphinx -E -W -n --keep-going -b html docs OUT``). The generator and the
block runner are ``docs/generate.py`` and ``docs/runnable.py``, loaded here by path.
"""

from __future__ import annotations

import importlib.util
import json
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import semjax

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GUIDES = ("install", "paper", "sweeps", "model", "codecs", "benchmarks")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"semjax_docs_{name}", DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


generate = _load("generate")
runnable = _load("runnable")


# --------------------------------------------------------------------------------------
# The site
# --------------------------------------------------------------------------------------


def test_every_module_is_in_the_api_reference():
    documented = set()
    for page in DOCS.glob("*.rst"):
        documented |= set(re.findall(r"^\.\. automodule:: (\S+)", page.read_text(), re.M))
    modules = {"semjax"} | {m.name for m in pkgutil.walk_packages(semjax.__path__, "semjax.")}
    assert sorted(modules - documented) == []
    assert sorted(documented - modules) == []


def test_every_guide_is_a_page_of_the_site():
    index = (DOCS / "index.md").read_text()
    toctree = "\n".join(re.findall(r"```\{toctree\}(.*?)```", index, re.S))
    entries = {line.strip() for line in toctree.splitlines() if line.strip() and not line.startswith(":")}
    for guide in GUIDES:
        assert (DOCS / f"{guide}.md").is_file(), guide
        assert guide in entries, f"{guide} is not in index.md's toctree"
    assert {"adapters", "examples", "api"} <= entries


def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx", reason="the docs extra is not installed: pip install -e '.[docs]'")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-E", "-W", "-n", "--keep-going", "-q", "-b", "html",
         str(DOCS), str(tmp_path / "html")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    html = tmp_path / "html"
    api = (html / "api.html").read_text()
    # autodoc found the code: a documented function and a class of the API contract
    assert 'id="semjax.physics.step_metrics"' in api and 'id="semjax.env.SemanticMEC"' in api
    model = (html / "model.html").read_text()
    # every numbered equation of the paper's (1)-(12) but the constraint set (11) is typeset
    assert [int(n) for n in re.findall(r"\\tag\{(\d+)\}", model)] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12]
    # the generated tables reach the site as tables
    assert model.count("<table") >= 3 and "<table" in (html / "codecs.html").read_text()
    for guide in GUIDES:
        assert (html / f"{guide}.html").is_file(), guide


# --------------------------------------------------------------------------------------
# Generated tables
# --------------------------------------------------------------------------------------


def test_committed_tables_equal_what_their_sources_give():
    stale = generate.process(ROOT, generate.TABLES, write=False)
    assert not stale, "\n".join(generate.describe(r, d, generate.TABLES) for r, d in stale)


def _copy_for_generation(dest: Path) -> None:
    """The pages and every file-backed source of the registry, copied under ``dest``."""
    for page in generate.documents(ROOT):
        target = dest / page.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(page, target)
    for table in [*generate.TABLES.values(), *generate.VALUES.values()]:
        for source in table.sources:
            target = dest / source
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / source, target)


def _check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(DOCS / "generate.py"), "--check", "--root", str(root)],
                          capture_output=True, text=True, timeout=300, check=False)


def test_editing_a_committed_json_makes_the_check_fail(tmp_path):
    """The check can fail: a copy of the tree is current, and stops being so when one value of
    a source JSON changes, naming the region that shows it (the real files are not touched)."""
    _copy_for_generation(tmp_path)
    assert _check(tmp_path).returncode == 0

    profile_path = tmp_path / "semjax/profiles/measured.json"
    profile = json.loads(profile_path.read_text())
    profile["fields"]["flops_local"]["values"][0] *= 2.0
    profile_path.write_text(json.dumps(profile))
    results_path = tmp_path / "results/paper_full/results.json"
    results = json.loads(results_path.read_text())
    results["methods"]["mappo"]["qoe"] = 0.25
    results_path.write_text(json.dumps(results))
    report_path = tmp_path / "semjax/profiles/fitted.report.json"
    report = json.loads(report_path.read_text())
    report["wall_s"] = 754.0
    report_path.write_text(json.dumps(report))

    proc = _check(tmp_path)
    assert proc.returncode == 1, proc.stderr
    stale = set(re.findall(r"table '(\w+)' is stale", proc.stderr))
    # the tables showing the edited values are named, and only tables reading an edited file are
    assert {"codec_profile", "paper_full_methods"} <= stale
    edited = {"semjax/profiles/measured.json", "results/paper_full/results.json"}
    assert all(edited & set(generate.TABLES[name].sources) for name in stale), stale
    assert "0.2500" in proc.stderr  # the diff shows the new value
    # a number in prose is checked too: the calibration's wall time, on the line that says it
    assert re.search(r"docs/calibration.md:\d+: value 'calibration.wall' is stale", proc.stderr), proc.stderr
    assert "+12 min 34 s" in proc.stderr


def _page(tmp_path: Path, text: str) -> Path:
    (tmp_path / "docs").mkdir(exist_ok=True)
    page = tmp_path / "docs" / "page.md"
    page.write_text(text)
    return page


def _registry():
    return {"ab": generate.Table(lambda: "| a |\n|---|\n| b |", ("nothing.json",), load=lambda root: ())}


def test_generator_fills_a_region_and_then_finds_it_current(tmp_path):
    page = _page(tmp_path, "# T\n\n<!-- table: ab -->\nold | typed\n<!-- /table -->\n\nafter\n")
    stale = generate.process(tmp_path, _registry(), write=False)
    assert [(r.name, r.start) for r, _ in stale] == [("ab", 2)]
    assert "old | typed" in page.read_text()  # the check changes nothing
    generate.process(tmp_path, _registry(), write=True)
    text = page.read_text()
    assert text.startswith("# T\n\n<!-- table: ab -->\n<!-- generated by")
    assert "| a |\n|---|\n| b |\n\n<!-- /table -->\n\nafter\n" in text and "old" not in text
    assert generate.process(tmp_path, _registry(), write=False) == []


@pytest.mark.parametrize("text, message", [
    ("<!-- table: nope -->\n<!-- /table -->\n", "page.md:2: unknown table 'nope'"),
    ("<!-- table: ab -->\nx\n", "page.md:2: table 'ab' is never closed"),
    ("<!-- /table -->\n", "page.md:2: <!-- /table --> closes no table"),
    ("<!-- table: ab -->\n<!-- table: ab -->\n<!-- /table -->\n", r"page.md:3: .* \(line 2\); regions do not nest"),
], ids=["unknown-name", "unclosed", "stray-close", "nested"])
def test_generator_refuses_bad_markup_naming_the_line(tmp_path, text, message):
    _page(tmp_path, "intro\n" + text)
    with pytest.raises(generate.GenerateError, match=message):
        generate.process(tmp_path, _registry(), write=False)


def test_generator_leaves_markers_inside_code_blocks_alone(tmp_path):
    text = "```text\n<!-- table: nope -->\n<!-- /table -->\n```\n"
    _page(tmp_path, text)
    assert generate.process(tmp_path, _registry(), write=True) == []
    assert (tmp_path / "docs/page.md").read_text() == text


def _values():
    return {"w": generate.Table(lambda: {"speed": "2.5 M", "n": "4"}, ("nothing.json",), load=lambda root: ())}


def test_generator_fills_inline_values_and_then_finds_them_current(tmp_path):
    page = _page(tmp_path, "A step runs at <!-- value: w.speed -->1 M<!-- /value --> env steps/s "
                           "with N = <!-- value: w.n -->4<!-- /value -->.\n"
                           "```text\n<!-- value: w.speed -->typed<!-- /value -->\n```\n")
    stale = generate.process(tmp_path, _registry(), write=False, values=_values())
    assert [(r.kind, r.name, r.start) for r, _ in stale] == [("value", "w.speed", 0)]
    assert stale[0][1] == ["-1 M", "+2.5 M"]
    assert generate.describe(*stale[0], _registry(), values=_values()).startswith(
        "docs/page.md:1: value 'w.speed' is stale (its sources: nothing.json)")
    generate.process(tmp_path, _registry(), write=True, values=_values())
    assert page.read_text() == ("A step runs at <!-- value: w.speed -->2.5 M<!-- /value --> env steps/s "
                                "with N = <!-- value: w.n -->4<!-- /value -->.\n"
                                "```text\n<!-- value: w.speed -->typed<!-- /value -->\n```\n")
    assert generate.process(tmp_path, _registry(), write=False, values=_values()) == []


@pytest.mark.parametrize("text, message", [
    ("x <!-- value: nope.speed -->1<!-- /value -->\n", "page.md:2: unknown value group 'nope'"),
    ("x <!-- value: w.nope -->1<!-- /value -->\n", "page.md:2: value group 'w' has no 'nope'"),
    ("x <!-- value: w.n -->1\n<!-- /value -->\n", "page.md:2: a value marker is not closed"),
], ids=["unknown-group", "unknown-key", "unclosed"])
def test_generator_refuses_bad_value_markup_naming_the_line(tmp_path, text, message):
    _page(tmp_path, "intro\n" + text)
    with pytest.raises(generate.GenerateError, match=message):
        generate.process(tmp_path, _registry(), write=False, values=_values())


def test_generator_check_names_a_missing_source(tmp_path):
    _page(tmp_path, "<!-- table: codec_accuracy -->\n<!-- /table -->\n")
    proc = _check(tmp_path)
    assert proc.returncode == 2 and "semjax/profiles/measured.json: no such file" in proc.stderr


# --------------------------------------------------------------------------------------
# Code blocks that claim to run
# --------------------------------------------------------------------------------------


def test_marked_blocks_are_found_with_their_options():
    text = ("text\n<!-- runs -->\n```python\nprint(1)\n```\n\n```python\nnot marked\n```\n"
            "<!-- runs: tmpdir, timeout=5 -->\n````bash\necho ```\n````\n")
    blocks = runnable.find_blocks(Path("p.md"), text)
    assert [(b.line, b.language, b.code, b.tmpdir, b.timeout) for b in blocks] == [
        (3, "python", "print(1)\n", False, runnable.DEFAULT_TIMEOUT),
        (11, "bash", "echo ```\n", True, 5.0),
    ]
    assert runnable.find_blocks(Path("p.md"), "no blocks here\n```python\nx\n```\n") == []
    # a marker shown inside a code block is text, not a marker
    assert runnable.find_blocks(Path("p.md"), "```text\n<!-- runs -->\n```python\n```\n") == []


@pytest.mark.parametrize("text, message", [
    ("<!-- runs -->\n\n```python\nx\n```\n", "followed on the next line"),
    ("<!-- runs -->\n```js\nx\n```\n", "one of python, bash"),
    ("<!-- runs: tmp -->\n```python\nx\n```\n", "unknown option 'tmp'"),
    ("<!-- runs: timeout=0 -->\n```python\nx\n```\n", "timeout must be > 0"),
    ("<!-- runs -->\n```python\nx\n", "never closed"),
], ids=["blank-line", "language", "option", "timeout", "unclosed"])
def test_bad_markers_are_errors_naming_the_line(text, message):
    with pytest.raises(runnable.BlockError, match=message) as info:
        runnable.find_blocks(Path("p.md"), "intro\n" + text)
    assert "p.md:2" in str(info.value)


def test_a_failing_block_fails_and_a_tmpdir_block_runs_elsewhere(tmp_path):
    failing = runnable.Block(Path("p.md"), 1, "python", "assert semjax.__version__ == 'no'\n")
    assert runnable.run_block(failing).returncode != 0
    bash_failing = runnable.Block(Path("p.md"), 1, "bash", "false\necho never\n")
    proc = runnable.run_block(bash_failing)
    assert proc.returncode != 0 and "never" not in proc.stdout
    where = runnable.Block(Path("p.md"), 1, "python", "import os; print(os.getcwd())\n", tmpdir=True)
    proc = runnable.run_block(where)
    assert proc.returncode == 0 and Path(proc.stdout.strip()) != ROOT


def _marked_blocks():
    try:
        blocks = runnable.all_blocks(ROOT)
    except runnable.BlockError as exc:  # reported by the test below, not as a collection error
        return [pytest.param(exc, id="bad-marker")]
    return [pytest.param(b, id=b.label) for b in blocks]


@pytest.mark.parametrize("block", _marked_blocks())
def test_marked_code_block_runs(block):
    if isinstance(block, Exception):
        pytest.fail(str(block))
    try:
        proc = runnable.run_block(block, ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{block.label}: still running after {block.timeout:g} s")
    assert proc.returncode == 0, f"{block.label}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
