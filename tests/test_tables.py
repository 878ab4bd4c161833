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


def test_duration_reads_as_spoken():
    assert [tables.duration(s) for s in (0.4, 38, 59.6, 286.48, 3599, 3720)] == [
        "0 s", "38 s", "1 min 0 s", "4 min 46 s", "59 min 59 s", "1 h 02 min"]


def _hand_report(wall_s: float, gain_base: float) -> dict:
    """A calibration report with every key ``calibration_values`` reads, numbers chosen by hand."""
    target = {"error": 0.0, "base": 0.0, "fitted": 0.0}
    names = {"table5_none_energy": ("energy_j", 0.0186), "table5_energy_energy": ("energy_j", 0.0163),
             "table5_energy_latency": ("latency_ms", 3.5), "table5_none_latency": ("latency_ms", 0.523),
             "table5_delay_accuracy": ("accuracy", 0.4308), "table5_accuracy_latency": ("latency_ms", 1.67),
             "table5_accuracy_energy": ("energy_j", 0.0682), "gain_vs_mappo_unaware": ("qoe_gain", 0.1268),
             "gain_vs_d3qn_unaware": ("qoe_gain", 0.1448)}
    targets = [dict(target, name=n, metric=m, paper=v) for n, (m, v) in names.items()]
    targets[-2].update(base=gain_base, fitted=0.154)
    targets[0].update(error=0.375)
    world = {s: {"offload_rate": 0.5, "qoe": 0.6, "mean_mu": 0.25} for s in ("none", "unaware", "accuracy")}
    return {"targets": targets, "world": "N = K = 4", "tolerance": 0.1, "wall_s": wall_s, "met": 6,
            "config": {"restarts": 3, "steps": 40, "batch": 128, "eval_batch": 512, "lr": 0.08,
                       "temperature_start": 0.03, "temperature_end": 0.003, "anneal_fraction": 0.7,
                       "correct_every": 10, "start_radius": 0.3},
            "loss": {"base_exact": 0.1369, "fitted_exact": 0.0361}, "loss_exact_oracle_fit_batch": 0.026,
            "identifiability": {"eigen": [{"eigenvalue": 0.01, "pinned": False}, {"eigenvalue": 3.7, "pinned": True},
                                          {"eigenvalue": 2e-5, "pinned": False}]},
            "constants": [{"constant": "data_bits", "fitted": 7.512}],
            "worlds": {"base_exact": world, "fitted_exact": world}}


def test_calibration_values_by_hand():
    report = _hand_report(286.48, 0.0573)
    values = tables.calibration_values(report, _hand_report(355.3, 0.05), {"acc_min": 0.5, "freq_min": 1.5e9,
                                                                         "freq_ref": 1.6e9})
    assert values["wall"] == "4 min 46 s" and values["world_wall"] == "5 min 55 s"
    assert values["gain_base"] == "5.73 %" and values["paper_gain_mappo"] == "12.68 %"
    # both gains within 10 %: [0.9 x 14.48 %, 1.1 x 12.68 %]
    assert (values["gain_both_low"], values["gain_both_high"]) == ("13.03 %", "13.95 %")
    assert values["paper_gain_spread"] == "1.8"
    assert (values["rms_base"], values["rms_fitted"]) == ("37 %", "19 %")  # sqrt(0.1369), sqrt(0.0361)
    assert values["accuracy_penalty_slope"] == "2" and values["acc_min"] == "50 %"
    assert (values["freq_min"], values["freq_ref"]) == ("1.5 GHz", "1.6 GHz")
    assert (values["pinned_count"], values["free_count"], values["pinned_eigenvalues"]) == ("1", "2", "3.7")
    assert (values["free_eigenvalue_max"], values["free_eigenvalue_min"]) == ("0.01", "2e-05")
    assert values["none_energy_error"] == "+37.5 %" and values["payload_factor"] == "7.5"
    assert values["unaware_offload_fitted"] == "50.0 %" and values["none_mu_base"] == "0.25"


