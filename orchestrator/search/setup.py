"""Before a search runs: its optimiser, its data and store checked, the store opened, a cluster."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from pathlib import Path

from distributed import Client

from orchestrator.experiment import Experiment, ExperimentError
from orchestrator.optimizers import OPTIMIZERS, Optimizer, make_optimizer
from orchestrator.store import ResultsStore, read_attrs

__all__ = ["build_optimizer", "check_data", "client_for", "open_store", "store_path", "validate"]


def build_optimizer(exp: Experiment) -> Optimizer:
    """The experiment's optimiser; budget (DYCORS) and trials per point (GP noise) go to those using them."""
    options = dict(exp.optimizer)
    name = options.pop("name")
    accepted = OPTIMIZERS.get(name, Optimizer).defaults
    for key, value in (("budget", exp.budget), ("trials", exp.trials)):
        if key in accepted:
            options.setdefault(key, value)
    return make_optimizer(name, exp.space, seed=exp.seed, **options)


def check_data(exp: Experiment) -> str | None:
    """Call the trial module's optional ``check_data(model, data)`` (its ValueError names the
    file) and return its optional ``describe_data(model, data)``: the split, to print."""
    try:
        module = importlib.import_module(exp.trial.partition(":")[0])
    except ImportError:  # reported where the trial runs, as before
        return None
    check = getattr(module, "check_data", None)
    describe = getattr(module, "describe_data", None)
    try:
        if callable(check):
            check(exp.model, exp.data)
        return describe(exp.model, exp.data) if callable(describe) else None
    except ValueError as err:
        raise ExperimentError(f"field 'data': {err}") from None


def validate(exp: Experiment, path: str) -> str | None:
    """Fail on a bad size, optimiser, data file or incompatible store before any cluster starts;
    return the data split's description (None when the trial module gives none)."""
    exp.check_size()  # again: a budget set after construction (--budget) is sized here
    build_optimizer(exp)
    described = check_data(exp)
    if Path(path).exists():
        exp.check_resumable(read_attrs(path)["experiment"], path)
    return described


def store_path(exp: Experiment, store: str | None) -> str:
    """Where the results go: ``store``, else the experiment's, else ``runs/<name>.zarr``."""
    return store or exp.store or f"runs/{exp.name}.zarr"


def open_store(exp: Experiment, path: str) -> ResultsStore:
    """Create the store, or open one this experiment can resume (the experiment is recorded)."""
    exp.check_size()  # nothing is created for an experiment too large to run
    if Path(path).exists():
        store = ResultsStore.open(path)
        exp.check_resumable(store.experiment, path)
        store.set_experiment(exp.to_dict())
        return store
    return ResultsStore.create(path, exp.to_dict(), exp.space.names, exp.trials, exp.epochs)


@contextlib.contextmanager
def client_for(client: Client | None, workers: int | None) -> Iterator[Client]:
    """``client``, or a client of an embedded local cluster closed on exit."""
    if client is not None:
        from orchestrator.cluster.local import warn_in_process

        warn_in_process(client.cluster)  # many in-process worker threads: one GIL (issue 17)
        yield client
        return
    from orchestrator.cluster import disconnect, make_cluster

    own = Client(make_cluster("local", workers=workers))
    try:
        yield own
    finally:  # disconnect gives TensorFlow workers time to exit (no "still alive" lines)
        disconnect(own)
