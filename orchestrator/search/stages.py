"""Two-stage search into one store: a cheap broad stage, then a focus stage around what it found.

An experiment with ``stages`` (see ``orchestrator.experiment.parse_stages``) runs each stage as its own ``Search`` on
the same store: the store's ``stage`` array marks each architecture, its epoch axis holds the
largest stage's epochs, and every row is encoded in the experiment's (broad) space. The focus
space is derived from the finished broad architectures once, recorded in the stored experiment
(``stages[i].space``) and reused on resume, so rerunning the command continues the right stage.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from distributed import Client

from orchestrator.analysis.focus import derive_focus_space
from orchestrator.experiment import STAGES, Experiment, ExperimentError
from orchestrator.search.loop import Search
from orchestrator.search.setup import build_optimizer, client_for, open_store, store_path
from orchestrator.space import SearchSpace
from orchestrator.store import DONE, FAILED, ResultsStore, Snapshot, read_store

__all__ = ["StageSummary", "StagedResult", "run_stages", "stage_experiment", "stage_snapshot"]

log = logging.getLogger("ganhpo")


# ----- focus derivation ---------------------------------------------------------------------

def stage_snapshot(snap: Snapshot, stage: str) -> Snapshot:
    """The rows of one stage of a snapshot (architecture indices renumbered from 0)."""
    if not snap.n:
        return snap
    mask = snap.stage == STAGES.index(stage)
    return snap.select(mask)


def _derived_space(store: ResultsStore, stage: dict) -> SearchSpace:
    snap = stage_snapshot(read_store(store.path), STAGES[0])
    try:
        space = derive_focus_space(snap, **stage["focus"])
    except ValueError as err:
        raise ExperimentError(f"focus stage: {err}") from None
    return space


# ----- running ----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class StageSummary:
    """The best architecture of one stage."""

    name: str
    n_architectures: int
    best_params: dict | None
    best_mean: float
    best_std: float
    best_metrics: tuple[float, ...]


def _summarise(snap: Snapshot, exp: Experiment, stage: str) -> StageSummary:
    part = stage_snapshot(snap, stage)
    if not part.n:
        return StageSummary(stage, 0, None, math.nan, math.nan, ())
    mean, std = part.arch_mean_std()
    done = part.arch_done() & ~part.arch_pruned() & np.isfinite(mean)  # only full-length ones
    if not done.any():
        return StageSummary(stage, part.n, None, math.nan, math.nan, ())
    a = int(np.flatnonzero(done)[np.argmin(mean[done])])
    metrics = tuple(float(m) for m in part.metric[a][part.status[a] == DONE])
    return StageSummary(stage, part.n, {**exp.fixed, **exp.space.from_row(part.params[a])},
                        float(mean[a]), float(std[a]), metrics)


@dataclasses.dataclass(frozen=True)
class StagedResult:
    """What a staged search found: one summary per stage; ``best_*`` are the last stage's."""

    store: str
    stages: tuple[StageSummary, ...]
    n_architectures: int
    n_failed_trials: int
    seconds: float

    @property
    def final(self) -> StageSummary:
        return self.stages[-1]

    @property
    def best_params(self) -> dict | None:
        return self.final.best_params

    @property
    def best_mean(self) -> float:
        return self.final.best_mean

    @property
    def best_std(self) -> float:
        return self.final.best_std

    def summary(self) -> str:
        """A few human-readable lines: the best of every stage."""
        lines = []
        for s in self.stages:
            if s.best_params is None:
                lines.append(f"{s.name}: {s.n_architectures} architectures, none finished successfully")
                continue
            lines.append(f"{s.name}: best {s.best_mean:.5g} +- {s.best_std:.2g} over "
                         f"{len(s.best_metrics)} trials ({s.n_architectures} architectures): "
                         f"{s.best_params}")
        lines.append(f"  {self.n_architectures} architectures, {self.n_failed_trials} failed trials, "
                     f"{self.seconds:.1f} s; results in {self.store}")
        return "\n".join(lines)


def stage_experiment(exp: Experiment, stage: dict, space: SearchSpace) -> Experiment:
    """The single-stage experiment that runs ``stage`` over ``space``."""
    return dataclasses.replace(
        exp, space=space, epochs=stage["epochs"], budget=stage["budget"], stage=stage["name"],
        optimizer=dict(stage["optimizer"] or exp.optimizer),
        max_pending=stage["max_pending"] or exp.max_pending, stages=None)


