"""Reading a finished (or running) search: summaries, figures, sensitivity, Pareto front, focus;
and what builds on searches: method comparison (``compare``) and ensembles (``ensemble``)."""

import importlib

from orchestrator.analysis.focus import derive_focus_space, focus_experiment
from orchestrator.analysis.pareto import non_dominated, pareto, select_best
from orchestrator.analysis.sensitivity import sensitivity
from orchestrator.analysis.summary import failures, report, top_architectures

__all__ = ["derive_focus_space", "failures", "figures", "focus_experiment", "non_dominated",
           "pareto", "report", "select_best", "sensitivity", "top_architectures", "write_report"]


def __getattr__(name: str):
    """``figures`` and ``write_report`` import matplotlib, so only when first asked for."""
    if name == "figures":
        return importlib.import_module("orchestrator.analysis.figures")
    if name == "write_report":
        return importlib.import_module("orchestrator.analysis.html").write_report
    raise AttributeError(f"module 'orchestrator.analysis' has no attribute {name!r}")
