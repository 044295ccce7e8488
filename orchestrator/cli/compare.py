"""``ganhpo compare EXPERIMENT``: R searches per optimiser (or pruning rule, ``--pruning``), each repeat sharing its initial design."""

from __future__ import annotations

import argparse
from pathlib import Path

from orchestrator.cli.common import add_command
from orchestrator.cluster.options import add_cluster_arguments


def add_parser(sub) -> None:
    """Add the ``compare`` subcommand."""
    cmp_ = add_command(sub, "compare", "compare optimisers (or pruning rules): R searches each, shared initial designs")
    cmp_.add_argument("experiment", help="experiment YAML file (single-stage)")
    cmp_.add_argument("--methods", default=None, metavar="LIST",
                      help="comma-separated optimiser names (default: random,gp,rbf; with "
                           "--pruning: the experiment's optimiser)")
    cmp_.add_argument("--pruning", default=None, metavar="LIST",
                      help="comma-separated pruning rules to compare, e.g. none,asha")
    cmp_.add_argument("--repeats", type=int, default=3, metavar="R", help="searches per method")
    cmp_.add_argument("--budget", type=int, metavar="N", help="override the experiment's budget")
    cmp_.add_argument("-o", "--output", metavar="DIR",
                      help="folder for stores, figure and table (default: runs/NAME-compare)")
    cmp_.add_argument("--quiet", action="store_true", help="no progress bar")
    add_cluster_arguments(cmp_)
    cmp_.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    """Run every (method, repeat) search, then print the summary table and the files written."""
    from orchestrator.analysis.compare import compare
    from orchestrator.cluster import connect, disconnect
    from orchestrator.experiment import load_experiment

    exp = load_experiment(args.experiment)
    if args.budget:
        exp.budget = args.budget
    rules = [r.strip() for r in args.pruning.split(",") if r.strip()] if args.pruning else None
    default = exp.optimizer["name"] if rules else "random,gp,rbf"
    methods = [m.strip() for m in (args.methods or default).split(",") if m.strip()]
    out = args.output or f"runs/{exp.name}-compare"
    what = ", ".join(methods) + (f" x pruning {', '.join(rules)}" if rules else "")
    print(f"ganhpo: comparing {what} on {exp.name}: {args.repeats} repeats x "
          f"{exp.budget} architectures, stores under {out}")
    client = connect(args, exp.cluster)  # None: compare starts a local cluster
    try:
        result = compare(exp, methods, args.repeats, out, client, workers=args.workers,
                         progress=None if args.quiet else (lambda line: print(f"ganhpo: {line}")),
                         pruning=rules)
    finally:
        if client is not None:
            disconnect(client)
    print(Path(out, "summary.md").read_text(), end="")
    print("ganhpo: wrote " + ", ".join(result["files"]))
    return 0
