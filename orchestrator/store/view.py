"""The one read-only view of a store's committed rows, for the reports, analysis and monitor.

``read_store`` reads it in one go; the monitor's ``StoreReader`` builds the same view
incrementally. Neither ever writes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from orchestrator.experiment import effective_min_ok
from orchestrator.store.integrity import read_checked, require_finite, require_intact, store_arrays
from orchestrator.store.layout import (
    ARRAY_NAMES,
    DONE,
    FAILED,
    PENDING,
    PRUNED,
    RUNNING,
    STAGES,
    added_rows,
    array_layout,
    diverged_rows,
    errors_dict,
    is_finished,
    open_group,
    read_texts,
)

__all__ = ["Snapshot", "mean_std", "rank", "read_attrs", "read_store", "store_ready",
           "trial_epochs"]

# Optimisers whose first n_initial points are a space-filling design (defaults as in optimizers/).
DESIGN_DEFAULTS = {"rbf": 10, "gp": 10}


@dataclass(frozen=True, eq=False)
class Snapshot:
    """A read-only view of the committed rows of a store (numpy arrays, axis 0 = architectures).

    ``status`` is always there; any other array is None where the read skipped it
    (``read_store(path, arrays=...)``; the monitor reads no ``epoch_metric``, only ``curves``,
    the per-epoch metric of running trials). Error texts are in ``errors`` keyed "arch/trial".
    """

    path: str
    experiment: dict
    param_names: list[str]
    status: np.ndarray  # (A, T) TrialState codes
    workers: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    created: float = math.nan
    params: np.ndarray | None = None  # (A, P) values (categoricals: index)
    stage: np.ndarray | None = None  # (A,) index into STAGES
    test_metric: np.ndarray | None = None  # (A, T) the selected epoch on the test split (NaN: none)
    n_params: np.ndarray | None = None  # (A,) model size, -1 unknown
    metric: np.ndarray | None = None  # (A, T)
    best_epoch: np.ndarray | None = None  # (A, T)
    started: np.ndarray | None = None  # (A, T) unix seconds
    finished: np.ndarray | None = None  # (A, T) unix seconds
    worker: np.ndarray | None = None  # (A, T) index into workers, -1 none
    epoch_metric: np.ndarray | None = None  # (A, T, E)
    diverged_at: np.ndarray | None = None  # (A, T) epoch, -1 none
    attempts: np.ndarray | None = None  # (A, T) times started (a worker death makes it 2 and more)
    pruned_at: np.ndarray | None = None  # (A,) rung epoch the pruner stopped it at, -1 none
    exists: bool = True  # False: no store there yet (the monitor waits for one)
    curves: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    now: float = field(default_factory=time.time)  # when this view was read

    @classmethod
    def empty(cls, path: str = "", now: float | None = None) -> Snapshot:
        """A view of no rows (every array present, with zero architectures): no store yet."""
        arrays = {name: np.zeros((0, *(0 for _ in tail)), dtype)
                  for name, (tail, dtype, _) in array_layout(0, 0, 0).items() if name != "error"}
        return cls(str(path), {}, [], exists=False, now=time.time() if now is None else now,
                   **arrays)

    @property
    def n(self) -> int:
        """Number of committed architectures."""
        return len(self.status)

    @property
    def trials(self) -> int:
        return int(self.experiment.get("trials", 0))

    @property
    def epochs(self) -> int:
        return int(self.experiment.get("epochs", 0))

    @property
    def budget(self) -> int:
        return int(self.experiment.get("budget", 0))

    @property
    def n_initial(self) -> int:
        """Size of the optimiser's initial design (0 for optimisers without one)."""
        opt = self.experiment.get("optimizer") or {}
        name = str(opt.get("name", "")).lower()
        if name not in DESIGN_DEFAULTS and "n_initial" not in opt:
            return 0
        return int(opt.get("n_initial", DESIGN_DEFAULTS.get(name, 0)))

    def select(self, mask: np.ndarray) -> Snapshot:
        """The architectures where ``mask`` holds, renumbered (``errors`` keep store indices)."""
        arrays = {f.name: getattr(self, f.name)[mask] for f in fields(self)
                  if f.name in ARRAY_NAMES and getattr(self, f.name) is not None}
        return replace(self, **arrays)

    @cached_property
    def _done(self) -> np.ndarray:
        return np.all(is_finished(self.status), axis=1) if self.n else np.zeros(0, bool)

    @cached_property
    def _mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        return mean_std(self.metric, self.status == DONE)

    @cached_property
    def _ranked(self) -> np.ndarray:
        return self.ranked(effective_min_ok(self.experiment))

    def arch_pruned(self) -> np.ndarray:
        """Mask of architectures a pruner stopped (all their trials stopped together)."""
        if self.pruned_at is None or not self.n:
            return np.zeros(self.n, bool)
        return self.pruned_at >= 0

    def best(self) -> int | None:
        """The best architecture that ran full length (None while there is none)."""
        ranked = self.ranked()
        full = ranked[~self.arch_pruned()[ranked]] if len(ranked) else ranked
        return int(full[0]) if len(full) else None

    def arch_done(self) -> np.ndarray:
        """Mask of architectures whose trials have all finished (done or failed)."""
        return self._done

    def arch_mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sample std (ddof 1) of each architecture's successful trials.

        NaN where none succeeded; std 0 where exactly one did (one trial shows no spread).
        """
        return self._mean_std

    def finished_means(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Indices of finished architectures with a finite mean, their means and stds."""
        if not self.n:
            return np.zeros(0, int), np.zeros(0), np.zeros(0)
        mean, std = self.arch_mean_std()
        idx = np.flatnonzero(self.arch_done() & np.isfinite(mean) & ~self.arch_pruned())
        return idx, mean[idx], std[idx]

    def arch_ok(self) -> np.ndarray:
        """Number of successful trials per architecture."""
        return np.sum(self.status == DONE, axis=1)

    def ranked(self, min_ok: int | None = None) -> np.ndarray:
        """Finished architectures with a successful trial, best first: those with at least
        ``min_ok`` successes (default: the experiment's) by mean, then the others by mean, then
        the pruned ones by the mean of their trials' best reported epochs."""
        if not self.n:
            return np.zeros(0, int)
        if not min_ok:
            return self._ranked
        pruned = self.arch_pruned()
        mean = self.arch_mean_std()[0]
        if pruned.any():
            early = mean_std(self.metric, (self.status == DONE) | (self.status == PRUNED))[0]
            mean = np.where(pruned, early, mean)
        return rank(self.status, mean, min_ok, pruned)

    def arch_finished_at(self) -> np.ndarray:
        """When each architecture's last trial finished (NaN while any trial is unfinished)."""
        if not self.n:
            return np.zeros(0)
        fin = np.where(np.isnan(self.finished), -np.inf, self.finished)
        return np.where(self.arch_done(), fin.max(axis=1), np.nan)

    def completion_order(self) -> np.ndarray:
        """Finished architectures in the order they finished, as the driver told them (ties: by
        index)."""
        done = np.flatnonzero(self.arch_done())
        return done[np.argsort(self.arch_finished_at()[done], kind="stable")]

    def stage_names(self) -> np.ndarray:
        """Each architecture's stage name."""
        return np.asarray(STAGES, dtype=object)[self.stage.astype(int)] if self.n \
            else np.zeros(0, object)

    def error(self, a: int, t: int) -> str:
        """The error text of trial t of architecture a ("" if none)."""
        return self.errors.get(f"{a}/{t}", "")

    def counts(self) -> dict[str, int]:
        """Trial counts by state and architecture counts (done = every trial finished)."""
        status = self.status
        return {"trials_done": int(np.sum(status == DONE)),
                "trials_running": int(np.sum(status == RUNNING)),
                "trials_failed": int(np.sum(status == FAILED)),
                "trials_pending": int(np.sum(status == PENDING)),
                "trials_pruned": int(np.sum(status == PRUNED)),
                "archs_pruned": int(self.arch_pruned().sum()),
                "archs": self.n, "archs_done": int(self.arch_done().sum()),
                "archs_running": int(np.any(status == RUNNING, axis=1).sum()) if self.n else 0}


