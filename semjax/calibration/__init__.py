"""Calibration: fit the constants the paper does not publish to the numbers it does.

``semjax calibrate --targets FILE --out PROFILE.json`` (``add_parser`` registers it) fits a
set of profile and world constants (``constants``) to published targets (``targets``), with
the per-step oracle standing in for the paper's policies (``standin``), by projected Adam on a
smoothed oracle bias-corrected to the exact one (``fit``), and writes a profile with each
value's provenance and a report (``report``). docs/calibration.md describes it.
"""

from semjax.calibration.cli import add_parser, calibrate, report_path
from semjax.calibration.constants import CATALOGUE, DEFAULT_CONSTANTS, FittedSet
from semjax.calibration.fit import FitConfig
from semjax.calibration.targets import load_targets, parse_targets

__all__ = [
    "CATALOGUE",
    "DEFAULT_CONSTANTS",
    "FitConfig",
    "FittedSet",
    "add_parser",
    "calibrate",
    "load_targets",
    "parse_targets",
    "report_path",
]
