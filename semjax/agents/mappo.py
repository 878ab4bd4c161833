"""Semantic-aware MAPPO (SPEC section 7): shared recurrent actor, centralised recurrent critic.

``make_train(config, env, params)`` returns a pure ``train(key)`` that runs the whole
training loop under ``lax.scan``: jittable, and vmappable over seeds and over traced env
params. Layout conventions, kept identical for actor and critic everywhere (JaxMARL's MAPPO
orders its actor and critic batches differently):

* rollouts are time-major, (T, E, N, ...) for T steps of E envs with N agents;
* the network batch axis is always E * N, env-major (row e * N + n is agent n of env e);
* minibatches are sets of whole envs: every sequence stays whole and all agents of an env
  stay together, and the GRU restarts from the carry stored at the rollout's start.

What the learner optimises: the team reward r = sum_n r_n with each per-UE reward floored
at ``-reward_clip`` (the latency penalty is unbounded, ~-1e5 in deep fades; SPEC section 7
notes), or with ``reward="own"`` each agent's own floored r_n (the critic, which sees the
agent's id, then predicts that agent's reward). Evaluation always reports the raw team reward.

What the actor sees: its own observation (the paper, ``actor_input="local"``), or with
``actor_input="world"`` the critic's world state, every UE's observation and its own id, so
that choosing sub-channels jointly (what the oracle does) can be learned.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import flax.struct as struct
import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState

from semjax.agents.channel_access import sequential_choices
from semjax.agents.distributions import ActionHeadSpec, to_env_action
from semjax.agents.networks import Actor, Critic, RecurrentGRU
from semjax.env import EnvState, SemanticMEC
from semjax.params import EnvParams


@dataclass(frozen=True)
class MAPPOConfig:
    """Hyper-parameters; defaults are Table IV of the paper where it gives one."""

    num_envs: int = 64
    rollout_len: int = 20  # steps per env per update (Q: one episode)
    num_updates: int = 300
    update_epochs: int = 5  # Table IV
    num_minibatches: int = 4
    lr: float = 1e-4  # Table IV
    # Linear schedules from the value above to these over the training (None: constant).
    lr_final: float | None = None
    gamma: float = 0.99  # Table IV
    gae_lambda: float = 0.95  # Table IV
    clip_eps: float = 0.2  # Table IV
    ent_coef: float = 0.1  # Table IV, on the Categorical parts
    ent_coef_continuous: float = 0.0  # its own coefficient for the Gaussian (SPEC section 7 notes)
    ent_coef_final: float | None = None  # both entropy coefficients scale by ent_coef_final / ent_coef
    vf_coef: float = 1.0
    max_grad_norm: float = 0.5
    value_norm: bool = True
    reward_clip: float = 5.0  # per-UE reward floor for learning
    hidden: int = 256  # Table III
    mlp_layers: int = 2  # Table III
    gru_layers: int = 1
    action_space: str = "hybrid"  # hybrid | discrete
    semantic: bool = True  # False: mu = 1, neither sampled nor in the log-prob
    reward: str = "team"  # team: every agent learns sum_n r_n (the paper) | own: agent n learns r_n
    actor_input: str = "local"  # local: the agent's observation (the paper) | world: the world state
    # independent: each agent samples its sub-channel alone, the env resolves collisions (the
    # paper) | sequential: agents choose in turn among the free ones (agents/channel_access.py)
    channel_access: str = "independent"
    bins: dict = field(default_factory=lambda: {"power": 4, "freq": 3, "mu": 5})
    log_std_min: float = -3.0
    log_std_max: float = 0.5
    log_std_init: float = -0.5

    # Options added after run ids were first kept: left out of a run's id at their default
    # (semjax.experiments.methods.settings), so earlier runs keep theirs.
    LATER_OPTIONS: ClassVar[tuple[str, ...]] = ("reward", "actor_input", "channel_access")

    def __post_init__(self):
        positive = ("num_envs", "rollout_len", "num_updates", "update_epochs", "num_minibatches",
                    "hidden", "mlp_layers", "gru_layers")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"train.{name} must be an integer >= 1 (got {value!r})")
        if self.num_envs % self.num_minibatches:
            raise ValueError(
                f"train.num_envs ({self.num_envs}) must be divisible by train.num_minibatches ({self.num_minibatches})"
            )
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"train.{name} must be in [0, 1] (got {getattr(self, name)})")
        for name in ("lr", "clip_eps", "max_grad_norm", "reward_clip"):
            if not getattr(self, name) > 0:
                raise ValueError(f"train.{name} must be > 0 (got {getattr(self, name)})")
        for name in ("ent_coef", "ent_coef_continuous", "vf_coef"):
            if getattr(self, name) < 0:
                raise ValueError(f"train.{name} must be >= 0 (got {getattr(self, name)})")
        if self.lr_final is not None and not self.lr_final >= 0:
            raise ValueError(f"train.lr_final must be >= 0 or null (got {self.lr_final})")
        if self.ent_coef_final is not None and not (self.ent_coef_final >= 0 and self.ent_coef > 0):
            raise ValueError(f"train.ent_coef_final must be >= 0 or null, and needs train.ent_coef > 0 "
                             f"(got {self.ent_coef_final} with ent_coef {self.ent_coef})")
        for name, accepted in (("reward", ("team", "own")), ("actor_input", ("local", "world")),
                               ("channel_access", ("independent", "sequential"))):
            if getattr(self, name) not in accepted:
                raise ValueError(f"train.{name} must be one of {list(accepted)} (got {getattr(self, name)!r})")
        if not self.log_std_min < self.log_std_init < self.log_std_max:
            raise ValueError("train.log_std_init must lie strictly between train.log_std_min and train.log_std_max")
        ActionHeadSpec.make(1, self.action_space, self.semantic, self.bins)  # validates

    @staticmethod
    def from_dict(values: dict) -> "MAPPOConfig":
        names = {f.name for f in dataclasses.fields(MAPPOConfig)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown train key(s) {unknown}; accepted: {sorted(names)}")
        return MAPPOConfig(**values)


# ----------------------------------------------------------------------------- value normalisation


@struct.dataclass
class ValueNorm:
    """Running mean and variance of the return targets (MAPPO's value normalisation)."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @staticmethod
    def create() -> "ValueNorm":
        return ValueNorm(jnp.zeros(()), jnp.ones(()), jnp.asarray(1e-4))

    def update(self, x: jax.Array) -> "ValueNorm":
        """Parallel (Chan et al.) merge of the batch's moments into the running ones."""
        batch_mean, batch_var, batch_count = jnp.mean(x), jnp.var(x), x.size
        delta = batch_mean - self.mean
        total = self.count + batch_count
        mean = self.mean + delta * batch_count / total
        m2 = self.var * self.count + batch_var * batch_count + delta**2 * self.count * batch_count / total
        return ValueNorm(mean, m2 / total, total)

    def normalize(self, x):
        return (x - self.mean) / jnp.sqrt(self.var + 1e-8)

    def denormalize(self, x):
        return x * jnp.sqrt(self.var + 1e-8) + self.mean


# ----------------------------------------------------------------------------- state


@struct.dataclass
class RunnerState:
    actor: TrainState
    critic: TrainState
    value_norm: ValueNorm
    env_state: EnvState  # batched (E,)
    obs: jax.Array  # (E, N, D)
    starts: jax.Array  # (E,) bool: obs is an episode's first
    actor_carry: jax.Array  # (layers, E*N, hidden)
    critic_carry: jax.Array
    key: jax.Array
    update: jax.Array  # int32


@struct.dataclass
class Transition:
    obs: jax.Array  # (E*N, D)
    world_state: jax.Array  # (E*N, Dw)
    starts: jax.Array  # (E*N,)
    discrete: jax.Array  # (E*N, H)
    continuous: jax.Array  # (E*N, C)
    available: jax.Array  # (E*N, K+1) the choices the agent could take (all, unless sequential)
    log_prob: jax.Array  # (E*N,)
    value: jax.Array  # (E*N,) normalised-space prediction
    reward: jax.Array  # (E*N,) learning reward (``learning_reward``)
    done: jax.Array  # (E*N,) the episode ended after this step
    metrics: dict  # per-step env metrics, (E,)


def head_spec(config: MAPPOConfig, env: SemanticMEC) -> ActionHeadSpec:
    return ActionHeadSpec.make(env.num_channels, config.action_space, config.semantic, config.bins)


def make_networks(config: MAPPOConfig, env: SemanticMEC) -> tuple[Actor, Critic]:
    actor = Actor(head_spec(config, env), config.hidden, config.mlp_layers, config.gru_layers,
                  config.log_std_min, config.log_std_max, config.log_std_init)
    critic = Critic(config.hidden, config.mlp_layers, config.gru_layers)
    return actor, critic


def _flat(x: jax.Array) -> jax.Array:
    """(E, N, ...) -> (E*N, ...), env-major."""
    return x.reshape((x.shape[0] * x.shape[1],) + x.shape[2:])


def agent_batch(config: MAPPOConfig, env: SemanticMEC, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Actor and critic inputs of a batch of envs (E, N, D), both (E*N, ...) in the same
    env-major order. The actor's is the observation, or the world state (``actor_input``)."""
    world = _flat(jax.vmap(env.world_state)(obs))
    return (world if config.actor_input == "world" else _flat(obs)), world


def learning_reward(config: MAPPOConfig, reward: jax.Array) -> jax.Array:
    """Per-UE rewards (E, N) -> what each agent learns from (E*N,), env-major: the team's sum
    of floored rewards for every agent, or (``reward="own"``) each agent's floored own."""
    floored = jnp.maximum(reward, -config.reward_clip)
    if config.reward == "own":
        return _flat(floored)
    return jnp.repeat(jnp.sum(floored, axis=1), reward.shape[1])


def _optimizer(config: MAPPOConfig):
    lr = config.lr
    if config.lr_final is not None:  # one optimiser step per minibatch
        steps = config.num_updates * config.update_epochs * config.num_minibatches
        lr = optax.linear_schedule(config.lr, config.lr_final, steps)
    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.adam(lr, eps=1e-5))


def entropy_scale(config: MAPPOConfig, update: jax.Array) -> jax.Array:
    """The factor on both entropy coefficients at ``update`` (0-based): 1, or linear from 1 to
    ``ent_coef_final / ent_coef`` at the last update."""
    if config.ent_coef_final is None:
        return jnp.ones((), jnp.float32)
    frac = update / max(config.num_updates - 1, 1)
    return 1.0 + frac * (config.ent_coef_final / config.ent_coef - 1.0)


def init_runner(config: MAPPOConfig, env: SemanticMEC, params: EnvParams, key: jax.Array) -> RunnerState:
    """Networks, optimisers and the first observations of ``config.num_envs`` envs."""
    actor, critic = make_networks(config, env)
    e, n = config.num_envs, env.num_ues
    k_actor, k_critic, k_env, k_run = jax.random.split(key, 4)
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_env, e), params)
    carry = RecurrentGRU.initial_carry(config.gru_layers, e * n, config.hidden)
    ones = jnp.ones((1, e * n), bool)
    obs_flat, world = agent_batch(config, env, obs)
    actor_params = actor.init(k_actor, carry, obs_flat[None], ones)
    critic_params = critic.init(k_critic, carry, world[None], ones)
    return RunnerState(
        actor=TrainState.create(apply_fn=actor.apply, params=actor_params, tx=_optimizer(config)),
        critic=TrainState.create(apply_fn=critic.apply, params=critic_params, tx=_optimizer(config)),
        value_norm=ValueNorm.create(),
        env_state=env_state,
        obs=obs,
        starts=jnp.ones((e,), bool),
        actor_carry=carry,
        critic_carry=carry,
        key=k_run,
        update=jnp.zeros((), jnp.int32),
    )