def test_bench_docs_values_by_hand():
    from semjax.bench import tables as bench_tables

    part = {"flops_per_env_step": 7288.0, "transcendentals_per_env_step": 80.0, "bytes_per_env_step": 5236.2}
    result = {"profile": {"num_envs": 16384, "num_ues": 4,
                          "parts": {"rollout": part, "env_step": dict(part, flops_per_env_step=3192.0)}},
              "rows": [{"num_ues": 16, "num_envs": 1, "state_bytes_per_env": 1200, "obs_bytes_per_env": 2900},
                       {"num_ues": 4, "num_envs": 64, "state_bytes_per_env": 124, "obs_bytes_per_env": 352}]}
    values = bench_tables.docs_values(result)
    assert values == {"profile_batch": "16384", "profile_num_ues": "4", "rollout_kflops": "7",
                      "rollout_transcendentals": "80", "rollout_kbytes": "5", "env_step_kflops": "3",
                      "state_bytes": "124", "obs_bytes": "352", "smallest_num_ues": "4", "h200_gib": "139"}
    result["headline"] = {"cores_busy": {"1": 1.94, "2": 1.985}}
    result["profile"]["parts"] = {"rollout": dict(part, ns_per_env_step=300.0),
                                  "rollout_ynnpack": dict(part, ns_per_env_step=375.0), "env_step": part}
    values = bench_tables.docs_values(result)
    assert (values["cores_busy_1"], values["cores_busy_2"]) == ("1.9", "2.0")
    assert values["ynnpack_slowdown"] == "1.25"  # 375 / 300


def test_worlds_values_by_hand():
    comparison = {"worlds": ["paper", "fitted"], "budgets": ["quick", "quick"],
                  "headline": {"gain_vs_mappo_unaware": [0.043, 0.1146, 0.1268],
                               "gain_vs_d3qn_unaware": [0.0571, 0.1249, 0.1448]},
                  "claims": {"a": ["PASS", "PASS"], "b": ["PASS", "FAIL"], "c": ["not resolved", "PASS"]}}
    values = tables.worlds_values(comparison)
    assert (values["gain_first"], values["gain_second"], values["gain_paper"]) == ("4.30 %", "11.46 %", "12.68 %")
    assert (values["claims"], values["pass_first"], values["pass_second"]) == ("3", "2", "2")
    assert values["d3qn_gain_paper"] == "14.48 %" and values["second"] == "fitted"


def test_paper_values_by_hand():
    results = {"run": {"budget": "full", "budget_detail": {"seeds": 3, "episodes": 200}},
               "headline": {"gain_vs_mappo_unaware": 0.046215, "gain_vs_d3qn_unaware": 0.054274}}
    assert tables.paper_values(results) == {"seeds": "3", "episodes": "200", "budget": "full",
                                            "gain_mappo_unaware": "4.62 %", "gain_d3qn_unaware": "5.43 %"}


def test_learners_strong_values_by_hand():
    def row(method, metric, mean, task="all"):
        return {"method": method, "config": "0", "task": task, "metric": metric, "mean": str(mean), "n": "3"}

    summary = [row("mappo", "reward", 2.36), row("oracle", "reward", 2.395), row("greedy", "reward", 2.295),
               row("mappo", "qoe", 0.595), row("oracle", "qoe", 0.6), row("greedy", "qoe", 0.58),
               row("mappo", "reward", 9.0, task="vqa")]
    programs = [{"group": "mappo N=4 K=4 Q=20", "kind": "train", "run_s": "139.4"},
                {"group": "oracle N=4 K=4 Q=20", "kind": "evaluate", "run_s": "31"}]
    sweep = {"base": {"train": {"num_updates": 600, "num_envs": 32}, "eval": {"episodes": 200}}}
    values = tables.learners_strong_values(sweep, summary, programs)
    assert values["mappo_reward"] == "2.3600" and values["oracle_reward"] == "2.3950"
    assert values["share_of_oracle"] == "98.5 %"  # 2.36 / 2.395
    assert values["mappo_qoe"] == "0.5950" and values["greedy_qoe"] == "0.5800"
    assert (values["seeds"], values["episodes"], values["updates"], values["envs"], values["train_s"]) == \
        ("3", "200", "600", "32", "139")


