"""Float64 NumPy reference implementation of the semjax model (the test oracle).

Written straight from ``SPEC.md`` (sections 1-6, equations of section 3 and the
"Decisions"), independently of the JAX code: this module imports only NumPy and the
standard library, never ``jax`` or another ``semjax`` module. It favours clarity over
speed, but every function is vectorised over any number of leading batch axes.

Contents:

- ``params_to_numpy``: converts an ``EnvParams``-like object (Python floats, NumPy or JAX
  arrays) to a namespace of float64 NumPy arrays, once.
- ``step_metrics``: the per-UE metrics of one step (SPEC section 3).
- ``local_reference``: the QoE normalisers at ``freq_ref`` (SPEC section 3 item 10).
- ``observation`` / ``world_state``: the per-agent observation and critic state.
- ``NumpyMEC`` (one env, gym-style, no auto-reset) and ``BatchedNumpyMEC`` (B envs,
  same-step auto-reset).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

# Model constants (the JAX implementation uses the same values).
RATE_FLOOR = 1.0  # bit/s: the rate is floored so that a zero fading never divides by zero
SNR_FLOOR = 1e-20  # linear SNR floor before log10, so snr_db >= -200 dB
GAIN_FLOOR = 1e-10  # gain floor used only in the observation's log10

PARAM_FIELDS = (
    "bandwidth", "noise_power", "path_loss_exponent", "ref_distance",
    "distance_min", "distance_max", "power_min", "power_max",
    "freq_min", "freq_max", "freq_ref", "ue_cores", "server_cores", "server_freq",
    "flops_per_cycle", "kappa_ue", "kappa_server", "mu_min", "t_max",
    "energy_budget_min", "energy_budget_max", "w_latency", "w_energy", "w_accuracy",
    "slope_latency", "slope_energy", "slope_accuracy", "task_mix",
)
PROFILE_FIELDS = (
    "flops_local", "flops_extract", "flops_server", "data_bits", "exp_data",
    "exp_extract", "exp_accuracy", "acc_local", "snr_mid_db", "snr_width_db", "acc_min",
)

_LN2 = math.log(2.0)


def params_to_numpy(params) -> SimpleNamespace:
    """Return a namespace of float64 NumPy arrays mirroring ``params`` (and ``.profile``)."""
    if getattr(params, "_is_numpy_params", False):
        return params
    out = {f: np.asarray(getattr(params, f), dtype=np.float64) for f in PARAM_FIELDS}
    prof = {f: np.asarray(getattr(params.profile, f), dtype=np.float64) for f in PROFILE_FIELDS}
    return SimpleNamespace(**out, profile=SimpleNamespace(**prof), _is_numpy_params=True)


def sigmoid(x):
    """Numerically stable logistic function (no overflow for large ``|x|``)."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))  # in (0, 1], never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def channel_gain(params, distance, fading):
    """g[..., k, n] = fading[..., k, n] * (distance[..., n] / ref_distance) ** -alpha."""
    p = params_to_numpy(params)
    d = np.asarray(distance, dtype=np.float64)
    large_scale = (d / p.ref_distance) ** (-p.path_loss_exponent)
    return np.asarray(fading, dtype=np.float64) * large_scale[..., None, :]


def local_reference(params, task_type):
    """(t_ref, e_ref, eps_ref): all-local latency, energy and accuracy at ``freq_ref``."""
    p = params_to_numpy(params)
    m = np.asarray(task_type)
    t_ref = p.profile.flops_local[m] / (p.flops_per_cycle * p.ue_cores * p.freq_ref)
    e_ref = p.kappa_ue * t_ref * p.freq_ref ** 3
    eps_ref = p.profile.acc_local[m]
    return t_ref, e_ref, eps_ref


def _resolve_collisions(gain_chosen, choice):
    """Return (offloaded, collided) bool arrays (..., N).

    Among UEs with the same ``choice >= 1``, the one with the largest gain on that
    sub-channel wins; exact ties go to the lowest UE index. O(N^2) pairwise comparison.
    """
    n = choice.shape[-1]
    wants = choice >= 1
    idx = np.arange(n)
    # pair axes: [..., i, j] compares UE i (the candidate) with UE j (a rival)
    same = (choice[..., :, None] == choice[..., None, :]) & wants[..., :, None] & wants[..., None, :]
    g_i, g_j = gain_chosen[..., :, None], gain_chosen[..., None, :]
    rival_better = (g_j > g_i) | ((g_j == g_i) & (idx[None, :] < idx[:, None]))
    lost = np.any(same & rival_better, axis=-1)
    return wants & ~lost, wants & lost


