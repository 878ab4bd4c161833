"""The calibration's outputs: the report (every target, every constant) and the fitted profile.

The report evaluates both worlds, the base profile's and the fitted one, on a fresh batch of
steps the fit never saw, under the exact oracle (the issue's stand-in) and the smoothed one
(what the gradient saw), and says per constant what pins it (``fit.identifiability``) and per
missed target what holds it back (``fit.conflicts``).

The profile is a profile JSON like ``semjax/profiles/paper.json`` (so ``load_profile`` and
``SemanticMEC(profile=NAME)`` read it) whose fitted fields say how they were fitted: the
factor or shift on the base values, its bounds and their reason, the targets that move with
it and whether the targets pin it. World constants, when fitted, are not profile fields: they
go to the profile's ``calibration.world`` block with the ``params.*`` overrides they need.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from semjax.calibration.constants import CATALOGUE, FittedSet
from semjax.calibration.fit import FitResult, Fitter, conflicts, identifiability
from semjax.calibration.problem import CalibrationProblem


def base_profile_json(source: str) -> dict[str, Any]:
    """The JSON of a built-in profile name or a profile file (for its units and provenance).

    ``semjax.params.load_profile`` resolves names the same way but returns the validated
    arrays only; the fitted profile copies the base's units, symbols and sources.
    """
    if "/" not in source and not source.endswith(".json"):
        ref = resources.files("semjax.profiles").joinpath(f"{source}.json")
        if not ref.is_file():
            raise ValueError(f"base profile {source!r} is not a built-in profile")
        return json.loads(ref.read_text())
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"base profile file {source!r} does not exist")
    return json.loads(path.read_text())


def outside_help(fitter: Fitter, z: np.ndarray, constants: tuple[str, ...]) -> tuple[tuple[str, ...], np.ndarray] | None:
    """Jacobian of the scaled errors w.r.t. constants *outside* the fitted set, at the fitted point.

    It says which unfitted constants (``constants``, e.g. the world's "ours" values) would move
    a missed target, and which way: a diagnostic, not a fit. None when there are none.
    """
    problem = fitter.problem
    constants = tuple(c for c in constants if c not in problem.fitted.constants)
    if not constants:
        return None
    around = FittedSet(problem.fitted.apply(np.asarray(z, np.float32)), constants)
    extra = Fitter(CalibrationProblem(problem.targets, around, problem.env, problem.soft_config, problem.hard_config),
                   fitter.config)
    return around.labels, extra.jacobian(around.base_z())


def build_report(fitter: Fitter, result: FitResult, meta: dict[str, Any],
                 explain_with: tuple[str, ...] = ()) -> dict[str, Any]:
    """Everything the fit found, as JSON-ready data.

    ``explain_with``: unfitted constants whose effect on each missed target is reported
    (``outside_help``).
    """
    problem, cfg = fitter.problem, fitter.config
    fitted = problem.fitted
    z_base, z_fit = fitted.base_z(), np.asarray(result.z, np.float32)
    eval_keys = fitter.eval_keys
    worlds = {
        "base_exact": fitter.hard_metrics(z_base, eval_keys),
        "fitted_exact": fitter.hard_metrics(z_fit, eval_keys),
        "fitted_smoothed": fitter.soft_metrics(z_fit, eval_keys),
    }
    values = {k: fitter.values(v) for k, v in worlds.items()}
    errors = {k: np.asarray(problem.scaled_errors(v)) for k, v in values.items()}
    jacobian = fitter.jacobian(z_fit)
    ident = identifiability(jacobian, problem.weights, problem.fitted.labels, list(problem.names), cfg.tolerance)

    targets = []
    for i, t in enumerate(problem.targets.targets):
        targets.append({
            "name": t.name, "source": t.source, "setting": t.setting, "metric": t.metric,
            "baseline": t.baseline, "weight": t.weight, "unit": t.unit,
            "paper": t.value,
            "fitted": float(values["fitted_exact"][i]),
            "fitted_smoothed": float(values["fitted_smoothed"][i]),
            "base": float(values["base_exact"][i]),
            "error": float(errors["fitted_exact"][i]),
            "base_error": float(errors["base_exact"][i]),
            "met": bool(abs(errors["fitted_exact"][i]) <= cfg.tolerance),
        })

    quantities = [float(q) for q in fitted.quantities(z_fit)]
    constants = []
    for k, (coord, ident_k) in enumerate(zip(fitted.coords, ident["constants"])):
        at = "lower" if z_fit[k] <= 1e-6 else "upper" if z_fit[k] >= 1 - 1e-6 else None
        constants.append({
            **fitted.describe()[k],
            "fitted": quantities[k],
            "z": float(z_fit[k]),
            "at_bound": at,
            **{key: ident_k[key] for key in ("targets", "reach_range_fraction", "reach_alone_range_fraction", "free")},
        })
    missed = conflicts(problem, z_fit, errors["fitted_exact"], jacobian, cfg.tolerance)
    outside = outside_help(fitter, z_fit, explain_with)
    if outside is not None:
        labels, jac_out = outside
        index = {n: i for i, n in enumerate(problem.names)}
        for c in missed:
            i = index[c["target"]]
            # a constant helps when moving it within its range shrinks |error|: J * error < 0 one way or the other
            c["unfitted_constants_that_move_it"] = {
                label: float(jac_out[i, k]) for k, label in sorted(enumerate(labels), key=lambda kl: -abs(jac_out[i, kl[0]]))
                if abs(jac_out[i, k]) >= cfg.tolerance
            }
    physical = {name: (v.tolist() if isinstance(v, np.ndarray) else v) for name, v in fitted.values(z_fit).items()}
    fitted_targets = [t for t in targets if t["weight"] > 0]
    return {
        **meta,
        "tolerance": cfg.tolerance,
        "eval_steps": int(fitter.eval_chunks * cfg.batch),
        "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
        "fit_wall_s": result.wall_s,
        "loss_exact_oracle_fit_batch": result.loss,
        "loss": {k: float(problem.loss(v)) for k, v in values.items()},
        "targets": targets,
        "met": sum(t["met"] for t in fitted_targets),
        "fitted_target_count": len(fitted_targets),
        "constants": constants,
        "values": physical,
        "identifiability": {"eigen": ident["eigen"]},
        "conflicts": missed,
        "explained_with": list(outside[0]) if outside is not None else [],
        "worlds": worlds,
        "restarts": result.restarts,
        "history": [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in h.items()} for h in result.history],
    }


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def profile_json(report: dict[str, Any], base: dict[str, Any], name: str, report_file: str) -> dict[str, Any]:
    """The fitted profile: the base profile with each fitted field replaced and explained."""
    fields = {k: dict(v) for k, v in base["fields"].items()}
    by_constant: dict[str, list[dict[str, Any]]] = {}
    for c in report["constants"]:
        by_constant.setdefault(c["constant"], []).append(c)
    world = {}
    targets_file = report.get("targets_file", "the targets file")
    for constant, coords in by_constant.items():
        spec = CATALOGUE[constant]
        parts = []
        for c in coords:
            what = {"scale": f"{base['name']}'s values x {_fmt(c['fitted'])} (bounds x[{_fmt(c['lo'])}, {_fmt(c['hi'])}])",
                    "shift": f"{base['name']}'s values + {_fmt(c['fitted'])} (bounds +[{_fmt(c['lo'])}, {_fmt(c['hi'])}])",
                    "task": f"{c['coordinate']} = {_fmt(c['fitted'])} (bounds [{_fmt(c['lo'])}, {_fmt(c['hi'])}])",
                    "world": f"{_fmt(c['fitted'])} (bounds [{_fmt(c['lo'])}, {_fmt(c['hi'])}])"}[c["kind"]]
            moved = ", ".join(f"{t} {v:+.2f}" for t, v in list(c["targets"].items())[:4]) or "none by 10 % over its range"
            state = ("free: the targets pin it only in combination with other constants" if c["free"]
                     else "pinned by the targets")
            bound = f"; at its {c['at_bound']} bound" if c["at_bound"] else ""
            parts.append(f"{what}{bound}; {state} (within the {report['tolerance']:.0%} tolerance it can move "
                         f"{c['reach_range_fraction']:.2g} of its range with the others re-adjusting, "
                         f"{c['reach_alone_range_fraction']:.2g} alone); targets it moves over its range: {moved}")
        provenance = {
            "fitted": True,
            "coordinates": [{k: c[k] for k in ("coordinate", "kind", "fitted", "lo", "hi", "log", "at_bound", "free",
                                                "reach_range_fraction", "reach_alone_range_fraction", "targets")}
                            for c in coords],
            "bounds_source": spec.source,
        }
        source = f"fitted by semjax calibrate to {targets_file}: " + " | ".join(parts) + f". Bounds: {spec.source}"
        if spec.where == "world":
            world[constant] = {"value": report["values"][constant], "source": source, "calibration": provenance}
            continue
        fields[constant] = {**fields[constant], "values": report["values"][constant], "source": source,
                            "calibration": provenance}
    met = f"{report['met']} of {report['fitted_target_count']}"
    profile = {
        "name": name,
        "description": (f"Task profile fitted by semjax calibrate to {targets_file} ({met} fitted targets within "
                        f"{report['tolerance']:.0%} under the per-step oracle), starting from the '{base['name']}' "
                        f"profile; the fields it does not fit are the base profile's. Report: {report_file}."),
        "task_types": base["task_types"],
        "fields": fields,
        "calibration": {
            "base_profile": base["name"],
            "targets_file": targets_file,
            "report": report_file,
            "command": report.get("command"),
            "fit_wall_s": report["fit_wall_s"],
            "wall_s": report.get("wall_s"),
            "targets_met": met,
        },
    }
    if world:
        profile["calibration"]["world"] = world
        profile["calibration"]["params_overrides"] = " ".join(
            f"params.{k}={v['value']:.6g}" for k, v in world.items())
    return profile
