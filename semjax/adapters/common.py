"""What every adapter shares: the action as a dictionary, and the bounds of its parts.

Frameworks describe actions with their own space classes; the numbers behind those spaces
(bounds in physical units, the number of discrete choices) come from here, so all adapters
agree with :meth:`semjax.env.SemanticMEC.action_space`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from semjax.env import SemanticMEC
from semjax.params import EnvParams
from semjax.physics import Action

#: The keys of an action dictionary, in :class:`semjax.physics.Action` field order.
ACTION_KEYS = ("choice", "power", "freq", "mu")

#: The per-UE info entries the NumPy adapters report (the JAX ones pass the whole step info).
INFO_KEYS = ("qoe", "reward", "latency", "energy", "accuracy", "offloaded", "collided", "task_type")


def action_bounds(env: SemanticMEC, params: EnvParams) -> dict[str, tuple[float, float]]:
    """The closed range of each continuous action part, as Python floats (SI units).

    Params must be concrete (not traced): spaces are built once, outside jit.
    """
    space = env.action_space(params)
    return {name: (float(lo), float(hi)) for name, (lo, hi) in
            (("power", space.power), ("freq", space.freq), ("mu", space.mu))}


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
    missing = [a for a in agents if a not in actions]
    if missing:
        raise ValueError(f"actions has no entry for agents {missing} (expected one per agent of {agents})")
    for a in agents:
        keys = set(actions[a])
        if keys != set(ACTION_KEYS):
            raise ValueError(
                f"the action of {a} must have exactly the keys {list(ACTION_KEYS)} "
                f"(missing {sorted(set(ACTION_KEYS) - keys)}, unknown {sorted(keys - set(ACTION_KEYS))})"
            )
    return {k: xp.stack([xp.asarray(actions[a][k]).reshape(()) for a in agents]) for k in ACTION_KEYS}


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


# Compiled once per (env, params structure) and shared by every adapter instance: a
# SyncVectorEnv over B single-world adapters then compiles one program, not B.
@partial(jax.jit, static_argnums=0)
def jit_reset(env: SemanticMEC, key: jax.Array, params: EnvParams):
    """``env.reset(key, params)``, compiled."""
    return env.reset(key, params)


@partial(jax.jit, static_argnums=0)
def jit_step_env(env: SemanticMEC, key: jax.Array, state: Any, action: Action, params: EnvParams):
    """``env.step_env(key, state, action, params)``, compiled."""
    return env.step_env(key, state, action, params)
