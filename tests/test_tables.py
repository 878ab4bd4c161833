"""semjax.tables: Markdown tables rendered from results and profiles, checked against values
written out by hand and, for the shipped files, read back out of the rendered table."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from semjax import tables

ROOT = Path(__file__).resolve().parents[1]


def _rows(markdown: str) -> list[list[str]]:
    """The cells of a pipe table's lines (header and separator included), unescaping ``\\|``."""
    out = []
    for line in markdown.split("\n"):
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
            out.append([c.strip().replace("\\|", "|") for c in cells])
    return out


@pytest.mark.parametrize("value, shown", [
    (2048, "2048"), (98304.0, "98304"), (3.72e9, "3.72e9"), (1e-26, "1e-26"), (1.2e-26, "1.2e-26"),
    (0.9986201354, "0.999"), (-21.935, "-21.9"), (153542.24, "1.54e5"), (0.5, "0.5"), (0, "0"),
    (None, "-"), (math.nan, "-"), (True, "-"), ("3", "-"),
])
def test_compact_numbers(value, shown):
    assert tables.compact(value) == shown


def test_fixed_numbers():
    assert tables.fixed(0.57997, 4) == "0.5800" and tables.fixed(96.7577, 1) == "96.8"
    assert tables.fixed(None) == tables.fixed(math.inf) == tables.MISSING


def test_markdown_table_escapes_and_refuses_ragged_rows():
    md = tables.markdown_table(["a", "b"], [["x|y", "two\nlines"]])
    assert md == "| a | b |\n|---|---|\n| x\\|y | two lines |"
    with pytest.raises(ValueError, match="row 0 has 1 cells, the header has 2"):
        tables.markdown_table(["a", "b"], [["only"]])


@given(st.lists(st.text(max_size=8), min_size=1, max_size=4).flatmap(
    lambda header: st.tuples(st.just(header), st.lists(
        st.lists(st.text(max_size=12), min_size=len(header), max_size=len(header)), max_size=5))))
def test_markdown_table_round_trips_any_cells(case):
    header, rows = case
    md = tables.markdown_table(header, rows)
    parsed = _rows(md)
    assert len(md.split("\n")) == len(rows) + 2
    norm = lambda c: " ".join(str(c).split())  # noqa: E731  (whitespace runs become one space)
    assert parsed[0] == [norm(h) for h in header]
    assert parsed[2:] == [[norm(c) for c in row] for row in rows]


def _method(qoe, reward, pct_qoe):
    return {"qoe": qoe, "ci95": {"qoe": 0.0016}, "reward": reward, "latency_ms": 0.96798,
            "energy_j": 0.021073, "accuracy": 0.65508, "pct_of_oracle": {"qoe": pct_qoe, "reward": 95.638}}


def test_paper_methods_table_from_a_hand_built_results_dict():
    results = {
        "methods": {"mappo": _method(0.57997, 2.29288, 96.7577), "mystery": _method(0.5, -3.28955, None)},
        "run": {"budget": "full", "budget_detail": {"seeds": 3, "episodes": 200}},
    }
    md = tables.paper_methods_table(results)
    rows = _rows(md)
    assert rows[0][:3] == ["method", "QoE", "±95 %"]
    assert rows[2] == ["semantic-aware MAPPO (hybrid)", "0.5800", "0.0016", "2.293", "0.968", "0.0211",
                       "0.6551", "96.8", "95.6"]
    assert rows[3][0] == "mystery" and rows[3][3] == "-3.290" and rows[3][7] == "-"  # unknown key, missing pct
    assert md.endswith("Budget `full`: 3 seeds, 200 test episodes per seed, every method on the same worlds.")


def test_profile_comparison_shows_fit_quality_and_refuses_other_task_types():
    field = lambda values, source: {"values": values, "unit": "bit", "symbol": "s", "source": source}  # noqa: E731
    measured = {"task_types": ["a", "b"],
                "fields": {"data_bits": field([1.5e5, 3e5], "fit: s mu^p"), "acc_min": field([0.5, 0.5], "paper")},
                "provenance": {"fits": {"a": {"bits": {"r2": 0.999}}, "b": {"bits": {"r2": 0.5}}}}}
    reference = {"task_types": ["a", "b"], "fields": {"data_bits": field([2048, 98304], "ours")}}
    rows = _rows(tables.profile_comparison_table(measured, reference))
    assert rows[2] == ["`data_bits`", "s", "bit", "2048 / 98304", "150000 / 300000", "fit, R² 1.00 / 0.50"]
    assert rows[3][3:] == ["- / -", "0.5 / 0.5", "paper"]
    with pytest.raises(ValueError, match="task types differ"):
        tables.profile_comparison_table(measured, {**reference, "task_types": ["b", "a"]})


