"""The per-step oracle: the best team reward of each step, chosen with full information.

Fading is redrawn every step and actions never change the next state (SPEC section 7 notes),
so the best policy of all maximises each step's team reward on its own. The oracle does that
with full knowledge of the step's fading, distances, budgets and tasks:

* **Discrete part, exactly.** Only collision-free assignments need searching: a UE that loses
  its sub-channel executes locally with its own clock, which choosing ``local`` with that
  clock does too. For each such assignment each offloading UE is either a raw upload (mu = 1)
  or an extraction (mu < 1). These two facts fix the shared server time (4), and the team
  reward then separates into per-UE terms. So the oracle solves every per-UE problem once:
  each UE, local or on each sub-channel, raw or extracting, under the server work of each
  pattern of the other UEs (3^(N-1) of them). It then scores every assignment exactly from
  those optima and takes the best: 1473 assignments and 4 x 27 x 4 x 2 per-UE problems for
  N = K = 4.
* **Continuous part, numerically.** Each per-UE problem is maximised over (power, clock, mu)
  by a grid search, then projected Adam ascent from the best grid point (the physics is
  differentiable), keeping the best point seen. This part is a close lower estimate of the
  true optimum, not a certificate: a policy can beat the oracle by at most what refinement
  leaves on the table (tests bound it against a much finer brute-force search).

``oracle(env)`` is a policy like the heuristics: it returns the maximising action, so
``evaluate`` reports the reward the env actually gives it. Cost grows as (K+1)! 3^N: for
more than ``OracleConfig.max_assignments`` assignments it refuses with an error.

``OracleConfig(semantic=False)`` is the semantic-unaware oracle: mu is fixed at 1, so each
UE executes locally or uploads raw. Its search space drops the extraction modes: 209
assignments and patterns over {local, raw} (2^(N-1)) for N = K = 4.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from semjax import physics
from semjax.env import SemanticMEC
from semjax.physics import Action

LOCAL, RAW, EXTRACT = 0, 1, 2
# The largest float32 below 1: extraction needs mu < 1 (mu == 1 is a raw upload).
_MU_BELOW_ONE = float(np.nextafter(np.float32(1.0), np.float32(0.0)))


@dataclass(frozen=True)
class OracleConfig:
    """Search effort. Grids are evenly spaced over each range, ends included."""

    local_freq_points: int = 33  # local execution: clock grid
    raw_power_points: int = 33  # raw upload: power grid (the clock does not matter)
    power_points: int = 8  # extraction: power x clock x mu grid
    freq_points: int = 4
    mu_points: int = 16
    refine_steps: int = 40  # projected Adam steps from the best grid point
    refine_lr: float = 0.03  # in units of each range (ranges map to [0, 1])
    max_assignments: int = 250_000
    semantic: bool = True  # False: mu fixed at 1 (local or raw upload only), the semantic-unaware optimum

    def __post_init__(self):
        for name in ("local_freq_points", "raw_power_points", "power_points", "freq_points", "mu_points"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 2:
                raise ValueError(f"oracle.{name} must be an integer >= 2 (got {value!r})")
        if not isinstance(self.refine_steps, int) or self.refine_steps < 0:
            raise ValueError(f"oracle.refine_steps must be an integer >= 0 (got {self.refine_steps!r})")
        if not self.refine_lr > 0:
            raise ValueError(f"oracle.refine_lr must be > 0 (got {self.refine_lr!r})")
        if not isinstance(self.semantic, bool):
            raise ValueError(f"oracle.semantic must be true or false (got {self.semantic!r})")


def offload_modes(semantic: bool = True) -> tuple[int, ...]:
    """The modes an offloading UE may take: raw or extracting, or raw only when mu is fixed at 1."""
    return (RAW, EXTRACT) if semantic else (RAW,)


def count_assignments(num_ues: int, num_channels: int, semantic: bool = True) -> int:
    """Collision-free assignments with a mode flag (raw/extract, or raw only) per offloading UE."""
    flags = len(offload_modes(semantic))
    return sum(
        math.comb(num_ues, j) * math.perm(num_channels, j) * flags**j for j in range(min(num_ues, num_channels) + 1)
    )


def enumerate_assignments(num_ues: int, num_channels: int, semantic: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Every collision-free assignment: ``choice`` (A, N) in {0..K} and ``mode`` (A, N) in {LOCAL, RAW, EXTRACT}.

    Row 0 is all-local, so ties go to local execution. ``semantic=False`` leaves out EXTRACT.
    """
    choices, modes = [], []
    for choice in itertools.product(range(num_channels + 1), repeat=num_ues):
        used = [c for c in choice if c > 0]
        if len(used) != len(set(used)):
            continue
        offloaders = [n for n in range(num_ues) if choice[n] > 0]
        for flags in itertools.product(offload_modes(semantic), repeat=len(offloaders)):
            mode = [LOCAL] * num_ues
            for n, flag in zip(offloaders, flags):
                mode[n] = flag
            choices.append(choice)
            modes.append(mode)
    return np.asarray(choices, np.int32).reshape(-1, num_ues), np.asarray(modes, np.int32).reshape(-1, num_ues)


