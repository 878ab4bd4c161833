"""What every adapter shares: the two action options, and the numbers behind their spaces.

Every adapter takes ``action_space="hybrid"`` (the default) or ``"discrete"``:

- **hybrid**: the env's own action (SPEC section 2) as a dictionary with the keys
  :data:`ACTION_KEYS`: ``choice`` in {0..K} and ``power`` (W), ``freq`` (Hz), ``mu`` in
  physical units, bounded as :meth:`semjax.env.SemanticMEC.action_space` says.
- **discrete**: one integer per UE in {0..n-1}, the joint index of discrete MAPPO's bins
  (choice x power bin x freq bin [x mu bin], C-order, choice most significant), decoded by
  :func:`semjax.agents.distributions.index_to_action`, the code D3QN acts through. ``bins``
  defaults to discrete MAPPO's (``train.bins``: power 4, freq 3, mu 5; each range's ends
  included); ``semantic=False`` drops the mu part (mu = 1, a raw upload). With K = 4 and the
  default bins n = 5 x 4 x 3 x 5 = 300. This is the option for trainers that expect one
  categorical action per agent (JaxMARL's IPPO/MAPPO baselines read
  ``action_space(agent).n``).

Frameworks describe actions with their own space classes; the numbers behind those spaces
come from here, so all adapters agree with each other and with the env.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from semjax.agents.distributions import ActionHeadSpec, index_to_action
from semjax.agents.mappo import MAPPOConfig
from semjax.env import SemanticMEC
from semjax.params import EnvParams
from semjax.physics import Action

#: The keys of an action dictionary, in :class:`semjax.physics.Action` field order.
ACTION_KEYS = ("choice", "power", "freq", "mu")

#: The accepted values of every adapter's ``action_space`` option; the first is the default.
ACTION_SPACES = ("hybrid", "discrete")

#: The parts a ``bins`` mapping may name (mu only counts when ``semantic``).
BINNED_PARTS = ("power", "freq", "mu")

#: The per-UE info entries the NumPy adapters report (the JAX ones pass the whole step info).
INFO_KEYS = ("qoe", "reward", "latency", "energy", "accuracy", "offloaded", "collided", "task_type")


def action_bounds(env: SemanticMEC, params: EnvParams) -> dict[str, tuple[float, float]]:
    """The closed range of each continuous action part, as Python floats (SI units).

    Params must be concrete (not traced): spaces are built once, outside jit.
    """
    space = env.action_space(params)
    return {name: (float(lo), float(hi)) for name, (lo, hi) in
            (("power", space.power), ("freq", space.freq), ("mu", space.mu))}


def default_bins() -> dict[str, int]:
    """Discrete MAPPO's default bins (``MAPPOConfig.bins``), read from there so the two never drift."""
    return dict(MAPPOConfig().bins)


def discrete_action_spec(
    env: SemanticMEC,
    action_space: str = "hybrid",
    semantic: bool = True,
    bins: Mapping[str, int] | None = None,
    owner: str = "adapter",
) -> ActionHeadSpec | None:
    """Validates an adapter's action options; the discrete codec's head, or None for hybrid.

    ``bins`` may name some of :data:`BINNED_PARTS`; the others keep :func:`default_bins`
    (as a ``train.bins.power=8`` override does for MAPPO). The spec is
    ``ActionHeadSpec.make(K, "discrete", semantic, bins)``, discrete MAPPO's head.

    Raises:
      ValueError: naming ``owner``'s option and its accepted values: an ``action_space`` not
        in :data:`ACTION_SPACES`, a non-bool ``semantic``, an unknown bins part or a count that
        is not an integer >= 2, or ``semantic``/``bins`` given with the hybrid action (they
        shape only the discrete one).
    """
    if not isinstance(action_space, str) or action_space not in ACTION_SPACES:
        raise ValueError(f"{owner}.action_space must be one of {list(ACTION_SPACES)} (got {action_space!r})")
    if not isinstance(semantic, bool):
        raise ValueError(f"{owner}.semantic must be True or False (got {semantic!r})")
    if action_space == "hybrid":
        if bins is not None or not semantic:
            raise ValueError(
                f"{owner}.semantic and {owner}.bins apply only to action_space='discrete' "
                f"(the hybrid action sets power, freq and mu itself)"
            )
        return None
    if bins is not None and not isinstance(bins, Mapping):
        raise ValueError(f"{owner}.bins must be a mapping of {list(BINNED_PARTS)} to bin counts (got {bins!r})")
    chosen = {**default_bins(), **dict(bins or {})}
    unknown = sorted(set(chosen) - set(BINNED_PARTS))
    if unknown:
        raise ValueError(f"{owner}.bins has unknown part(s) {unknown}; accepted: {list(BINNED_PARTS)}")
    for name, count in chosen.items():
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 2:
            raise ValueError(f"{owner}.bins.{name} must be an integer >= 2 (got {count!r})")
    return ActionHeadSpec.make(env.num_channels, "discrete", semantic, {k: int(v) for k, v in chosen.items()})


