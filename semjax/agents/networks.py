"""Actor and critic networks of Table III: Dense-ReLU-LayerNorm torso, GRU layers, Dense head.

Both run over a time-major sequence (T, B, features) with a ``starts`` flag (T, B): True
where the input is the first observation of an episode. The GRU carry is reset to zeros
*before* processing such an input, so a hidden state never leaks across episodes (JaxMARL's
MAPPO resets with the done flag of the wrong step).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from semjax.agents.distributions import ActionHeadSpec, HybridDistribution


class Torso(nn.Module):
    """``layers`` x (Dense(hidden) - ReLU - LayerNorm)."""

    hidden: int = 256
    layers: int = 2

    @nn.compact
    def __call__(self, x):
        for _ in range(self.layers):
            x = nn.Dense(self.hidden, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))(x)
            x = nn.LayerNorm()(nn.relu(x))
        return x


class _GRUStep(nn.Module):
    """One time step of a stack of GRU cells, resetting the carry where an episode starts."""

    hidden: int
    layers: int

    @nn.compact
    def __call__(self, carry, inputs):
        x, starts = inputs
        carry = jnp.where(starts[None, :, None], jnp.zeros_like(carry), carry)
        new_carry = []
        for layer in range(self.layers):
            h, x = nn.GRUCell(self.hidden, name=f"gru{layer}")(carry[layer], x)
            new_carry.append(h)
        return jnp.stack(new_carry), x


class RecurrentGRU(nn.Module):
    """A GRU stack scanned over time. carry (layers, B, hidden); x (T, B, F); starts (T, B)."""

    hidden: int
    layers: int = 1

    @nn.compact
    def __call__(self, carry, x, starts):
        scan = nn.scan(
            _GRUStep,
            variable_broadcast="params",
            split_rngs={"params": False},
            in_axes=0,
            out_axes=0,
        )
        return scan(self.hidden, self.layers)(carry, (x, starts))

    @staticmethod
    def initial_carry(layers: int, batch: int, hidden: int) -> jax.Array:
        return jnp.zeros((layers, batch, hidden), jnp.float32)


class Actor(nn.Module):
    """Shared actor: torso -> GRU -> Dense head giving a HybridDistribution per input."""

    spec: ActionHeadSpec
    hidden: int = 256
    mlp_layers: int = 2
    gru_layers: int = 1
    log_std_min: float = -3.0
    log_std_max: float = 0.5
    log_std_init: float = -0.5

    @nn.compact
    def __call__(self, carry, obs, starts):
        x = Torso(self.hidden, self.mlp_layers)(obs)
        carry, x = RecurrentGRU(self.hidden, self.gru_layers)(carry, x, starts)
        out = nn.Dense(self.spec.num_outputs, kernel_init=nn.initializers.orthogonal(0.01))(x)
        # log-std is state-independent and bounded smoothly (SPEC section 7 notes: an
        # unbounded one is inflated by the entropy bonus when the optimum sits on a bound).
        if self.spec.num_continuous == 0:
            # A discrete head has no Gaussian, and no parameter for it: a zero-size leaf is
            # refused by checkpoint writers (orbax) and means nothing to an optimiser.
            return carry, HybridDistribution.from_outputs(self.spec, out, jnp.zeros((0,), out.dtype))
        lo, hi = self.log_std_min, self.log_std_max
        init = float(np.log((self.log_std_init - lo) / (hi - self.log_std_init)))
        raw = self.param("log_std", nn.initializers.constant(init), (self.spec.num_continuous,))
        log_std = lo + (hi - lo) * nn.sigmoid(raw)
        return carry, HybridDistribution.from_outputs(self.spec, out, log_std)


class Critic(nn.Module):
    """Centralised critic on the world state: torso -> GRU -> Dense(1)."""

    hidden: int = 256
    mlp_layers: int = 2
    gru_layers: int = 1

    @nn.compact
    def __call__(self, carry, world_state, starts):
        x = Torso(self.hidden, self.mlp_layers)(world_state)
        carry, x = RecurrentGRU(self.hidden, self.gru_layers)(carry, x, starts)
        value = nn.Dense(1, kernel_init=nn.initializers.orthogonal(1.0))(x)
        return carry, value[..., 0]

