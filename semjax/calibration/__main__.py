"""``python -m semjax.calibration --targets FILE --out PROFILE.json [...]``: the same as ``semjax calibrate``."""

import argparse
import sys

from semjax.calibration.cli import add_parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m semjax.calibration")
    add_parser(parser.add_subparsers(dest="verb", required=True))
    args = parser.parse_args(["calibrate", *argv])
    args.command_line = "python -m semjax.calibration " + " ".join(argv)
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"semjax calibrate: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
