"""The search engine: the event loop on Dask, the trial contract, slots, failure rules and stages.

Modules: ``loop`` (``Search``, the event loop), ``trial`` (the worker side of the trial
contract), ``slots`` (worker totals and the in-flight policy), ``asker`` (the optimiser's
thread), ``failures`` (what failed architectures are told; fail fast), ``setup`` (optimiser,
checks, store), ``result`` (the end-of-run summary), ``stages`` (broad, then focus) and
``runner`` (``run``). Names load on first use, so ``import orchestrator.search.trial`` on a
worker does not import the loop.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Result", "Search", "SearchFailed", "StagedResult", "TrialStopped", "build_optimizer",
           "execute_trial", "run", "run_stages", "trial_seed", "validate"]

_WHERE = {"Result": "result", "Search": "loop", "SearchFailed": "loop", "StagedResult": "stages",
          "TrialStopped": "trial", "build_optimizer": "setup", "execute_trial": "trial",
          "run": "runner", "run_stages": "stages", "trial_seed": "trial", "validate": "setup"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"orchestrator.search.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'orchestrator.search' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
