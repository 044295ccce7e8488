"""``ganhpo data make ...``: synthetic datasets, defined and written by ``models.data.make``.

The parser built here only names the action; its arguments reach ``models.data.make.main``
unparsed, which is imported when the command runs, so building the parser imports no model code.
"""

from __future__ import annotations

import argparse

from orchestrator.cli.common import add_command


def add_parser(sub) -> None:
    """Add ``data`` and its action ``make`` (whose options and --help are models.data.make's)."""
    data = add_command(sub, "data", "synthetic datasets in the real file formats")
    actions = data.add_subparsers(dest="action", required=True, metavar="ACTION")
    make = add_command(actions, "make", "write a synthetic dataset", add_help=False)
    make.set_defaults(func=execute, forward_rest=True)


def execute(args: argparse.Namespace) -> int:
    """Hand the arguments after ``data make`` to the models' own command."""
    from models.data.make import main

    return main(args.rest)
