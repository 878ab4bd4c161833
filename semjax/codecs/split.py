"""The rule that maps the semantic extraction factor mu to a split point (L, w).

A split codec cuts an N-layer transformer after layer L and squeezes each token's hidden
vector of width H through a linear bottleneck of width w before it is sent. Smaller mu
means harder compression, so the device goes deeper and the bottleneck gets narrower:

    L(mu) = 1 + round((D - 1) * (1 - mu))     (mu = 1: one layer on the device; mu -> 0: D of them)
    w(mu) = max(1, round(mu * H))             (the bottleneck keeps a fraction mu of the width)

D (``device_layers``, at most N) caps the device's share: the paper's extraction costs
l^SE are a few per cent of the whole model's l^U, so the device runs only the first layers
and the server the rest (``semjax profile`` takes D = round(N / 4) by default).

``round`` is round-half-up, so the rule does not depend on banker's rounding. The number of
transmitted values is tokens * w(mu), so the payload is close to linear in mu, and the
device's work grows as mu falls (more layers), which is the shape the profile's power laws
s * mu^p and l^SE / mu^q describe.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Split:
    """A split point: ``depth`` layers on the device, a bottleneck of ``width`` values per token."""

    mu: float
    depth: int
    width: int


def split_for_mu(mu: float, num_layers: int, hidden: int, device_layers: int | None = None) -> Split:
    """The split point of an ``num_layers``-layer, ``hidden``-wide codec at extraction factor ``mu``.

    ``device_layers`` (default ``num_layers``) is the most layers the device runs, reached
    as mu -> 0: ``L(mu) = 1 + round((device_layers - 1)(1 - mu))``.
    """
    mu = float(mu)
    if not (0.0 < mu <= 1.0) or not math.isfinite(mu):
        raise ValueError(f"mu must be in (0, 1] (got {mu!r})")
    if int(num_layers) < 1:
        raise ValueError(f"num_layers must be >= 1 (got {num_layers!r})")
    if int(hidden) < 1:
        raise ValueError(f"hidden must be >= 1 (got {hidden!r})")
    device_layers = int(num_layers) if device_layers is None else int(device_layers)
    if not 1 <= device_layers <= int(num_layers):
        raise ValueError(f"device_layers must be in [1, num_layers = {num_layers}] (got {device_layers!r})")
    depth = 1 + math.floor((device_layers - 1) * (1.0 - mu) + 0.5)
    width = max(1, math.floor(mu * hidden + 0.5))
    return Split(mu=mu, depth=int(depth), width=int(width))


def check_mu_grid(grid) -> tuple[float, ...]:
    """Validates a mu grid: sorted, distinct values in (0, 1], at least two of them."""
    values = tuple(float(m) for m in grid)
    if len(values) < 2:
        raise ValueError(f"mu grid needs at least two values (got {list(values)})")
    for m in values:
        if not (0.0 < m <= 1.0):
            raise ValueError(f"mu grid values must be in (0, 1] (got {m!r})")
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError(f"mu grid must be strictly increasing (got {list(values)})")
    return values
