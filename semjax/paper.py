"""``semjax paper``: the paper's experiments (SPEC section 9) in one command.

Every learned method is trained on several seeds at once (one program, vmapped over seeds);
the retrain-per-setting figures vmap training over the traced env params too (mu_min, QoE
weights) and loop only over shapes (N for Fig. 10). Every evaluation of a method, at the
default world and under every evaluation-only sweep (Figs. 8, 9, 13, 17), is one compiled
program mapped over the stacked param sets, with the same test key for every method (common
random numbers: identical worlds, fading and task queues).

Outputs in ``--out``: one PNG and one tidy CSV per figure (mean and a 95 % Student-t interval
over seeds), ``results.json`` (schema in ``write_results``), ``RESULTS.md`` (our numbers
beside the paper's, and the checks of the paper's qualitative claims), ``config.yaml`` and
``versions.json``.

Several processes may run on one output folder (``semjax paper --out DIR`` in each): every
training program is run first (``PaperRun.train_ahead``), each process taking those no other
has claimed, and the later stages read the policies back, waiting for any still running
elsewhere. Programs are seeded and labelled, so each process writes the results one process
alone would have written.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import math
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from omegaconf import OmegaConf

from semjax.agents import d3qn, heuristics, mappo
from semjax.agents.oracle import OracleConfig, count_assignments, oracle
from semjax.config import build_env, load_config, versions
from semjax.env import SemanticMEC
from semjax.evaluation import METRICS, rollout, summarize
from semjax.params import EnvParams
from semjax.run_cache import RunCache

# One line per program (start, end, seconds) for runs without a terminal, where the bars are off.
log = logging.getLogger(__name__)

LEARNED = {
    # name: (algorithm, train overrides on top of the config's train section)
    "mappo": ("mappo", {"action_space": "hybrid", "semantic": True}),
    "mappo_discrete": ("mappo", {"action_space": "discrete", "semantic": True}),
    "mappo_unaware": ("mappo", {"action_space": "hybrid", "semantic": False}),
    "d3qn": ("d3qn", {"semantic": True}),
    "d3qn_unaware": ("d3qn", {"semantic": False}),
}
FIXED = ("local", "random", "raw_offload", "greedy", "oracle")
METHODS = tuple(LEARNED) + FIXED
MACHINE_KEYS = ("cpu", "platform")  # of ``versions()``: where a program ran, not what decides its numbers
PREFERENCES = {"none": (1 / 3, 1 / 3, 1 / 3), "delay": (1.0, 0.0, 0.0), "energy": (0.0, 1.0, 0.0), "accuracy": (0.0, 0.0, 1.0)}

# The paper's numbers (Sec. V), for RESULTS.md.
PAPER = {
    "gain_vs_mappo_unaware": 0.1268,
    "gain_vs_d3qn_unaware": 0.1448,
    "local_qoe": 0.5,
    "table5": {  # latency ms, energy J, accuracy %
        "none": (0.523, 0.0186, 51.37),
        "delay": (0.369, 0.0192, 43.08),
        "energy": (3.50, 0.0163, 56.85),
        "accuracy": (1.67, 0.0682, 71.99),
    },
}


@dataclass(frozen=True)
class PaperBudget:
    """How much of everything one run does."""

    seeds: int
    episodes: int  # test episodes at the default world
    sweep_episodes: int  # test episodes at each point of an evaluation sweep
    mappo: dict  # train overrides for the MAPPO variants
    d3qn: dict  # train overrides for the D3QN variants
    retrain: dict  # train overrides (MAPPO) for the retrain-per-setting figures
    retrain_methods: tuple[str, ...]
    num_ues: tuple[int, ...]  # Fig. 10
    mu_min: tuple[float, ...]  # Fig. 11
    weight_steps: tuple[float, ...]  # Figs. 14-16: the first weight of each pair
    bandwidth: tuple[float, ...] = (2.5e6, 5e6, 7.5e6, 10e6, 15e6, 20e6)  # Fig. 8
    noise_power: tuple[float, ...] = (1e-3, 2e-3, 4e-3, 6e-3, 8e-3, 10e-3)  # Fig. 9
    slope_scales: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)  # Fig. 17
    oracle: OracleConfig = field(default_factory=OracleConfig)
    oracle_max_assignments: int = 5000  # Fig. 10: the oracle only where it stays cheap
    # Runs (settings x seeds) per retraining program; None: one program per method and figure.
    # Every program is cached on its own, so this bounds the work an interrupted run loses.
    max_runs_per_program: int | None = None


# configs/paper.yaml's CPU settings (width 64, lr 3e-4, entropy 0.01; README explains why).
_CPU_MAPPO = {"hidden": 64, "lr": 3e-4, "ent_coef": 0.01, "ent_coef_continuous": 0.0}

BUDGETS = {
    "full": PaperBudget(
        seeds=3,
        episodes=200,
        sweep_episodes=200,
        mappo=_CPU_MAPPO | {"num_updates": 2000, "num_envs": 64},
        d3qn={},
        retrain=_CPU_MAPPO | {"num_updates": 1000, "num_envs": 64},
        retrain_methods=("mappo", "mappo_discrete", "mappo_unaware", "d3qn", "d3qn_unaware"),
        num_ues=(2, 4, 6, 8, 10),
        mu_min=(0.1, 0.3, 0.5, 0.7, 0.9),
        weight_steps=(0.0, 0.25, 0.5, 0.75, 1.0),
        # 2 settings x 3 seeds: about half an hour per program on a 2-core CPU (the 13 weight
        # vectors in one program would take about 3.5 hours there).
        max_runs_per_program=6,
    ),
    "quick": PaperBudget(
        seeds=2,
        episodes=100,
        sweep_episodes=40,
        mappo=_CPU_MAPPO | {"num_updates": 150, "num_envs": 32},
        d3qn={"num_updates": 150, "num_envs": 16, "learning_starts": 1000, "hidden": 64},
        retrain=_CPU_MAPPO | {"num_updates": 100, "num_envs": 32},
        retrain_methods=("mappo", "mappo_unaware"),
        num_ues=(2, 4, 6),
        mu_min=(0.1, 0.5, 0.9),
        # Table V plus one mid point per pair; the end points are Table V's own runs, so the
        # curves of Figs. 14-16 have three points for the cost of one.
        weight_steps=(0.0, 0.5, 1.0),
        oracle=OracleConfig(local_freq_points=17, raw_power_points=17, power_points=6, freq_points=3,
                            mu_points=10, refine_steps=15),
    ),
}


# ----------------------------------------------------------------------------- progress


class _Bar:
    """One tqdm bar per training program, fed from inside the compiled loop.

    Under vmap the callback may run once per batch element: the bar shows the furthest update.
    """

    def __init__(self, desc: str, total: int, enabled: bool):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="upd", disable=not enabled, file=sys.stderr,
                        dynamic_ncols=True, leave=False)

    def __call__(self, update, metrics):
        self.bar.n = max(self.bar.n, int(np.max(np.asarray(update))))
        self.bar.set_postfix(reward=f"{float(np.mean(np.asarray(metrics['reward']))):.3f}", refresh=False)
        self.bar.refresh()

    def close(self):
        self.bar.close()


# ----------------------------------------------------------------------------- methods


def train_config(cfg, name: str, overrides: dict):
    """The algorithm config of a learned method: the config's train section, then the method's."""
    algo, method = LEARNED[name]
    base = OmegaConf.to_container(cfg.train, resolve=True)
    if algo == "mappo":
        return mappo.MAPPOConfig.from_dict(base | overrides | method)
    # D3QN takes only the problem's settings from MAPPO's train section; its network and
    # schedule are its own (D3QNConfig defaults, then the budget's overrides).
    shared = {k: base[k] for k in ("gamma", "reward_clip", "bins") if k in base}
    return d3qn.D3QNConfig.from_dict(shared | overrides | method)


def _module(config):
    return mappo if isinstance(config, mappo.MAPPOConfig) else d3qn


def _policy_params(config, runner):
    return runner.actor.params if isinstance(config, mappo.MAPPOConfig) else runner.q.params


def train_seeds(config, env: SemanticMEC, params: EnvParams, keys: jax.Array, desc: str, progress: bool,
                param_batch: EnvParams | None = None, param_axes=None):
    """Trains one method on every key (and every param set of ``param_batch``) in one program.

    Returns (policy params batched over (P,) S, metrics dict of arrays (P,) S x updates).
    """
    module = _module(config)
    bar = _Bar(desc, config.num_updates, progress)

    def one(p, key):
        # No host callback at all without a bar: one less thing inside the compiled loop.
        runner, metrics = module.make_train(config, env, p, progress=bar if progress else None)(key)
        return _policy_params(config, runner), metrics

    over_seeds = jax.vmap(one, in_axes=(None, 0))
    if param_batch is None:
        program = jax.jit(lambda k: over_seeds(params, k))
        out = program(keys)
    else:
        program = jax.jit(jax.vmap(over_seeds, in_axes=(param_axes, None)))
        out = program(param_batch, keys)
    out = jax.block_until_ready(out)
    bar.close()
    return out


def make_evaluator(env: SemanticMEC, policy_of: Callable, episodes: int, recurrent: bool):
    """``run(policy_params, env_params, key) -> (overall, per_task)``, jittable.

    ``policy_of(policy_params)`` builds ``(policy, initial_carry)``; the carry is used only if ``recurrent``.
    """

    def run(policy_params, env_params, key):
        policy, carry = policy_of(policy_params)
        if not recurrent:
            carry = None
        return summarize(env, env_params, rollout(env, env_params, policy, key, episodes, carry))

    return run


def _stack(param_sets: list[EnvParams]) -> EnvParams:
    """One EnvParams whose leaves carry a leading axis over the sets (JAX's rebuild skips validation)."""
    return jax.tree.map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *param_sets)