def rank(status: np.ndarray, mean: np.ndarray, min_ok: int,
         pruned: np.ndarray | None = None) -> np.ndarray:
    """Finished architectures with a finite mean, best first: those with at least ``min_ok``
    successful trials by mean, then the others by mean, then the ``pruned`` ones (never ahead
    of an architecture that ran full length) by mean (ties: lower index first)."""
    idx = np.flatnonzero(np.all(is_finished(status), axis=1) & np.isfinite(mean))
    late = np.zeros(len(idx), bool) if pruned is None else np.asarray(pruned)[idx]
    short = (np.sum(status[idx] == DONE, axis=1) < min_ok) & ~late
    return idx[np.lexsort((idx, mean[idx], short, late))]


def trial_epochs(status: np.ndarray, epoch_metric: np.ndarray) -> tuple[int, int]:
    """(trial-epochs trained: up to each trial's last reported epoch, what a full-length search
    of the same architectures trains: every trial, every epoch)."""
    reported = np.isfinite(epoch_metric)
    last = epoch_metric.shape[2] - np.argmax(reported[:, :, ::-1], axis=2)
    return int(np.sum(np.where(reported.any(axis=2), last, 0))), int(status.size * epoch_metric.shape[2])



def mean_std(metric: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise mean and sample std (ddof 1; 0 for one value; NaN for none) of ``metric[ok]``."""
    count = ok.sum(axis=1)
    values = np.where(ok, metric, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = values.sum(axis=1) / count
        dev = np.where(ok, metric - mean[:, None], 0.0)
        std = np.sqrt((dev**2).sum(axis=1) / np.maximum(count - 1, 1))
    return mean, np.where(count > 0, std, np.nan)


def read_attrs(path: str | Path) -> dict:
    """The attributes of a results store, after checking it is one this ganhpo can read."""
    return open_group(path, "r").attrs.asdict()


def store_ready(path: str | Path) -> bool:
    """True if ``path`` is a readable store, False if it is not there yet.

    ResultsStore.create builds a store in a hidden sibling and renames it into place, so a
    store being created is simply not there yet. Raises StoreError (with the reason and the fix)
    for anything else: a file, a directory that is neither empty nor a Zarr group, a foreign
    Zarr group, a store of a newer format.
    """
    path = Path(path)
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        return False
    open_group(path, "r")
    return True


def read_store(path: str | Path, arrays: tuple[str, ...] | None = None) -> Snapshot:
    """Read the committed rows (all arrays, or just ``arrays``) of a store; never writes.

    StoreDamaged (one line, naming ``ganhpo repair``) if what it reads is not whole.
    """
    group = open_group(path, "r")
    attrs = group.attrs.asdict()
    n = int(attrs.get("n_committed", 0))
    wanted = {*(arrays or ARRAY_NAMES), "status", "error"}
    require_intact(path, group, attrs, n, [a for a in store_arrays(attrs) if a in wanted])
    trials = int(group["status"].shape[1])
    workers, errors = read_texts(group, attrs, 0, n, trials)
    data = {}
    # status first: the writer writes it last, so a trial read as done has its metric on disk
    # already (reading a live store in another order could see done beside the old NaN)
    for name in sorted(wanted - {"error"}, key=lambda n: (n != "status", ARRAY_NAMES.index(n))):
        data[name] = (diverged_rows(group, 0, n, trials) if name == "diverged_at"
                      else added_rows(group, name, 0, n) if name not in store_arrays(attrs)
                      else read_checked(path, group, name, n))
    if "metric" in data:
        require_finite(path, data["status"], data["metric"])
    return Snapshot(str(path), attrs["experiment"], list(attrs["param_names"]), workers=workers,
                    errors=errors_dict(errors), created=float(attrs.get("created", 0.0)), **data)
