"""Every method the paper compares, behind one small interface.

A :class:`Method` is either *learned* (it trains from a key and the env params, then acts
with what it learned) or *fixed* (a policy with nothing to train: the heuristics and the
per-step oracle). Both kinds answer the same three questions, so the experiment engine runs
any of them inside one vmapped, sharded program:

* ``method.config(cfg)``: the settings that decide its numbers, from its own config section
  (MAPPO reads ``train``, D3QN ``d3qn``, the oracle ``oracle``; the heuristics read none) plus
  the method's preset (``mappo_unaware`` is MAPPO with ``semantic=False``);
* ``method.train(config, env, params, key)``: pure and vmappable; returns ``(policy_params,
  curve)``, the trained policy's parameters and the per-update learning curve (``reward``,
  ``qoe``). Fixed methods return ``(None, None)``;
* ``method.policy(config, env, policy_params)``: ``(policy, initial_carry)`` for
  :func:`semjax.evaluation.rollout`.

Which key a run uses is :mod:`semjax.seeding`'s business, not the method's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable

import jax
import numpy as np
from omegaconf import DictConfig, OmegaConf

from semjax.agents import d3qn, heuristics, mappo
from semjax.agents.oracle import OracleConfig, oracle
from semjax.env import SemanticMEC
from semjax.params import PROFILE_FIELDS, EnvParams, load_profile

#: The learning-curve entries a method's ``train`` returns, one value per update.
CURVE_KEYS = ("reward", "qoe")


@dataclass(frozen=True)
class Algorithm:
    """A family of learners: its config section and class, and its module's functions.

    The module provides ``make_train(config, env, params, progress)``,
    ``init_runner(config, env, params, key)`` and ``make_policy(config, env, policy_params)``.
    """

    name: str
    section: str
    config_cls: type
    module: ModuleType
    # The runner's field holding the acting network's TrainState (MAPPO's actor, D3QN's Q-network).
    acting: str

    def policy_params(self, runner) -> Any:
        return getattr(runner, self.acting).params


MAPPO = Algorithm("mappo", "train", mappo.MAPPOConfig, mappo, "actor")
D3QN = Algorithm("d3qn", "d3qn", d3qn.D3QNConfig, d3qn, "q")


@dataclass(frozen=True)
class Method:
    """One entry of the registry ``METHODS`` (see the module doc)."""

    name: str
    description: str
    algorithm: Algorithm | None = None
    preset: dict = field(default_factory=dict)  # keys of the algorithm's config this method fixes
    fixed_policy: Callable | None = None  # (env, config) -> policy, for fixed methods
    section: str | None = None  # the config section a fixed method reads (the oracle's)

    @property
    def learned(self) -> bool:
        return self.algorithm is not None

    @property
    def config_section(self) -> str | None:
        """The config section that decides this method's numbers, or None for a method without settings."""
        return self.algorithm.section if self.learned else self.section

    def config(self, cfg: DictConfig):
        """The validated settings of this method in ``cfg``; errors name the config key."""
        section = self.config_section
        if section is None:
            return None
        values = OmegaConf.to_container(cfg[section], resolve=True)
        cls = self.algorithm.config_cls if self.learned else OracleConfig
        try:
            return cls(**(values | self.preset))
        except TypeError as exc:
            raise ValueError(f"config {section}: {exc}") from None
        except ValueError as exc:
            # The learners' configs name their keys train.*; D3QN's live in the d3qn section.
            raise ValueError(f"config {str(exc).replace('train.', f'{section}.', 1)}") from None

    def train(self, config, env: SemanticMEC, params: EnvParams, key: jax.Array,
              progress: Callable | None = None, shard: Callable | None = None):
        """``(policy_params, curve)`` of one training run from ``key``; pure and vmappable.

        ``shard(runner) -> runner`` may lay the initial runner out on devices (sharding
        constraints on its env axes); ``progress(update, metrics)`` is called on the host once
        per update. Fixed methods return ``(None, None)``.
        """
        if not self.learned:
            return None, None
        module = self.algorithm.module
        runner = module.init_runner(config, env, params, key)
        if shard is not None:
            runner = shard(runner)
        runner, metrics = module.make_train(config, env, params, progress=progress)(key, runner)
        return self.algorithm.policy_params(runner), {k: metrics[k] for k in CURVE_KEYS}

    def policy(self, config, env: SemanticMEC, policy_params: Any = None):
        """``(policy, initial_carry)`` for :func:`semjax.evaluation.rollout` (carry None: not recurrent)."""
        if self.learned:
            return self.algorithm.module.make_policy(config, env, policy_params)
        return self.fixed_policy(env, config), None