def test_parameters_table_refuses_an_undocumented_parameter():
    assert _rows(tables.parameters_table({"bandwidth": 1e7, "mix": [0.25, 0.75]},
                                         {"bandwidth": "Table IV", "mix": "ours"}))[2:] == [
        ["`bandwidth`", "1e7", "Table IV"], ["`mix`", "0.25 / 0.75", "ours"]]
    with pytest.raises(ValueError, match=r"no source note for \['noise_power'\]"):
        tables.parameters_table({"noise_power": 2e-3}, {})


def _per_type(cell: str) -> list[float]:
    return [float(x) for x in cell.split(" / ")]


def test_shipped_profile_tables_read_back_to_the_json_values():
    """Every value of the shipped profiles, read back out of the rendered comparison table,
    equals the JSON's to the three significant digits shown."""
    measured = json.loads((ROOT / "semjax/profiles/measured.json").read_text())
    paper = json.loads((ROOT / "semjax/profiles/paper.json").read_text())
    rows = {r[0].strip("`"): r for r in _rows(tables.profile_comparison_table(measured, paper))[2:]}
    assert set(rows) == set(measured["fields"])
    for name, entry in measured["fields"].items():
        for shown, value in zip(_per_type(rows[name][4]), entry["values"]):
            assert shown == pytest.approx(value, rel=5e-3, abs=1e-12), name
        for shown, value in zip(_per_type(rows[name][3]), paper["fields"][name]["values"]):
            assert shown == pytest.approx(value, rel=5e-3), name


def test_paper_stages_and_training_programs_from_hand_built_timings():
    timings = {"train mappo": 100.4, "evaluate mappo": 2.0, "sweeps oracle": 10.0,
               "fig11 train d3qn settings 0-1 of 5": 50.0, "fig11 evaluate d3qn": 1.0}
    results = {"run": {"timings_s": timings}}
    assert _rows(tables.paper_stages_table(results))[2:] == [
        ["default world", "3", "100", "12", "112"],
        ["fig11", "2", "50", "1", "51"],
        ["all", "5", "150", "13", "163"],
    ]
    assert _rows(tables.paper_training_programs_table(results))[2:] == [
        ["default world", "semantic-aware MAPPO (hybrid)", "all", "100"],
        ["fig11", "semantic-aware D3QN", "settings 0-1 of 5", "50"],
    ]


def test_calibration_tables_by_hand():
    report = {"base_profile": "paper",
              "targets": [{"name": "t_lat", "metric": "latency_ms", "paper": 0.523, "base": 0.76, "fitted": 0.6149,
                           "error": 0.1756, "met": False},
                          {"name": "t_acc", "metric": "accuracy", "paper": 0.7199, "base": 0.7137, "fitted": 0.656,
                           "error": -0.0888, "met": True}],
              "constants": [{"constant": "data_bits", "kind": "scale", "lo": 0.0488, "hi": 99.65, "fitted": 7.512,
                             "reach_alone_range_fraction": 0.114, "reach_range_fraction": 0.566},
                            {"constant": "snr_mid_db", "kind": "shift", "lo": -10.0, "hi": 20.0, "fitted": 3.4497,
                             "reach_alone_range_fraction": 0.11, "reach_range_fraction": 4.2}]}
    targets = tables.calibration_targets_table(report).splitlines()
    assert targets[0] == "| target | paper | `paper` profile | fitted | error | met |"
    assert targets[2] == "| t_lat | 0.523 ms | 0.760 ms | 0.615 ms | +17.6 % | no |"
    assert targets[3] == "| t_acc | 71.99 % | 71.37 % | 65.60 % | -8.9 % | yes |"
    constants = tables.calibration_constants_table(report).splitlines()
    assert constants[2] == "| `data_bits` | x 7.51 | x [0.0488, 99.7] | 0.11 | 0.57 |"
    assert constants[3] == "| `snr_mid_db` | + 3.45 dB | + [-10, 20] dB | 0.11 | 4.20 |"
