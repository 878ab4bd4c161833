"""The retrain check's verdicts against scipy's Welch test, on a hand-made record and sweep."""

from __future__ import annotations

import json

import pytest
from scipy import stats as scipy_stats

from semjax.experiments import retrain_check
from semjax.experiments.store import write_csv


def _tree(tmp_path, old_qoe, new_qoe):
    record, sweep = tmp_path / "record", tmp_path / "record" / "retrain_check"
    sweep.mkdir(parents=True)
    (record / "results.json").write_text(json.dumps({"methods": {
        "mappo": {"seeds": {"qoe": old_qoe, "reward": [2.0, 2.1, 2.2]}},
        "local": {"seeds": {"qoe": [0.5, 0.5, 0.5]}}}}))
    rows = [{"sweep": "s", "method": "mappo", "config": 0, "seed": s, "run_id": "r", "under": "default",
             "task": task, "metric": metric, "value": value}
            for s, v in enumerate(new_qoe)
            for task, metric, value in (("all", "qoe", v), ("text", "qoe", 9.0), ("all", "reward", 2.1 + 0.01 * s))]
    rows.append({"sweep": "s", "method": "mappo", "config": 0, "seed": 0, "run_id": "r", "under": "fig8",
                 "task": "all", "metric": "qoe", "value": 9.0})  # another world: not compared
    write_csv(sweep / "results.csv", list(rows[0]), rows)
    (sweep / "versions.json").write_text(json.dumps({"semjax": "0.1.0", "jax": "x"}))
    write_csv(sweep / "programs.csv", ["compile_s", "run_s"], [{"compile_s": 1.0, "run_s": 10.0}])
    return record


@pytest.mark.parametrize("old, new, agree", [([0.58, 0.581, 0.579], [0.5805, 0.5795, 0.581, 0.58], True),
                                              ([0.58, 0.581, 0.579], [0.60, 0.601, 0.599, 0.6005], False)])
def test_verdicts_follow_welchs_test(tmp_path, old, new, agree):
    record = _tree(tmp_path, old, new)
    rows = retrain_check.write(record, record / "retrain_check")
    qoe = next(r for r in rows if r["metric"] == "qoe")
    assert [r["method"] for r in rows] == ["mappo", "mappo"]  # local was not retrained
    assert qoe["retrained_seeds"] == pytest.approx(new)  # default world, task "all" only
    assert qoe["p"] == pytest.approx(scipy_stats.ttest_ind(old, new, equal_var=False).pvalue, rel=1e-9)
    assert qoe["agree"] is agree
    text = (record / "retrain_check.md").read_text()
    assert "| mappo | qoe |" in text and ("agree" if agree else "differ") in text and "11 s" in text
    assert json.loads((record / "retrain_check.json").read_text())[0]["p"] == pytest.approx(qoe["p"])


def test_the_check_becomes_the_records_last_section_once(tmp_path):
    record = _tree(tmp_path, [0.58, 0.581, 0.579], [0.5805, 0.5795, 0.581, 0.58])
    (record / "RESULTS.md").write_text("# Results\n\nsome table\n")
    retrain_check.write(record, record / "retrain_check")
    first = (record / "RESULTS.md").read_text()
    assert first.startswith("# Results\n\nsome table\n\n<!-- retrain_check -->\n## Retrain check")
    assert "| mappo | qoe |" in first and first.endswith("<!-- /retrain_check -->\n")
    retrain_check.write(record, record / "retrain_check")
    assert (record / "RESULTS.md").read_text() == first  # replaced, not appended again


def test_a_sweep_without_the_records_methods_is_an_error(tmp_path):
    record = _tree(tmp_path, [0.5, 0.6], [0.5, 0.6])
    (record / "results.json").write_text(json.dumps({"methods": {"d3qn": {"seeds": {"qoe": [0.5, 0.6]}}}}))
    with pytest.raises(ValueError, match="no method of the record"):
        retrain_check.write(record, record / "retrain_check")


def test_the_command_as_documented(tmp_path):
    import subprocess
    import sys

    record = _tree(tmp_path, [0.58, 0.581, 0.579], [0.5805, 0.5795, 0.581, 0.58])
    proc = subprocess.run([sys.executable, "-m", "semjax.experiments.retrain_check", str(record)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("mappo qoe: recorded 0.5800 ± 0.0025, retrained 0.5803 ± 0.0010")
    assert (record / "retrain_check.md").is_file()