def evaluate_many(env, name: str, config, policy_params, param_sets: list[EnvParams], key, episodes: int,
                  oracle_config: OracleConfig, paired: bool = False):
    """Every param set x every seed of one method; returns (overall, per_task) with leading (X, S) axes.

    ``policy_params`` has a leading seed axis (S, ...), or (X, S, ...) with ``paired``: policy i
    (trained under param set i) is evaluated at param set i. Fixed methods have no seed axis:
    it is added as size 1. One compiled program; ``lax.map`` keeps one param set in memory at a time.
    """
    batch = _stack(param_sets)
    if name in LEARNED:
        module = _module(config)
        recurrent = isinstance(config, mappo.MAPPOConfig)
        run = make_evaluator(env, lambda pp: module.make_policy(config, env, pp), episodes, recurrent)
        per_seed = jax.vmap(run, in_axes=(0, None, None))
        if paired:
            program = jax.jit(lambda pp, b, k: jax.lax.map(lambda xs: per_seed(xs[0], xs[1], k), (pp, b)))
        else:
            program = jax.jit(lambda pp, b, k: jax.lax.map(lambda p: per_seed(pp, p, k), b))
        return jax.device_get(program(policy_params, batch, key))
    policy = oracle(env, oracle_config) if name == "oracle" else heuristics.HEURISTICS[name](env)
    run = make_evaluator(env, lambda _: (policy, None), episodes, recurrent=False)
    program = jax.jit(lambda b, k: jax.lax.map(lambda p: run(None, p, k), b))
    out = jax.device_get(program(batch, key))
    return jax.tree.map(lambda x: np.asarray(x)[:, None], out)


