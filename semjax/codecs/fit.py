"""Least-squares fits of the profile's functional forms to the measurements (SPEC section 8).

* power laws ``y = c * mu^e`` (payload s(mu) = s mu^p; extraction l^SE(mu) = l^SE / mu^q,
  i.e. e = -q), fitted with relative residuals (``sigma = y``) so that the small values at
  small mu weigh as much as the large ones;
* accuracy ``eps(mu, nu) = eps_t * mu^a * sigmoid((snr_db - mid) / width)`` (SPEC section 3
  item 9) with eps_t the measured local accuracy, fitted for (a, mid, width).

``scipy.optimize.curve_fit`` (trust-region reflective, with bounds) does the fitting; each
result carries R^2 (of the unweighted values), the residuals and a 95 % interval for every
fitted parameter (``*_ci``: the estimate +- t(0.975, dof) standard errors from curve_fit's
covariance, scaled by the residual variance; ``nan`` where the grid leaves no degree of freedom).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import OptimizeWarning
from scipy.optimize import curve_fit as _curve_fit


def curve_fit(*args, **kwargs):
    """``scipy.optimize.curve_fit`` without its covariance warning: the fits report R^2 and
    residuals instead, and a grid with as many points as parameters has no covariance."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        return _curve_fit(*args, **kwargs)


def confidence_intervals(values, pcov, dof: int, level: float = 0.95) -> list[list[float]]:
    """``[lo, hi]`` per parameter: estimate +- t quantile x standard error (from ``pcov``)."""
    from scipy.stats import t

    se = np.sqrt(np.clip(np.diag(np.asarray(pcov, np.float64)), 0.0, np.inf))
    if dof < 1 or not np.all(np.isfinite(se)):
        return [[float("nan"), float("nan")] for _ in values]
    half = t.ppf(0.5 + level / 2.0, dof) * se
    return [[float(v - h), float(v + h)] for v, h in zip(values, half)]


def r_squared(y: np.ndarray, pred: np.ndarray) -> float:
    y, pred = np.asarray(y, np.float64), np.asarray(pred, np.float64)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum((y - pred) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)


def fit_power_law(mu, y, exp_bounds=(-np.inf, np.inf)) -> dict:
    """Fits ``y = coef * mu^exp``; returns coef, exp, r2, residuals (y - fit), max relative error."""
    mu, y = np.asarray(mu, np.float64), np.asarray(y, np.float64)
    if mu.shape != y.shape or mu.ndim != 1 or len(mu) < 2:
        raise ValueError(f"fit_power_law needs two 1-D arrays of equal length >= 2 (got {mu.shape}, {y.shape})")
    if np.any(mu <= 0) or np.any(y <= 0):
        raise ValueError("fit_power_law needs mu > 0 and y > 0")
    # Start from the log-log line, which is exact for noiseless data.
    e0, logc0 = np.polyfit(np.log(mu), np.log(y), 1)
    # Inside the bounds, else curve_fit refuses the start (e.g. FLOPs that rise with mu when
    # every split point has the same depth, fitted with exp <= 0).
    e0 = float(np.clip(e0, *exp_bounds))
    (c, e), pcov = curve_fit(lambda m, c, e: c * m**e, mu, y, p0=(np.exp(logc0), e0), sigma=y,
                             bounds=((0.0, exp_bounds[0]), (np.inf, exp_bounds[1])), max_nfev=10000)
    pred = c * mu**e
    (c_ci, e_ci) = confidence_intervals((c, e), pcov, len(mu) - 2)
    return {"coef": float(c), "exp": float(e), "coef_ci": c_ci, "exp_ci": e_ci, "r2": r_squared(y, pred),
            "residuals": (y - pred).tolist(), "max_rel_error": float(np.max(np.abs(y - pred) / y))}


def accuracy_model(mu, snr_db, acc_local, exp_accuracy, snr_mid_db, snr_width_db):
    """SPEC section 3 item 9, offloaded branch."""
    return acc_local * np.power(mu, exp_accuracy) / (1.0 + np.exp(-(snr_db - snr_mid_db) / snr_width_db))


def fit_accuracy(mu, snr_db, acc, acc_local: float) -> dict:
    """Fits (exp_accuracy, snr_mid_db, snr_width_db) to acc[i, j] measured at (mu[i], snr_db[j])."""
    mu, snr_db, acc = (np.asarray(a, np.float64) for a in (mu, snr_db, acc))
    if acc.shape != (len(mu), len(snr_db)):
        raise ValueError(f"acc must have shape (len(mu), len(snr_db)) = {(len(mu), len(snr_db))} (got {acc.shape})")
    if not 0 < acc_local <= 1:
        raise ValueError(f"acc_local must be in (0, 1] (got {acc_local})")
    mm, ss = np.meshgrid(mu, snr_db, indexing="ij")
    x = np.stack([mm.ravel(), ss.ravel()])

    def f(x, a, mid, width):
        return accuracy_model(x[0], x[1], acc_local, a, mid, width)

    (a, mid, width), pcov = curve_fit(f, x, acc.ravel(), p0=(0.1, float(np.median(snr_db)) - 10.0, 3.0),
                                      bounds=((0.0, -60.0, 0.05), (5.0, 60.0, 60.0)), max_nfev=20000)
    pred = f(x, a, mid, width).reshape(acc.shape)
    a_ci, mid_ci, width_ci = confidence_intervals((a, mid, width), pcov, acc.size - 3)
    return {"exp_accuracy": float(a), "snr_mid_db": float(mid), "snr_width_db": float(width),
            "exp_accuracy_ci": a_ci, "snr_mid_db_ci": mid_ci, "snr_width_db_ci": width_ci,
            "acc_local": float(acc_local), "r2": r_squared(acc, pred), "residuals": (acc - pred).tolist(),
            "rmse": float(np.sqrt(np.mean((acc - pred) ** 2)))}