def action_from_dict(action: Mapping[str, Any] | Action) -> Action:
    """A :class:`semjax.physics.Action` from a dictionary with the keys :data:`ACTION_KEYS`.

    Raises:
      ValueError: when a key is missing or unknown (names both sets).
    """
    if isinstance(action, Action):
        return action
    keys = set(action)
    if keys != set(ACTION_KEYS):
        raise ValueError(
            f"an action must have exactly the keys {list(ACTION_KEYS)} "
            f"(missing {sorted(set(ACTION_KEYS) - keys)}, unknown {sorted(keys - set(ACTION_KEYS))})"
        )
    return Action(
        choice=jnp.asarray(action["choice"], jnp.int32),
        power=jnp.asarray(action["power"], jnp.float32),
        freq=jnp.asarray(action["freq"], jnp.float32),
        mu=jnp.asarray(action["mu"], jnp.float32),
    )


def stack_agent_actions(actions: Mapping[str, Mapping[str, Any]], agents: list[str], xp: Any = jnp) -> dict[str, Any]:
    """Per-agent action dictionaries -> one dictionary of (N,) arrays, in ``agents`` order.

    ``xp`` is the array module: ``jax.numpy`` under jit, ``numpy`` at a NumPy boundary.

    Raises:
      ValueError: when an agent has no action, or its action lacks or adds a key.
    """
    _check_agents(actions, agents)
    for a in agents:
        keys = set(actions[a])
        if keys != set(ACTION_KEYS):
            raise ValueError(
                f"the action of {a} must have exactly the keys {list(ACTION_KEYS)} "
                f"(missing {sorted(set(ACTION_KEYS) - keys)}, unknown {sorted(keys - set(ACTION_KEYS))})"
            )
    return {k: xp.stack([xp.asarray(actions[a][k]).reshape(()) for a in agents]) for k in ACTION_KEYS}


def stack_agent_indices(actions: Mapping[str, Any], agents: list[str], xp: Any = jnp) -> Any:
    """Per-agent discrete actions (one integer each) -> one (N,) array, in ``agents`` order.

    Raises:
      ValueError: when an agent has no action, or an agent's action is not a single value.
    """
    _check_agents(actions, agents)
    for a in agents:
        if xp.size(xp.asarray(actions[a])) != 1:
            raise ValueError(f"the discrete action of {a} must be one integer (got shape {xp.shape(actions[a])})")
    return xp.stack([xp.asarray(actions[a]).reshape(()) for a in agents])


def _check_agents(actions: Mapping[str, Any], agents: list[str]) -> None:
    missing = [a for a in agents if a not in actions]
    if missing:
        raise ValueError(f"actions has no entry for agents {missing} (expected one per agent of {agents})")


def numpy_info(info: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The :data:`INFO_KEYS` entries of a step's info as NumPy arrays."""
    return {k: np.asarray(info[k]) for k in INFO_KEYS}


def check_choice(choice: Any, num_channels: int) -> None:
    """Rejects a concrete ``choice`` outside {0..K} (the env clips it only inside jit).

    Raises:
      ValueError: naming the accepted range and the values given.
    """
    c = np.asarray(choice)
    if c.size and (c.min() < 0 or c.max() > num_channels):
        raise ValueError(f"action choice must be in {{0..{num_channels}}} (got {c.tolist()})")


def check_index(index: Any, num_actions: int) -> None:
    """Rejects concrete discrete actions that are not integers in {0..n-1}.

    Inside jit nothing checks: JAX's ``unravel_index`` maps an out-of-range index onto some
    valid action (it wraps small negative indices, clips the rest) rather than failing, so
    the NumPy adapters check here, at the boundary.

    Raises:
      ValueError: naming the accepted range and the values given.
    """
    i = np.asarray(index)
    if not np.issubdtype(i.dtype, np.integer):
        raise ValueError(f"a discrete action must be an integer in {{0..{num_actions - 1}}} (got dtype {i.dtype})")
    if i.size and (i.min() < 0 or i.max() >= num_actions):
        raise ValueError(f"a discrete action must be in {{0..{num_actions - 1}}} (got {i.tolist()})")


# Compiled once per (env, params structure) and shared by every adapter instance: a
# SyncVectorEnv over B single-world adapters then compiles one program, not B.
@partial(jax.jit, static_argnums=0)
def jit_reset(env: SemanticMEC, key: jax.Array, params: EnvParams):
    """``env.reset(key, params)``, compiled."""
    return env.reset(key, params)


@partial(jax.jit, static_argnums=0, static_argnames="spec")
def jit_step_env(env: SemanticMEC, key: jax.Array, state: Any, action: Any, params: EnvParams,
                 spec: ActionHeadSpec | None = None):
    """``env.step_env(key, state, action, params)``, compiled.

    With a discrete ``spec``, ``action`` holds joint indices (..., N), decoded in the same
    program by :func:`semjax.agents.distributions.index_to_action`.
    """
    if spec is not None:
        action = index_to_action(spec, action, params)
    return env.step_env(key, state, action, params)
