"""A training run on disk: train a learned method with progress, then write metrics, figure,
checkpoint and evaluation.

``DIR/config.yaml`` (the resolved config), ``versions.json``, ``metrics.csv`` (one row per
update), ``learning_curve.png`` (the paper's Fig. 6 for MAPPO: reward and policy entropy per
update; Fig. 7 for D3QN: reward, TD loss and exploration), ``checkpoint/`` (orbax; written
every ``checkpoint_every`` updates) and ``eval.json`` (the greedy/deterministic policy over
``eval.episodes`` test episodes).

The run with ``seed: s`` trains from ``semjax.seeding.train_key(s)`` and is tested on
``eval_key(s)``: the same run as seed ``s`` of a sweep or of ``semjax paper``.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
from omegaconf import DictConfig, OmegaConf

from semjax.checkpoint import load_checkpoint, save_checkpoint
from semjax.config import build_env, load_config, versions
from semjax.evaluation import evaluate
from semjax.experiments.methods import D3QN, Method, method_of
from semjax.experiments.sweep import TimeLimitReached
from semjax.seeding import eval_key, train_key


class _Progress:
    """A tqdm bar fed from inside the compiled loop, once per update."""

    def __init__(self, total: int, initial: int, enabled: bool):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, initial=initial, desc="train", unit="upd", disable=not enabled,
                        file=sys.stderr, dynamic_ncols=True)

    def __call__(self, update, metrics):
        self.bar.n = int(update)
        shown = {"reward": ".3f", "qoe": ".4f", "entropy_discrete": ".3f", "epsilon": ".3f"}
        self.bar.set_postfix({k.split("_")[0]: f"{float(metrics[k]):{f}}" for k, f in shown.items() if k in metrics},
                             refresh=False)
        self.bar.refresh()

    def close(self):
        self.bar.close()


def _write_csv(path: Path, rows: dict[str, np.ndarray], start: int, append: bool) -> None:
    names = sorted(rows)
    count = len(next(iter(rows.values())))
    with path.open("a" if append else "w", newline="") as fh:
        writer = csv.writer(fh)
        if not append:
            writer.writerow(["update"] + names)
        for i in range(count):
            writer.writerow([start + i + 1] + [f"{float(rows[k][i]):.6g}" for k in names])


def read_metrics(path: str | Path) -> dict[str, np.ndarray]:
    with Path(path).open() as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.asarray([float(r[k]) for r in rows]) for k in rows[0]} if rows else {}


def plot_learning_curve(metrics: dict[str, np.ndarray], path: str | Path, title: str = "MAPPO") -> None:
    """Team reward per step and policy entropy vs update (the paper's Fig. 6)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = metrics["update"]
    fig, (ax_r, ax_e) = plt.subplots(1, 2, figsize=(10, 3.8))
    window = max(1, len(x) // 50)
    smooth = lambda y: np.convolve(y, np.ones(window) / window, mode="valid")  # noqa: E731
    ax_r.plot(x, metrics["reward"], alpha=0.3, color="C0", label="per update")
    ax_r.plot(x[window - 1:], smooth(metrics["reward"]), color="C0", label=f"mean of {window}")
    # Deep-fade penalties make early rewards huge and negative; keep the scale on the bulk.
    lo, hi = np.percentile(metrics["reward"], [2, 100])
    ax_r.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    ax_r.set(xlabel="update", ylabel="team reward per step (raw)", title=f"{title}: reward")
    ax_r.legend()
    ax_e.plot(x, metrics["entropy_discrete"], label="categorical")
    if np.any(metrics.get("entropy_continuous", np.zeros(1)) != 0):
        ax_e.plot(x, metrics["entropy_continuous"], label="Gaussian")
    ax_e.set(xlabel="update", ylabel="entropy (nats)", title=f"{title}: policy entropy")
    ax_e.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _trained(cfg: DictConfig) -> tuple[Method, Any]:
    method, config = method_of(cfg)
    if not method.learned:
        raise ValueError(f"method {method.name!r} is a fixed policy: there is nothing to train "
                         "(evaluate it with semjax demo, or in a sweep with method: NAME)")
    return method, config


def train_run(cfg: DictConfig, out: str | Path, resume: bool = False, progress: bool | None = None,
              stop_at: float | None = None) -> dict[str, Any]:
    """Trains ``cfg`` into ``out`` (resuming from ``out/checkpoint`` if ``resume``); returns eval.

    ``stop_at`` (a ``time.monotonic()`` deadline) ends the run at the first checkpoint written
    after it with :class:`~semjax.experiments.sweep.TimeLimitReached`; ``resume`` continues it.
    """
    out = Path(out)
    method, config = _trained(cfg)
    if resume and not (out / "checkpoint").is_dir():
        raise ValueError(f"cannot resume: {str(out / 'checkpoint')!r} does not exist")
    out.mkdir(parents=True, exist_ok=True)
    env, params = build_env(cfg)
    (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg))
    (out / "versions.json").write_text(json.dumps(versions(), indent=2))
    meta = {"config": OmegaConf.to_container(cfg, resolve=True)}

    key = train_key(int(cfg.seed))
    module = method.algorithm.module
    runner, done_updates = None, 0
    if resume:
        runner, saved_meta = load_checkpoint(out / "checkpoint", method, config, env, params)
        done_updates = int(saved_meta["update"])
    enabled = sys.stderr.isatty() if progress is None else progress
    bar = _Progress(config.num_updates, done_updates, enabled)
    # No host callback without a bar: one less host round trip per update, and a program with a
    # host callback cannot be kept in JAX's persistent compilation cache.
    train = module.make_train(config, env, params, progress=bar if enabled else None)
    chunk = max(1, min(int(cfg.checkpoint_every), config.num_updates))
    compiled: dict[int, Any] = {}
    start = time.perf_counter()
    while done_updates < config.num_updates:
        steps = min(chunk, config.num_updates - done_updates)
        if steps not in compiled:
            compiled[steps] = jax.jit(lambda k, r, s=steps: train(k, r, s))
        if runner is None:
            runner = jax.jit(lambda k: module.init_runner(config, env, params, k))(key)
        runner, metrics = compiled[steps](key, runner)
        metrics = jax.device_get(metrics)
        _write_csv(out / "metrics.csv", metrics, done_updates, append=done_updates > 0)
        done_updates += steps
        save_checkpoint(out / "checkpoint", runner, meta)
        if stop_at is not None and time.monotonic() >= stop_at and done_updates < config.num_updates:
            bar.close()
            raise TimeLimitReached(f"update {done_updates + 1} of {config.num_updates} (checkpoint at {done_updates})")
    bar.close()
    train_seconds = time.perf_counter() - start

    history = read_metrics(out / "metrics.csv")
    if history:
        if method.algorithm is D3QN:
            module.plot_learning_curve(history, out / "learning_curve.png", title=method.name)
        else:
            plot_learning_curve(history, out / "learning_curve.png", title=method.name)
    result = evaluate_policy(method, config, env, params, method.algorithm.policy_params(runner), int(cfg.seed),
                             int(cfg.eval.episodes))
    env_steps = config.num_updates * _env_steps_per_update(config)
    result["train"] = {"method": method.name, "updates": config.num_updates, "env_steps": env_steps,
                       "seconds": train_seconds}
    (out / "eval.json").write_text(json.dumps(result, indent=2))
    return result


def _env_steps_per_update(config) -> int:
    steps = getattr(config, "rollout_len", None) or getattr(config, "steps_per_update")
    return steps * config.num_envs


def evaluate_policy(method: Method, config, env, params, policy_params, seed: int, episodes: int) -> dict[str, Any]:
    """The method's deterministic (greedy) policy over ``episodes`` test episodes on ``eval_key(seed)``."""
    policy, carry = method.policy(config, env, policy_params)
    return evaluate(env, params, policy, eval_key(seed), episodes, initial_carry=carry)


def evaluate_run(run_dir: str | Path, episodes: int | None = None, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Evaluates a finished run's checkpoint, optionally under other env params (``params.*=...``)."""
    run_dir = Path(run_dir)
    saved = run_dir / "config.yaml"
    if not saved.is_file():
        raise ValueError(f"{str(run_dir)!r} is not a training run (missing config.yaml)")
    train_cfg = load_config(saved)
    eval_cfg = load_config(saved, overrides)
    method, config = _trained(train_cfg)
    for key in ("method", "env", method.config_section):
        if OmegaConf.to_container(OmegaConf.create({"v": train_cfg[key]})) != \
                OmegaConf.to_container(OmegaConf.create({"v": eval_cfg[key]})):
            raise ValueError(f"evaluate: {key} cannot change between training and evaluation "
                             "(the policy's shapes depend on it)")
    env, train_params = build_env(train_cfg)
    _, params = build_env(eval_cfg)
    runner, _ = load_checkpoint(run_dir / "checkpoint", method, config, env, train_params)
    count = int(eval_cfg.eval.episodes) if episodes is None else episodes
    return evaluate_policy(method, config, env, params, method.algorithm.policy_params(runner), int(eval_cfg.seed),
                           count)
