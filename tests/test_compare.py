"""Two recorded paper runs side by side: hand-made records, the claims recomputed, the section
written into the second run's RESULTS.md once, and the command as a user calls it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from semjax.experiments import compare

CLAIM = "mappo_unaware is below its aware twin mappo (QoE)"


def _record(directory, profile, aware, unaware, budget="quick"):
    """A results.json with per-seed QoE for aware/unaware MAPPO and Local, a headline and one
    Table V row; ``profile`` None writes a record from before runs named their profile."""
    def method(qoe):
        mean = sum(qoe) / len(qoe)
        return {"qoe": mean, "reward": 2.0, "ci95": {"qoe": 0.001}, "seeds": {"qoe": list(qoe), "reward": [2.0] * len(qoe)}}

    main = {"seeds": [0, 1, 2]} | ({} if profile is None else {"profile": profile})
    results = {"methods": {"mappo": method(aware), "mappo_unaware": method(unaware), "local": method([0.5] * 3)},
               "headline": {"gain_vs_mappo_unaware": sum(aware) / sum(unaware) - 1, "gain_vs_d3qn_unaware": None},
               "table5": {"delay": {"latency_ms": 0.5, "energy_j": 0.02, "accuracy": 0.6}},
               "run": {"budget": budget, "specs": {"main": main}}}
    directory.mkdir(parents=True)
    (directory / "results.json").write_text(json.dumps(results))
    (directory / "RESULTS.md").write_text("# Results\n\nthe run's own tables\n")
    return directory


def test_comparison_sets_both_worlds_and_the_paper_side_by_side(tmp_path):
    first = _record(tmp_path / "a", None, [0.58, 0.581, 0.579], [0.555, 0.556, 0.554])
    second = _record(tmp_path / "b", "fitted", [0.60, 0.58, 0.59], [0.52, 0.60, 0.55])
    c = compare.write(first, second)
    assert c["worlds"] == ["paper", "fitted"]  # a record without a profile ran in the default world
    gain = c["headline"]["gain_vs_mappo_unaware"]
    assert gain[0] == pytest.approx(1.74 / 1.665 - 1) and gain[1] == pytest.approx(1.77 / 1.67 - 1)
    assert gain[2] == 0.1268  # the paper's
    # the claim is recomputed per run: separated in the first, not at 3 noisy seeds in the second
    assert c["claims"][CLAIM] == ["PASS", "not resolved at this budget"]
    assert c["table5"]["delay"]["latency_ms"] == [0.5, 0.5, 0.369]
    text = (second / "RESULTS.md").read_text()
    assert text.startswith("# Results\n\nthe run's own tables\n\n<!-- comparison -->\n## Two worlds side by side")
    assert "| QoE gain of semantic-aware MAPPO over semantic-unaware MAPPO | 4.50 % | 5.99 % | 12.68 % |" in text
    assert f"| {CLAIM} | PASS | not resolved at this budget |" in text
    compare.write(first, second)
    assert (second / "RESULTS.md").read_text() == text  # replaced, not appended again
    assert json.loads((second / "comparison.json").read_text())["worlds"] == ["paper", "fitted"]
    assert (second / "comparison.md").read_text().startswith("# Two worlds side by side")


def test_two_runs_in_one_world_are_headed_as_runs(tmp_path):
    first = _record(tmp_path / "before", "paper", [0.58, 0.581, 0.579], [0.555, 0.556, 0.554])
    second = _record(tmp_path / "after", "paper", [0.59, 0.591, 0.589], [0.555, 0.556, 0.554])
    compare.write(first, second)
    text = (second / "comparison.md").read_text()
    assert text.startswith("# Two runs side by side")
    assert f"The same `quick` budget in one world, two runs (their configs differ): `paper` ({first}) and " \
           f"`paper` ({second})." in text


def test_the_command_as_documented(tmp_path):
    first = _record(tmp_path / "paper_quick", "paper", [0.58, 0.581, 0.579], [0.555, 0.556, 0.554])
    second = _record(tmp_path / "paper_quick_fitted", "fitted", [0.60, 0.601, 0.599], [0.52, 0.521, 0.519])
    proc = subprocess.run([sys.executable, "-m", "semjax.experiments.compare", str(first), str(second)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "gain_vs_mappo_unaware: 4.50 % (paper) vs 15.38 % (fitted); paper 12.68 %" in proc.stdout
    assert "<!-- comparison -->" in (second / "RESULTS.md").read_text()
