"""The `ganhpo` command: run | monitor | report | focus | compare | ensemble | data | repair."""

from __future__ import annotations

import argparse
import os
import sys

from orchestrator.cli import compare, data, ensemble, focus, monitor, repair, report, run
from orchestrator.cluster import ClusterError
from orchestrator.experiment import ExperimentError
from orchestrator.space import SpaceError
from orchestrator.store import StoreError

__all__ = ["build_parser", "main"]

USER_ERRORS = (ClusterError, ExperimentError, SpaceError, StoreError, FileExistsError)

COMMANDS = (run, monitor, report, focus, compare, ensemble, data, repair)  # one module per command


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand; imports no Dask, Keras or model code."""
    parser = argparse.ArgumentParser(prog="ganhpo", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _parse(argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv``; a command that sets ``forward_rest`` gets what it did not parse as ``rest``."""
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and not getattr(args, "forward_rest", False):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")  # as parse_args says it
    args.rest = rest
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; user errors become one line and exit code 2."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _parse(argv)
    try:
        return args.func(args)
    except USER_ERRORS as err:
        print(f"ganhpo: error: {err}", file=sys.stderr)
        return 2
    except ValueError as err:  # e.g. unknown optimizer or option, unknown model family
        print(f"ganhpo: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ganhpo: interrupted; the store is consistent, run the same command to resume",
              file=sys.stderr)
        return 130
