"""`ganhpo run` around the search: checks before any cluster, signals, quiet output, the summary."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from orchestrator.cli import main
from orchestrator.cli import run as run_command
from orchestrator.cli.console import check_store_path
from orchestrator.search.failures import common_errors
from orchestrator.store import DONE, StoreError, read_store
from tests.orchestrator.cli.test_cli import small_experiment

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "hartmann.yaml"
NOISE = re.compile(r"Traceback|WARNING|Warning|warnings\.warn|still alive|KeyboardInterrupt")


def experiment(tmp_path, **changes) -> Path:
    """test_cli's small Hartmann experiment, with a budget of 4."""
    return small_experiment(tmp_path, **{"budget": 4, **changes})


@pytest.fixture
def no_cluster(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a cluster was started")
    monkeypatch.setattr(run_command, "_start_cluster", refuse)


@pytest.mark.parametrize("trial, expected", [
    ("nosuch.module:run_trial", "cannot import module 'nosuch.module' (ModuleNotFoundError"),
    ("orchestrator.objectives:nosuch", "module 'orchestrator.objectives' has no 'nosuch'"),
    ("orchestrator.objectives:HARTMANN6_MIN", "'HARTMANN6_MIN' is not a function"),
])
def test_a_bad_trial_path_fails_in_one_line_before_any_cluster(tmp_path, capsys, no_cluster,
                                                                 trial, expected):
    store = tmp_path / "s.zarr"
    assert main(["run", str(experiment(tmp_path, trial=trial)), "--store", str(store)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and trial in err and expected in err, err
    assert not store.exists()


@pytest.mark.parametrize("store", ["/proc/x.zarr", "{tmp}/a-file/x.zarr"])
def test_an_unwritable_store_is_one_line_and_creates_nothing(tmp_path, capsys, no_cluster, store):
    (tmp_path / "a-file").write_text("not a directory")
    exp = experiment(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    store = store.format(tmp=tmp_path)
    assert main(["run", str(exp), "--store", store]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"store {store}" in err and "writable" in err, err
    assert not Path(store).exists() and sorted(tmp_path.rglob("*")) == before


def test_check_store_path_accepts_new_nested_and_existing_paths(tmp_path):
    check_store_path(tmp_path / "runs" / "deeper" / "x.zarr")  # parents are created later
    check_store_path(tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StoreError, match="cannot create it"):
        check_store_path("/proc/sys/x.zarr")


def test_budget_below_one_and_below_the_initial_design(tmp_path, capsys, no_cluster):
    exp = experiment(tmp_path)
    assert main(["run", str(exp), "--budget", "-1", "--store", str(tmp_path / "s.zarr")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "ganhpo: error: option --budget: must be a positive integer, got -1; e.g. --budget 20"
    with pytest.raises(AssertionError, match="a cluster was started"):
        main(["run", str(exp), "--budget", "2", "--store", str(tmp_path / "s.zarr")])
    assert "budget 2 is below the optimizer's n_initial 4" in capsys.readouterr().err


def test_help_shows_defaults_choices_and_readable_placeholders(capsys):
    with pytest.raises(SystemExit):
        main(["data", "make", "--help"])
    out = capsys.readouterr().out
    assert "calo3d, calochallenge, dimuon, hadronization" in out and "(default: 100000)" in out
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert "--monitor-port PORT" in out and "(default: 5006)" in out
    assert "--jobs N" in out and "--walltime HH:MM:SS" in out and "CLUSTER_" not in out


def test_common_errors_count_first_lines():
    errors = {"0/0": "RuntimeError: a\n  tb", "0/1": "RuntimeError: a\n  other", "1/0": "OOM"}
    assert common_errors(errors) == (("RuntimeError: a", 2), ("OOM", 1))


def test_an_always_failing_trial_prints_its_error_and_exits_non_zero(tmp_path, capsys):
    exp = experiment(tmp_path, trial="tests.orchestrator.trials:always_raises")
    store = tmp_path / "new" / "dir" / "s.zarr"  # parents made by the run (its log lives there)
    code = main(["run", str(exp), "--store", str(store), "--workers", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "RuntimeError: the trial always fails (simulated bug)" in err
    assert re.search(r"failed trials: \d+ of \d+", err), err


def _spawn(args: list[str], ignore_sigint: bool = False, session: bool = False) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "default"}
    # a shell's background job starts with SIGINT ignored: the run must still handle it
    pre = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None
    return subprocess.Popen([sys.executable, "-m", "orchestrator.cli", *args], cwd=REPO, env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=pre, start_new_session=session)


def _wait_for_done_trials(store: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        try:
            if (read_store(store, ("status",)).status == DONE).sum() >= 2:
                return
        except Exception:  # noqa: BLE001 - not created yet
            pass
        time.sleep(0.2)
    raise AssertionError(f"no finished trial in {timeout} s; rc={proc.poll()}")


@pytest.mark.slow
def test_a_signal_stops_cleanly_and_the_rerun_finishes_the_budget(tmp_path):
    """SIGTERM (a batch system's stop) here; Ctrl-C: the process-group test below and test_faults."""
    signum, code = signal.SIGTERM, 143
    exp = experiment(tmp_path, budget=6, epochs=12, data={"epoch_seconds": 0.1})
    store = tmp_path / "s.zarr"
    args = ["run", str(exp), "--store", str(store), "--workers", "2", "--quiet"]
    proc = _spawn(args, ignore_sigint=True)
    try:
        _wait_for_done_trials(store, proc)
        os.kill(proc.pid, signum)
        out = proc.communicate(timeout=90)[0]
    finally:
        proc.kill()
    assert proc.returncode == code, out
    assert "interrupted" in out and f"resume with: ganhpo run {exp} --store {store}" in out, out
    assert not NOISE.search(out), out
    snap = read_store(store)
    assert snap.n < 6 or not (snap.status == DONE).all()  # stopped before the end
    kept = snap.metric[snap.status == DONE]
    rerun = _spawn(args)
    out = rerun.communicate(timeout=180)[0]
    assert rerun.returncode == 0, out
    assert not NOISE.search(out), out  # a normal run's console: no warning, no traceback
    assert "lower metric is better" in out and "ganhpo report" in out and "ganhpo focus" in out
    final = read_store(store)
    assert final.n == 6 and (final.status == DONE).all()
    assert np.isin(kept, final.metric).all()  # finished trials were kept, not rerun


def test_deterministic_is_a_boolean_field_passed_to_the_trial_only_when_set(tmp_path, capsys):
    from orchestrator.experiment import Experiment, ExperimentError
    from orchestrator.store import read_store as read

    with pytest.raises(ExperimentError, match="field 'deterministic' must be true or false"):
        Experiment.from_dict({"space": {"x0": [1, 2]}, "deterministic": "yes"})
    # the trial rejects unknown keywords: it runs only if `deterministic=True` reaches it
    exp = experiment(tmp_path, trial="tests.orchestrator.trials:needs_deterministic",
                     deterministic=True, budget=2, trials=1)
    store = tmp_path / "d.zarr"
    assert main(["run", str(exp), "--store", str(store), "--workers", "1", "--quiet"]) == 0
    assert (read(store).status == DONE).all()


@pytest.mark.slow
def test_ctrl_c_to_the_whole_process_group_gives_no_worker_tracebacks(tmp_path):
    """A terminal's Ctrl-C reaches every process of the group, the workers included."""
    exp = experiment(tmp_path, budget=6, epochs=20, data={"epoch_seconds": 0.1})
    store = tmp_path / "s.zarr"
    proc = _spawn(["run", str(exp), "--store", str(store), "--workers", "2", "--quiet"],
                  session=True)
    try:
        _wait_for_done_trials(store, proc)
        os.killpg(proc.pid, signal.SIGINT)
        out = proc.communicate(timeout=90)[0]
    finally:
        proc.kill()
    assert proc.returncode == 130, out
    assert "interrupted (SIGINT)" in out and not NOISE.search(out), out
    assert read_store(store).n >= 1
