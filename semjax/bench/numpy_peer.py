"""A batched float64 NumPy SemanticMEC written for speed: the env benchmark's honest peer.

``semjax.reference`` is the test oracle and is written for clarity (every function
broadcasts over any batch shape, recomputes what it needs, allocates freely). A user who
wanted a fast NumPy simulator would write it differently, and the benchmark's ratios should
be quoted against that. This is that simulator: the same float64 model (SPEC section 3, the
observation of ``SemanticMEC.observe``), for B envs at once, with

* no Python loop over envs or UEs: every equation is one ufunc call over (B, N) or (B, K, N);
* preallocated state, observation and work arrays, written with ``out=`` (no per-step
  allocation of the big arrays);
* what an episode fixes computed once per episode (the path loss (d / d0)^-alpha), what a
  task fixes once per step (its profile entries and local reference t_ref, E_ref, one
  gather each from per-type tables made at construction), and the observation's agent-id
  columns written once;
* the cheapest exact NumPy for each equation: mu^p, mu^-q and mu^e from one log; Exp(1)
  fading from ``Generator.standard_exponential`` (ziggurat); the sigmoids by scipy's
  ``expit`` (one ufunc pass); collisions by a per-channel argmax (O(K N), not the
  reference's O(N^2) pairs); out-of-range choices clipped, as inside jit;
* auto-reset of only the envs whose episode ended (NumPy can branch where JAX's vmap cannot).

``tests/test_bench.py`` checks it against ``semjax.reference`` step by step: every metric,
the reward and the observation within 1e-12 relative.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from semjax import reference

_LN2 = np.log(2.0)
_LOG10_E = 1.0 / np.log(10.0)


class FastBatchedNumpyMEC:
    """B envs of N UEs and K sub-channels, Q tasks per episode, same-step auto-reset.

    ``reset()`` returns the observation (B, N, D); ``step(choice, power, freq, mu)`` (each
    (B, N)) returns ``(obs, reward (B,), done (B,))`` where envs that finished are already
    reset (their obs is a fresh episode's first). The metrics of the step just taken are in
    ``self.metrics`` (a dict of (B, N) float64 arrays, overwritten by the next step).

    Public state (tests may set it and call :meth:`refresh`): ``task_types`` int (B, Q, N),
    ``distance`` and ``energy_budget`` (B, N), ``fading`` (B, K, N), ``t`` int (B,).
    """

    def __init__(self, num_envs, num_ues=4, num_channels=4, queue_len=20, params=None, seed=None):
        if params is None:
            raise ValueError("params is required (FastBatchedNumpyMEC has no default params)")
        for name, value in (("num_envs", num_envs), ("num_ues", num_ues), ("num_channels", num_channels),
                            ("queue_len", queue_len)):
            if int(value) < 1:
                raise ValueError(f"FastBatchedNumpyMEC.{name} must be an integer >= 1 (got {value!r})")
        p = self.params = reference.params_to_numpy(params)
        self.num_envs, self.num_ues = B, N = int(num_envs), int(num_ues)
        self.num_channels, self.queue_len = K, Q = int(num_channels), int(queue_len)
        P = p.profile
        self.num_task_types = M = int(P.flops_local.shape[0])
        self.obs_dim = D = K + 10 + M + 1 + N
        self.rng = np.random.default_rng(seed)

        # Scalars of the model, once.
        self._c_ue_per_hz = float(p.flops_per_cycle * p.ue_cores)
        self._c_s = float(p.flops_per_cycle * p.server_cores * p.server_freq)
        self._e_server_per_s = float(p.kappa_server * p.server_freq ** 3)  # W, kappa_s f_s^3
        mix = p.task_mix / p.task_mix.sum()
        self._cdf = np.cumsum(mix)[:-1]
        # Per-type tables (M,) of what the step reads, gathered once per episode.
        t_ref = P.flops_local / (self._c_ue_per_hz * p.freq_ref)
        self._type_tables = {
            "flops_local": P.flops_local, "flops_extract": P.flops_extract, "flops_server": P.flops_server,
            "data_bits": P.data_bits, "exp_data": P.exp_data, "exp_extract": P.exp_extract,
            "exp_accuracy": P.exp_accuracy, "acc_local": P.acc_local, "snr_mid_db": P.snr_mid_db,
            "inv_snr_width_db": 1.0 / P.snr_width_db, "acc_min": P.acc_min, "t_ref": t_ref,
            "e_ref": p.kappa_ue * t_ref * p.freq_ref ** 3,
            "log10_flops_local": np.log10(P.flops_local / 1e9), "log10_flops_server": np.log10(P.flops_server / 1e9),
        }

        f8 = np.float64
        self.task_types = np.zeros((B, Q, N), np.int64)
        self.distance = np.full((B, N), float(p.ref_distance))
        self.energy_budget = np.full((B, N), float(p.energy_budget_max))
        self.fading = np.ones((B, K, N))
        self.t = np.zeros(B, np.int64)
        # Per-episode caches (refresh) and per-step current-task entries (_load_tasks).
        self._path_loss = np.empty((B, N))  # (d / d0)^-alpha
        self._task = np.empty((B, N), np.int64)
        self._cur = {name: np.empty((B, N)) for name in self._type_tables}
        # Work arrays.
        self._gain = np.empty((B, K, N))
        self._masked = np.empty((B, K, N))
        self._contends = np.empty((B, K, N), bool)
        self._channel_ids = np.arange(1, K + 1)[None, :, None]
        self._winner = np.empty((B, K), np.int64)
        self._chan = np.empty((B, N), np.int64)
        self._w = {name: np.empty((B, N), f8) for name in ("a", "b", "c", "d", "e", "log_mu")}
        self._offloaded = np.empty((B, N), bool)
        self._extracts = np.empty((B, N), bool)
        self.metrics = {name: np.empty((B, N), f8) for name in reference_metric_fields()}
        self._reward = np.empty(B)
        self._obs = np.zeros((B, N, D))
        self._obs[:, :, K + 10 + M + 1:] = np.eye(N)  # agent one-hot, never changes
        self._ue = np.arange(N)
        self._env = np.arange(B)

    # ------------------------------------------------------------------ episodes

    def reset(self, seed=None):
        """Fresh episodes for every env; returns the observation (B, N, D)."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self._reset_envs(np.ones(self.num_envs, bool))
        self.fading[:] = self.rng.standard_exponential(self.fading.shape)
        self._load_tasks()
        return self._observe()

    def _reset_envs(self, mask: np.ndarray) -> None:
        """Distances, budgets, task queues (the mix by inverse CDF) and t = 0 where ``mask``.
        The first fading of a new episode is the step's draw for every env."""
        p, N, Q = self.params, self.num_ues, self.queue_len
        idx = np.flatnonzero(mask)
        n = idx.size
        rng = self.rng
        self.distance[idx] = p.distance_min + (p.distance_max - p.distance_min) * rng.random((n, N))
        self.energy_budget[idx] = p.energy_budget_min + (p.energy_budget_max - p.energy_budget_min) * rng.random((n, N))
        self.task_types[idx] = np.searchsorted(self._cdf, rng.random((n, Q, N)), side="right")
        self.t[idx] = 0
        self._refresh(idx)

    def refresh(self) -> None:
        """Recomputes the per-episode caches after the public state was set directly."""
        self._refresh(self._env)
        self._load_tasks()

    def _refresh(self, idx: np.ndarray) -> None:
        p = self.params
        self._path_loss[idx] = (self.distance[idx] / p.ref_distance) ** (-p.path_loss_exponent)

    def _load_tasks(self) -> None:
        """The current task of every env and UE, and its profile entries (one gather each)."""
        t = np.minimum(self.t, self.queue_len - 1)
        self._task[:] = self.task_types[self._env, t]
        for name, table in self._type_tables.items():
            np.take(table, self._task, out=self._cur[name])

    # ------------------------------------------------------------------ the step

    def step(self, choice, power, freq, mu):
        """One step of every env; returns ``(obs (B, N, D), reward (B,), done (B,))``."""
        p, cur, m, w = self.params, self._cur, self.metrics, self._w
        K = self.num_channels
        choice = np.clip(np.asarray(choice), 0, K)
        power = np.clip(power, p.power_min, p.power_max)
        freq = np.clip(freq, p.freq_min, p.freq_max)
        mu = np.clip(mu, p.mu_min, 1.0)

        # Gains and collisions (11e): per sub-channel the contender with the largest gain wins,
        # ties to the lowest UE index (argmax returns the first maximum).
        gain, masked = self._gain, self._masked
        np.multiply(self.fading, self._path_loss[:, None, :], out=gain)
        np.copyto(masked, -np.inf)
        np.equal(choice[:, None, :], self._channel_ids, out=self._contends)
        np.copyto(masked, gain, where=self._contends)
        np.argmax(masked, axis=2, out=self._winner)
        np.subtract(choice, 1, out=self._chan)
        np.maximum(self._chan, 0, out=self._chan)
        wants = choice > 0
        off = self._offloaded
        np.equal(np.take_along_axis(self._winner, self._chan, axis=1), self._ue, out=off)
        off &= wants
        np.greater(wants, off, out=m["collided"])  # wanted a sub-channel and lost it
        np.copyto(m["offloaded"], off)
        np.copyto(self._chan, 0, where=~off)  # local UEs report sub-channel 0
        g = np.take_along_axis(gain, self._chan[:, None, :], axis=1)[:, 0, :]

        # SNR and rate (1).
        nu = w["a"]
        np.multiply(g, power, out=nu)
        nu /= p.noise_power
        snr_db = m["snr_db"]
        np.maximum(nu, reference.SNR_FLOOR, out=snr_db)
        np.log10(snr_db, out=snr_db)
        snr_db *= 10.0
        rate = m["rate"]
        np.log1p(nu, out=rate)
        rate *= p.bandwidth / _LN2
        np.maximum(rate, reference.RATE_FLOOR, out=rate)

        # mu^p, mu^-q, mu^e share one log.
        log_mu = w["log_mu"]
        np.log(mu, out=log_mu)
        ext = self._extracts
        np.less(mu, 1.0, out=ext)

        # (2) transmission latency.
        t_tx = m["t_tx"]
        np.multiply(cur["exp_data"], log_mu, out=t_tx)
        np.exp(t_tx, out=t_tx)
        t_tx *= cur["data_bits"]
        t_tx /= rate
        t_tx *= off

        # (3) local latency: the task, or the semantic extraction of an offloaded one.
        c_ue = w["b"]
        np.multiply(freq, self._c_ue_per_hz, out=c_ue)
        t_local = m["t_local"]
        np.multiply(cur["exp_extract"], log_mu, out=t_local)  # log mu^q
        np.exp(t_local, out=t_local)
        t_local *= c_ue
        np.divide(cur["flops_extract"], t_local, out=t_local)
        t_local *= ext
        np.divide(cur["flops_local"], c_ue, out=w["c"])
        np.copyto(t_local, w["c"], where=~off)

        # (4) the shared server.
        load = w["c"]
        np.copyto(load, cur["flops_local"])
        np.copyto(load, cur["flops_server"], where=ext)
        load *= off
        t_server = m["t_server"]
        t_server[:] = load.sum(axis=1, keepdims=True) / self._c_s

        # (5)-(8) latency and energy.
        latency = m["latency"]
        np.add(t_tx, t_server, out=latency)
        latency *= off
        latency += t_local
        energy = m["energy"]
        np.power(freq, 3, out=energy)
        energy *= p.kappa_ue
        energy *= t_local
        e_off = w["d"]
        np.multiply(power, t_tx, out=e_off)
        np.multiply(t_server, self._e_server_per_s, out=w["e"])
        e_off += w["e"]
        e_off *= off
        energy += e_off

        # (9) accuracy.
        acc = m["accuracy"]
        np.subtract(snr_db, cur["snr_mid_db"], out=acc)
        acc *= cur["inv_snr_width_db"]
        expit(acc, out=acc)
        np.multiply(cur["exp_accuracy"], log_mu, out=w["e"])
        np.exp(w["e"], out=w["e"])
        acc *= w["e"]
        acc *= cur["acc_local"]
        np.copyto(acc, cur["acc_local"], where=~off)

        # (10) QoE, (12) reward.
        qoe = m["qoe"]
        qoe[:] = 0.0
        _add_weighted_sigmoid(qoe, p.w_latency, p.slope_latency, np.subtract(cur["t_ref"], latency, out=w["a"]))
        _add_weighted_sigmoid(qoe, p.w_energy, p.slope_energy, np.subtract(cur["e_ref"], energy, out=w["a"]))
        _add_weighted_sigmoid(qoe, p.w_accuracy, p.slope_accuracy, np.subtract(acc, cur["acc_local"], out=w["a"]))
        r = m["reward"]
        np.copyto(r, qoe)
        _subtract_hinge(r, latency, p.t_max, w["a"])
        _subtract_hinge(r, energy, self.energy_budget, w["a"])
        np.subtract(cur["acc_min"], acc, out=w["a"])
        w["a"] /= cur["acc_min"]
        np.maximum(w["a"], 0.0, out=w["a"])
        r -= w["a"]
        np.sum(r, axis=1, out=self._reward)

        # The next step: fading for every env, a fresh episode where this one ended.
        self.t += 1
        done = self.t >= self.queue_len
        self.fading[:] = self.rng.standard_exponential(self.fading.shape)
        if done.any():
            self._reset_envs(done)
        self._load_tasks()
        return self._observe(), self._reward, done

    # ------------------------------------------------------------------ observation

    def _observe(self) -> np.ndarray:
        """The observation (B, N, D) of ``SemanticMEC.observe`` into the preallocated array."""
        p, cur, obs = self.params, self._cur, self._obs
        K, M, Q = self.num_channels, self.num_task_types, self.queue_len
        gain = self._gain
        np.multiply(self.fading, self._path_loss[:, None, :], out=gain)
        np.maximum(gain, reference.GAIN_FLOOR, out=gain)
        np.log10(gain, out=gain)
        obs[:, :, :K] = gain.transpose(0, 2, 1)
        obs[:, :, K] = cur["log10_flops_local"]
        obs[:, :, K + 1] = cur["log10_flops_server"]
        np.multiply(cur["t_ref"], 1.0 / p.t_max, out=obs[:, :, K + 2])
        np.divide(cur["e_ref"], self.energy_budget, out=obs[:, :, K + 3])
        obs[:, :, K + 4] = cur["acc_local"]
        obs[:, :, K + 5] = p.t_max * 1e3
        np.multiply(self.energy_budget, 10.0, out=obs[:, :, K + 6])
        obs[:, :, K + 7] = cur["acc_min"]
        obs[:, :, K + 8] = np.log10(p.bandwidth / 1e7)
        obs[:, :, K + 9] = np.log10(p.noise_power / 1e-3)
        one_hot = obs[:, :, K + 10:K + 10 + M]
        one_hot[:] = 0.0
        np.put_along_axis(one_hot, self._task[:, :, None], 1.0, axis=2)
        obs[:, :, K + 10 + M] = (np.minimum(self.t, Q - 1) / Q)[:, None]
        return obs


def reference_metric_fields() -> tuple[str, ...]:
    """The per-UE metrics the peer keeps, in ``StepMetrics`` order."""
    return ("offloaded", "collided", "snr_db", "rate", "t_tx", "t_local", "t_server", "latency",
            "energy", "accuracy", "qoe", "reward")


def _add_weighted_sigmoid(out, weight, slope, gap) -> None:
    """out += weight * sigmoid(slope * gap), with gap overwritten (scipy's expit: one pass,
    exact to an ulp and free of overflow, unlike 1 / (1 + exp(-x)) written out)."""
    gap *= slope
    expit(gap, out=gap)
    gap *= weight
    out += gap


def _subtract_hinge(reward, value, limit, tmp) -> None:
    """reward -= max((value - limit) / limit, 0)."""
    np.subtract(value, limit, out=tmp)
    tmp /= limit
    np.maximum(tmp, 0.0, out=tmp)
    reward -= tmp
