"""The ``semjax`` command.

Verbs:
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"semjax: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