def step_metrics(params, task_type, distance, fading, energy_budget, choice, power, freq, mu):
    """Per-UE metrics of one step (SPEC section 3); every value float64 of shape (..., N)."""
    p = params_to_numpy(params)
    P = p.profile
    fading = np.asarray(fading, dtype=np.float64)
    K, N = fading.shape[-2:]
    arrays = [np.asarray(a) for a in (task_type, distance, energy_budget, choice, power, freq, mu)]
    shape = np.broadcast_shapes(fading.shape[:-2] + (N,), *(a.shape for a in arrays))
    task_type, distance, energy_budget, choice, power, freq, mu = (
        np.broadcast_to(a, shape) for a in arrays)
    m = task_type.astype(np.int64)
    distance = distance.astype(np.float64)
    energy_budget = energy_budget.astype(np.float64)
    choice = np.clip(choice, 0, K).astype(np.int64)
    power = np.clip(power.astype(np.float64), p.power_min, p.power_max)
    freq = np.clip(freq.astype(np.float64), p.freq_min, p.freq_max)
    mu = np.clip(mu.astype(np.float64), p.mu_min, 1.0)

    g = np.broadcast_to(channel_gain(p, distance, fading), shape[:-1] + (K, N))

    # 1. collisions
    k_chosen = np.clip(choice - 1, 0, K - 1)
    g_chosen = np.take_along_axis(g, k_chosen[..., None, :], axis=-2)[..., 0, :]
    offloaded, collided = _resolve_collisions(g_chosen, choice)

    # 2-3. SNR and rate on the UE's own sub-channel (sub-channel 0 if not offloaded)
    k_n = np.where(offloaded, choice - 1, 0)
    g_n = np.take_along_axis(g, k_n[..., None, :], axis=-2)[..., 0, :]
    nu = g_n * power / p.noise_power
    snr_db = 10.0 * np.log10(np.maximum(nu, SNR_FLOOR))
    rate = np.maximum(p.bandwidth * np.log1p(nu) / _LN2, RATE_FLOOR)

    # 4. transmission latency
    t_tx = np.where(offloaded, P.data_bits[m] * mu ** P.exp_data[m] / rate, 0.0)

    # 5. local latency
    raw_upload = mu >= 1.0
    c_ue = p.flops_per_cycle * p.ue_cores * freq
    t_extract = np.where(raw_upload, 0.0, P.flops_extract[m] / (mu ** P.exp_extract[m] * c_ue))
    t_local = np.where(offloaded, t_extract, P.flops_local[m] / c_ue)

    # 6. shared server latency
    load = np.where(raw_upload, P.flops_local[m], P.flops_server[m])
    c_s = p.flops_per_cycle * p.server_cores * p.server_freq
    t_server_env = np.sum(np.where(offloaded, load, 0.0), axis=-1, keepdims=True) / c_s
    t_server = np.broadcast_to(t_server_env, shape)

    # 7-8. latency and energy
    latency = np.where(offloaded, t_tx + t_server + t_local, t_local)
    e_offload = power * t_tx + p.kappa_server * t_server * p.server_freq ** 3
    energy = p.kappa_ue * t_local * freq ** 3 + np.where(offloaded, e_offload, 0.0)

    # 9. accuracy
    channel = sigmoid((snr_db - P.snr_mid_db[m]) / P.snr_width_db[m])
    acc_off = P.acc_local[m] * mu ** P.exp_accuracy[m] * channel
    accuracy = np.where(offloaded, acc_off, P.acc_local[m])

    # 10-11. QoE against the local reference at freq_ref
    t_ref, e_ref, eps_ref = local_reference(p, m)
    qoe = (p.w_latency * sigmoid(p.slope_latency * (t_ref - latency))
           + p.w_energy * sigmoid(p.slope_energy * (e_ref - energy))
           + p.w_accuracy * sigmoid(p.slope_accuracy * (accuracy - eps_ref)))

    # 12. per-UE reward with hinge penalties
    acc_min = P.acc_min[m]
    reward = (qoe
              - np.maximum((latency - p.t_max) / p.t_max, 0.0)
              - np.maximum((energy - energy_budget) / energy_budget, 0.0)
              - np.maximum((acc_min - accuracy) / acc_min, 0.0))

    out = dict(offloaded=offloaded, collided=collided, snr_db=snr_db, rate=rate, t_tx=t_tx,
               t_local=t_local, t_server=t_server, latency=latency, energy=energy,
               accuracy=accuracy, qoe=qoe, reward=reward)
    return {k: np.array(np.broadcast_to(v, shape), dtype=np.float64) for k, v in out.items()}