def _check_stages(exp: Experiment, stored: dict, path: str) -> list[dict]:
    """The experiment's stages with the focus spaces recorded in the store; raise on a mismatch."""
    old = stored.get("stages")
    if not old:
        raise ExperimentError(f"store {path} was made by an experiment without stages; use a new --store")
    merged = []
    for i, stage in enumerate(exp.stages):
        before = old[i] if i < len(old) else None
        if before is not None and (before["name"], before["epochs"]) != (stage["name"], stage["epochs"]):
            raise ExperimentError(
                f"store {path} was made by a different experiment: stages[{i}] is "
                f"{json.dumps({k: before[k] for k in ('name', 'epochs')})} there and "
                f"{json.dumps({k: stage[k] for k in ('name', 'epochs')})} here; use a new --store")
        stage = dict(stage)
        if before is not None and before.get("space") is not None and stage["space"] is None:
            if before.get("focus") != stage["focus"]:
                raise ExperimentError(
                    f"store {path}: the focus space was already derived with focus "
                    f"{json.dumps(before.get('focus'))}, but here it is {json.dumps(stage['focus'])}; "
                    "restore it or use a new --store")
            stage["space"] = before["space"]
        merged.append(stage)
    return merged


def _open(exp: Experiment, path: str) -> ResultsStore:
    """A new store, or the one resumed with the focus spaces it recorded."""
    if not Path(path).exists():
        return open_store(exp, path)
    store = ResultsStore.open(path)
    exp.check_resumable(store.experiment, path)
    stages = _check_stages(exp, store.experiment, path)
    store.set_experiment({**exp.to_dict(), "stages": stages})
    return store


def _stage_space(exp: Experiment, store: ResultsStore, i: int) -> SearchSpace:
    """The space of stage i: the experiment's, the recorded or given one, or derived now (and recorded)."""
    stage = store.experiment["stages"][i]
    if i == 0:
        return SearchSpace(stage["space"]) if stage.get("space") else exp.space
    if stage.get("space"):
        return SearchSpace(stage["space"])
    space = _derived_space(store, stage)
    stages = [dict(s) for s in store.experiment["stages"]]
    stages[i]["space"] = space.to_dict()
    store.set_experiment({**store.experiment, "stages": stages})
    log.info("focus space derived from the broad stage: %s", space.to_dict())
    return space


def _stage_done(store: ResultsStore, i: int, budget: int) -> bool:
    stage = store.array("stage")
    if np.any(stage > i):
        return True
    mine = stage == i
    return int(mine.sum()) >= budget and bool(np.all(store.array("status")[mine] >= DONE))


def run_stages(exp: Experiment, client: Client | None = None, *, store: str | None = None,
               workers: int | None = None,
               progress: Callable[[int, int, float | None], None] | None = None) -> StagedResult:
    """Run (or resume) every stage of ``exp`` in order into one store."""
    started = time.time()
    path = store_path(exp, store)
    if exp.budget != sum(s["budget"] for s in exp.stages):
        raise ExperimentError(f"{exp.name}: budget {exp.budget} was overridden, but a staged "
                              "experiment takes its budget from each stage; edit the stages instead")
    for stage in exp.stages:  # bad optimiser settings fail before any store exists
        build_optimizer(stage_experiment(exp, stage, exp.space))
    results = _open(exp, path)
    with client_for(client, workers) as client:
        try:
            offset = 0
            for i, stage in enumerate(exp.stages):
                space = _stage_space(exp, results, i)
                sexp = stage_experiment(exp, stage, space)
                if not _stage_done(results, i, stage["budget"]):
                    log.info("stage %s: %d architectures x %d epochs", stage["name"], stage["budget"],
                             stage["epochs"])
                    opt = build_optimizer(dataclasses.replace(sexp, seed=exp.seed + i))
                    report = None if progress is None else (
                        lambda n, _b, best, o=offset: progress(o + n, exp.budget, best))
                    Search(sexp, client, results, opt, report, row_space=exp.space).loop()
                offset += int(np.sum(results.array("stage") == i))
        finally:
            results.flush()
            results.close()
    snap = read_store(path)
    return StagedResult(path, tuple(_summarise(snap, exp, s["name"]) for s in exp.stages), snap.n,
                        int(np.sum(snap.status == FAILED)), time.time() - started)
