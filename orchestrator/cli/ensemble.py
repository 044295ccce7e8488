"""``ganhpo ensemble STORE``: retrain one architecture K times; truth against the ensemble band."""

from __future__ import annotations

import argparse

from orchestrator.cli.common import add_command
from orchestrator.cluster.options import add_cluster_arguments


def add_parser(sub) -> None:
    """Add the ``ensemble`` subcommand."""
    ens = add_command(sub, "ensemble", "retrain one architecture K times; truth vs ensemble band")
    ens.add_argument("store", help="results store (Zarr)")
    ens.add_argument("--k", type=int, default=8, metavar="K", help="number of retrainings")
    ens.add_argument("--arch", default="best", metavar="N|best", help="architecture index, or best")
    ens.add_argument("--epochs", type=int, metavar="N", help="epochs per member (default: the store's)")
    ens.add_argument("-o", "--output", required=True, metavar="DIR",
                     help="folder for figures and generators")
    add_cluster_arguments(ens)
    ens.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    """Retrain the architecture K times on the requested cluster and print the files written."""
    from orchestrator.analysis.ensemble import run_ensemble
    from orchestrator.cluster import connect, disconnect
    from orchestrator.store import read_attrs

    if args.arch not in (None, "best") and not args.arch.isdigit():
        raise ValueError(f"--arch {args.arch!r}: give an architecture index (e.g. 12) or best")
    arch = "best" if args.arch in (None, "best") else int(args.arch)
    client = connect(args, read_attrs(args.store)["experiment"].get("cluster") or {})
    try:
        result = run_ensemble(args.store, k=args.k, arch=arch, out_dir=args.output,
                              epochs=args.epochs, client=client, workers=args.workers)
    finally:
        if client is not None:
            disconnect(client)
    print(f"ganhpo: ensemble of {args.k} retrainings of architecture #{result['arch']} "
          f"{result['params']}")
    test = result["member_test_mean"]
    print(f"ganhpo: members' metric: validation {result['member_metric_mean']:.5g} +- "
          f"{result['member_metric_std']:.2g}, test "
          + ("-" if test is None else f"{test:.5g} +- {result['member_test_std'] or 0:.2g}")
          + f" ({result['test_note']})")
    print("ganhpo: wrote " + ", ".join(result["files"]))
    return 0
