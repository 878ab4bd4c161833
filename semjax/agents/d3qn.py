"""D3QN, the paper's value-based baseline (SPEC section 7): dueling double DQN, shared by all agents.

Every UE runs the same dueling Q-network on its own observation (which carries its one-hot
id) and picks one of the discretised joint actions choice x power bin x freq bin [x mu bin],
the bins of discrete MAPPO (``ActionHeadSpec.make(K, "discrete", semantic, bins)``, mapped to
the env by ``to_env_action``). Joint index a is the row-major (C-order) ravel of the parts,
choice most significant. The semantic-unaware variant has no mu part: mu = 1 always.

What the learner optimises: like MAPPO, the team reward r = sum_n r_n with each per-UE reward
floored at ``-reward_clip`` (the latency penalty is unbounded); every agent's TD target uses
it (independent learners on a shared reward). Evaluation always reports the raw reward.

One update = ``steps_per_update`` env steps of ``num_envs`` envs, each followed by one
gradient step on a uniform minibatch from the replay buffer (once it holds
``learning_starts`` transitions). A stored transition is one env step, all N agents together:
(obs (N, D), action (N,), learning reward, done, next obs (N, D)). After an episode's last
step the env auto-resets, so next obs is then a fresh episode's; done masks it out of the target.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

import flashbax as fbx
import flax.linen as nn
import flax.struct as struct
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.train_state import TrainState

# The joint action codec lives with the other action maps; index_to_parts and parts_to_index
# are re-exported so that code importing them from here keeps working.
from semjax.agents.channel_access import sequential_q_actions
from semjax.agents.distributions import (  # noqa: F401
    ActionHeadSpec,
    index_to_action,
    index_to_parts,
    num_actions,
    parts_to_index,
)
from semjax.agents.networks import Torso
from semjax.env import EnvState, SemanticMEC
from semjax.params import EnvParams


@dataclass(frozen=True)
class D3QNConfig:
    """Hyper-parameters of D3QN; the replay size is the paper's, depth follows Table III.

    The defaults train the paper's world (N = K = 4, Q = 20) in 5-10 minutes on a shared
    2-core CPU: 3000 updates = 960k env steps and 30k gradient steps.
    """

    num_envs: int = 32
    num_updates: int = 3000
    steps_per_update: int = 10  # env steps per env in one update, one gradient step after each
    lr: float = 1e-4
    gamma: float = 0.99
    buffer_size: int = 30000  # transitions (env steps, all agents together)
    batch_size: int = 256  # transitions per gradient step
    learning_starts: int = 2000  # transitions in the buffer before the first gradient step
    target_period: int = 250  # gradient steps between target-network updates
    target_tau: float = 1.0  # 1: hard copy every period; < 1 with period 1: Polyak averaging
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_decay_fraction: float = 0.5  # of all env steps, linear
    huber_delta: float = 1.0
    max_grad_norm: float = 10.0
    reward_clip: float = 5.0  # per-UE reward floor for learning
    # Table III uses 256 units; on a 2-core CPU a gradient step of width 64 takes ~7 ms against
    # ~46 ms at 256 (batch 256 x 4 agents), so 64 gets ~6x the updates in the same time.
    hidden: int = 64
    mlp_layers: int = 2  # Table III
    semantic: bool = True  # False: mu = 1, no mu factor in the action set
    # independent: every agent takes its best joint action alone, the env resolves collisions
    # (the paper) | sequential: agents choose in turn among the free sub-channels
    # (agents/channel_access.py), in acting, exploring and in the TD target's next action
    channel_access: str = "independent"
    bins: dict = field(default_factory=lambda: {"power": 4, "freq": 3, "mu": 5})

    # Options added after run ids were first kept: left out of a run's id at their default
    # (semjax.experiments.methods.settings), so earlier runs keep theirs.
    LATER_OPTIONS: ClassVar[tuple[str, ...]] = ("channel_access",)

    def __post_init__(self):
        positive = ("num_envs", "num_updates", "steps_per_update", "buffer_size", "batch_size",
                    "learning_starts", "target_period", "hidden", "mlp_layers")
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"train.{name} must be an integer >= 1 (got {value!r})")
        if self.num_envs > self.buffer_size:
            raise ValueError(f"train.num_envs ({self.num_envs}) must be <= train.buffer_size ({self.buffer_size})")
        if self.batch_size > self.buffer_size:
            raise ValueError(f"train.batch_size ({self.batch_size}) must be <= train.buffer_size ({self.buffer_size})")
        if self.learning_starts > self.buffer_size:
            raise ValueError(
                f"train.learning_starts ({self.learning_starts}) must be <= train.buffer_size ({self.buffer_size})"
            )
        for name in ("gamma", "eps_start", "eps_end", "eps_decay_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"train.{name} must be in [0, 1] (got {getattr(self, name)})")
        if not 0.0 < self.target_tau <= 1.0:
            raise ValueError(f"train.target_tau must be in (0, 1] (got {self.target_tau})")
        for name in ("lr", "huber_delta", "max_grad_norm", "reward_clip"):
            if not getattr(self, name) > 0:
                raise ValueError(f"train.{name} must be > 0 (got {getattr(self, name)})")
        if self.channel_access not in ("independent", "sequential"):
            raise ValueError(f"train.channel_access must be one of ['independent', 'sequential'] "
                             f"(got {self.channel_access!r})")
        if not isinstance(self.semantic, bool):
            raise ValueError(f"train.semantic must be true or false (got {self.semantic!r})")
        if not isinstance(self.bins, dict):
            raise ValueError(f"train.bins must be a mapping of power/freq/mu to bin counts (got {self.bins!r})")
        try:
            ActionHeadSpec.make(1, "discrete", self.semantic, self.bins)
        except ValueError as exc:
            raise ValueError(f"train.bins: {exc}") from None

    @staticmethod
    def from_dict(values: dict) -> "D3QNConfig":
        names = {f.name for f in dataclasses.fields(D3QNConfig)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown train key(s) {unknown}; accepted: {sorted(names)}")
        return D3QNConfig(**values)


# ----------------------------------------------------------------------------- actions


def head_spec(config: D3QNConfig, env: SemanticMEC) -> ActionHeadSpec:
    """The discrete-MAPPO head whose parts D3QN enumerates jointly."""
    return ActionHeadSpec.make(env.num_channels, "discrete", config.semantic, config.bins)


# ----------------------------------------------------------------------------- network and targets


def dueling(value: jax.Array, advantage: jax.Array) -> jax.Array:
    """Q = V + A - mean_a A (Wang et al. 2016): value (..., 1), advantage (..., A)."""
    return value + advantage - jnp.mean(advantage, axis=-1, keepdims=True)


class DuelingQNetwork(nn.Module):
    """Table III's torso (Dense-ReLU-LayerNorm x layers), then a value and an advantage head."""

    num_actions: int
    hidden: int = 256
    layers: int = 2

    @nn.compact
    def __call__(self, obs):
        x = Torso(self.hidden, self.layers)(obs)
        value = nn.Dense(1, kernel_init=nn.initializers.orthogonal(1.0), name="value")(x)
        advantage = nn.Dense(self.num_actions, kernel_init=nn.initializers.orthogonal(0.01), name="advantage")(x)
        return dueling(value, advantage)


