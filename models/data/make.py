"""``ganhpo data make FAMILY -o FILE``: write a synthetic dataset in the family's real file format.

The ``ganhpo`` command hands the arguments after ``data make`` to ``main`` unparsed, so these
options are defined here, beside the generators; ``python -m models.data.make`` does the same.
"""

from __future__ import annotations

import argparse
import sys

from models.data import GENERATORS, make_dataset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the family, --events, --seed, -o/--output and --quiet."""
    parser.add_argument("family", choices=sorted(GENERATORS), metavar="FAMILY",
                        help=f"one of: {', '.join(sorted(GENERATORS))}")
    parser.add_argument("--events", type=int, default=100_000, metavar="N",
                        help="events to write (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="random seed (default: %(default)s)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def main(argv: list[str] | None = None, prog: str = "ganhpo data make") -> int:
    """Parse ``argv`` (the arguments after ``data make``) and write the dataset."""
    parser = argparse.ArgumentParser(prog=prog, description="write a synthetic dataset")
    add_arguments(parser)
    args = parser.parse_args(argv)
    make_dataset(args.family, args.output, events=args.events, seed=args.seed, progress=not args.quiet)
    print(f"ganhpo: wrote {args.events} {args.family} events to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(prog="python -m models.data.make"))
