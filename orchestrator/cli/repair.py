"""``ganhpo repair STORE``: keep every row of a damaged store that is provably intact, re-queue the rest."""

from __future__ import annotations

import argparse

from orchestrator.cli.common import add_command


def add_parser(sub) -> None:
    """Add the ``repair`` subcommand."""
    rep = add_command(sub, "repair", "repair a damaged store: keep intact rows, re-queue the rest")
    rep.add_argument("store", help="results store (Zarr)")
    rep.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    """Repair the store in place and print what was kept and re-queued."""
    from orchestrator.store.repair import repair_store

    report = repair_store(args.store)
    for line in report.lines(args.store):
        print(f"ganhpo: {line}")
    if report.requeued or report.lost:
        print(f"ganhpo: resume with: ganhpo run EXPERIMENT --store {args.store}")
    return 0
