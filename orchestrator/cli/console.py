"""What `ganhpo run` does around the search: checks before any cluster starts, signals, Dask's
logging, and the summary printed at the end (read from the store, so a resumed run sums it all)."""

from __future__ import annotations

import logging
import os
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from orchestrator.search.failures import common_errors
from orchestrator.search.stop import EXIT_CODES, Interrupted, check_stop, clear_stop, request_stop
from orchestrator.store import DONE, FAILED, StoreError, read_store

__all__ = ["Interrupted", "check_stop", "check_store_path", "failure_lines", "quiet_dask",
           "run_summary", "stop_on_signals"]


def check_store_path(path: str | Path) -> None:
    """Raise StoreError unless a new store could be written at ``path``; creates nothing.

    An existing path is left to the resume checks. Otherwise the nearest existing ancestor
    must be a directory we can create entries in (probed for real: root passes ``os.access``
    even on read-only file systems such as /proc).
    """
    path = Path(path)
    if path.exists():
        return
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    fix = "give --store a path in a writable directory, e.g. --store runs/NAME.zarr"
    if not parent.is_dir():
        raise StoreError(f"store {path}: {parent} is a file, not a directory; {fix}")
    try:
        tempfile.TemporaryDirectory(dir=parent, prefix=".ganhpo-probe-").cleanup()
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise StoreError(f"store {path}: cannot create it in {parent} ({reason}); {fix}") from None


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM ask for a stop (``orchestrator.search.stop``) that the search loop
    acts on at its next safe point, never inside a flush (installed explicitly: a background
    job starts with SIGINT ignored); later ones are ignored while the run shuts down in order.
    Code that blocks for long checks with ``check_stop`` afterwards."""

    def handler(signum, frame):
        request_stop(signum)

    clear_stop()
    previous = {s: signal.signal(s, handler) for s in EXIT_CODES}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
        clear_stop()


def quiet_dask(log_file: Path | None) -> None:
    """Send the distributed logs of this process to ``log_file`` (None: leave them on the console);
    worker processes started afterwards log errors only."""
    if log_file is None:
        return
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")
    log_file.parent.mkdir(parents=True, exist_ok=True)  # the store's directory, made anyway
    handler = logging.FileHandler(log_file, delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.captureWarnings(True)  # e.g. distributed's "Port 8787 is already in use"
    # tornado.application has its own handler from distributed's logging config: named too
    for name in ("distributed", "bokeh", "tornado", "tornado.application", "py.warnings"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.propagate = False


def failure_lines(store: str | Path) -> list[str]:
    """Failed trials out of all finished ones, and their most common errors (empty if none)."""
    try:
        snap = read_store(store, ("status",))
    except StoreError:
        return []
    failed, finished = int(np.sum(snap.status == FAILED)), int(np.sum(snap.status >= DONE))
    if not failed:
        return []
    lines = [f"failed trials: {failed} of {finished}; most common errors:"]
    lines += [f"  {n} x {text}" for text, n in common_errors(snap.errors)]
    return lines


def run_summary(store: str | Path, experiment: str, top: int = 10) -> tuple[list[str], bool]:
    """The lines printed after a run, and whether any architecture succeeded."""
    snap = read_store(store, ("status", "metric"))
    ok = np.any(snap.status == DONE, axis=1) & np.all(snap.status >= DONE, axis=1) if snap.n \
        else np.zeros(0, bool)
    lines = failure_lines(store)
    if not ok.any():
        return [f"no architecture succeeded: all {snap.n} tried failed"] + lines + [
            f"fix the trial, then resume with: ganhpo run {experiment} --store {store}"], False
    n_top = min(top, int(ok.sum()))
    lines = [f"lower metric is better; {int(ok.sum())} of {snap.n} architectures succeeded"] + lines
    return lines + [
        "next:", *_aligned([
            (f"ganhpo report {store} --top {n_top}", f"the top {n_top} of {snap.n} architectures"),
            (f"ganhpo monitor {store}", "the plots, in the browser"),
            (f"ganhpo focus {store} -o focus.yaml", "a focus search around the best")])], True


def _aligned(rows: list[tuple[str, str]]) -> list[str]:
    width = max(len(cmd) for cmd, _ in rows)
    return [f"  {cmd:<{width}}  # {why}" for cmd, why in rows]