def double_q_target(reward, done, gamma, q_next_online, q_next_target, next_action=None):
    """r + gamma (1 - done) Q_target(s', argmax_a Q_online(s', a)) (van Hasselt et al. 2016).

    reward, done (B,); q_next_* (B, A). The online net picks the action, the target net values
    it; ``next_action`` (B,), when given, is the online net's pick made otherwise (sequential
    sub-channel access: the best among the choices left free).
    """
    best = jnp.argmax(q_next_online, axis=-1) if next_action is None else next_action
    value = jnp.take_along_axis(q_next_target, best[..., None], axis=-1)[..., 0]
    return reward + gamma * (1.0 - done.astype(jnp.float32)) * value


def update_target(config: D3QNConfig, online, target, grad_steps: jax.Array, trained: jax.Array):
    """After gradient step ``grad_steps`` (if ``trained``): every ``target_period`` steps,
    target <- tau online + (1 - tau) target. tau = 1 is a hard copy; period 1 with a small tau
    is Polyak averaging."""
    sync = trained & (grad_steps % config.target_period == 0)
    mixed = optax.incremental_update(online, target, config.target_tau)
    return jax.tree.map(lambda new, old: jnp.where(sync, new, old), mixed, target)


def make_network(config: D3QNConfig, env: SemanticMEC) -> DuelingQNetwork:
    return DuelingQNetwork(num_actions(head_spec(config, env)), config.hidden, config.mlp_layers)


