"""``ganhpo focus STORE``: write a focus-search experiment derived from a broad search."""

from __future__ import annotations

import argparse
from pathlib import Path

from orchestrator.cli.common import add_command


def add_parser(sub) -> None:
    """Add the ``focus`` subcommand."""
    foc = add_command(sub, "focus", "write a focus-search experiment derived from a store")
    how = foc.add_mutually_exclusive_group()
    how.add_argument("--eps", type=float, metavar="STEPS",
                     help="around the best point: +- this many lattice steps (default: 2)")
    how.add_argument("--threshold", metavar="METRIC|Q%",
                     help="span of the architectures with mean <= METRIC, or in the best Q%% (e.g. 20%%)")
    foc.add_argument("store", help="results store (Zarr) of the broad search")
    foc.add_argument("--real-eps", type=float, default=0.1, metavar="U",
                     help="with --eps: half-width for real parameters in unit-cube units")
    foc.add_argument("--budget", type=int, metavar="N",
                     help="budget of the focus search (default: the store's)")
    foc.add_argument("-o", "--output", metavar="FILE", help="write the YAML here (default: print)")
    foc.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    """Print the focus experiment's YAML, or write it and say how its space was narrowed."""
    import yaml

    from orchestrator.analysis.focus import describe, focus_experiment, focus_method
    from orchestrator.space import SearchSpace
    from orchestrator.store import read_store

    eps = None if args.threshold is not None else (2.0 if args.eps is None else args.eps)
    spec = focus_experiment(args.store, eps=eps, budget=args.budget, threshold=args.threshold,
                            real_eps=None if eps is None else args.real_eps)
    text = yaml.safe_dump(spec, sort_keys=False)
    if not args.output:
        print(text)
        return 0
    Path(args.output).write_text(text)
    space = read_store(args.store).experiment["space"]
    how = focus_method(space, eps, None if eps is None else args.real_eps, args.threshold)
    print(f"ganhpo: focus experiment from {how} written to {args.output}:")
    print("\n".join(describe(space, SearchSpace(spec["space"]))))
    print(f"  results go to store: {spec['store']}")
    return 0
