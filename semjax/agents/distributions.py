"""The hybrid action distribution: Categorical heads and a diagonal Gaussian, and the map to Actions.

A learner's raw action has two parts: ``discrete`` int (..., len(spec.discrete_sizes)) and
``continuous`` float (..., len(spec.continuous)) in [-1, 1] units (the Gaussian's sample,
unclipped; it is clipped only when mapped to the env). The joint log-prob is the sum of the
parts' log-probs; entropies are reported per part, so each gets its own coefficient.

Variants (SPEC section 7):

* hybrid, semantic: Categorical(K+1) x Gaussian(power, freq, mu)
* hybrid, semantic-unaware: Categorical(K+1) x Gaussian(power, freq); mu = 1
* discrete: Categorical(K+1) x Categorical(power bins) x Categorical(freq bins)
  [x Categorical(mu bins) when semantic]

The discrete variant's parts also have a joint encoding, one integer per UE: the row-major
(C-order) ravel of the parts' bins, choice most significant (:func:`num_actions`,
:func:`index_to_parts`, :func:`parts_to_index`, :func:`index_to_action`). D3QN's Q-network
scores these joint actions, and the framework adapters' ``discrete`` action space
(:mod:`semjax.adapters`) is this integer; both decode it here, through :func:`to_env_action`,
so the three agree on what a bin means.
"""

from __future__ import annotations

from dataclasses import dataclass

import distrax
import jax
import jax.numpy as jnp
import numpy as np

from semjax.agents.channel_access import mask_logits
from semjax.params import EnvParams
from semjax.physics import Action

_CONTINUOUS = ("power", "freq", "mu")


@dataclass(frozen=True)
class ActionHeadSpec:
    """Static description of a policy head: which parts are categorical, which Gaussian.

    ``discrete``: names of the categorical parts, the first always "choice";
    ``discrete_sizes``: their category counts; ``continuous``: names of the Gaussian dims.
    A part in neither is fixed (only mu can be: 1, conventional offloading).
    """

    discrete: tuple[str, ...]
    discrete_sizes: tuple[int, ...]
    continuous: tuple[str, ...]

    @property
    def num_logits(self) -> int:
        return sum(self.discrete_sizes)

    @property
    def num_continuous(self) -> int:
        return len(self.continuous)

    @property
    def num_outputs(self) -> int:
        return self.num_logits + self.num_continuous

    @staticmethod
    def make(
        num_channels: int,
        action_space: str = "hybrid",
        semantic: bool = True,
        bins: dict[str, int] | None = None,
    ) -> "ActionHeadSpec":
        """The head of one of the SPEC section 7 variants; ``bins`` per part for ``discrete``."""
        parts = ("power", "freq", "mu") if semantic else ("power", "freq")
        if action_space == "hybrid":
            return ActionHeadSpec(("choice",), (num_channels + 1,), parts)
        if action_space == "discrete":
            bins = dict(bins or {})
            sizes = []
            for name in parts:
                if name not in bins:
                    raise ValueError(f"discrete action space needs bins.{name}")
                if int(bins[name]) < 2:
                    raise ValueError(f"bins.{name} must be >= 2 (got {bins[name]})")
                sizes.append(int(bins[name]))
            return ActionHeadSpec(("choice",) + parts, (num_channels + 1, *sizes), ())
        raise ValueError(f"action_space must be 'hybrid' or 'discrete' (got {action_space!r})")


