"""`python -m churnwatch.sample ...`: the `sample` subcommand on its own."""

from __future__ import annotations

import argparse
import sys

from churnwatch.sample.cli import configure_parser


def main(argv: list[str] | None = None) -> int:
    """Runs `churnwatch sample` with the given arguments."""
    parser = configure_parser(argparse.ArgumentParser(prog="python -m churnwatch.sample"))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
