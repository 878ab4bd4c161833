"""The equations of one step (SPEC section 3), as small pure functions.

Everything here is jittable and shape-polymorphic over the UE axis; ``vmap`` adds batches.

Units. The model spans 1e-26 (kappa) to 1e27 (f^3) in SI units. In float32, and once XLA
folds or reassociates constants, products such as kappa / (cores * f) land in the denormal
range and are flushed to zero. So every computation here runs in scaled units:

* work in GFLOPs (1e9 FLOPs), clocks in GHz, compute capability in GFLOP/s, times in s;
* kappa enters only as ``kappa * 1e27`` (W / GHz^3): dynamic power is
  ``(kappa * 1e27) * f_GHz^3`` in W, O(1..100), and energy = power * time.

Every intermediate then stays within about 1e-8..1e8 for valid inputs.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from semjax.params import EnvParams

#: bit/s. The rate is floored here so that a zero fading never divides by zero (t_tx finite).
RATE_FLOOR = 1.0
#: Linear SNR floor before log10 (so snr_db >= -200 dB).
SNR_FLOOR = 1e-20
#: Gain floor used only inside the observation's log10.
GAIN_FLOOR = 1e-10

_GIGA = 1e-9  # SI -> giga units
_KAPPA_SCALE = 1e27  # J/(cycle Hz^2) -> W / GHz^3
_LN2 = 0.6931471805599453

METRIC_FIELDS = (
    "offloaded",
    "collided",
    "snr_db",
    "rate",
    "t_tx",
    "t_local",
    "t_server",
    "latency",
    "energy",
    "accuracy",
    "qoe",
    "reward",
)


@struct.dataclass
class Action:
    """The action of every UE for one step; each field has shape (N,), physical units.

    ``choice``: 0 executes locally, c >= 1 offloads on sub-channel c-1. ``power`` in W,
    ``freq`` in Hz, ``mu`` in [mu_min, 1] (1 = conventional offloading, no extraction).
    """

    choice: Any
    power: Any
    freq: Any
    mu: Any


@struct.dataclass
class StepMetrics:
    """Per-UE results of one step (SPEC section 10); every field has shape (N,).

    Supports attribute access (``m.qoe``) and mapping access (``m["qoe"]``, ``dict(m.items())``).
    """

    offloaded: jax.Array  # bool: rho_n, won its sub-channel
    collided: jax.Array  # bool: chose a sub-channel and lost it (executed locally)
    snr_db: jax.Array  # dB, on the used sub-channel (sub-channel 0 for local UEs)
    rate: jax.Array  # bit/s, B log2(1 + nu) (the would-be rate for local UEs)
    t_tx: jax.Array  # s, uplink time (0 for local UEs)
    t_local: jax.Array  # s, on-device compute (task or semantic extraction)
    t_server: jax.Array  # s, shared server time, broadcast
    latency: jax.Array  # s
    energy: jax.Array  # J
    accuracy: jax.Array  # fraction
    qoe: jax.Array  # in (0, 1)
    reward: jax.Array  # per-UE reward r_n of (12)

    def __getitem__(self, key: str) -> jax.Array:
        if key not in METRIC_FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def keys(self):
        return METRIC_FIELDS

    def items(self):
        return ((k, getattr(self, k)) for k in METRIC_FIELDS)

    def as_dict(self) -> dict[str, jax.Array]:
        return dict(self.items())


def _f32(x) -> jax.Array:
    return jnp.asarray(x, jnp.float32)


def per_type(table, task_type) -> jax.Array:
    """``table[task_type]`` for a per-task-type profile array (M,), as a chain of M - 1 selects.

    A gather is a fusion boundary on XLA's CPU backend: each ``table[task_type]`` wrote a (B, N)
    array to memory and read it back, about a dozen per step. Selects against scalars fuse into
    whatever consumes them. Task types past the table's end read its last entry (a gather
    clamps the same way). Tables of more than 16 types use the gather.
    """
    table = _f32(table)
    task_type = jnp.asarray(task_type)
    num_types = table.shape[-1]
    if num_types > 16:
        return table[task_type]
    out = jnp.broadcast_to(table[num_types - 1], task_type.shape)
    for j in range(num_types - 1):
        out = jnp.where(task_type == j, table[j], out)
    return out


def channel_gain(params: EnvParams, distance, fading) -> jax.Array:
    """``g_{k,n} = |h_{k,n}|^2 (d_n / d0)^(-alpha)`` (Decision 1); fading (..., K, N), distance (..., N)."""
    ratio = _f32(distance) / _f32(params.ref_distance)
    return _f32(fading) * jnp.power(ratio, -_f32(params.path_loss_exponent))[..., None, :]


def clip_action(params: EnvParams, action: Action, num_channels: int) -> Action:
    """Clips every part into its domain (SPEC section 2); choice into {0..K}."""
    return Action(
        choice=jnp.clip(jnp.asarray(action.choice, jnp.int32), 0, num_channels),
        power=jnp.clip(_f32(action.power), _f32(params.power_min), _f32(params.power_max)),
        freq=jnp.clip(_f32(action.freq), _f32(params.freq_min), _f32(params.freq_max)),
        mu=jnp.clip(_f32(action.mu), _f32(params.mu_min), 1.0),
    )


def resolve_collisions(choice: jax.Array, gain: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Constraint (11e): per sub-channel the UE with the largest gain wins, ties to the lowest index.

    choice int (N,) in {0..K}, gain (K, N). Returns (offloaded, collided), bool (N,).
    """
    return _resolve(choice, own_channel_gain(choice, gain))