# ----------------------------------------------------------------------------- replay and state


@struct.dataclass
class Transition:
    obs: jax.Array  # (N, D)
    action: jax.Array  # int32 (N,): joint action indices
    reward: jax.Array  # learning reward (team, clipped per UE)
    done: jax.Array  # bool: the episode ended after this step
    next_obs: jax.Array  # (N, D)


def make_buffer(config: D3QNConfig):
    """flashbax's item buffer: circular, ``buffer_size`` transitions, uniform over the filled slots."""
    return fbx.make_item_buffer(max_length=config.buffer_size, min_length=min(config.batch_size, config.learning_starts),
                                sample_batch_size=config.batch_size, add_sequences=False, add_batches=True)


@struct.dataclass
class RunnerState:
    q: TrainState
    target_params: Any
    buffer: Any  # flashbax TrajectoryBufferState of Transition
    env_state: EnvState  # batched (E,)
    obs: jax.Array  # (E, N, D)
    key: jax.Array
    env_steps: jax.Array  # int32: steps of the vectorised env so far (each is num_envs env steps)
    grad_steps: jax.Array  # int32
    update: jax.Array  # int32


def epsilon_schedule(config: D3QNConfig) -> optax.Schedule:
    """Linear decay over ``eps_decay_fraction`` of all vectorised env steps, then flat."""
    total = config.num_updates * config.steps_per_update
    return optax.linear_schedule(config.eps_start, config.eps_end, max(1, int(config.eps_decay_fraction * total)))


def _optimizer(config: D3QNConfig):
    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.adam(config.lr))


def init_runner(config: D3QNConfig, env: SemanticMEC, params: EnvParams, key: jax.Array) -> RunnerState:
    """Network, target, optimiser, an empty buffer and the first observations of ``num_envs`` envs."""
    net = make_network(config, env)
    k_net, k_env, k_run = jax.random.split(key, 3)
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_env, config.num_envs), params)
    q_params = net.init(k_net, obs[0])
    n = env.num_ues
    example = Transition(obs=obs[0], action=jnp.zeros((n,), jnp.int32), reward=jnp.zeros((), jnp.float32),
                         done=jnp.zeros((), bool), next_obs=obs[0])
    zero = jnp.zeros((), jnp.int32)
    return RunnerState(
        q=TrainState.create(apply_fn=net.apply, params=q_params, tx=_optimizer(config)),
        target_params=q_params,
        buffer=make_buffer(config).init(example),
        env_state=env_state,
        obs=obs,
        key=k_run,
        env_steps=zero,
        grad_steps=zero,
        update=zero,
    )


# ----------------------------------------------------------------------------- training


