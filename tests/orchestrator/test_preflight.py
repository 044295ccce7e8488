"""Environment pre-flight on real clusters: a LocalCluster, a scheduler started from a Python
environment without ganhpo, and workers running a copy of ganhpo with another version."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest
from distributed import Client, LocalCluster

import orchestrator
from orchestrator.cluster.preflight import (
    EnvironmentProblem,
    check_environment,
    release_environment_check,
)
from orchestrator.experiment import Experiment
from orchestrator.search import run

ROOT = Path(__file__).resolve().parents[2]
SITE = sysconfig.get_paths()["purelib"]  # distributed and its dependencies; ganhpo is not there
TRIAL = "orchestrator.objectives:noisy_hartmann"


def foreign(args: list[str], cwd: Path, *path: str) -> subprocess.Popen:
    """A Dask process whose Python sees only ``path`` and site-packages: no .pth files (``-S``),
    so neither the editable install of ganhpo nor this checkout."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join([*path, SITE])
    return subprocess.Popen([sys.executable, "-S", "-m", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def ganhpo_copy(tmp_path: Path, version: str) -> Path:
    """This checkout's orchestrator package, copied, with another ``__version__``."""
    top = tmp_path / "other"
    shutil.copytree(ROOT / "orchestrator", top / "orchestrator",
                    ignore=shutil.ignore_patterns("__pycache__"))
    init = top / "orchestrator" / "__init__.py"
    init.write_text(init.read_text().replace(f'"{orchestrator.__version__}"', f'"{version}"', 1))
    return top


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as cl:
        yield cl


def test_a_matching_local_cluster_passes_and_a_missing_trial_module_is_one_line(cluster):
    with Client(cluster) as client:
        check_environment(client, "tests.orchestrator.trials:flaky")
        release_environment_check(client)
        with pytest.raises(EnvironmentProblem) as err:
            check_environment(client, "nosuch.trials:run")
    (worker,) = cluster.scheduler.workers
    assert str(err.value).splitlines() == [
        "environment check failed before any trial ran:",
        f"  worker {worker}: cannot import nosuch.trials (ModuleNotFoundError: No module named "
        "'nosuch'); make nosuch.trials importable there (install its package, or put it on "
        "PYTHONPATH)"]


def test_workers_with_another_ganhpo_version_are_named_up_front_and_closed_on_arrival(
        cluster, tmp_path, caplog):
    other = ganhpo_copy(tmp_path, "0.0.9")
    worker = ["distributed.cli.dask_worker", cluster.scheduler_address, "--nthreads", "1",
              "--no-nanny", "--no-dashboard"]
    with Client(cluster) as client:
        early = foreign(worker, tmp_path, str(other))
        try:
            client.wait_for_workers(2, timeout=60)
            bad = next(a for a, w in cluster.scheduler.workers.items() if w.pid == early.pid)
            with pytest.raises(EnvironmentProblem) as err:
                check_environment(client, TRIAL)
            assert str(err.value).splitlines()[1:] == [
                f"  worker {bad}: ganhpo 0.0.9, here {orchestrator.__version__}; install "
                f"ganhpo=={orchestrator.__version__} there"]
        finally:
            early.terminate()
            early.wait(30)
        wait_for(lambda: len(cluster.scheduler.workers) == 1)
        check_environment(client, TRIAL)  # the matching worker alone passes
        caplog.set_level(logging.WARNING, logger="ganhpo")
        late = foreign(worker, tmp_path, str(other))
        try:
            late.wait(60)  # returns: the arrival check closed it, before it took any trial
        finally:
            late.kill()
        wait_for(lambda: any("0.0.9" in r.getMessage() for r in caplog.records))
        release_environment_check(client)
    (line,) = [r.getMessage() for r in caplog.records if "0.0.9" in r.getMessage()]
    assert line.startswith("ganhpo: worker tcp://") and line.endswith(
        f": ganhpo 0.0.9, here {orchestrator.__version__}; install "
        f"ganhpo=={orchestrator.__version__} there (closed it)")
    assert len(cluster.scheduler.workers) == 1


@pytest.fixture()
def scheduler_without_ganhpo(tmp_path):
    """A real scheduler started from a Python environment where ganhpo cannot be imported."""
    file = tmp_path / "scheduler.json"
    proc = foreign(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                    "--no-dashboard", "--scheduler-file", str(file)], tmp_path)
    try:
        wait_for(lambda: file.exists() and file.stat().st_size > 0)
        time.sleep(0.2)  # written before it listens
        yield json.loads(file.read_text())["address"]
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_scheduler_without_ganhpo_stops_the_search_before_any_trial(
        scheduler_without_ganhpo, tmp_path):
    exp = Experiment(space={"x0": {"lower": 0, "upper": 4, "scale": 0.25}}, trial=TRIAL,
                     epochs=1, trials=1, budget=2)
    with Client(scheduler_without_ganhpo) as client, pytest.raises(EnvironmentProblem) as err:
        run(exp, client, store=str(tmp_path / "s.zarr"))
    assert str(err.value).splitlines()[1:] == [
        f"  scheduler {scheduler_without_ganhpo}: cannot import ganhpo (ModuleNotFoundError: No "
        "module named 'orchestrator'); the scheduler unpickles every trial's task graph, so it "
        f"needs ganhpo: start it with this Python ({sys.executable} -m "
        f"distributed.cli.dask_scheduler), or install ganhpo {orchestrator.__version__} in its "
        "Python environment"]
