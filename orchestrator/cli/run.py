"""``ganhpo run EXPERIMENT``: run or resume a search, with checks first and a summary at the end."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

from orchestrator.cli.common import add_command
from orchestrator.cluster.options import add_cluster_arguments


def add_parser(sub) -> None:
    """Add the ``run`` subcommand."""
    run = add_command(sub, "run", "run or resume a search")
    run.add_argument("experiment", help="experiment YAML file")
    run.add_argument("--store", metavar="PATH",
                     help="results store (Zarr); an existing one is resumed (default: the "
                          "experiment's store:, else runs/NAME.zarr)")
    run.add_argument("--budget", type=int, metavar="N", help="override the experiment's budget")
    run.add_argument("--monitor", action="store_true", help="also serve the monitor page")
    run.add_argument("--monitor-port", type=int, default=5006, metavar="PORT",
                     help="port of the page --monitor serves")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--verbose", action="store_true",
                     help="Dask's own log messages on the console (default: in STORE's .log file)")
    add_cluster_arguments(run)
    run.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    """Check, start the cluster, search, print the summary; 1 if no architecture succeeded."""
    exp, store = _preflight(args)
    lock = _hold(store)  # a second driver is refused here, in one line, before any output
    try:
        _describe(exp, store)
        return _search(args, exp, store, lock)
    finally:
        if lock is not None:
            lock.release()


def _hold(store: str):
    """The lock of an existing store, held by this driver from now on (the search's own opening
    of the store re-enters it); None for a new store, created with its lock by the search."""
    from orchestrator.store.lock import WriterLock

    return WriterLock.acquire(store) if Path(store).is_dir() else None


def _search(args: argparse.Namespace, exp, store: str, lock) -> int:
    """Start the cluster, search, print the summary (``execute`` after the checks)."""
    from orchestrator.cli.console import (
        Interrupted,
        check_stop,
        quiet_dask,
        run_summary,
        stop_on_signals,
    )
    from orchestrator.cluster import disconnect, wants_gpu_resources
    from orchestrator.monitor import add_to_dask_dashboard
    from orchestrator.search import SearchFailed, run
    from orchestrator.store.writer import StoreWriteError

    if exp.resources is None and wants_gpu_resources(args, exp.cluster):
        exp.resources = {"GPU": 1}  # adaptive clusters start with no worker to ask
    log_file = None if args.verbose else Path(store).absolute().with_suffix(".log")
    quiet_dask(log_file)
    route = add_to_dask_dashboard(store)  # served by schedulers started in this process
    resume = f"ganhpo run {args.experiment} --store {store}"
    with stop_on_signals():
        try:
            client = _start_cluster(args, exp, store, resume, lock)
            try:
                check_stop()  # a signal in the instant between start-up and here
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
        except StoreWriteError as err:
            print(f"ganhpo: error: {err} with: {resume}", file=sys.stderr)
            return 1
        except SearchFailed as err:
            from orchestrator.cli.console import failure_lines

            print(f"ganhpo: search stopped: {err}", file=sys.stderr)
            print("\n".join(failure_lines(store)), file=sys.stderr)
            return 1
    print(result.summary())
    lines, ok = run_summary(store, args.experiment)
    if log_file is not None and log_file.exists():
        lines.append(f"Dask's log messages: {log_file} (--verbose: on the console)")
    print("\n".join(lines), file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def _preflight(args: argparse.Namespace):
    """Everything checked before any cluster starts: the file, the budget, the trial, the store."""
    from orchestrator.cli.console import check_store_path
    from orchestrator.experiment import ExperimentError, load_experiment

    exp = load_experiment(args.experiment)
    if args.budget is not None:
        if args.budget < 1:
            raise ExperimentError(f"option --budget: must be a positive integer, got {args.budget}; "
                                  "e.g. --budget 20")
        exp.budget = args.budget
    store = args.store or exp.store or f"runs/{exp.name}.zarr"
    exp.check_trial()
    check_store_path(store)
    return exp, store


def _describe(exp, store: str) -> None:
    """The checks that read the data and the store, with what they found (the split), printed."""
    from orchestrator.search import validate

    described = validate(exp, store)
    if described:
        print(f"ganhpo: {described}")
    n_initial = exp.optimizer.get("n_initial")
    if isinstance(n_initial, int) and exp.budget < n_initial:
        print(f"ganhpo: warning: budget {exp.budget} is below the optimizer's n_initial "
              f"{n_initial}: the search ends inside its initial design (no surrogate steps); "
              f"raise --budget or lower n_initial", file=sys.stderr)


def _start_cluster(args: argparse.Namespace, exp, store: str, resume: str, lock=None):
    """The client of the requested cluster, started with SIGINT blocked in all it starts; a
    signal meanwhile ends the command at once (``orchestrator.cluster.startup``)."""
    from distributed import Client

    from orchestrator.cluster import connect, make_cluster
    from orchestrator.cluster.api import is_local
    from orchestrator.cluster.startup import abandon_start, start_shielded
    from orchestrator.search.stop import EXIT_CODES, stop_requested

    def abandon():
        signum = stop_requested()
        if lock is not None:
            lock.release()  # exiting at once: no atexit
        state = (f"the store {store} is as it was" if Path(store).exists()
                 else "no store was created")
        abandon_start(f"ganhpo: interrupted ({signal.Signals(signum).name}) while the cluster was "
                      f"starting; nothing was run, {state}; run again with: {resume}",
                      EXIT_CODES[signum])

    def start():
        return connect(args, exp.cluster) or Client(make_cluster("local", workers=args.workers))

    if not is_local(args, exp.cluster):  # batch jobs and schedulers: no local worker processes
        return start()  # to shield, and dask-jobqueue sets signal handlers (main thread only)
    return start_shielded(start, stopped=lambda: stop_requested() is not None, abandon=abandon)


def _announce(args, exp, store, client, route) -> None:
    print(f"ganhpo: {exp.name}: {exp.budget} architectures x {exp.trials} trials, "
          f"optimizer {exp.optimizer['name']}, store {store}")
    print(f"ganhpo: watch it with: ganhpo monitor {store} --port {args.monitor_port}")
    print(f"ganhpo: Dask dashboard: {client.dashboard_link}"
          + ("" if args.scheduler else f" (search page: {client.dashboard_link.rsplit('/', 1)[0]}{route})"))


def _progress_bar(budget: int, quiet: bool):
    """A tqdm bar: architectures done / budget, best mean so far."""
    from tqdm import tqdm

    bar = tqdm(total=budget, desc="architectures", unit="arch", disable=quiet, dynamic_ncols=True)

    def update(done: int, total: int, best: float | None) -> None:
        bar.total = total
        bar.n = done
        if best is not None:
            bar.set_postfix_str(f"best {best:.5g}", refresh=False)  # one render: refresh() below
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
