"""The ``semjax`` command.

Verbs:
  semjax train [--config FILE] [--out DIR] [--resume] [key=value ...]
      Trains semantic-aware MAPPO; writes config.yaml, metrics.csv, learning_curve.png,
      checkpoint/ and eval.json into DIR.
  semjax evaluate DIR [--episodes N] [--json] [params.key=value ...]
      Evaluates a trained run's deterministic policy, optionally under other env params.
  semjax demo [--config FILE] [--episodes N] [--out DIR] [key=value ...]
      Evaluates the fixed policies (Local, Random, own-channel semantic offloading, raw
      offloading) on the configured world and prints QoE, latency, energy and accuracy.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from omegaconf import OmegaConf


def _demo(args: argparse.Namespace) -> int:
    import jax
    from tqdm.auto import tqdm

    from semjax.agents.heuristics import HEURISTICS
    from semjax.config import build_env, load_config, versions
    from semjax.evaluation import evaluate

    cfg = load_config(args.config, args.overrides)
    if args.episodes is not None:
        cfg.eval.episodes = args.episodes
    env, params = build_env(cfg)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg))

    key = jax.random.key(int(cfg.seed))
    results = {}
    for name in tqdm(HEURISTICS, desc="policies", disable=not sys.stderr.isatty()):
        # Same key for every policy: common random numbers (identical worlds and fading).
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
    result = train_run(cfg, args.out, resume=args.resume)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="semjax", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="verb", required=True)

    demo = sub.add_parser("demo", help="evaluate the fixed policies on the default world")
    demo.add_argument("--config", default=None, help="YAML config (default: built-in paper world)")
    demo.add_argument("--episodes", type=int, default=None, help="test episodes per policy (default 200)")
    demo.add_argument("--out", default="runs/demo", help="output directory (config.yaml, results.json)")
    demo.add_argument("--json", action="store_true", help="print the results as JSON")
    demo.add_argument("overrides", nargs="*", help="dotted overrides, e.g. params.bandwidth=5e6 env.num_ues=8")
    demo.set_defaults(func=_demo)

    train = sub.add_parser("train", help="train semantic-aware MAPPO and evaluate it")
    train.add_argument("--config", default=None, help="YAML config, e.g. configs/paper.yaml")
    train.add_argument("--out", default="runs/mappo", help="run directory")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    train.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    train.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.hidden=64 train.num_updates=100")
    train.set_defaults(func=_train)

    ev = sub.add_parser("evaluate", help="evaluate a trained run, optionally under other env params")
    ev.add_argument("run_dir", help="a directory written by semjax train")
    ev.add_argument("--episodes", type=int, default=None, help="test episodes (default: the run's eval.episodes)")
    ev.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    ev.add_argument("overrides", nargs="*", help="dotted overrides of params.* (e.g. params.bandwidth=5e6) or eval.*")
    ev.set_defaults(func=_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # key=value overrides may stand anywhere on the line (argparse would only take them
    # in one run of positionals): pull them out and hand them over separately.
    overrides = [a for a in argv[1:] if "=" in a and not a.startswith("-")]
    rest = [a for i, a in enumerate(argv) if i == 0 or a not in overrides]
    args = build_parser().parse_args(rest)
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