def _others(num_ues: int) -> np.ndarray:
    """(N, N-1): for UE n, the other UEs in index order."""
    return np.asarray([[j for j in range(num_ues) if j != n] for n in range(num_ues)], np.int32).reshape(num_ues, -1)


def _pattern_index(modes: np.ndarray, base: int = 3) -> np.ndarray:
    """(A, N): for each assignment and UE n, the base-``base`` index of the other UEs' modes.

    ``base`` is the number of modes in play: 3 (local, raw, extract), or 2 (local, raw) for
    the semantic-unaware oracle, whose mode values 0 and 1 are the same digits.
    """
    num_ues = modes.shape[1]
    others = _others(num_ues)
    weights = base ** np.arange(num_ues - 2, -1, -1) if num_ues > 1 else np.zeros(0, np.int64)
    return np.stack([modes[:, others[n]] @ weights for n in range(num_ues)], axis=1).astype(np.int32)


@dataclass(frozen=True)
class AssignmentTables:
    """The discrete search space of one step, shared by the oracle and its smoothed twin.

    ``choice``, ``mode`` and ``pattern`` are (A, N): each assignment's sub-channel choices,
    modes and, per UE, the index of the other UEs' modes; ``patterns`` (O, N-1) holds the
    modes of the other UEs under each pattern index and ``others`` (N, N-1) who they are.
    """

    choice: np.ndarray
    mode: np.ndarray
    pattern: np.ndarray
    patterns: np.ndarray
    others: np.ndarray

    @property
    def num_patterns(self) -> int:
        return int(self.patterns.shape[0])


def assignment_tables(num_ues: int, num_channels: int, semantic: bool = True) -> AssignmentTables:
    """Builds the ``AssignmentTables`` of N UEs and K sub-channels (see ``enumerate_assignments``)."""
    choice, mode = enumerate_assignments(num_ues, num_channels, semantic)
    modes_in_play = (LOCAL,) + offload_modes(semantic)
    base = len(modes_in_play)
    patterns = np.asarray(list(itertools.product(modes_in_play, repeat=num_ues - 1)), np.int32)
    return AssignmentTables(
        choice=choice,
        mode=mode,
        pattern=_pattern_index(mode, base),
        patterns=patterns.reshape(base ** (num_ues - 1), num_ues - 1),
        others=_others(num_ues),
    )


def _grid(points_per_axis: tuple[int, ...]) -> jnp.ndarray:
    """(G, d) points of [0, 1]^d."""
    axes = [np.linspace(0.0, 1.0, p) for p in points_per_axis]
    mesh = np.meshgrid(*axes, indexing="ij")
    return jnp.asarray(np.stack([m.ravel() for m in mesh], axis=1), jnp.float32)