def make_train(
    config: D3QNConfig,
    env: SemanticMEC,
    params: EnvParams,
    progress: Callable[[int, dict], None] | None = None,
) -> Callable[..., tuple[RunnerState, dict]]:
    """Returns ``train(key) -> (final RunnerState, metrics per update)``, pure and jittable.

    Vmappable over seeds and over traced env params, like ``mappo.make_train``;
    ``train(key, runner, num_updates)`` resumes ``runner``. Metrics, each (num_updates,):
    ``reward`` (raw team reward per step), ``qoe``, ``offload_rate``, ``mean_mu`` (over
    offloaded tasks), ``learn_reward`` (what the learner sees), ``loss`` (mean Huber TD loss of
    the update's gradient steps; 0 before learning starts), ``q_mean`` (mean Q of the taken
    actions in the minibatches), ``epsilon`` (at the update's end). ``progress(update, metrics)``
    is called on the host once per update.
    """
    spec = head_spec(config, env)
    net = make_network(config, env)
    buffer = make_buffer(config)
    eps_at = epsilon_schedule(config)
    e, n = config.num_envs, env.num_ues
    actions = num_actions(spec)

    def td_loss(q_params, target_params, batch: Transition, key: jax.Array):
        b = batch.reward.shape[0]
        obs = batch.obs.reshape(b * n, -1)
        next_obs = batch.next_obs.reshape(b * n, -1)
        q_both = net.apply(q_params, jnp.concatenate([obs, next_obs]))  # one pass for s and s'
        q, q_next_online = q_both[: b * n], q_both[b * n:]
        q_next_target = net.apply(target_params, next_obs)
        q_next_online = jax.lax.stop_gradient(q_next_online)
        next_action = None
        if config.channel_access == "sequential":  # what the agents would take in turn at s'
            next_action = sequential_q_actions(key, q_next_online.reshape(b, n, -1), spec.discrete_sizes[0]).reshape(-1)
        target = double_q_target(jnp.repeat(batch.reward, n), jnp.repeat(batch.done, n), config.gamma,
                                 q_next_online, q_next_target, next_action)
        q_taken = jnp.take_along_axis(q, batch.action.reshape(b * n, 1), axis=-1)[:, 0]
        loss = jnp.mean(optax.huber_loss(q_taken, jax.lax.stop_gradient(target), delta=config.huber_delta))
        return loss, jnp.mean(q_taken)

    def step(runner: RunnerState, _):
        key, k_explore, k_random, k_env, k_sample = jax.random.split(runner.key, 5)
        epsilon = eps_at(runner.env_steps)
        q_values = runner.q.apply_fn(runner.q.params, runner.obs)  # (E, N, A)
        explore = jax.random.uniform(k_explore, (e, n)) < epsilon
        if config.channel_access == "sequential":
            index = sequential_q_actions(k_random, q_values, spec.discrete_sizes[0], explore)
        else:
            greedy = jnp.argmax(q_values, axis=-1)  # (E, N)
            index = jnp.where(explore, jax.random.randint(k_random, (e, n), 0, actions), greedy).astype(jnp.int32)
        action = index_to_action(spec, index, params)
        next_obs, env_state, _, done, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
            jax.random.split(k_env, e), runner.env_state, action, params
        )
        learn_reward = jnp.sum(jnp.maximum(info["reward"], -config.reward_clip), axis=1)
        buffer_state = buffer.add(runner.buffer, Transition(runner.obs, index, learn_reward, done, next_obs))

        # One gradient step, kept only once the buffer is warm (a select, not a cond, so the
        # step stays one program under vmap).
        ready = buffer.can_sample(buffer_state) & (
            jnp.where(buffer_state.is_full, config.buffer_size, buffer_state.current_index) >= config.learning_starts
        )
        batch = buffer.sample(buffer_state, k_sample).experience
        (loss, q_mean), grads = jax.value_and_grad(td_loss, has_aux=True)(
            runner.q.params, runner.target_params, batch, jax.random.fold_in(k_sample, 1))
        stepped = runner.q.apply_gradients(grads=grads)
        q_state = jax.tree.map(lambda a, b: jnp.where(ready, a, b), stepped, runner.q)
        grad_steps = runner.grad_steps + ready.astype(jnp.int32)
        target_params = update_target(config, q_state.params, runner.target_params, grad_steps, ready)

        offloaded = info["offloaded"].astype(jnp.float32)
        metrics = {
            "reward": jnp.mean(jnp.sum(info["reward"], axis=1)),
            "qoe": jnp.mean(info["qoe"]),
            "offload_rate": jnp.mean(offloaded),
            "mu_sum": jnp.sum(offloaded * action.mu),
            "offloaded": jnp.sum(offloaded),
            "learn_reward": jnp.mean(learn_reward),
            "loss_sum": jnp.where(ready, loss, 0.0),
            "q_sum": jnp.where(ready, q_mean, 0.0),
            "trained": ready.astype(jnp.float32),
        }
        runner = runner.replace(q=q_state, target_params=target_params, buffer=buffer_state, env_state=env_state,
                                obs=next_obs, key=key, env_steps=runner.env_steps + 1, grad_steps=grad_steps)
        return runner, metrics

    def update_step(runner: RunnerState, _):
        runner, m = jax.lax.scan(step, runner, None, config.steps_per_update)
        trained = jnp.maximum(jnp.sum(m["trained"]), 1.0)
        metrics = {
            "reward": jnp.mean(m["reward"]),
            "qoe": jnp.mean(m["qoe"]),
            "offload_rate": jnp.mean(m["offload_rate"]),
            "mean_mu": jnp.sum(m["mu_sum"]) / jnp.maximum(jnp.sum(m["offloaded"]), 1.0),
            "learn_reward": jnp.mean(m["learn_reward"]),
            "loss": jnp.sum(m["loss_sum"]) / trained,
            "q_mean": jnp.sum(m["q_sum"]) / trained,
            "epsilon": jnp.asarray(eps_at(runner.env_steps), jnp.float32),
        }
        runner = runner.replace(update=runner.update + 1)
        if progress is not None:
            jax.debug.callback(progress, runner.update, metrics)
        return runner, metrics

    def train(key: jax.Array, runner: RunnerState | None = None, num_updates: int | None = None):
        """Trains from ``key`` (or resumes ``runner``) for ``num_updates`` (default: config's)."""
        runner = init_runner(config, env, params, key) if runner is None else runner
        steps = config.num_updates if num_updates is None else num_updates
        return jax.lax.scan(update_step, runner, None, steps)

    return train


