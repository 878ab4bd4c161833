"""``semjax bench``: the benchmarks as a CLI verb, with tables on the terminal and JSON on request.

Sub-verbs (each a module with ``add_arguments(parser)``, ``main(args) -> result dict`` and
table functions in :mod:`semjax.bench.tables`):

* ``semjax bench env``: env steps/s of the JAX env on 1..D devices against the batched
  (speed-written) and per-env NumPy peers, measured in the same run (:mod:`semjax.bench.env`);
* ``semjax bench train``: MAPPO env steps/s including learning, FLOPs per env step and
  achieved FLOP/s beside the machine's matmul FLOP/s, memory per run (:mod:`semjax.bench.train`);
* ``semjax bench sweep``: configs per hour of one vmapped program of the sweep engine
  against a loop of single runs, measured in the same run (:mod:`semjax.bench.sweep`).

Common options: ``--json`` prints the result as JSON instead of tables, ``--markdown``
prints Markdown tables, ``--out FILE`` also writes the JSON, ``--no-progress`` hides the
progress bar (shown on a terminal's stderr).

The ``semjax`` command wires this in with ``semjax.bench.add_parser(sub)`` in
``semjax.cli.build_parser``; ``main(["env", "--quick"])`` runs a verb without the CLI.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SubVerb:
    """One ``semjax bench`` sub-verb: its options, its run, and how its result is printed."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    main: Callable[[argparse.Namespace], dict[str, Any]]
    tables: Callable[[dict[str, Any], str], str]
    epilog: str = ""  # an example command and the time it takes, for ``--help``


def _env_tables(result: dict[str, Any], fmt: str) -> str:
    from semjax.bench import tables

    parts = ["SemanticMEC env steps/s (one env step = all N UEs)", tables.env_table(result, fmt),
             tables.env_headline(result), "", "Memory per env", tables.env_memory_table(result, fmt)]
    if result.get("profile"):
        parts += ["", "Where one step's time goes (B = 16384, N = K = 4, one device)",
                  tables.env_profile_table(result, fmt)]
    return "\n".join(parts)


def _train_tables(result: dict[str, Any], fmt: str) -> str:
    from semjax.bench import tables

    return "MAPPO training (env steps/s including learning)\n" + tables.train_table(result, fmt)


def _env_verb() -> SubVerb:
    from semjax.bench import env

    return SubVerb("env steps/s of the JAX env on every device against NumPy peers", env.add_arguments,
                   env.main, _env_tables,
                   "example: semjax bench env --quick --out env.json\n"
                   "time: --quick under a minute on a 2-core CPU; the full run about 7 minutes "
                   "(its JSON records total_wall_s)")


def _train_verb() -> SubVerb:
    from semjax.bench import train

    return SubVerb("MAPPO training throughput, FLOP/s against the matmul peak, memory per run",
                   train.add_arguments, train.main, _train_tables,
                   "example: semjax bench train --quick\n"
                   "time: --quick under a minute on a 2-core CPU; the three widths about 2 minutes, "
                   "mostly compiling")


def _sweep_verb() -> SubVerb:
    from semjax.bench import sweep

    return SubVerb("configs per hour: the sweep engine's vmapped program against a loop of single runs",
                   sweep.add_arguments, sweep.main, sweep.tables,
                   "example: semjax bench sweep --host-devices 2 --out sweep.json\n"
                   "time: --quick under a minute on a 2-core CPU; the default (three arms of 16 configs) "
                   "about 2 minutes")


#: name -> a function returning its SubVerb (modules load only when their verb runs).
SUBVERBS: dict[str, Callable[[], SubVerb]] = {"env": _env_verb, "train": _train_verb, "sweep": _sweep_verb}


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Registers the ``bench`` verb and its sub-verbs on an argparse sub-parsers object."""
    from semjax.cli import HelpFormatter

    bench = subparsers.add_parser("bench", help="benchmarks: env steps/s, training FLOP/s (tables, JSON)",
                                  description=__doc__, formatter_class=HelpFormatter,
                                  epilog="example: semjax bench env --quick\n"
                                         "time: each sub-verb's --help says; --quick runs take under a minute")
    sub = bench.add_subparsers(dest="bench", required=True)
    for name, make in SUBVERBS.items():
        verb = make()
        p = sub.add_parser(name, help=verb.help, description=verb.help, epilog=verb.epilog,
                           formatter_class=HelpFormatter)
        verb.add_arguments(p)
        p.add_argument("--json", action="store_true", help="print the result as JSON instead of tables")
        p.add_argument("--markdown", action="store_true", help="print Markdown tables")
        p.add_argument("--out", type=Path, default=None, help="also write the JSON result here")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.set_defaults(func=run_verb, bench_verb=make)
    return bench


class _ProgressBar:
    """A tqdm bar on stderr driven by ``progress(done, total, label)`` calls."""

    def __init__(self, enabled: bool):
        self.enabled, self.bar = enabled, None

    def __call__(self, done: int, total: int, label: str) -> None:
        if not self.enabled:
            return
        from tqdm.auto import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, file=sys.stderr, desc="bench", leave=False, dynamic_ncols=True)
        self.bar.n = done
        self.bar.set_postfix_str(label, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_verb(args: argparse.Namespace) -> int:
    """Runs the chosen sub-verb, prints its tables (or JSON) and writes ``--out``."""
    verb: SubVerb = args.bench_verb()
    bar = _ProgressBar(not args.no_progress and not args.json and sys.stderr.isatty())
    args.progress = bar
    try:
        result = verb.main(args)
    finally:
        bar.close()
    text = json.dumps(result, indent=2, default=_jsonable)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    if args.json:
        print(text)
    else:
        print(verb.tables(result, "markdown" if args.markdown else "text"))
        if args.out is not None:
            print(f"wrote {args.out}")
    return 0


def _jsonable(x: Any) -> Any:
    if isinstance(x, Path):
        return str(x)
    if callable(x):
        return None
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def build_parser() -> argparse.ArgumentParser:
    """A stand-alone parser with only the ``bench`` verb (what :func:`main` parses)."""
    parser = argparse.ArgumentParser(prog="semjax")
    add_parser(parser.add_subparsers(dest="verb", required=True))
    return parser


def main(argv: list[str] | None = None) -> int:
    """``main(["env", "--quick"])``: runs ``semjax bench env --quick``."""
    args = build_parser().parse_args(["bench", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"semjax bench: error: {exc}", file=sys.stderr)
        return 2