def _split_logits(spec: ActionHeadSpec, logits: jax.Array) -> list[jax.Array]:
    edges, acc = [], 0
    for size in spec.discrete_sizes[:-1]:
        acc += size
        edges.append(acc)
    return jnp.split(logits, edges, axis=-1)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class HybridDistribution:
    """Categorical parts (one logits array each) and an optional diagonal Gaussian."""

    logits: tuple[jax.Array, ...]
    mean: jax.Array  # (..., num_continuous)
    log_std: jax.Array  # (..., num_continuous)

    @staticmethod
    def from_outputs(spec: ActionHeadSpec, outputs: jax.Array, log_std: jax.Array) -> "HybridDistribution":
        """Splits a head's flat output (..., spec.num_outputs) into its parts."""
        logits = tuple(_split_logits(spec, outputs[..., : spec.num_logits]))
        mean = outputs[..., spec.num_logits :]
        return HybridDistribution(logits, mean, jnp.broadcast_to(log_std, mean.shape))

    def with_choice_mask(self, available: jax.Array) -> "HybridDistribution":
        """The same distribution with the choice part restricted to ``available`` (..., K+1)
        (sequential sub-channel access, :mod:`semjax.agents.channel_access`)."""
        return HybridDistribution((mask_logits(self.logits[0], available),) + self.logits[1:], self.mean, self.log_std)

    def _categoricals(self):
        return [distrax.Categorical(logits=lg) for lg in self.logits]

    def _gaussian(self):
        return distrax.MultivariateNormalDiag(self.mean, jnp.exp(self.log_std))

    @property
    def has_continuous(self) -> bool:
        return self.mean.shape[-1] > 0

    def sample(self, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(discrete int (..., H), continuous (..., C)) with the Gaussian sample unclipped."""
        keys = jax.random.split(key, len(self.logits) + 1)
        discrete = jnp.stack([c.sample(seed=k) for c, k in zip(self._categoricals(), keys)], axis=-1)
        if self.has_continuous:
            continuous = self._gaussian().sample(seed=keys[-1])
        else:
            continuous = self.mean
        return discrete.astype(jnp.int32), continuous

    def mode(self) -> tuple[jax.Array, jax.Array]:
        """The deterministic action: argmax of every Categorical, the Gaussian mean."""
        discrete = jnp.stack([jnp.argmax(lg, axis=-1) for lg in self.logits], axis=-1)
        return discrete.astype(jnp.int32), self.mean

    def log_prob(self, discrete: jax.Array, continuous: jax.Array) -> jax.Array:
        """Joint log-prob: sum over the Categoricals plus the Gaussian (of the unclipped sample)."""
        total = sum(c.log_prob(discrete[..., i]) for i, c in enumerate(self._categoricals()))
        if self.has_continuous:
            total = total + self._gaussian().log_prob(continuous)
        return total

    def entropy_discrete(self) -> jax.Array:
        return sum(c.entropy() for c in self._categoricals())

    def entropy_continuous(self) -> jax.Array:
        if not self.has_continuous:
            return jnp.zeros(self.mean.shape[:-1])
        return self._gaussian().entropy()


def _bounds(params: EnvParams, name: str) -> tuple[jax.Array, jax.Array]:
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    if name == "power":
        return f32(params.power_min), f32(params.power_max)
    if name == "freq":
        return f32(params.freq_min), f32(params.freq_max)
    return f32(params.mu_min), jnp.float32(1.0)


def to_env_action(spec: ActionHeadSpec, discrete: jax.Array, continuous: jax.Array, params: EnvParams) -> Action:
    """Maps a raw action (..., parts) to the env's physical Action.

    Gaussian dims: clip to [-1, 1], then affinely onto [lo, hi]. Binned dims: bin b of B is
    lo + b (hi - lo) / (B - 1) (both ends included: mu's last bin is 1, a raw upload).
    A part in neither is fixed: mu = 1 (semantic-unaware).
    """
    values = {}
    for name in _CONTINUOUS:
        lo, hi = _bounds(params, name)
        if name in spec.continuous:
            u = jnp.clip(continuous[..., spec.continuous.index(name)], -1.0, 1.0)
            values[name] = lo + 0.5 * (u + 1.0) * (hi - lo)
        elif name in spec.discrete:
            i = spec.discrete.index(name)
            frac = discrete[..., i].astype(jnp.float32) / (spec.discrete_sizes[i] - 1)
            values[name] = lo + frac * (hi - lo)
        elif name == "mu":
            values[name] = jnp.ones(discrete.shape[:-1], jnp.float32)
        else:
            raise ValueError(f"action head has no part for {name!r}")
    return Action(choice=discrete[..., 0], power=values["power"], freq=values["freq"], mu=values["mu"])


# ----------------------------------------------------------------------------- the joint discrete action


def num_actions(spec: ActionHeadSpec) -> int:
    """The number of joint discrete actions: the product of the parts' category counts."""
    return int(np.prod(spec.discrete_sizes))


def index_to_parts(spec: ActionHeadSpec, index: jax.Array) -> jax.Array:
    """Joint action index (...,) -> per-part bins (..., len(spec.discrete)), choice first."""
    return jnp.stack(jnp.unravel_index(index, spec.discrete_sizes), axis=-1).astype(jnp.int32)


def parts_to_index(spec: ActionHeadSpec, parts: jax.Array) -> jax.Array:
    """The inverse of ``index_to_parts``."""
    return jnp.ravel_multi_index(tuple(parts[..., i] for i in range(parts.shape[-1])), spec.discrete_sizes,
                                 mode="wrap").astype(jnp.int32)


def index_to_action(spec: ActionHeadSpec, index: jax.Array, params: EnvParams) -> Action:
    """Joint action indices (..., N) -> the env's Action, through discrete MAPPO's bin map."""
    parts = index_to_parts(spec, index)
    return to_env_action(spec, parts, jnp.zeros(parts.shape[:-1] + (0,), jnp.float32), params)
