"""Environment pre-flight: before any trial is submitted, the scheduler and every worker must
import ganhpo (and the workers the trial's module) with the client's ganhpo, dask and distributed.

The scheduler unpickles every task graph, so a scheduler started from another Python environment
would fail every trial with "Error during deserialization of the task graph"; a worker without
the trial's module would fail every trial it gets. ``check_environment`` finds both up front and
raises ``EnvironmentProblem``: one line per problem, naming the machines, the package and both
versions, then the fix. Workers that join later are checked on arrival by ``ArrivalCheck``, a
worker plugin: a worker that does not match prints one line on the client and is closed before it
takes a trial. The probe and the plugin are pickled by value (this module is registered with
cloudpickle), so they run even where ganhpo cannot be imported, and say so.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys

import cloudpickle
from distributed import Client
from distributed.diagnostics.plugin import WorkerPlugin

from .options import ClusterError

__all__ = ["ArrivalCheck", "EnvironmentProblem", "check_environment", "release_environment_check"]

log = logging.getLogger("ganhpo")
PLUGIN = "ganhpo-preflight"
TOPIC = "ganhpo-preflight"
PACKAGES = {"ganhpo": "orchestrator", "dask": "dask", "distributed": "distributed"}
SHOWN = 3  # machines named per line; the rest are counted


class EnvironmentProblem(ClusterError):
    """The scheduler or a worker cannot run ganhpo's trials; the message says where and the fix."""


def versions_here() -> dict:
    """Python, ganhpo, dask and distributed versions of this process, and their import errors."""
    found: dict = {"python": "{}.{}".format(*sys.version_info[:2]), "errors": {}}
    for package, module in PACKAGES.items():
        try:
            found[package] = str(getattr(importlib.import_module(module), "__version__", "unknown"))
        except Exception as err:  # noqa: BLE001 - reported, never raised
            found[package] = None
            found["errors"][package] = f"{type(err).__name__}: {err}"
    return found


async def probe(modules: list[str]) -> dict:
    """``versions_here()`` plus the import errors of ``modules``.

    Runs on schedulers and workers, pickled by value: it uses the standard library only.
    """
    found = versions_here()
    for module in modules:
        try:  # in a thread: importing TensorFlow takes seconds, the event loop must keep running
            await asyncio.to_thread(importlib.import_module, module)
        except BaseException as err:  # noqa: BLE001 - SystemExit in a module is a problem too
            found["errors"][module] = f"{type(err).__name__}: {err}"
    return found


def problems(role: str, found: dict, expected: dict) -> list[tuple[str, str]]:
    """(what is wrong, fix) for one machine's probe result against the client's."""
    out = []
    errors = found.get("errors", {})
    for name, error in errors.items():
        if "ganhpo" in errors and name.startswith("orchestrator."):
            continue  # said once, as ganhpo
        fix = (f"install ganhpo {expected['ganhpo']} in its Python environment" if name in PACKAGES
               else f"make {name} importable there (install its package, or put it on PYTHONPATH)")
        if role == "scheduler" and name in PACKAGES:
            fix = (f"the scheduler unpickles every trial's task graph, so it needs ganhpo: start "
                   f"it with this Python ({sys.executable} -m distributed.cli.dask_scheduler), "
                   f"or {fix}")
        out.append((f"cannot import {name} ({error})", fix))
    for key in ("python", *PACKAGES):
        have, want = found.get(key), expected.get(key)
        if key not in found.get("errors", {}) and have != want:
            pin = f"Python {want}" if key == "python" else f"{key}=={want}"
            out.append((f"{key} {have}, here {want}", f"install {pin} there"))
    return out


def _report(rows: list[tuple[str, str, str]]) -> list[str]:
    """One line per (problem, fix), naming its machines (at most SHOWN, then a count)."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for machine, what, fix in rows:
        grouped.setdefault((what, fix), []).append(machine)
    lines = []
    for (what, fix), machines in grouped.items():
        named = ", ".join(machines[:SHOWN])
        more = f" and {len(machines) - SHOWN} more" if len(machines) > SHOWN else ""
        lines.append(f"{named}{more}: {what}; {fix}")
    return lines


def check_environment(client: Client, trial_path: str) -> None:
    """Raise EnvironmentProblem unless the scheduler and all workers can run ``trial_path``;
    then check workers that join later on arrival (until ``release_environment_check``)."""
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    module = trial_path.partition(":")[0]
    expected = versions_here()
    rows = []
    address = client.scheduler.address
    try:
        found = client.run_on_scheduler(probe, ["orchestrator.search.trial"])
    except Exception as err:  # noqa: BLE001 - e.g. a scheduler that refuses or cannot unpickle
        found = {"errors": {"ganhpo": f"{type(err).__name__}: {err}"}, **_versions(client)}
    rows += [(f"scheduler {address}", *p) for p in problems("scheduler", found, expected)]
    if not rows:  # a worker's reply passes through the scheduler
        for worker, found in client.run(probe, [module], on_error="return").items():
            if isinstance(found, BaseException):
                found = {"errors": {"ganhpo": f"{type(found).__name__}: {found}"}}
            rows += [(f"worker {worker}", *p) for p in problems("worker", found, expected)]
    if rows:
        raise EnvironmentProblem("environment check failed before any trial ran:\n  "
                                 + "\n  ".join(_report(rows)))
    client.subscribe_topic(TOPIC, _print_arrival)
    try:
        client.register_plugin(ArrivalCheck(expected, [module]), name=PLUGIN)
    except Exception as err:  # noqa: BLE001 - a scheduler refusing plugins: check at start only
        log.warning("ganhpo: workers that join later are not checked (%s: %s)",
                    type(err).__name__, err)


def release_environment_check(client: Client) -> None:
    """Stop checking arriving workers (at the end of a run); never raises."""
    try:
        client.unsubscribe_topic(TOPIC)
        client.unregister_worker_plugin(PLUGIN)
    except Exception:  # noqa: BLE001, S110 - not registered, or the cluster is already gone
        pass


def _versions(client: Client) -> dict:
    """The scheduler's python, dask and distributed from its package metadata (no pickling)."""
    packages = client.get_versions().get("scheduler", {}).get("packages", {})
    return {"python": ".".join(str(packages.get("python", "?")).split(".")[:2]),
            "dask": packages.get("dask"), "distributed": packages.get("distributed")}


def _print_arrival(event: tuple) -> None:
    for line in event[1]["lines"]:
        log.warning("ganhpo: %s", line)


class ArrivalCheck(WorkerPlugin):
    """Probes each worker as it joins; one that does not match logs its lines and is closed."""

    def __init__(self, expected: dict, modules: list[str]):
        self.expected, self.modules = expected, modules

    async def setup(self, worker) -> None:
        found = await probe(self.modules)
        rows = [(f"worker {worker.address}", *p) for p in problems("worker", found, self.expected)]
        if rows:
            lines = [line + " (closed it)" for line in _report(rows)]
            worker.log_event(TOPIC, {"lines": lines})
            # scheduled before the worker handles its first message from the scheduler
            self.closing = asyncio.ensure_future(
                worker.close(nanny=True, reason="ganhpo environment mismatch"))
