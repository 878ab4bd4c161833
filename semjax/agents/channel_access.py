"""Sequential sub-channel access: agents choose their sub-channels in turn, each among those
still free, so no two agents of an env ever choose the same one.

In the paper every agent samples its sub-channel alone and the env resolves collisions (11e):
the UE with the weaker gain loses the sub-channel and runs its task locally. Learning to split
K sub-channels between N agents that never see each other's choices is what holds MAPPO
below the per-step oracle (the oracle-gap study in docs/learners.md). Here, as in a
reservation round the base station would broadcast, the agents of an env take turns in an
order drawn anew every step; each agent's sub-channel is drawn from its own Categorical over
{local} and the sub-channels no earlier agent took (local is always free). The policy network
is unchanged and runs once for all agents; only its choice logits are masked, and the mask
each agent saw is kept so that its log-prob and entropy are those of the distribution it
sampled from.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

# A masked logit: exp underflows to exactly 0 in float32, while 0 * logit stays finite (an
# infinite one would make 0 * -inf = nan in the entropy).
MASKED_LOGIT = -1e9


def mask_logits(logits: jax.Array, available: jax.Array) -> jax.Array:
    """Logits (..., K+1) with the unavailable entries at ``MASKED_LOGIT``."""
    return jnp.where(available, logits, MASKED_LOGIT)


def sequential_choices(
    key: jax.Array, choice_logits: jax.Array, deterministic: bool = False
) -> tuple[jax.Array, jax.Array]:
    """Sub-channel choices of the N agents of E envs, taken in turn.

    ``choice_logits`` (E, N, K+1), entry 0 local. Each env's turn order is a uniform random
    permutation of its agents (from ``key``); each agent samples its choice (or, when
    ``deterministic``, takes the most likely) among local and the sub-channels still free.
    Returns (choice int32 (E, N), available bool (E, N, K+1)): what each agent could choose.
    """
    e, n, options = choice_logits.shape
    k_order, k_draw = jax.random.split(key)
    order = jax.vmap(lambda k: jax.random.permutation(k, n))(jax.random.split(k_order, e))  # (E, N)
    draw_keys = jax.random.split(k_draw, n)
    rows = jnp.arange(e)

    def turn(taken, xs):
        agent, k = xs  # agent (E,): whose turn it is in each env
        available = ~taken
        logits = mask_logits(choice_logits[rows, agent], available)
        if deterministic:
            choice = jnp.argmax(logits, axis=-1)
        else:
            choice = jax.random.categorical(k, logits, axis=-1)
        claimed = jax.nn.one_hot(choice, options, dtype=bool) & (choice > 0)[:, None]
        return taken | claimed, (choice.astype(jnp.int32), available)

    taken0 = jnp.zeros((e, options), bool)  # local (entry 0) is never taken
    _, (choices, available) = jax.lax.scan(turn, taken0, (order.T, draw_keys))  # (N turns, E, ...)
    # Back from turn order to agent order.
    choice = jnp.zeros((e, n), jnp.int32).at[rows[:, None], order].set(choices.T)
    avail = jnp.zeros((e, n, options), bool).at[rows[:, None], order].set(jnp.moveaxis(available, 0, 1))
    return choice, avail


def sequential_q_actions(
    key: jax.Array, q: jax.Array, num_choices: int, explore: jax.Array | None = None
) -> jax.Array:
    """A value-based learner's joint actions under sequential access (D3QN).

    ``q`` (E, N, A) scores joint actions whose index is choice-major, ``choice * R + rest``
    with A = ``num_choices`` * R (:mod:`semjax.agents.distributions`). Each agent, in its turn,
    takes the best joint action among those whose choice is still free. Agents flagged in
    ``explore`` (E, N) instead take a uniformly random free choice and a uniformly random rest
    (epsilon-greedy within what they could choose). Returns joint indices, int32 (E, N).
    """
    e, n, a = q.shape
    rest = a // num_choices
    q = q.reshape(e, n, num_choices, rest)
    k_turns, k_noise, k_rest = jax.random.split(key, 3)
    best_rest = jnp.argmax(q, axis=-1)  # (E, N, K+1)
    value = jnp.max(q, axis=-1)
    if explore is not None:
        # argmax of uniform noise over the free choices: a uniformly random free choice.
        value = jnp.where(explore[..., None], jax.random.uniform(k_noise, value.shape), value)
        best_rest = jnp.where(explore[..., None], jax.random.randint(k_rest, best_rest.shape, 0, rest), best_rest)
    choice, _ = sequential_choices(k_turns, value, deterministic=True)
    chosen_rest = jnp.take_along_axis(best_rest, choice[..., None], axis=-1)[..., 0]
    return (choice * rest + chosen_rest).astype(jnp.int32)
