"""semjax: simulate, train and evaluate semantic-aware edge computing, from one command.

  semjax train     train a learned method (default mappo) and test it
  semjax evaluate  test a trained run, optionally in another world
  semjax demo      the fixed policies on one world
  semjax sweep     methods x configs x seeds as compiled, sharded programs (resumable)
  semjax paper     every experiment of the paper, its figures and RESULTS.md (resumable)
  semjax bench     env, training and sweep throughput against their peers
  semjax calibrate fit the paper's unpublished constants to its published numbers
  semjax profile   measure the Flax split codecs into a task profile

Configs are YAML files with dotted key=value overrides anywhere on the line
(semjax train method=d3qn params.bandwidth=5e6); a bad key or value is an error naming it.
Run semjax VERB --help for a verb's options, defaults, time and an example.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from omegaconf import OmegaConf


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's layout and names each option's default where it has one."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        shown = not (default is None or default is False or default is argparse.SUPPRESS)
        if shown and "default" not in text and action.option_strings:
            text += f" (default: {action.default})"
        return text


def _typed_verbs(parser: argparse.ArgumentParser, argv: list[str]) -> list[argparse.ArgumentParser]:
    """The sub-parsers of the verbs named in ``argv`` (``bench env`` -> bench's and env's), so
    that a misspelt option is matched against the options of the command typed, not every verb's."""
    found = []
    for word in argv:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        chosen = next((a.choices[word] for a in subparsers if word in a.choices), None)
        if chosen is not None:
            found.append(chosen)
            parser = chosen
    return found


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors suggest the nearest verb or option."""

    def error(self, message: str):
        import difflib
        import re

        choice = re.search(r"invalid choice: '([^']*)'", message)
        unknown = re.search(r"unrecognized arguments: (\S+)", message)
        subparsers = [a for a in self._actions if isinstance(a, argparse._SubParsersAction)]
        verbs = [c for action in subparsers for c in action.choices]
        parsers = [self] + _typed_verbs(self, getattr(self, "typed", sys.argv[1:]))
        options = [o for p in parsers for action in p._actions for o in action.option_strings]
        guess = []
        if choice:
            guess = difflib.get_close_matches(choice.group(1), verbs, n=1)
        elif unknown:
            guess = difflib.get_close_matches(unknown.group(1).split("=")[0], options, n=1)
        if guess:
            message += f" (did you mean {guess[0]!r}?)"
        super().error(message)


def _demo(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from semjax.agents.heuristics import HEURISTICS
    from semjax.config import build_env, load_config, versions
    from semjax.evaluation import evaluate
    from semjax.seeding import eval_key

    cfg = load_config(args.config, args.overrides)
    if args.episodes is not None:
        cfg.eval.episodes = args.episodes
    env, params = build_env(cfg)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg))

    # Seed s's test worlds (semjax.seeding), the same for every policy: common random numbers.
    key = eval_key(int(cfg.seed))
    results = {}
    for name in tqdm(HEURISTICS, desc="policies", disable=not sys.stderr.isatty()):
        results[name] = evaluate(env, params, HEURISTICS[name](env), key, int(cfg.eval.episodes))

    payload = {"results": results, "versions": versions()}
    (out / "results.json").write_text(json.dumps(payload, indent=2))

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{env}, {cfg.eval.episodes} episodes, seed {cfg.seed}")
    header = f"{'policy':<22}{'QoE':>8}{'reward/step':>13}{'latency ms':>12}{'energy J':>10}{'accuracy':>10}{'offload':>9}"
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        print(
            f"{name:<22}{r['qoe']:>8.4f}{r['reward']:>13.3f}{r['latency_ms']:>12.3f}"
            f"{r['energy_j']:>10.4f}{r['accuracy']:>10.4f}{r['offload_rate']:>9.2f}"
        )
    print(f"wrote {out / 'results.json'} and {out / 'config.yaml'}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from semjax.config import load_config
    from semjax.training import train_run

    if args.resume:
        saved = Path(args.out) / "config.yaml"
        if not saved.is_file():
            raise ValueError(f"cannot resume: {str(saved)!r} does not exist")
        cfg = load_config(saved, args.overrides)
    else:
        cfg = load_config(args.config, args.overrides)
    from semjax.experiments.sweep import TimeLimitReached

    try:
        result = train_run(cfg, args.out, resume=args.resume, stop_at=_deadline(args))
    except TimeLimitReached as stop:
        print(f"semjax: {stop}", file=sys.stderr)
        return EX_TEMPFAIL
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        t = result["train"]
        print(f"trained {t['updates']} updates ({t['env_steps']} env steps) in {t['seconds']:.0f} s")
        print(f"eval over {result['episodes']} episodes: QoE {result['qoe']:.4f}, reward/step {result['reward']:.3f}, "
              f"latency {result['latency_ms']:.3f} ms, energy {result['energy_j']:.4f} J, accuracy {result['accuracy']:.4f}")
        print(f"wrote {args.out}/: config.yaml, metrics.csv, learning_curve.png, checkpoint/, eval.json")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from semjax.training import evaluate_run

    result = evaluate_run(args.run_dir, args.episodes, args.overrides)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k in ("qoe", "reward", "latency_ms", "energy_j", "accuracy", "offload_rate", "mean_mu", "collision_rate"):
            print(f"{k:<16}{result[k]}")
    return 0


def _init_processes(args: argparse.Namespace, verb: str) -> int | None:
    """Host settings and, for several processes, ``jax.distributed``; an exit status on bad arguments."""
    from semjax.host import prepare_host

    explicit = (args.coordinator, args.num_processes, args.process_id)
    if any(v is not None for v in explicit) and not all(v is not None for v in explicit):
        print(f"semjax {verb}: --coordinator, --num-processes and --process-id go together", file=sys.stderr)
        return 2
    if args.num_processes is not None and not 0 <= args.process_id < args.num_processes:
        print(f"semjax {verb}: --process-id must be in [0, {args.num_processes}) (got {args.process_id})", file=sys.stderr)
        return 2
    if args.host_devices is not None and args.host_devices < 1:
        print(f"semjax {verb}: --host-devices must be >= 1 (got {args.host_devices})", file=sys.stderr)
        return 2
    prepare_host(args.host_devices)  # before JAX starts its backend (see its doc)
    if not sys.stderr.isatty():
        # No bars without a terminal (a log file, nohup): a line when each program starts and ends.
        logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
        logging.getLogger("semjax.experiments").setLevel(logging.INFO)
    if args.distributed or args.coordinator is not None:
        import jax

        # CPU processes exchange results over gloo (GPUs and TPUs use their own collectives).
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        if args.coordinator is None:
            jax.distributed.initialize()  # the cluster (Slurm, Open MPI, TPU pod) is detected
        else:
            jax.distributed.initialize(coordinator_address=args.coordinator, num_processes=args.num_processes,
                                       process_id=args.process_id)
    return None


def _deadline(args: argparse.Namespace) -> float | None:
    import time

    return None if args.stop_after is None else time.monotonic() + args.stop_after


def _sweep(args: argparse.Namespace) -> int:
    from semjax.experiments.sweep import TimeLimitReached, load_sweep, run_sweep

    status = _init_processes(args, "sweep")
    if status is not None:
        return status
    sweep = load_sweep(args.sweep_file, args.overrides)
    out = args.out or f"runs/sweeps/{sweep.name}"
    try:
        info = run_sweep(sweep, out, stop_at=_deadline(args), progress=False if args.no_progress else None)
    except TimeLimitReached as stop:
        print(f"semjax: {stop}", file=sys.stderr)
        return EX_TEMPFAIL
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(f"{info['methods']} method(s) x {info['configs']} configs x {info['seeds']} seeds: ran {info['ran']} of "
              f"{info['runs']} runs in {info['seconds']:.0f} s ({info['groups']} compiled group(s), {info['devices']} device(s))")
        print(f"wrote {out}/: results.csv, summary.csv, plots/, programs.csv, policies/, sweep.yaml, versions.json")
    return 0


EX_TEMPFAIL = 75  # sysexits.h: "try again later", for --stop-after (a job script can requeue on it)


def _duration(text: str) -> float:
    """Seconds from ``5400`` (seconds), ``90m``, ``2h30m``, ``1h`` or ``45s``, for --stop-after."""
    import re

    number = r"(\d+(?:\.\d+)?)"
    bare = re.fullmatch(number, text.strip())
    if bare:
        return float(bare.group(1))
    m = re.fullmatch(rf"(?:{number}h)?(?:{number}m)?(?:{number}s)?", text.strip())
    if not text.strip() or m is None:
        raise argparse.ArgumentTypeError(f"expected a duration such as 5400, 90m or 2h30m (got {text!r})")
    h, mins, secs = (float(g) if g else 0.0 for g in m.groups())
    return 3600 * h + 60 * mins + secs


def _paper(args: argparse.Namespace) -> int:
    from semjax.experiments.paper import run_paper
    from semjax.experiments.sweep import TimeLimitReached

    status = _init_processes(args, "paper")
    if status is not None:
        return status
    budget = args.budget or ("quick" if args.quick else "full")
    try:
        results = run_paper(args.out, budget, config=args.config, overrides=tuple(args.overrides), seeds=args.seeds,
                            stop_at=_deadline(args), progress=False if args.no_progress else None)
    except TimeLimitReached as stop:
        print(f"semjax: {stop}", file=sys.stderr)
        return EX_TEMPFAIL
    from semjax.experiments.report import checks

    h = results["headline"]
    print(f"done in {results['run']['seconds']:.0f} s: QoE gain over semantic-unaware MAPPO "
          f"{100 * h.get('gain_vs_mappo_unaware', float('nan')):.2f} %, over semantic-unaware D3QN "
          f"{100 * h.get('gain_vs_d3qn_unaware', float('nan')):.2f} %")
    for name, r in results["methods"].items():
        pct = r.get("pct_of_oracle", {}).get("qoe", float("nan"))
        print(f"{name:<16}QoE {r['qoe']:.4f} ± {r['ci95']['qoe']:.4f}  reward/step {r['reward']:8.3f}  "
              f"({pct:.1f} % of the oracle's QoE)")
    for statement, verdict, _ in checks(results):
        print(f"{verdict:<28}{statement}")
    print(f"wrote {args.out}/: RESULTS.md, results.json, one PNG and CSV per figure; each spec's tables in {args.out}/NAME/")
    return 0


def _profile(args: argparse.Namespace) -> int:
    from semjax.codecs.profile import ProfileConfig, run_profile

    cfg = ProfileConfig(quick=args.quick, paper_scale=args.paper_scale, data_dir=args.data_dir, seed=args.seed,
                        steps=args.steps, vit_checkpoint=args.vit_checkpoint, bert_checkpoint=args.bert_checkpoint,
                        extraction=args.extraction, device_share=args.device_share)
    command = "semjax profile " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["profile"] else None
    result = run_profile(cfg, args.out, args.figures, command=command)
    for name, entry in result["fields"].items():
        print(f"{name:<14}" + "".join(f"{v:>14.5g}" for v in entry["values"]))
    print(f"wrote {args.out} (load it with SemanticMEC(profile={args.out!r})) and "
          f"{Path(args.figures or Path(args.out).parent) / (Path(args.out).stem + '_<task>.png')}")
    return 0


def _add_scale_out(verb: argparse.ArgumentParser) -> None:
    """The engine's flags: devices, hosts and a time limit."""
    verb.add_argument("--host-devices", type=int, default=None, metavar="N",
                      help="split the CPU into N XLA devices (default: one per core); a GPU backend ignores it")
    verb.add_argument("--stop-after", type=_duration, default=None, metavar="DURATION",
                      help="start no program after this long (5400, 90m, 2h30m) and exit with status 75; "
                           "rerun to resume (a job's time limit)")
    verb.add_argument("--distributed", action="store_true",
                      help="several hosts: call jax.distributed.initialize() first (one process per host)")
    verb.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                      help="several processes without a detected cluster: process 0's address (with the next two)")
    verb.add_argument("--num-processes", type=int, default=None, help="processes in the run (with --coordinator)")
    verb.add_argument("--process-id", type=int, default=None, help="this process's index (with --coordinator)")
    verb.add_argument("--no-progress", action="store_true",
                      help="no progress bars (shown by default on a terminal's stderr only)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="semjax", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser)

    demo = sub.add_parser("demo", help="evaluate the fixed policies on the default world", formatter_class=HelpFormatter,
                           epilog=("example: semjax demo params.noise_power=1e-3 --episodes 100\n"
                                 "time: about half a minute on a 2-core CPU (compiling each policy's program dominates)"))
    demo.add_argument("--config", default=None, help="YAML config (default: built-in paper world)")
    demo.add_argument("--episodes", type=int, default=None, help="test episodes per policy (default 200)")
    demo.add_argument("--out", default="runs/demo", help="output directory (config.yaml, results.json)")
    demo.add_argument("--json", action="store_true", help="print the results as JSON")
    demo.add_argument("overrides", nargs="*", help="dotted overrides, e.g. params.bandwidth=5e6 env.num_ues=8")
    demo.set_defaults(func=_demo)

    train = sub.add_parser("train", help="train semantic-aware MAPPO and evaluate it", formatter_class=HelpFormatter,
                           epilog=("example: semjax train --config configs/paper.yaml --out runs/paper method=mappo_unaware\n"
                                  "methods: mappo (default), mappo_discrete, mappo_unaware, d3qn, d3qn_unaware\n"
                                  "time: configs/paper.yaml (2000 updates of 64 envs) takes about 11 minutes on a 2-core CPU;\n"
                                  "train.num_updates=100 about a minute"))
    train.add_argument("--config", default=None, help="YAML config, e.g. configs/paper.yaml")
    train.add_argument("--out", default="runs/mappo", help="run directory")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    train.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    train.add_argument("--stop-after", type=_duration, default=None, metavar="DURATION",
                       help="stop at the first checkpoint after this long (5400, 90m, 2h30m) with status 75; "
                            "--resume continues")
    train.add_argument("overrides", nargs="*", help="dotted overrides, e.g. method=d3qn train.num_updates=100")
    train.set_defaults(func=_train)

    ev = sub.add_parser("evaluate", help="evaluate a trained run, optionally under other env params", formatter_class=HelpFormatter,
                           epilog=("example: semjax evaluate runs/paper params.bandwidth=5e6 --json\n"
                                "time: about 20 s for 200 episodes on a 2-core CPU"))
    ev.add_argument("run_dir", help="a directory written by semjax train")
    ev.add_argument("--episodes", type=int, default=None, help="test episodes (default: the run's eval.episodes)")
    ev.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    ev.add_argument("overrides", nargs="*", help="dotted overrides of params.* (e.g. params.bandwidth=5e6) or eval.*")
    ev.set_defaults(func=_evaluate)

    prof = sub.add_parser("profile", help="measure the Flax split codecs and fit a task profile (needs the codecs extra)", formatter_class=HelpFormatter,
                           epilog=("example: semjax profile --quick --out runs/profile/measured.json\n"
                                    "time: on a 2-core CPU --quick takes minutes and the full run about a quarter of an hour;\n"
                                    "each profile records its wall time in its provenance (docs/codecs.md)"))
    prof.add_argument("--out", default="runs/profile/measured.json", help="profile JSON to write")
    prof.add_argument("--figures", default=None, help="folder for one PNG per task (default: next to --out)")
    prof.add_argument("--quick", action="store_true", help="500 training steps per task, one noise draw per test sample and SNR")
    prof.add_argument("--paper-scale", action="store_true",
                      help="take FLOPs and bits from BERT-base / ViT-B models (cost analysis only, no training)")
    prof.add_argument("--data-dir", default=None,
                      help="local folder with SST-2/, cifar-10-batches-bin/, VQAv2/ (default: bundled / generated data)")
    prof.add_argument("--vit-checkpoint", default=None, help="local FlaxViTModel folder (save_pretrained) to start from")
    prof.add_argument("--bert-checkpoint", default=None, help="local FlaxBertModel folder (save_pretrained) to start from")
    prof.add_argument("--steps", type=int, default=None, help="training steps of every task (default: 500 quick; 1500, and 8000 for vqa)")
    prof.add_argument("--extraction", choices=("distill", "end_to_end"), default="distill",
                      help="distill: train the task model once, then each split's bottleneck on the cut features; "
                           "end_to_end: every split's codec on the task loss (docs/codecs.md)")
    prof.add_argument("--device-share", type=float, default=0.25,
                      help="the most layers the device runs, as a share of the model's (at mu -> 0), in (0, 1]")
    prof.add_argument("--seed", type=int, default=0)
    prof.set_defaults(func=_profile)

    pp = sub.add_parser("paper", help="run the paper's experiments: every method, every figure, RESULTS.md", formatter_class=HelpFormatter,
                           epilog=("example: semjax paper --quick --out runs/paper_quick\n"
                                  "time: --quick takes under 20 minutes on a 2-core CPU (results/paper_quick records it), the full budget about a day of CPU time\n"
                                  "(docs/paper.md; results/paper_*/RESULTS.md state each run's program time)"))
    pp.add_argument("--quick", action="store_true", help="the quick budget (semjax/configs/paper/quick/)")
    pp.add_argument("--budget", default=None, metavar="DIR",
                    help="a folder of your own spec files (main, preferences, mu_min, num_ues .yaml) instead")
    pp.add_argument("--out", default="runs/paper", help="output directory; rerun the same command to resume")
    pp.add_argument("--config", default=None, help="YAML config replacing every spec's base config (default: configs/paper.yaml)")
    pp.add_argument("--seeds", type=int, default=None, help="seeds per method in every spec (default: the specs')")
    _add_scale_out(pp)
    pp.add_argument("overrides", nargs="*", help="dotted config overrides for every spec, e.g. env.profile=fitted")
    pp.set_defaults(func=_paper)

    sw = sub.add_parser("sweep", help="train/evaluate many methods x configs x seeds as compiled, sharded programs", formatter_class=HelpFormatter,
                           epilog=("example: semjax sweep configs/sweeps/heuristics_world_eval.yaml seeds=2\n"
                                  "time: from seconds (fixed methods) to hours (the paper's retraining budgets); programs.csv\n"
                                  "in the output folder records each program's compile and run seconds (docs/sweeps.md)"))
    sw.add_argument("sweep_file", help="a sweep file, e.g. configs/sweeps/default_64x4.yaml")
    sw.add_argument("--out", default=None, help="output directory (default runs/sweeps/NAME); rerun to resume")
    sw.add_argument("--json", action="store_true", help="print the run summary as JSON")
    _add_scale_out(sw)
    sw.add_argument("overrides", nargs="*", help="dotted overrides of the sweep file, e.g. seeds=2 base.train.num_updates=50")
    sw.set_defaults(func=_sweep)
    from semjax.bench import add_parser as add_bench_parser
    from semjax.calibration import add_parser as add_calibrate_parser

    add_bench_parser(sub)
    add_calibrate_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # key=value overrides may stand anywhere on the line (argparse would only take them
    # in one run of positionals): pull them out and hand them over separately.
    overrides = [a for a in argv[1:] if "=" in a and not a.startswith("-")]
    rest = [a for i, a in enumerate(argv) if i == 0 or a not in overrides]
    parser = build_parser()
    parser.typed = rest  # what the user typed, for the suggestions of a misspelt option
    args = parser.parse_args(rest)
    if hasattr(args, "overrides"):
        # Leftover positionals have no '=': load_config rejects them by name.
        args.overrides = overrides + list(args.overrides)
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"semjax: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