def own_channel_gain(choice: jax.Array, gain: jax.Array) -> jax.Array:
    """g of each UE on the sub-channel it chose, (N,); 0 for a local UE (choice 0).

    A masked sum over K rather than ``take_along_axis`` (a gather, and a fusion boundary on
    XLA's CPU backend): at most one term is non-zero, so the sum is exact.
    """
    num_channels = gain.shape[-2]
    chosen = (choice - 1)[None, :] == jnp.arange(num_channels)[:, None]  # (K, N)
    return jnp.sum(jnp.where(chosen, gain, 0.0), axis=0)


def _resolve(choice: jax.Array, own_gain: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(11e) by pairs: UE n loses if a UE j on its sub-channel has a larger gain there, or the
    same gain and a lower index. O(N^2) compares and one reduction, and no gather of the
    per-channel winners (a gather ends a fusion on XLA's CPU backend)."""
    num_ues = choice.shape[-1]
    wants = choice > 0
    rivals = (choice[:, None] == choice[None, :]) & wants[:, None] & wants[None, :]  # [n, j]
    ue = jnp.arange(num_ues)
    g_n, g_j = own_gain[:, None], own_gain[None, :]
    better = (g_j > g_n) | ((g_j == g_n) & (ue[None, :] < ue[:, None]))
    lost = jnp.any(rivals & better, axis=1)
    return wants & ~lost, wants & lost


def compute_capability_gflops(params: EnvParams, freq) -> jax.Array:
    """c_n = flops_per_cycle * ue_cores * f_n, in GFLOP/s."""
    return _f32(params.flops_per_cycle) * _f32(params.ue_cores) * (_f32(freq) * _GIGA)


def dynamic_power(kappa, freq) -> jax.Array:
    """kappa f^3 in W, computed as (kappa * 1e27) (f / 1 GHz)^3 to stay in float32 range."""
    return (_f32(kappa) * _KAPPA_SCALE) * (_f32(freq) * _GIGA) ** 3


def local_reference(params: EnvParams, task_type) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The QoE normalisers of (10) at the fixed clock freq_ref: (t_ref s, E_ref J, eps_ref)."""
    prof = params.profile
    gflops = per_type(prof.flops_local, task_type) * _GIGA
    t_ref = gflops / compute_capability_gflops(params, params.freq_ref)
    e_ref = dynamic_power(params.kappa_ue, params.freq_ref) * t_ref
    return t_ref, e_ref, per_type(prof.acc_local, task_type)


def _qoe_from_gaps(params: EnvParams, gap_latency, gap_energy, gap_accuracy) -> jax.Array:
    """(10) from the gaps to local execution: t_ref - T, E_ref - E, eps - eps_ref.

    Written as 0.5 + sum_i w_i (sigmoid(x_i) - 0.5) with sigmoid(x) - 0.5 = tanh(x / 2) / 2,
    which equals the paper's sum_i w_i sigmoid(x_i) when the weights sum to 1 and is exactly
    0.5 when every gap is exactly 0, whatever the weights.
    """
    x_t = _f32(params.slope_latency) * gap_latency
    x_e = _f32(params.slope_energy) * gap_energy
    x_a = _f32(params.slope_accuracy) * gap_accuracy
    centred = (
        _f32(params.w_latency) * jnp.tanh(0.5 * x_t)
        + _f32(params.w_energy) * jnp.tanh(0.5 * x_e)
        + _f32(params.w_accuracy) * jnp.tanh(0.5 * x_a)
    )
    return 0.5 + 0.5 * centred


def qoe_score(params: EnvParams, task_type, latency, energy, accuracy) -> jax.Array:
    """QoE of one task, (10), normalised by local execution at freq_ref."""
    t_ref, e_ref, eps_ref = local_reference(params, task_type)
    return _qoe_from_gaps(params, t_ref - latency, e_ref - energy, accuracy - eps_ref)


def _local_gaps(params: EnvParams, task_type, freq) -> tuple[jax.Array, jax.Array]:
    """(t_ref - T, E_ref - E) of local execution at clock ``freq``, in factored form.

    T = t_ref f_ref / f and E = E_ref (f / f_ref)^2, so the gaps are t_ref (f - f_ref) / f and
    E_ref (f_ref - f)(f_ref + f) / f_ref^2: exactly 0 at f = f_ref. Subtracting two separately
    rounded values would not be: XLA may evaluate the same division with different
    instructions in different fusions, leaving a 1-ulp gap and a QoE of 0.50000006.
    """
    t_ref, e_ref, _ = local_reference(params, task_type)
    f = _f32(freq) * _GIGA
    f_ref = _f32(params.freq_ref) * _GIGA
    return t_ref * (f - f_ref) / f, e_ref * ((f_ref - f) * (f_ref + f)) / (f_ref * f_ref)


def reward_of(params: EnvParams, task_type, qoe, latency, energy, accuracy, energy_budget) -> jax.Array:
    """Per-UE reward (12): QoE less the relative violations of latency, energy and accuracy."""
    t_max = _f32(params.t_max)
    budget = _f32(energy_budget)
    acc_min = per_type(params.profile.acc_min, task_type)
    return (
        qoe
        - jnp.maximum((latency - t_max) / t_max, 0.0)
        - jnp.maximum((energy - budget) / budget, 0.0)
        - jnp.maximum((acc_min - accuracy) / acc_min, 0.0)
    )


def server_gflops(params: EnvParams, task_type, mu) -> jax.Array:
    """Server work of an offloaded task in GFLOPs, (4): the decoder if mu < 1, else the whole model."""
    prof = params.profile
    return jnp.where(
        _f32(mu) < 1.0,
        per_type(prof.flops_server, task_type) * _GIGA,
        per_type(prof.flops_local, task_type) * _GIGA,
    )


def server_capability_gflops(params: EnvParams) -> jax.Array:
    """c_s = flops_per_cycle * server_cores * server_freq, in GFLOP/s."""
    return _f32(params.flops_per_cycle) * _f32(params.server_cores) * (_f32(params.server_freq) * _GIGA)


def ue_outcome(params: EnvParams, task_type, gain, offloaded, power, freq, mu, t_server, energy_budget) -> dict:
    """Everything of (1)-(3) and (5)-(12) for UEs whose sub-channel and server time are settled.

    Elementwise over broadcastable arrays: ``gain`` is g on the UE's sub-channel (sub-channel 0
    for a local UE: it only feeds ``snr_db``), ``offloaded`` says whether the UE won it,
    ``t_server`` is the shared server time (4) in s, and the action parts are already clipped.
    Returns a dict of the StepMetrics fields except ``offloaded``, ``collided`` and ``t_server``.
    ``step_metrics`` is this after collisions and (4); the per-step oracle calls it with the
    server time of a candidate assignment.
    """
    task_type = jnp.asarray(task_type, jnp.int32)
    prof = params.profile
    power, freq, mu = _f32(power), _f32(freq), _f32(mu)

    nu = _f32(gain) * power / _f32(params.noise_power)
    snr_db = 10.0 * jnp.log10(jnp.maximum(nu, SNR_FLOOR))
    rate = jnp.maximum(_f32(params.bandwidth) * (jnp.log1p(nu) / _LN2), RATE_FLOOR)

    extracts = mu < 1.0  # mu == 1: raw upload, no extraction (Decision 4)
    # mu^p, mu^-q and mu^e share one log (mu >= mu_min > 0): three pows would take three.
    log_mu = jnp.log(mu)
    mu_pow = lambda exponent: jnp.exp(per_type(exponent, task_type) * log_mu)  # noqa: E731
    bits = per_type(prof.data_bits, task_type) * mu_pow(prof.exp_data)
    t_tx = jnp.where(offloaded, bits / rate, 0.0)

    capability = compute_capability_gflops(params, freq)
    gflops_local = per_type(prof.flops_local, task_type) * _GIGA
    gflops_extract = per_type(prof.flops_extract, task_type) * _GIGA
    t_extract = jnp.where(
        extracts,
        gflops_extract / (mu_pow(prof.exp_extract) * capability),
        0.0,
    )
    t_local = jnp.where(offloaded, t_extract, gflops_local / capability)

    latency = jnp.where(offloaded, t_tx + t_server + t_local, t_local)
    energy_local = dynamic_power(params.kappa_ue, freq) * t_local
    energy_offload = power * t_tx + dynamic_power(params.kappa_server, params.server_freq) * t_server
    energy = jnp.where(offloaded, energy_local + energy_offload, energy_local)

    acc_local = per_type(prof.acc_local, task_type)
    channel_factor = jax.nn.sigmoid(
        (snr_db - per_type(prof.snr_mid_db, task_type)) / per_type(prof.snr_width_db, task_type)
    )
    acc_offload = acc_local * mu_pow(prof.exp_accuracy) * channel_factor
    accuracy = jnp.where(offloaded, acc_offload, acc_local)

    t_ref, e_ref, eps_ref = local_reference(params, task_type)
    local_gap_t, local_gap_e = _local_gaps(params, task_type, freq)
    qoe = _qoe_from_gaps(
        params,
        jnp.where(offloaded, t_ref - latency, local_gap_t),
        jnp.where(offloaded, e_ref - energy, local_gap_e),
        jnp.where(offloaded, accuracy - eps_ref, 0.0),
    )
    reward = reward_of(params, task_type, qoe, latency, energy, accuracy, energy_budget)
    return {
        "snr_db": snr_db,
        "rate": rate,
        "t_tx": t_tx,
        "t_local": t_local,
        "latency": latency,
        "energy": energy,
        "accuracy": accuracy,
        "qoe": qoe,
        "reward": reward,
    }


def step_metrics(params: EnvParams, task_type, distance, fading, energy_budget, action: Action) -> StepMetrics:
    """Every quantity of one step for every UE (SPEC section 3).

    task_type int (N,), distance m (N,), fading ``|h|^2`` (K, N), energy_budget J (N,), action
    fields (N,). Continuous action parts are clipped into their ranges, choice into {0..K}.
    """
    fading = _f32(fading)
    num_channels, num_ues = fading.shape
    task_type = jnp.asarray(task_type, jnp.int32)
    act = clip_action(params, action, num_channels)

    gain = channel_gain(params, distance, fading)  # (K, N)
    own_gain = own_channel_gain(act.choice, gain)
    offloaded, collided = _resolve(act.choice, own_gain)

    # The gain on the used sub-channel; local UEs report sub-channel 0.
    g = jnp.where(offloaded, own_gain, gain[0])

    # Shared server (4): the server splits its capability in proportion to the offloaded work.
    work = jnp.where(offloaded, server_gflops(params, task_type, act.mu), 0.0)
    t_server = jnp.sum(work) / server_capability_gflops(params)

    out = ue_outcome(params, task_type, g, offloaded, act.power, act.freq, act.mu, t_server, energy_budget)
    return StepMetrics(
        offloaded=offloaded,
        collided=collided,
        t_server=jnp.broadcast_to(t_server, (num_ues,)),
        **out,
    )
