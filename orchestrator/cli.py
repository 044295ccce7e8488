"""The `ganhpo` command: run | monitor | report | focus | compare | ensemble | data."""

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
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # the terminal's Ctrl-C is the driver's to handle
    try:
        _, err = proc.communicate(timeout=2.0)
    except subprocess.TimeoutExpired:
        print(f"ganhpo: monitor at http://127.0.0.1:{port}/")
        return proc
    print(f"ganhpo: the monitor did not start: {err.strip().splitlines()[-1] if err else proc.returncode}",
          file=sys.stderr)
    return None


def _preflight(args: argparse.Namespace):
    """Everything checked before any cluster starts: the file, the budget, the trial, the store."""
    from orchestrator.console import check_store_path
    from orchestrator.driver import validate

    exp = load_experiment(args.experiment)
    if args.budget is not None:
        if args.budget < 1:
            raise ExperimentError(f"option --budget: must be a positive integer, got {args.budget}; "
                                  "e.g. --budget 20")
        exp.budget = args.budget
    store = args.store or exp.store or f"runs/{exp.name}.zarr"
    exp.check_trial()
    check_store_path(store)
    described = validate(exp, store)
    if described:  # issue 16: events read and the train / validation / test split, before any cluster
        print(f"ganhpo: {described}")
    n_initial = exp.optimizer.get("n_initial")
    if isinstance(n_initial, int) and exp.budget < n_initial:
        print(f"ganhpo: warning: budget {exp.budget} is below the optimizer's n_initial "
              f"{n_initial}: the search ends inside its initial design (no surrogate steps); "
              f"raise --budget or lower n_initial", file=sys.stderr)
    return exp, store


def _start_cluster(args: argparse.Namespace, exp):
    """The client of the requested cluster; workers start with SIGINT ignored."""
    from distributed import Client

    from orchestrator.cluster import connect, make_cluster
    from orchestrator.console import workers_ignore_sigint

    with workers_ignore_sigint():
        return connect(args, exp.cluster) or Client(make_cluster("local", workers=args.workers))


