"""Run a driver script in its own process group and SIGKILL it once the store shows a state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.store import read_store
from orchestrator.store.view import Snapshot

ROOT = Path(__file__).resolve().parents[3]


def kill_driver_when(script: Path, store: str, seen: Callable[[Snapshot], bool],
                     timeout: float = 90) -> bool:
    """Start ``python script store``; SIGKILL its group when ``seen(snapshot)``; whether it was."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script), store], cwd=ROOT, env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline, hit = time.time() + timeout, False
    while time.time() < deadline and not hit:
        time.sleep(0.1)
        if (Path(store) / "zarr.json").exists():
            hit = bool(seen(read_store(store)))
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return hit