def _maximise(objective, grid: jax.Array, steps: int, lr: float):
    """Best of ``objective(x, *problem)`` over x in [0, 1]^d for a batch of problems.

    ``objective`` maps one point and one problem's scalars to a scalar. Grid search, then
    projected Adam ascent from the best grid point; the best point seen wins (so refinement
    never loses what the grid found). Returns a function of the problems' arrays (P,) giving
    (x (P, d), value (P,)).
    """
    optimiser = optax.adam(lr)

    def solve(*problem):
        values = jax.vmap(lambda x: objective(x, *problem))(grid)
        best = jnp.argmax(values)
        x0, v0 = grid[best], values[best]
        if steps == 0:
            return x0, v0
        value_and_grad = jax.value_and_grad(lambda x: objective(x, *problem))

        def body(carry, _):
            x, opt_state, best_x, best_v = carry
            _, grad = value_and_grad(x)
            updates, opt_state = optimiser.update(-grad, opt_state, x)
            x = optax.projections.projection_box(optax.apply_updates(x, updates), 0.0, 1.0)
            v = objective(x, *problem)
            better = v > best_v  # False for NaN: a bad step is never kept
            return (x, opt_state, jnp.where(better, x, best_x), jnp.where(better, v, best_v)), None

        (_, _, best_x, best_v), _ = jax.lax.scan(body, (x0, optimiser.init(x0), x0, v0), None, length=steps)
        return best_x, best_v

    return jax.vmap(solve)


def oracle(env: SemanticMEC, config: OracleConfig = OracleConfig()):
    """The per-step oracle as a policy ``(key, state, params) -> Action`` (see module doc)."""
    solve = _solver(env, config)
    return lambda key, state, params: solve(state, params)


def oracle_given_channels(env: SemanticMEC, config: OracleConfig = OracleConfig()):
    """``(state, params, choice) -> Action``: the oracle's best step when the sub-channels are
    those of ``choice`` (int (N,), 0 = local) after collisions: the UE that loses a sub-channel
    executes locally, as the env would run it. Only each UE's mode (local, raw or extracting)
    and its power, clock and mu are chosen, so the gap between a policy and this is what its
    continuous choices cost it, and the gap from this to the oracle what its sub-channel
    choices cost."""
    solve = _solver(env, config)

    def policy(state, params, choice):
        gain = physics.channel_gain(params, state.distance, state.fading)
        offloaded, _ = physics.resolve_collisions(choice, gain)
        return solve(state, params, jnp.where(offloaded, choice, 0))

    return policy