def observation(params, task_type, distance, energy_budget, fading, t, queue_len):
    """Per-agent observation (..., N, D), D = K + 10 + M + 1 + N.

    Per agent n, in order: log10 gains on the K sub-channels (floored at GAIN_FLOOR);
    log10(flops_local/1e9); log10(flops_server/1e9); t_ref/t_max; e_ref/energy_budget_n;
    acc_local; t_max in ms; energy_budget_n in 0.1 J; acc_min; log10(bandwidth/1e7);
    log10(noise_power/1e-3); one-hot task type (M); t/queue_len; one-hot agent id (N).
    """
    p = params_to_numpy(params)
    P = p.profile
    m = np.asarray(task_type).astype(np.int64)
    fading = np.asarray(fading, dtype=np.float64)
    K, N = fading.shape[-2:]
    M = P.flops_local.shape[0]
    energy_budget = np.asarray(energy_budget, dtype=np.float64)
    shape = np.broadcast_shapes(m.shape, np.shape(distance), energy_budget.shape,
                                fading.shape[:-2] + (N,))
    m = np.broadcast_to(m, shape)
    energy_budget = np.broadcast_to(energy_budget, shape)

    g = channel_gain(p, distance, fading)
    log_gain = np.swapaxes(np.log10(np.maximum(g, GAIN_FLOOR)), -1, -2)  # (..., N, K)
    t_ref, e_ref, _ = local_reference(p, m)

    def col(x):
        return np.broadcast_to(np.asarray(x, dtype=np.float64), shape)[..., None]

    progress = np.asarray(t, dtype=np.float64) / float(queue_len)
    progress = np.broadcast_to(progress[..., None], shape)  # t is scalar or (...,)
    parts = [
        np.broadcast_to(log_gain, shape + (K,)),
        col(np.log10(P.flops_local[m] / 1e9)),
        col(np.log10(P.flops_server[m] / 1e9)),
        col(t_ref / p.t_max),
        col(e_ref / energy_budget),
        col(P.acc_local[m]),
        col(p.t_max * 1e3),
        col(energy_budget * 10.0),
        col(P.acc_min[m]),
        col(np.log10(p.bandwidth / 1e7)),
        col(np.log10(p.noise_power / 1e-3)),
        np.eye(M)[m],
        col(progress),
        np.broadcast_to(np.eye(N), shape + (N,)),
    ]
    return np.concatenate(parts, axis=-1)


def world_state(obs):
    """Critic state (..., N, N*D + N): all observations flattened, then the agent's one-hot id."""
    obs = np.asarray(obs, dtype=np.float64)
    N, D = obs.shape[-2:]
    batch = obs.shape[:-2]
    flat = np.broadcast_to(obs.reshape(batch + (1, N * D)), batch + (N, N * D))
    ids = np.broadcast_to(np.eye(N), batch + (N, N))
    return np.concatenate([flat, ids], axis=-1)