# ----------------------------------------------------------------------------- acting


def make_policy(config: D3QNConfig, env: SemanticMEC, q_params: Any):
    """The greedy policy of a trained Q-network, for ``semjax.evaluation.evaluate``.

    Returns (policy, initial_carry) like ``mappo.make_policy``; the policy is not recurrent,
    so the carry is None and ``policy(key, state, params) -> Action`` is a heuristic-style
    policy that observes the state itself: ``evaluate(env, params, policy, key, episodes,
    initial_carry=carry)`` runs either agent's policy.
    """
    net = make_network(config, env)
    spec = head_spec(config, env)

    def policy(key, state, params):
        q = net.apply(q_params, env.observe(state, params))
        if config.channel_access == "sequential":
            return index_to_action(spec, sequential_q_actions(key, q[None], spec.discrete_sizes[0])[0], params)
        return index_to_action(spec, jnp.argmax(q, axis=-1), params)

    return policy, None


# ----------------------------------------------------------------------------- the figure


def plot_learning_curve(metrics: dict[str, np.ndarray], path: str | Path, title: str = "D3QN") -> None:
    """Team reward per step and the TD loss / epsilon vs update (the paper's Fig. 7).

    ``metrics`` holds (num_updates,) arrays as ``train`` returns them (an ``update`` column,
    as ``training.read_metrics`` gives, is used for the x axis when present). Several runs
    can share a figure: pass a dict of name -> metrics instead.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = metrics if all(isinstance(v, dict) for v in metrics.values()) else {title: metrics}
    fig, (ax_r, ax_l) = plt.subplots(1, 2, figsize=(10, 3.8))
    lows, highs = [], []
    for i, (name, m) in enumerate(runs.items()):
        reward = np.asarray(m["reward"], float)
        x = np.asarray(m.get("update", np.arange(1, reward.size + 1)), float)
        window = max(1, reward.size // 50)
        smooth = np.convolve(reward, np.ones(window) / window, mode="valid")
        ax_r.plot(x, reward, alpha=0.25, color=f"C{i}")
        ax_r.plot(x[window - 1:], smooth, color=f"C{i}", label=f"{name} (mean of {window})")
        # Deep-fade penalties make early rewards huge and negative; keep the scale on the bulk.
        lo, hi = np.percentile(reward, [2, 100])
        lows.append(lo)
        highs.append(hi)
        loss = np.asarray(m["loss"], float)
        # No gradient step before the buffer is warm: those updates report 0, off a log axis.
        ax_l.plot(x, np.where(loss > 0, loss, np.nan), color=f"C{i}", label=f"{name} TD loss")
    lo, hi = min(lows), max(highs)
    ax_r.set_ylim(lo - 0.05 * (hi - lo + 1e-9), hi + 0.05 * (hi - lo + 1e-9))
    ax_r.set(xlabel="update", ylabel="team reward per step (raw)", title="reward")
    ax_r.legend()
    ax_l.set_yscale("log")
    ax_l.set(xlabel="update", ylabel="Huber TD loss", title="loss and exploration")
    eps = ax_l.twinx()
    first = next(iter(runs.values()))
    eps.plot(np.asarray(first.get("update", np.arange(1, len(first["epsilon"]) + 1)), float),
             np.asarray(first["epsilon"], float), color="k", linestyle="--", label="epsilon")
    eps.set_ylabel("epsilon")
    eps.set_ylim(0.0, 1.05)
    ax_l.legend(loc="upper right")
    fig.suptitle(title if len(runs) > 1 else "")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