def cmd_run(args: argparse.Namespace) -> int:
    from orchestrator.cluster import disconnect, wants_gpu_resources
    from orchestrator.console import Interrupted, quiet_dask, run_summary, stop_on_signals
    from orchestrator.driver import SearchFailed, run
    from orchestrator.monitor import add_to_dask_dashboard

    exp, store = _preflight(args)
    if exp.resources is None and wants_gpu_resources(args, exp.cluster):
        exp.resources = {"GPU": 1}  # adaptive clusters start with no worker to ask
    log_file = None if args.verbose else Path(store).absolute().with_suffix(".log")
    quiet_dask(log_file)
    route = add_to_dask_dashboard(store)  # served by schedulers started in this process
    resume = f"ganhpo run {args.experiment} --store {store}"
    with stop_on_signals():
        try:
            client = _start_cluster(args, exp)
            try:
                _announce(args, exp, store, client, route)
                monitor = _start_monitor(store, args.monitor_port) if args.monitor else None
                bar, progress = _progress_bar(exp.budget, args.quiet)
                try:
                    result = run(exp, client, store=store, workers=args.workers, progress=progress)
                finally:
                    bar.close()
                    if monitor:
                        monitor.terminate()
            finally:
                disconnect(client)
        except Interrupted as sig:
            print(f"ganhpo: interrupted ({sig}); the store {store} is consistent; resume with: "
                  f"{resume}", file=sys.stderr)
            return sig.exit_code
        except SearchFailed as err:
            from orchestrator.console import failure_lines

            print(f"ganhpo: search stopped: {err}", file=sys.stderr)
            print("\n".join(failure_lines(store)), file=sys.stderr)
            return 1
    print(result.summary())
    lines, ok = run_summary(store, args.experiment)
    if log_file is not None and log_file.exists():
        lines.append(f"Dask's log messages: {log_file} (--verbose: on the console)")
    print("\n".join(lines), file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def _announce(args, exp, store, client, route) -> None:
    print(f"ganhpo: {exp.name}: {exp.budget} architectures x {exp.trials} trials, "
          f"optimizer {exp.optimizer['name']}, store {store}")
    print(f"ganhpo: watch it with: ganhpo monitor {store} --port {args.monitor_port}")
    print(f"ganhpo: Dask dashboard: {client.dashboard_link}"
          + ("" if args.scheduler else f" (search page: {client.dashboard_link.rsplit('/', 1)[0]}{route})"))


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


def cmd_compare(args: argparse.Namespace) -> int:
    from orchestrator.compare import compare

    exp = load_experiment(args.experiment)
    if args.budget:
        exp.budget = args.budget
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    out = args.output or f"runs/{exp.name}-compare"
    print(f"ganhpo: comparing {', '.join(methods)} on {exp.name}: {args.repeats} repeats x "
          f"{exp.budget} architectures, stores under {out}")
    from orchestrator.cluster import connect, disconnect

    client = connect(args, exp.cluster)  # None: compare starts a local cluster
    try:
        result = compare(exp, methods, args.repeats, out, client, workers=args.workers,
                         progress=None if args.quiet else (lambda line: print(f"ganhpo: {line}")))
    finally:
        if client is not None:
            disconnect(client)
    print(Path(out, "summary.md").read_text(), end="")
    print("ganhpo: wrote " + ", ".join(result["files"]))
    return 0


def cmd_ensemble(args: argparse.Namespace) -> int:
    from orchestrator.cluster import connect, disconnect
    from orchestrator.ensemble import run_ensemble
    from orchestrator.store import check_store

    if args.arch not in (None, "best") and not args.arch.isdigit():
        raise ValueError(f"--arch {args.arch!r}: give an architecture index (e.g. 12) or best")
    arch = "best" if args.arch in (None, "best") else int(args.arch)
    client = connect(args, check_store(args.store)["experiment"].get("cluster") or {})
    try:
        result = run_ensemble(args.store, k=args.k, arch=arch, out_dir=args.output,
                              epochs=args.epochs, client=client, workers=args.workers)
    finally:
        if client is not None:
            disconnect(client)
    print(f"ganhpo: ensemble of {args.k} retrainings of architecture #{result['arch']} "
          f"{result['params']}")
    print("ganhpo: wrote " + ", ".join(result["files"]))
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from models.data import make_dataset

    make_dataset(args.family, args.output, events=args.events, seed=args.seed, progress=not args.quiet)
    print(f"ganhpo: wrote {args.events} {args.family} events to {args.output}")
    return 0


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show a default only where there is one (not None/False)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if any(action.default is x for x in (None, False, argparse.SUPPRESS)) \
                or "%(default)" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


# Readable placeholders for the cluster options (their dests are cluster_<key>).
CLUSTER_METAVARS = {"memory": "SIZE", "walltime": "HH:MM:SS", "queue": "NAME", "account": "NAME",
                    "interface": "IFACE", "local_directory": "DIR", "log_directory": "DIR",
                    "jobqueue_config": "FILE", "tls_ca_file": "FILE", "tls_cert": "FILE",
                    "tls_key": "FILE", "dashboard_address": "ADDRESS", "address": "HOST"}


def _readable_metavars(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if action.metavar is None and action.option_strings and action.nargs != 0:
            key = action.dest.removeprefix("cluster_")
            action.metavar = CLUSTER_METAVARS.get(key, "N" if action.type is int else "VALUE")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    from orchestrator.cluster import add_cluster_arguments

    parser = argparse.ArgumentParser(prog="ganhpo", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, parent=sub) -> argparse.ArgumentParser:
        return parent.add_parser(name, help=help, description=help, formatter_class=_HelpFormatter)

    run = command("run", "run or resume a search")
    run.add_argument("experiment", help="experiment YAML file")
    run.add_argument("--store", metavar="PATH",
                     help="results store (Zarr); an existing one is resumed (default: the "
                          "experiment's store:, else runs/NAME.zarr)")
    run.add_argument("--workers", type=int, metavar="N",
                     help="local worker processes (embedded cluster only; default: up to 4)")
    run.add_argument("--scheduler", metavar="ADDRESS", help="address of a running Dask scheduler")
    run.add_argument("--budget", type=int, metavar="N", help="override the experiment's budget")
    run.add_argument("--monitor", action="store_true", help="also serve the monitor page")
    run.add_argument("--monitor-port", type=int, default=5006, metavar="PORT",
                     help="port of the page --monitor serves")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--verbose", action="store_true",
                     help="Dask's own log messages on the console (default: in STORE's .log file)")
    add_cluster_arguments(run)
    _readable_metavars(run)
    run.set_defaults(func=cmd_run)

    mon = command("monitor", "serve the live Bokeh monitor of a store")
    mon.add_argument("store", help="results store (Zarr) of a run, finished or running")
    mon.add_argument("--port", type=int, default=5006, metavar="PORT", help="port to serve on")
    mon.add_argument("--address", default="127.0.0.1", metavar="ADDRESS",
                     help="interface to bind (0.0.0.0: every interface)")
    mon.add_argument("--allow-websocket-origin", action="append", metavar="HOST[:PORT]",
                     help="extra host[:port] allowed to open the page (default: only the bound one)")
    mon.set_defaults(func=cmd_monitor)

    rep = command("report", "summarise a store: text, or an HTML page with figures (-o)")
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
    rep.set_defaults(func=cmd_report)

    foc = command("focus", "write a focus-search experiment derived from a store")
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
    foc.set_defaults(func=cmd_focus)

    cmp_ = command("compare", "compare optimisers: R searches each, shared initial designs")
    cmp_.add_argument("experiment", help="experiment YAML file (single-stage)")
    cmp_.add_argument("--methods", default="random,gp,rbf", metavar="LIST",
                      help="comma-separated optimiser names")
    cmp_.add_argument("--repeats", type=int, default=3, metavar="R", help="searches per method")
    cmp_.add_argument("--budget", type=int, metavar="N", help="override the experiment's budget")
    cmp_.add_argument("--workers", type=int, metavar="N", help="local workers")
    cmp_.add_argument("-o", "--output", metavar="DIR",
                      help="folder for stores, figure and table (default: runs/NAME-compare)")
    cmp_.add_argument("--scheduler", metavar="ADDRESS", help="address of a running Dask scheduler")
    cmp_.add_argument("--quiet", action="store_true", help="no progress bar")
    add_cluster_arguments(cmp_)
    _readable_metavars(cmp_)
    cmp_.set_defaults(func=cmd_compare)

    ens = command("ensemble", "retrain one architecture K times; truth vs ensemble band")
    ens.add_argument("store", help="results store (Zarr)")
    ens.add_argument("--k", type=int, default=8, metavar="K", help="number of retrainings")
    ens.add_argument("--arch", default="best", metavar="N|best", help="architecture index, or best")
    ens.add_argument("--epochs", type=int, metavar="N", help="epochs per member (default: the store's)")
    ens.add_argument("--workers", type=int, metavar="N", help="local workers")
    ens.add_argument("-o", "--output", required=True, metavar="DIR",
                     help="folder for figures and generators")
    ens.add_argument("--scheduler", metavar="ADDRESS", help="address of a running Dask scheduler")
    add_cluster_arguments(ens)
    _readable_metavars(ens)
    ens.set_defaults(func=cmd_ensemble)

    from models.data import GENERATORS

    data = command("data", "synthetic datasets in the real file formats")
    data_sub = data.add_subparsers(dest="action", required=True, metavar="ACTION")
    make = command("make", "write a synthetic dataset", data_sub)
    make.add_argument("family", choices=sorted(GENERATORS), metavar="FAMILY",
                      help=f"one of: {', '.join(sorted(GENERATORS))}")
    make.add_argument("--events", type=int, default=100_000, metavar="N", help="events to write")
    make.add_argument("--seed", type=int, default=0, metavar="N", help="random seed")
    make.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write")
    make.add_argument("--quiet", action="store_true", help="no progress bar")
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
