"""Fault injection: a real `ganhpo run` killed by SIGINT, SIGTERM and SIGKILL at random moments
(during imports, during cluster start-up, inside flushes slowed by GANHPO_FAULT_DELAY_FLUSH),
resumed each time; the final store holds exactly the budget, every metric recomputed."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from orchestrator.experiment import load_experiment
from orchestrator.objectives import noisy_hartmann
from orchestrator.search.trial import trial_seed
from orchestrator.store import DONE, read_store

REPO = Path(__file__).resolve().parents[2]
BAD = re.compile(r"Traceback|Exception ignored|KeyboardInterrupt|nan is not finite")
# (signal, seconds after the start): imports, cluster start-up, then random moments of the search
PLAN = [(signal.SIGINT, 0.4), (signal.SIGTERM, 3.0), (signal.SIGKILL, None), (signal.SIGTERM, None),
        (signal.SIGKILL, None), (signal.SIGINT, None)]


def _experiment(tmp_path: Path) -> Path:
    spec = yaml.safe_load((REPO / "examples" / "hartmann.yaml").read_text())
    spec.update(budget=8, trials=2, epochs=6, max_pending=2, data={"epoch_seconds": 0.1},
                optimizer={"name": "rbf", "n_initial": 4})
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "GANHPO_FAULT_DELAY_FLUSH": "0.03"}
    return subprocess.Popen([sys.executable, "-m", "orchestrator.cli", *args], cwd=REPO, env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)  # its own group: a Ctrl-C reaches all of it


def _signal(proc: subprocess.Popen, signum: int) -> None:
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signum)  # as a terminal's Ctrl-C: the whole group
    else:
        proc.send_signal(signum)


def _finish(proc: subprocess.Popen) -> str:
    try:
        return proc.communicate(timeout=90)[0]
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # workers left by a SIGKILLed driver
        except ProcessLookupError:
            pass


@pytest.mark.slow
def test_random_signals_then_resume_keep_exactly_the_budget_with_true_metrics(tmp_path):
    exp_path = _experiment(tmp_path)
    store = tmp_path / "s.zarr"
    args = ["run", str(exp_path), "--store", str(store), "--workers", "2", "--quiet"]
    rng = random.Random(int(os.environ.get("GANHPO_FAULT_SEED", "18")))
    landed = []
    for signum, delay in PLAN:
        proc = _start(args)
        time.sleep(delay if delay is not None else rng.uniform(4.0, 12.0))
        if proc.poll() is None:
            _signal(proc, signum)
        out = _finish(proc)
        if proc.returncode == 0:  # the budget was done before this fault: no more to inject
            break
        landed.append((signum.name, proc.returncode))
        assert not BAD.search(out), out
        if signum != signal.SIGKILL and proc.returncode != -signum:  # -N: before any handler
            assert proc.returncode == {signal.SIGINT: 130, signal.SIGTERM: 143}[signum], out
            assert "interrupted" in out, out
    assert len(landed) >= 4, landed
    final = _start(args)
    out = _finish(final)
    assert final.returncode == 0, out
    assert not BAD.search(out), out
    _check(exp_path, store)


def _check(exp_path: Path, store: Path) -> None:
    exp = load_experiment(exp_path)
    snap = read_store(store)
    assert snap.n == exp.budget  # exactly the budget
    assert (snap.status == DONE).all() and np.isfinite(snap.metric).all()
    assert len({tuple(row) for row in snap.params}) == snap.n  # no architecture twice
    for a in range(snap.n):
        params = {**exp.fixed, **exp.space.from_row(snap.params[a])}
        for t in range(exp.trials):
            again = noisy_hartmann(params, data=exp.data, epochs=exp.epochs,
                                   seed=trial_seed(exp.seed, a, t))
            assert snap.metric[a, t] == pytest.approx(again["metric"], rel=1e-12), (a, t)
