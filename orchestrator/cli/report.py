"""``ganhpo report STORE``: a text summary, or an HTML page with every figure (-o)."""

from __future__ import annotations

import argparse
import json

from orchestrator.cli.common import add_command


def add_parser(sub) -> None:
    """Add the ``report`` subcommand."""
    rep = add_command(sub, "report", "summarise a store: text, or an HTML page with figures (-o)")
    rep.add_argument("store", help="results store (Zarr)")
    rep.add_argument("--top", type=int, default=10, metavar="N", help="architectures listed")
    rep.add_argument("-o", "--output", metavar="DIR",
                     help="write index.html, summary.json and every figure (PNG and PDF) here")
    rep.add_argument("--best", default="mean", metavar="RULE",
                     help="how to choose the best architecture: mean | mean+2std | pareto-knee | "
                          "smallest-within:5%%")
    rep.add_argument("--threshold", type=float, metavar="METRIC",
                     help="highlight architectures with mean <= this in the marginals "
                          "(default: the 20%% quantile of the means)")
    rep.add_argument("--colour-by", metavar="NAME",
                     help="hyperparameter colouring the mean-std plot (default: the most important)")
    rep.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    """Print the summary; with -o also write the page, its figures and summary.json."""
    from orchestrator.analysis import report

    if not args.output:
        print(report(args.store, top=args.top))
        return 0
    from orchestrator.analysis.html import write_report

    page = write_report(args.store, args.output, best_rule=args.best, threshold=args.threshold,
                        colour_by=args.colour_by, top=args.top)
    summary = json.loads((page.parent / "summary.json").read_text())  # its indices, not again
    print(report(args.store, top=args.top, importance=summary["importance"]))
    print(f"ganhpo: report written to {page} (figures as PNG and PDF, summary.json beside it)")
    return 0