def _heuristic(name: str) -> Callable:
    return lambda env, config: heuristics.HEURISTICS[name](env)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("mappo", "semantic-aware MAPPO, hybrid action (the paper's method)", MAPPO,
               {"action_space": "hybrid", "semantic": True}),
        Method("mappo_discrete", "semantic-aware MAPPO, every action part discretised", MAPPO,
               {"action_space": "discrete", "semantic": True}),
        Method("mappo_unaware", "semantic-unaware MAPPO (mu = 1), hybrid action", MAPPO,
               {"action_space": "hybrid", "semantic": False}),
        Method("d3qn", "semantic-aware dueling double DQN on the joint discretised action", D3QN,
               {"semantic": True}),
        Method("d3qn_unaware", "semantic-unaware D3QN (mu = 1)", D3QN, {"semantic": False}),
        *(Method(name, (fn.__doc__ or name).strip().splitlines()[0], fixed_policy=_heuristic(name))
          for name, fn in heuristics.HEURISTICS.items()),
        Method("oracle", "the per-step oracle: each step's best team reward, full information",
               fixed_policy=lambda env, config: oracle(env, config), section="oracle"),
    )
}


def get_method(name: Any) -> Method:
    """The registered method ``name``; a ValueError lists the accepted names."""
    if not isinstance(name, str) or name not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)} (got {name!r})")
    return METHODS[name]


def method_of(cfg: DictConfig) -> tuple[Method, Any]:
    """The method a config names (its ``method`` key) and that method's validated settings."""
    method = get_method(cfg.method)
    return method, method.config(cfg)


def profile_digest(source: str) -> str:
    """A hash of the numbers of the task profile ``source`` (a built-in name or a JSON path).

    Part of a run's identity: ``env.profile`` names a file, and a new ``semjax profile`` run
    into it (semjax/profiles/measured.json) changes the world under the same name. Without the
    digest a resumed sweep would take the old world's finished rows and kept policies as its own.
    """
    profile = load_profile(source)
    values = {name: np.asarray(getattr(profile, name)).tolist() for name in PROFILE_FIELDS}
    return hashlib.sha1(json.dumps({"names": list(profile.names), **values}, sort_keys=True).encode()).hexdigest()[:16]


def settings(cfg: DictConfig, method: Method) -> dict[str, Any]:
    """The parts of ``cfg`` that decide a run of ``method`` on its own (its identity): the
    world, and the method's config section with its preset applied."""
    section = method.config_section
    out = {
        "method": method.name,
        "env": OmegaConf.to_container(cfg.env, resolve=True),
        "params": OmegaConf.to_container(cfg.params, resolve=True),
    }
    if str(cfg.env.profile) != "paper":
        # The built-in paper profile holds the paper's constants and keeps the ids it always
        # had; any other profile is a file that a new `semjax profile` run can rewrite.
        out["profile"] = profile_digest(str(cfg.env.profile))
    if section is not None:
        # An option that is off (None), or one added later (the config's LATER_OPTIONS) at its
        # default, is left out, so adding one keeps every earlier run's id (and its kept policy
        # and finished rows) valid.
        config = method.config(cfg)
        later = {f.name: f.default for f in dataclasses.fields(config) if f.name in getattr(config, "LATER_OPTIONS", ())}
        out[section] = {k: v for k, v in dataclasses.asdict(config).items()
                        if v is not None and not (k in later and v == later[k])}
    return out
