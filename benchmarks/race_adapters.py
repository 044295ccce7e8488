"""Benchmark-only ask/tell adapters for the race's rival libraries: pySOT DYCORS and SMAC3."""

from __future__ import annotations

import shutil
import tempfile
from collections import deque
from pathlib import Path

import numpy as np

from orchestrator.space import SearchSpace

__all__ = ["DycorsAdapter", "SmacAdapter"]



def _vector_to_point(space: SearchSpace, vec: np.ndarray) -> dict:
    """Level indices (discrete) or unit values (real) to a point of the space."""
    row = np.empty(space.dim)
    for i, p in enumerate(space.params.values()):
        if p.kind == "real":
            row[i] = float(vec[i])
        elif p.kind == "categorical":
            row[i] = (round(float(vec[i])) + 0.5) / p.n_levels
        else:
            row[i] = round(float(vec[i])) / max(1, p.n_levels - 1)
    return space.decode(row)


class DycorsAdapter:
    """pySOT's DYCORSStrategy (cubic RBF, symmetric LHS of 2(d+1) points, asynchronous)."""

    def __init__(self, space: SearchSpace, seed: int, budget: int):
        from poap.strategy import EvalRecord
        from pySOT.experimental_design import SymmetricLatinHypercube
        from pySOT.optimization_problems import OptimizationProblem
        from pySOT.strategy import DYCORSStrategy
        from pySOT.surrogate import CubicKernel, LinearTail, RBFInterpolant

        np.random.seed(seed)  # pySOT draws from the global generator
        self.space, self._record = space, EvalRecord
        d = space.dim
        prob = OptimizationProblem()
        prob.dim = d
        prob.lb = np.zeros(d)
        prob.ub = np.array([1.0 if p.kind == "real" else p.n_levels - 1 for p in space.params.values()])
        prob.int_var = np.array([i for i, p in enumerate(space.params.values()) if p.kind != "real"])
        prob.cont_var = np.array([i for i, p in enumerate(space.params.values()) if p.kind == "real"])
        rbf = RBFInterpolant(dim=d, lb=prob.lb, ub=prob.ub, kernel=CubicKernel(), tail=LinearTail(d))
        self.strategy = DYCORSStrategy(max_evals=budget, opt_prob=prob, asynchronous=True, surrogate=rbf,
                                       exp_design=SymmetricLatinHypercube(dim=d, num_pts=2 * (d + 1)))
        self.open: dict[tuple, deque] = {}

    def ask(self, n: int) -> list[dict]:
        out = []
        st = self.strategy
        for _ in range(n):
            if not st.batch_queue and len(st._X) < st.num_exp:
                break  # the surrogate needs the whole initial design back (pySOT's own rule)
            proposal = st.propose_action()
            if proposal is None or proposal.action != "eval":
                break
            proposal.record = self._record(proposal.args)
            proposal.accept()
            point = _vector_to_point(self.space, proposal.args[0])
            self.open.setdefault(self.space.key(point), deque()).append(proposal.record)
            out.append(point)
        return out

    def tell(self, points: list[dict], means: list[float], stds: list[float]) -> None:
        for p, m in zip(points, means):
            self.open[self.space.key(p)].popleft().complete(float(m))


class SmacAdapter:
    """SMAC3's HyperparameterOptimizationFacade (random forest), deterministic=True (3-trial means)."""

    def __init__(self, space: SearchSpace, seed: int, budget: int):
        from ConfigSpace import Categorical, ConfigurationSpace, Float, Integer
        from smac import HyperparameterOptimizationFacade, Scenario

        self.space = space
        cs = ConfigurationSpace(seed=seed)
        for name, p in space.params.items():
            if p.kind == "real":
                cs.add(Float(name, (p.low, p.high), log=p.log))
            elif p.kind == "categorical":
                cs.add(Categorical(name, [str(i) for i in range(p.n_levels)]))
            else:
                cs.add(Integer(name, (0, p.n_levels - 1)))
        self._dir = tempfile.mkdtemp(prefix="smac-")
        scenario = Scenario(cs, deterministic=True, n_trials=budget, seed=seed,
                            output_directory=Path(self._dir) / "out")
        self.smac = HyperparameterOptimizationFacade(scenario, lambda config, seed=0: 0.0, overwrite=True,
                                                     logging_level=40)
        self.open: dict[tuple, deque] = {}

    def __del__(self) -> None:
        shutil.rmtree(getattr(self, "_dir", ""), ignore_errors=True)

    def ask(self, n: int) -> list[dict]:
        from smac.runhistory.dataclasses import TrialValue  # noqa: F401  (import check)

        out = []
        for _ in range(n):
            info = self.smac.ask()
            cfg = dict(info.config)
            vec = [float(cfg[name]) if p.kind != "real" else p.encode(cfg[name])
                   for name, p in self.space.params.items()]
            point = _vector_to_point(self.space, np.array(vec))
            self.open.setdefault(self.space.key(point), deque()).append(info)
            out.append(point)
        return out

    def tell(self, points: list[dict], means: list[float], stds: list[float]) -> None:
        from smac.runhistory.dataclasses import TrialValue

        for p, m in zip(points, means):
            self.smac.tell(self.open[self.space.key(p)].popleft(), TrialValue(cost=float(m)))
