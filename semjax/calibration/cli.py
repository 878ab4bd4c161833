"""``semjax calibrate``: fit the unpublished constants to a targets file, write the profile and report.

    semjax calibrate --targets configs/targets/paper.yaml --out semjax/profiles/fitted.json
        [--base-profile paper] [--constants a,b,...] [--restarts R] [--steps S] [--batch B]
        [--eval-batch E] [--lr LR] [--seed SEED] [--correct-every C] [--no-progress]

Writes the profile to --out and the report beside it (``NAME.report.json``). ``calibrate()``
is the same as a library call, without printing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from semjax.agents.oracle import OracleConfig
from semjax.calibration.constants import DEFAULT_CONSTANTS, WORLD_OURS, FittedSet
from semjax.calibration.fit import FitConfig, Fitter
from semjax.calibration.problem import CalibrationProblem
from semjax.calibration.report import base_profile_json, build_report, profile_json
from semjax.calibration.standin import SoftOracleConfig
from semjax.calibration.targets import load_targets


def report_path(out: str | Path) -> Path:
    """Where the report of a profile written to ``out`` goes: beside it, NAME.report.json."""
    out = Path(out)
    return out.with_name(out.stem + ".report.json")


def calibrate(
    targets: str | Path,
    out: str | Path,
    config: FitConfig = FitConfig(),
    base_profile: str = "paper",
    constants: tuple[str, ...] | None = None,
    soft: SoftOracleConfig = SoftOracleConfig(),
    hard: OracleConfig = OracleConfig(),
    command: str | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    explain_with: tuple[str, ...] = WORLD_OURS,
) -> dict[str, Any]:
    """Fits, writes ``out`` (the profile) and its report; returns the report.

    ``constants`` overrides the targets file's list (default: ``DEFAULT_CONSTANTS``). The world
    is the paper preset (SPEC section 4) with ``base_profile``, at N = K = 4. The report says
    how the unfitted ``explain_with`` constants would move each missed target.
    """
    import semjax

    t0 = time.perf_counter()
    targets_file = load_targets(targets)
    base = base_profile_json(base_profile)
    env = semjax.SemanticMEC(num_ues=4, num_channels=4, queue_len=20, profile=base_profile)
    chosen = constants if constants is not None else (targets_file.constants or DEFAULT_CONSTANTS)
    fitted = FittedSet(env.default_params, chosen)
    problem = CalibrationProblem(targets_file, fitted, env, soft=soft, hard=hard)
    fitter = Fitter(problem, config)
    result = fitter.run(progress)
    out = Path(out)
    report_file = report_path(out)
    meta = {
        "command": command,
        "targets_file": str(targets),
        "base_profile": base_profile,
        "world": "SPEC section 4 paper preset, N = K = 4",
        "soft_oracle": soft.__dict__,
        "oracle": {k: v for k, v in hard.__dict__.items() if k != "semantic"},
        "gradient": ("smoothed (Gibbs) oracle, exact autodiff, bias-corrected to the exact oracle every "
                     f"{config.correct_every} steps; envelope theorem for the oracle's value"),
    }
    report = build_report(fitter, result, meta, explain_with)
    report["wall_s"] = time.perf_counter() - t0
    profile = profile_json(report, base, out.stem, report_file.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(profile, indent=1) + "\n")
    report_file.write_text(json.dumps(report, indent=1) + "\n")
    semjax.load_profile(out)  # the validation every profile gets
    return report


def _constants(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise ValueError("--constants must name at least one constant")
    return names


def _command(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    config = FitConfig(steps=args.steps, restarts=args.restarts, batch=args.batch, eval_batch=args.eval_batch,
                       lr=args.lr, seed=args.seed, correct_every=args.correct_every)
    load_targets(args.targets)  # a bad file fails here, before anything is compiled or drawn
    bar = tqdm(total=config.steps * config.restarts, desc="calibrate", disable=args.no_progress, file=sys.stderr)

    def progress(record: dict[str, Any]) -> None:
        if record.get("done"):
            bar.write(f"restart {record['restart']}: loss under the exact oracle {record['loss_exact_oracle']:.4g}")
            return
        bar.update(1)
        bar.set_postfix(restart=record["restart"], loss=f"{record['loss']:.4g}", T=f"{record['temperature']:.3g}")

    command = args.command_line or (
        "semjax calibrate " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["calibrate"] else None)
    try:
        report = calibrate(args.targets, args.out, config, base_profile=args.base_profile,
                           constants=_constants(args.constants), command=command, progress=progress)
    finally:
        bar.close()
    print(f"{'target':<28}{'paper':>10}{'fitted':>10}{'error':>9}{'base':>10}  met")
    for t in report["targets"]:
        flag = ("yes" if t["met"] else "NO") if t["weight"] > 0 else "(not fitted)"
        print(f"{t['name']:<28}{t['paper']:>10.4g}{t['fitted']:>10.4g}{t['error']:>+9.1%}{t['base']:>10.4g}  {flag}")
    print(f"\n{report['met']} of {report['fitted_target_count']} fitted targets within {report['tolerance']:.0%} "
          f"(exact per-step oracle, {report['eval_steps']} fresh steps)")
    print(f"{'constant':<22}{'fitted':>10}{'bounds':>22}  pinned?")
    for c in report["constants"]:
        bounds = f"[{c['lo']:.3g}, {c['hi']:.3g}]"
        state = "free" if c["free"] else "pinned"
        print(f"{c['coordinate']:<22}{c['fitted']:>10.4g}{bounds:>22}  {state}{' (at ' + c['at_bound'] + ' bound)' if c['at_bound'] else ''}")
    for c in report["conflicts"]:
        held = ", ".join(f"{b['coordinate']} at its {b['at']} bound" for b in c["bound_by"])
        worse = ", ".join(w["target"] for w in c["worsens"])
        outside = ", ".join(f"{k} ({v:+.2f})" for k, v in c.get("unfitted_constants_that_move_it", {}).items())
        print(f"missed {c['target']} ({c['error']:+.1%}): " + "; ".join(
            x for x in (f"held by {held}" if held else "", f"fixing it worsens {worse}" if worse else "",
                        f"unfitted constants that move it: {outside}" if outside else "") if x))
    print(f"wall time {report['wall_s']:.0f} s; wrote {args.out} and {report_path(args.out)}")
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Registers ``calibrate`` on the ``semjax`` command's subparsers."""
    defaults = FitConfig()
    from semjax.cli import HelpFormatter

    p = subparsers.add_parser("calibrate", help="fit the paper's unpublished constants to its published numbers",
                              formatter_class=HelpFormatter,
                              epilog="example: semjax calibrate --targets configs/targets/paper.yaml --out runs/fitted.json\n"
                                     "time: about 5 minutes on a 2-core CPU with the defaults (the report records "
                                     "wall_s); --restarts 1 --steps 10 for a first look")
    p.add_argument("--targets", required=True, help="targets YAML, e.g. configs/targets/paper.yaml")
    p.add_argument("--out", required=True, help="profile JSON to write (the report goes beside it, NAME.report.json)")
    p.add_argument("--base-profile", default="paper", help="profile to start from and keep the unfitted fields of")
    p.add_argument("--constants", default=None,
                   help=f"comma-separated constants to fit (default: the targets file's, else {','.join(DEFAULT_CONSTANTS)})")
    p.add_argument("--restarts", type=int, default=defaults.restarts, help="optimiser restarts (the first at the base)")
    p.add_argument("--steps", type=int, default=defaults.steps, help="Adam steps per restart")
    p.add_argument("--batch", type=int, default=defaults.batch, help="steps in the fit batch (common random numbers)")
    p.add_argument("--eval-batch", type=int, default=defaults.eval_batch, help="fresh steps for the report")
    p.add_argument("--lr", type=float, default=defaults.lr, help="Adam step size in units of each constant's range")
    p.add_argument("--correct-every", type=int, default=defaults.correct_every,
                   help="steps between exact-oracle bias corrections (0: never)")
    p.add_argument("--seed", type=int, default=defaults.seed, help="key of the fit's steps and restarts")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_command, command_line=None)
    return p