def split_by_env(x: jax.Array, axis: int, perm: jax.Array, num_agents: int, num_minibatches: int) -> jax.Array:
    """Minibatches of whole envs from an array with an env-major (E*N) axis at ``axis``.

    Envs are reordered by ``perm`` and split into ``num_minibatches`` groups; the result has
    a leading minibatch axis and keeps ``axis`` as the (envs-in-minibatch * N) axis, so every
    time sequence stays whole and all agents of an env stay together.
    """
    x = jnp.moveaxis(x, axis, 0)
    e = x.shape[0] // num_agents
    x = x.reshape((e, num_agents) + x.shape[1:])[perm]
    x = x.reshape((num_minibatches, (e // num_minibatches) * num_agents) + x.shape[2:])
    return jnp.moveaxis(x, 1, axis + 1)


def gae(rewards, values, dones, last_value, gamma: float, lam: float):
    """Generalised advantage estimation (22), time-major.

    ``dones[t]`` is the next-done flag: the episode ended after step t, so neither V_{t+1}
    nor later advantages flow back into step t. Returns (advantages, returns).
    """

    def body(carry, xs):
        next_adv, next_value = carry
        reward, value, done = xs
        not_done = 1.0 - done.astype(jnp.float32)
        delta = reward + gamma * next_value * not_done - value
        adv = delta + gamma * lam * not_done * next_adv
        return (adv, value), adv

    _, adv = jax.lax.scan(body, (jnp.zeros_like(last_value), last_value), (rewards, values, dones), reverse=True)
    return adv, adv + values


def make_train(
    config: MAPPOConfig,
    env: SemanticMEC,
    params: EnvParams,
    progress: Callable[[int, dict], None] | None = None,
) -> Callable[[jax.Array], tuple[RunnerState, dict]]:
    """Returns ``train(key) -> (final RunnerState, metrics per update)``, pure and jittable.

    ``params`` may be traced (pass it through a closure in ``vmap``, or use
    ``make_train(config, env, params_tracer)`` inside a traced function). ``progress`` is
    called on the host once per update, ``progress(update, metrics)``, through
    ``jax.debug.callback``: one host round-trip per update, none per env step.
    """
    spec = head_spec(config, env)
    e, n, t_len = config.num_envs, env.num_ues, config.rollout_len

    def env_step(runner: RunnerState, _):
        key, k_act, k_env = jax.random.split(runner.key, 3)
        obs, world = agent_batch(config, env, runner.obs)
        starts = jnp.repeat(runner.starts, n)
        actor_carry, dist = runner.actor.apply_fn(runner.actor.params, runner.actor_carry, obs[None], starts[None])
        critic_carry, value = runner.critic.apply_fn(runner.critic.params, runner.critic_carry, world[None], starts[None])
        dist = jax.tree.map(lambda x: x[0], dist)
        discrete, continuous = dist.sample(k_act)
        available = jnp.ones(dist.logits[0].shape, bool)
        if config.channel_access == "sequential":
            choice, available = sequential_choices(jax.random.fold_in(k_act, 1), dist.logits[0].reshape(e, n, -1))
            available = _flat(available)
            discrete = discrete.at[:, 0].set(_flat(choice))
            dist = dist.with_choice_mask(available)
        log_prob = dist.log_prob(discrete, continuous)
        action = to_env_action(spec, discrete.reshape(e, n, -1), continuous.reshape(e, n, -1), params)
        next_obs, env_state, _, done, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
            jax.random.split(k_env, e), runner.env_state, action, params
        )
        offloaded = info["offloaded"].astype(jnp.float32)
        metrics = {
            "reward": jnp.sum(info["reward"], axis=1),
            "qoe": jnp.mean(info["qoe"], axis=1),
            "offload_rate": jnp.mean(offloaded, axis=1),
            "mu_sum": jnp.sum(offloaded * action.mu, axis=1),
            "offloaded": jnp.sum(offloaded, axis=1),
        }
        transition = Transition(
            obs=obs, world_state=world, starts=starts, discrete=discrete, continuous=continuous,
            available=available, log_prob=log_prob, value=value[0], reward=learning_reward(config, info["reward"]),
            done=jnp.repeat(done, n), metrics=metrics,
        )
        runner = runner.replace(
            env_state=env_state, obs=next_obs, starts=done, actor_carry=actor_carry,
            critic_carry=critic_carry, key=key,
        )
        return runner, transition

    def loss_actor(actor_params, batch, carry, advantages, ent_scale):
        _, dist = runner_apply_actor(actor_params, carry, batch.obs, batch.starts)
        if config.channel_access == "sequential":
            dist = dist.with_choice_mask(batch.available)
        log_prob = dist.log_prob(batch.discrete, batch.continuous)
        ratio = jnp.exp(log_prob - batch.log_prob)
        adv = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        clipped = jnp.clip(ratio, 1.0 - config.clip_eps, 1.0 + config.clip_eps)
        policy_loss = -jnp.mean(jnp.minimum(ratio * adv, clipped * adv))
        ent_d = jnp.mean(dist.entropy_discrete())
        ent_c = jnp.mean(dist.entropy_continuous())
        loss = policy_loss - ent_scale * config.ent_coef * ent_d - ent_scale * config.ent_coef_continuous * ent_c
        approx_kl = jnp.mean((ratio - 1.0) - jnp.log(ratio))
        clip_frac = jnp.mean(jnp.abs(ratio - 1.0) > config.clip_eps)
        return loss, {"policy_loss": policy_loss, "entropy_discrete": ent_d, "entropy_continuous": ent_c,
                      "approx_kl": approx_kl, "clip_frac": clip_frac}

    def loss_critic(critic_params, batch, carry, targets):
        _, value = runner_apply_critic(critic_params, carry, batch.world_state, batch.starts)
        clipped = batch.value + jnp.clip(value - batch.value, -config.clip_eps, config.clip_eps)
        loss = 0.5 * jnp.mean(jnp.maximum((value - targets) ** 2, (clipped - targets) ** 2))
        return config.vf_coef * loss, {"value_loss": loss}

    actor_net, critic_net = make_networks(config, env)
    runner_apply_actor = actor_net.apply
    runner_apply_critic = critic_net.apply

    def update_step(runner: RunnerState, _):
        actor_carry0, critic_carry0 = runner.actor_carry, runner.critic_carry
        runner, traj = jax.lax.scan(env_step, runner, None, t_len)

        # Bootstrap from the observation after the rollout.
        _, world = agent_batch(config, env, runner.obs)
        starts = jnp.repeat(runner.starts, n)
        _, last = runner.critic.apply_fn(runner.critic.params, runner.critic_carry, world[None], starts[None])
        vn = runner.value_norm
        denorm = (lambda x: vn.denormalize(x)) if config.value_norm else (lambda x: x)
        advantages, returns = gae(traj.reward, denorm(traj.value), traj.done, denorm(last[0]),
                                  config.gamma, config.gae_lambda)
        if config.value_norm:
            vn = vn.update(returns)
            targets = vn.normalize(returns)
        else:
            targets = returns

        ent_scale = entropy_scale(config, runner.update)

        def epoch(carry, _):
            actor_state, critic_state, key = carry
            key, k_perm = jax.random.split(key)
            perm = jax.random.permutation(k_perm, e)

            by_env = lambda x, axis: split_by_env(x, axis, perm, n, config.num_minibatches)  # noqa: E731

            mb_traj = jax.tree.map(lambda x: by_env(x, 1), (traj.obs, traj.world_state, traj.starts, traj.discrete,
                                                             traj.continuous, traj.available, traj.log_prob, traj.value))
            mb_adv = by_env(advantages, 1)
            mb_targets = by_env(targets, 1)
            mb_actor_carry = by_env(actor_carry0, 1)
            mb_critic_carry = by_env(critic_carry0, 1)

            def minibatch(states, xs):
                actor_state, critic_state = states
                (obs, world_state, starts_, discrete, continuous, available, log_prob, value), adv, tgt, a_carry, c_carry = xs
                batch = Transition(obs=obs, world_state=world_state, starts=starts_, discrete=discrete,
                                   continuous=continuous, available=available, log_prob=log_prob, value=value,
                                   reward=None, done=None, metrics=None)
                (_, a_info), a_grads = jax.value_and_grad(loss_actor, has_aux=True)(
                    actor_state.params, batch, a_carry, adv, ent_scale)
                (_, c_info), c_grads = jax.value_and_grad(loss_critic, has_aux=True)(critic_state.params, batch, c_carry, tgt)
                actor_state = actor_state.apply_gradients(grads=a_grads)
                critic_state = critic_state.apply_gradients(grads=c_grads)
                return (actor_state, critic_state), a_info | c_info

            (actor_state, critic_state), info = jax.lax.scan(
                minibatch, (actor_state, critic_state),
                (mb_traj, mb_adv, mb_targets, mb_actor_carry, mb_critic_carry),
            )
            return (actor_state, critic_state, key), info

        key, k_epochs = jax.random.split(runner.key)
        (actor_state, critic_state, _), losses = jax.lax.scan(
            epoch, (runner.actor, runner.critic, k_epochs), None, config.update_epochs
        )
        m = traj.metrics
        metrics = {
            "reward": jnp.mean(m["reward"]),
            "qoe": jnp.mean(m["qoe"]),
            "offload_rate": jnp.mean(m["offload_rate"]),
            "mean_mu": jnp.sum(m["mu_sum"]) / jnp.maximum(jnp.sum(m["offloaded"]), 1.0),
            "learn_reward": jnp.mean(traj.reward),
        } | jax.tree.map(jnp.mean, losses)
        runner = runner.replace(actor=actor_state, critic=critic_state, value_norm=vn, key=key,
                                update=runner.update + 1)
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


def make_policy(config: MAPPOConfig, env: SemanticMEC, actor_params: Any, deterministic: bool = True):
    """The trained actor as an evaluation policy ``(key, carry, obs, state, params) -> (carry, Action)``.

    Returns (policy, initial_carry): the carry is the GRU state of the N agents of one env.
    """
    actor, _ = make_networks(config, env)
    spec = head_spec(config, env)
    n = env.num_ues

    def policy(key, carry, obs, state, params):
        starts = jnp.broadcast_to(state.t == 0, (1, n))
        inputs = env.world_state(obs) if config.actor_input == "world" else obs
        carry, dist = actor.apply(actor_params, carry, inputs[None], starts)
        dist = jax.tree.map(lambda x: x[0], dist)
        discrete, continuous = dist.mode() if deterministic else dist.sample(key)
        if config.channel_access == "sequential":
            choice, _ = sequential_choices(jax.random.fold_in(key, 1), dist.logits[0][None], deterministic)
            discrete = discrete.at[:, 0].set(choice[0])
        return carry, to_env_action(spec, discrete, continuous, params)

    return policy, RecurrentGRU.initial_carry(config.gru_layers, n, config.hidden)
