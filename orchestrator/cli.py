"""The `ganhpo` command: run | monitor | report | focus | data."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import yaml

from orchestrator.cluster import ClusterError
from orchestrator.experiment import ExperimentError, load_experiment
from orchestrator.space import SpaceError
from orchestrator.store import StoreError

USER_ERRORS = (ClusterError, ExperimentError, SpaceError, StoreError, FileExistsError)


def _progress_bar(budget: int, quiet: bool):
    """A tqdm bar: architectures done / budget, best mean so far."""
    from tqdm import tqdm

    bar = tqdm(total=budget, desc="architectures", unit="arch", disable=quiet, dynamic_ncols=True)

    def update(done: int, total: int, best: float | None) -> None:
        bar.total = total
        bar.n = done
        if best is not None:
            bar.set_postfix_str(f"best {best:.5g}")
        bar.refresh()

    return bar, update


def _start_monitor(store: str, port: int) -> subprocess.Popen | None:
    """Serve the monitor from a child process; say so at once if it cannot start."""
    cmd = [sys.executable, "-m", "orchestrator.cli", "monitor", store, "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=2.0)
    except subprocess.TimeoutExpired:
        print(f"ganhpo: monitor at http://127.0.0.1:{port}/")
        return proc
    print(f"ganhpo: the monitor did not start: {err.strip().splitlines()[-1] if err else proc.returncode}",
          file=sys.stderr)
    return None


def cmd_run(args: argparse.Namespace) -> int:
    from distributed import Client

    from orchestrator.cluster import connect, disconnect, make_cluster, wants_gpu_resources
    from orchestrator.driver import run, validate
    from orchestrator.monitor import add_to_dask_dashboard

    exp = load_experiment(args.experiment)
    if args.budget:
        exp.budget = args.budget
    store = args.store or exp.store or f"runs/{exp.name}.zarr"
    if exp.resources is None and wants_gpu_resources(args, exp.cluster):
        exp.resources = {"GPU": 1}  # adaptive clusters start with no worker to ask
    validate(exp, store)
    route = add_to_dask_dashboard(store)  # served by schedulers started in this process
    client = connect(args, exp.cluster) or Client(make_cluster("local", workers=args.workers))
    print(f"ganhpo: {exp.name}: {exp.budget} architectures x {exp.trials} trials, "
          f"optimizer {exp.optimizer['name']}, store {store}")
    print(f"ganhpo: watch it with: ganhpo monitor {store} --port {args.monitor_port}")
    print(f"ganhpo: Dask dashboard: {client.dashboard_link}"
          + ("" if args.scheduler else f" (search page: {client.dashboard_link.rsplit('/', 1)[0]}{route})"))
    monitor = _start_monitor(store, args.monitor_port) if args.monitor else None
    bar, progress = _progress_bar(exp.budget, args.quiet)
    try:
        result = run(exp, client, store=store, workers=args.workers, progress=progress)
    finally:
        bar.close()
        if monitor:
            monitor.terminate()
        disconnect(client)
    print(result.summary())
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    from orchestrator.monitor import serve

    serve(args.store, port=args.port, address=args.address,
          allow_websocket_origin=args.allow_websocket_origin, show=False)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from orchestrator.analysis import report

    if not args.output:
        print(report(args.store, top=args.top))
        return 0
    from orchestrator.analysis.html import write_report

    page = write_report(args.store, args.output, best_rule=args.best, threshold=args.threshold,
                        colour_by=args.colour_by, top=args.top)
    print(report(args.store, top=args.top))
    print(f"ganhpo: report written to {page} (figures as PNG and PDF, summary.json beside it)")
    return 0


def cmd_focus(args: argparse.Namespace) -> int:
    from orchestrator.analysis.focus import describe, focus_experiment
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
    how = (f"the span of the architectures with mean <= {args.threshold}" if eps is None
           and not str(args.threshold).endswith("%") else
           f"the span of the best {args.threshold} of the architectures" if eps is None else
           f"the best architecture +- {eps:g} lattice steps (reals +- {args.real_eps:g} unit cube)")
    print(f"ganhpo: focus experiment from {how} written to {args.output}:")
    print("\n".join(describe(read_store(args.store).experiment["space"], SearchSpace(spec["space"]))))
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from models.data import make_dataset

    make_dataset(args.family, args.output, events=args.events, seed=args.seed, progress=not args.quiet)
    print(f"ganhpo: wrote {args.events} {args.family} events to {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    from orchestrator.cluster import add_cluster_arguments

    parser = argparse.ArgumentParser(prog="ganhpo", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run or resume a search")
    run.add_argument("experiment", help="experiment YAML file")
    run.add_argument("--store", help="results store (Zarr); an existing one is resumed")
    run.add_argument("--workers", type=int, help="local workers (embedded cluster only)")
    run.add_argument("--scheduler", help="address of a running Dask scheduler")
    run.add_argument("--budget", type=int, help="override the experiment's budget")
    run.add_argument("--monitor", action="store_true", help="also serve the monitor page")
    run.add_argument("--monitor-port", type=int, default=5006)
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    add_cluster_arguments(run)
    run.set_defaults(func=cmd_run)

    mon = sub.add_parser("monitor", help="serve the live Bokeh monitor of a store")
    mon.add_argument("store")
    mon.add_argument("--port", type=int, default=5006)
    mon.add_argument("--address", default="127.0.0.1", help="interface to bind (default loopback)")
    mon.add_argument("--allow-websocket-origin", action="append",
                     help="extra host[:port] allowed to open the page (default: only the bound one)")
    mon.set_defaults(func=cmd_monitor)

    rep = sub.add_parser("report", help="summarise a store: text, or an HTML page with figures (-o)")
    rep.add_argument("store")
    rep.add_argument("--top", type=int, default=10, help="architectures listed (default: %(default)s)")
    rep.add_argument("-o", "--output", metavar="DIR",
                     help="write index.html, summary.json and every figure (PNG and PDF) here")
    rep.add_argument("--best", default="mean", metavar="RULE",
                     help="how to choose the best architecture: mean | mean+2std | pareto-knee | "
                          "smallest-within:5%% (default: %(default)s)")
    rep.add_argument("--threshold", type=float, metavar="METRIC",
                     help="highlight architectures with mean <= this in the marginals "
                          "(default: the 20%% quantile of the means)")
    rep.add_argument("--colour-by", metavar="NAME",
                     help="hyperparameter colouring the mean-std plot (default: the most important)")
    rep.set_defaults(func=cmd_report)

    foc = sub.add_parser("focus", help="write a focus-search experiment derived from a store")
    how = foc.add_mutually_exclusive_group()
    how.add_argument("--eps", type=float, metavar="STEPS",
                     help="around the best point: +- this many lattice steps (default: 2)")
    how.add_argument("--threshold", metavar="METRIC|Q%",
                     help="span of the architectures with mean <= METRIC, or in the best Q%% (e.g. 20%%)")
    foc.add_argument("store")
    foc.add_argument("--real-eps", type=float, default=0.1, metavar="U",
                     help="with --eps: half-width for real parameters in unit-cube units "
                          "(default: %(default)s)")
    foc.add_argument("--budget", type=int, help="budget of the focus search (default: the store's)")
    foc.add_argument("-o", "--output", metavar="FILE", help="write the experiment YAML here")
    foc.set_defaults(func=cmd_focus)

    data = sub.add_parser("data", help="synthetic datasets in the real file formats")
    data_sub = data.add_subparsers(dest="action", required=True)
    make = data_sub.add_parser("make", help="write a synthetic dataset")
    make.add_argument("family")
    make.add_argument("--events", type=int, default=100_000)
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("-o", "--output", required=True)
    make.add_argument("--quiet", action="store_true")
    make.set_defaults(func=cmd_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; user errors become one line and exit code 2."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