# ----------------------------------------------------------------------------- statistics


def _t975(dof: int) -> float:
    # Student-t 0.975 quantiles for small seed counts (scipy is not a dependency).
    table = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}
    return table.get(dof, 1.96 if dof > 30 else 2.1)


def mean_ci(values) -> tuple[float, float]:
    """Mean and the half-width of a 95 % Student-t interval over the last axis (0 for one value)."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    if v.size == 1:
        return float(v[0]), 0.0
    return float(v.mean()), float(_t975(v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))


def _summary_json(overall: dict, per_task: list, names, episodes: int, num_ues: int) -> dict[str, Any]:
    """Evaluation JSON (as ``semjax.evaluation.evaluate``) from arrays with a seed axis: the mean
    over seeds, plus ``ci95`` half-widths and the per-seed values."""
    def clean(x):
        return None if not np.isfinite(x) else float(x)

    out = {}
    for k in METRICS:
        m, h = mean_ci(overall[k])
        out[k] = clean(m)
        out.setdefault("ci95", {})[k] = clean(h)
    out["reward_per_ue"] = None if out["reward"] is None else out["reward"] / num_ues
    out["per_task"] = {
        name: {k: clean(mean_ci(per_task[m][k])[0]) for k in METRICS} for m, name in enumerate(names)
    }
    out["seeds"] = {k: [clean(x) for x in np.asarray(overall[k]).ravel()] for k in ("qoe", "reward")}
    out["episodes"] = episodes
    return out


# ----------------------------------------------------------------------------- output


def write_atomic(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` whole: processes sharing an output folder each write the summaries."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _write_rows(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _line_figure(path: Path, title: str, xlabel: str, series: dict[str, tuple], ylabel: str = "QoE",
                 logx: bool = False) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, (x, mean, half) in series.items():
        x, mean, half = map(np.asarray, (x, mean, half))
        ax.plot(x, mean, marker="o", ms=3, label=label)
        if np.any(half > 0):
            ax.fill_between(x, mean - half, mean + half, alpha=0.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logx:
        ax.set_xscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------- the run


class TimeLimitReached(Exception):
    """``stop_after`` ran out before ``label`` started; every finished program is in the cache."""

    def __init__(self, label: str, done: int):
        super().__init__(f"time limit reached before {label!r} ({done} programs done or loaded); "
                         "rerun the same command to resume")
        self.label, self.done = label, done


class PaperRun:
    """State of one ``semjax paper`` run; ``run()`` does everything in order."""

    def __init__(self, out: str | Path, quick: bool = False, config: str | Path | None = None,
                 overrides: tuple[str, ...] = (), seeds: int | None = None, progress: bool | None = None,
                 budget: PaperBudget | None = None, resume: bool = True, fresh: bool = False,
                 across_machines: bool = False, stop_after: float | None = None):
        self.out = Path(out)
        self.budget = budget or BUDGETS["quick" if quick else "full"]
        if seeds is not None:
            if seeds < 1:
                raise ValueError(f"--seeds must be >= 1 (got {seeds})")
            self.budget = dataclasses.replace(self.budget, seeds=seeds)
        self.quick = quick
        self.cfg = load_config(config, overrides)
        self.env, self.params = build_env(self.cfg)
        self.progress = sys.stderr.isatty() if progress is None else progress
        seed = int(self.cfg.seed)
        self.train_keys = jax.random.split(jax.random.fold_in(jax.random.key(seed), 1), self.budget.seeds)
        self.eval_key = jax.random.fold_in(jax.random.key(seed), 0x7E57)
        self.names = self.env.profile.names or tuple(f"type{m}" for m in range(self.env.num_task_types))
        self.trained: dict[str, tuple[Any, Any, dict]] = {}  # name -> (config, policy params, metrics)
        self.results: dict[str, Any] = {"methods": {}, "table5": {}, "figures": {}}
        self.timings: dict[str, float] = {}
        # Every training and evaluation program's output is kept under OUT/cache as it finishes,
        # so that a rerun with the same --out resumes (the full budget runs for hours).
        self.resume, self.fresh, self.across_machines = resume, fresh, across_machines
        if stop_after is not None and not stop_after > 0:
            raise ValueError(f"--stop-after must be > 0 seconds (got {stop_after})")
        if stop_after is not None and not resume:
            raise ValueError("--stop-after needs the run cache (it cannot be combined with --no-resume)")
        # No program starts after this time (a job's time limit): finished ones stay cached.
        self.stop_at = None if stop_after is None else time.monotonic() + stop_after
        self.cache: RunCache | None = None
        self.poll_s = 10.0  # how often to look for a program another process is computing

    def fingerprint(self) -> dict[str, Any]:
        """Everything that decides the numbers: a cache written under another fingerprint is not resumed."""
        budget = dataclasses.asdict(self.budget)
        # How settings are grouped into programs is not: each chunk's label names its settings.
        budget.pop("max_runs_per_program")
        return {
            "config": OmegaConf.to_container(self.cfg, resolve=True),
            "budget": budget,
            "versions": {k: v for k, v in versions().items() if k not in ("date", *MACHINE_KEYS)},
        }

    @staticmethod
    def machine() -> dict[str, str]:
        """Where the programs run: kept apart from the fingerprint (see ``semjax.run_cache``)."""
        return {k: versions()[k] for k in MACHINE_KEYS}

    # -- helpers

    def _config(self, name: str, retrain: bool = False):
        algo = LEARNED[name][0]
        overrides = self.budget.mappo if algo == "mappo" else self.budget.d3qn
        if retrain and algo == "mappo":
            overrides = self.budget.retrain
        return train_config(self.cfg, name, dict(overrides))

    def _eval(self, env, name, config, pp, param_sets, episodes, paired=False):
        return evaluate_many(env, name, config, pp, param_sets, self.eval_key, episodes, self.budget.oracle, paired)

    def _open_cache(self) -> RunCache:
        if self.cache is None:
            self.cache = RunCache(self.out / "cache", self.fingerprint(), fresh=self.fresh, enabled=self.resume,
                                  machine=self.machine(), across_machines=self.across_machines)
        return self.cache

    def _check_time(self, label: str) -> None:
        if self.stop_at is not None and time.monotonic() >= self.stop_at:
            done = set(self.timings) | (self.cache.computed if self.cache is not None else set())
            raise TimeLimitReached(label, len(done))

    def _timed(self, label: str, fn):
        """``fn()`` (one compiled program), stored under ``label`` in the run cache or loaded from it.

        A program another process has claimed is waited for, not computed twice. The recorded
        time is the program's own, also when it was loaded from an earlier invocation.
        """
        cache = self._open_cache()
        waiting = False
        while not cache.has(label):
            owner = cache.claimed_by_other(label)
            if owner is None:
                self._check_time(label)
                if cache.claim(label):
                    log.info("%s: started", label)
                    break
                continue  # another process claimed it just now
            self._check_time(label)
            if not waiting:
                log.info("%s: waiting for process %s on %s (since %s); if it is gone, delete %s", label,
                         owner.get("pid"), owner.get("host"), owner.get("since"), cache.claim_path(label))
                waiting = True
            time.sleep(self.poll_s)
        else:
            if label not in cache.computed:
                log.info("%s: loaded from %s", label, cache.folder)
        try:
            out, self.timings[label] = cache(label, fn)
        finally:
            cache.release(label)
        log.info("%s: %.0f s", label, self.timings[label])
        return out

    def train_ahead(self):
        """Runs every training program not yet stored or claimed, without keeping its result.

        With one process this only moves training before evaluation. With several on one
        output folder (each ``semjax paper --out DIR``), each trains what the others have not
        claimed, so they share the work, and the later stages find the policies stored.
        """
        cache = self._open_cache()
        jobs = [self._main_training(name) for name in LEARNED]
        for fig, param_sets, methods, env, params in self._retrain_plan():
            for name in methods:
                jobs += self._training_chunks(fig, name, self._config(name, retrain=True), env, params, param_sets)
        for label, fn in jobs:
            if cache.has(label) or cache.claimed_by_other(label) is not None:
                continue
            self._check_time(label)
            if not cache.claim(label):
                continue
            try:
                log.info("%s: started", label)
                _, seconds = cache(label, fn)
                log.info("%s: %.0f s", label, seconds)
            finally:
                cache.release(label)

    # -- stages

    def _main_training(self, name: str) -> tuple[str, Callable]:
        """(label, program) of ``name``'s training in the default world."""
        config, label = self._config(name), f"train {name}"
        return label, lambda: train_seeds(config, self.env, self.params, self.train_keys, label, self.progress)

    def train_methods(self):
        for name in LEARNED:
            label, fn = self._main_training(name)
            pp, metrics = self._timed(label, fn)
            self.trained[name] = (self._config(name), pp, jax.device_get(metrics))

    def learning_curves(self):
        rows = []
        series_by_fig = {"fig6": {}, "fig7": {}}
        for name, (_, _, metrics) in self.trained.items():
            reward = np.asarray(metrics["reward"])  # (S, U): team reward per step
            fig = "fig6" if name.startswith("mappo") else "fig7"
            x = np.arange(1, reward.shape[1] + 1)
            stats = [mean_ci(reward[:, u]) for u in range(reward.shape[1])]
            series_by_fig[fig][name] = (x, [s[0] for s in stats], [s[1] for s in stats])
            for s in range(reward.shape[0]):
                rows += [{"figure": fig, "method": name, "update": int(u + 1), "seed": s, "reward": float(reward[s, u])}
                         for u in range(reward.shape[1])]
        _write_rows(self.out / "fig6_fig7_learning_curves.csv", rows)
        for fig, series in series_by_fig.items():
            title = "Fig. 6: MAPPO convergence" if fig == "fig6" else "Fig. 7: D3QN convergence"
            _line_figure(self.out / f"{fig}_convergence.png", title, "update", series, ylabel="team reward per step")
        self.results["figures"]["fig6_fig7"] = {
            name: {"final_reward": mean_ci(np.asarray(m["reward"])[:, -10:].mean(axis=1))[0]}
            for name, (_, _, m) in self.trained.items()
        }

    def evaluation_sweeps(self):
        """Default world and Figs. 8, 9, 13, 17, per method, in one program per method."""
        b, p = self.budget, self.params
        mixes = {"hybrid": p.task_mix}
        for m, task in enumerate(self.names):
            mixes[f"{task}_only"] = np.eye(self.env.num_task_types, dtype=np.float32)[m]
        sweeps = {
            "fig8": ("bandwidth", [p.replace(bandwidth=v) for v in b.bandwidth], list(b.bandwidth)),
            "fig9": ("noise_power", [p.replace(noise_power=v) for v in b.noise_power], list(b.noise_power)),
            "fig13": ("task_mix", [p.replace(task_mix=v) for v in mixes.values()], list(mixes)),
        }
        for slope in ("slope_latency", "slope_energy", "slope_accuracy"):
            base = float(getattr(p, slope))
            sweeps[f"fig17_{slope}"] = (slope, [p.replace(**{slope: base * s}) for s in b.slope_scales],
                                        [base * s for s in b.slope_scales])
        per_method = {}
        for name in METHODS:
            config, pp = (self.trained[name][0], self.trained[name][1]) if name in LEARNED else (None, None)
            default = self._timed(f"evaluate {name}", lambda: self._eval(self.env, name, config, pp, [p], b.episodes))
            overall, per_task = jax.tree.map(lambda x: np.asarray(x)[0], default)
            self.results["methods"][name] = _summary_json(overall, per_task, self.names, b.episodes, self.env.num_ues)
            sets = [ps for (_, param_sets, _) in sweeps.values() for ps in param_sets]
            per_method[name] = self._timed(f"sweeps {name}", lambda: self._eval(
                self.env, name, config, pp, sets, b.sweep_episodes))
        self._write_sweeps(sweeps, per_method)

    def _write_sweeps(self, sweeps, per_method):
        rows, offset = [], 0
        for fig, (param, param_sets, xs) in sweeps.items():
            figure = {"param": param, "x": [x if isinstance(x, str) else float(x) for x in xs], "methods": {}}
            for name, (overall, per_task) in per_method.items():
                block = {k: np.asarray(v)[offset:offset + len(xs)] for k, v in overall.items()}  # (X, S)
                stats = {k: [mean_ci(block[k][i]) for i in range(len(xs))] for k in
                         ("qoe", "reward", "latency_ms", "energy_j", "accuracy")}
                figure["methods"][name] = {k: [s[0] for s in v] for k, v in stats.items()} | {
                    "qoe_ci95": [s[1] for s in stats["qoe"]]}
                for i, x in enumerate(figure["x"]):
                    for s in range(block["qoe"].shape[1]):
                        rows.append({"figure": fig, "param": param, "x": x, "method": name, "seed": s}
                                    | {k: float(block[k][i, s]) for k in ("qoe", "reward", "latency_ms", "energy_j", "accuracy")})
            offset += len(xs)
            self.results["figures"][fig] = figure
        _write_rows(self.out / "evaluation_sweeps.csv", rows)
        titles = {"fig8": ("Fig. 8: QoE vs sub-channel bandwidth", "bandwidth (MHz)", 1e-6),
                  "fig9": ("Fig. 9: QoE vs noise power", "noise power (mW)", 1e3)}
        for fig in ("fig8", "fig9"):
            title, xlabel, scale = titles[fig]
            f = self.results["figures"][fig]
            x = np.asarray(f["x"]) * scale
            series = {n: (x, m["qoe"], m["qoe_ci95"]) for n, m in f["methods"].items()}
            _line_figure(self.out / f"{fig}.png", title, xlabel, series)
        self._bar_figure("fig13", "Fig. 13: by task type (trained on the mix)")
        fig17 = {k: v for k, v in self.results["figures"].items() if k.startswith("fig17_")}
        self._fig17(fig17)
        self._fig12()

    def _bar_figure(self, fig: str, title: str):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        f = self.results["figures"][fig]
        methods = [n for n in f["methods"] if n != "random"]
        metrics = ("qoe", "latency_ms", "energy_j", "accuracy")
        fig_, axes = plt.subplots(1, len(metrics), figsize=(14, 3.6))
        width = 0.8 / len(methods)
        for ax, metric in zip(axes, metrics):
            for i, name in enumerate(methods):
                ax.bar(np.arange(len(f["x"])) + i * width, f["methods"][name][metric], width, label=name)
            ax.set_xticks(np.arange(len(f["x"])) + 0.4 - width / 2, f["x"], fontsize=7)
            ax.set_title(metric)
        axes[0].legend(fontsize=6)
        fig_.suptitle(title)
        fig_.tight_layout()
        fig_.savefig(self.out / f"{fig}.png", dpi=120)
        plt.close(fig_)

    def _fig12(self):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        methods = [n for n in METHODS if n != "random"]
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
        for ax, metric in zip(axes, ("latency_ms", "energy_j", "accuracy")):
            vals = [self.results["methods"][n][metric] for n in methods]
            errs = [self.results["methods"][n]["ci95"][metric] or 0.0 for n in methods]
            ax.bar(range(len(methods)), vals, yerr=errs)
            ax.set_xticks(range(len(methods)), methods, rotation=45, ha="right", fontsize=7)
            ax.set_title(metric)
        fig.suptitle("Fig. 12: latency, energy and accuracy per method")
        fig.tight_layout()
        fig.savefig(self.out / "fig12.png", dpi=120)
        plt.close(fig)
        self.results["figures"]["fig12"] = {n: {k: self.results["methods"][n][k] for k in ("latency_ms", "energy_j", "accuracy", "qoe")}
                                            for n in METHODS}

    def _fig17(self, figs):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
        for ax, (key, f) in zip(axes, figs.items()):
            for name, m in f["methods"].items():
                ax.errorbar(self.budget.slope_scales, m["qoe"], yerr=m["qoe_ci95"], marker="o", ms=3, label=name)
            ax.set_xscale("log")
            ax.set_xlabel(f"{key.removeprefix('fig17_')} / default")
            ax.set_ylabel("QoE")
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=6)
        fig.suptitle("Fig. 17: sensitivity to the slopes (evaluation only)")
        fig.tight_layout()
        fig.savefig(self.out / "fig17.png", dpi=120)
        plt.close(fig)

    def _retrain(self, fig: str, param_sets: list[EnvParams], methods, env=None, params=None):
        """Retrains ``methods`` under every param set (vmapped) and evaluates each at its own set."""
        env = env or self.env
        out = {}
        for name in methods:
            config = self._config(name, retrain=True)
            pp = self._train_settings(fig, name, config, env, params or self.params, param_sets)
            res = self._timed(f"{fig} evaluate {name}", lambda: self._eval(
                env, name, config, pp, param_sets, self.budget.sweep_episodes, paired=True))
            out[name] = [jax.tree.map(lambda x: np.asarray(x)[i], res) for i in range(len(param_sets))]
        for name in ("local", "greedy", "oracle"):
            if name == "oracle" and count_assignments(env.num_ues, env.num_channels) > self.budget.oracle_max_assignments:
                continue
            res = self._timed(f"{fig} evaluate {name}", lambda: self._eval(
                env, name, None, None, param_sets, self.budget.sweep_episodes))
            out[name] = [jax.tree.map(lambda x: np.asarray(x)[i], res) for i in range(len(param_sets))]
        return out

    def _training_chunks(self, fig: str, name: str, config, env, params,
                         param_sets: list[EnvParams]) -> list[tuple[str, Callable]]:
        """(label, program) of each chunk of ``name``'s training under ``param_sets``, vmapped.

        The sets are trained in chunks of at most ``budget.max_runs_per_program`` runs, each
        its own cached program whose label names the settings it holds.
        """
        per = self.budget.max_runs_per_program
        step = len(param_sets) if per is None else max(1, per // self.budget.seeds)
        jobs = []
        for lo in range(0, len(param_sets), step):
            chunk = param_sets[lo:lo + step]
            label = f"{fig} train {name}"
            if step < len(param_sets):
                label += f" settings {lo}-{lo + len(chunk) - 1} of {len(param_sets)}"

            def program(batch=_stack(chunk), desc=label.replace(" train", "")):
                return train_seeds(config, env, params, self.train_keys, desc, self.progress,
                                   param_batch=batch, param_axes=jax.tree.map(lambda _: 0, batch))

            jobs.append((label, program))
        return jobs

    def _train_settings(self, fig: str, name: str, config, env, params, param_sets: list[EnvParams]):
        """Policy params (P, S, ...) of ``name`` trained under every param set (see ``_training_chunks``)."""
        parts = [self._timed(label, fn)[0] for label, fn in self._training_chunks(fig, name, config, env, params, param_sets)]
        return parts[0] if len(parts) == 1 else jax.tree.map(lambda *xs: np.concatenate(xs), *parts)

    def _weight_vectors(self) -> tuple[dict[str, tuple], dict[str, tuple[int, int]]]:
        """Every preference-weight vector by name (Table V's and Figs. 14-16's), and the figures' pairs."""
        weights = dict(PREFERENCES)
        pairs = {"fig14": (0, 2), "fig15": (1, 2), "fig16": (0, 1)}  # (latency, accuracy), (energy, accuracy), (latency, energy)
        for fig, (i, j) in pairs.items():
            for w in self.budget.weight_steps:
                vec = [0.0, 0.0, 0.0]
                vec[i], vec[j] = w, 1.0 - w
                weights[f"{fig}_{w:g}"] = tuple(vec)
        return weights, pairs

    def _retrain_plan(self) -> list[tuple[str, list[EnvParams], tuple[str, ...], SemanticMEC, EnvParams]]:
        """(figure, param sets, methods, env, params) of every retraining, in the order they run."""
        b = self.budget
        # Table V first: RESULTS.md's checks need its rows, and no other retraining result.
        weights, _ = self._weight_vectors()
        distinct = list(dict.fromkeys(weights.values()))  # Table V's four first, in order
        plan = [("weights", [self.params.replace(w_latency=w[0], w_energy=w[1], w_accuracy=w[2]) for w in distinct],
                 ("mappo",), self.env, self.params)]
        # Fig. 11: mu_min (traced: one program per method)
        plan.append(("fig11", [self.params.replace(mu_min=v) for v in b.mu_min],
                     tuple(m for m in b.retrain_methods if LEARNED[m][1].get("semantic", True)), self.env, self.params))
        # Fig. 10: N = K (shapes change: one program per N)
        for n in b.num_ues:
            env = SemanticMEC(num_ues=n, num_channels=n, queue_len=self.env.queue_len, profile=self.env.profile)
            plan.append((f"fig10_N{n}", [self.params], tuple(b.retrain_methods), env, self.params))
        return plan

    def retrain_figures(self):
        b = self.budget
        plan = self._retrain_plan()
        weights, mu, per_n_plan = plan[0], plan[1], plan[2:]
        self._retrain_weights(weights[1])
        res = self._retrain(*mu)
        self._record_retrain("fig11", "mu_min", list(b.mu_min), res)
        per_n = {}
        for entry in per_n_plan:
            for name, r in self._retrain(*entry).items():
                per_n.setdefault(name, []).append(r[0])
        self._record_retrain("fig10", "num_ues", list(b.num_ues), per_n)

    def _retrain_weights(self, w_sets: list[EnvParams]):
        """Table V and Figs. 14-16: MAPPO retrained under each preference-weight vector (traced).

        A pair's end points are Table V's single-objective rows (Fig. 14 at w = 0 is the
        accuracy preference, for example): each distinct weight vector is trained once and
        its run is shared, since the same weights and seeds make the same experiment.
        ``w_sets`` holds the distinct vectors in ``_retrain_plan``'s order.
        """
        b = self.budget
        weights, pairs = self._weight_vectors()
        distinct = list(dict.fromkeys(weights.values()))
        res = self._retrain("weights", w_sets, ("mappo",))
        run_of = {label: res["mappo"][distinct.index(w)] for label, w in weights.items()}
        for pref in PREFERENCES:
            overall, per_task = run_of[pref]
            self.results["table5"][pref] = _summary_json(overall, per_task, self.names, b.sweep_episodes, self.env.num_ues)
        for fig, (i, j) in pairs.items():
            keys = [f"{fig}_{w:g}" for w in b.weight_steps]
            self.results["figures"][fig] = {
                "weights": [list(weights[k]) for k in keys],
                "x": list(b.weight_steps),
                "mappo": {m: [mean_ci(run_of[k][0][m])[0] for k in keys]
                          for m in ("qoe", "latency_ms", "energy_j", "accuracy")},
            }
        self._weights_figure(pairs)

    def _record_retrain(self, fig, param, xs, res):
        figure = {"param": param, "x": xs, "methods": {}}
        rows = []
        for name, results in res.items():
            stats = [mean_ci(overall["qoe"]) for overall, _ in results]
            # With ``partial`` a method may cover only the first settings (the oracle stops where
            # its search grows too large): null pads its lists so every one lines up with "x".
            pad = [None] * (len(xs) - len(results))
            figure["methods"][name] = {
                "qoe": [s[0] for s in stats] + pad,
                "qoe_ci95": [s[1] for s in stats] + pad,
                "reward": [mean_ci(o["reward"])[0] for o, _ in results] + pad,
            }
            for x, (overall, _) in zip(xs, results):
                for s, v in enumerate(np.asarray(overall["qoe"]).ravel()):
                    rows.append({"figure": fig, "param": param, "x": x, "method": name, "seed": s, "qoe": float(v),
                                 "reward": float(np.asarray(overall["reward"]).ravel()[s])})
        self.results["figures"][fig] = figure
        _write_rows(self.out / f"{fig}.csv", rows)
        series = {}
        for name, m in figure["methods"].items():
            have = [i for i, q in enumerate(m["qoe"]) if q is not None]
            series[name] = tuple([v[i] for i in have] for v in (xs, m["qoe"], m["qoe_ci95"]))
        labels = {"fig10": ("Fig. 10: QoE vs number of UEs (K = N, retrained)", "N"),
                  "fig11": ("Fig. 11: QoE vs mu_min (retrained)", "mu_min")}
        _line_figure(self.out / f"{fig}.png", *labels[fig], series)

    def _weights_figure(self, pairs):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = ("w_latency", "w_energy", "w_accuracy")
        fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
        for ax, (key, (i, j)) in zip(axes, pairs.items()):
            f = self.results["figures"][key]
            ax2 = ax.twinx()
            left = ("latency_ms", "energy_j", "latency_ms")[list(pairs).index(key)]
            right = ("accuracy", "accuracy", "energy_j")[list(pairs).index(key)]
            ax.plot(f["x"], f["mappo"][left], "o-", color="C0", label=left)
            ax2.plot(f["x"], f["mappo"][right], "s--", color="C1", label=right)
            ax.set_xlabel(f"{names[i]} (= 1 - {names[j]})")
            ax.set_ylabel(left, color="C0")
            ax2.set_ylabel(right, color="C1")
            ax.set_title({"fig14": "Fig. 14", "fig15": "Fig. 15", "fig16": "Fig. 16"}[key])
        fig.tight_layout()
        fig.savefig(self.out / "fig14_16.png", dpi=120)
        plt.close(fig)

    def headline(self):
        q = {n: self.results["methods"][n]["qoe"] for n in METHODS}
        o = self.results["methods"]["oracle"]
        for name in METHODS:
            r = self.results["methods"][name]
            r["pct_of_oracle"] = {
                "qoe": 100.0 * r["qoe"] / o["qoe"],
                "reward": 100.0 * r["reward"] / o["reward"] if o["reward"] else None,
            }
        self.results["headline"] = {
            "gain_vs_mappo_unaware": (q["mappo"] - q["mappo_unaware"]) / q["mappo_unaware"],
            "gain_vs_d3qn_unaware": (q["mappo"] - q["d3qn_unaware"]) / q["d3qn_unaware"],
        }

    def _machines(self) -> list[dict[str, Any]]:
        """Each machine the programs ran on, with how many programs and their own seconds."""
        rows: list[dict[str, Any]] = []
        ran = self.cache.machines if self.cache is not None else {}
        here = self.machine()
        for label, seconds in self.timings.items():
            machine = ran.get(label, here)
            row = next((r for r in rows if r["machine"] == machine), None)
            if row is None:
                rows.append(row := {"machine": machine, "programs": 0, "seconds": 0.0})
            row["programs"] += 1
            row["seconds"] += seconds
        return rows

    def run(self) -> dict[str, Any]:
        self.out.mkdir(parents=True, exist_ok=True)
        write_atomic(self.out / "config.yaml", OmegaConf.to_yaml(self.cfg))
        write_atomic(self.out / "versions.json", json.dumps(versions(), indent=2))
        start = time.perf_counter()
        stages = [("train ahead", self.train_ahead)] if self.resume else []
        stages += [("train", self.train_methods), ("curves", self.learning_curves),
                   ("evaluate", self.evaluation_sweeps), ("retrain", self.retrain_figures), ("headline", self.headline)]
        from tqdm.auto import tqdm

        try:
            for label, stage in tqdm(stages, desc="paper", disable=not self.progress, file=sys.stderr):
                stage()
        finally:
            if self.cache is not None:
                self.cache.release_all()
        self.results["run"] = {
            "budget": "quick" if self.quick else "full",
            "seconds": time.perf_counter() - start,  # this invocation; a resumed run loaded part of the work
            "timings_s": self.timings,
            "resumed": list(self.cache.resumed) if self.cache is not None else [],
            "machines": self._machines(),
            "budget_detail": json.loads(json.dumps(dataclasses.asdict(self.budget), default=str)),
            "versions": versions() | {"cpu_count": os.cpu_count()},
        }
        write_atomic(self.out / "results.json", json.dumps(self.results, indent=2, default=_json_default))
        from semjax.results_md import write_results_md

        write_results_md(self.results, self.out / "RESULTS.md")
        return self.results


def _json_default(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x)}")
