"""Where a learned policy's gap to the per-step oracle comes from: its sub-channels or the rest.

For each trained run that a sweep folder keeps (``policies/``), every step of the run's test
episodes (the same worlds as the sweep's, seed by seed) is played four ways:

* ``policy``: the learned policy as trained (it reproduces the sweep's own numbers);
* ``policy_channels``: the policy's sub-channel choices, kept as the env resolves them (a UE
  that loses its sub-channel runs locally), and everything else (each UE's mode, raw or
  extracting, its power, clock and mu) chosen by the oracle for those sub-channels
  (:func:`semjax.agents.oracle.oracle_given_channels`);
* ``oracle_channels``: the oracle's sub-channels with the policy's power, clock and mu (a
  cross-check: the policy's continuous outputs on a sub-channel it did not pick);
* ``oracle``: the per-step oracle.

The gap in team reward splits exactly into ``policy_channels - policy`` (what the policy's
continuous choices cost it) and ``oracle - policy_channels`` (what its sub-channel choices,
collisions included, cost it). For a semantic-unaware policy, ``policy_channels`` keeps
mu = 1, so its second part also holds what semantic extraction would add. Writes ``gap.json``
and ``gap.md`` into the sweep folder::

    python -m semjax.experiments.gap results/learners/budget
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

import jax
import numpy as np
from omegaconf import OmegaConf

from semjax.agents.oracle import OracleConfig, oracle, oracle_given_channels
from semjax.config import build_env
from semjax.evaluation import rollout, summarize
from semjax.experiments import stats
from semjax.experiments.methods import get_method
from semjax.experiments.store import write_text
from semjax.experiments.sweep import Run, Sweep, load_kept, load_sweep, policy_path, stack
from semjax.physics import Action
from semjax.seeding import eval_key

VARIANTS = ("policy", "policy_channels", "oracle_channels", "oracle")
SHOWN = ("reward", "qoe", "collision_rate", "offload_rate", "mean_mu")


def variant_policies(policy, env, oracle_config: OracleConfig, semantic: bool = True) -> dict[str, Any]:
    """The four recurrent policies ``(key, carry, obs, state, params) -> (carry, Action)`` of the
    module doc, built around the learned recurrent ``policy``. ``semantic=False`` (a policy
    with mu fixed at 1) keeps ``policy_channels`` at mu = 1 too, so that the policy's part of the
    gap is measured within its own action space; the oracle is always the semantic one."""
    best = oracle(env, oracle_config)
    given = oracle_given_channels(env, dataclasses.replace(oracle_config, semantic=oracle_config.semantic and semantic))

    def policy_channels(key, carry, obs, state, params):
        carry, action = policy(key, carry, obs, state, params)
        return carry, given(state, params, action.choice)

    def oracle_channels(key, carry, obs, state, params):
        carry, action = policy(key, carry, obs, state, params)
        return carry, Action(choice=best(key, state, params).choice, power=action.power, freq=action.freq, mu=action.mu)

    def oracle_itself(key, carry, obs, state, params):
        return carry, best(key, state, params)

    return {"policy": policy, "policy_channels": policy_channels, "oracle_channels": oracle_channels,
            "oracle": oracle_itself}


def load_recorded(folder: str | Path) -> Sweep:
    """The sweep a folder was run from, read from the ``sweep.yaml`` it wrote. That file holds the
    whole base config, so its ``base_config`` path (absolute, of the machine that ran it) is
    dropped when it does not exist here."""
    path = Path(folder) / "sweep.yaml"
    if not path.is_file():
        raise ValueError(f"{str(folder)!r} holds no sweep.yaml: not a sweep's output folder")
    spec = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    if spec.get("base_config") and not Path(spec["base_config"]).is_file():
        spec.pop("base_config")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "sweep.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(spec)))
        return load_sweep(Path(tmp) / "sweep.yaml")


def _program(run: Run, episodes: int, oracle_config: OracleConfig):
    """``(policy_params, keys, params) -> {variant: metrics}``, jitted and vmapped over seeds."""
    env, _ = build_env(run.cfg)
    config = run.method.config(run.cfg)

    def one(policy_params, key, params):
        policy, carry = run.method.policy(config, env, policy_params)
        return {name: summarize(env, params, rollout(env, params, variant, key, episodes, carry))[0]
                for name, variant in variant_policies(policy, env, oracle_config,
                                                      getattr(config, "semantic", True)).items()}

    return jax.jit(jax.vmap(one, in_axes=(0, 0, None)))


def decompose(folder: str | Path, store: str | Path | None = None, methods: tuple[str, ...] | None = None,
              episodes: int | None = None) -> dict[str, Any]:
    """Evaluates every kept learned run of the sweep in ``folder`` four ways (module doc); returns
    ``{"runs": [...], "summary": {group: {"variants": {variant: {metric: [mean, low, high]}},
    "reward_gap": {"total" | "continuous" | "channels": [mean, low, high]}}}}``."""
    folder = Path(folder)
    sweep = load_recorded(folder)
    store = Path(store) if store is not None else folder / "policies"
    oracle_config = get_method("oracle").config(sweep.base)
    groups: dict[tuple, list[Run]] = {}
    for run in sweep.runs():
        if run.method.learned and (not methods or run.method.name in methods):
            if not policy_path(store, run.train_id).is_file():
                raise ValueError(f"{str(folder)!r}: run {run.run_id} ({run.method.name}, seed {run.seed}) has no "
                                 f"kept policy in {str(store)!r}; run the sweep first, or pass --store")
            groups.setdefault((run.method.name, run.config_index), []).append(run)
    rows, summary, programs = [], {}, {}
    for runs in groups.values():
        first = runs[0]
        n = int(first.cfg.eval.episodes) if episodes is None else episodes
        program = programs.setdefault((first.group, n), _program(first, n, oracle_config))
        policies = stack([load_kept(store, r.train_id)["policy"] for r in runs])
        keys = jax.vmap(eval_key)(np.asarray([r.seed for r in runs], np.uint32))
        out = jax.device_get(program(policies, keys, build_env(first.cfg)[1]))
        label = first.method.name + "".join(f" {k}={v}" for k, v in first.axes.items())
        mine = [{v: {m: float(out[v][m][i]) for m in out[v]} for v in VARIANTS} for i in range(len(runs))]
        rows += [{"group": label, "seed": r.seed, "episodes": n, "variants": x} for r, x in zip(runs, mine)]
        gaps = {name: [x[b]["reward"] - x[a]["reward"] for x in mine]
                for name, a, b in (("total", "policy", "oracle"), ("continuous", "policy", "policy_channels"),
                                   ("channels", "policy_channels", "oracle"))}
        summary[label] = {"seeds": len(runs), "episodes": n,
                          "variants": {v: {m: stats.mean_ci([x[v][m] for x in mine]) for m in SHOWN} for v in VARIANTS},
                          "reward_gap": {k: stats.mean_ci(v) for k, v in gaps.items()}}
    return {"folder": str(folder), "runs": rows, "summary": summary}


def markdown(result: dict[str, Any]) -> str:
    """The summary as Markdown tables: each variant's metrics, then the gap in team reward split in two."""
    lines = [f"# Gap to the per-step oracle: {result['folder']}", "",
             "Written by `python -m semjax.experiments.gap`. Means over seeds with 95 % Student-t half-widths; "
             "every variant is played on the same test episodes per seed (semjax.experiments.gap explains each).", ""]
    for label, s in result["summary"].items():
        lines += [f"## {label} ({s['seeds']} seeds)", "", "| variant | " + " | ".join(SHOWN) + " |",
                  "|---|" + "---|" * len(SHOWN)]
        for v in VARIANTS:
            cells = [f"{m:.4f} ± {(hi - lo) / 2:.4f}" for m, lo, hi in (s["variants"][v][k] for k in SHOWN)]
            lines.append(f"| {v} | " + " | ".join(cells) + " |")
        g = s["reward_gap"]
        total = g["total"][0]
        lines += ["", "| team reward gap | per step | share |", "|---|---|---|"]
        for k, words in (("total", "policy to oracle"),
                         ("continuous", "mode, power, clock, mu (policy to policy_channels)"),
                         ("channels", "sub-channels and collisions (policy_channels to oracle)")):
            m, lo, hi = g[k]
            lines.append(f"| {words} | {m:.4f} ± {(hi - lo) / 2:.4f} | {100 * m / total:.0f} % |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semjax.experiments.gap", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="a sweep's output folder with kept policies (e.g. results/learners/budget)")
    parser.add_argument("--store", help="the kept policies' folder (default FOLDER/policies)")
    parser.add_argument("--method", action="append", help="only this learned method (repeatable)")
    parser.add_argument("--episodes", type=int, help="test episodes per run (default: the sweep's eval.episodes)")
    args = parser.parse_args(argv)
    if args.episodes is not None and args.episodes < 1:
        parser.error(f"--episodes must be >= 1 (got {args.episodes})")
    try:
        result = decompose(args.folder, args.store, tuple(args.method or ()), args.episodes)
    except ValueError as exc:
        parser.exit(2, f"{parser.prog}: {exc}\n")
    folder = Path(args.folder)
    write_text(folder / "gap.json", json.dumps(result, indent=2))
    write_text(folder / "gap.md", markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