def _solver(env: SemanticMEC, config: OracleConfig):
    n_ues, n_ch = env.num_ues, env.num_channels
    semantic = config.semantic
    total = count_assignments(n_ues, n_ch, semantic)
    if total > config.max_assignments:
        raise ValueError(
            f"the oracle would enumerate {total} assignments for num_ues={n_ues}, num_channels={n_ch}; "
            f"oracle.max_assignments is {config.max_assignments} (N = K = 4 needs 1473, N = K = 6 needs 126,121)"
        )
    tables = assignment_tables(n_ues, n_ch, semantic)
    num_patterns = tables.num_patterns
    others = jnp.asarray(tables.others)
    patterns = jnp.asarray(tables.patterns)  # (O, N-1): the modes of the other UEs under each pattern index
    choice_a, mode_a, pattern_a = jnp.asarray(tables.choice), jnp.asarray(tables.mode), jnp.asarray(tables.pattern)
    ue_index = jnp.arange(n_ues)

    local_grid = _grid((config.local_freq_points,))
    raw_grid = _grid((config.raw_power_points,))
    extract_grid = _grid((config.power_points, config.freq_points, config.mu_points))

    def solve(state, params, choice=None):
        f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
        p_lo, p_hi = f32(params.power_min), f32(params.power_max)
        f_lo, f_hi = f32(params.freq_min), f32(params.freq_max)
        mu_lo = f32(params.mu_min)
        mu_hi = jnp.maximum(f32(_MU_BELOW_ONE), mu_lo)
        lerp = lambda lo, hi, x: lo + (hi - lo) * x  # noqa: E731

        task = jnp.asarray(state.task_type, jnp.int32)
        gain = physics.channel_gain(params, state.distance, state.fading)  # (K, N)
        budget = f32(state.energy_budget)

        def reward(offloaded, gain_n, task_n, budget_n, power, freq, mu, t_server):
            out = physics.ue_outcome(params, task_n, gain_n, offloaded, power, freq, mu, t_server, budget_n)
            return out["reward"]

        # ---- local execution: the best clock per UE
        def local_objective(x, task_n, gain_n, budget_n):
            return reward(False, gain_n, task_n, budget_n, p_lo, lerp(f_lo, f_hi, x[0]), 1.0, 0.0)

        x_local, v_local = _maximise(local_objective, local_grid, config.refine_steps, config.refine_lr)(
            task, gain[0], budget
        )

        # ---- server time of every (UE n, mode of n, pattern of the others)
        capability = physics.server_capability_gflops(params)
        work = jnp.stack([
            jnp.zeros((n_ues,), jnp.float32),
            physics.server_gflops(params, task, 1.0),
            physics.server_gflops(params, task, 0.5),
        ])  # (3 modes, N) GFLOPs
        others_work = jnp.sum(work[patterns[None, :, :], others[:, None, :]], axis=-1)  # (N, O)
        t_raw = (work[RAW][:, None] + others_work) / capability
        t_extract = (work[EXTRACT][:, None] + others_work) / capability

        # problems (N, O, K) flattened, for raw uploads and for extraction
        shape = (n_ues, num_patterns, n_ch)
        flat = lambda x: jnp.broadcast_to(x, shape).reshape(-1)  # noqa: E731
        task_p = flat(task[:, None, None])
        budget_p = flat(budget[:, None, None])
        gain_p = flat(gain.T[:, None, :])

        def raw_objective(x, task_n, gain_n, budget_n, t_server):
            return reward(True, gain_n, task_n, budget_n, lerp(p_lo, p_hi, x[0]), f_lo, 1.0, t_server)

        def extract_objective(x, task_n, gain_n, budget_n, t_server):
            power, freq, mu = lerp(p_lo, p_hi, x[0]), lerp(f_lo, f_hi, x[1]), lerp(mu_lo, mu_hi, x[2])
            return reward(True, gain_n, task_n, budget_n, power, freq, mu, t_server)

        x_raw, v_raw = _maximise(raw_objective, raw_grid, config.refine_steps, config.refine_lr)(
            task_p, gain_p, budget_p, flat(t_raw[:, :, None])
        )
        v_raw, x_raw = v_raw.reshape(shape), x_raw.reshape(shape + (1,))
        if semantic:
            x_ext, v_ext = _maximise(extract_objective, extract_grid, config.refine_steps, config.refine_lr)(
                task_p, gain_p, budget_p, flat(t_extract[:, :, None])
            )
            v_ext, x_ext = v_ext.reshape(shape), x_ext.reshape(shape + (3,))
            # mu_min == 1 leaves nothing to extract with
            v_ext = jnp.where(mu_lo < 1.0, v_ext, -jnp.inf)
        else:  # mu fixed at 1: no assignment has an extracting UE, so these are never read
            v_ext = jnp.full(shape, -jnp.inf, jnp.float32)
            x_ext = jnp.zeros(shape + (3,), jnp.float32)

        # ---- every assignment, scored exactly from the per-UE optima
        channel_a = jnp.maximum(choice_a - 1, 0)
        per_ue = jnp.where(
            mode_a == LOCAL,
            v_local[None, :],
            jnp.where(
                mode_a == RAW,
                v_raw[ue_index[None, :], pattern_a, channel_a],
                v_ext[ue_index[None, :], pattern_a, channel_a],
            ),
        )  # (A, N)
        score = jnp.sum(per_ue, axis=1)
        if choice is not None:  # only the assignments on these sub-channels
            score = jnp.where(jnp.all(choice_a == choice[None, :], axis=1), score, -jnp.inf)
        best = jnp.argmax(score)  # first maximum: all-local wins ties
        mode, pattern, channel = mode_a[best], pattern_a[best], channel_a[best]

        xr = x_raw[ue_index, pattern, channel]
        xe = x_ext[ue_index, pattern, channel]
        power = jnp.where(mode == RAW, lerp(p_lo, p_hi, xr[:, 0]),
                          jnp.where(mode == EXTRACT, lerp(p_lo, p_hi, xe[:, 0]), p_lo))
        freq = jnp.where(mode == EXTRACT, lerp(f_lo, f_hi, xe[:, 1]),
                         jnp.where(mode == LOCAL, lerp(f_lo, f_hi, x_local[:, 0]), f_lo))
        mu = jnp.where(mode == EXTRACT, lerp(mu_lo, mu_hi, xe[:, 2]), 1.0)
        return Action(choice=choice_a[best], power=power, freq=freq, mu=mu.astype(jnp.float32))

    return solve