def test_sweep_along_table_by_hand():
    def row(n, method, metric, mean, low, seeds="3", task="all"):
        return {"env.num_ues": n, "method": method, "task": task, "metric": metric, "mean": str(mean),
                "ci95_low": str(low), "n": seeds}

    rows = [row("10", "mappo", "reward", 2.0, 1.9), row("2", "mappo", "reward", 2.5, 2.45),
            row("2", "greedy", "reward", 2.4, 2.4), row("10", "greedy", "reward", 2.1, 2.08),
            row("2", "mappo", "reward", 7.0, 6.0, task="vqa")]
    text = tables.sweep_along_table(rows, "env.num_ues", ("reward",), against=("mappo", "greedy"))
    lines = text.splitlines()
    assert "reward, semantic-aware MAPPO (hybrid)" in lines[0] and "Welch p, reward: mappo vs greedy" in lines[0]
    assert lines[2].startswith("| 2 | 2.5000 ± 0.0500 | 2.4000 ± 0.0000 |")  # sorted as numbers: 2 before 10
    assert lines[3].startswith("| 10 | 2.0000 ± 0.1000 | 2.1000 ± 0.0200 |")
    from scipy import stats as sps

    t = float(sps.t.ppf(0.975, 2))
    expected = sps.ttest_ind_from_stats(2.0, 0.1 * math.sqrt(3) / t, 3, 2.1, 0.02 * math.sqrt(3) / t, 3,
                                        equal_var=False).pvalue
    assert lines[3].endswith(f"| {expected:.2g} |")


def test_codec_fit_table_hand_values():
    acc = {"acc_local": 0.9, "exp_accuracy": 0.03, "exp_accuracy_ci": [0.01, 0.05], "snr_mid_db": -6.0,
           "snr_mid_db_ci": [-7.0, -5.0], "snr_width_db": 4.8, "snr_width_db_ci": [4.3, 5.3], "r2": 0.98}
    measured = {"task_types": ["text"], "provenance": {"fits": {"text": {"accuracy": acc}}}}
    assert "| text | 0.900 | 0.030 [0.010, 0.050] | -6.0 [-7.0, -5.0] | 4.8 [4.3, 5.3] | 0.980 |" in \
        tables.codec_fit_table(measured)


def test_sweep_by_method_table_hand_values():
    rows = [{"env.profile": prof, "method": m, "task": "all", "metric": "qoe", "mean": str(mean),
             "ci95_low": str(mean - 0.01), "n": "3"}
            for prof, m, mean in (("measured", "mappo", 0.6), ("measured", "local", 0.5), ("paper", "mappo", 0.55))]
    rows.append({**rows[0], "task": "text", "mean": "9"})  # per-task rows are left out
    table = tables.sweep_by_method_table(rows, "env.profile", ("qoe",))
    lines = table.splitlines()[2:]
    assert lines == ["| measured | semantic-aware MAPPO (hybrid) | 0.6000 ± 0.0100 | 3 |",
                     "| measured | Local (freq_ref) | 0.5000 ± 0.0100 | 3 |",
                     "| paper | semantic-aware MAPPO (hybrid) | 0.5500 ± 0.0100 | 3 |"]
    # Per task: a task column, the tasks asked for in their order, methods without them left out.
    per_task = tables.sweep_by_method_table(rows + [{**rows[0], "task": "vqa", "mean": "0.25", "ci95_low": "0.2"}],
                                            "env.profile", ("qoe",), tasks=("vqa", "text"))
    assert per_task.splitlines()[0] == "| env.profile | method | task | qoe (±95 %) | seeds |"
    assert per_task.splitlines()[2:] == ["| measured | semantic-aware MAPPO (hybrid) | vqa | 0.2500 ± 0.0500 | 3 |",
                                         "| measured | semantic-aware MAPPO (hybrid) | text | 9.0000 ± 8.4100 | 3 |"]
    # Without the column of x (rows filtered to one value of it).
    one = [r for r in rows if r["env.profile"] == "paper"]
    assert tables.sweep_by_method_table(one, "env.profile", ("qoe",), x_column=False).splitlines() == [
        "| method | qoe (±95 %) | seeds |", "|---|---|---|", "| semantic-aware MAPPO (hybrid) | 0.5500 ± 0.0100 | 3 |"]


@pytest.mark.parametrize("steps, shown", [(1500, "1500 steps"),
                                          ({"text": 1500, "image": 1500, "vqa": 8000},
                                           "text 1500, image 1500, vqa 8000 steps")])
def test_profile_provenance_training_row(steps, shown):
    measured = {"provenance": {"config": {"steps": steps, "batch": 64, "lr": 0.001, "extraction": "distill",
                                          "bottleneck_steps": 600}}}
    rows = {r[0]: r[1] for r in _rows(tables.profile_provenance_table(measured))}
    assert rows["training"] == f"{shown} of batch 64, lr 0.001; then 600 bottleneck steps"