class NumpyMEC:
    """One environment, gym-style (no auto-reset: call ``reset`` after ``done``).

    Public state (tests may set it directly to mirror a JAX state): ``task_types`` int
    (Q, N), ``distance`` (N,), ``energy_budget`` (N,), ``fading`` (K, N), ``t`` int.
    Before the first ``reset`` the state holds valid placeholders.
    """

    def __init__(self, num_ues=4, num_channels=4, queue_len=20, params=None, seed=None):
        if params is None:
            raise ValueError("params is required (the NumPy reference has no default params)")
        self.params = params_to_numpy(params)
        self.num_ues, self.num_channels, self.queue_len = int(num_ues), int(num_channels), int(queue_len)
        self.num_task_types = int(self.params.profile.flops_local.shape[0])
        self.rng = np.random.default_rng(seed)
        N, K, Q = self.num_ues, self.num_channels, self.queue_len
        self.task_types = np.zeros((Q, N), dtype=np.int64)
        self.distance = np.full(N, float(self.params.ref_distance))
        self.energy_budget = np.full(N, float(self.params.energy_budget_max))
        self.fading = np.ones((K, N))
        self.t = 0

    @property
    def obs_dim(self):
        return self.num_channels + 10 + self.num_task_types + 1 + self.num_ues

    def _task_probs(self):
        mix = self.params.task_mix
        return mix / mix.sum()

    def reset(self, seed=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        p, N, K, Q = self.params, self.num_ues, self.num_channels, self.queue_len
        self.distance = self.rng.uniform(p.distance_min, p.distance_max, size=N)
        self.energy_budget = self.rng.uniform(p.energy_budget_min, p.energy_budget_max, size=N)
        self.task_types = self.rng.choice(self.num_task_types, size=(Q, N), p=self._task_probs())
        self.fading = self.rng.exponential(1.0, size=(K, N))
        self.t = 0
        return self.observation()

    def _check_choice(self, choice):
        choice = np.asarray(choice)
        if np.any((choice < 0) | (choice > self.num_channels)) or np.any(choice != np.round(choice)):
            raise ValueError(f"choice must be an integer in [0, {self.num_channels}], got {choice}")
        return choice.astype(np.int64)

    def step(self, choice, power, freq, mu):
        if self.t >= self.queue_len:
            raise RuntimeError("the episode is done: call reset() before step()")
        choice = self._check_choice(choice)
        task_type = self.task_types[self.t]
        info = step_metrics(self.params, task_type, self.distance, self.fading,
                            self.energy_budget, choice, power, freq, mu)
        info["task_type"] = task_type.copy()
        reward = float(info["reward"].sum())
        self.t += 1
        done = self.t == self.queue_len
        self.fading = self.rng.exponential(1.0, size=(self.num_channels, self.num_ues))
        return self.observation(), reward, done, info

    def observation(self):
        t = min(self.t, self.queue_len - 1)
        return observation(self.params, self.task_types[t], self.distance, self.energy_budget,
                           self.fading, t, self.queue_len)

    def world_state(self):
        return world_state(self.observation())


class BatchedNumpyMEC(NumpyMEC):
    """B environments on a leading axis, vectorised, with same-step auto-reset.

    State attributes carry a leading B axis; ``t`` is an int array (B,). ``step`` returns
    ``(obs, reward (B,), done (B,), info)``; envs that finished are reset before ``obs`` is
    computed, so their ``obs`` is the first observation of the new episode, while ``info``
    holds the metrics (B, N) and ``task_type`` of the step just taken.
    """

    def __init__(self, num_envs, num_ues=4, num_channels=4, queue_len=20, params=None, seed=None):
        super().__init__(num_ues, num_channels, queue_len, params, seed)
        B = self.num_envs = int(num_envs)
        self.task_types = np.broadcast_to(self.task_types, (B,) + self.task_types.shape).copy()
        self.distance = np.broadcast_to(self.distance, (B, self.num_ues)).copy()
        self.energy_budget = np.broadcast_to(self.energy_budget, (B, self.num_ues)).copy()
        self.fading = np.broadcast_to(self.fading, (B,) + self.fading.shape).copy()
        self.t = np.zeros(B, dtype=np.int64)

    def _reset_envs(self, mask):
        """Draw a fresh episode (distance, budget, tasks, fading, t=0) for envs where mask."""
        p, N, K, Q = self.params, self.num_ues, self.num_channels, self.queue_len
        n = int(mask.sum())
        self.distance[mask] = self.rng.uniform(p.distance_min, p.distance_max, size=(n, N))
        self.energy_budget[mask] = self.rng.uniform(p.energy_budget_min, p.energy_budget_max, size=(n, N))
        self.task_types[mask] = self.rng.choice(self.num_task_types, size=(n, Q, N), p=self._task_probs())
        self.fading[mask] = self.rng.exponential(1.0, size=(n, K, N))
        self.t[mask] = 0

    def reset(self, seed=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self._reset_envs(np.ones(self.num_envs, dtype=bool))
        return self.observation()

    def _current_tasks(self):
        t = np.minimum(self.t, self.queue_len - 1)
        return self.task_types[np.arange(self.num_envs), t], t

    def step(self, choice, power, freq, mu):
        choice = self._check_choice(choice)
        task_type, _ = self._current_tasks()
        info = step_metrics(self.params, task_type, self.distance, self.fading,
                            self.energy_budget, choice, power, freq, mu)
        info["task_type"] = task_type.copy()
        reward = info["reward"].sum(axis=-1)
        self.t = self.t + 1
        done = self.t >= self.queue_len
        self.fading = self.rng.exponential(1.0, size=(self.num_envs, self.num_channels, self.num_ues))
        if done.any():
            self._reset_envs(done)
        return self.observation(), reward, done, info

    def observation(self):
        task_type, t = self._current_tasks()
        return observation(self.params, task_type, self.distance, self.energy_budget,
                           self.fading, t, self.queue_len)
